/**
 * The rotation's decisions on in-memory ports (the integration test runs the same code on the emulator and
 * the simulator): what a revocation keeps and why, what status shows when parts are broken, and how a
 * roll-back that cannot finish is reported.
 */
import { describe, expect, it } from '@jest/globals';
import { KeyAdminError, type KeyCredentials, type KeyDescription, type NewKeyRequest, type SubAccountKey } from '../../../src/adapters/bybit/key-admin.js';
import type { SecretVersions } from '../../../src/adapters/secrets/secret-versions.js';
import { type KeyAdmin, type RotationSecrets, RotationError, SecretRotation, keyDifferences, rotationNote } from '../../../src/control/secret-rotation.js';
import type { EngineHeartbeatV1 } from '../../../src/core/events.js';
import { handler, handlerFromEnvironment } from '../../../lambdas/secret-rotation.js';
import { rejectionOf } from '../../support/rejection.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const SECRET = 'mmrb/t/trading-key';
const ADMIN = 'mmrb/t/key-admin';
const TOKEN = '0123456789abcdef0123456789abcdef';

interface Version {
  stages: string[];
  value: string | undefined;
}

class MemorySecrets implements RotationSecrets {
  readonly versions = new Map<string, Map<string, Version>>();
  failRemove = false;
  put(secretId: string, versionId: string, stages: string[], value: string | undefined): void {
    const versions = this.versions.get(secretId) ?? new Map<string, Version>();
    versions.set(versionId, { stages, value });
    this.versions.set(secretId, versions);
  }
  describe(secretId: string): Promise<SecretVersions> {
    const versions = this.versions.get(secretId) ?? new Map<string, Version>();
    return Promise.resolve({
      arn: secretId,
      name: secretId,
      rotationEnabled: true,
      stagesByVersion: new Map([...versions].filter(([, version]) => version.stages.length > 0).map(([id, version]) => [id, version.stages])),
      lastChangedAt: NOW - 60 * 60_000,
    });
  }
  value(secretId: string, select: { stage: string; versionId?: string }): Promise<string | undefined> {
    const versions = [...(this.versions.get(secretId) ?? new Map<string, Version>())];
    const found = versions.find(([id, version]) => (select.versionId === undefined || id === select.versionId) && version.stages.includes(select.stage));
    return Promise.resolve(found?.[1].value);
  }
  putPending(): Promise<void> {
    return Promise.reject(new Error('not used here'));
  }
  moveCurrent(): Promise<void> {
    return Promise.reject(new Error('not used here'));
  }
  removeStage(secretId: string, stage: string, fromVersionId: string): Promise<void> {
    if (this.failRemove) return Promise.reject(new Error('InternalServiceError: unavailable'));
    const version = this.versions.get(secretId)?.get(fromVersionId);
    if (version) version.stages = version.stages.filter((label) => label !== stage);
    return Promise.resolve();
  }
}

interface VenueKey {
  readonly key: SubAccountKey;
  readonly uid: number;
  readonly isMaster: boolean;
}

class MemoryKeys implements KeyAdmin {
  readonly keys = new Map<string, VenueKey>();
  readonly deleted: string[] = [];
  refuseDelete = new Set<string>();
  add(apiKey: string, id: string, options: { note?: string; uid?: number; isMaster?: boolean; createdAt?: number } = {}): { apiKey: string; apiSecret: string; keyId: string } {
    const createdAt = new Date(options.createdAt ?? NOW - 60 * 60_000).toISOString();
    this.keys.set(apiKey, { key: { id, apiKey, note: options.note ?? '', readOnly: false, ips: ['10.0.0.1'], status: 'permanent', expiresAt: undefined, createdAt }, uid: options.uid ?? 7, isMaster: options.isMaster ?? false });
    return { apiKey, apiSecret: `${apiKey}-secret`, keyId: id };
  }
  describe(credentials: KeyCredentials): Promise<KeyDescription> {
    const found = this.keys.get(credentials.apiKey);
    if (!found) return Promise.reject(new KeyAdminError('query-api refused: 10003 API key is invalid.', 10003));
    return Promise.resolve({ id: found.key.id, note: found.key.note, apiKey: found.key.apiKey, readOnly: false, permissions: { ContractTrade: ['Order'] }, ips: found.key.ips, uid: found.uid, isMaster: found.isMaster, parentUid: found.isMaster ? undefined : 1, expiresAt: undefined });
  }
  createSubAccountKey(_master: KeyCredentials, _request: NewKeyRequest): Promise<never> {
    return Promise.reject(new Error('not used here'));
  }
  deleteSubAccountKey(_master: KeyCredentials, apiKey: string): Promise<void> {
    if (this.refuseDelete.has(apiKey)) return Promise.reject(new KeyAdminError('delete-sub-api refused: 10001 params error', 10001));
    this.keys.delete(apiKey);
    this.deleted.push(apiKey);
    return Promise.resolve();
  }
  listSubAccountKeys(_master: KeyCredentials, subUid: number): Promise<SubAccountKey[]> {
    return Promise.resolve([...this.keys.values()].filter((key) => key.uid === subUid).map((key) => key.key));
  }
}

