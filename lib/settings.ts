/**
 * The CDK app's settings, from the context key `mmrb` (cdk.json, or `-c mmrb=<json>`), validated with zod:
 * the stages (at least dev and prod), each with its shards and the engine configuration of each, and who
 * may deploy (the GitHub repository, branch and environments the deploy role trusts).
 *
 * Each shard's engine configuration is loaded with the engine's own loader (src/config) at synth, so a
 * deploy with a configuration the engine would refuse fails before anything reaches AWS, and the
 * Lambdas' risk limits are derived from the very file the engine runs with.
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import { join } from 'node:path';
import * as z from 'zod';
import { type EngineConfig, ConfigError, loadConfig } from '../src/config/config.js';
import { SHARD_NAME, SHARD_NAME_RULE } from '../src/core/identifiers.js';
import { resourceNames } from '../src/resources/definitions.js';

export const CONTEXT_KEY = 'mmrb';

/** Bybit's servers are in Singapore: the engine trades from there. */
export const DEFAULT_REGION = 'ap-southeast-1';

/** Fargate lets a container take at most this long to stop after SIGTERM. */
export const FARGATE_MAX_STOP_SECONDS = 120;
/** Time the container needs beyond the engine's own stop timeout (flush, last heartbeat, exit). */
const STOP_MARGIN_MS = 10_000;

const region = z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, { message: 'expected an AWS region such as ap-southeast-1' });
const account = z.string().regex(/^\d{12}$/, { message: 'expected a 12-digit AWS account id' });
const stageName = z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, { message: 'expected a lower-case stage name such as dev' });

/** The CDK's name for a retention period the schema accepted. */
export function retentionDays(days: number): logs.RetentionDays {
  const name = logs.RetentionDays[days] as keyof typeof logs.RetentionDays | undefined;
  if (name === undefined) throw new SettingsError(`CloudWatch Logs has no retention of ${days} days`);
  return logs.RetentionDays[name];
}

/** CloudWatch Logs accepts only these retention periods, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const StageSettingsSchema = z.strictObject({
  /** Unset: the stacks are environment-agnostic and the deploying credentials decide the account. */
  account: account.optional(),
  region: region.default(DEFAULT_REGION),
  /** Production: deletion protection on the tables, and longer retention. */
  production: z.boolean().default(false),
  /** Each shard and its engine configuration file, relative to the repository root (one Fargate service each). */
  shards: z.record(z.string().regex(SHARD_NAME, { message: SHARD_NAME_RULE }), z.string().min(1)).refine((shards) => Object.keys(shards).length > 0, { message: 'name at least one shard' }),
  /**
   * NAT gateways, each with a fixed Elastic IP for the Bybit key's IP allow-list (a key without one
   * expires after 90 days). Every task behind one IP shares Bybit's per-IP request limit.
   */
  egressIps: z.int().min(1).max(3).default(1),
  engine: z
    .strictObject({
      /** Fargate CPU units and memory of one engine task. */
      cpu: z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(1024),
      memoryMiB: z.int().min(512).max(30_720).default(2048),
    })
    .prefault({}),
  logRetentionDays: z
    .int()
    .refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), { message: `CloudWatch Logs keeps logs for one of ${LOG_RETENTION_DAYS.join(', ')} days` })
    .default(30),
  /** How long the event bus archive keeps events (replays after an incident), in days. */
  eventArchiveDays: z.int().min(1).max(3650).default(30),
  /** Who the alarms email (SNS subscriptions; each address confirms once). Pagers subscribe to the topic. */
  alarmEmails: z.array(z.email()).default([]),
  /** How often the trading key is rotated (a new Bybit key, the old one revoked once every engine uses the new), in days. */
  keyRotationDays: z.int().min(1).max(1000).default(90),
  /** The freeze API's throttle: operators, not traffic. */
  api: z.strictObject({ rateLimitPerSecond: z.number().positive().max(1000).default(5), burstLimit: z.int().positive().max(5000).default(10) }).prefault({}),
});
export type StageSettings = z.infer<typeof StageSettingsSchema>;

