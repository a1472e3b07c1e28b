/**
 * The risk evaluator on the emulator and the simulator, with the real clients: Fill events arrive as
 * genuine SQS records (put on the bus and routed to the risk-fills queue by a rule, or sent to the queue),
 * exposure is counted in the control table, breaches freeze through the control store (audit record and
 * Freeze event on the bus), and hard stops and the watchdog cancel at the simulator with the trading key
 * from Secrets Manager. Each test has a stage of its own, so control states never mix.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { RestClientV5 } from 'bybit-api';
import { randomBytes } from 'node:crypto';
import { DynamoControlStore } from '../../src/adapters/dynamodb/control-store.js';
import { DynamoExposureStore, storedDecimal } from '../../src/adapters/dynamodb/exposure-store.js';
import { DynamoHeartbeatStore } from '../../src/adapters/dynamodb/heartbeat-store.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge/publisher.js';
import type { RiskEvaluator, RiskMetrics } from '../../src/control/risk-evaluator.js';
import { type ControlSettings, ControlSettingsSchema } from '../../src/control/settings.js';
import { INITIAL_CONTROL_STATE, decideFreeze } from '../../src/core/control.js';
import { dec } from '../../src/core/decimal.js';
import { EVENT_SOURCES, type EngineHeartbeatV1, type FillEventV1 } from '../../src/core/events.js';
import { foldFills, minuteOf, utcDay } from '../../src/core/exposure.js';
import { type AwsClients, type ProvisionedStage, destroyAwsClients, provisionRouting } from '../../src/local/provision.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { buildRiskEvaluator, createRiskEvaluatorHandler } from '../../lambdas/risk-evaluator.js';
import { sqsRecordOf } from '../../src/local/lambda-triggers.js';
import { provisionTestStage, testClients } from '../support/aws.js';
import { drainEvents } from '../support/durability.js';
import { storeTraderKey, venueOpenOrders } from '../support/engine.js';
import { TRADER } from '../support/sim.js';
import { fillEvent } from '../support/fills.js';
import { CapturedLogger, capturingStdout, emfTotal, lambdaContext, quietLogger, quietMetrics } from '../support/lambda.js';

/** 2030-01-02T03:04:30Z, half way through a minute: the evaluator's clock and the fills' time. */
const NOW = Date.UTC(2030, 0, 2, 3, 4, 30);

let clients: AwsClients;
let sim: Simulator;
let rest: RestClientV5;

beforeAll(async () => {
  clients = testClients();
  sim = await startSimulator({ seed: 21 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
});

afterAll(async () => {
  destroyAwsClients(clients);
  await sim.close();
});

// ---------------------------------------------------------------- helpers

const LIMITS = {
  maxPosition: '0.05',
  maxNotional: '1000000',
  maxDailyLoss: '100000',
  maxDrawdown: '100000',
  minEdgeBps: '-10000',
  edgeWindowsMinutes: [5],
  minEdgeNotional: '1000',
  maxFillsPerMinute: 1000,
};

interface Scenario {
  readonly stage: ProvisionedStage;
  readonly settings: ControlSettings;
  readonly evaluator: RiskEvaluator;
  readonly metrics: MetricsRecorder;
  readonly control: DynamoControlStore;
  readonly exposure: DynamoExposureStore;
  /** A queue that receives every event the evaluator puts on the bus. */
  readonly controlEvents: string;
}

class MetricsRecorder implements RiskMetrics {
  readonly counts = new Map<string, number>();
  count(name: string, value: number, dimensions?: Readonly<Record<string, string>>): void {
    const key = dimensions ? `${name}{${Object.entries(dimensions).map(([dimension, item]) => `${dimension}=${item}`).join(',')}}` : name;
    this.counts.set(key, (this.counts.get(key) ?? 0) + value);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}


/** A queue subscribed to the bus by a rule with `pattern`; returns its URL and ARN. */
async function subscribe(busName: string, pattern: Record<string, unknown>): Promise<{ url: string; arn: string }> {
  const name = `risk-test-${randomBytes(4).toString('hex')}`;
  const url = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl;
  if (!url) throw new Error('no queue URL');
  const arn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  if (!arn) throw new Error('no queue ARN');
  await clients.eventBridge.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify(pattern) }));
  await clients.eventBridge.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'queue', Arn: arn }] }));
  return { url, arn };
}