function heartbeat(shard: string, sentAt: number, keyId: string | undefined, phase: EngineHeartbeatV1['phase'] = 'running'): EngineHeartbeatV1 {
  return { schemaVersion: 1, eventId: `heartbeat:${shard}:1:${sentAt.toString()}`, shard, epoch: 1, sentAt, phase, frozen: false, symbols: [], ...(keyId !== undefined && { keyId }) };
}

function setup(options: { heartbeats?: EngineHeartbeatV1[] } = {}) {
  const secrets = new MemorySecrets();
  const keys = new MemoryKeys();
  const master = keys.add('MASTERKEY', '1', { uid: 1, isMaster: true });
  secrets.put(ADMIN, 'admin-v1', ['AWSCURRENT'], JSON.stringify(master));
  const logs: string[] = [];
  const rotation = new SecretRotation({
    stage: 't',
    tradingSecretId: SECRET,
    keyAdminSecretId: ADMIN,
    secrets,
    keys,
    heartbeats: { read: () => Promise.resolve(new Map((options.heartbeats ?? []).map((beat) => [beat.shard, beat]))) },
    shards: ['a', 'b', 'c'],
    heartbeatStaleMs: 30_000,
    revokeAfterMs: 15 * 60_000,
    orphanMinAgeMs: 10 * 60_000,
    clock: () => NOW,
    logger: { debug: () => undefined, info: (message) => logs.push(message), warn: (message) => logs.push(message), error: (message) => logs.push(message) },
  });
  return { secrets, keys, rotation, logs };
}

describe('revokeSuperseded', () => {
  it('keeps the current and the pending key, and a rotation key younger than orphanMinAgeMs; revokes the previous key even without the rotation note', async () => {
    const { secrets, keys, rotation } = setup();
    const current = keys.add('CURRENT', '20', { note: rotationNote('t', 'b'.repeat(32)) });
    const pending = keys.add('PENDING', '21', { note: rotationNote('t', 'c'.repeat(32)) });
    // Made just now by hand, then replaced: no age rule for the key AWSPREVIOUS names.
    const previous = keys.add('BYHAND', '10', { note: 'made by hand', createdAt: NOW - 1_000 });
    keys.add('YOUNG', '22', { note: rotationNote('t', 'd'.repeat(32)), createdAt: NOW - 60_000 });
    keys.add('OTHERSTAGE', '23', { note: rotationNote('u', 'e'.repeat(32)) });
    keys.add('READER', '24', { note: 'monitoring' });
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(current));
    secrets.put(SECRET, 'v-pending', ['AWSPENDING'], JSON.stringify(pending));
    secrets.put(SECRET, 'v-previous', ['AWSPREVIOUS'], JSON.stringify(previous));
    const report = await rotation.revokeSuperseded();
    expect(report).toEqual({ revoked: ['10'], kept: ['22'], waitingFor: ['key 22 to be 600 s old (a rotation may be storing it)'], currentKeyId: '20' });
    expect([...keys.keys.keys()].sort()).toEqual(['CURRENT', 'MASTERKEY', 'OTHERSTAGE', 'PENDING', 'READER', 'YOUNG'].sort());
    // Forced, the young one goes too (an operator's "now").
    expect((await rotation.revokeSuperseded({ force: true })).revoked).toEqual(['22']);
  });

  it('waits for every live engine: stopped, stale and silent shards use no key; an engine that reports no key id is waited for', async () => {
    const { secrets, keys, rotation } = setup({
      heartbeats: [heartbeat('a', NOW - 1_000, undefined), heartbeat('b', NOW - 60_000, 'old'), heartbeat('c', NOW - 1_000, 'old', 'stopped')],
    });
    const current = keys.add('CURRENT', '20');
    const previous = keys.add('OLD', '10');
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(current));
    secrets.put(SECRET, 'v-previous', ['AWSPREVIOUS'], JSON.stringify(previous));
    const report = await rotation.revokeSuperseded();
    expect(report).toEqual({ revoked: [], kept: ['10'], waitingFor: ['shard a (on an unreported key)'], currentKeyId: '20' });
  });

  it('revokes what it can and fails naming the keys it could not', async () => {
    const { secrets, keys, rotation } = setup();
    const current = keys.add('CURRENT', '20');
    keys.add('OLDA', '10', { note: rotationNote('t', 'a'.repeat(32)) });
    keys.add('OLDB', '11', { note: rotationNote('t', 'b'.repeat(32)) });
    keys.refuseDelete.add('OLDB');
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(current));
    const error = await rejectionOf(rotation.revokeSuperseded(), RotationError);
    expect(error.message).toBe('could not revoke superseded key(s) 11: KeyAdminError: delete-sub-api refused: 10001 params error (revoked: 10)');
  });

  it('refuses without a current version, and names a current value that is not JSON without quoting it', async () => {
    const { secrets, rotation } = setup();
    expect((await rejectionOf(rotation.revokeSuperseded(), RotationError)).message).toMatch(/has no AWSCURRENT version/);
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], 'apiKey=SECRETVALUE');
    const error = await rejectionOf(rotation.revokeSuperseded(), RotationError);
    expect(error.message).toBe('version v-current (AWSCURRENT) of the trading secret is not JSON');
  });
});

