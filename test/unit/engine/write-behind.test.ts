/**
 * The write-behind journal with in-memory ports that keep the store's rules (fencing by epoch and
 * revision, fills once each) and can fail on demand: what it writes, in which order, what it retries,
 * when it tells the engine to stop quoting, and that nothing is lost or left without a trace.
 */
import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type Order, createOrder } from '../../../src/core/order.js';
import { type TradeExecution, ExecutionLedger } from '../../../src/core/position.js';
import { type FillRecord, type OrderRecord, type PositionRecord, fillRecord, orderRecord } from '../../../src/core/records.js';
import type { Lots, Ticks } from '../../../src/core/units.js';
import { WriteBehind, type WriteBehindSettings } from '../../../src/engine/write-behind.js';
import type { BusEvent, EventPublisher, FillsWriteOutcome, OrderWriteOutcome, StateStore } from '../../../src/ports/state-store.js';
import { BTCUSDT } from '../../support/instruments.js';
import { RecordingLogger } from './engine-harness.js';

class MemoryStore implements StateStore {
  readonly orders = new Map<string, OrderRecord>();
  readonly fills = new Map<string, FillRecord>();
  readonly positions = new Map<string, PositionRecord>();
  readonly cleared: string[] = [];
  readonly fillBatches: string[][] = [];
  /** Failures to throw, one per call, before answering again. */
  failNext = 0;
  /** Pretends these execIds were stored by an attempt whose answer was lost. */
  readonly storedBehindOurBack = new Set<string>();

  private fail(): void {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
    }
  }

  putOrder(record: OrderRecord): Promise<OrderWriteOutcome> {
    this.fail();
    const stored = this.orders.get(record.orderLinkId);
    if (stored && (stored.epoch > record.epoch || (stored.epoch === record.epoch && stored.revision >= record.revision))) return Promise.resolve('stale');
    this.orders.set(record.orderLinkId, record);
    return Promise.resolve('written');
  }

  putFills(fills: readonly FillRecord[], position: PositionRecord): Promise<FillsWriteOutcome> {
    this.fail();
    const duplicates = fills.filter((fill) => this.fills.has(fill.execId) || this.storedBehindOurBack.has(fill.execId)).map((fill) => fill.execId);
    if (duplicates.length > 0) {
      for (const fill of fills) if (this.storedBehindOurBack.delete(fill.execId)) this.fills.set(fill.execId, fill);
      return Promise.resolve({ kind: 'duplicates', execIds: duplicates });
    }
    const stored = this.positions.get(position.symbol);
    if (stored && (stored.epoch > position.epoch || (stored.epoch === position.epoch && stored.execCount >= position.execCount))) return Promise.resolve({ kind: 'fenced' });
    for (const fill of fills) this.fills.set(fill.execId, fill);
    this.positions.set(position.symbol, position);
    this.fillBatches.push(fills.map((fill) => fill.execId));
    return Promise.resolve({ kind: 'written' });
  }

  /** Clears that fail (the mark stays: a restart publishes the event again). */
  failClears = 0;

  clearPendingEvent(_table: 'orders' | 'fills', _key: string, eventId: string): Promise<void> {
    if (this.failClears > 0) {
      this.failClears -= 1;
      return Promise.reject(new Error('ProvisionedThroughputExceededException'));
    }
    this.cleared.push(eventId);
    return Promise.resolve();
  }

  claimPositions(): Promise<void> {
    return Promise.resolve();
  }

  loadPositions(): Promise<PositionRecord[]> {
    return Promise.resolve([...this.positions.values()]);
  }

  loadOpenOrders(): Promise<OrderRecord[]> {
    return Promise.resolve([...this.orders.values()].filter((record) => record.openShard !== undefined));
  }

  storedExecIds(execIds: readonly string[]): Promise<Set<string>> {
    return Promise.resolve(new Set(execIds.filter((execId) => this.fills.has(execId))));
  }

  loadPendingEvents(): Promise<{ orders: OrderRecord[]; fills: FillRecord[] }> {
    return Promise.resolve({ orders: [], fills: [] });
  }
}

class MemoryBus implements EventPublisher {
  readonly events: BusEvent[] = [];
  /** eventIds the bus refuses once each (FailedEntryCount). */
  readonly refuseOnce = new Set<string>();
  failNext = 0;

  publish(events: readonly BusEvent[]): Promise<readonly number[]> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('InternalException'));
    }
    const refused: number[] = [];
    events.forEach((event, index) => {
      if (this.refuseOnce.delete(event.detail.eventId)) refused.push(index);
      else this.events.push(event);
    });
    return Promise.resolve(refused);
  }

  ids(): string[] {
    return this.events.map((event) => event.detail.eventId);
  }
}

const SETTINGS: WriteBehindSettings = { flushIntervalMs: 5, stopQuotingLagMs: 200, maxPendingItems: 50, backoffBaseMs: 5, backoffMaxMs: 20, logAfterAttempts: 3 };

