/**
 * The write-behind journal with the real DynamoDB store and EventBridge publisher on the emulator (faults
 * injected into the real SDK clients where the emulator cannot produce them): what it writes, in which
 * batches, what it retries, when it tells the engine to stop quoting, and that nothing is lost or left
 * without a trace. Each test has a shard of its own in the file's stage.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoStateStore } from '../../src/adapters/dynamodb/state-store.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge/publisher.js';
import { dec } from '../../src/core/decimal.js';
import { type Order, createOrder } from '../../src/core/order.js';
import { type TradeExecution, ExecutionLedger } from '../../src/core/position.js';
import { fillRecord, orderRecord, positionRecord } from '../../src/core/records.js';
import type { Lots, Ticks } from '../../src/core/units.js';
import { WriteBehind, type WriteBehindSettings } from '../../src/engine/write-behind.js';
import { type AwsClients, destroyAwsClients } from '../../src/local/provision.js';
import { testClients, useProvisionedStage } from '../support/aws.js';
import { type Faults, type ReceivedEvent, drainEvents, injectFaults, scanTable, subscribeEngineEvents } from '../support/durability.js';
import { eventually } from '../support/engine.js';
import { BTCUSDT } from '../support/instruments.js';
import { RecordingLogger } from '../unit/engine/engine-harness.js';

const aws = useProvisionedStage();
/** The journal's own clients, with faults injected; the test reads back through clean ones. */
let clients: AwsClients;
let faults: { dynamodb: Faults; eventBridge: Faults };
let queueUrl: string;
const received: ReceivedEvent[] = [];

beforeAll(async () => {
  clients = testClients();
  faults = { dynamodb: injectFaults(clients.dynamodb, 'dynamodb'), eventBridge: injectFaults(clients.eventBridge, 'eventbridge') };
  queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
});

afterAll(() => {
  destroyAwsClients(clients);
});

beforeEach(() => {
  for (const fault of Object.values(faults)) {
    fault.mode = 'none';
    fault.only.clear();
    fault.refuseEventIds.clear();
    fault.sent.length = 0;
    fault.onSend = undefined;
  }
});

const SETTINGS: WriteBehindSettings = { flushIntervalMs: 5, stopQuotingLagMs: 300, maxPendingItems: 500, backoffBaseMs: 5, backoffMaxMs: 20, logAfterAttempts: 3 };

function store(): DynamoStateStore {
  return new DynamoStateStore({ client: clients.dynamodb, tables: aws.stage.names.tables, requestTimeoutMs: 2_000 });
}

function journal(shard: string, settings: Partial<WriteBehindSettings> = {}, epoch = 3) {
  const logger = new RecordingLogger();
  const writeBehind = new WriteBehind({
    store: store(),
    publisher: new EventBridgePublisher({ client: clients.eventBridge, eventBusName: aws.stage.names.eventBus, requestTimeoutMs: 2_000 }),
    shard,
    epoch,
    instruments: new Map([['BTCUSDT', BTCUSDT]]),
    settings: { ...SETTINGS, ...settings },
    clock: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: () => 0.5,
    logger,
  });
  return { writeBehind, logger };
}

function trade(execId: string, execTime: number): TradeExecution {
  return { kind: 'trade', execId, symbol: 'BTCUSDT', orderId: 'o1', orderLinkId: 'x-3-1', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 1 as Lots, fee: dec('-0.00065'), feeRate: dec('-0.0001'), isMaker: true, execTime };
}

/** Applies executions to a ledger of their own and tells the journal, as the tracker does. */
function applier(writeBehind: WriteBehind) {
  const ledger = new ExecutionLedger();
  return (execution: TradeExecution) => {
    writeBehind.executionApplied(execution, ledger.apply(execution).position);
  };
}

function acked(order: Order, status: 'New' | 'Cancelled', updatedTime: number): Order {
  return { ...order, orderId: 'o1', venue: { orderId: 'o1', status, priceTicks: order.intent.priceTicks, qtyLots: order.intent.qtyLots, cumExecLots: 0 as Lots, leavesLots: (status === 'New' ? order.intent.qtyLots : 0) as Lots, updatedTime } };
}

