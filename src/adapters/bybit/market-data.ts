/**
 * Market data: one LocalBook per symbol from Bybit's public `orderbook.{depth}.{symbol}` stream, through
 * bybit-api's WebsocketClient.
 *
 * The engine may quote on a book only while it is synced. A sequence gap, a crossed book, a reconnect, or
 * a feed silent for longer than the symbol's `staleAfterMs` makes the book unsynced: the listener hears it
 * at once (the engine pulls its quotes), and the topic is resubscribed, which makes the venue send a fresh
 * snapshot (docs/v5/websocket/public/orderbook.mdx); the book is synced again from that snapshot.
 *
 * Every message is applied as it arrives, but the listener hears of changed books once per batch: one read
 * from the socket can carry many messages, all dispatched before any promise callback runs, and the
 * listener is told after the last of them (a microtask), once per symbol, with the newest book. The engine
 * then quotes on the latest state instead of spending time on books already superseded, which is what
 * keeps it abreast of a fast feed. Losing sync is not deferred: the listener hears it at once.
 */
import type { WebsocketClient } from 'bybit-api';
import { LocalBook } from '../../core/book.js';
import { type GridCodec, InstrumentError } from '../../core/instrument.js';
import { BybitMessageError, parseOrderbookMessage } from './messages.js';

export type UnsyncedReason = 'gap' | 'crossed' | 'stale' | 'reconnect' | 'malformed' | 'listener-failed';

export interface MarketDataListener {
  /** The book changed (or became synced again): a chance to re-quote. */
  onBook(symbol: string, book: LocalBook, receivedAt: number): void;
  /** The book can no longer be trusted: pull quotes until onBook says it is synced again. */
  onUnsynced(symbol: string, reason: UnsyncedReason, detail: string): void;
}

export interface MarketDataOptions {
  readonly client: WebsocketClient;
  readonly codecs: ReadonlyMap<string, GridCodec>;
  readonly depth: 1 | 50 | 200 | 1000;
  /** Per symbol: silence longer than this makes the book stale. */
  readonly staleAfterMs: ReadonlyMap<string, number>;
  readonly clock: () => number;
  readonly listener: MarketDataListener;
}

interface Feed {
  readonly book: LocalBook;
  readonly topic: string;
  /** Last message of any kind (silence is measured from it while the book is synced). */
  lastMessageAt: number;
  /** When a fresh snapshot was last asked for; undefined while synced. Deltas keep arriving meanwhile and
   *  prove nothing, so if no snapshot comes within the interval, it is asked for again. */
  resyncRequestedAt: number | undefined;
  /** When the newest message the listener has not heard of yet arrived. */
  changedAt: number;
}

export class MarketDataFeed {
  private readonly feeds = new Map<string, Feed>();
  private readonly byTopic = new Map<string, Feed>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Books changed since the listener last heard, told once the current batch of messages is applied. */
  private readonly changed = new Set<Feed>();
  private tellQueued = false;
  /** Messages dropped because they were malformed; reported in the status. */
  malformed = 0;

  constructor(private readonly options: MarketDataOptions) {
    for (const [symbol, codec] of options.codecs) {
      const feed: Feed = { book: new LocalBook(symbol, codec), topic: `orderbook.${options.depth}.${symbol}`, lastMessageAt: options.clock(), resyncRequestedAt: undefined, changedAt: 0 };
      this.feeds.set(symbol, feed);
      this.byTopic.set(feed.topic, feed);
    }
  }

  book(symbol: string): LocalBook | undefined {
    return this.feeds.get(symbol)?.book;
  }

  start(): void {
    const { client } = this.options;
    client.on('update', (message: unknown) => {
      this.onMessage(message);
    });
    client.on('reconnected', () => {
      // Deltas may have been missed while the socket was down; bybit-api resubscribes, which brings snapshots.
      for (const [symbol, feed] of this.feeds) this.unsync(symbol, feed, 'reconnect', 'the public connection was re-established', false);
    });
    void client.subscribeV5([...this.byTopic.keys()], 'linear');
    const smallest = Math.min(...this.options.staleAfterMs.values(), 1_000);
    this.timer = setInterval(() => {
      this.checkStaleness();
    }, Math.max(50, Math.floor(smallest / 4)));
  }

