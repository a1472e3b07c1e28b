/**
 * Order model and state machine.
 *
 * An order's state is the newest venue report we have seen (what Bybit says) plus at most one local
 * operation in flight (what we asked and Bybit has not confirmed). Its status is derived from the two:
 *
 *   no venue report yet              -> PendingNew
 *   venue report terminal            -> that terminal status (terminal stays terminal)
 *   cancel in flight                 -> PendingCancel
 *   amend in flight                  -> PendingAmend
 *   otherwise                        -> the venue status (New, PartiallyFilled, ...)
 *
 * Venue reports arrive over two streams and REST, so they can be late, duplicated or reordered. A report
 * replaces the current one only if it is newer by `reportRank` (terminal, then cumulative filled quantity,
 * then updatedTime, then status precedence), all of which only grow over an order's life. So any delivery
 * order of the same set of reports ends in the same state, and a late `New` after `Filled` changes nothing.
 * (Two reports equal in all four, e.g. an amend confirmed in the same millisecond as the report before it
 * with no fill between, cannot be ordered from their content; the first one seen is kept, and the next
 * report or a reconciliation corrects it.)
 *
 * Local operations (requests we send, acknowledgements and failures of those requests) must follow the
 * rules in `transition`; anything else is an IllegalTransitionError, never a silent change.
 */
import type { Lots, Side, Ticks } from './units.js';

/** Every orderStatus of Bybit v5 (docs/v5/enum.mdx#orderstatus). */
export const VENUE_ORDER_STATUSES = [
  'New',
  'PartiallyFilled',
  'Untriggered',
  'Triggered',
  'Rejected',
  'PartiallyFilledCanceled',
  'Filled',
  'Cancelled',
  'Deactivated',
] as const;
export type VenueOrderStatus = (typeof VENUE_ORDER_STATUSES)[number];

/** States an order passes through before the venue confirms what we asked. */
export const LOCAL_ORDER_STATUSES = ['PendingNew', 'PendingCancel', 'PendingAmend'] as const;
export type LocalOrderStatus = (typeof LOCAL_ORDER_STATUSES)[number];

export type OrderStatus = VenueOrderStatus | LocalOrderStatus;

/**
 * Closed statuses. Bybit lists `Triggered` among closed statuses too, but documents it as the
 * instantaneous step of a conditional order from Untriggered to New, after which the same order goes on;
 * treating it as terminal would drop that New, so here it is open.
 */
const TERMINAL_STATUSES: ReadonlySet<VenueOrderStatus> = new Set(['Rejected', 'PartiallyFilledCanceled', 'Filled', 'Cancelled', 'Deactivated']);

export function isTerminalStatus(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.has(status as VenueOrderStatus);
}

/** Tie-break between reports with equal fill and time: the later a status comes in a life, the higher. */
const STATUS_PRECEDENCE: Record<VenueOrderStatus, number> = {
  Untriggered: 0,
  Triggered: 1,
  New: 2,
  PartiallyFilled: 3,
  Deactivated: 4,
  Rejected: 4,
  Cancelled: 4,
  PartiallyFilledCanceled: 4,
  Filled: 5,
};

/** One report of an order's state by the venue (order stream, order.realtime, order history). */
export interface VenueOrderReport {
  readonly orderId: string;
  readonly status: VenueOrderStatus;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  readonly cumExecLots: Lots;
  readonly leavesLots: Lots;
  /** updatedTime, ms since epoch. */
  readonly updatedTime: number;
  readonly rejectReason?: string;
  readonly cancelType?: string;
}

export type PendingOperation =
  | { readonly kind: 'cancel' }
  | { readonly kind: 'amend'; readonly priceTicks: Ticks; readonly qtyLots: Lots };

/** What we sent: immutable for the life of the order. */
export interface OrderIntent {
  readonly orderLinkId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  /** ms since epoch when the create was sent. */
  readonly createdAt: number;
}