describe('status', () => {
  it('shows a version that does not parse, one without a value, and why the venue could not be asked', async () => {
    const { secrets, keys, rotation } = setup({ heartbeats: [heartbeat('a', NOW - 1_000, '20'), heartbeat('b', NOW - 60_000, '10')] });
    const dead = { apiKey: 'DEAD', apiSecret: 'dead-secret', keyId: '9' };
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(dead));
    secrets.put(SECRET, 'v-broken', ['AWSPREVIOUS'], '{"apiKey": 5}');
    secrets.put(SECRET, 'v-placeholder', ['AWSPENDING'], undefined);
    keys.add('OTHER', '30');
    const status = await rotation.status();
    expect(status.versions).toEqual([
      { versionId: 'v-current', stages: ['AWSCURRENT'], keyId: '9' },
      { versionId: 'v-broken', stages: ['AWSPREVIOUS'], problem: expect.stringMatching(/^RotationError: version v-broken \(AWSPREVIOUS\) of the trading secret is not a Bybit key: apiKey/) },
      { versionId: 'v-placeholder', stages: ['AWSPENDING'], problem: 'no value' },
    ]);
    expect(status.engines).toEqual([
      { shard: 'a', state: 'running', keyId: '20', heartbeatAgeMs: 1_000 },
      { shard: 'b', state: 'stale', keyId: '10', heartbeatAgeMs: 60_000 },
      { shard: 'c', state: 'no heartbeat' },
    ]);
    expect(status.subAccountKeys).toEqual([]);
    expect(status.venueProblem).toMatch(/10003 API key is invalid/);
    expect(JSON.stringify(status)).not.toContain('dead-secret');
  });
});

describe('the current key', () => {
  it('is refused by Bybit: a person must act (break-glass), nothing is created, and the roll-back finds the account with the pending key', async () => {
    const { secrets, keys, rotation } = setup();
    const pending = keys.add('PENDING', '21', { note: rotationNote('t', TOKEN) });
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify({ apiKey: 'GONE', apiSecret: 'gone-secret', keyId: '9' }));
    secrets.put(SECRET, TOKEN, ['AWSPENDING'], JSON.stringify(pending));
    const error = await rejectionOf(rotation.step({ Step: 'setSecret', SecretId: SECRET, ClientRequestToken: TOKEN }), RotationError);
    expect(error.message).toMatch(/the current key 9 is refused by Bybit .*break-glass.*rolled back: the new key was deleted/);
    expect(error.rolledBack).toBe(true);
    expect(keys.deleted).toEqual(['PENDING']);
  });

  it('of a master account is never rotated', async () => {
    const { secrets, keys, rotation } = setup();
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(keys.add('MASTER2', '2', { uid: 1, isMaster: true })));
    secrets.put(SECRET, TOKEN, ['AWSPENDING'], undefined);
    const error = await rejectionOf(rotation.step({ Step: 'createSecret', SecretId: SECRET, ClientRequestToken: TOKEN }), RotationError);
    expect(error.message).toMatch(/is a master account's key; only a sub-account's trading key is rotated/);
  });
});