async function scenario(options: { limits?: Record<string, Partial<typeof LIMITS>>; shards?: Record<string, string[]>; risk?: Record<string, unknown> } = {}): Promise<Scenario> {
  const stage = await provisionTestStage(clients);
  await storeTraderKey(clients.secrets, stage.names.secrets.tradingKey);
  const limits = options.limits ?? { BTCUSDT: {}, ETHUSDT: {} };
  const settings = ControlSettingsSchema.parse({
    stage: stage.names.stage,
    shards: options.shards ?? { a: ['BTCUSDT'], b: ['ETHUSDT'] },
    venue: { restUrl: sim.restUrl, credentialsSecretId: stage.names.secrets.tradingKey },
    risk: { limits: Object.fromEntries(Object.entries(limits).map(([symbol, overrides]) => [symbol, { ...LIMITS, ...overrides }])), ...options.risk },
  });
  const metrics = new MetricsRecorder();
  const evaluator = buildRiskEvaluator({ settings, clients, logger: quietLogger, metrics, clock: () => NOW });
  const controlEvents = await subscribe(stage.names.eventBus, { source: [EVENT_SOURCES.riskEvaluator] });
  return {
    stage,
    settings,
    evaluator,
    metrics,
    control: new DynamoControlStore({ client: clients.dynamodb, tables: { control: stage.names.tables.control, audit: stage.names.tables.audit }, requestTimeoutMs: 3000 }),
    exposure: new DynamoExposureStore({ client: clients.dynamodb, table: stage.names.tables.control, requestTimeoutMs: 3000 }),
    controlEvents: controlEvents.url,
  };
}

let execCount = 0;
function fill(overrides: Partial<FillEventV1> = {}): FillEventV1 {
  execCount += 1;
  return fillEvent(overrides.execId ?? `exec-${execCount.toString().padStart(5, '0')}`, NOW - 1000, overrides);
}

/** An EventBridge envelope as a rule delivers it to SQS (the emulator's shape: no account). */
function envelope(detail: unknown, detailType = 'Fill'): Record<string, unknown> {
  return { version: '0', id: randomBytes(8).toString('hex'), 'detail-type': detailType, source: EVENT_SOURCES.engine, time: new Date(NOW).toISOString(), region: 'ap-southeast-1', resources: [], detail };
}

/** Receives `count` messages from the queue as Lambda SQS records (what the event source mapping hands over). */
async function receive(queueUrl: string, count: number): Promise<SQSRecord[]> {
  const arn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
  const records: SQSRecord[] = [];
  const deadline = Date.now() + 10_000;
  while (records.length < count) {
    if (Date.now() > deadline) throw new Error(`received ${records.length} of ${count} messages`);
    const answer = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 60 }));
    for (const message of answer.Messages ?? []) records.push(sqsRecordOf(message, arn, 'ap-southeast-1'));
  }
  return records;
}

/** Sends bodies to the stage's risk-fills queue and receives them back as SQS records, in the order sent. */
async function viaQueue(stage: ProvisionedStage, bodies: readonly string[]): Promise<SQSRecord[]> {
  const url = stage.queueUrls.riskFills;
  const ids: string[] = [];
  for (let start = 0; start < bodies.length; start += 10) {
    const sent = await clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(start, start + 10).map((body, index) => ({ Id: String(index), MessageBody: body })) }));
    const byId = new Map((sent.Successful ?? []).map((entry) => [entry.Id, entry.MessageId]));
    bodies.slice(start, start + 10).forEach((_, index) => ids.push(byId.get(String(index)) ?? ''));
  }
  const records = await receive(url, bodies.length);
  return ids.map((id) => {
    const record = records.find((candidate) => candidate.messageId === id);
    if (!record) throw new Error(`message ${id} not received`);
    return record;
  });
}

const fillBodies = (fills: readonly FillEventV1[]): string[] => fills.map((one) => JSON.stringify(envelope(one)));

async function placeOrder(symbol: string, price: string, qty: string): Promise<void> {
  const answer = await rest.submitOrder({ category: 'linear', symbol, side: 'Buy', orderType: 'Limit', qty, price, timeInForce: 'PostOnly' });
  expect(answer.retCode).toBe(0);
}

