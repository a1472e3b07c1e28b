import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type Order, type VenueOrderReport, createOrder, orderStatus, transition } from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';

const intent = { orderLinkId: 's1-e1-000042', symbol: 'BTCUSDT', side: 'Sell' as const, priceTicks: ticks(650_000), qtyLots: lots(20), createdAt: 0 };

type Step = { kind: 'fill'; lots: number; dt: number } | { kind: 'amend'; priceDelta: number; qtyDelta: number; dt: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  // Fills can share a millisecond with the report before them; amends cannot (a round trip apart).
  fc.record({ kind: fc.constant('fill' as const), lots: fc.integer({ min: 1, max: 8 }), dt: fc.integer({ min: 0, max: 500 }) }),
  fc.record({
    kind: fc.constant('amend' as const),
    priceDelta: fc.integer({ min: -50, max: 50 }),
    qtyDelta: fc.integer({ min: -5, max: 5 }),
    dt: fc.integer({ min: 1, max: 500 }),
  }),
);

/** A lifecycle the venue could really report: New, fills and amends in time order, then maybe a close. */
function lifecycle(steps: Step[], end: 'open' | 'cancel'): VenueOrderReport[] {
  let time = 1_000;
  let price = 650_000;
  let qty = 20;
  let cum = 0;
  const reports: VenueOrderReport[] = [];
  const push = (status: VenueOrderReport['status']) =>
    reports.push({ orderId: 'oid-42', status, priceTicks: ticks(price), qtyLots: lots(qty), cumExecLots: lots(cum), leavesLots: lots(status === 'Cancelled' ? 0 : qty - cum), updatedTime: time });
  push('New');
  for (const step of steps) {
    time += step.dt;
    if (step.kind === 'fill') {
      cum = Math.min(qty, cum + step.lots);
      push(cum === qty ? 'Filled' : 'PartiallyFilled');
      if (cum === qty) return reports;
    } else {
      price = Math.max(1, price + step.priceDelta);
      qty = Math.max(cum + 1, qty + step.qtyDelta);
      push(cum > 0 ? 'PartiallyFilled' : 'New');
    }
  }
  if (end === 'cancel') {
    time += 1;
    push('Cancelled');
  }
  return reports;
}

function applyAll(reports: readonly VenueOrderReport[]): Order {
  let order = createOrder(intent);
  for (const report of reports) {
    const result = transition(order, { type: 'VenueReport', report });
    if (!result.ok) throw result.error;
    order = result.order;
  }
  return order;
}

describe('order state machine under reordering and duplication', () => {
  it('ends in the state of the ordered sequence, whatever the delivery order and duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 25 }),
        fc.constantFrom('open' as const, 'cancel' as const),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.infiniteStream(fc.nat()),
        (steps, end, duplicateIndexes, shuffleSeeds) => {
          const ordered = lifecycle(steps, end);
          const expected = applyAll(ordered);
          const delivered = [...ordered, ...duplicateIndexes.map((index) => ordered[index % ordered.length]!)];
          // Fisher-Yates driven by the generated stream, so failures shrink and replay.
          const seeds = shuffleSeeds[Symbol.iterator]();
          for (let i = delivered.length - 1; i > 0; i--) {
            const j = (seeds.next().value as number) % (i + 1);
            [delivered[i], delivered[j]] = [delivered[j]!, delivered[i]!];
          }
          const actual = applyAll(delivered);
          expect(orderStatus(actual)).toBe(orderStatus(expected));
          expect(actual.venue).toEqual(expected.venue);
          expect(actual.venue).toEqual(ordered[ordered.length - 1]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