export const DeployAccessSettingsSchema = z.strictObject({
  /** The GitHub repository (`owner/name`) whose workflows may deploy. */
  repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { message: 'expected owner/name' }),
  /** The branch whose workflow runs may assume the role outside an environment (the diff on main). */
  branch: z.string().regex(/^[A-Za-z0-9_./-]+$/).default('main'),
  /** GitHub environments whose jobs may assume the role (their protection rules hold the approvals). */
  environments: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).min(1),
  /** An existing GitHub OIDC provider in the account (there is one per account); created when unset. */
  oidcProviderArn: z
    .string()
    .regex(/^arn:aws:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/, { message: 'expected the ARN of the token.actions.githubusercontent.com provider' })
    .optional(),
  account: account.optional(),
  region: region.default(DEFAULT_REGION),
});
export type DeployAccessSettings = z.infer<typeof DeployAccessSettingsSchema>;

export const AppSettingsSchema = z.strictObject({
  stages: z.record(stageName, StageSettingsSchema).refine((stages) => 'dev' in stages && 'prod' in stages, { message: 'define at least the stages dev and prod' }),
  deployAccess: DeployAccessSettingsSchema,
});
export type AppSettings = z.infer<typeof AppSettingsSchema>;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function problemsOf(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Parses the context value (an object from cdk.json, or JSON text from `-c`); every bad field is named. */
export function parseAppSettings(context: unknown): AppSettings {
  if (context === undefined) throw new SettingsError(`no settings: set the context key "${CONTEXT_KEY}" (cdk.json)`);
  let value: unknown = context;
  if (typeof context === 'string') {
    try {
      value = JSON.parse(context) as unknown;
    } catch {
      throw new SettingsError(`context "${CONTEXT_KEY}" is not valid JSON`);
    }
  }
  const parsed = AppSettingsSchema.safeParse(value);
  if (!parsed.success) throw new SettingsError(`context "${CONTEXT_KEY}": ${problemsOf(parsed.error)}`);
  return parsed.data;
}

/** One shard as deployed: its name, where its configuration file is, and the configuration. */
export interface ShardDeployment {
  readonly shard: string;
  /** Relative to the repository root; also the path inside the engine image. */
  readonly configPath: string;
  readonly config: EngineConfig;
}

/**
 * Loads and checks each shard's engine configuration for this stage: the engine's own validation, then
 * what the infrastructure relies on (its stage, shard, region and secret are the ones provisioned; its
 * health server listens; its stop fits in Fargate's stop timeout).
 */
export function loadShards(stage: string, settings: StageSettings, repositoryRoot: string): ShardDeployment[] {
  const names = resourceNames(stage);
  const problems: string[] = [];
  const shards: ShardDeployment[] = [];
  for (const [shard, configPath] of Object.entries(settings.shards)) {
    let config: EngineConfig;
    try {
      // The file alone: the synth machine's environment must not leak into what is deployed.
      config = loadConfig({ file: join(repositoryRoot, configPath), env: {} }).config;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`${stage}/${shard} (${configPath}): ${error.message}`);
      continue;
    }
    const mismatch = (what: string, found: unknown, wanted: unknown) => problems.push(`${stage}/${shard} (${configPath}): ${what} is ${JSON.stringify(found)}, expected ${JSON.stringify(wanted)}`);
    if (config.stage !== stage) mismatch('stage', config.stage, stage);
    if (config.shard !== shard) mismatch('shard', config.shard, shard);
    if (config.region !== settings.region) mismatch('region', config.region, settings.region);
    if (config.venue.credentialsSecretId !== names.secrets.tradingKey) mismatch('venue.credentialsSecretId', config.venue.credentialsSecretId, names.secrets.tradingKey);
    if (config.engine.healthPort === 0) mismatch('engine.healthPort', 0, 'a fixed port (the container health check calls it)');
    if (config.engine.stopTimeoutMs + STOP_MARGIN_MS > FARGATE_MAX_STOP_SECONDS * 1000) {
      mismatch('engine.stopTimeoutMs', config.engine.stopTimeoutMs, `at most ${FARGATE_MAX_STOP_SECONDS * 1000 - STOP_MARGIN_MS} (Fargate stops a container ${FARGATE_MAX_STOP_SECONDS} s after SIGTERM)`);
    }
    shards.push({ shard, configPath, config });
  }
  if (problems.length > 0) throw new SettingsError(problems.join('\n'));
  return shards;
}
