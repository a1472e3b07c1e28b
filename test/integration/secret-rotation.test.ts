/**
 * The trading key's rotation (lambdas/secret-rotation.ts, src/control/secret-rotation.ts) on the emulator's
 * Secrets Manager and the simulator's key management, with the real AWS SDK and bybit-api clients. Secrets
 * Manager's side (RotateSecret's placeholder, the four steps in order, the retries of a failed rotation
 * under its token, the refusal of a new rotation while one is under way) is played by
 * src/local/rotation-driver.ts, as moto cannot run the function here (docs/TESTING.md).
 *
 * Faults: Bybit's by wrapping the key-admin adapter the handler is given; AWS's by a middleware on the real
 * Secrets Manager client that fails one command (the emulator has no fault injection).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BybitKeyAdmin, KEY_REFUSED_CODES, KeyAdminError, type KeyCredentials } from '../../src/adapters/bybit/key-admin.js';
import { DynamoHeartbeatStore } from '../../src/adapters/dynamodb/heartbeat-store.js';
import { SecretVersionsStore } from '../../src/adapters/secrets/secret-versions.js';
import { createSecretRotationHandler, UnsupportedEventError } from '../../lambdas/secret-rotation.js';
import { RotationError, type RotationEvent, type RotationStatus, type RevokeReport, rotationNote } from '../../src/control/secret-rotation.js';
import { type ControlSettings, ControlSettingsSchema } from '../../src/control/settings.js';
import type { EngineHeartbeatV1 } from '../../src/core/events.js';
import { ensureRotationFunction, type LocalRotationReport, rotateLocally } from '../../src/local/rotation-driver.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { motoEndpoint, useProvisionedStage } from '../support/aws.js';
import { CapturedLogger, capturingStdout, emfTotal, lambdaContext, quietMetrics } from '../support/lambda.js';
import { injectFaults } from '../support/durability.js';
import { FaultyKeys } from '../support/key-faults.js';
import { rejectionOf } from '../support/rejection.js';
import { MASTER, TRADER } from '../support/sim.js';

const REGION = 'ap-southeast-1';
const FUNCTION = 'mmrb-rotation-test-secret-rotation';
const provisioned = useProvisionedStage();
let sim: Simulator;
let venue: BybitKeyAdmin;
let functionArn: string;
const master: KeyCredentials = { apiKey: MASTER.key, apiSecret: MASTER.secret };

beforeAll(async () => {
  // Bybit's per-UID limits tenfold: the tests read the keys they check far more often than a rotation does.
  sim = await startSimulator({ seed: 41, rateLimitScale: 10 });
  venue = new BybitKeyAdmin({ restUrl: sim.restUrl, recvWindowMs: 5000 });
  const { lambda, iam } = provisioned.clients;
  functionArn = await ensureRotationFunction({ lambda, iam, motoEndpoint: motoEndpoint(), functionName: FUNCTION });
  await provisioned.clients.secrets.send(new PutSecretValueCommand({ SecretId: provisioned.stage.names.secrets.keyAdmin, SecretString: JSON.stringify({ apiKey: MASTER.key, apiSecret: MASTER.secret, keyId: 'sim-master' }) }));
});

afterAll(async () => {
  await sim.close();
});

/** The key the trading secret starts each test with: a fresh key of the trading sub-account. */
let original: { apiKey: string; apiSecret: string; keyId: string };

beforeEach(async () => {
  await createsApart();
  const template = await venue.describe({ apiKey: TRADER.key, apiSecret: TRADER.secret });
  const created = await venue.createSubAccountKey(master, { subUid: template.uid, readOnly: false, permissions: template.permissions, ips: ['127.0.0.1'], note: 'made by hand' });
  original = { apiKey: created.apiKey, apiSecret: created.apiSecret, keyId: created.id };
  await putCurrent(JSON.stringify(original));
});

/** A value stored as AWSCURRENT by hand (as the runbook's break-glass does; one PutSecretValue misleads moto). */
async function putCurrent(value: string): Promise<void> {
  await new SecretVersionsStore({ client: provisioned.clients.secrets, requestTimeoutMs: 5000 }).putCurrent(provisioned.stage.names.secrets.tradingKey, value);
}

