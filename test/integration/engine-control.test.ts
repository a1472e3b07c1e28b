/**
 * The engine under the control plane, on the simulator and the emulator: freezes reach it through the bus,
 * its control queue and the control state; it cancels everything and stops quoting, keeps its streams, and
 * on unfreeze reconciles, then quotes again; an engine that starts frozen stays frozen; a malformed control
 * message changes nothing and is left for the dead-letter queue. And the single-writer lease: two engine
 * processes on one shard, only one generation ever has live orders, including across a lease expiry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { RestClientV5 } from 'bybit-api';
import { DynamoControlStore } from '../../src/adapters/dynamodb/control-store.js';
import { DynamoHeartbeatStore } from '../../src/adapters/dynamodb/heartbeat-store.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge/publisher.js';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { type ControlChange, type FreezeRequest, controlEvent, decideFreeze, decideUnfreeze } from '../../src/core/control.js';
import { EVENT_SOURCES } from '../../src/core/events.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type EngineChild, eventually, killHoldingOrders, spawnEngine, storeTraderKey, testConfig, testConfigDocument, venueOpenOrders, venueOrderHistory } from '../support/engine.js';
import { DEFAULT_KEYS } from '../../sim/simulator.js';
import { buildRiskEvaluator } from '../../lambdas/risk-evaluator.js';
import { ControlSettingsSchema } from '../../src/control/settings.js';
import { TRADER } from '../support/sim.js';

const SHARD = 'ctl';
const PAIR = 'pair';
const WATCHED = 'dog';
const aws = useProvisionedStage([SHARD, PAIR, WATCHED]);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const OPERATOR = 'arn:aws:iam::123456789012:user/operator';
let sim: Simulator;
let rest: RestClientV5;
const running: EngineProcess[] = [];
const spawned: EngineChild[] = [];
const logs: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 23, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
});

// Each test's engines stop after it, pass or fail: the next test's engine needs the shard's lease.
afterEach(async () => {
  for (const engine of running.splice(0)) await engine.stop('test over');
  for (const { child } of spawned.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** An engine process, killed after its test whatever happened. */
function spawnTracked(document: Record<string, unknown>): EngineChild {
  const started = spawnEngine(sim, document);
  spawned.push(started);
  return started;
}

afterAll(async () => {
  await sim.close();
});

const settings = (shard: string) => ({
  stage: aws.stage.names.stage,
  persistence: { enabled: true, flushIntervalMs: 50 },
  // Short, for the takeover test, yet with room for a loaded machine's slow renewals.
  lease: { ttlMs: 6_000, renewIntervalMs: 1_000, standbyRetryMs: 100 },
  control: { queueWaitSeconds: 20, pollIntervalMs: 60_000, heartbeatIntervalMs: 1_000 },
  ...(shard === PAIR && {}),
});

const store = () => new DynamoControlStore({ client: aws.clients.dynamodb, tables: aws.stage.names.tables, requestTimeoutMs: 5_000 });
const publisher = () => new EventBridgePublisher({ client: aws.clients.eventBridge, eventBusName: aws.stage.names.eventBus, requestTimeoutMs: 5_000, source: EVENT_SOURCES.freezeApi });

/** What the freeze API does: the change committed with its audit record, then its event on the bus. */
async function commitAndPublish(decide: (state: Awaited<ReturnType<DynamoControlStore['read']>>) => ReturnType<typeof decideFreeze>): Promise<ControlChange> {
  const decision = decide(await store().read());
  if (decision.kind !== 'change') throw new Error(`no change: ${decision.why}`);
  const committed = await store().commit(decision.change);
  if (!committed.ok) throw new Error('the commit conflicted');
  const event = controlEvent(decision.change);
  expect(await publisher().publish([{ detailType: event.detailType, detail: event.detail, time: decision.change.at }])).toEqual([]);
  return decision.change;
}

const freeze = (request: Partial<FreezeRequest> = {}) =>
  commitAndPublish((state) => decideFreeze(state, { mode: 'hard', symbols: [], reason: { code: 'manual', message: 'test freeze' }, actor: OPERATOR, ...request }, Date.now()));
const unfreeze = () => commitAndPublish((state) => decideUnfreeze(state, { version: state.version, reason: 'test over', actor: OPERATOR }, Date.now()));

