import { describe, expect, it } from '@jest/globals';
import { type Order, type VenueOrderReport, createOrder, transition } from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';
import { type ReconcileInput, reconcile } from '../../../src/engine/reconcile.js';

const report = (orderId: string, overrides: Partial<VenueOrderReport> = {}): VenueOrderReport => ({
  orderId,
  status: 'New',
  priceTicks: ticks(650_000),
  qtyLots: lots(10),
  cumExecLots: lots(0),
  leavesLots: lots(10),
  updatedTime: 1,
  ...overrides,
});

function localOrder(orderLinkId: string, venue?: VenueOrderReport): Order {
  const order = createOrder({ orderLinkId, symbol: 'BTCUSDT', side: 'Buy', priceTicks: ticks(650_000), qtyLots: lots(10), createdAt: 0 });
  if (!venue) return order;
  const result = transition(order, { type: 'VenueReport', report: venue });
  if (!result.ok) throw result.error;
  return result.order;
}

const base = (overrides: Partial<ReconcileInput>): ReconcileInput => ({
  symbol: 'BTCUSDT',
  venueOpen: [],
  local: [],
  venuePositionLots: 0n,
  localPositionLots: 0n,
  isOurs: (orderLinkId) => orderLinkId.startsWith('shard-a-'),
  cancelUnknownOrders: true,
  ...overrides,
});

describe('reconciliation', () => {
  it('applies the venue\'s reports to orders both sides know, and may quote when nothing is open to doubt', () => {
    const plan = reconcile(base({ venueOpen: [{ orderLinkId: 'shard-a-1-1', report: report('o1', { cumExecLots: lots(3), leavesLots: lots(7), status: 'PartiallyFilled' }) }], local: [localOrder('shard-a-1-1', report('o1'))] }));
    expect(plan.apply.map((entry) => entry.orderLinkId)).toEqual(['shard-a-1-1']);
    expect(plan).toMatchObject({ cancel: [], adopt: [], query: [], canQuote: true, findings: [] });
  });

  it('cancels open orders it does not know, whoever sent them, when the policy says so', () => {
    const plan = reconcile(base({ venueOpen: [{ orderLinkId: 'shard-a-0-9', report: report('o9') }, { orderLinkId: '', report: report('o7') }] }));
    expect(plan.cancel.map((entry) => entry.report.orderId)).toEqual(['o9', 'o7']);
    expect(plan.canQuote).toBe(false);
    expect(plan.findings).toEqual(['BTCUSDT: cancelling unknown open order shard-a-0-9', 'BTCUSDT: cancelling unknown open order o7']);
  });

  it('otherwise adopts our earlier generation\'s orders and leaves foreign ones alone', () => {
    const plan = reconcile(base({ cancelUnknownOrders: false, venueOpen: [{ orderLinkId: 'shard-a-0-9', report: report('o9') }, { orderLinkId: 'manual-1', report: report('o8') }] }));
    expect(plan.adopt.map((entry) => entry.orderLinkId)).toEqual(['shard-a-0-9']);
    expect(plan.ignore.map((entry) => entry.orderLinkId)).toEqual(['manual-1']);
    expect(plan.canQuote).toBe(true);
  });

  it('never assumes the fate of an order open here but missing at the venue: it queries, and holds quoting', () => {
    const plan = reconcile(base({ local: [localOrder('shard-a-1-2', report('o2')), localOrder('shard-a-1-3'), localOrder('shard-a-1-4', report('o4', { status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0) }))] }));
    expect(plan.query).toEqual(['shard-a-1-2', 'shard-a-1-3']);
    expect(plan.canQuote).toBe(false);
  });

  it('reports a position difference and takes the venue\'s', () => {
    const plan = reconcile(base({ venuePositionLots: 25n, localPositionLots: 20n }));
    expect(plan.positionMismatchLots).toBe(5n);
    expect(plan.findings).toEqual(["BTCUSDT: position differs by 5 lots (venue 25, here 20); the venue's is taken"]);
  });
});
