/**
 * The market-data feed's own rules, with bybit-api's client replaced by an emitter: messages arriving
 * together (one socket read) are all applied, and the listener hears once per symbol with the newest
 * book; losing sync is told at once and is never followed by a stale onBook. The feed against the
 * simulator's real stream is in test/conformance/market-data.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { WebsocketClient } from 'bybit-api';
import { MarketDataFeed, type MarketDataListener } from '../../../src/adapters/bybit/market-data.js';
import { gridCodec } from '../../../src/core/instrument.js';
import { BTCUSDT, ETHUSDT } from '../../support/instruments.js';

class FakePublicClient extends EventEmitter {
  readonly subscribed: string[] = [];
  subscribeV5(topics: string | string[]): Promise<void> {
    this.subscribed.push(...(Array.isArray(topics) ? topics : [topics]));
    return Promise.resolve();
  }
  unsubscribeV5(): Promise<void> {
    return Promise.resolve();
  }
}

type Rows = [string, string][];
const message = (symbol: string, type: 'snapshot' | 'delta', u: number, b: Rows, a: Rows) => ({ topic: `orderbook.50.${symbol}`, type, ts: 1_700_000_000_000 + u, data: { s: symbol, b, a, u, seq: u } });

function startFeed(failOnBook?: (symbol: string) => boolean) {
  const client = new FakePublicClient();
  const heard: { kind: 'book' | 'unsynced'; symbol: string; bestBid?: number | undefined; at?: number; reason?: string; detail?: string }[] = [];
  const listener: MarketDataListener = {
    onBook: (symbol, book, receivedAt) => {
      if (failOnBook?.(symbol)) throw new Error(`a bug quoting ${symbol}`);
      heard.push({ kind: 'book', symbol, bestBid: book.bestBid(), at: receivedAt });
    },
    onUnsynced: (symbol, reason, detail) => heard.push({ kind: 'unsynced', symbol, reason, detail }),
  };
  const clock = { now: 1_000 };
  const feed = new MarketDataFeed({
    client: client as unknown as WebsocketClient,
    codecs: new Map([
      ['BTCUSDT', gridCodec(BTCUSDT)],
      ['ETHUSDT', gridCodec(ETHUSDT)],
    ]),
    depth: 50,
    staleAfterMs: new Map([
      ['BTCUSDT', 60_000],
      ['ETHUSDT', 60_000],
    ]),
    clock: () => clock.now,
    listener,
  });
  feed.start();
  const deliver = (raw: unknown) => {
    client.emit('update', raw);
    clock.now += 1;
  };
  // Both books synced and heard, so that each test starts from a quiet feed.
  deliver(message('BTCUSDT', 'snapshot', 1, [['65000.0', '1.000']], [['65000.1', '1.000']]));
  deliver(message('ETHUSDT', 'snapshot', 1, [['3500.00', '1.00']], [['3500.01', '1.00']]));
  return { feed, heard, deliver, stop: () => feed.stop() };
}

const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('market-data feed', () => {
  it('applies every message of a batch and tells the listener once per symbol, with the newest book', async () => {
    const { feed, heard, deliver, stop } = startFeed();
    await microtasks();
    heard.length = 0;
    deliver(message('BTCUSDT', 'delta', 2, [['65000.0', '0'], ['64999.9', '2.000']], []));
    deliver(message('ETHUSDT', 'delta', 2, [['3500.00', '3.00']], []));
    deliver(message('BTCUSDT', 'delta', 3, [['64999.8', '1.000']], [['65000.1', '0'], ['65000.2', '1.000']]));
    expect(heard).toEqual([]); // nothing before the batch is over
    await microtasks();
    expect(heard).toEqual([
      { kind: 'book', symbol: 'BTCUSDT', bestBid: 649_999, at: 1_004 },
      { kind: 'book', symbol: 'ETHUSDT', bestBid: 350_000, at: 1_003 },
    ]);
    expect(feed.book('BTCUSDT')?.bestAsk()).toBe(650_002);
    expect(feed.book('BTCUSDT')?.lastU).toBe(3);
    stop();
  });

  it('tells a gap at once, and never follows it with the book it invalidated', async () => {
    const { heard, deliver, stop } = startFeed();
    await microtasks();
    heard.length = 0;
    deliver(message('BTCUSDT', 'delta', 2, [['64999.9', '2.000']], []));
    deliver(message('BTCUSDT', 'delta', 5, [['64999.8', '2.000']], []));
    expect(heard).toEqual([{ kind: 'unsynced', symbol: 'BTCUSDT', reason: 'gap', detail: 'update id 5 after 2' }]);
    await microtasks();
    expect(heard).toHaveLength(1);
    stop();
  });

  it('refuses a row whose strings are not decimals on the grid, naming the value, and unsyncs', async () => {
    const { feed, heard, deliver, stop } = startFeed();
    await microtasks();
    heard.length = 0;
    deliver(message('BTCUSDT', 'delta', 2, [['65k', '1.000']], []));
    // Synced again by a snapshot, then a price between two ticks.
    deliver(message('BTCUSDT', 'snapshot', 3, [['65000.0', '1.000']], [['65000.1', '1.000']]));
    deliver(message('BTCUSDT', 'delta', 4, [['65000.05', '1.000']], []));
    await microtasks();
    expect(feed.malformed).toBe(2);
    expect(heard.map((event) => [event.kind, event.reason])).toEqual([
      ['unsynced', 'malformed'],
      ['unsynced', 'malformed'],
    ]);
    expect(heard[0]?.detail).toContain('"65k"');
    expect(heard[1]?.detail).toContain('65000.05');
    expect(feed.book('BTCUSDT')?.isSynced).toBe(false);
    stop();
  });

  it('refuses a message of the wrong shape, naming the field', async () => {
    const { feed, heard, deliver, stop } = startFeed();
    await microtasks();
    heard.length = 0;
    deliver({ ...message('BTCUSDT', 'delta', 2, [], []), data: { s: 'BTCUSDT', b: [['65000.0']], a: [], u: 2, seq: 2 } });
    expect(feed.malformed).toBe(1);
    expect(heard[0]).toMatchObject({ kind: 'unsynced', reason: 'malformed' });
    expect(heard[0]?.detail).toMatch(/data\.b: expected a list of \[price, size\] string pairs/);
    stop();
  });

  it('pulls the quotes of a symbol whose onBook throws, rebuilds its book, and goes on with the others', async () => {
    const failing = { on: false };
    const { feed, heard, deliver, stop } = startFeed((symbol) => failing.on && symbol === 'BTCUSDT');
    await microtasks();
    heard.length = 0;
    failing.on = true;
    deliver(message('BTCUSDT', 'delta', 2, [['64999.9', '2.000']], []));
    deliver(message('ETHUSDT', 'delta', 2, [['3500.00', '3.00']], []));
    await microtasks();
    expect(heard).toEqual([
      { kind: 'unsynced', symbol: 'BTCUSDT', reason: 'listener-failed', detail: 'onBook failed: a bug quoting BTCUSDT' },
      { kind: 'book', symbol: 'ETHUSDT', bestBid: 350_000, at: 1_003 },
    ]);
    expect(feed.book('BTCUSDT')?.isSynced).toBe(false);
    stop();
  });

  it('tells nothing after stop, even for a batch already applied', async () => {
    const { heard, deliver, stop } = startFeed();
    await microtasks();
    heard.length = 0;
    deliver(message('BTCUSDT', 'delta', 2, [['64999.9', '2.000']], []));
    stop();
    await microtasks();
    expect(heard).toEqual([]);
  });
});
