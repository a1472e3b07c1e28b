import { describe, expect, it } from '@jest/globals';
import {
  type Order,
  type OrderEvent,
  type TransitionResult,
  type VenueOrderReport,
  IllegalTransitionError,
  compareReports,
  createOrder,
  filledLots,
  isOrderOpen,
  isTerminalStatus,
  orderStatus,
  transition,
  transitionAll,
  workingPriceTicks,
  workingQtyLots,
} from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';

const intent = { orderLinkId: 's1-e3-000001', symbol: 'BTCUSDT', side: 'Buy' as const, priceTicks: ticks(650_000), qtyLots: lots(10), createdAt: 1_000 };

function report(overrides: Partial<VenueOrderReport> = {}): VenueOrderReport {
  return { orderId: 'oid-1', status: 'New', priceTicks: ticks(650_000), qtyLots: lots(10), cumExecLots: lots(0), leavesLots: lots(10), updatedTime: 1_010, ...overrides };
}

function ok(result: TransitionResult): Order {
  if (!result.ok) throw result.error;
  return result.order;
}

function run(...events: OrderEvent[]): Order {
  return ok(transitionAll(createOrder(intent), events));
}

function rejection(result: TransitionResult): IllegalTransitionError {
  if (result.ok) throw new Error(`expected an illegal transition, got ${orderStatus(result.order)}`);
  return result.error;
}

const venue = (overrides: Partial<VenueOrderReport> = {}): OrderEvent => ({ type: 'VenueReport', report: report(overrides) });