  /** Stops the staleness checks and any resubscription still on its way (it would open a new socket). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private onMessage(message: unknown): void {
    const topic = typeof message === 'object' && message !== null ? (message as { topic?: unknown }).topic : undefined;
    const feed = typeof topic === 'string' ? this.byTopic.get(topic) : undefined;
    if (!feed) return;
    const now = this.options.clock();
    feed.lastMessageAt = now;
    const symbol = feed.book.symbol;
    try {
      const parsed = parseOrderbookMessage(message);
      const { b, a, u, seq } = parsed.data;
      const result = parsed.type === 'snapshot' ? feed.book.applySnapshot(b, a, u, seq, parsed.ts) : feed.book.applyDelta(b, a, u, seq, parsed.ts);
      if (result.ok) {
        if (parsed.type === 'snapshot') feed.resyncRequestedAt = undefined;
        this.changedLater(feed, now);
      }
      else if (result.reason !== 'not-synced') {
        this.unsync(symbol, feed, result.reason, result.reason === 'gap' ? `update id ${u} after ${feed.book.lastU}` : 'best bid at or above best ask');
      }
    } catch (error) {
      if (!(error instanceof BybitMessageError || error instanceof InstrumentError)) throw error;
      this.malformed += 1;
      this.unsync(symbol, feed, 'malformed', error.message);
    }
  }

  private changedLater(feed: Feed, now: number): void {
    feed.changedAt = now;
    this.changed.add(feed);
    if (this.tellQueued) return;
    this.tellQueued = true;
    queueMicrotask(() => {
      this.tellChanged();
    });
  }

  private tellChanged(): void {
    this.tellQueued = false;
    const feeds = [...this.changed];
    this.changed.clear();
    for (const feed of feeds) {
      // A book that lost sync meanwhile was reported unsynced already; the next snapshot brings it back.
      if (this.stopped || !feed.book.isSynced) continue;
      try {
        this.options.listener.onBook(feed.book.symbol, feed.book, feed.changedAt);
      } catch (error) {
        // Nothing above this microtask would catch it (the process would die with orders live): the
        // listener is told to stop trusting the book, which pulls the quotes, and the book is rebuilt.
        this.unsync(feed.book.symbol, feed, 'listener-failed', `onBook failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private checkStaleness(): void {
    const now = this.options.clock();
    for (const [symbol, feed] of this.feeds) {
      const limit = this.options.staleAfterMs.get(symbol) ?? 2_000;
      if (feed.resyncRequestedAt !== undefined) {
        if (now - feed.resyncRequestedAt > limit) this.resubscribe(feed);
      } else if (now - feed.lastMessageAt > limit) {
        this.unsync(symbol, feed, 'stale', `no order-book message for ${now - feed.lastMessageAt} ms`);
      }
    }
  }

  /** Marks the book untrusted, tells the listener, and asks for a fresh snapshot. */
  private unsync(symbol: string, feed: Feed, reason: UnsyncedReason, detail: string, resubscribe = true): void {
    feed.book.invalidate();
    this.changed.delete(feed);
    this.options.listener.onUnsynced(symbol, reason, detail);
    if (resubscribe) this.resubscribe(feed);
    // After a reconnect the client resubscribes by itself; the check still asks again if nothing comes.
    else feed.resyncRequestedAt = this.options.clock();
  }

  private resubscribe(feed: Feed): void {
    feed.resyncRequestedAt = this.options.clock();
    const { client } = this.options;
    if (this.stopped) return;
    void Promise.resolve(client.unsubscribeV5(feed.topic, 'linear')).then(() => (this.stopped ? undefined : client.subscribeV5(feed.topic, 'linear')));
  }
}
