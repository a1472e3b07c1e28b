/**
 * The trading key swapped while the engine trades (src/app/key-swap.ts), on the simulator and the AWS
 * emulator: a second key of the same sub-account is created with the master key, as the rotation does, and
 * stored as AWSCURRENT.
 *   - Scheduled: the engine reads the secret every credentialsCacheTtlMs, swaps to the new key without a
 *     restart, a cancel-all or a quote pulled, reports the new keyId (heartbeat, status), and from then on
 *     uses the new key only: the old one is deleted at the venue and nothing notices.
 *   - Emergency: the old key is deleted before the scheduled read; the venue refuses it, the engine reads
 *     the secret at once, swaps, and trades on, same process, same epoch.
 *   - A bad key in the secret: the swap fails, the old clients stay in use, a clear error without any
 *     secret is logged, and the next read tries again (and succeeds once the secret holds a good key).
 * The simulator tells which key each request used: every authentication goes through its key store, whose
 * lookups the tests record (key, outcome); a refused key shows there as an unknown key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { RestClientV5 } from 'bybit-api';
import { DynamoHeartbeatStore } from '../../src/adapters/dynamodb/heartbeat-store.js';
import { BybitKeyAdmin, type KeyCredentials } from '../../src/adapters/bybit/key-admin.js';
import { type CredentialsSource, type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { KeySwapError } from '../../src/app/key-swap.js';
import { rejectionOf } from '../support/rejection.js';
import type { EngineConfig } from '../../src/config/config.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { lots } from '../../src/core/units.js';
import { useProvisionedStage } from '../support/aws.js';
import { eventually, testConfig } from '../support/engine.js';
import { MASTER, READ_ONLY, TRADER } from '../support/sim.js';
import { isMarketBlocker, LOST_ANSWER } from '../support/quoting-gaps.js';

const aws = useProvisionedStage();
const MASTER_KEY: KeyCredentials = { apiKey: MASTER.key, apiSecret: MASTER.secret };
const OLD_KEY: KeyCredentials = { apiKey: TRADER.key, apiSecret: TRADER.secret };
/** A key the venue has never issued, in a secret of the right shape. */
const BOGUS = { apiKey: 'NOSUCHKEY00000001', apiSecret: 'bogus-Secret-Value-k3J9q', keyId: 'bogus-key' };

let sim: Simulator;
let engine: EngineProcess | undefined;
let stopSampling: (() => void) | undefined;
const logs: string[] = [];

/** Every REST client's cancel-all, old key's and new key's alike: the engine must send none. */
const spyOnCancelAll = () => jest.spyOn(RestClientV5.prototype, 'cancelAllOrders');
let cancelAll: ReturnType<typeof spyOnCancelAll>;

beforeAll(() => {
  cancelAll = spyOnCancelAll();
});

afterEach(async () => {
  stopSampling?.();
  await engine?.stop('test over');
  engine = undefined;
  // The venue sees the engine's sockets close before it closes: a disconnect-cancel timer it would arm after closing would keep Jest waiting.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await sim.close();
  cancelAll.mockClear();
});

afterAll(() => {
  jest.restoreAllMocks();
});

/** Every key lookup of the venue (one per signed REST request, trade op, socket auth and private push). */
interface KeyUse {
  readonly apiKey: string;
  readonly status: string;
  readonly at: number;
}

async function startVenue(seed: number): Promise<{ uses: KeyUse[]; admin: BybitKeyAdmin }> {
  sim = await startSimulator({ seed, market: { autoStart: true } });
  const uses: KeyUse[] = [];
  const lookup = sim.keys.lookup.bind(sim.keys);
  sim.keys.lookup = (apiKey, now) => {
    const found = lookup(apiKey, now);
    uses.push({ apiKey, status: found.status, at: Date.now() });
    return found;
  };
  return { uses, admin: new BybitKeyAdmin({ restUrl: sim.restUrl, recvWindowMs: 5_000 }) };
}