describe('order lifecycle', () => {
  it('starts PendingNew with what we sent', () => {
    const order = createOrder(intent);
    expect(orderStatus(order)).toBe('PendingNew');
    expect(workingPriceTicks(order)).toBe(650_000);
    expect(workingQtyLots(order)).toBe(10);
    expect(filledLots(order)).toBe(0);
    expect(isOrderOpen(order)).toBe(true);
  });

  it('stays PendingNew after the REST acknowledgement until the venue reports it', () => {
    const acked = run({ type: 'CreateAcked', orderId: 'oid-1' });
    expect(orderStatus(acked)).toBe('PendingNew');
    expect(acked.orderId).toBe('oid-1');
    expect(orderStatus(ok(transition(acked, venue())))).toBe('New');
  });

  it('follows fills to Filled', () => {
    const order = run(
      { type: 'CreateAcked', orderId: 'oid-1' },
      venue(),
      venue({ status: 'PartiallyFilled', cumExecLots: lots(4), leavesLots: lots(6), updatedTime: 1_020 }),
      venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 1_030 }),
    );
    expect(orderStatus(order)).toBe('Filled');
    expect(filledLots(order)).toBe(10);
    expect(isOrderOpen(order)).toBe(false);
  });

  it('accepts the stream report before the REST acknowledgement, and the late ack is a no-op', () => {
    const order = run(venue());
    const result = transition(order, { type: 'CreateAcked', orderId: 'oid-1' });
    expect(result.ok && result.effect).toBe('no-op');
  });

  it('refuses an acknowledgement or report for another orderId', () => {
    const order = run({ type: 'CreateAcked', orderId: 'oid-1' });
    expect(rejection(transition(order, { type: 'CreateAcked', orderId: 'oid-2' })).code).toBe('id-mismatch');
    expect(rejection(transition(order, venue({ orderId: 'oid-2' }))).code).toBe('id-mismatch');
  });

  it('records a refused create as Rejected, terminal', () => {
    const order = run({ type: 'CreateRejected', reason: '110094 notional below limit' });
    expect(orderStatus(order)).toBe('Rejected');
    expect(order.localRejection).toBe('110094 notional below limit');
    expect(rejection(transition(order, { type: 'CancelRequested' })).code).toBe('terminal');
    expect(rejection(transition(order, { type: 'CreateAcked', orderId: 'x' })).code).toBe('not-allowed');
    expect(rejection(transition(order, { type: 'CreateRejected', reason: 'again' })).code).toBe('not-allowed');
  });

  it('lets the venue overrule a local rejection: if it reports the order, the order exists', () => {
    const order = ok(transition(run({ type: 'CreateRejected', reason: 'timeout classified as refusal' }), venue()));
    expect(orderStatus(order)).toBe('New');
    expect(order.localRejection).toBeUndefined();
  });

  it('refuses CreateRejected once the venue knows the order', () => {
    expect(rejection(transition(run(venue()), { type: 'CreateRejected', reason: 'late' })).code).toBe('not-allowed');
  });

  it('treats a post-only cancellation like any venue Cancelled', () => {
    const order = run(venue({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity', leavesLots: lots(0) }));
    expect(orderStatus(order)).toBe('Cancelled');
    expect(order.venue?.rejectReason).toBe('EC_PostOnlyWillTakeLiquidity');
  });
});

describe('cancel', () => {
  it('goes PendingCancel then Cancelled', () => {
    const pending = run(venue(), { type: 'CancelRequested' });
    expect(orderStatus(pending)).toBe('PendingCancel');
    const done = ok(transition(pending, venue({ status: 'Cancelled', leavesLots: lots(0), updatedTime: 1_020, cancelType: 'CancelByUser' })));
    expect(orderStatus(done)).toBe('Cancelled');
    expect(done.pending).toBeUndefined();
  });

  it('may be sent before the venue confirmed the order (fast cancel)', () => {
    expect(orderStatus(run({ type: 'CancelRequested' }))).toBe('PendingCancel');
  });

  it('stays PendingCancel through a fill that races it, then ends Filled', () => {
    const pending = run(venue(), { type: 'CancelRequested' }, venue({ status: 'PartiallyFilled', cumExecLots: lots(4), leavesLots: lots(6), updatedTime: 1_020 }));
    expect(orderStatus(pending)).toBe('PendingCancel');
    expect(filledLots(pending)).toBe(4);
    const filled = ok(transition(pending, venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 1_030 })));
    expect(orderStatus(filled)).toBe('Filled');
  });

  it('returns to the venue state when the cancel fails on a live order', () => {
    const order = run(venue(), { type: 'CancelRequested' }, { type: 'CancelFailed', reason: '10006 too many visits' });
    expect(orderStatus(order)).toBe('New');
  });

  it('treats a cancel failure after the order finished as a no-op', () => {
    const order = run(venue(), { type: 'CancelRequested' }, venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 1_020 }));
    const result = transition(order, { type: 'CancelFailed', reason: '110008 completed or cancelled' });
    expect(result.ok && result.effect).toBe('no-op');
  });

  it('refuses a second cancel in flight, a cancel of a finished order, and a failure with nothing in flight', () => {
    const pending = run(venue(), { type: 'CancelRequested' });
    expect(rejection(transition(pending, { type: 'CancelRequested' })).code).toBe('already-pending');
    const cancelled = run(venue({ status: 'Cancelled', leavesLots: lots(0) }));
    expect(rejection(transition(cancelled, { type: 'CancelRequested' })).code).toBe('terminal');
    expect(rejection(transition(run(venue()), { type: 'CancelFailed', reason: 'x' })).code).toBe('not-allowed');
  });

  it('supersedes an amend in flight', () => {
    const order = run(venue(), { type: 'AmendRequested', priceTicks: ticks(650_010), qtyLots: lots(10) }, { type: 'CancelRequested' });
    expect(orderStatus(order)).toBe('PendingCancel');
  });
});

