/**
 * The Bybit trading key, read from Secrets Manager through a TTL cache. The engine calls `refresh()` after
 * an authentication error (a rotation may have promoted a new key), and keeps trading on the cached key when
 * Secrets Manager is unreachable. No error message or log line built here ever contains the key or secret.
 */
import { createHash } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import type { Logger } from '../logging/logger.js';

export const BybitCredentialsSchema = z
  .strictObject({
    apiKey: z.string().min(1).regex(/^[A-Za-z0-9]{1,64}$/, 'must be 1 to 64 letters or digits'),
    apiSecret: z.string().min(1),
    /** Safe to log: Bybit's numeric id of the key, or a short fingerprint. */
    keyId: z.string().min(1).max(64).optional(),
    /**
     * Bybit's ids of the keys this one replaced that may still exist, written by the rotation: the
     * revocation deletes them once every engine uses this key (a key made by hand carries no rotation note,
     * so this is how it is not forgotten).
     */
    supersededKeyIds: z.array(z.string().min(1).max(64)).max(20).optional(),
  })
  .superRefine((value, context) => {
    // keyId is written to logs, so it must not carry the key or the secret.
    if (value.keyId !== undefined && value.apiKey.length > 0 && value.apiSecret.length > 0) {
      if (value.keyId.includes(value.apiKey) || value.keyId.includes(value.apiSecret)) {
        context.addIssue({ code: 'custom', path: ['keyId'], message: 'must not contain the apiKey or apiSecret' });
      }
    }
  });

export type BybitCredentials = z.infer<typeof BybitCredentialsSchema>;

/** Credentials as served: always with a loggable keyId and the Secrets Manager version they came from. */
export type ResolvedBybitCredentials = Readonly<Omit<BybitCredentials, 'keyId'> & { keyId: string; versionId: string }>;

export type CredentialsErrorReason = 'secret-not-found' | 'no-value' | 'not-json' | 'invalid' | 'aws';

