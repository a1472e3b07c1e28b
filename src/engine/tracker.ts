/**
 * The engine's view of its orders and positions. Orders are kept by orderLinkId and moved only through
 * the state machine of src/core/order.ts; executions are applied once each through the ExecutionLedger.
 * An event the state machine refuses is counted and reported, never forced. Reports for orderLinkIds the
 * tracker does not know are returned as foreign, for reconciliation to decide.
 *
 * orderLinkIds are `<shard>-<epoch>-<seq>` (epoch and sequence in base 36): unique across restarts and
 * engine generations, and they say which generation sent an order. Bybit allows 36 characters of
 * [A-Za-z0-9_-] (docs/v5/order/create-order.mdx).
 */
import { type IllegalTransitionError, type Order, type OrderEvent, type VenueOrderReport, isOrderOpen, orderStatus, transition, workingPriceTicks, workingQtyLots } from '../core/order.js';
import { type Execution, ExecutionLedger, type Position } from '../core/position.js';
import type { RestingQuote } from '../core/quoting.js';
import type { Lots, Side, Ticks } from '../core/units.js';

const MAX_ORDER_LINK_ID = 36;
const ORDER_LINK_ID = /^[A-Za-z0-9_-]+$/;
/** Room kept for the epoch and the sequence: 6 and 8 base-36 digits, and two dashes. */
const SUFFIX_ROOM = 16;

export class OrderLinkIds {
  private sequence = 0;

  constructor(
    private readonly shard: string,
    private readonly epoch: number,
  ) {
    if (!ORDER_LINK_ID.test(shard) || shard.length > MAX_ORDER_LINK_ID - SUFFIX_ROOM) {
      throw new Error(`shard ${JSON.stringify(shard)} cannot prefix an orderLinkId: at most ${MAX_ORDER_LINK_ID - SUFFIX_ROOM} of [A-Za-z0-9_-]`);
    }
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
  }

  next(): string {
    this.sequence += 1;
    return `${this.shard}-${this.epoch.toString(36)}-${this.sequence.toString(36)}`;
  }

  /** Whether an orderLinkId was minted by some generation of this shard. */
  isOurs(orderLinkId: string): boolean {
    return orderLinkId.startsWith(`${this.shard}-`);
  }
}

export interface QuoteSlot {
  readonly symbol: string;
  readonly side: Side;
  readonly level: number;
}

export type TrackerOutcome =
  | { readonly kind: 'applied' | 'unchanged'; readonly order: Order }
  | { readonly kind: 'foreign'; readonly orderLinkId: string }
  | { readonly kind: 'illegal'; readonly error: IllegalTransitionError };

export class OrderTracker {
  private readonly orders = new Map<string, Order>();
  private readonly slots = new Map<string, QuoteSlot>();
  private readonly ledger = new ExecutionLedger();
  /** Refused events, by code: reported in the status and metrics. */
  readonly illegalTransitions = new Map<string, number>();

  /** Starts tracking an order as it is sent. */
  register(order: Order, slot: QuoteSlot): void {
    this.orders.set(order.intent.orderLinkId, order);
    this.slots.set(order.intent.orderLinkId, slot);
  }

  get(orderLinkId: string): Order | undefined {
    return this.orders.get(orderLinkId);
  }

  /** Applies an event to a known order. */
  apply(orderLinkId: string, event: OrderEvent): TrackerOutcome {
    const order = this.orders.get(orderLinkId);
    if (!order) return { kind: 'foreign', orderLinkId };
    const result = transition(order, event);
    if (!result.ok) {
      this.illegalTransitions.set(result.error.code, (this.illegalTransitions.get(result.error.code) ?? 0) + 1);
      return { kind: 'illegal', error: result.error };
    }
    this.orders.set(orderLinkId, result.order);
    if (!isOrderOpen(result.order)) this.slots.delete(orderLinkId);
    return { kind: result.effect === 'applied' ? 'applied' : 'unchanged', order: result.order };
  }

  /** A venue report of an order (stream, query or reconciliation). */
  onVenueReport(orderLinkId: string, report: VenueOrderReport): TrackerOutcome {
    return this.apply(orderLinkId, { type: 'VenueReport', report });
  }

  /** An execution: applied to the position once, whatever path delivered it. */
  onExecution(execution: Execution): { readonly applied: boolean; readonly position: Position } {
    return this.ledger.apply(execution);
  }

  position(symbol: string): Position {
    return this.ledger.position(symbol);
  }

  hasExecution(execId: string): boolean {
    return this.ledger.has(execId);
  }

  /** Orders still open at the venue or on their way there, of one symbol. */
  openOrders(symbol: string): Order[] {
    return [...this.orders.values()].filter((order) => order.intent.symbol === symbol && isOrderOpen(order));
  }

  /** Open quotes in the planner's terms. Orders with an operation in flight are left out: they are busy. */
  restingQuotes(symbol: string): RestingQuote[] {
    const quotes: RestingQuote[] = [];
    for (const order of this.openOrders(symbol)) {
      const slot = this.slots.get(order.intent.orderLinkId);
      const status = orderStatus(order);
      if (!slot || status === 'PendingCancel' || status === 'PendingAmend') continue;
      quotes.push({ orderLinkId: order.intent.orderLinkId, side: slot.side, level: slot.level, priceTicks: workingPriceTicks(order), qtyLots: unfilledLots(order) });
    }
    return quotes;
  }

  /** Slots with an order of any open state, busy or not: the planner must not place a second one there. */
  occupiedSlots(symbol: string): Set<string> {
    const occupied = new Set<string>();
    for (const order of this.openOrders(symbol)) {
      const slot = this.slots.get(order.intent.orderLinkId);
      if (slot) occupied.add(`${slot.side}:${slot.level}`);
    }
    return occupied;
  }

  /** Lots that could still fill on each side, and our best prices (no order may trade with them). */
  exposure(symbol: string): { buyLots: number; sellLots: number; bestBid: Ticks | undefined; bestAsk: Ticks | undefined; openCount: number } {
    let buyLots = 0;
    let sellLots = 0;
    let bestBid: Ticks | undefined;
    let bestAsk: Ticks | undefined;
    const open = this.openOrders(symbol);
    for (const order of open) {
      const price = workingPriceTicks(order);
      const leaves = unfilledLots(order);
      if (order.intent.side === 'Buy') {
        buyLots += leaves;
        if (bestBid === undefined || price > bestBid) bestBid = price;
      } else {
        sellLots += leaves;
        if (bestAsk === undefined || price < bestAsk) bestAsk = price;
      }
    }
    return { buyLots, sellLots, bestBid, bestAsk, openCount: open.length };
  }

  /** Forgets closed orders older than `before` (ms): the tracker's memory stays bounded over a long run. */
  prune(before: number): number {
    let pruned = 0;
    for (const [orderLinkId, order] of this.orders) {
      if (!isOrderOpen(order) && (order.venue?.updatedTime ?? order.intent.createdAt) < before) {
        this.orders.delete(orderLinkId);
        pruned += 1;
      }
    }
    return pruned;
  }
}

function unfilledLots(order: Order): Lots {
  return (workingQtyLots(order) - (order.venue?.cumExecLots ?? 0)) as Lots;
}

