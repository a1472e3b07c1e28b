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
/** Room kept for the epoch and the sequence: 7 base-36 digits each (an epoch in deciseconds lasts to 2190), and two dashes. */
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
    if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= 36 ** 7) throw new Error(`epoch must be an integer in [0, 36^7), got ${epoch}`);
  }

  next(): string {
    this.sequence += 1;
    return `${this.shard}-${this.epoch.toString(36)}-${this.sequence.toString(36)}`;
  }

  /** Whether an orderLinkId was minted by some generation of this shard (shard `a` does not claim shard `a-b`'s). */
  isOurs(orderLinkId: string): boolean {
    if (!orderLinkId.startsWith(`${this.shard}-`)) return false;
    return /^[0-9a-z]{1,7}-[0-9a-z]+$/.test(orderLinkId.slice(this.shard.length + 1));
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

/** Told of every change the tracker makes (the write-behind journal): order states, and executions applied. */
export interface TrackerListener {
  orderChanged(order: Order, level: number | undefined): void;
  executionApplied(execution: Execution, position: Position): void;
  /** An order an earlier generation sent, found at the venue: most are stored already, so it is not a change. */
  earlierOrderFound(order: Order): void;
}

export class OrderTracker {
  private readonly orders = new Map<string, Order>();
  private readonly slots = new Map<string, QuoteSlot>();
  /** orderLinkIds of the open orders, by symbol: the hot path looks at these, not at every order kept. */
  private readonly open = new Map<string, Set<string>>();
  private readonly ledger = new ExecutionLedger();
  /** Refused events, by code: reported in the status and metrics. */
  readonly illegalTransitions = new Map<string, number>();

  constructor(private readonly listener?: TrackerListener) {}

  /** Starts tracking an order as it is sent (or, with no slot, one found at the venue that nothing quotes with). */
  register(order: Order, slot?: QuoteSlot): void {
    this.track(order, slot);
    this.listener?.orderChanged(order, slot?.level);
  }

  /**
   * Tracks an order an earlier generation sent, found at the venue with this report (no slot: nothing
   * quotes with it). The listener hears that it was found, not that it changed: it may be stored already.
   */
  registerEarlier(order: Order, report: VenueOrderReport): void {
    const result = transition(order, { type: 'VenueReport', report });
    if (!result.ok) this.illegalTransitions.set(result.error.code, (this.illegalTransitions.get(result.error.code) ?? 0) + 1);
    const found = result.ok ? result.order : order;
    this.track(found, undefined);
    this.listener?.earlierOrderFound(found);
  }

  /** Tracks an order read back from the store at start: nothing changed, so nothing is told. */
  restore(order: Order, slot?: QuoteSlot): void {
    this.track(order, slot);
  }

  /** Carries on from stored positions: the executions they count are not applied again. */
  restorePositions(positions: readonly Position[], appliedExecIds: Iterable<string>): void {
    this.ledger.restore(positions, appliedExecIds);
  }

  private track(order: Order, slot: QuoteSlot | undefined): void {
    this.orders.set(order.intent.orderLinkId, order);
    if (slot) this.slots.set(order.intent.orderLinkId, slot);
    this.indexOpen(order);
  }

  private indexOpen(order: Order): void {
    const { symbol, orderLinkId } = order.intent;
    let ids = this.open.get(symbol);
    if (!ids) this.open.set(symbol, (ids = new Set()));
    if (isOrderOpen(order)) ids.add(orderLinkId);
    else ids.delete(orderLinkId);
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
    // The slot is kept after the order closes: a report that reopens it (a create thought lost that landed
    // after all) puts it back where the planner sees it.
    this.orders.set(orderLinkId, result.order);
    this.indexOpen(result.order);
    if (result.effect === 'applied') this.listener?.orderChanged(result.order, this.slots.get(orderLinkId)?.level);
    return { kind: result.effect === 'applied' ? 'applied' : 'unchanged', order: result.order };
  }

  /** A venue report of an order (stream, query or reconciliation). */
  onVenueReport(orderLinkId: string, report: VenueOrderReport): TrackerOutcome {
    return this.apply(orderLinkId, { type: 'VenueReport', report });
  }

  /** An execution: applied to the position once, whatever path delivered it. */
  onExecution(execution: Execution): { readonly applied: boolean; readonly position: Position } {
    const result = this.ledger.apply(execution);
    if (result.applied) this.listener?.executionApplied(execution, result.position);
    return result;
  }

  position(symbol: string): Position {
    return this.ledger.position(symbol);
  }

  hasExecution(execId: string): boolean {
    return this.ledger.has(execId);
  }

  /** Orders still open at the venue or on their way there, of one symbol. */
  openOrders(symbol: string): Order[] {
    const open: Order[] = [];
    for (const orderLinkId of this.open.get(symbol) ?? []) {
      const order = this.orders.get(orderLinkId);
      if (order) open.push(order);
    }
    return open;
  }

  /** Every order of the symbol, open or not (reconciliation compares them with the venue's). */
  ordersOf(symbol: string): Order[] {
    return [...this.orders.values()].filter((order) => order.intent.symbol === symbol);
  }

  slotOf(orderLinkId: string): QuoteSlot | undefined {
    return this.slots.get(orderLinkId);
  }

  /**
   * Open orders the planner does not manage: a second open order in a slot (the newest stays), or one with
   * no slot. The engine cancels them; they can only come from a create thought lost that landed after all.
   */
  surplusOrders(symbol: string): Order[] {
    const bySlot = new Map<string, Order>();
    const surplus: Order[] = [];
    for (const order of this.openOrders(symbol)) {
      const slot = this.slots.get(order.intent.orderLinkId);
      if (!slot) {
        surplus.push(order);
        continue;
      }
      const key = `${slot.side}:${slot.level}`;
      const held = bySlot.get(key);
      if (!held) bySlot.set(key, order);
      else if (held.intent.createdAt <= order.intent.createdAt) {
        surplus.push(held);
        bySlot.set(key, order);
      } else surplus.push(order);
    }
    return surplus;
  }

  /** Open quotes in the planner's terms. Orders with an operation in flight are left out: they are busy. */
  restingQuotes(symbol: string): RestingQuote[] {
    const quotes: RestingQuote[] = [];
    const surplus = new Set(this.surplusOrders(symbol));
    for (const order of this.openOrders(symbol)) {
      const slot = this.slots.get(order.intent.orderLinkId);
      const status = orderStatus(order);
      if (!slot || surplus.has(order) || status === 'PendingCancel' || status === 'PendingAmend') continue;
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
        this.slots.delete(orderLinkId);
        pruned += 1;
      }
    }
    return pruned;
  }
}

function unfilledLots(order: Order): Lots {
  return (workingQtyLots(order) - (order.venue?.cumExecLots ?? 0)) as Lots;
}