function journal(store: MemoryStore, bus: MemoryBus, settings: Partial<WriteBehindSettings> = {}, epoch = 3) {
  const logger = new RecordingLogger();
  const writeBehind = new WriteBehind({
    store,
    publisher: bus,
    shard: 's',
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
  return { kind: 'trade', execId, symbol: 'BTCUSDT', orderId: 'o1', orderLinkId: 's-3-1', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 1 as Lots, fee: dec('-0.00065'), feeRate: dec('-0.0001'), isMaker: true, execTime };
}

const ledger = new ExecutionLedger();
function apply(writeBehind: WriteBehind, execution: TradeExecution): void {
  const { position } = ledger.apply(execution);
  writeBehind.executionApplied(execution, position);
}

function acked(order: Order, status: 'New' | 'Cancelled', updatedTime: number): Order {
  return { ...order, orderId: 'o1', venue: { orderId: 'o1', status, priceTicks: order.intent.priceTicks, qtyLots: order.intent.qtyLots, cumExecLots: 0 as Lots, leavesLots: (status === 'New' ? order.intent.qtyLots : 0) as Lots, updatedTime } };
}

const soon = () => Date.now() + 5_000;

function recordOf(order: Order): OrderRecord {
  return orderRecord(order, BTCUSDT, { shard: 's', level: 0, epoch: 1, revision: 1, now: 1 });
}

describe('WriteBehind', () => {
  it('writes only the newest state of an order, announces each venue state once, and forgets it once closed', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind } = journal(store, bus);
    const order = createOrder({ orderLinkId: 's-3-1', symbol: 'BTCUSDT', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
    writeBehind.orderChanged(order, 0);
    writeBehind.orderChanged(acked(order, 'New', 10), 0);
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.orders.get('s-3-1')).toMatchObject({ revision: 2, status: 'New', openShard: 's', epoch: 3 });
    expect(bus.ids()).toEqual(['order:s-3-1:10:New']);
    expect(store.cleared).toEqual(['order:s-3-1:10:New']);

    writeBehind.orderChanged(acked(order, 'Cancelled', 11), 0);
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.orders.get('s-3-1')).toMatchObject({ revision: 3, status: 'Cancelled' });
    expect(store.orders.get('s-3-1')?.openShard).toBeUndefined();
    expect(bus.ids()).toEqual(['order:s-3-1:10:New', 'order:s-3-1:11:Cancelled']);
    expect(writeBehind.status()).toMatchObject({ written: { orders: 2, events: 2 }, pendingOrders: 0 });
    await writeBehind.stop(soon());
  });

  it('writes fills in order with the position after them, 99 at most per write, each announced once', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind } = journal(store, bus, { maxPendingItems: 500 });
    for (let index = 0; index < 150; index++) apply(writeBehind, trade(`f${index}`, 1_000 + index));
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.fillBatches.map((batch) => batch.length)).toEqual([99, 51]);
    expect(store.fillBatches.flat()).toEqual(Array.from({ length: 150 }, (_, index) => `f${index}`));
    expect(store.positions.get('BTCUSDT')).toMatchObject({ execCount: 150, tradeCount: 150, sizeLots: '150', lastExecTime: 1_149 });
    expect(new Set(bus.ids()).size).toBe(150);
    expect(bus.ids()).toHaveLength(150);
    await writeBehind.stop(soon());
  });

  it('skips fills an earlier attempt stored, still announces them, and writes the rest', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind, logger } = journal(store, bus);
    const local = new ExecutionLedger();
    for (const execution of [trade('d1', 1), trade('d2', 2), trade('d3', 3)]) writeBehind.executionApplied(execution, local.apply(execution).position);
    store.storedBehindOurBack.add('d1');
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.fillBatches).toEqual([['d2', 'd3']]);
    expect([...store.fills.keys()].sort()).toEqual(['d1', 'd2', 'd3']);
    expect(bus.ids().sort()).toEqual(['fill:d1', 'fill:d2', 'fill:d3']);
    expect(writeBehind.status().duplicateFills).toBe(1);
    expect(logger.has('warn', 'fills already stored; writing the rest without them')).toBe(true);
    await writeBehind.stop(soon());
  });

  it('keeps failed writes, retries them with backoff, stops quoting past the lag, logs their content, and loses nothing', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind, logger } = journal(store, bus);
    store.failNext = 1_000_000;
    bus.failNext = 3;
    bus.refuseOnce.add('fill:r2');
    writeBehind.start();
    const local = new ExecutionLedger();
    for (const execution of [trade('r1', 1), trade('r2', 2)]) writeBehind.executionApplied(execution, local.apply(execution).position);
    expect(writeBehind.blocker(Date.now())).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(writeBehind.blocker(Date.now())).toMatch(/^state writes behind: oldest waiting \d+ ms$/);
    expect(writeBehind.status()).toMatchObject({ pendingFills: 2 });
    expect(writeBehind.status().retries).toBeGreaterThanOrEqual(3);
    // Its content is on record while it is still being retried.
    const logged = logger.entries.find((entry) => entry.message === 'fills and position still not written; its content, which is still retried');
    expect(logged?.fields).toMatchObject({ attempts: 3, content: { execId: 'r1', symbol: 'BTCUSDT' } });

    store.failNext = 0;
    expect(await writeBehind.drained(soon())).toBe(true);
    expect([...store.fills.keys()]).toEqual(['r1', 'r2']);
    // The refused event was sent again; each is on the bus once.
    expect(bus.ids().sort()).toEqual(['fill:r1', 'fill:r2']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(writeBehind.blocker(Date.now())).toBeUndefined();
    await writeBehind.stop(soon());
  });

  it('stops quoting when too many changes wait, even while they are young', () => {
    const { writeBehind } = journal(new MemoryStore(), new MemoryBus(), { maxPendingItems: 3 });
    for (let index = 0; index < 4; index++) apply(writeBehind, trade(`m${index}`, index));
    expect(writeBehind.blocker(Date.now())).toBe('state writes behind: 4 items waiting');
  });

  it('a newer generation fenced it: it stops writing and quoting, and logs what it could not write', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const newer = journal(store, bus, {}, 9).writeBehind;
    const local = new ExecutionLedger();
    newer.executionApplied(trade('n1', 1), local.apply(trade('n1', 1)).position);
    newer.start();
    expect(await newer.drained(soon())).toBe(true);
    await newer.stop(soon());

    const { writeBehind, logger } = journal(store, bus, {}, 3);
    const mine = new ExecutionLedger();
    writeBehind.executionApplied(trade('z1', 2), mine.apply(trade('z1', 2)).position);
    writeBehind.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writeBehind.blocker(Date.now() + 100)).toMatch(/fenced/);
    expect(store.fills.has('z1')).toBe(false);
    const logged = logger.entries.find((entry) => entry.message.startsWith('a newer generation wrote'));
    expect(logged?.fields).toMatchObject({ symbol: 'BTCUSDT', fills: [expect.objectContaining({ execId: 'z1' })] });
    expect((await writeBehind.stop(soon())).unwritten).toBe(0);
  });

  it('on stop writes what is queued, and logs the content of what it could not write by the deadline', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind, logger } = journal(store, bus);
    writeBehind.start();
    store.failNext = 1_000_000;
    apply(writeBehind, trade('s1', 1));
    const order = createOrder({ orderLinkId: 's-3-9', symbol: 'BTCUSDT', side: 'Sell', priceTicks: 650_010 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
    writeBehind.orderChanged(order, 1);
    expect(await writeBehind.stop(Date.now() + 100)).toEqual({ unwritten: 2 });
    const logged = logger.entries.find((entry) => entry.message === 'state not written before stopping; its content follows');
    expect(logged?.fields).toMatchObject({ fills: [expect.objectContaining({ execId: 's1', fee: '-0.00065' })], orders: [expect.objectContaining({ intent: expect.objectContaining({ orderLinkId: 's-3-9' }) })] });
  });

  it('leaves a newer stored order alone; an owed mark that could not be cleared is cleared on a retry, the event published once', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const order = createOrder({ orderLinkId: 's-3-5', symbol: 'BTCUSDT', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
    // A newer generation wrote it meanwhile.
    await store.putOrder({ ...recordOf(order), epoch: 99 });
    const { writeBehind, logger } = journal(store, bus);
    store.failClears = 1;
    writeBehind.orderChanged(acked(order, 'New', 10), 0);
    apply(writeBehind, trade('c1', 1));
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.orders.get('s-3-5')?.epoch).toBe(99);
    expect(writeBehind.status()).toMatchObject({ staleOrders: 1, written: { orders: 0 } });
    expect(logger.has('warn', 'a newer state of this order is stored; not overwritten')).toBe(true);
    // Published once; its owed mark, refused once, is cleared on the next round.
    expect(bus.ids()).toEqual(['fill:c1']);
    expect(store.cleared).toEqual(['fill:c1']);
    expect(logger.has('warn', 'writing published marks failed; retrying with backoff')).toBe(true);
    expect(writeBehind.status().pendingClears).toBe(0);
    await writeBehind.stop(soon());
  });

  it('carries on from a seed: revisions continue, and owed events are published', async () => {
    const store = new MemoryStore();
    const bus = new MemoryBus();
    const { writeBehind } = journal(store, bus);
    const owed = fillRecord(trade('o1', 5), BTCUSDT, { shard: 's', now: 6 });
    writeBehind.seed({ orderRevisions: new Map([['s-2-1', 7]]), execCounts: new Map([['BTCUSDT', 40]]), pendingOrders: [], pendingFills: [owed] });
    const order = createOrder({ orderLinkId: 's-2-1', symbol: 'BTCUSDT', side: 'Buy', priceTicks: 650_000 as Ticks, qtyLots: 2 as Lots, createdAt: 1 });
    writeBehind.orderChanged(order, 0);
    writeBehind.executionApplied(trade('o2', 6), new ExecutionLedger().apply(trade('o2', 6)).position);
    writeBehind.start();
    expect(await writeBehind.drained(soon())).toBe(true);
    expect(store.orders.get('s-2-1')?.revision).toBe(8);
    expect(store.positions.get('BTCUSDT')?.execCount).toBe(41);
    expect(bus.ids()).toEqual(expect.arrayContaining(['fill:o1', 'fill:o2']));
    await writeBehind.stop(soon());
  });
});