/** create-sub-api allows one request a second per UID (ten here, see rateLimitScale). */
let lastCreateAt = 0;
async function createsApart(): Promise<void> {
  const wait = lastCreateAt + 110 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  lastCreateAt = Date.now();
}

function settings(overrides: Partial<{ revokeAfterMs: number; orphanMinAgeMs: number }> = {}): ControlSettings {
  return ControlSettingsSchema.parse({
    stage: provisioned.stage.names.stage,
    shards: { a: ['BTCUSDT'], b: ['ETHUSDT'] },
    venue: { restUrl: sim.restUrl, credentialsSecretId: provisioned.stage.names.secrets.tradingKey },
    risk: { limits: {} },
    rotation: { revokeAfterMs: overrides.revokeAfterMs ?? 0, orphanMinAgeMs: overrides.orphanMinAgeMs ?? 0 },
  });
}

/**
 * A Secrets Manager client on the emulator (one attempt per call) whose named command fails the given
 * number of times with a server error (test/support/durability.ts injectFaults).
 */
function faultySecrets(): { client: SecretsManagerClient; fail: (command: string, times: number) => void } {
  const client = new SecretsManagerClient({ endpoint: motoEndpoint(), region: REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
  const faults = injectFaults(client, 'rotation');
  return {
    client,
    fail: (command, times) => {
      faults.mode = 'error';
      faults.only.clear();
      faults.only.add(command);
      faults.budget = times;
    },
  };
}

interface Rig {
  readonly keys: FaultyKeys;
  readonly secrets: ReturnType<typeof faultySecrets>;
  readonly logger: CapturedLogger;
  /** The EMF lines the handler printed (the alarms' metrics), taken and forgotten. */
  takeMetrics(): string[];
  invoke(event: unknown): Promise<unknown>;
  rotate(attempts?: number): Promise<LocalRotationReport>;
}

function rig(options: { settings?: ControlSettings; clock?: () => number } = {}): Rig {
  const keys = new FaultyKeys(venue, createsApart);
  const secrets = faultySecrets();
  const logger = new CapturedLogger({ serviceName: 'secret-rotation', logLevel: 'DEBUG' });
  const handler = createSecretRotationHandler({
    settings: options.settings ?? settings(),
    clients: { secrets: secrets.client, dynamodb: provisioned.clients.dynamodb },
    logger,
    metrics: quietMetrics('secret-rotation'),
    keys,
    ...(options.clock && { clock: options.clock }),
  });
  let emf: string[] = [];
  const invoke = async (event: unknown) => (await capturingStdout(() => handler(event, lambdaContext(FUNCTION)), emf)).result;
  return {
    keys,
    secrets,
    logger,
    takeMetrics: () => {
      const taken = emf;
      emf = [];
      return taken;
    },
    invoke,
    rotate: (attempts = 1) => rotateLocally({ secrets: provisioned.clients.secrets, secretId: provisioned.stage.names.secrets.tradingKey, functionArn, invoke, attempts, retryDelayMs: 0 }),
  };
}

async function stagesOf(): Promise<Record<string, string[]>> {
  const described = await provisioned.clients.secrets.send(new DescribeSecretCommand({ SecretId: provisioned.stage.names.secrets.tradingKey }));
  return Object.fromEntries(Object.entries(described.VersionIdsToStages ?? {}).filter(([, stages]) => stages.length > 0));
}

async function currentKey(): Promise<{ apiKey: string; apiSecret: string; keyId: string; supersededKeyIds?: string[] }> {
  const answer = await provisioned.clients.secrets.send(new GetSecretValueCommand({ SecretId: provisioned.stage.names.secrets.tradingKey, VersionStage: 'AWSCURRENT' }));
  return JSON.parse(answer.SecretString ?? '') as { apiKey: string; apiSecret: string; keyId: string; supersededKeyIds?: string[] };
}

/** True when Bybit accepts the key (an authenticated read). */
async function works(key: { apiKey: string; apiSecret: string }): Promise<boolean> {
  try {
    await venue.describe(key);
    return true;
  } catch (error) {
    if (error instanceof KeyAdminError && error.retCode !== undefined && KEY_REFUSED_CODES.includes(error.retCode)) return false;
    throw error;
  }
}

async function keysOfSubAccount(): Promise<{ id: string; note: string }[]> {
  const uid = (await venue.describe({ apiKey: TRADER.key, apiSecret: TRADER.secret })).uid;
  return venue.listSubAccountKeys(master, uid);
}

function pendingAnywhere(stages: Record<string, string[]>): boolean {
  return Object.values(stages).some((list) => list.includes('AWSPENDING'));
}

/** No key or secret the test knows of appears in what the function logged. */
function expectNoSecretIn(text: string, ...keys: { apiKey: string; apiSecret: string }[]): void {
  for (const key of [...keys, master]) {
    expect(text).not.toContain(key.apiKey);
    expect(text).not.toContain(key.apiSecret);
  }
}

function heartbeat(shard: string, sentAt: number, keyId: string | undefined, phase: EngineHeartbeatV1['phase'] = 'running'): EngineHeartbeatV1 {
  return { schemaVersion: 1, eventId: `heartbeat:${shard}:7:${sentAt.toString()}`, shard, epoch: 7, sentAt, phase, frozen: false, symbols: [], ...(keyId !== undefined && { keyId }) };
}

describe('a full rotation', () => {
  it('creates a key like the current one, tests it, promotes it; the old key works until every engine reports the new one, then is revoked', async () => {
    const subject = rig();
    const report = await subject.rotate();
    expect(report).toMatchObject({ outcome: 'finished', resumed: false, attempts: 1 });
    expect(subject.keys.created).toHaveLength(1);
    const rotated = subject.takeMetrics();
    expect({ finished: emfTotal(rotated, 'RotationsFinished'), failed: emfTotal(rotated, 'RotationStepFailures') }).toEqual({ finished: 1, failed: 0 });

    const fresh = await currentKey();
    expect(fresh.keyId).toBe(subject.keys.created[0]);
    expect(await works(fresh)).toBe(true);
    const described = await venue.describe(fresh);
    const before = await venue.describe({ apiKey: TRADER.key, apiSecret: TRADER.secret });
    expect(described).toMatchObject({ uid: before.uid, readOnly: false, ips: ['127.0.0.1'], permissions: before.permissions, note: rotationNote(provisioned.stage.names.stage, report.token) });
    const stages = await stagesOf();
    expect(stages[report.token]).toEqual(['AWSCURRENT']);
    expect(Object.values(stages).filter((list) => list.includes('AWSPREVIOUS'))).toHaveLength(1);
    expect(await works(original)).toBe(true);

    // Shard a still trades on the old key; shard b's engine is dead (stale heartbeat), which uses no key.
    const heartbeats = new DynamoHeartbeatStore({ client: provisioned.clients.dynamodb, table: provisioned.stage.names.tables.control, requestTimeoutMs: 3000 });
    await heartbeats.put(heartbeat('a', Date.now(), original.keyId));
    await heartbeats.put(heartbeat('b', Date.now() - 10 * 60_000, original.keyId));
    const waiting = (await subject.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date().toISOString() })) as RevokeReport;
    expect(waiting).toMatchObject({ revoked: [], kept: [original.keyId], currentKeyId: fresh.keyId });
    expect(waiting.waitingFor).toEqual([`shard a (on ${original.keyId})`]);
    expect(await works(original)).toBe(true);
    // What OldTradingKeyStillLive watches: a superseded key kept.
    expect(emfTotal(subject.takeMetrics(), 'KeysAwaitingRevocation')).toBe(1);

    await heartbeats.put(heartbeat('a', Date.now() + 1, fresh.keyId));
    const revoked = (await subject.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date().toISOString() })) as RevokeReport;
    expect(revoked.revoked).toContain(original.keyId);
    const revocation = subject.takeMetrics();
    expect({ revoked: emfTotal(revocation, 'KeysRevoked'), awaiting: emfTotal(revocation, 'KeysAwaitingRevocation') }).toEqual({ revoked: revoked.revoked.length, awaiting: 0 });
    expect(await works(original)).toBe(false);
    expect(await works(fresh)).toBe(true);
    // Nothing else of the sub-account was touched: the default keys are not the rotation's.
    expect(await works({ apiKey: TRADER.key, apiSecret: TRADER.secret })).toBe(true);
    expectNoSecretIn(subject.logger.text(), original, fresh);
  });

  it('each step run again for the same token changes nothing: one key created, one version promoted', async () => {
    const subject = rig();
    const report = await subject.rotate();
    const token = report.token;
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await subject.invoke({ Step: step, SecretId: provisioned.stage.names.secrets.tradingKey, ClientRequestToken: token });
    }
    expect(subject.keys.created).toHaveLength(1);
    expect((await stagesOf())[token]).toEqual(['AWSCURRENT']);
  });

  it('keeps a superseded key for the grace period after the change, and revokes at once when forced', async () => {
    let now = Date.now();
    const subject = rig({ settings: settings({ revokeAfterMs: 15 * 60_000 }), clock: () => now });
    await subject.rotate();
    const kept = (await subject.invoke({ action: 'revokeSuperseded' })) as RevokeReport;
    expect(kept.revoked).toEqual([]);
    expect(kept.waitingFor.join(' ')).toMatch(/grace period \(\d+ s left\)/);
    now += 16 * 60_000;
    const later = (await subject.invoke({ action: 'revokeSuperseded' })) as RevokeReport;
    expect(later.revoked).toContain(original.keyId);

    // Forced: the next rotation's old key goes at once, whatever the engines report.
    now = Date.now();
    const before = await currentKey();
    await subject.rotate();
    const forced = (await subject.invoke({ action: 'revokeSuperseded', force: true })) as RevokeReport;
    expect(forced.revoked).toContain(before.keyId);
    expect(await works(before)).toBe(false);
  });

  it('does not forget a key made by hand when two rotations come before a revocation: each version names the keys it replaced', async () => {
    const subject = rig();
    // No engine runs (an earlier test's heartbeats would otherwise be waited for).
    const heartbeats = new DynamoHeartbeatStore({ client: provisioned.clients.dynamodb, table: provisioned.stage.names.tables.control, requestTimeoutMs: 3000 });
    for (const shard of ['a', 'b']) await heartbeats.put(heartbeat(shard, Date.now() + 2, undefined, 'stopped'));
    await subject.rotate();
    const first = await currentKey();
    expect(first).toMatchObject({ supersededKeyIds: [original.keyId] });
    await subject.rotate();
    const second = await currentKey();
    // The hand-made key is neither AWSPREVIOUS now nor noted as a rotation's: only the carried ids remember it.
    expect(second).toMatchObject({ supersededKeyIds: [first.keyId, original.keyId] });
    const report = (await subject.invoke({ action: 'revokeSuperseded' })) as RevokeReport;
    // (With any rotation key an earlier test of this stage left.)
    expect(report.revoked).toEqual(expect.arrayContaining([first.keyId, original.keyId]));
    expect(await works(original)).toBe(false);
    expect(await works(first)).toBe(false);
    expect(await works(second)).toBe(true);
    // Revoked keys are no longer carried.
    await subject.rotate();
    expect(await currentKey()).toMatchObject({ supersededKeyIds: [second.keyId] });
  });

  it('reports the versions, the engines and the sub-account\'s keys by id, never a secret', async () => {
    const subject = rig();
    await subject.rotate();
    const status = (await subject.invoke({ action: 'status' })) as RotationStatus;
    const fresh = await currentKey();
    expect(status.secret).toBe(provisioned.stage.names.secrets.tradingKey);
    expect(status.versions.map((version) => version.keyId).sort()).toEqual([fresh.keyId, original.keyId].sort());
    expect(status.subAccountKeys.find((key) => key.keyId === fresh.keyId)?.role).toBe('AWSCURRENT');
    expect(status.subAccountKeys.find((key) => key.keyId === original.keyId)?.role).toBe('AWSPREVIOUS');
    expect(status.engines.map((engine) => engine.shard)).toEqual(['a', 'b']);
    expectNoSecretIn(JSON.stringify(status), original, fresh);
  });
});