/** The trader's open orders as the simulator's matching engine holds them, read in process (no rate limit). */
function openInExchange(prefix: string): string[] {
  const accountId = DEFAULT_KEYS.find((spec) => spec.apiKey === TRADER.key)?.accountId ?? '';
  return sim.exchange.openOrders(accountId).map((order) => order.orderLinkId).filter((id) => id.startsWith(prefix));
}

async function openAtVenue(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const symbol of SYMBOLS) for (const order of await venueOpenOrders(rest, symbol)) if (order.orderLinkId.startsWith(prefix)) ids.push(order.orderLinkId);
  return ids;
}

/** Waits until the engine has orders live again; on a timeout, says why it does not quote. */
async function quotingAgain(engine: EngineProcess, what: string): Promise<void> {
  try {
    await eventually(what, async () => ((await openAtVenue(`${SHARD}-`)).length >= 4 ? true : undefined), 20_000);
  } catch (error) {
    const blockers = engine.engine.status().symbols.map((symbol) => `${symbol.symbol}: ${symbol.blockers.join('; ') || 'quoting'}`);
    throw new Error(`${error instanceof Error ? error.message : String(error)} (${blockers.join(' | ')})`);
  }
}

async function startEngine(shard: string): Promise<EngineProcess> {
  const config = testConfig(sim, aws.stage.names.secrets.tradingKey, shard, settings(shard));
  const engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, aws.clients.secrets),
    aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge, sqs: aws.clients.sqs },
    logSink: (line) => logs.push(line),
  });
  running.push(engine);
  return engine;
}

