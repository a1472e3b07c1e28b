/**
 * The public linear stream (/v5/public/linear): orderbook.{1,50,200,1000}.{symbol}, publicTrade.{symbol} and
 * tickers.{symbol}, in Bybit's message shapes (sim/reference/bybit-v5-websocket.md §4).
 *
 * Order books: each (symbol, depth) remembers the top-N it last published. Every push interval (10, 20,
 * 100, 200 ms by depth) a changed book is diffed against it and the difference goes out as one delta with
 * the update id `u` one higher, so a client that applies snapshot then deltas holds exactly the venue's
 * top N, including levels that move into view when others leave. Level 1 is snapshot-only and re-pushed
 * every 3 s with the same `u` when nothing changed.
 */
import type { Instrument } from '../../src/core/instrument.js';
import { formatPrice, formatQty } from '../../src/core/instrument.js';
import type { Lots, Ticks } from '../../src/core/units.js';
import type { Exchange, PublicTrade } from '../exchange/exchange.js';
import { type VenueState, tickerJson } from '../http/routes.js';
import type { WsClient } from './client.js';

export const BOOK_DEPTHS = { 1: 10, 50: 20, 200: 100, 1000: 200 } as const;
type Depth = keyof typeof BOOK_DEPTHS;
const LEVEL1_REPUSH_MS = 3_000;
const TICKER_INTERVAL_MS = 100;

export interface PublicFaults {
  /** The next order-book delta of every book skips one update id (a sequence gap). Cleared once used. */
  bookGapOnce: boolean;
}

type Levels = Map<number, number>;

class BookFeed {
  u = 0;
  private bids: Levels = new Map();
  private asks: Levels = new Map();
  dirty = true;
  lastPushAt = 0;
  readonly subscribers = new Set<WsClient>();

  constructor(
    readonly instrument: Instrument,
    readonly depth: Depth,
    private readonly exchange: Exchange,
  ) {}

  get topic(): string {
    return `orderbook.${this.depth}.${this.instrument.symbol}`;
  }

  private rows(levels: Levels): [string, string][] {
    return [...levels].map(([price, size]) => [formatPrice(this.instrument, price as Ticks), formatQty(this.instrument, size as Lots)]);
  }

  private current(): { bids: Levels; asks: Levels } {
    const book = this.exchange.book(this.instrument.symbol);
    return { bids: new Map(book.bids.snapshot(this.depth)), asks: new Map(book.asks.snapshot(this.depth)) };
  }

  private message(type: 'snapshot' | 'delta', bids: [string, string][], asks: [string, string][], now: number): Record<string, unknown> {
    const data = { s: this.instrument.symbol, b: bids, a: asks, u: this.u, seq: this.exchange.marketState(this.instrument.symbol).seq };
    // Bybit puts ts before type on level 1 and after it on deeper books.
    return this.depth === 1 ? { topic: this.topic, ts: now, type, data, cts: now } : { topic: this.topic, type, ts: now, data, cts: now };
  }

  /** Brings the published state up to date; returns the message to broadcast, if any. */
  flush(now: number, faults: PublicFaults): Record<string, unknown> | undefined {
    if (!this.dirty) {
      if (this.depth === 1 && this.u > 0 && now - this.lastPushAt >= LEVEL1_REPUSH_MS) {
        this.lastPushAt = now;
        return this.message('snapshot', this.rows(this.bids), this.rows(this.asks), now);
      }
      return undefined;
    }
    this.dirty = false;
    const next = this.current();
    const bidChanges = diff(this.bids, next.bids);
    const askChanges = diff(this.asks, next.asks);
    this.bids = next.bids;
    this.asks = next.asks;
    if (bidChanges.length === 0 && askChanges.length === 0 && this.u > 0) return undefined;
    this.u += faults.bookGapOnce ? 2 : 1;
    this.lastPushAt = now;
    if (this.depth === 1) return this.message('snapshot', this.rows(this.bids), this.rows(this.asks), now);
    const format = (changes: [number, number][]) => changes.map(([price, size]): [string, string] => [formatPrice(this.instrument, price as Ticks), formatQty(this.instrument, size as Lots)]);
    return this.message('delta', format(bidChanges), format(askChanges), now);
  }