let secrets = 0;
async function newSecret(value: unknown): Promise<string> {
  secrets += 1;
  const name = `${aws.stage.names.secrets.tradingKey}-swap-${secrets.toString()}`;
  await aws.clients.secrets.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
  return name;
}

async function putSecret(secretId: string, value: unknown): Promise<void> {
  await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(value) }));
}

/** A second key of the trader's sub-account with the same grants, as the rotation creates it. */
async function secondKey(admin: BybitKeyAdmin): Promise<{ apiKey: string; apiSecret: string; keyId: string }> {
  const current = await admin.describe(OLD_KEY);
  const created = await admin.createSubAccountKey(MASTER_KEY, { subUid: current.uid, readOnly: false, permissions: current.permissions, ips: current.ips, note: 'key swap test' });
  return { apiKey: created.apiKey, apiSecret: created.apiSecret, keyId: created.id };
}

/**
 * The secret source the engine uses, with its refreshes (the venue refused the key) counted; `failGets`
 * makes that many scheduled reads fail, as a source other than the caching provider might.
 */
function countedCredentials(config: EngineConfig, failGets = 0): { source: CredentialsSource; refreshes: string[] } {
  const inner = secretsManagerCredentials(config, aws.clients.secrets);
  const refreshes: string[] = [];
  let gets = 0;
  return {
    refreshes,
    source: {
      get: () => {
        gets += 1;
        // The first read is the start's.
        if (gets > 1 && gets <= 1 + failGets) return Promise.reject(new Error('Secrets Manager unreachable'));
        return inner.get();
      },
      refresh: (reason) => {
        refreshes.push(reason);
        return inner.refresh(reason);
      },
      secretValues: () => inner.secretValues(),
    },
  };
}

/** Where the log stood when sampling began: reconciliation after it would mean the swap made the engine doubt its state. */
let logsAtSampling = 0;

interface Sample {
  readonly at: number;
  readonly phase: string;
  readonly synced: boolean;
  /** Why a symbol may not quote, if any may not: what pulls quotes (unsynced, unreconciled, frozen) shows here. */
  readonly blockers: readonly string[];
}

/**
 * The engine's status every 50 ms, until stopped: whether it kept quoting the whole time. (Its count of
 * open orders is no measure: in a moving market a level is often between a cancel and its replacement.)
 */
function sample(running: EngineProcess): Sample[] {
  const samples: Sample[] = [];
  logsAtSampling = logs.length;
  const timer = setInterval(() => {
    const status = running.engine.status();
    samples.push({ at: Date.now(), phase: status.phase, synced: status.privateStreamSynced, blockers: status.symbols.flatMap((symbol) => symbol.blockers.map((blocker) => `${symbol.symbol}: ${blocker}`)) });
  }, 50);
  stopSampling = () => {
    clearInterval(timer);
  };
  return samples;
}

async function quoting(running: EngineProcess): Promise<void> {
  await eventually('ready', () => (running.engine.ready().ready ? true : undefined));
  await eventually('quotes on both symbols', () => (running.engine.status().symbols.every((symbol) => symbol.openOrders > 0) ? true : undefined));
}

/** Takes the engine's best bid on BTCUSDT with the venue's flow account; resolves once the engine has every fill of the account. */
async function fillOurBid(running: EngineProcess): Promise<void> {
  const fills = () => sim.exchange.executions('mm').filter((execution) => execution.symbol === 'BTCUSDT').length;
  const before = fills();
  await eventually('a fill of our bid', () => {
    const bids = sim.exchange.openOrders('mm', 'BTCUSDT').filter((order) => order.side === 'Buy');
    const best = bids.sort((a, b) => b.priceTicks - a.priceTicks)[0];
    if (best) sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(best.leavesLots * 50), priceTicks: best.priceTicks });
    return fills() > before ? true : undefined;
  }, 10_000);
  // Seen by the engine, and every other fill of the account too (the venue's takers', around the swap included).
  const seen = (symbol: string) => running.engine.tracker.position(symbol).tradeCount === sim.exchange.executions('mm').filter((execution) => execution.symbol === symbol).length;
  await eventually('the engine has every fill', () => (seen('BTCUSDT') && seen('ETHUSDT') ? true : undefined), 5_000);
}