describe('a roll-back that cannot finish', () => {
  it('reports that AWSPENDING is still on when it cannot be taken off (not rolled back: the retry does it)', async () => {
    const { secrets, keys, rotation } = setup();
    const current = keys.add('CURRENT', '20');
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(current));
    secrets.put(SECRET, TOKEN, ['AWSPENDING'], JSON.stringify({ apiKey: 'NOTAKEY', apiSecret: 'x', keyId: '99' }));
    secrets.failRemove = true;
    const error = await rejectionOf(rotation.step({ Step: 'testSecret', SecretId: SECRET, ClientRequestToken: TOKEN }), RotationError);
    expect(error.rolledBack).toBe(false);
    expect(error.message).toMatch(/testSecret: KeyAdminError: query-api refused: 10003.*the roll-back failed too \(Error: InternalServiceError: unavailable\)/);
  });

  it('takes AWSPENDING off even when the new key cannot be deleted now, and says the key is left for revokeSuperseded', async () => {
    const { secrets, keys, rotation } = setup();
    const current = keys.add('CURRENT', '20');
    const pending = keys.add('PENDING', '21', { note: rotationNote('t', TOKEN) });
    keys.refuseDelete.add('PENDING');
    secrets.put(SECRET, 'v-current', ['AWSCURRENT'], JSON.stringify(current));
    secrets.put(SECRET, TOKEN, ['AWSPENDING'], JSON.stringify({ ...pending, apiSecret: 'wrong' }));
    // The pending key is listed but not what the secret says: the describe with the stored secret is a bad signature.
    keys.describe = ((real) => (credentials: KeyCredentials) => (credentials.apiSecret === 'wrong' ? Promise.reject(new KeyAdminError('query-api refused: 10004 Error sign', 10004)) : real(credentials)))(keys.describe.bind(keys));
    const error = await rejectionOf(rotation.step({ Step: 'testSecret', SecretId: SECRET, ClientRequestToken: TOKEN }), RotationError);
    expect(error.rolledBack).toBe(true);
    expect(error.message).toMatch(/AWSPENDING removed; the new key, if any, is left for revokeSuperseded: KeyAdminError: delete-sub-api refused: 10001/);
    expect(secrets.versions.get(SECRET)?.get(TOKEN)?.stages).toEqual([]);
  });
});

describe('keyDifferences', () => {
  const base: KeyDescription = { id: '1', note: '', apiKey: 'A', readOnly: false, permissions: { ContractTrade: ['Order', 'Position'] }, ips: ['1.1.1.1', '2.2.2.2'], uid: 7, isMaster: false, parentUid: 1, expiresAt: undefined };
  it('ignores order; names every difference that matters', () => {
    expect(keyDifferences(base, { ...base, id: '2', apiKey: 'B', permissions: { ContractTrade: ['Position', 'Order'] }, ips: ['2.2.2.2', '1.1.1.1'] })).toEqual([]);
    expect(keyDifferences(base, { ...base, uid: 8, isMaster: true, permissions: { ContractTrade: ['Order'] }, ips: ['*'] })).toEqual([
      'account 8 instead of 7',
      'a master key',
      'grants ContractTrade:Order instead of ContractTrade:Order+Position',
      'IPs * instead of 1.1.1.1,2.2.2.2',
    ]);
  });
});

describe('the Lambda entry point', () => {
  it('needs its settings from the environment', () => {
    expect(() => handlerFromEnvironment({})).toThrow('MMRB_CONTROL_SETTINGS is not set');
    const settings = { stage: 't', shards: { a: ['BTCUSDT'] }, venue: { restUrl: 'http://127.0.0.1:1', credentialsSecretId: SECRET }, risk: { limits: {} } };
    expect(typeof handlerFromEnvironment({ MMRB_CONTROL_SETTINGS: JSON.stringify(settings), AWS_REGION: 'ap-southeast-1' })).toBe('function');
    expect(typeof handlerFromEnvironment({ MMRB_CONTROL_SETTINGS: JSON.stringify(settings) })).toBe('function');
    const previous = process.env.MMRB_CONTROL_SETTINGS;
    delete process.env.MMRB_CONTROL_SETTINGS;
    try {
      expect(() => handler({}, {} as never)).toThrow('MMRB_CONTROL_SETTINGS is not set');
    } finally {
      if (previous !== undefined) process.env.MMRB_CONTROL_SETTINGS = previous;
    }
  });
});
