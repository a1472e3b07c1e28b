/**
 * Rotation of the Bybit trading key (docs/SECURITY.md): Secrets Manager's four steps, each safe to run again
 * for the same ClientRequestToken, and the later revocation of the keys it replaced.
 *
 *   createSecret  the key-admin (master) key creates a key for the trading key's sub-account with the same
 *                 grants, read-only flag and IP allow-list (copied from query-api of the current key), its
 *                 note tagged with the token, and stores it as the token's AWSPENDING value. Bybit shows a
 *                 key's secret once, so a key created but not stored (a crash between the two) can never be
 *                 used: the next attempt for the token finds it by its note and deletes it first.
 *   setSecret     nothing to set at Bybit (a created key is live); checks that AWSCURRENT still works and that
 *                 AWSPENDING is a key of the same sub-account (the confused-deputy check AWS recommends).
 *   testSecret    an authenticated read with the new key, compared with the current key: same account, grants,
 *                 read-only flag and IPs.
 *   finishSecret  moves AWSCURRENT to the token's version and takes AWSPENDING off it.
 *
 * A step that fails for good (Bybit refuses, the new key is wrong or gone) rolls the rotation back: the new
 * key is deleted at Bybit and AWSPENDING taken off, so AWSCURRENT keeps working and the next rotation starts
 * clean. A step that fails for now (no answer, rate limit, AWS unavailable) throws and leaves everything for
 * the retry, which resumes where it stopped.
 *
 * The old key is not deleted by finishSecret: engines are still using it. `revokeSuperseded` (the Lambda's
 * schedule, or an operator) deletes it once every live engine's heartbeat reports the new key's id and
 * `revokeAfterMs` has passed since the secret changed (Lambdas cache the key for minutes).
 */
import * as z from 'zod';
import { KEY_REFUSED_CODES, KeyAdminError, type KeyCredentials, type KeyDescription, type NewKey, type NewKeyRequest, type SubAccountKey } from '../adapters/bybit/key-admin.js';
import { BybitCredentialsSchema, fingerprint } from '../adapters/secrets/bybit-credentials.js';
import { STAGES, type SecretVersions, versionWith } from '../adapters/secrets/secret-versions.js';
import type { EngineHeartbeatV1 } from '../core/events.js';
import type { Logger } from '../ports/logger.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** What Secrets Manager sends the rotation Lambda (extra fields, such as RotationToken, are allowed). */
export const RotationEventSchema = z.looseObject({
  Step: z.enum(ROTATION_STEPS),
  SecretId: z.string().min(1),
  ClientRequestToken: z.string().min(32).max(64),
});
export type RotationEvent = z.infer<typeof RotationEventSchema>;

/** The key-admin secret: a master key of the account whose sub-account trades (create-sub-api is master-only). */
export const KeyAdminSecretSchema = BybitCredentialsSchema;

export interface RotationSecrets {
  describe(secretId: string): Promise<SecretVersions>;
  value(secretId: string, select: { readonly stage: string; readonly versionId?: string }): Promise<string | undefined>;
  putPending(secretId: string, token: string, value: string): Promise<void>;
  moveCurrent(secretId: string, toVersionId: string, fromVersionId: string): Promise<void>;
  removeStage(secretId: string, stage: string, fromVersionId: string): Promise<void>;
}

export interface KeyAdmin {
  describe(credentials: KeyCredentials): Promise<KeyDescription>;
  createSubAccountKey(master: KeyCredentials, request: NewKeyRequest): Promise<NewKey>;
  deleteSubAccountKey(master: KeyCredentials, apiKey: string): Promise<void>;
  listSubAccountKeys(master: KeyCredentials, subUid: number): Promise<SubAccountKey[]>;
}

export interface HeartbeatReader {
  read(shards: readonly string[]): Promise<ReadonlyMap<string, EngineHeartbeatV1>>;
}

