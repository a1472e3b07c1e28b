/**
 * The DynamoDB state store and the EventBridge publisher, with the real SDK clients on the emulator:
 * fencing of order and position writes, fills stored once each, the outbox marks, consistent reads of
 * what a restart needs, and corrupt items refused by name.
 */
import { describe, expect, it } from '@jest/globals';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoStateStore } from '../../src/adapters/dynamodb/state-store.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge/publisher.js';
import { dec } from '../../src/core/decimal.js';
import { createOrder } from '../../src/core/order.js';
import { type Position, flatPosition, applyTrade } from '../../src/core/position.js';
import { type FillRecord, RecordError, fillEvent, fillRecord, orderRecord, positionRecord } from '../../src/core/records.js';
import type { Lots, Ticks } from '../../src/core/units.js';
import { useProvisionedStage } from '../support/aws.js';
import { drainEvents, subscribeEngineEvents } from '../support/durability.js';
import { BTCUSDT } from '../support/instruments.js';

const aws = useProvisionedStage();

function store(): DynamoStateStore {
  return new DynamoStateStore({ client: aws.clients.dynamodb, tables: aws.stage.names.tables, requestTimeoutMs: 5_000 });
}

function trade(execId: string, execTime: number) {
  return {
    kind: 'trade' as const,
    execId,
    symbol: 'BTCUSDT',
    orderId: `o-${execId}`,
    orderLinkId: `s-1-${execId}`,
    side: 'Buy' as const,
    priceTicks: 650_000 as Ticks,
    qtyLots: 2 as Lots,
    fee: dec('-0.0013'),
    feeRate: dec('-0.0001'),
    isMaker: true,
    execTime,
  };
}

/** Fills applied in order, with the position after them, as the write-behind builds them. */
function batch(shard: string, executions: ReturnType<typeof trade>[], epoch: number, start: { position: Position; count: number } = { position: flatPosition('BTCUSDT'), count: 0 }) {
  let position = start.position;
  const fills: FillRecord[] = [];
  for (const execution of executions) {
    position = applyTrade(position, execution);
    fills.push(fillRecord(execution, BTCUSDT, { shard, now: 1_000 }));
  }
  const execCount = start.count + executions.length;
  return { fills, position: positionRecord(position, BTCUSDT, { shard, execCount, epoch, revision: execCount, now: 1_000 }), after: { position, count: execCount } };
}