describe('freezes from the control plane', () => {
  it('a freeze on the bus cancels every order and stops quoting; the streams stay up; an unfreeze reconciles, then quotes again', async () => {
    const engine = await startEngine(SHARD);
    await eventually('orders live at the venue', async () => ((await openAtVenue(`${SHARD}-`)).length >= 4 ? true : undefined));
    const readsBefore = engine.control?.reads ?? 0;

    const frozen = await freeze();
    await eventually('every order cancelled at the venue', async () => ((await openAtVenue(`${SHARD}-`)).length === 0 ? true : undefined), 5_000);
    // Woken by its queue (the periodic read is a minute away here).
    expect(engine.control?.reads ?? 0).toBeGreaterThan(readsBefore);
    for (const symbol of engine.engine.status().symbols) {
      expect(symbol.quoting).toBe(false);
      expect(symbol.blockers).toContain(`frozen by the control plane (version ${frozen.after.version}: hard manual: test freeze (${OPERATOR}))`);
    }
    // Nothing new while frozen, and the books and private stream stay synced.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await openAtVenue(`${SHARD}-`)).toEqual([]);
    expect(engine.engine.status().privateStreamSynced).toBe(true);
    expect(engine.engine.status().symbols.every((symbol) => symbol.blockers.length === 1)).toBe(true);

    await unfreeze();
    await quotingAgain(engine, 'quoting again after the unfreeze');
    expect(logs.some((line) => line.includes('unfrozen by the control plane: reconciling, then quoting'))).toBe(true);

    // A freeze of one symbol leaves the other quoting.
    // Long enough to be seen in force on a loaded machine; it then lifts itself.
    await freeze({ symbols: ['ETHUSDT'], mode: 'pause', resumeAt: Date.now() + 8_000 });
    // Frozen first: a moving market leaves a symbol without orders for a moment now and then anyway.
    const frozenBy = (symbol: string) => engine.engine.status().symbols.find((entry) => entry.symbol === symbol)?.blockers.filter((blocker) => blocker.startsWith('frozen by the control plane')) ?? [];
    await eventually('ETHUSDT frozen and cancelled', async () => (frozenBy('ETHUSDT').length > 0 && !(await venueOpenOrders(rest, 'ETHUSDT')).some((order) => order.orderLinkId.startsWith(`${SHARD}-`)) ? true : undefined), 5_000);
    expect(engine.engine.status().symbols.find((symbol) => symbol.symbol === 'ETHUSDT')?.quoting).toBe(false);
    expect(frozenBy('BTCUSDT')).toEqual([]);
    await eventually('BTCUSDT quoting on', async () => ((await venueOpenOrders(rest, 'BTCUSDT')).some((order) => order.orderLinkId.startsWith(`${SHARD}-`)) ? true : undefined), 5_000);
    // The pause lifts itself at its resume time, without anyone writing.
    await eventually('ETHUSDT quoting again after the pause', async () => ((await venueOpenOrders(rest, 'ETHUSDT')).some((order) => order.orderLinkId.startsWith(`${SHARD}-`)) ? true : undefined), 20_000);

    // A malformed message on the control queue: logged, state unchanged, left for the dead-letter queue.
    const queueUrl = aws.routing.controlQueueUrls[SHARD] ?? '';
    const versionBefore = engine.engine.status().control.version;
    await aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ 'detail-type': 'Freeze', source: 'x', detail: { schemaVersion: 1, eventId: 'freeze:1' } }) }));
    await eventually('the malformed message logged', () => (logs.some((line) => line.includes('malformed control message left for the dead-letter queue') && line.includes('freezeVersion')) ? true : undefined), 5_000);
    // Not deleted: received again (every 2 s) until its receive count sends it to the dead-letter queue.
    await eventually('the malformed message in the dead-letter queue', async () => {
      const dlq = await aws.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: aws.stage.queueUrls.engineControlDlq, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return dlq.Attributes?.ApproximateNumberOfMessages === '1' ? true : undefined;
    }, 30_000);
    expect(engine.engine.status().control.version).toBe(versionBefore);
    expect(engine.engine.status().symbols.every((symbol) => symbol.quoting)).toBe(true);

    // The heartbeat is in the control table, with this generation's epoch.
    const heartbeat = (await new DynamoHeartbeatStore({ client: aws.clients.dynamodb, table: aws.stage.names.tables.control, requestTimeoutMs: 5_000 }).read([SHARD])).get(SHARD);
    expect(heartbeat).toMatchObject({ shard: SHARD, epoch: engine.epoch, phase: 'running' });

    await engine.stop('test over');
    const last = (await new DynamoHeartbeatStore({ client: aws.clients.dynamodb, table: aws.stage.names.tables.control, requestTimeoutMs: 5_000 }).read([SHARD])).get(SHARD);
    expect(last?.phase).toBe('stopped');
  }, 90_000);

  it('the engine\'s own freeze (drawdown) is written to the control state, and an operator\'s unfreeze lifts it', async () => {
    const engine = await startEngine(SHARD);
    await eventually('orders live at the venue', async () => ((await openAtVenue(`${SHARD}-`)).length >= 4 ? true : undefined));
    engine.engine.freeze('drawdown', 'net PnL 12 below its peak');
    const written = await eventually('the self-freeze in the control state', async () => {
      const state = await store().read();
      return state.freeze?.reason.code === 'drawdown' ? state : undefined;
    });
    expect(written.freeze).toMatchObject({ mode: 'hard', actor: `engine:${SHARD}:${engine.epoch}`, reason: { message: 'net PnL 12 below its peak' } });
    expect([...(written.freeze?.symbols ?? [])].sort()).toEqual([...SYMBOLS].sort());
    await eventually('cancelled at the venue', async () => ((await openAtVenue(`${SHARD}-`)).length === 0 ? true : undefined), 5_000);
    // A second freeze while frozen writes nothing more.
    engine.engine.freeze('edge-collapse', 'again');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await store().read()).version).toBe(written.version);

    await unfreeze();
    await quotingAgain(engine, 'quoting after the operator lifted it');
    expect(engine.engine.status().frozen).toBeUndefined();
    await engine.stop('test over');
  }, 60_000);

  it('an engine that starts while frozen stays frozen until the unfreeze', async () => {
    await freeze({ reason: { code: 'manual', message: 'frozen before the start' } });
    const engine = await startEngine(SHARD);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await openAtVenue(`${SHARD}-`)).toEqual([]);
    expect(engine.engine.status().symbols.every((symbol) => !symbol.quoting)).toBe(true);
    await unfreeze();
    await quotingAgain(engine, 'quoting after the unfreeze');
    await engine.stop('test over');
  }, 60_000);
});