export interface SecretRotationOptions {
  readonly stage: string;
  /** The trading key's secret (name or ARN): the only secret this rotates. */
  readonly tradingSecretId: string;
  readonly keyAdminSecretId: string;
  readonly secrets: RotationSecrets;
  readonly keys: KeyAdmin;
  readonly heartbeats: HeartbeatReader;
  /** Every shard whose engine must have switched before an old key is revoked. */
  readonly shards: readonly string[];
  /** A heartbeat older than this is a dead engine's: it uses no key (its restart reads the current one). */
  readonly heartbeatStaleMs: number;
  /** Least time between the secret's last change and revoking the key it replaced. */
  readonly revokeAfterMs: number;
  /** A tagged key younger than this is left alone by revokeSuperseded: a rotation may be about to store it. */
  readonly orphanMinAgeMs: number;
  readonly clock: () => number;
  readonly logger: Logger;
}

/** A step that failed for good; `rolledBack` says the new key was deleted and AWSPENDING taken off. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
  constructor(
    message: string,
    readonly rolledBack: boolean,
  ) {
    super(message);
  }
}

interface StoredKey {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly keyId: string;
  /** Bybit's ids of the keys it replaced that may still exist. */
  readonly supersededKeyIds: readonly string[];
}

/** At most this many replaced key ids are carried from version to version (the schema's limit). */
const MAX_SUPERSEDED = 20;

export interface RevokeReport {
  /** Ids of the keys deleted at Bybit. */
  readonly revoked: readonly string[];
  /** Ids of the keys that would be deleted but were kept, and why. */
  readonly kept: readonly string[];
  readonly waitingFor: readonly string[];
  /** The key id engines must report. */
  readonly currentKeyId: string;
}

export interface RotationStatus {
  readonly secret: string;
  readonly rotationEnabled: boolean;
  readonly versions: readonly { readonly versionId: string; readonly stages: readonly string[]; readonly keyId?: string; readonly problem?: string }[];
  readonly engines: readonly { readonly shard: string; readonly state: string; readonly keyId?: string; readonly heartbeatAgeMs?: number }[];
  readonly subAccountKeys: readonly { readonly keyId: string; readonly note: string; readonly status: string; readonly createdAt: string; readonly role: string }[];
  /** Why the sub-account's keys could not be listed. */
  readonly venueProblem?: string;
}

/** The note of a key created by rotation: the stage and the token, letters, digits and dashes only. */
export function rotationNote(stage: string, token: string): string {
  return `${notePrefix(stage)}${token.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}`;
}

function notePrefix(stage: string): string {
  return `mmrb-${stage}-rot-`;
}

/**
 * Whether the secret's versions name the key as replaced: AWSPREVIOUS's key, or one the current version
 * lists. Such a key is the rotation's to revoke whatever its note and age.
 */
function namedAsReplaced(key: SubAccountKey, current: StoredKey, previous: StoredKey | undefined): boolean {
  return key.apiKey === previous?.apiKey || current.supersededKeyIds.includes(key.id);
}

/** Bybit's refusals that mean "not now": rate limit (10006), server busy (10016, 10429). */
const TRANSIENT_CODES: readonly number[] = [10006, 10016, 10429];

