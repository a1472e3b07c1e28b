/**
 * One side of a limit order book: price levels best-first, each a FIFO queue (price-time priority).
 * Prices are integer ticks and sizes integer lots, so the hot path never touches decimals.
 */
import type { Lots, Side, Ticks } from '../../src/core/units.js';

/** What the book needs of a resting order. */
export interface Resting {
  readonly orderId: string;
  readonly side: Side;
  priceTicks: Ticks;
  /** Lots still to fill. */
  leavesLots: Lots;
}

export class PriceLevel<T extends Resting> {
  readonly orders: T[] = [];
  totalLots = 0;
  constructor(readonly priceTicks: Ticks) {}
}

export class BookSide<T extends Resting> {
  /** Best first: bids high to low, asks low to high. */
  private readonly levels: PriceLevel<T>[] = [];
  private readonly byPrice = new Map<number, PriceLevel<T>>();

  constructor(readonly side: Side) {}

  /** True when `a` is a better price than `b` for this side. */
  private better(a: number, b: number): boolean {
    return this.side === 'Buy' ? a > b : a < b;
  }

  best(): PriceLevel<T> | undefined {
    return this.levels[0];
  }

  /** Levels best-first; do not mutate. */
  levelsBestFirst(): readonly PriceLevel<T>[] {
    return this.levels;
  }

  level(priceTicks: number): PriceLevel<T> | undefined {
    return this.byPrice.get(priceTicks);
  }

  get depth(): number {
    return this.levels.length;
  }

  /** Appends at the back of its price level's queue. */
  add(order: T): void {
    let level = this.byPrice.get(order.priceTicks);
    if (!level) {
      level = new PriceLevel<T>(order.priceTicks);
      this.byPrice.set(order.priceTicks, level);
      // Binary search for the first level this price is better than.
      let low = 0;
      let high = this.levels.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        const candidate = this.levels[middle];
        if (candidate && this.better(order.priceTicks, candidate.priceTicks)) high = middle;
        else low = middle + 1;
      }
      this.levels.splice(low, 0, level);
    }
    level.orders.push(order);
    level.totalLots += order.leavesLots;
  }

  /** Removes a resting order; returns false if it was not in the book. */
  remove(order: T): boolean {
    const level = this.byPrice.get(order.priceTicks);
    if (!level) return false;
    const index = level.orders.indexOf(order);
    if (index === -1) return false;
    level.orders.splice(index, 1);
    level.totalLots -= order.leavesLots;
    if (level.orders.length === 0) this.dropLevel(level);
    return true;
  }

  /** Reduces a resting order's size in place (it keeps its place in the queue). */
  reduce(order: T, byLots: number): void {
    const level = this.byPrice.get(order.priceTicks);
    if (!level) throw new Error(`order ${order.orderId} is not resting at ${order.priceTicks}`);
    order.leavesLots = (order.leavesLots - byLots) as Lots;
    level.totalLots -= byLots;
    if (order.leavesLots === 0) {
      level.orders.splice(level.orders.indexOf(order), 1);
      if (level.orders.length === 0) this.dropLevel(level);
    }
  }

  private dropLevel(level: PriceLevel<T>): void {
    this.byPrice.delete(level.priceTicks);
    const index = this.levels.indexOf(level);
    if (index !== -1) this.levels.splice(index, 1);
  }

  /** True if an order on the other side at `priceTicks` would trade against this side now. */
  crossedBy(priceTicks: number): boolean {
    const best = this.levels[0];
    return best !== undefined && this.crossedByLevel(best.priceTicks, priceTicks);
  }

  /** Lots available at prices an order on the other side with this limit would take. */
  availableTo(limitTicks: number | undefined, wanted: number): number {
    let total = 0;
    for (const level of this.levels) {
      if (limitTicks !== undefined && !this.crossedByLevel(level.priceTicks, limitTicks)) break;
      total += level.totalLots;
      if (total >= wanted) break;
    }
    return total;
  }

  private crossedByLevel(levelTicks: number, limitTicks: number): boolean {
    return this.side === 'Sell' ? limitTicks >= levelTicks : limitTicks <= levelTicks;
  }

  /** Snapshot of the best `depth` levels as [priceTicks, lots]. */
  snapshot(depth: number): [Ticks, number][] {
    return this.levels.slice(0, depth).map((level): [Ticks, number] => [level.priceTicks, level.totalLots]);
  }
}

export class OrderBook<T extends Resting> {
  readonly bids = new BookSide<T>('Buy');
  readonly asks = new BookSide<T>('Sell');

  sideOf(side: Side): BookSide<T> {
    return side === 'Buy' ? this.bids : this.asks;
  }

  oppositeOf(side: Side): BookSide<T> {
    return side === 'Buy' ? this.asks : this.bids;
  }

  bestBid(): Ticks | undefined {
    return this.bids.best()?.priceTicks;
  }

  bestAsk(): Ticks | undefined {
    return this.asks.best()?.priceTicks;
  }
}

export type { Lots, Ticks };