const ORDER_AT: Record<string, [string, string]> = { BTCUSDT: ['60000', '0.001'], ETHUSDT: ['3000', '0.01'], BIOUSDT: ['0.2', '100'] };
async function openOrders(symbol: string): Promise<number> {
  return (await venueOpenOrders(rest, symbol)).length;
}
async function placeOrders(symbol: string, count: number): Promise<void> {
  const [price, qty] = ORDER_AT[symbol] ?? ['1', '1'];
  for (let index = 0; index < count; index++) await placeOrder(symbol, price, qty);
}
/** Clears the test account's book at the simulator directly (its REST cancel-all is limited to 10 a second, for the evaluator). */
function cancelEverything(): void {
  sim.exchange.cancelAll('mm');
}

/** The exposure items of a stage, raw (numbers as DynamoDB's decimal strings), by pk. */
async function exposureItems(stage: ProvisionedStage): Promise<Record<string, Record<string, AttributeValue>>> {
  const answer = await clients.dynamodb.send(new ScanCommand({ TableName: stage.names.tables.control, ConsistentRead: true }));
  const items = (answer.Items ?? []).filter((item) => item.pk?.S?.startsWith('exposure') === true);
  return Object.fromEntries(items.map((item) => [item.pk?.S ?? '', item]));
}

function heartbeat(shard: string, sentAt: number, phase: EngineHeartbeatV1['phase']): EngineHeartbeatV1 {
  return { schemaVersion: 1, eventId: `heartbeat:${shard}:7:${sentAt}`, shard, epoch: 7, sentAt, phase, frozen: false, symbols: [] };
}

// ---------------------------------------------------------------- tests

