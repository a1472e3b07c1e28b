/**
 * The trading key's rotation Lambda (src/control/secret-rotation.ts, docs/SECURITY.md). One handler, told
 * apart by the event's shape:
 *   - Secrets Manager's rotation event `{Step, SecretId, ClientRequestToken}` → that step (throws when the
 *     step did not complete, so Secrets Manager retries the rotation);
 *   - an EventBridge Scheduled Event → revoke the keys rotations replaced, once every engine switched;
 *   - an operator's invocation (`npm run secrets`): `{"action":"status"}`, or
 *     `{"action":"revokeSuperseded","force":true|false}` (force: at once, without waiting for the engines).
 * Anything else is refused with an error naming what came.
 *
 * Thin: middy with Powertools Logger and Metrics (namespace MmRebateBot, service secret-rotation).
 * `createSecretRotationHandler` builds it from clients passed in (the local stack, the tests); `handler`
 * from the environment (MMRB_CONTROL_SETTINGS, AWS_REGION). No value of a secret is ever logged.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { BybitKeyAdmin } from '../src/adapters/bybit/key-admin.js';
import { DynamoHeartbeatStore } from '../src/adapters/dynamodb/heartbeat-store.js';
import { SecretVersionsStore } from '../src/adapters/secrets/secret-versions.js';
import { portLogger } from '../src/control/lambda-support.js';
import { type KeyAdmin, type RevokeReport, type RotationStatus, RotationError, RotationEventSchema, SecretRotation } from '../src/control/secret-rotation.js';
import { type ControlSettings, controlSettingsFromEnv } from '../src/control/settings.js';
import { METRICS_NAMESPACE, METRIC_SERVICES, resourceNames } from '../src/resources/definitions.js';

const SERVICE_NAME = METRIC_SERVICES.secretRotation;

export interface SecretRotationClients {
  readonly secrets: SecretsManagerClient;
  readonly dynamodb: DynamoDBClient;
}

export interface SecretRotationHandlerDeps {
  readonly settings: ControlSettings;
  readonly clients: SecretRotationClients;
  readonly logger?: PowertoolsLogger;
  readonly metrics?: Metrics;
  readonly clock?: () => number;
  /** Bybit's key management; by default bybit-api on settings.venue.restUrl. */
  readonly keys?: KeyAdmin;
}

/** What an operator may ask for by invoking the function. */
export const OperatorActionSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('status') }),
  z.strictObject({ action: z.literal('revokeSuperseded'), force: z.boolean().default(false) }),
]);

export type SecretRotationResult = { readonly step: string; readonly done: true } | RevokeReport | RotationStatus;

export class UnsupportedEventError extends Error {
  override readonly name = 'UnsupportedEventError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function issuesOf(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`).join('; ');
}

/** The rotation on Secrets Manager, the control table's heartbeats and Bybit, with the stage's names. */
export function buildSecretRotation(deps: SecretRotationHandlerDeps, logger: ReturnType<typeof portLogger>): SecretRotation {
  const { settings, clients } = deps;
  const names = resourceNames(settings.stage);
  return new SecretRotation({
    stage: settings.stage,
    tradingSecretId: settings.venue.credentialsSecretId,
    keyAdminSecretId: names.secrets.keyAdmin,
    secrets: new SecretVersionsStore({ client: clients.secrets, requestTimeoutMs: settings.requestTimeoutMs }),
    keys: deps.keys ?? new BybitKeyAdmin({ restUrl: settings.venue.restUrl, recvWindowMs: settings.venue.recvWindowMs }),
    heartbeats: new DynamoHeartbeatStore({ client: clients.dynamodb, table: names.tables.control, requestTimeoutMs: settings.requestTimeoutMs }),
    shards: Object.keys(settings.shards).sort(),
    heartbeatStaleMs: settings.risk.heartbeatStaleMs,
    revokeAfterMs: settings.rotation.revokeAfterMs,
    orphanMinAgeMs: settings.rotation.orphanMinAgeMs,
    clock: deps.clock ?? Date.now,
    logger,
  });
}

/** The Lambda handler on the given clients. */
export function createSecretRotationHandler(deps: SecretRotationHandlerDeps) {
  const logger = deps.logger ?? new PowertoolsLogger({ serviceName: SERVICE_NAME, persistentKeys: { stage: deps.settings.stage } });
  const metrics = deps.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { stage: deps.settings.stage } });
  const rotation = buildSecretRotation(deps, portLogger(logger));

  const revoke = async (force: boolean): Promise<RevokeReport> => {
    try {
      const report = await rotation.revokeSuperseded({ force });
      metrics.addMetric('KeysRevoked', MetricUnit.Count, report.revoked.length);
      metrics.addMetric('KeysAwaitingRevocation', MetricUnit.Count, report.kept.length);
      return report;
    } catch (error) {
      metrics.addMetric('RevocationFailures', MetricUnit.Count, 1);
      throw error;
    }
  };

  return middy<unknown, SecretRotationResult>(async (event: unknown): Promise<SecretRotationResult> => {
    if (isRecord(event) && 'Step' in event) {
      const parsed = RotationEventSchema.safeParse(event);
      if (!parsed.success) throw new UnsupportedEventError(`not a valid rotation event: ${issuesOf(parsed.error)}`);
      try {
        await rotation.step(parsed.data);
      } catch (error) {
        metrics.addMetric('RotationStepFailures', MetricUnit.Count, 1);
        if (error instanceof RotationError && error.rolledBack) metrics.addMetric('RotationsRolledBack', MetricUnit.Count, 1);
        throw error;
      }
      if (parsed.data.Step === 'finishSecret') metrics.addMetric('RotationsFinished', MetricUnit.Count, 1);
      return { step: parsed.data.Step, done: true };
    }
    if (isRecord(event) && event['detail-type'] === 'Scheduled Event' && event.source === 'aws.events') return revoke(false);
    if (isRecord(event) && 'action' in event) {
      const parsed = OperatorActionSchema.safeParse(event);
      if (!parsed.success) throw new UnsupportedEventError(`not a valid operator action: ${issuesOf(parsed.error)}`);
      return parsed.data.action === 'status' ? rotation.status() : revoke(parsed.data.force);
    }
    const shape = isRecord(event) ? `an object with keys ${Object.keys(event).slice(0, 10).join(', ')}` : typeof event;
    throw new UnsupportedEventError(`the secret rotation takes a Secrets Manager rotation event, an EventBridge Scheduled Event or an operator action, not ${shape}`);
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}

/** The handler on the Lambda's own environment: settings from MMRB_CONTROL_SETTINGS, clients in AWS_REGION. */
export function handlerFromEnvironment(env: Readonly<Record<string, string | undefined>>): ReturnType<typeof createSecretRotationHandler> {
  const settings = controlSettingsFromEnv(env);
  const region = env.AWS_REGION;
  const config = region === undefined ? {} : { region };
  return createSecretRotationHandler({ settings, clients: { secrets: new SecretsManagerClient(config), dynamodb: new DynamoDBClient(config) } });
}

// Built during the Lambda's init (a bad setting stops the cold start); elsewhere on the first call.
let lambdaHandler = process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? undefined : handlerFromEnvironment(process.env);

export const handler = (event: unknown, context: Context): Promise<SecretRotationResult> => {
  lambdaHandler ??= handlerFromEnvironment(process.env);
  return lambdaHandler(event, context);
};
