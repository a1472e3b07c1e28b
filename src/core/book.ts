/**
 * The engine's local copy of a venue order book, built from Bybit's orderbook topic: a snapshot replaces
 * the book, each delta sets absolute sizes (0 deletes the level) and must carry the next update id `u`.
 * A delta that does not follow on, or arrives before any snapshot, leaves the book unsynced: the engine
 * pulls its quotes and waits for the next snapshot (the venue sends one after a resubscribe).
 *
 * Prices are integer ticks and sizes integer lots, parsed from the venue's strings exactly (GridCodec).
 */
import type { GridCodec } from './instrument.js';
import type { Lots, Side, Ticks } from './units.js';

export type BookRows = readonly (readonly [string, string])[];

/** One side: prices best first in a sorted array, sizes in a map. Depth is tens to a few hundred levels. */
class BookLevels {
  private readonly prices: number[] = [];
  private readonly sizes = new Map<number, number>();

  constructor(private readonly isBid: boolean) {}

  clear(): void {
    this.prices.length = 0;
    this.sizes.clear();
  }

  set(price: number, size: number): void {
    const exists = this.sizes.has(price);
    if (size === 0) {
      if (!exists) return;
      this.sizes.delete(price);
      this.prices.splice(this.insertionPoint(price), 1);
      return;
    }
    this.sizes.set(price, size);
    if (!exists) this.prices.splice(this.insertionPoint(price), 0, price);
  }

  /** Index of the first price not better than `price`. */
  private insertionPoint(price: number): number {
    let low = 0;
    let high = this.prices.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const candidate = this.prices[middle] ?? 0;
      if (this.isBid ? candidate > price : candidate < price) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  best(): number | undefined {
    return this.prices[0];
  }

  sizeAt(price: number): number {
    return this.sizes.get(price) ?? 0;
  }

  get depth(): number {
    return this.prices.length;
  }

  /** The best `count` levels as [ticks, lots]. */
  top(count: number): [Ticks, Lots][] {
    return this.prices.slice(0, count).map((price) => [price as Ticks, (this.sizes.get(price) ?? 0) as Lots]);
  }
}

export type BookUpdateResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'gap' | 'not-synced' | 'crossed' };

export class LocalBook {
  private readonly bids = new BookLevels(true);
  private readonly asks = new BookLevels(false);
  private synced = false;
  /** Update id and cross sequence of the last message applied. */
  lastU = 0;
  lastSeq = 0;
  /** Venue timestamp (ms) of the last message applied. */
  lastTs = 0;

  constructor(
    readonly symbol: string,
    private readonly codec: GridCodec,
  ) {}

  get isSynced(): boolean {
    return this.synced;
  }

  applySnapshot(bids: BookRows, asks: BookRows, u: number, seq: number, ts: number): BookUpdateResult {
    this.bids.clear();
    this.asks.clear();
    this.apply(bids, asks);
    this.lastU = u;
    this.lastSeq = seq;
    this.lastTs = ts;
    return this.checkCrossed();
  }

  applyDelta(bids: BookRows, asks: BookRows, u: number, seq: number, ts: number): BookUpdateResult {
    if (!this.synced) return { ok: false, reason: 'not-synced' };
    if (u !== this.lastU + 1) {
      this.synced = false;
      return { ok: false, reason: 'gap' };
    }
    this.apply(bids, asks);
    this.lastU = u;
    this.lastSeq = seq;
    this.lastTs = ts;
    return this.checkCrossed();
  }

  /** The book can no longer be trusted (a reconnect, a stale feed): wait for a snapshot. */
  invalidate(): void {
    this.synced = false;
  }

  private apply(bids: BookRows, asks: BookRows): void {
    for (const [price, size] of bids) this.bids.set(this.codec.priceToTicks(price), this.codec.qtyToLots(size));
    for (const [price, size] of asks) this.asks.set(this.codec.priceToTicks(price), this.codec.qtyToLots(size));
  }

  /** A crossed book is corrupt data: refuse to quote on it until the next snapshot. */
  private checkCrossed(): BookUpdateResult {
    const bid = this.bids.best();
    const ask = this.asks.best();
    this.synced = bid === undefined || ask === undefined || bid < ask;
    return this.synced ? { ok: true } : { ok: false, reason: 'crossed' };
  }

  bestBid(): Ticks | undefined {
    return this.bids.best() as Ticks | undefined;
  }

  bestAsk(): Ticks | undefined {
    return this.asks.best() as Ticks | undefined;
  }

  sizeAt(side: Side, priceTicks: Ticks): Lots {
    return (side === 'Buy' ? this.bids : this.asks).sizeAt(priceTicks) as Lots;
  }

  top(side: Side, count: number): [Ticks, Lots][] {
    return (side === 'Buy' ? this.bids : this.asks).top(count);
  }

  depth(side: Side): number {
    return (side === 'Buy' ? this.bids : this.asks).depth;
  }
}