function isTransient(error: unknown): boolean {
  if (error instanceof KeyAdminError) return error.retCode === undefined || TRANSIENT_CODES.includes(error.retCode);
  // Anything else came from AWS or the network: a retry may succeed.
  return !(error instanceof RotationError);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class SecretRotation {
  constructor(private readonly options: SecretRotationOptions) {}

  /** Runs one step of Secrets Manager's rotation; throws when the step did not complete. */
  async step(event: RotationEvent): Promise<void> {
    const { secrets, logger } = this.options;
    const secretId = event.SecretId;
    const token = event.ClientRequestToken;
    const versions = await secrets.describe(secretId);
    this.checkIsTradingSecret(versions, secretId);
    if (!versions.rotationEnabled) throw new RotationError(`rotation is not enabled for ${versions.name}`, false);
    const stages = versions.stagesByVersion.get(token);
    if (!stages) throw new RotationError(`version ${token} of ${versions.name} has no staging label: it is not a rotation under way`, false);
    if (stages.includes(STAGES.current)) {
      // Finished already (a retry after finishSecret succeeded, or the testSecret-only run on the current value).
      if (event.Step === 'finishSecret' && stages.includes(STAGES.pending)) await secrets.removeStage(secretId, STAGES.pending, token);
      logger.info('rotation step: the version is already current', { step: event.Step, token });
      return;
    }
    if (!stages.includes(STAGES.pending)) throw new RotationError(`version ${token} of ${versions.name} is not AWSPENDING: the rotation was rolled back or replaced`, false);
    const currentVersion = versionWith(versions, STAGES.current);
    if (currentVersion === undefined) throw new RotationError(`${versions.name} has no AWSCURRENT version to rotate from`, false);

    logger.info('rotation step', { step: event.Step, token, secret: versions.name });
    try {
      switch (event.Step) {
        case 'createSecret':
          await this.createSecret(versions, token, currentVersion);
          return;
        case 'setSecret':
          await this.setSecret(versions, token, currentVersion);
          return;
        case 'testSecret':
          await this.testSecret(versions, token, currentVersion);
          return;
        case 'finishSecret':
          await secrets.moveCurrent(versions.arn, token, currentVersion);
          await secrets.removeStage(versions.arn, STAGES.pending, token);
          logger.info('rotation finished: the new key is current; the old one is revoked once every engine uses the new one', { token, replacedVersion: currentVersion });
          return;
      }
    } catch (error) {
      if (event.Step === 'finishSecret' || isTransient(error)) {
        logger.warn('rotation step failed; the retry resumes from here', { step: event.Step, token, error: messageOf(error) });
        throw error;
      }
      throw await this.rollBack(versions, token, currentVersion, `${event.Step}: ${messageOf(error)}`);
    }
  }

  /** Deletes the keys rotations replaced, once every live engine uses the current one (or at once with `force`). */
  async revokeSuperseded(options: { readonly force?: boolean } = {}): Promise<RevokeReport> {
    const { secrets, keys, logger, clock, tradingSecretId } = this.options;
    const now = clock();
    const versions = await secrets.describe(tradingSecretId);
    const currentVersion = versionWith(versions, STAGES.current);
    if (currentVersion === undefined) throw new RotationError(`${versions.name} has no AWSCURRENT version`, false);
    const current = await this.storedKey(versions.arn, STAGES.current, currentVersion);
    const keep = new Set([current.apiKey]);
    const pendingVersion = versionWith(versions, STAGES.pending);
    if (pendingVersion !== undefined && pendingVersion !== currentVersion) {
      const pending = await this.optionalStoredKey(versions.arn, STAGES.pending, pendingVersion);
      if (pending) keep.add(pending.apiKey);
    }
    const previousVersion = versionWith(versions, STAGES.previous);
    const previous = previousVersion === undefined ? undefined : await this.optionalStoredKey(versions.arn, STAGES.previous, previousVersion);
    const admin = await this.adminKey();
    const account = await keys.describe(current);
    const listed = await keys.listSubAccountKeys(admin, account.uid);
    const prefix = notePrefix(this.options.stage);
    const candidates = listed.filter((key) => !keep.has(key.apiKey) && (key.note.startsWith(prefix) || namedAsReplaced(key, current, previous)));
    // A rotation's key only just created may be one a rotation is about to store: left alone for now.
    const young = candidates.filter((key) => options.force !== true && !namedAsReplaced(key, current, previous) && now - Date.parse(key.createdAt) < this.options.orphanMinAgeMs);
    const superseded = candidates.filter((key) => !young.includes(key));
    const report = { revoked: [] as string[], kept: young.map((key) => key.id), waitingFor: young.map((key) => `key ${key.id} to be ${Math.ceil(this.options.orphanMinAgeMs / 1000).toString()} s old (a rotation may be storing it)`), currentKeyId: current.keyId };
    if (superseded.length === 0) return report;
    if (options.force !== true) {
      const waiting = await this.enginesNotOn(current.keyId, now);
      const changedAgo = versions.lastChangedAt === undefined ? Number.POSITIVE_INFINITY : now - versions.lastChangedAt;
      if (changedAgo < this.options.revokeAfterMs) waiting.push(`the grace period (${Math.ceil((this.options.revokeAfterMs - changedAgo) / 1000).toString()} s left)`);
      report.waitingFor.push(...waiting);
      if (waiting.length > 0) {
        report.kept.push(...superseded.map((key) => key.id));
        logger.info('superseded keys kept until every engine uses the current one', { kept: report.kept, waitingFor: report.waitingFor, currentKeyId: current.keyId });
        return report;
      }
    }
    const failures: string[] = [];
    for (const key of superseded) {
      try {
        await keys.deleteSubAccountKey(admin, key.apiKey);
        report.revoked.push(key.id);
        logger.info('superseded key revoked', { keyId: key.id, note: key.note, forced: options.force === true });
      } catch (error) {
        failures.push(`${key.id}: ${messageOf(error)}`);
      }
    }
    if (failures.length > 0) throw new RotationError(`could not revoke superseded key(s) ${failures.join('; ')} (revoked: ${report.revoked.join(', ') || 'none'})`, false);
    return report;
  }

  /** What an operator needs to see: the versions' key ids, the engines' keys, the sub-account's keys. Never a secret. */
  async status(): Promise<RotationStatus> {
    const { secrets, keys, clock, tradingSecretId, shards, heartbeatStaleMs } = this.options;
    const now = clock();
    const versions = await secrets.describe(tradingSecretId);
    const stored = new Map<string, StoredKey | undefined>();
    const versionRows: RotationStatus['versions'][number][] = [];
    for (const [versionId, stages] of versions.stagesByVersion) {
      const [stage = STAGES.current] = stages;
      let key: StoredKey | undefined;
      let problem: string | undefined;
      try {
        key = await this.optionalStoredKey(versions.arn, stage, versionId);
      } catch (error) {
        problem = messageOf(error);
      }
      stored.set(versionId, key);
      versionRows.push({ versionId, stages, ...(key && { keyId: key.keyId }), ...(problem !== undefined && { problem }), ...(!key && problem === undefined && { problem: 'no value' }) });
    }
    const heartbeats = await this.options.heartbeats.read(shards);
    const engines = shards.map((shard) => {
      const heartbeat = heartbeats.get(shard);
      if (!heartbeat) return { shard, state: 'no heartbeat' };
      const state = heartbeat.phase === 'stopped' ? 'stopped' : now - heartbeat.sentAt > heartbeatStaleMs ? 'stale' : heartbeat.phase;
      return { shard, state, ...(heartbeat.keyId !== undefined && { keyId: heartbeat.keyId }), heartbeatAgeMs: now - heartbeat.sentAt };
    });
    const roleOf = new Map<string, string>();
    for (const [versionId, key] of stored) if (key) roleOf.set(key.apiKey, (versions.stagesByVersion.get(versionId) ?? []).join('+'));
    let subAccountKeys: RotationStatus['subAccountKeys'] = [];
    let venueProblem: string | undefined;
    const current = [...stored.entries()].find(([versionId]) => versions.stagesByVersion.get(versionId)?.includes(STAGES.current))?.[1];
    try {
      if (!current) throw new RotationError('no current key to find the sub-account with', false);
      const listed = await keys.listSubAccountKeys(await this.adminKey(), await this.accountOf([current]));
      const prefix = notePrefix(this.options.stage);
      subAccountKeys = listed.map((key) => ({
        keyId: key.id,
        note: key.note,
        status: key.status,
        createdAt: key.createdAt,
        // AWSPREVIOUS's key has its stage as its role already.
        role: roleOf.get(key.apiKey) ?? (key.note.startsWith(prefix) || namedAsReplaced(key, current, undefined) ? 'superseded (revoked once every engine uses AWSCURRENT)' : 'not managed by rotation'),
      }));
    } catch (error) {
      venueProblem = messageOf(error);
    }
    return { secret: versions.name, rotationEnabled: versions.rotationEnabled, versions: versionRows, engines, subAccountKeys, ...(venueProblem !== undefined && { venueProblem }) };
  }

  private checkIsTradingSecret(versions: SecretVersions, secretId: string): void {
    const expected = this.options.tradingSecretId;
    if (versions.name !== expected && versions.arn !== expected) {
      throw new RotationError(`this function rotates ${expected} only, not ${versions.name} (${secretId})`, false);
    }
  }

  private async createSecret(versions: SecretVersions, token: string, currentVersion: string): Promise<void> {
    const { secrets, keys, logger, stage } = this.options;
    const stored = await this.optionalStoredKey(versions.arn, STAGES.pending, token);
    const current = await this.storedKey(versions.arn, STAGES.current, currentVersion);
    const template = await this.describeCurrent(current);
    const admin = await this.adminKey();
    const note = rotationNote(stage, token);
    if (stored) {
      // A retry: the key was created and stored before. It must still exist, or the version can never work
      // (its value cannot change under the same token).
      const listed = await keys.listSubAccountKeys(admin, template.uid);
      if (!listed.some((key) => key.apiKey === stored.apiKey)) throw new RotationError(`the pending key ${stored.keyId} no longer exists at Bybit`, false);
      logger.info('rotation: the new key was created and stored by an earlier attempt', { token, keyId: stored.keyId });
      return;
    }
    const listed = await keys.listSubAccountKeys(admin, template.uid);
    // A key created for this token but never stored (the attempt died in between) is unusable: its secret is gone.
    for (const orphan of listed.filter((key) => key.note === note)) {
      await keys.deleteSubAccountKey(admin, orphan.apiKey);
      logger.warn('rotation: deleted a key an earlier attempt created but never stored', { token, keyId: orphan.id });
    }
    // The current key, and those it replaced that still exist, are to be revoked once engines use the new one.
    const supersededKeyIds = [...new Set([template.id, ...current.supersededKeyIds])].filter((id) => listed.some((key) => key.id === id)).slice(0, MAX_SUPERSEDED);
    const created = await keys.createSubAccountKey(admin, { subUid: template.uid, readOnly: template.readOnly, permissions: template.permissions, ips: template.ips, note });
    logger.info('rotation: new key created', { token, keyId: created.id, subUid: template.uid, ips: template.ips, supersededKeyIds });
    try {
      await secrets.putPending(versions.arn, token, JSON.stringify({ apiKey: created.apiKey, apiSecret: created.apiSecret, keyId: created.id, supersededKeyIds }));
    } catch (error) {
      // Not stored means never usable: delete it now rather than leave it for the next attempt.
      await keys.deleteSubAccountKey(admin, created.apiKey).then(
        () => logger.warn('rotation: the new key could not be stored and was deleted', { token, keyId: created.id, error: messageOf(error) }),
        (deleteError: unknown) => logger.error('rotation: the new key could not be stored nor deleted; the next attempt deletes it', { token, keyId: created.id, error: messageOf(error), deleteError: messageOf(deleteError) }),
      );
      throw error;
    }
  }

  private async setSecret(versions: SecretVersions, token: string, currentVersion: string): Promise<void> {
    const pending = await this.storedKey(versions.arn, STAGES.pending, token);
    const current = await this.storedKey(versions.arn, STAGES.current, currentVersion);
    const account = await this.describeCurrent(current);
    const listed = await this.options.keys.listSubAccountKeys(await this.adminKey(), account.uid);
    if (pending.apiKey !== current.apiKey && !listed.some((key) => key.apiKey === pending.apiKey)) {
      throw new RotationError(`the pending key ${pending.keyId} is not a key of sub-account ${account.uid.toString()}, the current key's`, false);
    }
  }

  private async testSecret(versions: SecretVersions, token: string, currentVersion: string): Promise<void> {
    const pending = await this.storedKey(versions.arn, STAGES.pending, token);
    const current = await this.storedKey(versions.arn, STAGES.current, currentVersion);
    const expected = await this.describeCurrent(current);
    const actual = await this.options.keys.describe(pending);
    const differences = keyDifferences(expected, actual);
    if (differences.length > 0) throw new RotationError(`the pending key ${pending.keyId} differs from the current one: ${differences.join('; ')}`, false);
    this.options.logger.info('rotation: the new key works', { token, keyId: pending.keyId });
  }

  /**
   * Deletes the token's key (never the current one) and takes AWSPENDING off its version. The label comes
   * off even when the key cannot be deleted now: the next rotation must not be blocked, and a left-over key
   * of the rotation's is found by its note and deleted by revokeSuperseded.
   */
  private async rollBack(versions: SecretVersions, token: string, currentVersion: string, reason: string): Promise<Error> {
    const { secrets, keys, logger, stage } = this.options;
    let keyLeft: string | undefined;
    try {
      const current = await this.optionalStoredKey(versions.arn, STAGES.current, currentVersion).catch(() => undefined);
      const pending = await this.optionalStoredKey(versions.arn, STAGES.pending, token);
      const known = [current, pending].filter((key): key is StoredKey => key !== undefined);
      const admin = await this.adminKey();
      const note = rotationNote(stage, token);
      const listed = await keys.listSubAccountKeys(admin, await this.accountOf(known));
      for (const key of listed.filter((listedKey) => listedKey.apiKey !== current?.apiKey && (listedKey.note === note || listedKey.apiKey === pending?.apiKey))) {
        await keys.deleteSubAccountKey(admin, key.apiKey);
        logger.warn('rotation rolled back: the new key was deleted', { token, keyId: key.id });
      }
    } catch (error) {
      keyLeft = messageOf(error);
    }
    try {
      await secrets.removeStage(versions.arn, STAGES.pending, token);
    } catch (error) {
      logger.error('rotation failed and could not be rolled back yet; the retry or the next rotation does it', { token, reason, error: messageOf(error) });
      return new RotationError(`${reason}; the roll-back failed too (${messageOf(error)})`, false);
    }
    if (keyLeft !== undefined) {
      logger.error('rotation rolled back, but a key it may have created could not be checked or deleted now; revokeSuperseded deletes it', { token, reason, error: keyLeft });
      return new RotationError(`${reason} (rolled back: AWSPENDING removed; the new key, if any, is left for revokeSuperseded: ${keyLeft})`, true);
    }
    logger.error('rotation failed and was rolled back: AWSCURRENT is unchanged and the new key deleted', { token, reason });
    return new RotationError(`${reason} (rolled back: the new key was deleted and AWSPENDING removed)`, true);
  }

  /** The sub-account of the first of these keys Bybit still accepts (the current one may be the dead one). */
  private async accountOf(candidates: readonly StoredKey[]): Promise<number> {
    let lastError: unknown = new RotationError('no stored key to find the sub-account with', false);
    for (const key of candidates) {
      try {
        return (await this.options.keys.describe(key)).uid;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private async describeCurrent(current: StoredKey): Promise<KeyDescription> {
    let described: KeyDescription;
    try {
      described = await this.options.keys.describe(current);
    } catch (error) {
      // The current key refused means the key the engines trade with is dead: a person must act, not a retry.
      if (error instanceof KeyAdminError && error.retCode !== undefined && KEY_REFUSED_CODES.includes(error.retCode)) {
        throw new RotationError(`the current key ${current.keyId} is refused by Bybit (${error.message}): rotate by hand (docs/runbooks/SECRET_ROTATION.md, break-glass)`, false);
      }
      throw error;
    }
    if (described.isMaster) throw new RotationError(`the current key ${current.keyId} is a master account's key; only a sub-account's trading key is rotated`, false);
    return described;
  }

  private async adminKey(): Promise<StoredKey> {
    const { secrets, keyAdminSecretId } = this.options;
    const raw = await secrets.value(keyAdminSecretId, { stage: STAGES.current });
    if (raw === undefined) throw new RotationError(`the key-admin secret ${keyAdminSecretId} has no AWSCURRENT value`, false);
    return parseKey(KeyAdminSecretSchema, raw, `the key-admin secret ${keyAdminSecretId}`);
  }

  private async storedKey(secretId: string, stage: string, versionId: string): Promise<StoredKey> {
    const key = await this.optionalStoredKey(secretId, stage, versionId);
    if (!key) throw new RotationError(`version ${versionId} (${stage}) of the trading secret has no value`, false);
    return key;
  }

  private async optionalStoredKey(secretId: string, stage: string, versionId: string): Promise<StoredKey | undefined> {
    const raw = await this.options.secrets.value(secretId, { stage, versionId });
    return raw === undefined ? undefined : parseKey(BybitCredentialsSchema, raw, `version ${versionId} (${stage}) of the trading secret`);
  }

  private async enginesNotOn(keyId: string, now: number): Promise<string[]> {
    const { shards, heartbeats, heartbeatStaleMs } = this.options;
    const found = await heartbeats.read(shards);
    const waiting: string[] = [];
    for (const shard of shards) {
      const heartbeat = found.get(shard);
      // No heartbeat, a stopped engine, or a dead one: none of them is using a key now.
      if (!heartbeat || heartbeat.phase === 'stopped' || now - heartbeat.sentAt > heartbeatStaleMs) continue;
      if (heartbeat.keyId !== keyId) waiting.push(`shard ${shard} (on ${heartbeat.keyId ?? 'an unreported key'})`);
    }
    return waiting;
  }
}

function parseKey(schema: typeof BybitCredentialsSchema, raw: string, what: string): StoredKey {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new RotationError(`${what} is not JSON`, false);
  }
  const parsed = schema.safeParse(json);
  // Field names only: the value is the secret.
  if (!parsed.success) throw new RotationError(`${what} is not a Bybit key: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.message}`).join('; ')}`, false);
  return { apiKey: parsed.data.apiKey, apiSecret: parsed.data.apiSecret, keyId: parsed.data.keyId ?? fingerprint(parsed.data.apiKey), supersededKeyIds: parsed.data.supersededKeyIds ?? [] };
}

/** How the new key differs from the one it replaces, in what a rotation must keep. */
export function keyDifferences(expected: KeyDescription, actual: KeyDescription): string[] {
  const differences: string[] = [];
  if (actual.uid !== expected.uid) differences.push(`account ${actual.uid.toString()} instead of ${expected.uid.toString()}`);
  if (actual.isMaster) differences.push('a master key');
  if (actual.readOnly !== expected.readOnly) differences.push(`readOnly ${String(actual.readOnly)} instead of ${String(expected.readOnly)}`);
  const grants = (permissions: KeyDescription['permissions']): string =>
    Object.entries(permissions)
      .map(([group, list]) => `${group}:${[...list].sort().join('+')}`)
      .sort()
      .join(',');
  if (grants(actual.permissions) !== grants(expected.permissions)) differences.push(`grants ${grants(actual.permissions)} instead of ${grants(expected.permissions)}`);
  const ips = (list: readonly string[]): string => [...new Set(list)].sort().join(',');
  if (ips(actual.ips) !== ips(expected.ips)) differences.push(`IPs ${ips(actual.ips)} instead of ${ips(expected.ips)}`);
  return differences;
}