describe('amend', () => {
  const amend: OrderEvent = { type: 'AmendRequested', priceTicks: ticks(650_010), qtyLots: lots(10) };

  it('goes PendingAmend and clears when the venue reports the new price and size', () => {
    const pending = run(venue(), amend);
    expect(orderStatus(pending)).toBe('PendingAmend');
    const unrelated = ok(transition(pending, venue({ status: 'PartiallyFilled', cumExecLots: lots(1), leavesLots: lots(9), updatedTime: 1_020 })));
    expect(orderStatus(unrelated)).toBe('PendingAmend');
    const confirmed = ok(transition(unrelated, venue({ status: 'PartiallyFilled', priceTicks: ticks(650_010), cumExecLots: lots(1), leavesLots: lots(9), updatedTime: 1_030 })));
    expect(orderStatus(confirmed)).toBe('PartiallyFilled');
    expect(workingPriceTicks(confirmed)).toBe(650_010);
  });

  it('returns to the venue state when the amend fails', () => {
    expect(orderStatus(run(venue(), amend, { type: 'AmendFailed', reason: '10001 params error' }))).toBe('New');
  });

  it('treats an amend failure after the order finished as a no-op', () => {
    const filled = run(venue(), amend, venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 1_020 }));
    expect(filled.pending).toBeUndefined();
    const result = transition(filled, { type: 'AmendFailed', reason: '110008' });
    expect(result.ok && result.effect).toBe('no-op');
  });

  it('refuses an amend before confirmation, during another operation, without change, or after the end', () => {
    expect(rejection(transition(createOrder(intent), amend)).code).toBe('not-allowed');
    expect(rejection(transition(run(venue(), amend), amend)).code).toBe('already-pending');
    expect(rejection(transition(run(venue(), { type: 'CancelRequested' }), amend)).code).toBe('already-pending');
    expect(rejection(transition(run(venue()), { type: 'AmendRequested', priceTicks: ticks(650_000), qtyLots: lots(10) })).code).toBe('no-change');
    expect(rejection(transition(run(venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0) })), amend)).code).toBe('terminal');
    expect(rejection(transition(run(venue()), { type: 'AmendFailed', reason: 'x' })).code).toBe('not-allowed');
  });
});

describe('late, duplicated and reordered venue reports', () => {
  it('ignores a late New after Filled', () => {
    const filled = run(venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0), updatedTime: 1_030 }));
    const result = transition(filled, venue({ updatedTime: 1_010 }));
    expect(result.ok && result.effect).toBe('stale');
    expect(result.ok && orderStatus(result.order)).toBe('Filled');
  });

  it('ignores an exact duplicate', () => {
    const order = run(venue());
    const result = transition(order, venue());
    expect(result.ok && result.effect).toBe('duplicate');
    expect(result.ok && result.order).toBe(order);
  });

  it('keeps a terminal order terminal against a later non-terminal report', () => {
    const cancelled = run(venue({ status: 'Cancelled', cumExecLots: lots(4), leavesLots: lots(0), updatedTime: 1_030 }));
    expect(transition(cancelled, venue({ status: 'PartiallyFilled', cumExecLots: lots(9), leavesLots: lots(1), updatedTime: 1_040 })).ok).toBe(true);
    expect(orderStatus(ok(transition(cancelled, venue({ status: 'PartiallyFilled', cumExecLots: lots(9), leavesLots: lots(1), updatedTime: 1_040 }))))).toBe('Cancelled');
  });

  it('orders reports by terminal, then filled quantity, then time, then status', () => {
    const base = report();
    expect(compareReports(report({ status: 'Cancelled', updatedTime: 1 }), base)).toBeGreaterThan(0);
    expect(compareReports(report({ cumExecLots: lots(1), updatedTime: 1 }), base)).toBeGreaterThan(0);
    expect(compareReports(report({ updatedTime: 2_000 }), base)).toBeGreaterThan(0);
    expect(compareReports(report({ status: 'PartiallyFilled' }), base)).toBeGreaterThan(0);
    expect(compareReports(base, report())).toBe(0);
  });

  it('keeps Triggered open, since a conditional order goes on to New', () => {
    expect(isTerminalStatus('Triggered')).toBe(false);
    const order = run(venue({ status: 'Untriggered', updatedTime: 1 }), venue({ status: 'Triggered', updatedTime: 2 }), venue({ status: 'New', updatedTime: 3 }));
    expect(orderStatus(order)).toBe('New');
  });
});

describe('IllegalTransitionError', () => {
  it('says what was refused and where', () => {
    const error = rejection(transition(run(venue({ status: 'Filled', cumExecLots: lots(10), leavesLots: lots(0) })), { type: 'CancelRequested' }));
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error.message).toBe('order s1-e3-000001: CancelRequested is illegal in Filled (terminal)');
    expect(error.from).toBe('Filled');
    expect(error.event).toBe('CancelRequested');
  });

  it('stops a sequence at the first illegal event', () => {
    const result = transitionAll(createOrder(intent), [venue(), { type: 'CancelFailed', reason: 'x' }, { type: 'CancelRequested' }]);
    expect(result.ok).toBe(false);
  });
});