describe('breaches from fill events', () => {
  it('a position-limit breach freezes the symbol hard, audits it, announces it, and cancels its orders at the venue', async () => {
    const s = await scenario();
    // The production route: the engine's Fill events on the bus, the stage's rule to the risk-fills queue.
    await provisionRouting(clients, s.stage, Object.keys(s.settings.shards));
    cancelEverything();
    await placeOrders('BTCUSDT', 3);
    await placeOrders('ETHUSDT', 1);
    expect(await openOrders('BTCUSDT')).toBe(3);

    const engineBus = new EventBridgePublisher({ client: clients.eventBridge, eventBusName: s.stage.names.eventBus, requestTimeoutMs: 3000, source: EVENT_SOURCES.engine });
    const fills = Array.from({ length: 6 }, () => fill());
    expect(await engineBus.publish(fills.map((detail) => ({ detailType: 'Fill' as const, detail, time: detail.execTime })))).toEqual([]);
    const records = await receive(s.stage.queueUrls.riskFills, 6);

    const logger = new CapturedLogger({ serviceName: 'risk-evaluator' });
    const metrics = quietMetrics('risk-evaluator');
    const handler = createRiskEvaluatorHandler({ settings: s.settings, clients, logger, metrics, clock: () => NOW });
    const event: SQSEvent = { Records: records };
    const { result, lines } = await capturingStdout(() => handler(event, lambdaContext('mmrb-test-risk-evaluator')));
    expect(result).toEqual({ batchItemFailures: [] });

    // 6 × 0.01 = 0.06 > 0.05.
    const state = await s.control.read();
    expect(state.version).toBe(1);
    expect(state.freeze).toMatchObject({ mode: 'hard', symbols: ['BTCUSDT'], actor: 'risk-evaluator', reason: { code: 'position-limit', message: 'BTCUSDT position 0.06 exceeds maxPosition 0.05' } });
    const audit = await s.control.history(10);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'freeze', actor: 'risk-evaluator', version: 1, reason: 'position-limit: BTCUSDT position 0.06 exceeds maxPosition 0.05' });
    const events = await drainEvents(clients, s.controlEvents);
    expect(events).toEqual([
      {
        detailType: 'Freeze',
        source: EVENT_SOURCES.riskEvaluator,
        detail: { schemaVersion: 1, eventId: 'freeze:1', freezeVersion: 1, symbols: ['BTCUSDT'], reason: { code: 'position-limit', message: 'BTCUSDT position 0.06 exceeds maxPosition 0.05' }, actor: 'risk-evaluator', frozenAt: NOW },
      },
    ]);
    // The kill switch: cancelled at the venue without the engine; the other symbol is untouched.
    expect(await openOrders('BTCUSDT')).toBe(0);
    expect(await openOrders('ETHUSDT')).toBe(1);

    // Logged with the Lambda context; counted as EMF metrics.
    expect(logger.lines.find((line) => line.message === 'risk limit breached')).toMatchObject({ function_name: 'mmrb-test-risk-evaluator', symbol: 'BTCUSDT', reason: 'position-limit' });
    expect(emfTotal(lines, 'FillsApplied')).toBe(6);
    expect(emfTotal(lines, 'Freezes')).toBe(1);
    expect(emfTotal(lines, 'OrdersCancelled')).toBe(3);
    cancelEverything();
  });

  it('the same batch delivered twice, reordered, changes the exposure once and freezes once', async () => {
    const s = await scenario();
    const fills = [
      fill({ side: 'Buy', price: '65000', qty: '0.03', fee: '-0.0975', execTime: NOW - 90_000 }),
      fill({ side: 'Sell', price: '65010.5', qty: '0.01', fee: '0.3250525', isMaker: false, execTime: NOW - 30_000 }),
      fill({ side: 'Buy', price: '64990.1', qty: '0.02', fee: '-0.064990', execTime: NOW - 2000 }),
      fill({ side: 'Buy', price: '64995', qty: '0.02', fee: '-0.0649950', execTime: NOW - 2000 }),
      // Alone in its minute, with a fee the emulator writes as 1E-7.
      fill({ side: 'Buy', price: '65001', qty: '0.001', fee: '0.0000001', execTime: NOW - 200_000 }),
    ];
    const first = await s.evaluator.onFills(await viaQueue(s.stage, fillBodies(fills)));
    expect(first).toEqual({ batchItemFailures: [] });
    const afterFirst = await exposureItems(s.stage);
    // The lone fee of 0.0000001, however the store spells it, reads back exactly.
    const lone = afterFirst[`exposure-min#BTCUSDT#${minuteOf(NOW - 200_000)}`]?.fees?.N ?? '';
    expect(storedDecimal(lone).toFixed()).toBe('0.0000001');

    // Again, in reverse and with a copy inside the same batch.
    const again = [...fills].reverse();
    const second = await s.evaluator.onFills(await viaQueue(s.stage, fillBodies([...again, fills[2]!])));
    expect(second).toEqual({ batchItemFailures: [] });
    expect(await exposureItems(s.stage)).toEqual(afterFirst);
    expect(s.metrics.get('FillsApplied')).toBe(5);
    expect(s.metrics.get('FillDuplicates')).toBe(6);

    // The stored sums are the model's, exactly; the mark is the newest fill's (a tie of execTime broken by execId).
    const model = foldFills(fills).get('BTCUSDT');
    const stored = await s.exposure.read('BTCUSDT', utcDay(NOW), [minuteOf(NOW), minuteOf(NOW) - 1]);
    const exact = (value: { toFixed(): string } | undefined) => value?.toFixed();
    expect({ netQty: exact(stored.total.netQty), cash: exact(stored.total.cash), fees: exact(stored.total.fees), notional: exact(stored.total.notional), fills: stored.total.fills }).toEqual({
      netQty: '0.061',
      cash: exact(model?.total.cash),
      fees: exact(model?.total.fees),
      notional: exact(model?.total.notional),
      fills: 5,
    });
    expect(exact(stored.total.fees)).toBe('0.0975676');
    expect(stored.lastPrice?.execId).toBe(fills[3]?.execId);
    expect(exact(stored.lastPrice?.price)).toBe('64995');
    // The mark and the peak only move forward.
    expect(await s.exposure.moveLastPrice('BTCUSDT', { price: dec('1'), execTime: NOW - 2000, execId: fills[2]!.execId })).toBe('older');
    expect(await s.exposure.raisePeak('BTCUSDT', dec('5'))).toBe('raised');
    expect(await s.exposure.raisePeak('BTCUSDT', dec('4.99'))).toBe('lower');
    expect((await s.exposure.read('BTCUSDT', utcDay(NOW), [])).peakPnl?.toFixed()).toBe('5');

    // 0.061 > 0.05: frozen once, one audit record, one Freeze event.
    expect((await s.control.read()).version).toBe(1);
    expect(await s.control.history(10)).toHaveLength(1);
    expect((await drainEvents(clients, s.controlEvents)).map((event) => event.detail.eventId)).toEqual(['freeze:1']);
  });

  it('malformed records are batch item failures, and the good records of the batch are applied', async () => {
    const s = await scenario();
    const good = [fill(), fill({ symbol: 'ETHUSDT', price: '3500', qty: '0.01', fee: '-0.00175' })];
    const unconfigured = fill({ symbol: 'BIOUSDT', price: '0.25', qty: '100', fee: '-0.00125' });
    const badField = { ...fill(), price: 'sixty-five thousand' };
    const version2 = { ...fill(), schemaVersion: 2 };
    const bodies = [
      JSON.stringify(envelope(good[0])),
      'not json {',
      JSON.stringify(envelope({ ...fill() }, 'OrderUpdate')),
      JSON.stringify(envelope(badField)),
      JSON.stringify(envelope(version2)),
      JSON.stringify({ detail: fill() }),
      JSON.stringify(envelope(good[1])),
      JSON.stringify(envelope(unconfigured)),
    ];
    const records = await viaQueue(s.stage, bodies);
    const result = await s.evaluator.onFills(records);
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([1, 2, 3, 4, 5].map((index) => records[index]?.messageId));
    expect(s.metrics.get('MalformedRecords')).toBe(5);
    expect(s.metrics.get('FillsApplied')).toBe(3);

    const btc = await s.exposure.read('BTCUSDT', utcDay(NOW), []);
    const eth = await s.exposure.read('ETHUSDT', utcDay(NOW), []);
    const bio = await s.exposure.read('BIOUSDT', utcDay(NOW), []);
    expect([btc.total.fills, eth.total.fills, bio.total.fills]).toEqual([1, 1, 1]);
    expect(bio.total.netQty.toFixed()).toBe('100');
    // Nothing was frozen.
    expect((await s.control.read()).version).toBe(0);
  });

  it('edge collapse stops hard', async () => {
    const s = await scenario({ limits: { BTCUSDT: { minEdgeBps: '0', minEdgeNotional: '1000', maxPosition: '10' } } });
    // Bought at 65000, sold at 64990, paying taker fees both ways: a loss on 12999 traded.
    const fills = [
      fill({ side: 'Buy', price: '65000', qty: '0.1', fee: '3.575', isMaker: false, execTime: NOW - 120_000 }),
      fill({ side: 'Sell', price: '64990', qty: '0.1', fee: '3.57445', isMaker: false, execTime: NOW - 60_000 }),
    ];
    expect(await s.evaluator.onFills(await viaQueue(s.stage, fillBodies(fills)))).toEqual({ batchItemFailures: [] });
    const state = await s.control.read();
    expect(state.freeze).toMatchObject({ mode: 'hard', symbols: ['BTCUSDT'], reason: { code: 'edge-collapse' } });
    // -1 on the prices and -7.14945 in fees, on 12999 traded: -6.27 bps.
    expect(state.freeze?.reason.message).toBe('BTCUSDT edge -6.27 bps over the last 5 min (PnL -8.14945 on 12999 USDT traded) is below minEdgeBps 0');
    expect(s.metrics.get('Breaches{reason=edge-collapse}')).toBe(1);
  });

  it('a fill-rate anomaly pauses, and the pause lifts itself on a later scheduled run', async () => {
    const s = await scenario({ limits: { ETHUSDT: { maxFillsPerMinute: 5 } }, shards: { b: ['ETHUSDT'] } });
    cancelEverything();
    await placeOrders('ETHUSDT', 1);
    const fills = Array.from({ length: 6 }, (_, index) => fill({ symbol: 'ETHUSDT', side: index % 2 === 0 ? 'Buy' : 'Sell', price: '3500', qty: '0.01', fee: '-0.00175', execTime: NOW - 5000 }));
    expect(await s.evaluator.onFills(await viaQueue(s.stage, fillBodies(fills)))).toEqual({ batchItemFailures: [] });
    const paused = await s.control.read();
    expect(paused.freeze).toMatchObject({ mode: 'pause', symbols: ['ETHUSDT'], reason: { code: 'fill-rate-anomaly', message: 'ETHUSDT 6 fills in this minute exceed maxFillsPerMinute 5' }, resumeAt: NOW + 300_000 });
    // A pause is not a hard stop: the venue is left to the engine.
    expect(await openOrders('ETHUSDT')).toBe(1);

    const report = await s.evaluator.onSchedule(NOW + 300_000);
    expect(report).toEqual({ resumed: true, staleShards: [], breaches: {} });
    expect((await s.control.read()).freeze).toBeUndefined();
    expect((await drainEvents(clients, s.controlEvents)).map((event) => `${event.detailType} ${event.detail.eventId}`)).toEqual(['Freeze freeze:1', 'Unfreeze unfreeze:1']);
    cancelEverything();
  });
});