export interface Order {
  readonly intent: OrderIntent;
  readonly orderId?: string;
  readonly venue?: VenueOrderReport;
  readonly pending?: PendingOperation;
  /** Set when the create request was refused outright (the order never existed at the venue). */
  readonly localRejection?: string;
}

export function createOrder(intent: OrderIntent): Order {
  return { intent };
}

export function orderStatus(order: Order): OrderStatus {
  if (order.venue && isTerminalStatus(order.venue.status)) return order.venue.status;
  if (order.localRejection !== undefined) return 'Rejected';
  if (order.pending?.kind === 'cancel') return 'PendingCancel';
  if (order.pending?.kind === 'amend') return 'PendingAmend';
  if (!order.venue) return 'PendingNew';
  return order.venue.status;
}

export function isOrderOpen(order: Order): boolean {
  return !isTerminalStatus(orderStatus(order));
}

/** Working price and size: the venue's if it has reported, else what we sent. */
export function workingPriceTicks(order: Order): Ticks {
  return order.venue?.priceTicks ?? order.intent.priceTicks;
}

export function workingQtyLots(order: Order): Lots {
  return order.venue?.qtyLots ?? order.intent.qtyLots;
}

export function filledLots(order: Order): Lots {
  return order.venue?.cumExecLots ?? (0 as Lots);
}

export type OrderEvent =
  | { readonly type: 'CreateAcked'; readonly orderId: string }
  | { readonly type: 'CreateRejected'; readonly reason: string }
  | { readonly type: 'CancelRequested' }
  | { readonly type: 'CancelFailed'; readonly reason: string }
  | { readonly type: 'AmendRequested'; readonly priceTicks: Ticks; readonly qtyLots: Lots }
  | { readonly type: 'AmendFailed'; readonly reason: string }
  | { readonly type: 'VenueReport'; readonly report: VenueOrderReport };

export type IllegalTransitionCode = 'terminal' | 'not-allowed' | 'already-pending' | 'id-mismatch' | 'no-change';

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly code: IllegalTransitionCode,
    readonly orderLinkId: string,
    readonly from: OrderStatus,
    readonly event: OrderEvent['type'],
    detail?: string,
  ) {
    super(`order ${orderLinkId}: ${event} is illegal in ${from} (${code})${detail ? `: ${detail}` : ''}`);
  }
}

/**
 * applied: the state changed as the event says.
 * duplicate / stale: a venue report equal to or older than the one we hold; nothing changed.
 * no-op: a late acknowledgement or failure for an order that has already finished; nothing changed.
 */
export type TransitionEffect = 'applied' | 'duplicate' | 'stale' | 'no-op';

export type TransitionResult =
  | { readonly ok: true; readonly order: Order; readonly effect: TransitionEffect }
  | { readonly ok: false; readonly error: IllegalTransitionError };

/** Compares two reports of the same order by how late in its life they are: <0, 0, >0. */
export function compareReports(a: VenueOrderReport, b: VenueOrderReport): number {
  const terminal = Number(isTerminalStatus(a.status)) - Number(isTerminalStatus(b.status));
  if (terminal !== 0) return terminal;
  if (a.cumExecLots !== b.cumExecLots) return a.cumExecLots - b.cumExecLots;
  if (a.updatedTime !== b.updatedTime) return a.updatedTime - b.updatedTime;
  return STATUS_PRECEDENCE[a.status] - STATUS_PRECEDENCE[b.status];
}

function applied(order: Order): TransitionResult {
  return { ok: true, order, effect: 'applied' };
}

function unchanged(order: Order, effect: Exclude<TransitionEffect, 'applied'>): TransitionResult {
  return { ok: true, order, effect };
}

function illegal(order: Order, event: OrderEvent, code: IllegalTransitionCode, detail?: string): TransitionResult {
  return { ok: false, error: new IllegalTransitionError(code, order.intent.orderLinkId, orderStatus(order), event.type, detail) };
}

