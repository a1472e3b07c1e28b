import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type VenueOrderReport, createOrder } from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';
import { OrderLinkIds, OrderTracker } from '../../../src/engine/tracker.js';

describe('orderLinkIds', () => {
  it('are shard, epoch and sequence: unique, within Bybit\'s 36 characters, and recognisable', () => {
    const ids = new OrderLinkIds('shard-a', 42);
    const minted = Array.from({ length: 1_000 }, () => ids.next());
    expect(minted[0]).toBe('shard-a-16-1');
    expect(new Set(minted).size).toBe(1_000);
    expect(minted.every((id) => /^[A-Za-z0-9_-]{1,36}$/.test(id))).toBe(true);
    expect(ids.isOurs('shard-a-17-5')).toBe(true);
    expect(ids.isOurs('shard-b-1-1')).toBe(false);
    // A shard whose name extends ours is not ours.
    expect(new OrderLinkIds('shard', 1).isOurs('shard-a-17-5')).toBe(false);
    expect(new OrderLinkIds('shard', 1).isOurs('shard-17-5')).toBe(true);
    const longest = new OrderLinkIds('s'.repeat(20), 2_000_000_000);
    for (let index = 0; index < 10; index++) longest.next();
    expect(longest.next().length).toBeLessThanOrEqual(36);
  });

  it('refuse a shard that leaves no room, or a bad epoch', () => {
    expect(() => new OrderLinkIds('s'.repeat(21), 1)).toThrow(/at most 20/);
    expect(() => new OrderLinkIds('bad shard', 1)).toThrow(/cannot prefix/);
    expect(() => new OrderLinkIds('a', -1)).toThrow(/epoch/);
  });
});

function report(overrides: Partial<VenueOrderReport> = {}): VenueOrderReport {
  return { orderId: 'o1', status: 'New', priceTicks: ticks(650_000), qtyLots: lots(10), cumExecLots: lots(0), leavesLots: lots(10), updatedTime: 100, ...overrides };
}

function trackerWithOrder(orderLinkId = 'l1', side: 'Buy' | 'Sell' = 'Buy', level = 0) {
  const tracker = new OrderTracker();
  tracker.register(createOrder({ orderLinkId, symbol: 'BTCUSDT', side, priceTicks: ticks(650_000), qtyLots: lots(10), createdAt: 1 }), { symbol: 'BTCUSDT', side, level });
  return tracker;
}

describe('OrderTracker', () => {
  it('moves orders through the state machine and counts what it refuses', () => {
    const tracker = trackerWithOrder();
    expect(tracker.onVenueReport('l1', report())).toMatchObject({ kind: 'applied' });
    expect(tracker.onVenueReport('l1', report())).toMatchObject({ kind: 'unchanged' });
    expect(tracker.apply('l1', { type: 'AmendRequested', priceTicks: ticks(650_000), qtyLots: lots(10) })).toMatchObject({ kind: 'illegal' });
    expect(tracker.illegalTransitions.get('no-change')).toBe(1);
    expect(tracker.onVenueReport('someone-else', report())).toEqual({ kind: 'foreign', orderLinkId: 'someone-else' });
  });

  it('offers resting quotes to the planner, but not those with an operation in flight', () => {
    const tracker = trackerWithOrder('l1', 'Buy', 0);
    tracker.register(createOrder({ orderLinkId: 'l2', symbol: 'BTCUSDT', side: 'Sell', priceTicks: ticks(650_010), qtyLots: lots(10), createdAt: 1 }), { symbol: 'BTCUSDT', side: 'Sell', level: 0 });
    tracker.onVenueReport('l1', report({ status: 'PartiallyFilled', cumExecLots: lots(4), leavesLots: lots(6) }));
    tracker.onVenueReport('l2', report({ orderId: 'o2', priceTicks: ticks(650_010) }));
    tracker.apply('l2', { type: 'CancelRequested' });
    expect(tracker.restingQuotes('BTCUSDT')).toEqual([{ orderLinkId: 'l1', side: 'Buy', level: 0, priceTicks: 650_000, qtyLots: 6 }]);
    expect(tracker.occupiedSlots('BTCUSDT')).toEqual(new Set(['Buy:0', 'Sell:0']));
    expect(tracker.exposure('BTCUSDT')).toEqual({ buyLots: 6, sellLots: 10, bestBid: 650_000, bestAsk: 650_010, openCount: 2 });
  });

  it('frees the slot once the order is closed, and prunes old closed orders', () => {
    const tracker = trackerWithOrder();
    tracker.onVenueReport('l1', report({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 200 }));
    expect(tracker.openOrders('BTCUSDT')).toEqual([]);
    expect(tracker.occupiedSlots('BTCUSDT').size).toBe(0);
    expect(tracker.prune(150)).toBe(0);
    expect(tracker.prune(201)).toBe(1);
    expect(tracker.get('l1')).toBeUndefined();
  });

  it('applies each execution once, whichever path delivers it', () => {
    const tracker = new OrderTracker();
    const execution = { kind: 'trade' as const, execId: 'x1', symbol: 'BTCUSDT', orderId: 'o1', orderLinkId: 'l1', side: 'Buy' as const, priceTicks: ticks(650_000), qtyLots: lots(4), fee: dec('-0.0065'), feeRate: dec('-0.000025'), isMaker: true, execTime: 1 };
    expect(tracker.onExecution(execution).applied).toBe(true);
    expect(tracker.onExecution({ ...execution }).applied).toBe(false);
    expect(tracker.position('BTCUSDT').sizeLots).toBe(4n);
    expect(tracker.hasExecution('x1')).toBe(true);
  });
});