describe('a failure at each step leaves AWSCURRENT working and the new key revoked', () => {
  async function expectRolledBack(subject: Rig, report: LocalRotationReport): Promise<void> {
    expect(report.outcome).toBe('rolled-back');
    const stages = await stagesOf();
    expect(pendingAnywhere(stages)).toBe(false);
    const current = await currentKey();
    expect(current.apiKey).toBe(original.apiKey);
    expect(await works(current)).toBe(true);
    const listed = await keysOfSubAccount();
    for (const id of subject.keys.created) expect(listed.map((key) => key.id)).not.toContain(id);
    expectNoSecretIn(subject.logger.text(), original);
  }

  it('createSecret: Bybit refuses to create the key', async () => {
    const subject = rig();
    subject.keys.faults.create = [new KeyAdminError('create-sub-api refused: 10005 Permission denied', 10005)];
    const report = await subject.rotate(3);
    await expectRolledBack(subject, report);
    expect(report.error).toMatch(/createSecret: KeyAdminError: create-sub-api refused: 10005/);
    const failed = subject.takeMetrics();
    expect({ failures: emfTotal(failed, 'RotationStepFailures'), rolledBack: emfTotal(failed, 'RotationsRolledBack'), finished: emfTotal(failed, 'RotationsFinished') }).toEqual({ failures: 1, rolledBack: 1, finished: 0 });
    // The next rotation starts clean.
    expect((await subject.rotate()).outcome).toBe('finished');
  });

  it('createSecret: the new key cannot be stored; it is deleted at once and the retry creates another', async () => {
    const subject = rig();
    subject.secrets.fail('PutSecretValueCommand', 1);
    // The handler's own Secrets Manager client fails; Secrets Manager retries the rotation.
    const report = await subject.rotate(2);
    expect(report).toMatchObject({ outcome: 'finished', attempts: 2 });
    expect(subject.keys.created).toHaveLength(2);
    const listed = (await keysOfSubAccount()).map((key) => key.id);
    expect(listed).not.toContain(subject.keys.created[0]);
    expect(listed).toContain(subject.keys.created[1]);
  });

  it('createSecret: an attempt that died between creating and storing leaves a key the next attempt deletes', async () => {
    const subject = rig();
    // The put fails and so does the clean-up delete: the key is left behind, as after a crash.
    subject.secrets.fail('PutSecretValueCommand', 1);
    subject.keys.faults.delete = [new KeyAdminError('delete-sub-api failed: no answer', undefined)];
    const report = await subject.rotate(2);
    expect(report).toMatchObject({ outcome: 'finished', attempts: 2 });
    const [orphan, kept] = subject.keys.created;
    const listed = (await keysOfSubAccount()).map((key) => key.id);
    expect(listed).not.toContain(orphan);
    expect(listed).toContain(kept);
    expect(subject.logger.text()).toContain('deleted a key an earlier attempt created but never stored');
  });

  it('setSecret: the pending key was deleted at Bybit meanwhile', async () => {
    const subject = rig();
    const token = '11111111-2222-4333-8444-' + Date.now().toString().padStart(12, '0');
    await provisioned.clients.secrets.send(new RotateSecretCommand({ SecretId: provisioned.stage.names.secrets.tradingKey, ClientRequestToken: token, RotationLambdaARN: functionArn, RotationRules: { AutomaticallyAfterDays: 90 } }));
    const event = (step: RotationEvent['Step']) => ({ Step: step, SecretId: provisioned.stage.names.secrets.tradingKey, ClientRequestToken: token });
    await subject.invoke(event('createSecret'));
    const [createdId] = subject.keys.created;
    const created = (await keysOfSubAccount()).find((key) => key.id === createdId);
    expect(created).toBeDefined();
    // An operator deletes it by hand (the list shows keys by id; the master deletes by apiKey).
    const pending = JSON.parse((await provisioned.clients.secrets.send(new GetSecretValueCommand({ SecretId: provisioned.stage.names.secrets.tradingKey, VersionId: token, VersionStage: 'AWSPENDING' }))).SecretString ?? '') as { apiKey: string; apiSecret: string };
    await venue.deleteSubAccountKey(master, pending.apiKey);
    const error = await rejectionOf(subject.invoke(event('setSecret')), RotationError);
    expect(error.rolledBack).toBe(true);
    expect(error.message).toMatch(/is not a key of sub-account/);
    expect(pendingAnywhere(await stagesOf())).toBe(false);
    expect(await works(await currentKey())).toBe(true);
    expectNoSecretIn(subject.logger.text(), original, pending);
  });

  it('testSecret: the new key differs from the current one (read-only)', async () => {
    const subject = rig();
    subject.keys.faults.createAs = (request) => ({ ...request, readOnly: true });
    const report = await subject.rotate(3);
    await expectRolledBack(subject, report);
    expect(report.error).toMatch(/differs from the current one: readOnly true instead of false/);
  });

  it('testSecret: Bybit does not answer; the retry resumes and finishes with the same key', async () => {
    const subject = rig();
    const transient = new KeyAdminError('query-api failed: connect ECONNREFUSED', undefined);
    const real = subject.keys.describe.bind(subject.keys);
    let failed = false;
    subject.keys.describe = async (credentials) => {
      // The first authenticated read with the new key (testSecret's) gets no answer.
      if (!failed && credentials.apiKey !== original.apiKey) {
        failed = true;
        throw transient;
      }
      return real(credentials);
    };
    const report = await subject.rotate(2);
    expect(report).toMatchObject({ outcome: 'finished', attempts: 2 });
    expect(subject.keys.created).toHaveLength(1);
  });

  it('finishSecret: Secrets Manager cannot move AWSCURRENT; the old key stays current and working, and the retry finishes', async () => {
    const subject = rig();
    subject.secrets.fail('UpdateSecretVersionStageCommand', 1);
    const report = await subject.rotate(2);
    expect(report).toMatchObject({ outcome: 'finished', attempts: 2 });
    expect((await currentKey()).keyId).toBe(subject.keys.created[0]);
    expect(subject.logger.text()).toContain('the retry resumes from here');
  });
});

