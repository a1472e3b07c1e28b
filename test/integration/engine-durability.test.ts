/**
 * The engine's state and events, end to end on the simulator and the emulator: after a session of quoting
 * and fills, and again after a restart that carries on from the stored state, the orders, fills and
 * positions in DynamoDB and the events on the bus (read through an SQS queue that a rule subscribes) equal
 * what the venue reports, each fill exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { ZERO, dec, sum } from '../../src/core/decimal.js';
import { parseEventDetail } from '../../src/core/events.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type ReceivedEvent, drainEvents, scanTable, subscribeEngineEvents } from '../support/durability.js';
import { eventually, storeTraderKey, testConfig, venueExecutions, venueOpenOrders, venueOrderHistory } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const aws = useProvisionedStage();
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const SHARD = 'durable';
let sim: Simulator;
let rest: RestClientV5;
let queueUrl: string;
const running: EngineProcess[] = [];
const logs: string[] = [];
/** Every event received so far, across generations. */
const events: ReceivedEvent[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 11, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
  queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
});

afterAll(async () => {
  for (const engine of running) await engine.stop('test over');
  await sim.close();
});

async function startGeneration(): Promise<EngineProcess> {
  const config = testConfig(sim, aws.stage.names.secrets.tradingKey, SHARD, { stage: aws.stage.names.stage, persistence: { enabled: true, flushIntervalMs: 50 } });
  const engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, aws.clients.secrets),
    aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge },
    logSink: (line) => logs.push(line),
  });
  running.push(engine);
  return engine;
}

async function executionCount(): Promise<number> {
  let count = 0;
  for (const symbol of SYMBOLS) count += (await venueExecutions(rest, symbol)).length;
  return count;
}

/** Runs a generation until the venue reports `moreFills` more executions, then stops it gracefully. */
async function runGeneration(moreFills: number): Promise<EngineProcess> {
  const before = await executionCount();
  const engine = await startGeneration();
  await eventually('ready', () => (engine.engine.ready().ready ? true : undefined), 30_000);
  await eventually('fills', async () => ((await executionCount()) >= before + moreFills ? true : undefined), 60_000);
  const report = await engine.stop('generation over');
  expect(report.clean).toBe(true);
  expect(engine.journal?.status()).toMatchObject({ pendingOrders: 0, pendingFills: 0, pendingEvents: 0, fenced: false, duplicateFills: 0 });
  return engine;
}

/** DynamoDB and the bus against the venue: every execution, order and position, each fill once. */
async function expectStoreEqualsVenue(): Promise<void> {
  events.push(...(await drainEvents(aws.clients, queueUrl)));
  for (const event of events) {
    expect(event.source).toBe('mm-rebate-bot.engine');
    expect(parseEventDetail(event.detailType, event.detail)).toMatchObject({ ok: true });
  }
  const fillEvents = new Map<string, number>();
  for (const event of events) if (event.detailType === 'Fill') fillEvents.set(event.detail.eventId, (fillEvents.get(event.detail.eventId) ?? 0) + 1);

  const fills = (await scanTable(aws.clients, aws.stage.names.tables.fills)).filter((item) => item.shard === SHARD);
  const positions = (await scanTable(aws.clients, aws.stage.names.tables.positions)).filter((item) => item.shard === SHARD);
  const orders = (await scanTable(aws.clients, aws.stage.names.tables.orders)).filter((item) => item.shard === SHARD);
  const fillById = new Map(fills.map((item) => [item.execId as string, item]));
  const orderById = new Map(orders.map((item) => [item.orderLinkId as string, item]));
  const lastOrderEvent = new Map<string, ReceivedEvent['detail']>();
  for (const event of events) if (event.detailType === 'OrderUpdate') lastOrderEvent.set(event.detail.orderLinkId as string, event.detail);

  let venueFills = 0;
  for (const symbol of SYMBOLS) {
    const executions = await venueExecutions(rest, symbol);
    venueFills += executions.length;
    for (const execution of executions) {
      const item = fillById.get(execution.execId);
      expect(item).toMatchObject({ symbol, orderLinkId: execution.orderLinkId, side: execution.side, isMaker: execution.isMaker, execTime: Number(execution.execTime) });
      expect(dec(item?.price as string).eq(dec(execution.execPrice))).toBe(true);
      expect(dec(item?.qty as string).eq(dec(execution.execQty))).toBe(true);
      expect(dec(item?.fee as string).eq(dec(execution.execFee))).toBe(true);
      // Exactly once on the bus.
      expect(fillEvents.get(`fill:${execution.execId}`)).toBe(1);
    }

    // The stored position is the venue's, and its fees and rebates are the executions' to the unit.
    const position = positions.find((item) => item.symbol === symbol);
    const venueRow = (await rest.getPositionInfo({ category: 'linear', symbol })).result.list[0];
    const venueQty = venueRow && venueRow.side !== '' ? dec(venueRow.size).times(dec(venueRow.side === 'Buy' ? '1' : '-1')) : ZERO;
    if (executions.length > 0) {
      expect(dec(position?.position as string).eq(venueQty)).toBe(true);
      expect(position?.tradeCount).toBe(executions.length);
      const netFees = sum(executions.map((execution) => dec(execution.execFee)));
      expect(dec(position?.feesPaid as string).minus(dec(position?.rebatesEarned as string)).eq(netFees)).toBe(true);
    }

    // Every order the venue knows is stored with its final status, closed, and its last event says the same.
    expect(await venueOpenOrders(rest, symbol)).toEqual([]);
    for (const order of await venueOrderHistory(rest, symbol)) {
      const stored = orderById.get(order.orderLinkId);
      expect(stored).toMatchObject({ symbol, status: order.orderStatus });
      expect(stored?.openShard).toBeUndefined();
      expect(lastOrderEvent.get(order.orderLinkId)).toMatchObject({ status: order.orderStatus, orderId: order.orderId });
    }
  }
  expect(venueFills).toBeGreaterThanOrEqual(3);
  expect(orders.length).toBeGreaterThan(0);
  expect(fills.length).toBe(venueFills);
  expect([...fillEvents.keys()].length).toBe(venueFills);
  // Nothing is owed to the bus any more.
  expect(fills.filter((item) => item.eventPending !== undefined)).toEqual([]);
}

describe('engine state in DynamoDB and events on EventBridge', () => {
  it('after a session, then again after a restart from the stored state, equal the venue, each fill once', async () => {
    await runGeneration(3);
    await expectStoreEqualsVenue();

    // The next generation carries on from the stored positions: nothing counted twice, nothing missed.
    const second = await runGeneration(2);
    await expectStoreEqualsVenue();
    expect(logs.some((line) => line.includes('restored the stored state'))).toBe(true);
    for (const symbol of SYMBOLS) {
      expect(second.engine.tracker.position(symbol).tradeCount).toBe((await venueExecutions(rest, symbol)).length);
    }
  }, 150_000);
});