describe('DynamoStateStore', () => {
  it('stores fills once each, atomically with their position, and reports duplicates and fencing', async () => {
    const shard = 'fills-a';
    const first = batch(shard, [trade('a1', 10), trade('a2', 11)], 5);
    expect(await store().putFills(first.fills, first.position)).toEqual({ kind: 'written' });
    // The same batch again (an answer lost): nothing written, the stored fills named.
    expect(await store().putFills(first.fills, first.position)).toEqual({ kind: 'duplicates', execIds: ['a1', 'a2'] });

    // A retry that grew meanwhile: duplicates named, and nothing of the new fill written yet.
    const grown = batch(shard, [trade('a1', 10), trade('a2', 11), trade('a3', 12)], 5);
    expect(await store().putFills(grown.fills, grown.position)).toEqual({ kind: 'duplicates', execIds: ['a1', 'a2'] });
    expect(await store().storedExecIds(['a1', 'a2', 'a3', 'zz'])).toEqual(new Set(['a1', 'a2']));

    // Written without them, the position moves on to count all three.
    const rest = batch(shard, [trade('a3', 12)], 5, first.after);
    expect(await store().putFills(rest.fills, rest.position)).toEqual({ kind: 'written' });
    const [stored] = await store().loadPositions(shard);
    expect(stored).toMatchObject({ symbol: 'BTCUSDT', execCount: 3, tradeCount: 3, sizeLots: '6', position: '0.006', rebatesEarned: '0.0039', lastExecTime: 12 });

    // An older generation can no longer write this position, nor its fills with it.
    const zombie = batch(shard, [trade('a9', 13)], 4, rest.after);
    expect(await store().putFills(zombie.fills, zombie.position)).toEqual({ kind: 'fenced' });
    expect(await store().storedExecIds(['a9'])).toEqual(new Set());

    // A new generation claims the position before reading it: what the last one still had in flight is refused.
    await store().claimPositions(shard, ['BTCUSDT', 'ETHUSDT'], 6);
    expect((await store().loadPositions(shard)).map((item) => [item.symbol, item.epoch, item.execCount])).toEqual([['BTCUSDT', 6, 3]]);
    const inFlight = batch(shard, [trade('a4', 14)], 5, rest.after);
    expect(await store().putFills(inFlight.fills, inFlight.position)).toEqual({ kind: 'fenced' });
    // An older claim changes nothing.
    await store().claimPositions(shard, ['BTCUSDT'], 5);
    expect((await store().loadPositions(shard))[0]?.epoch).toBe(6);
    await expect(store().putFills([], rest.position)).rejects.toThrow(RangeError);
  });

  it('replaces an order only with a newer generation or revision; open orders and owed events are indexed', async () => {
    const shard = 'orders-a';
    const order = createOrder({ orderLinkId: `${shard}-1-1`, symbol: 'BTCUSDT', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
    const acked = { ...order, orderId: 'o1', venue: { orderId: 'o1', status: 'New' as const, priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, cumExecLots: 0 as Lots, leavesLots: 2 as Lots, updatedTime: 5 } };
    const record = (value: typeof order, epoch: number, revision: number) => orderRecord(value, BTCUSDT, { shard, level: 0, epoch, revision, now: 9 });
    expect(await store().putOrder(record(order, 7, 1))).toBe('written');
    expect(await store().putOrder(record(acked, 7, 2))).toBe('written');
    expect(await store().putOrder(record(order, 7, 2))).toBe('stale');
    expect(await store().putOrder(record(order, 6, 9))).toBe('stale');

    const open = await store().loadOpenOrders(shard);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ orderLinkId: `${shard}-1-1`, status: 'New', revision: 2, venue: { orderId: 'o1' }, level: 0 });
    const pending = await store().loadPendingEvents(shard);
    expect(pending.orders.map((item) => item.pendingEventId)).toEqual([`order:${shard}-1-1:5:New`]);

    // The owed mark is cleared only for the event that was published.
    await store().clearPendingEvent('orders', `${shard}-1-1`, 'order:another:1:New');
    expect((await store().loadPendingEvents(shard)).orders).toHaveLength(1);
    await store().clearPendingEvent('orders', `${shard}-1-1`, `order:${shard}-1-1:5:New`);
    expect((await store().loadPendingEvents(shard)).orders).toHaveLength(0);

    // A newer generation takes over whatever the revision.
    const filled = { ...acked, venue: { ...acked.venue, status: 'Filled' as const, cumExecLots: 2 as Lots, leavesLots: 0 as Lots, updatedTime: 6 } };
    expect(await store().putOrder(record(filled, 8, 1))).toBe('written');
    expect(await store().loadOpenOrders(shard)).toEqual([]);
  });

  it('refuses a corrupt item by name instead of restoring it', async () => {
    const shard = 'corrupt-a';
    const good = batch(shard, [trade('c1', 10)], 1).position;
    await aws.clients.dynamodb.send(new PutItemCommand({ TableName: aws.stage.names.tables.positions, Item: marshall({ ...good, sizeLots: 'twelve' }) }));
    await expect(store().loadPositions(shard)).rejects.toThrow(RecordError);
    await expect(store().loadPositions(shard)).rejects.toThrow(/corrupt position: sizeLots: expected an integer string/);
  });
});

describe('EventBridgePublisher', () => {
  it('puts events on the bus with the engine as source, and checks sizes before sending', async () => {
    const queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
    const publisher = new EventBridgePublisher({ client: aws.clients.eventBridge, eventBusName: aws.stage.names.eventBus, requestTimeoutMs: 5_000 });
    const detail = fillEvent(fillRecord(trade('e1', 10), BTCUSDT, { shard: 'pub', now: 1 }));
    expect(await publisher.publish([{ detailType: 'Fill', detail, time: 10 }])).toEqual([]);
    const received = await drainEvents(aws.clients, queueUrl);
    expect(received).toEqual([{ detailType: 'Fill', source: 'mm-rebate-bot.engine', detail }]);
    expect(await publisher.publish([])).toEqual([]);
    await expect(publisher.publish(Array.from({ length: 11 }, () => ({ detailType: 'Fill' as const, detail, time: 10 })))).rejects.toThrow(RangeError);
    await expect(publisher.publish([{ detailType: 'Fill', detail: { ...detail, orderLinkId: 'x'.repeat(70_000) } as typeof detail, time: 10 }])).rejects.toThrow(/bytes/);
  });
});