describe('a rotation left half-done', () => {
  it('blocks a new one and is finished by the next attempt, under its own token; then a second rotation runs clean', async () => {
    const subject = rig();
    subject.secrets.fail('UpdateSecretVersionStageCommand', 5);
    const first = await subject.rotate(2);
    expect(first.outcome).toBe('failed');
    // Half-done: the new key is stored as AWSPENDING, AWSCURRENT is still the old one, and it works.
    expect(pendingAnywhere(await stagesOf())).toBe(true);
    expect((await currentKey()).apiKey).toBe(original.apiKey);
    expect(await works(original)).toBe(true);

    subject.secrets.fail('UpdateSecretVersionStageCommand', 0);
    const resumed = await subject.rotate();
    expect(resumed.error).toBeUndefined();
    expect(resumed).toMatchObject({ outcome: 'finished', resumed: true, token: first.token });
    expect(subject.keys.created).toHaveLength(1);
    expect((await currentKey()).keyId).toBe(subject.keys.created[0]);

    const second = await subject.rotate();
    expect(second).toMatchObject({ outcome: 'finished', resumed: false });
    expect(second.token).not.toBe(first.token);
    expect(subject.keys.created).toHaveLength(2);
    expect((await currentKey()).keyId).toBe(subject.keys.created[1]);
  });

  it('whose pending key is gone is rolled back by the next attempt, and the rotation after it runs clean', async () => {
    const subject = rig();
    subject.secrets.fail('UpdateSecretVersionStageCommand', 2);
    const first = await subject.rotate(1);
    expect(first.outcome).toBe('failed');
    const pending = JSON.parse((await provisioned.clients.secrets.send(new GetSecretValueCommand({ SecretId: provisioned.stage.names.secrets.tradingKey, VersionId: first.token, VersionStage: 'AWSPENDING' }))).SecretString ?? '') as { apiKey: string };
    await venue.deleteSubAccountKey(master, pending.apiKey);

    subject.secrets.fail('UpdateSecretVersionStageCommand', 0);
    const retried = await subject.rotate();
    expect(retried).toMatchObject({ outcome: 'rolled-back', resumed: true, token: first.token });
    expect(retried.error).toMatch(/no longer exists at Bybit/);
    expect(pendingAnywhere(await stagesOf())).toBe(false);
    expect((await currentKey()).apiKey).toBe(original.apiKey);

    const next = await subject.rotate();
    expect(next).toMatchObject({ outcome: 'finished', resumed: false });
  });
});