/** Venue refusals of the key (invalid, bad signature, not authorised, expired), as the engine counted them. */
const keyRefusals = (running: EngineProcess) => Object.keys(running.engine.status().counters.venueRejections).filter((code) => ['10003', '10004', '10005', '33004'].includes(code));

const createsSent = (running: EngineProcess) => running.engine.status().counters.sent.create + running.engine.status().counters.sent.amend;

/** What must hold whatever the case: quotes never pulled, no answer lost, no cancel-all, no DCP cancel, no secret logged. */
function expectUndisturbed(samples: readonly Sample[], secretsNotToLog: readonly string[]): void {
  expect(samples.length).toBeGreaterThan(10);
  const gaps = samples.filter((entry) => !entry.synced || entry.phase !== 'running' || entry.blockers.some((blocker) => !isMarketBlocker(blocker)));
  expect(gaps).toEqual([]);
  expect(logs.filter((line) => line.includes(LOST_ANSWER))).toEqual([]);
  expect(logs.slice(logsAtSampling).filter((line) => line.includes('reconciled with the venue'))).toEqual([]);
  expect(cancelAll).not.toHaveBeenCalled();
  expect(sim.exchange.closedOrders('mm').filter((order) => order.cancelType === 'CancelByDCP')).toEqual([]);
  expect(logs.filter((line) => line.includes('unsynced') || line.includes('cancelled everything'))).toEqual([]);
  const joined = logs.join('\n');
  for (const secret of secretsNotToLog) expect(joined).not.toContain(secret);
}