describe('the schedule', () => {
  it('freezes a stale engine hard and cancels its orders at the venue on every run (the watchdog); a stopped or absent engine is not stale', async () => {
    const s = await scenario({ limits: { BTCUSDT: {}, ETHUSDT: {}, BIOUSDT: {} }, shards: { a: ['BTCUSDT'], b: ['ETHUSDT'], c: ['BIOUSDT'] } });
    const heartbeats = new DynamoHeartbeatStore({ client: clients.dynamodb, table: s.stage.names.tables.control, requestTimeoutMs: 3000 });
    await heartbeats.put(heartbeat('a', NOW - 60_000, 'running'));
    await heartbeats.put(heartbeat('b', NOW - 600_000, 'stopped'));
    cancelEverything();
    await placeOrders('BTCUSDT', 2);
    await placeOrders('ETHUSDT', 1);
    await placeOrders('BIOUSDT', 1);

    expect(await s.evaluator.onSchedule(NOW)).toEqual({ resumed: false, staleShards: ['a'], breaches: {} });
    const state = await s.control.read();
    expect(state.freeze).toMatchObject({ mode: 'hard', symbols: ['BTCUSDT'], reason: { code: 'stale-engine' } });
    expect(state.freeze?.reason.message).toBe('shard a: newest heartbeat is 60000 ms old (sent 2030-01-02T03:03:30.000Z, epoch 7, phase running), more than heartbeatStaleMs 30000');
    expect([await openOrders('BTCUSDT'), await openOrders('ETHUSDT'), await openOrders('BIOUSDT')]).toEqual([0, 1, 1]);

    // Still stale a minute later: nothing more is written, but whatever the hung engine sent is cancelled again.
    await placeOrders('BTCUSDT', 1);
    await heartbeats.put(heartbeat('b', NOW + 59_000, 'running'));
    expect(await s.evaluator.onSchedule(NOW + 60_000)).toEqual({ resumed: false, staleShards: ['a'], breaches: {} });
    expect(await openOrders('BTCUSDT')).toBe(0);
    expect(await openOrders('ETHUSDT')).toBe(1);
    expect(await s.control.history(10)).toHaveLength(1);
    expect(s.metrics.get('VenueCancels{symbol=BTCUSDT,cause=stale-engine}')).toBe(2);
    expect(s.metrics.get('OrdersCancelled{symbol=BTCUSDT,cause=stale-engine}')).toBe(3);
    expect((await drainEvents(clients, s.controlEvents)).map((event) => event.detail.eventId)).toEqual(['freeze:1']);
    cancelEverything();
  });

  it('lifts an expired pause with an audit record, and leaves one that has not expired', async () => {
    const s = await scenario();
    const pause = decideFreeze(INITIAL_CONTROL_STATE, { mode: 'pause', symbols: ['BTCUSDT'], reason: { code: 'fill-rate-anomaly', message: 'test pause' }, actor: 'test', resumeAt: NOW }, NOW - 60_000);
    if (pause.kind !== 'change') throw new Error('expected a change');
    expect(await s.control.commit(pause.change)).toEqual({ ok: true });

    expect((await s.evaluator.onSchedule(NOW - 1)).resumed).toBe(false);
    expect((await s.control.read()).version).toBe(1);

    // Through the handler, as the schedule rule invokes it.
    const handler = createRiskEvaluatorHandler({ settings: s.settings, clients, logger: new CapturedLogger({ serviceName: 'risk-evaluator' }), metrics: quietMetrics('risk-evaluator'), clock: () => 0 });
    const scheduled = { version: '0', id: 'schedule-1', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: new Date(NOW).toISOString(), region: 'ap-southeast-1', resources: [], detail: {} };
    const { result, lines } = await capturingStdout(() => handler(scheduled, lambdaContext('mmrb-test-risk-evaluator')));
    expect(result).toEqual({ resumed: true, staleShards: [], breaches: {} });
    expect(emfTotal(lines, 'AutoResumes')).toBe(1);
    const state = await s.control.read();
    expect(state).toEqual({ version: 2, freeze: undefined, updatedAt: NOW });
    const [latest] = await s.control.history(1);
    expect(latest).toMatchObject({ action: 'auto-resume', actor: 'risk-evaluator', version: 2, reason: `pause expired at ${new Date(NOW).toISOString()}` });
    expect((await drainEvents(clients, s.controlEvents)).map((event) => `${event.source} ${event.detailType} ${event.detail.eventId}`)).toEqual([`${EVENT_SOURCES.riskEvaluator} Unfreeze unfreeze:1`]);
  });
});