function withoutPending(order: Order): Order {
  const { pending: _dropped, ...rest } = order;
  return rest;
}

function applyVenueReport(order: Order, event: Extract<OrderEvent, { type: 'VenueReport' }>): TransitionResult {
  const { report } = event;
  const knownId = order.orderId ?? order.venue?.orderId;
  if (knownId !== undefined && knownId !== report.orderId) {
    return illegal(order, event, 'id-mismatch', `report for orderId ${report.orderId}, order is ${knownId}`);
  }
  if (order.venue) {
    const comparison = compareReports(report, order.venue);
    if (comparison < 0) return unchanged(order, 'stale');
    if (comparison === 0) return unchanged(order, 'duplicate');
  }
  // The venue is the truth: a report for an order we thought refused means it exists after all.
  const { localRejection: _overruled, ...rest } = order;
  let next: Order = { ...rest, orderId: report.orderId, venue: report };
  const pending = next.pending;
  if (pending?.kind === 'amend' && pending.priceTicks === report.priceTicks && pending.qtyLots === report.qtyLots) {
    next = withoutPending(next);
  }
  if (isTerminalStatus(report.status)) next = withoutPending(next);
  return applied(next);
}

/** The single entry point: the order after `event`, or why the event is illegal in this state. */
export function transition(order: Order, event: OrderEvent): TransitionResult {
  const status = orderStatus(order);
  const terminal = isTerminalStatus(status);

  switch (event.type) {
    case 'VenueReport':
      return applyVenueReport(order, event);

    case 'CreateAcked': {
      if (order.localRejection !== undefined) return illegal(order, event, 'not-allowed', 'the create was refused');
      const knownId = order.orderId ?? order.venue?.orderId;
      if (knownId !== undefined) {
        return knownId === event.orderId ? unchanged(order, 'no-op') : illegal(order, event, 'id-mismatch', `acked ${event.orderId}, order is ${knownId}`);
      }
      return applied({ ...order, orderId: event.orderId });
    }

    case 'CreateRejected':
      // Only an order the venue never reported can have been refused.
      if (order.venue || order.orderId !== undefined || order.localRejection !== undefined) return illegal(order, event, 'not-allowed');
      return applied({ ...withoutPending(order), localRejection: event.reason });

    case 'CancelRequested':
      if (terminal) return illegal(order, event, 'terminal');
      if (order.pending?.kind === 'cancel') return illegal(order, event, 'already-pending');
      // A cancel supersedes an amend in flight: whichever lands, the order is on its way out.
      return applied({ ...order, pending: { kind: 'cancel' } });

    case 'AmendRequested': {
      if (terminal) return illegal(order, event, 'terminal');
      if (order.pending) return illegal(order, event, 'already-pending');
      if (!order.venue) return illegal(order, event, 'not-allowed', 'the venue has not confirmed the order yet');
      if (event.priceTicks === order.venue.priceTicks && event.qtyLots === order.venue.qtyLots) {
        return illegal(order, event, 'no-change');
      }
      return applied({ ...order, pending: { kind: 'amend', priceTicks: event.priceTicks, qtyLots: event.qtyLots } });
    }

    case 'CancelFailed':
    case 'AmendFailed': {
      const expected = event.type === 'CancelFailed' ? 'cancel' : 'amend';
      // The order finished while the request was in flight (e.g. 110008 "completed or cancelled").
      if (terminal) return unchanged(order, 'no-op');
      if (order.pending?.kind !== expected) return illegal(order, event, 'not-allowed', `no ${expected} in flight`);
      return applied(withoutPending(order));
    }
  }
}

/** Applies events in order; stops at the first illegal one. The effect is that of the last event. */
export function transitionAll(order: Order, events: Iterable<OrderEvent>): TransitionResult {
  let state = order;
  let result: TransitionResult = unchanged(order, 'no-op');
  for (const event of events) {
    result = transition(state, event);
    if (!result.ok) return result;
    state = result.order;
  }
  return result;
}