  snapshot(now: number): Record<string, unknown> {
    return this.message('snapshot', this.rows(this.bids), this.rows(this.asks), now);
  }
}

/** Levels that differ between two tops of book, with size 0 for levels that left. */
function diff(before: Levels, after: Levels): [number, number][] {
  const changes: [number, number][] = [];
  for (const [price, size] of after) if (before.get(price) !== size) changes.push([price, size]);
  for (const price of before.keys()) if (!after.has(price)) changes.push([price, 0]);
  return changes;
}

function tickDirection(previous: number | undefined, price: number, lastDirection: string): string {
  if (previous === undefined) return 'ZeroPlusTick';
  if (price > previous) return 'PlusTick';
  if (price < previous) return 'MinusTick';
  return lastDirection === 'MinusTick' || lastDirection === 'ZeroMinusTick' ? 'ZeroMinusTick' : 'ZeroPlusTick';
}

export class PublicFeed {
  private readonly books = new Map<string, BookFeed>();
  private readonly tradeSubscribers = new Map<string, Set<WsClient>>();
  private readonly tickerSubscribers = new Map<string, Set<WsClient>>();
  private readonly lastTickers = new Map<string, Record<string, string>>();
  private readonly pendingTrades = new Map<string, PublicTrade[]>();
  private readonly lastTrade = new Map<string, { price: number; direction: string }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private tradeFlushScheduled = false;

  constructor(
    private readonly state: VenueState,
    private readonly clock: () => number,
    private readonly faults: PublicFaults,
    /** Book pushes this many times more often than Bybit's intervals (benchmarks). */
    bookPushSpeedup = 1,
  ) {
    for (const instrument of state.exchange.instruments()) {
      for (const depth of Object.keys(BOOK_DEPTHS).map(Number) as Depth[]) {
        const feed = new BookFeed(instrument, depth, state.exchange);
        this.books.set(feed.topic, feed);
      }
    }
    for (const [depth, interval] of Object.entries(BOOK_DEPTHS)) {
      this.timers.push(setInterval(() => this.flushBooks(Number(depth) as Depth), Math.max(1, interval / bookPushSpeedup)));
    }
    this.timers.push(setInterval(() => this.pushTickers(), TICKER_INTERVAL_MS));
  }

  /** Exchange listener: a level changed. */
  bookChanged(symbol: string): void {
    for (const depth of Object.keys(BOOK_DEPTHS)) {
      const feed = this.books.get(`orderbook.${depth}.${symbol}`);
      if (feed) feed.dirty = true;
    }
  }

  /** Exchange listener: a trade happened. Trades of one tick go out together, as Bybit batches them. */
  trade(trade: PublicTrade): void {
    if (!this.tradeSubscribers.get(trade.symbol)?.size) return;
    let pending = this.pendingTrades.get(trade.symbol);
    if (!pending) this.pendingTrades.set(trade.symbol, (pending = []));
    pending.push(trade);
    if (!this.tradeFlushScheduled) {
      this.tradeFlushScheduled = true;
      setImmediate(() => {
        this.flushTrades();
      });
    }
  }

  /** Validates and registers topics; returns the first topic that cannot be served, if any. */
  subscribe(client: WsClient, topics: readonly string[]): { ok: true } | { ok: false; message: string } {
    for (const topic of topics) {
      if (!this.knows(topic)) return { ok: false, message: `error:handler not found,topic:${topic}` };
      if (client.topics.has(topic)) return { ok: false, message: `error:already subscribed,topic:${topic}` };
    }
    const now = this.clock();
    for (const topic of topics) {
      client.topics.add(topic);
      const book = this.books.get(topic);
      if (book) {
        this.broadcast(book.subscribers, book.flush(now, this.faults));
        book.subscribers.add(client);
        client.send(book.snapshot(now));
        continue;
      }
      const [kind, symbol = ''] = topic.split('.');
      const registry = kind === 'publicTrade' ? this.tradeSubscribers : this.tickerSubscribers;
      let set = registry.get(symbol);
      if (!set) registry.set(symbol, (set = new Set()));
      set.add(client);
      if (kind === 'tickers') {
        // Existing subscribers get what changed so far, then the newcomer's snapshot is the new baseline.
        this.pushTicker(symbol, set, now);
        this.sendTickerSnapshot(client, symbol, now);
      }
    }
    return { ok: true };
  }