describe('the handler', () => {
  it('refuses an event that is neither an SQS batch nor a scheduled event', async () => {
    const s = await scenario();
    const handler = createRiskEvaluatorHandler({ settings: s.settings, clients, logger: new CapturedLogger({ serviceName: 'risk-evaluator' }), metrics: quietMetrics('risk-evaluator') });
    const refuse = async (event: unknown) => capturingStdout(() => handler(event, lambdaContext('mmrb-test-risk-evaluator')));
    await expect(refuse({ Records: [{ eventSource: 'aws:s3' }] })).rejects.toThrow(/takes an SQS batch of Fill events or an EventBridge Scheduled Event, not an object with keys Records/);
    await expect(refuse({ 'detail-type': 'Fill', source: 'aws.events' })).rejects.toThrow(/UnsupportedEvent|not an object/);
    await expect(refuse('ping')).rejects.toThrow(/not string$/);
  });
});

describe('faults', () => {
  it('a DynamoDB failure on one record fails that record only; delivered again, it is counted once', async () => {
    const s = await scenario({ limits: { BTCUSDT: { maxPosition: '10' } } });
    const faulty = testClients();
    try {
      const victim = fill({ qty: '0.02' });
      // Throttling on the victim's transaction only, every attempt (below the SDK's retries).
      const stack = faulty.dynamodb.middlewareStack as unknown as { add(middleware: unknown, options: { step: string; name: string }): void };
      let injected = 0;
      stack.add(
        (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
          if (context.commandName === 'TransactWriteItemsCommand' && JSON.stringify(args.input).includes(victim.eventId)) {
            injected += 1;
            throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
          }
          return next(args);
        },
        { step: 'finalizeRequest', name: 'throttle-one-fill' },
      );
      const metrics = new MetricsRecorder();
      const evaluator = buildRiskEvaluator({ settings: s.settings, clients: faulty, logger: quietLogger, metrics, clock: () => NOW, sleep: () => Promise.resolve() });
      const fills = [fill(), victim, fill()];
      const records = await viaQueue(s.stage, fillBodies(fills));
      expect(await evaluator.onFills(records)).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.messageId }] });
      expect(injected).toBeGreaterThanOrEqual(1);
      expect(metrics.get('RecordFailures')).toBe(1);
      expect((await s.exposure.read('BTCUSDT', utcDay(NOW), [])).total.netQty.toFixed()).toBe('0.02');

      // SQS delivers the batch again (the failed record, and say the others too): the victim now counts, the rest do not again.
      expect(await s.evaluator.onFills(await viaQueue(s.stage, fillBodies(fills)))).toEqual({ batchItemFailures: [] });
      const total = (await s.exposure.read('BTCUSDT', utcDay(NOW), [])).total;
      expect({ netQty: total.netQty.toFixed(), fills: total.fills }).toEqual({ netQty: '0.04', fills: 3 });
    } finally {
      destroyAwsClients(faulty);
    }
  });

  it('reads numbers the emulator writes in scientific notation exactly', () => {
    expect(storedDecimal('1E-7').toFixed()).toBe('0.0000001');
    expect(storedDecimal('-1.5E-7').toFixed()).toBe('-0.00000015');
    expect(storedDecimal('0E-10').toFixed()).toBe('0');
    expect(storedDecimal('1.25E+3').toFixed()).toBe('1250');
    expect(storedDecimal('1.2345E+2').toFixed()).toBe('123.45');
    expect(storedDecimal('65000.10').toFixed()).toBe('65000.1');
  });
});