function newOrder(orderLinkId: string): Order {
  return createOrder({ orderLinkId, symbol: 'BTCUSDT', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
}

/** The eventIds on the bus so far for one shard, in the order received. */
async function eventIds(shard: string): Promise<string[]> {
  received.push(...(await drainEvents(aws.clients, queueUrl)));
  return received.filter((event) => event.detail.shard === shard).map((event) => event.detail.eventId);
}

async function storedOrder(orderLinkId: string): Promise<Record<string, unknown> | undefined> {
  const answer = await aws.clients.dynamodb.send(new GetItemCommand({ TableName: aws.stage.names.tables.orders, Key: marshall({ orderLinkId }), ConsistentRead: true }));
  return answer.Item && unmarshall(answer.Item);
}

async function storedFillIds(shard: string): Promise<string[]> {
  return (await scanTable(aws.clients, aws.stage.names.tables.fills)).filter((item) => item.shard === shard).map((item) => item.execId as string).sort();
}

const soon = () => Date.now() + 10_000;

describe('WriteBehind on DynamoDB and EventBridge', () => {
  it('writes only the newest state of an order, announces each venue state once, and clears what it owed', async () => {
    const { writeBehind } = journal('wb-a');
    const order = newOrder('wb-a-3-1');
    writeBehind.orderChanged(order, 0);
    writeBehind.orderChanged(acked(order, 'New', 10), 0);
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(await storedOrder('wb-a-3-1')).toMatchObject({ revision: 2, status: 'New', openShard: 'wb-a', epoch: 3 });
    expect(faults.dynamodb.sent.filter((command) => command === 'PutItemCommand')).toHaveLength(1);

    writeBehind.orderChanged(acked(order, 'Cancelled', 11), 0);
    expect(await writeBehind.drained(soon())).toBe(true);
    const closed = await storedOrder('wb-a-3-1');
    expect(closed).toMatchObject({ revision: 3, status: 'Cancelled' });
    expect(closed?.openShard).toBeUndefined();
    expect(await eventIds('wb-a')).toEqual(['order:wb-a-3-1:10:New', 'order:wb-a-3-1:11:Cancelled']);
    expect((await store().loadPendingEvents('wb-a')).orders).toEqual([]);
    expect(writeBehind.status()).toMatchObject({ written: { orders: 2, events: 2 }, pendingOrders: 0, pendingClears: 0 });
    await writeBehind.stop(soon());
  });

  it('writes fills in order with the position after them, 99 at most per transaction, each announced once', async () => {
    const { writeBehind } = journal('wb-b');
    const apply = applier(writeBehind);
    for (let index = 0; index < 150; index++) apply(trade(`wb-b-${index}`, 1_000 + index));
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    // 99 fills and their position, then the other 51 and theirs.
    expect(faults.dynamodb.sent.filter((command) => command.startsWith('TransactWriteItemsCommand'))).toEqual(['TransactWriteItemsCommand:100', 'TransactWriteItemsCommand:52']);
    expect(await storedFillIds('wb-b')).toHaveLength(150);
    expect((await store().loadPositions('wb-b'))[0]).toMatchObject({ execCount: 150, tradeCount: 150, sizeLots: '150', lastExecTime: 1_149 });
    const ids = await eventIds('wb-b');
    expect(ids).toHaveLength(150);
    expect(new Set(ids).size).toBe(150);
    await writeBehind.stop(soon());
  });

  it('skips fills an earlier attempt stored, still announces them, and writes the rest', async () => {
    // d1 stored by an attempt whose answer was lost.
    const earlier = new ExecutionLedger();
    const d1 = trade('wb-c-d1', 1);
    const position = earlier.apply(d1).position;
    await store().putFills([fillRecord(d1, BTCUSDT, { shard: 'wb-c', now: 1 })], positionRecord(position, BTCUSDT, { shard: 'wb-c', execCount: 1, epoch: 3, revision: 1, now: 1 }));

    const { writeBehind, logger } = journal('wb-c');
    const apply = applier(writeBehind);
    for (const execution of [d1, trade('wb-c-d2', 2), trade('wb-c-d3', 3)]) apply(execution);
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(await storedFillIds('wb-c')).toEqual(['wb-c-d1', 'wb-c-d2', 'wb-c-d3']);
    expect((await store().loadPositions('wb-c'))[0]).toMatchObject({ execCount: 3, sizeLots: '3' });
    expect((await eventIds('wb-c')).sort()).toEqual(['fill:wb-c-d1', 'fill:wb-c-d2', 'fill:wb-c-d3']);
    expect(writeBehind.status().duplicateFills).toBe(1);
    expect(logger.has('warn', 'fills already stored; writing the rest without them')).toBe(true);
    await writeBehind.stop(soon());
  });

  it('keeps failed writes, retries them, stops quoting past the lag, logs their content, and loses nothing', async () => {
    const { writeBehind, logger } = journal('wb-d');
    const apply = applier(writeBehind);
    faults.dynamodb.mode = 'throttle';
    faults.eventBridge.refuseEventIds.add('fill:wb-d-r2');
    writeBehind.start();
    apply(trade('wb-d-r1', 1));
    apply(trade('wb-d-r2', 2));
    expect(writeBehind.blocker(Date.now())).toBeUndefined();
    // Its content is on record while it is still being retried.
    const logged = await eventually('the content logged', () => logger.entries.find((entry) => entry.message === 'fills and position still not written; its content, which is still retried'));
    expect(logged.fields).toMatchObject({ attempts: 3, content: { execId: 'wb-d-r1', symbol: 'BTCUSDT' } });
    await eventually('quoting stopped for the lag', () => writeBehind.blocker(Date.now())?.match(/^state writes behind: oldest waiting \d+ ms$/) ?? undefined);
    expect(writeBehind.status()).toMatchObject({ pendingFills: 2 });
    expect(await storedFillIds('wb-d')).toEqual([]);

    faults.dynamodb.mode = 'none';
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(await storedFillIds('wb-d')).toEqual(['wb-d-r1', 'wb-d-r2']);
    // The event the bus refused was sent again; each is on the bus once.
    expect((await eventIds('wb-d')).sort()).toEqual(['fill:wb-d-r1', 'fill:wb-d-r2']);
    expect(faults.eventBridge.refuseEventIds.size).toBe(0);
    await eventually('quoting again', () => (writeBehind.blocker(Date.now() + 100) === undefined ? true : undefined));
    await writeBehind.stop(soon());
  });

  it('stops quoting when too many changes wait, even while they are young', () => {
    const { writeBehind } = journal('wb-e', { maxPendingItems: 3 });
    const apply = applier(writeBehind);
    for (let index = 0; index < 4; index++) apply(trade(`wb-e-${index}`, index));
    expect(writeBehind.blocker(Date.now())).toBe('state writes behind: 4 items waiting');
  });

  it('a newer generation fenced it: it stops writing and quoting, and logs what it could not write', async () => {
    const newer = journal('wb-f', {}, 9).writeBehind;
    applier(newer)(trade('wb-f-n1', 1));
    newer.start();
    expect(await newer.drained(soon())).toBe(true);
    await newer.stop(soon());

    const { writeBehind, logger } = journal('wb-f', {}, 3);
    applier(writeBehind)(trade('wb-f-z1', 2));
    writeBehind.start();
    await eventually('fenced', () => writeBehind.blocker(Date.now() + 100)?.match(/fenced/) ?? undefined);
    expect(await storedFillIds('wb-f')).toEqual(['wb-f-n1']);
    const logged = logger.entries.find((entry) => entry.message.startsWith('a newer generation wrote'));
    expect(logged?.fields).toMatchObject({ symbol: 'BTCUSDT', fills: [expect.objectContaining({ execId: 'wb-f-z1' })] });
    expect((await writeBehind.stop(soon())).unwritten).toBe(0);
  });

  it('on stop writes what is queued, and logs the content of what it could not write by the deadline', async () => {
    const { writeBehind, logger } = journal('wb-g');
    faults.dynamodb.mode = 'throttle';
    writeBehind.start();
    applier(writeBehind)(trade('wb-g-s1', 1));
    writeBehind.orderChanged(newOrder('wb-g-3-9'), 1);
    expect(await writeBehind.stop(Date.now() + 300)).toEqual({ unwritten: 2 });
    const logged = logger.entries.find((entry) => entry.message === 'state not written before stopping; its content follows');
    expect(logged?.fields).toMatchObject({ fills: [expect.objectContaining({ execId: 'wb-g-s1', fee: '-0.00065' })], orders: [expect.objectContaining({ intent: expect.objectContaining({ orderLinkId: 'wb-g-3-9' }) })] });
  });

  it('leaves a newer stored order alone; an owed mark that could not be cleared is cleared on a retry, the event published once', async () => {
    const order = newOrder('wb-h-3-5');
    // A newer generation wrote it meanwhile.
    await store().putOrder(orderRecord(order, BTCUSDT, { shard: 'wb-h', level: 0, epoch: 99, revision: 1, now: 1 }));
    const { writeBehind, logger } = journal('wb-h');
    faults.dynamodb.only.add('UpdateItemCommand');
    faults.dynamodb.mode = 'error';
    writeBehind.orderChanged(acked(order, 'New', 10), 0);
    applier(writeBehind)(trade('wb-h-c1', 1));
    writeBehind.start();
    await eventually('a clear refused', () => (logger.has('warn', 'writing published marks failed; retrying with backoff') ? true : undefined));
    faults.dynamodb.mode = 'none';
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(await storedOrder('wb-h-3-5')).toMatchObject({ epoch: 99, revision: 1 });
    expect(writeBehind.status()).toMatchObject({ staleOrders: 1, written: { orders: 0 }, pendingClears: 0 });
    expect(logger.has('warn', 'a newer state of this order is stored; not overwritten')).toBe(true);
    expect(await eventIds('wb-h')).toEqual(['fill:wb-h-c1']);
    expect((await store().loadPendingEvents('wb-h')).fills).toEqual([]);
    await writeBehind.stop(soon());
  });

  it('stores an order found from an earlier generation only where the store lacks that state, and lets fills go first', async () => {
    const { writeBehind } = journal('wb-j');
    const meta = (revision: number) => ({ shard: 'wb-j', level: undefined, epoch: 2, revision, now: 1 });
    // Stored already in the state found; stored in an older state; and forty never stored.
    const same = acked(newOrder('wb-j-2-1'), 'Cancelled', 20);
    const older = newOrder('wb-j-2-2');
    await store().putOrder(orderRecord(same, BTCUSDT, meta(4)));
    await store().putOrder(orderRecord(acked(older, 'New', 20), BTCUSDT, meta(2)));
    faults.dynamodb.sent.length = 0;
    const unstored = Array.from({ length: 40 }, (_, index) => `wb-j-2-${index + 10}`);
    writeBehind.earlierOrderFound(same);
    writeBehind.earlierOrderFound(acked(older, 'Cancelled', 21));
    for (const [index, orderLinkId] of unstored.entries()) writeBehind.earlierOrderFound(acked(newOrder(orderLinkId), 'Cancelled', 30 + index));
    // A fill applied while the first of them is being written goes before the rest of them.
    const apply = applier(writeBehind);
    faults.dynamodb.onSend = (command) => {
      if (command !== 'PutItemCommand') return;
      faults.dynamodb.onSend = undefined;
      apply(trade('wb-j-fill', 5_000));
    };
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    await writeBehind.stop(soon());

    const sent = faults.dynamodb.sent.filter((command) => command !== 'UpdateItemCommand');
    expect(sent[0]).toBe('BatchGetItemCommand');
    const fillAt = sent.indexOf('TransactWriteItemsCommand:2');
    expect(fillAt).toBeGreaterThan(0);
    expect(sent.slice(fillAt).filter((command) => command === 'PutItemCommand').length).toBeGreaterThan(0);
    // Forty-one written (the one stored alike is not), each with its event.
    expect(sent.filter((command) => command === 'PutItemCommand')).toHaveLength(41);
    expect(await storedOrder('wb-j-2-1')).toMatchObject({ epoch: 2, revision: 4, status: 'Cancelled' });
    expect(await storedOrder('wb-j-2-2')).toMatchObject({ epoch: 3, status: 'Cancelled' });
    for (const orderLinkId of unstored) expect(await storedOrder(orderLinkId)).toMatchObject({ epoch: 3, status: 'Cancelled', shard: 'wb-j' });
    const announced = (await eventIds('wb-j')).filter((eventId) => eventId.startsWith('order:'));
    expect(announced.sort()).toEqual(['order:wb-j-2-2:21:Cancelled', ...unstored.map((orderLinkId, index) => `order:${orderLinkId}:${30 + index}:Cancelled`)].sort());
    expect(writeBehind.status()).toMatchObject({ pendingEarlierOrders: 0, earlierOrdersStored: 1, written: { fills: 1, orders: 41 } });
  });

  it('carries on from a seed: revisions and execution counts continue, and owed events are published', async () => {
    const owed = trade('wb-i-o1', 5);
    const before = new ExecutionLedger().apply(owed).position;
    const owedRecord = fillRecord(owed, BTCUSDT, { shard: 'wb-i', now: 6 });
    await store().putFills([owedRecord], positionRecord(before, BTCUSDT, { shard: 'wb-i', execCount: 40, epoch: 2, revision: 40, now: 6 }));
    const { writeBehind } = journal('wb-i');
    writeBehind.seed({ orderRevisions: new Map([['wb-i-2-1', 7]]), execCounts: new Map([['BTCUSDT', 40]]), pendingOrders: [], pendingFills: [owedRecord] });
    writeBehind.orderChanged(newOrder('wb-i-2-1'), 0);
    writeBehind.executionApplied(trade('wb-i-o2', 6), new ExecutionLedger().apply(trade('wb-i-o2', 6)).position);
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect((await storedOrder('wb-i-2-1'))?.revision).toBe(8);
    expect((await store().loadPositions('wb-i'))[0]?.execCount).toBe(41);
    expect((await eventIds('wb-i')).sort()).toEqual(['fill:wb-i-o1', 'fill:wb-i-o2']);
    await writeBehind.stop(soon());
  });
});