  unsubscribe(client: WsClient, topics: readonly string[]): void {
    for (const topic of topics) {
      client.topics.delete(topic);
      this.books.get(topic)?.subscribers.delete(client);
      const [kind, symbol = ''] = topic.split('.');
      (kind === 'publicTrade' ? this.tradeSubscribers : this.tickerSubscribers).get(symbol)?.delete(client);
    }
  }

  remove(client: WsClient): void {
    this.unsubscribe(client, [...client.topics]);
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  private knows(topic: string): boolean {
    if (this.books.has(topic)) return true;
    const match = /^(publicTrade|tickers)\.([A-Z0-9]+)$/.exec(topic);
    return match !== null && this.state.exchange.instrument(match[2] ?? '') !== undefined;
  }

  private broadcast(subscribers: Iterable<WsClient>, message: Record<string, unknown> | undefined): void {
    if (!message) return;
    for (const client of subscribers) client.send(message);
  }

  private flushBooks(depth: Depth): void {
    const now = this.clock();
    let gapped = false;
    for (const feed of this.books.values()) {
      if (feed.depth !== depth || feed.subscribers.size === 0) continue;
      const message = feed.flush(now, this.faults);
      if (message && this.faults.bookGapOnce) gapped = true;
      this.broadcast(feed.subscribers, message);
    }
    if (gapped) this.faults.bookGapOnce = false;
  }

  private flushTrades(): void {
    this.tradeFlushScheduled = false;
    const now = this.clock();
    for (const [symbol, trades] of this.pendingTrades) {
      const instrument = this.state.exchange.instrument(symbol);
      if (!instrument || trades.length === 0) continue;
      const data = trades.map((trade) => {
        const last = this.lastTrade.get(symbol);
        const direction = tickDirection(last?.price, trade.priceTicks, last?.direction ?? 'ZeroPlusTick');
        this.lastTrade.set(symbol, { price: trade.priceTicks, direction });
        return { T: trade.time, s: symbol, S: trade.side, v: formatQty(instrument, trade.qtyLots), p: formatPrice(instrument, trade.priceTicks), L: direction, i: trade.tradeId, BT: false, RPI: false, seq: trade.seq };
      });
      this.broadcast(this.tradeSubscribers.get(symbol) ?? [], { topic: `publicTrade.${symbol}`, type: 'snapshot', ts: now, data });
    }
    this.pendingTrades.clear();
  }

  private sendTickerSnapshot(client: WsClient, symbol: string, now: number): void {
    const instrument = this.state.exchange.instrument(symbol);
    if (!instrument) return;
    const data = tickerJson(this.state, instrument, now);
    this.lastTickers.set(symbol, data);
    client.send({ topic: `tickers.${symbol}`, type: 'snapshot', data, cs: this.state.exchange.marketState(symbol).seq, ts: now });
  }

  private pushTickers(): void {
    const now = this.clock();
    for (const [symbol, subscribers] of this.tickerSubscribers) this.pushTicker(symbol, subscribers, now);
  }

  /** Sends what changed since the last ticker message; a delta carries only those fields and the symbol. */
  private pushTicker(symbol: string, subscribers: ReadonlySet<WsClient>, now: number): void {
    const instrument = this.state.exchange.instrument(symbol);
    const last = this.lastTickers.get(symbol);
    if (!instrument || !last || subscribers.size === 0) return;
    const current = tickerJson(this.state, instrument, now);
    this.lastTickers.set(symbol, current);
    const changed = Object.fromEntries(Object.entries(current).filter(([field, value]) => field === 'symbol' || last[field] !== value));
    if (Object.keys(changed).length === 1) return;
    this.broadcast(subscribers, { topic: `tickers.${symbol}`, type: 'delta', data: changed, cs: this.state.exchange.marketState(symbol).seq, ts: now });
  }
}