describe('the single-writer lease', () => {
  it('two engine processes on one shard: the standby sends nothing; when the holder hangs past its lease the standby takes over, and the old holder never sends another order', async () => {
    const document = testConfigDocument(aws.stage.names.secrets.tradingKey, PAIR, settings(PAIR));
    const generationOf = (orderLinkId: string) => orderLinkId.split('-')[1] ?? '';
    const samples: string[][] = [];
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        samples.push([...new Set(openInExchange(`${PAIR}-`).map(generationOf))]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    const first = spawnTracked(document);
    await eventually('the first engine quoting', () => (first.output.join('').includes('"message":"quoting"') ? true : undefined), 30_000);
    const second = spawnTracked(document);
    await eventually('the second engine waiting as a standby', () => (second.output.join('').includes('standby') ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(second.output.join('')).not.toContain('"message":"quoting"');

    // The first one hangs (paused): its lease runs out, the standby takes over and cancels what it left.
    const pausedAtSample = samples.length;
    first.child.kill('SIGSTOP');
    await eventually('the second engine quoting', () => (second.output.join('').includes('"message":"quoting"') ? true : undefined), 30_000);
    await eventually('the second generation\'s orders live', () => (openInExchange(`${PAIR}-`).length > 0 ? true : undefined));
    // The first one wakes: it must not send a single order, and it stops on its own.
    const wokenAt = Date.now();
    first.child.kill('SIGCONT');
    expect(await first.exited).toBe(1);
    expect(first.output.join('')).toContain('lease lost');
    await new Promise((resolve) => setTimeout(resolve, 500));
    sampling.on = false;
    await sampler;
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    // Before the pause only the first generation traded; the standby sent nothing.
    const beforePause = samples.slice(0, pausedAtSample).flat();
    expect(new Set(beforePause).size).toBe(1);
    const firstGeneration = beforePause[0] ?? '';
    // The first generation created nothing once it woke (the second adopted what it left and cancelled or
    // reused it, as after any restart). The wake is the line, not the pause: an order it sent just before
    // the pause can reach the simulator, in this test's process, a moment after it.
    const history = (await Promise.all(SYMBOLS.map((symbol) => venueOrderHistory(rest, symbol)))).flat();
    const lateFromFirst = history.filter((order) => generationOf(order.orderLinkId) === firstGeneration && order.orderLinkId.startsWith(`${PAIR}-`) && Number(order.createdTime) >= wokenAt);
    expect(lateFromFirst).toEqual([]);
    const secondGeneration = history.filter((order) => order.orderLinkId.startsWith(`${PAIR}-`) && generationOf(order.orderLinkId) !== firstGeneration);
    expect(secondGeneration.length).toBeGreaterThan(0);
    // The second generation's epoch (the fencing token) is larger.
    expect(parseInt(generationOf(secondGeneration[0]?.orderLinkId ?? ''), 36)).toBeGreaterThan(parseInt(firstGeneration, 36));
  }, 120_000);
});

describe('the watchdog', () => {
  it('cancels everything at the venue when the engine is killed, and freezes its symbols', async () => {
    // Disconnect-cancel set to its longest (300 s), so that what cancels here is the watchdog, not the venue.
    const document = testConfigDocument(aws.stage.names.secrets.tradingKey, WATCHED, {
      ...settings(WATCHED),
      venue: { credentialsSecretId: aws.stage.names.secrets.tradingKey, dcpWindowSeconds: 300 },
      control: { queueWaitSeconds: 20, pollIntervalMs: 60_000, heartbeatIntervalMs: 500 },
    });
    const evaluator = buildRiskEvaluator({
      settings: ControlSettingsSchema.parse({
        stage: aws.stage.names.stage,
        shards: { [WATCHED]: [...SYMBOLS] },
        venue: { restUrl: sim.restUrl, credentialsSecretId: aws.stage.names.secrets.tradingKey },
        risk: { limits: {}, heartbeatStaleMs: 2_000 },
      }),
      clients: aws.clients,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      metrics: { count: () => undefined },
    });
    const engine = spawnTracked(document);
    await eventually('the engine quoting', () => (engine.output.join('').includes('"message":"quoting"') ? true : undefined), 30_000);
    // Any order live will do: a symbol at its position limit quotes one side, and one with a one-sided book none.
    await eventually('orders live', () => (openInExchange(`${WATCHED}-`).length > 0 ? true : undefined), 30_000);
    // Alive: the scheduled run leaves it alone.
    const versionBefore = (await store().read()).version;
    await evaluator.onSchedule(Date.now());
    expect((await store().read()).version).toBe(versionBefore);

    await killHoldingOrders(engine, () => openInExchange(`${WATCHED}-`).length > 0);
    expect(openInExchange(`${WATCHED}-`).length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    await evaluator.onSchedule(Date.now());
    expect(openInExchange(`${WATCHED}-`)).toEqual([]);
    const state = await store().read();
    expect(state.freeze).toMatchObject({ mode: 'hard', reason: { code: 'stale-engine' } });
    expect([...(state.freeze?.symbols ?? [])].sort()).toEqual([...SYMBOLS].sort());
    const audit = await store().history(1);
    expect(audit[0]).toMatchObject({ action: 'freeze', actor: 'risk-evaluator' });
  }, 60_000);
});