describe('trading-key swap', () => {
  it('picks up a rotated key on schedule without dropping a quote, reports it, and then uses it alone', async () => {
    const { uses, admin } = await startVenue(41);
    logs.length = 0;
    const oldId = (await admin.describe(OLD_KEY)).id;
    const secretId = await newSecret({ ...OLD_KEY, keyId: oldId });
    const shard = 'swp';
    const config = testConfig(sim, secretId, shard, {
      venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10, credentialsCacheTtlMs: 1_000 },
      stage: aws.stage.names.stage,
      persistence: { enabled: true, flushIntervalMs: 50 },
      control: { pollIntervalMs: 60_000, heartbeatIntervalMs: 500 },
    });
    const { source, refreshes } = countedCredentials(config);
    engine = await startEngineProcess({ config, credentials: source, aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge }, logSink: (line) => logs.push(line) });
    const running = engine;
    const heartbeats = new DynamoHeartbeatStore({ client: aws.clients.dynamodb, table: aws.stage.names.tables.control, requestTimeoutMs: 5_000 });
    const heartbeatKeyId = async () => (await heartbeats.read([shard])).get(shard)?.keyId;
    await quoting(running);
    expect(running.keyId()).toBe(oldId);
    await eventually('a heartbeat naming the key', async () => ((await heartbeatKeyId()) === oldId ? true : undefined));
    const samples = sample(running);
    await new Promise((resolve) => setTimeout(resolve, 500));

    // The rotation: a new key of the same sub-account, promoted to AWSCURRENT.
    const fresh = await secondKey(admin);
    await putSecret(secretId, fresh);
    const storedAt = Date.now();
    await eventually('the new key in use', () => (running.keyId() === fresh.keyId ? true : undefined), 10_000);
    const swappedAt = Date.now();
    // Within a few TTLs of the secret changing.
    expect(swappedAt - storedAt).toBeLessThan(5_000);
    await eventually('the heartbeat names the new key', async () => ((await heartbeatKeyId()) === fresh.keyId ? true : undefined), 5_000);
    const status = (await (await fetch(`${running.healthUrl}/status`)).json()) as { keyId?: string };
    expect(status.keyId).toBe(fresh.keyId);
    expect(logs.filter((line) => line.includes('credentials swapped'))).toHaveLength(1);

    // From the swap on, only the new key is used, for orders too.
    const sentAtSwap = createsSent(running);
    await eventually('orders sent on the new key', () => (createsSent(running) > sentAtSwap + 4 ? true : undefined), 15_000);
    expect(uses.filter((use) => use.apiKey === OLD_KEY.apiKey && use.at > swappedAt + 500)).toEqual([]);
    expect(uses.filter((use) => use.apiKey === fresh.apiKey && use.at > swappedAt).length).toBeGreaterThan(0);

    // The rotation revokes the old key: nothing notices.
    await admin.deleteSubAccountKey(MASTER_KEY, OLD_KEY.apiKey);
    const revokedAt = Date.now();
    const sentAtRevoke = createsSent(running);
    await eventually('orders sent after the revoke', () => (createsSent(running) > sentAtRevoke + 4 ? true : undefined), 15_000);
    const acceptedSince = [...sim.exchange.openOrders('mm'), ...sim.exchange.closedOrders('mm')].filter((order) => order.createdTime > revokedAt && order.orderLinkId.startsWith(`${shard}-`));
    expect(acceptedSince.length).toBeGreaterThan(0);
    stopSampling?.();
    // A fill after the swap reaches the engine (the test's sweep races the engine's amends, so it comes
    // after the sampling: the engine then holds the symbol back until it knows the order's state).
    await fillOurBid(running);

    // Not one request was refused for its key, before or after the swap.
    expect(uses.filter((use) => use.status !== 'ok' && use.apiKey !== MASTER.key)).toEqual([]);
    expect(refreshes).toEqual([]);
    expect(keyRefusals(running)).toEqual([]);
    expect(samples.some((entry) => entry.at < storedAt)).toBe(true);
    expect(samples.some((entry) => entry.at > revokedAt)).toBe(true);
    expectUndisturbed(samples, [OLD_KEY.apiKey, OLD_KEY.apiSecret, fresh.apiKey, fresh.apiSecret]);

    const report = await running.stop('test over');
    engine = undefined;
    expect(report.clean).toBe(true);
    expect(await heartbeatKeyId()).toBe(fresh.keyId);
  }, 90_000);

  it('swaps at once when the venue refuses a revoked key before the scheduled read, and trades on in the same process', async () => {
    const { uses, admin } = await startVenue(42);
    logs.length = 0;
    const oldId = (await admin.describe(OLD_KEY)).id;
    const secretId = await newSecret({ ...OLD_KEY, keyId: oldId });
    // The scheduled read is a minute away: only the venue's refusal can bring the new key in.
    const config = testConfig(sim, secretId, 'emg', { venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10, credentialsCacheTtlMs: 60_000 } });
    const { source, refreshes } = countedCredentials(config);
    engine = await startEngineProcess({ config, credentials: source, logSink: (line) => logs.push(line) });
    const running = engine;
    const epoch = running.epoch;
    await quoting(running);
    const samples = sample(running);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const fresh = await secondKey(admin);
    await putSecret(secretId, fresh);
    await admin.deleteSubAccountKey(MASTER_KEY, OLD_KEY.apiKey);
    const revokedAt = Date.now();
    await eventually('the new key in use', () => (running.keyId() === fresh.keyId ? true : undefined), 15_000);
    const swappedAt = Date.now();
    expect(refreshes.length).toBeGreaterThan(0);
    // The venue did refuse the old key: that is what brought the new one in.
    expect(uses.some((use) => use.apiKey === OLD_KEY.apiKey && use.status !== 'ok' && use.at >= revokedAt)).toBe(true);

    const sent = createsSent(running);
    await eventually('orders sent on the new key', () => (createsSent(running) > sent + 4 ? true : undefined), 15_000);
    stopSampling?.();
    await fillOurBid(running);
    expect(uses.filter((use) => use.apiKey === OLD_KEY.apiKey && use.at > swappedAt + 500)).toEqual([]);
    expect(running.epoch).toBe(epoch);
    expect(running.engine.status().phase).toBe('running');
    expectUndisturbed(samples, [OLD_KEY.apiKey, OLD_KEY.apiSecret, fresh.apiKey, fresh.apiSecret]);
    expect((await running.stop('test over')).clean).toBe(true);
    engine = undefined;
  }, 90_000);

  it('keeps trading on the key in use when the new one is refused, says why without a secret, and swaps once a good one is stored', async () => {
    const { uses, admin } = await startVenue(43);
    logs.length = 0;
    const oldId = (await admin.describe(OLD_KEY)).id;
    const secretId = await newSecret({ ...OLD_KEY, keyId: oldId });
    const config = testConfig(sim, secretId, 'bad', { venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10, credentialsCacheTtlMs: 1_000 } });
    const { source } = countedCredentials(config, 1);
    engine = await startEngineProcess({ config, credentials: source, logSink: (line) => logs.push(line) });
    const running = engine;
    await quoting(running);
    const samples = sample(running);

    // A read that fails changes nothing: the key in use stays, and the next read comes as scheduled.
    await eventually('a failed read', () => (logs.some((line) => line.includes('reading the trading key failed; trading on the key in use') && line.includes('Secrets Manager unreachable')) ? true : undefined), 5_000);
    await putSecret(secretId, BOGUS);
    const failures = () => logs.filter((line) => line.includes('credentials swap failed'));
    // Tried again at every read: at least twice.
    await eventually('the swap failing, twice', () => (failures().length >= 2 ? true : undefined), 10_000);
    expect(failures()[0]).toContain('"level":"ERROR"');
    expect(failures()[0]).toContain('"keyId":"bogus-key"');
    expect(failures()[0]).toContain(`"keyInUse":"${oldId}"`);
    expect(failures()[0]).toContain('the venue refused the new key: 10003');
    expect(running.keyId()).toBe(oldId);
    const sent = createsSent(running);
    await eventually('orders sent on the old key', () => (createsSent(running) > sent + 4 ? true : undefined), 15_000);
    expect(uses.filter((use) => use.apiKey === OLD_KEY.apiKey && use.at > Date.now() - 2_000).length).toBeGreaterThan(0);

    // A key the venue accepts but that may not trade is refused as well.
    await putSecret(secretId, { apiKey: READ_ONLY.key, apiSecret: READ_ONLY.secret, keyId: 'read-only' });
    await eventually('the read-only key refused', () => (logs.some((line) => line.includes('the new key is read-only')) ? true : undefined), 10_000);
    expect(running.keyId()).toBe(oldId);

    // So is a key of another account (the master's, pasted by mistake): its orders would land there.
    await putSecret(secretId, { apiKey: MASTER.key, apiSecret: MASTER.secret, keyId: 'master' });
    await eventually('the master key refused', () => (logs.some((line) => /the new key is of account \d+, not of account \d+, which this engine trades/.test(line)) ? true : undefined), 10_000);
    expect(running.keyId()).toBe(oldId);

    // A good key next: the next read swaps to it.
    const fresh = await secondKey(admin);
    await putSecret(secretId, fresh);
    await eventually('the good key in use', () => (running.keyId() === fresh.keyId ? true : undefined), 10_000);
    stopSampling?.();
    await fillOurBid(running);
    expect(keyRefusals(running)).toEqual([]);
    expectUndisturbed(samples, [OLD_KEY.apiKey, OLD_KEY.apiSecret, BOGUS.apiKey, BOGUS.apiSecret, READ_ONLY.key, READ_ONLY.secret, MASTER.key, MASTER.secret, fresh.apiKey, fresh.apiSecret]);
    expect((await running.stop('test over')).clean).toBe(true);
    engine = undefined;
  }, 90_000);

  it('refuses to start on a key that may not trade, saying which, and gives the lease up at once: a start with a good key follows without waiting', async () => {
    await startVenue(45);
    logs.length = 0;
    const secretId = await newSecret({ apiKey: READ_ONLY.key, apiSecret: READ_ONLY.secret, keyId: 'read-only' });
    // With the shard's lease (a minute long here, so that only a release lets the next start in soon).
    const config = testConfig(sim, secretId, 'ro', {
      stage: aws.stage.names.stage,
      venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10 },
      persistence: { enabled: true },
      lease: { ttlMs: 60_000, renewIntervalMs: 10_000 },
    });
    // No control queue for this shard: the control state is polled (the lease is what this case is about).
    const clients = { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge };
    const refused = await rejectionOf(startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), aws: clients, logSink: (line) => logs.push(line) }), KeySwapError);
    expect(refused.message).toBe('the trading key is read-only');
    expect(logs.some((line) => line.includes('lease released'))).toBe(true);
    const joined = logs.join('\n');
    for (const value of [READ_ONLY.key, READ_ONLY.secret]) expect(joined).not.toContain(value);

    await putSecret(secretId, { ...OLD_KEY, keyId: 'trader' });
    // A start that fails further on (the shard has no control queue) gives everything up as well: nothing keeps running.
    const noQueue = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), aws: { ...clients, sqs: aws.clients.sqs }, logSink: (line) => logs.push(line) }).then(
      () => new Error('started without its control queue'),
      (error: unknown) => error,
    );
    expect(noQueue).toHaveProperty('name', 'QueueDoesNotExist');
    expect(logs.filter((line) => line.includes('lease released'))).toHaveLength(2);
    const logsBefore = logs.length;
    engine = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), aws: clients, logSink: (line) => logs.push(line) });
    // Taken at once, never waited for as a standby.
    expect(logs.slice(logsBefore).filter((line) => line.includes('standby'))).toEqual([]);
    expect(logs.slice(logsBefore).some((line) => line.includes('lease taken'))).toBe(true);
    await quoting(engine);
  }, 60_000);

  it('break-glass: with the key in use revoked and no other stored, says so, and swaps on the first refusal after a good key is stored', async () => {
    const { admin } = await startVenue(44);
    logs.length = 0;
    const oldId = (await admin.describe(OLD_KEY)).id;
    const secretId = await newSecret({ ...OLD_KEY, keyId: oldId });
    const config = testConfig(sim, secretId, 'brk', { venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10, credentialsCacheTtlMs: 60_000 } });
    const { source, refreshes } = countedCredentials(config);
    engine = await startEngineProcess({ config, credentials: source, logSink: (line) => logs.push(line) });
    const running = engine;
    const epoch = running.epoch;
    await quoting(running);

    // The key dies with nothing to replace it: the engine says so on every refusal, and keeps its key.
    const fresh = await secondKey(admin);
    await admin.deleteSubAccountKey(MASTER_KEY, OLD_KEY.apiKey);
    const noOther = () => logs.filter((line) => line.includes('the venue refused the trading key, and Secrets Manager serves no other'));
    await eventually('the refusal seen, with no other key', () => (noOther().length > 0 ? true : undefined), 10_000);
    expect(noOther()[0]).toContain(`"keyId":"${oldId}"`);
    expect(running.keyId()).toBe(oldId);

    // An operator stores a key made by hand: the next refusal brings it in (the scheduled read is a minute away).
    await putSecret(secretId, fresh);
    await eventually('the stored key in use', () => (running.keyId() === fresh.keyId ? true : undefined), 15_000);
    expect(refreshes.length).toBeGreaterThan(0);
    await eventually('quoting again', () => (running.engine.status().symbols.every((symbol) => symbol.quoting && symbol.openOrders > 0) ? true : undefined), 15_000);
    await fillOurBid(running);
    expect(running.epoch).toBe(epoch);
    expect(logs.join('\n')).not.toContain(OLD_KEY.apiSecret);
    expect(logs.join('\n')).not.toContain(fresh.apiSecret);
    expect((await running.stop('test over')).clean).toBe(true);
    engine = undefined;
  }, 90_000);
});