export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  constructor(
    readonly reason: CredentialsErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface CredentialsProviderOptions {
  readonly client: SecretsManagerClient;
  readonly secretId: string;
  /** How long a fetched value is served before the next `get()` fetches again. */
  readonly ttlMs: number;
  /** Milliseconds since the epoch; injected by tests. */
  readonly clock?: () => number;
  /** After a failed fetch while a cached value exists, how long `get()` waits before trying again. */
  readonly retryAfterFailureMs?: number;
  /** Fired after a fetch returns another key than the one served before (and on the first load). */
  readonly onChange?: (keyId: string, previousKeyId: string | undefined) => void;
  readonly logger?: Logger;
}

/** The fingerprint used when the secret names no keyId: a prefix of the key and a short hash, never the key. */
export function fingerprint(apiKey: string): string {
  return `${apiKey.slice(0, 4)}…${createHash('sha256').update(apiKey).digest('hex').slice(0, 8)}`;
}

// Secret strings of recent versions stay known after a rotation, so the logger still redacts the old key
// when a late error from a request signed with it is logged.
const REMEMBERED_VERSIONS = 4;

export class CredentialsProvider {
  private readonly client: SecretsManagerClient;
  private readonly secretId: string;
  private readonly ttlMs: number;
  private readonly retryAfterFailureMs: number;
  private readonly clock: () => number;
  private readonly onChange: ((keyId: string, previousKeyId: string | undefined) => void) | undefined;
  private readonly logger: Logger | undefined;
  private cached: { readonly value: ResolvedBybitCredentials; readonly fetchedAt: number } | undefined;
  private nextAttemptAt = 0;
  private inFlight: Promise<ResolvedBybitCredentials> | undefined;
  private readonly remembered: ResolvedBybitCredentials[] = [];

  constructor(options: CredentialsProviderOptions) {
    this.client = options.client;
    this.secretId = options.secretId;
    this.ttlMs = options.ttlMs;
    this.retryAfterFailureMs = options.retryAfterFailureMs ?? Math.min(options.ttlMs, 10_000);
    this.clock = options.clock ?? Date.now;
    this.onChange = options.onChange;
    this.logger = options.logger;
  }

  /** The cached credentials while younger than the TTL, else freshly fetched ones. */
  async get(): Promise<ResolvedBybitCredentials> {
    const now = this.clock();
    if (this.cached && (now - this.cached.fetchedAt < this.ttlMs || now < this.nextAttemptAt)) return this.cached.value;
    return this.load('ttl expired');
  }

  /** Fetches now, e.g. after Bybit refused the key (retCode 10003, 10004, 33004). */
  async refresh(reason: string): Promise<ResolvedBybitCredentials> {
    return this.load(reason);
  }

  /** Every key and secret served recently, for the logger to redact. */
  secretValues(): string[] {
    return this.remembered.flatMap((value) => [value.apiKey, value.apiSecret]);
  }

  private load(reason: string): Promise<ResolvedBybitCredentials> {
    // Callers arriving while a fetch is under way share it: one AWS call however many ask.
    this.inFlight ??= this.fetchAndCache(reason).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchAndCache(reason: string): Promise<ResolvedBybitCredentials> {
    let next: ResolvedBybitCredentials;
    try {
      next = await this.fetch();
    } catch (error) {
      const cached = this.cached;
      if (!cached) throw error;
      // Keep trading on the key we have: it is still valid unless Bybit says otherwise.
      this.nextAttemptAt = this.clock() + this.retryAfterFailureMs;
      this.logger?.warn('credentials fetch failed; serving the cached key', { reason, keyId: cached.value.keyId, versionId: cached.value.versionId, error });
      return cached.value;
    }
    const previous = this.cached?.value;
    this.cached = { value: next, fetchedAt: this.clock() };
    this.nextAttemptAt = 0;
    const changed = previous?.apiKey !== next.apiKey || previous.keyId !== next.keyId;
    if (changed) {
      this.remembered.unshift(next);
      this.remembered.splice(REMEMBERED_VERSIONS);
    }
    const fields = { reason, keyId: next.keyId, versionId: next.versionId, ...(previous && { previousKeyId: previous.keyId }) };
    if (changed) this.logger?.info('credentials loaded', fields);
    else this.logger?.debug('credentials unchanged', fields);
    // Called after the cache holds the new key, so a throwing listener cannot leave the old one in place.
    if (changed) this.onChange?.(next.keyId, previous?.keyId);
    return next;
  }

  private async fetch(): Promise<ResolvedBybitCredentials> {
    const secret = `secret ${this.secretId}`;
    let response: GetSecretValueCommandOutput;
    try {
      // Always name the stage: without it, moto can hand back the previous value after a stage move (docs/TESTING.md).
      response = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: 'AWSCURRENT' }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) throw await this.notFound();
      throw awsError(`GetSecretValue for ${secret}`, error);
    }
    const versionId = response.VersionId ?? 'unknown';
    if (response.SecretString === undefined || response.SecretString === '') {
      throw new CredentialsError('no-value', `${secret} (version ${versionId}) has no string value`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.SecretString);
    } catch {
      // The parser's message quotes the text, so it is neither repeated nor kept as the cause.
      throw new CredentialsError('not-json', `${secret} (version ${versionId}) is not JSON`);
    }
    const result = BybitCredentialsSchema.safeParse(parsed);
    if (!result.success) {
      const problems = result.error.issues.map((issue) =>
        // Only field names and what is wrong with them: an issue's input would be the secret itself.
        issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : `${issue.path.join('.') || '(value)'}: ${issue.message}`,
      );
      throw new CredentialsError('invalid', `${secret} (version ${versionId}) is not valid Bybit credentials: ${problems.join('; ')}`);
    }
    const { apiKey, apiSecret, keyId } = result.data;
    return { apiKey, apiSecret, keyId: keyId ?? fingerprint(apiKey), versionId };
  }

  /** AWS answers ResourceNotFound both for a missing secret and for one without a current value. */
  private async notFound(): Promise<CredentialsError> {
    try {
      await this.client.send(new DescribeSecretCommand({ SecretId: this.secretId }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return new CredentialsError('secret-not-found', `secret ${this.secretId} does not exist`);
      return new CredentialsError('secret-not-found', `secret ${this.secretId} does not exist or has no AWSCURRENT value (DescribeSecret failed: ${awsErrorName(error)})`, {
        cause: error,
      });
    }
    return new CredentialsError('no-value', `secret ${this.secretId} has no AWSCURRENT value yet`);
  }
}

function awsErrorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function awsError(call: string, error: unknown): CredentialsError {
  const detail = error instanceof Error ? `: ${error.message}` : '';
  return new CredentialsError('aws', `${call} failed with ${awsErrorName(error)}${detail}`, { cause: error });
}