describe('refusals', () => {
  it('rotates only the trading secret, only when rotation is on, only a pending version', async () => {
    const subject = rig();
    const token = 'a'.repeat(36);
    const otherSecret = await rejectionOf(subject.invoke({ Step: 'createSecret', SecretId: provisioned.stage.names.secrets.keyAdmin, ClientRequestToken: token }), RotationError);
    expect(otherSecret.message).toMatch(/rotates .*trading-key only, not .*key-admin/);
    const unknownVersion = await rejectionOf(subject.invoke({ Step: 'createSecret', SecretId: provisioned.stage.names.secrets.tradingKey, ClientRequestToken: token }), RotationError);
    expect(unknownVersion.message).toMatch(/has no staging label|rotation is not enabled/);
  });

  it('a revocation that cannot reach Bybit fails (the Lambda errors alarm), deleting nothing', async () => {
    const subject = rig();
    await subject.rotate();
    subject.keys.faults.list = [new KeyAdminError('sub-apikeys failed: connect ECONNREFUSED', undefined)];
    const error = await rejectionOf(subject.invoke({ action: 'revokeSuperseded', force: true }), KeyAdminError);
    expect(error.message).toMatch(/sub-apikeys failed/);
    expect(emfTotal(subject.takeMetrics(), 'RevocationFailures')).toBe(1);
    expect(await works(original)).toBe(true);
  });

  it('refuses a malformed event or action, naming what is wrong', async () => {
    const subject = rig();
    expect((await rejectionOf(subject.invoke({ Step: 'dropSecret', SecretId: 'x', ClientRequestToken: 'short' }), UnsupportedEventError)).message).toMatch(/Step: .*ClientRequestToken/s);
    expect((await rejectionOf(subject.invoke({ action: 'revokeEverything' }), UnsupportedEventError)).message).toMatch(/not a valid operator action/);
    expect((await rejectionOf(subject.invoke({ hello: 'world' }), UnsupportedEventError)).message).toMatch(/not an object with keys hello/);
    expect((await rejectionOf(subject.invoke('text'), UnsupportedEventError)).message).toMatch(/not string/);
  });

  it('a trading or key-admin secret that is not a Bybit key fails with a clear error, rolled back, and no value in it', async () => {
    const subject = rig();
    await putCurrent('{"apiKey":"not a key!","apiSecret":"s3cr3t-value"}');
    const report = await subject.rotate();
    expect(report.outcome).toBe('rolled-back');
    expect(report.error).toMatch(/AWSCURRENT.*is not a Bybit key: apiKey: must be 1 to 64 letters or digits/);
    expect(pendingAnywhere(await stagesOf())).toBe(false);

    await putCurrent(JSON.stringify(original));
    const admin = new SecretVersionsStore({ client: provisioned.clients.secrets, requestTimeoutMs: 5000 });
    await admin.putCurrent(provisioned.stage.names.secrets.keyAdmin, '{"apiKey":"SIMMASTERKEY0001","secret":"s3cr3t-value"}');
    try {
      const refused = await subject.rotate();
      expect(refused.outcome).toBe('rolled-back');
      expect(refused.error).toMatch(/the key-admin secret .* is not a Bybit key/);
      expect(subject.keys.created).toEqual([]);
    } finally {
      await admin.putCurrent(provisioned.stage.names.secrets.keyAdmin, JSON.stringify({ apiKey: MASTER.key, apiSecret: MASTER.secret, keyId: 'sim-master' }));
    }
    expect(JSON.stringify(report) + subject.logger.text()).not.toContain('s3cr3t-value');
    expect((await subject.rotate()).outcome).toBe('finished');
  });
});
