/**
 * The engine's market-data feed on the simulator's public stream, through bybit-api: the local book equals
 * the venue's, and every way it can go wrong (gap, silence, reconnect) makes it unsynced, then synced again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5, WebsocketClient } from 'bybit-api';
import { type MarketDataListener, MarketDataFeed, type UnsyncedReason } from '../../src/adapters/bybit/market-data.js';
import { formatPrice, formatQty, gridCodec } from '../../src/core/instrument.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { BTCUSDT } from '../support/instruments.js';
import { SILENT_LOGGER, waitFor } from '../support/ws.js';

let sim: Simulator;
let rest: RestClientV5;
const stops: (() => void)[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 17, market: { autoStart: true, intervalMs: 20 } });
  rest = new RestClientV5({ baseUrl: sim.restUrl });
});

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  sim.faults.bookGapOnce = false;
});

afterAll(async () => {
  await sim.close();
});

function startFeed(staleAfterMs = 2_000) {
  const client = new WebsocketClient({ wsUrl: sim.wsUrls.public }, SILENT_LOGGER);
  const events: { kind: 'book' | UnsyncedReason; synced: boolean }[] = [];
  const listener: MarketDataListener = {
    onBook: (_symbol, book) => events.push({ kind: 'book', synced: book.isSynced }),
    onUnsynced: (_symbol, reason) => events.push({ kind: reason, synced: false }),
  };
  const feed = new MarketDataFeed({ client, codecs: new Map([['BTCUSDT', gridCodec(BTCUSDT)]]), depth: 50, staleAfterMs: new Map([['BTCUSDT', staleAfterMs]]), clock: Date.now, listener });
  feed.start();
  stops.push(() => {
    feed.stop();
    client.closeAll(true);
  });
  return { feed, events };
}

/** Compares the local book with the venue's REST book, allowing for messages in flight: retries briefly. */
async function expectEqualToVenue(feed: MarketDataFeed): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const book = feed.book('BTCUSDT')!;
    const venue = await rest.getOrderbook({ category: 'linear', symbol: 'BTCUSDT', limit: 50 });
    const local = { b: book.top('Buy', 50).map(([price, size]) => [formatPrice(BTCUSDT, price), formatQty(BTCUSDT, size)]), a: book.top('Sell', 50).map(([price, size]) => [formatPrice(BTCUSDT, price), formatQty(BTCUSDT, size)]) };
    if (book.isSynced && JSON.stringify(local) === JSON.stringify({ b: venue.result.b, a: venue.result.a })) return;
    if (attempt > 50) {
      expect(local).toEqual({ b: venue.result.b, a: venue.result.a });
      return;
    }
    // The market moves every 20 ms: pause it for a moment to compare a still book.
    for (const generator of sim.markets.values()) generator.stop();
    await new Promise((resolve) => setTimeout(resolve, 60));
    for (const generator of sim.markets.values()) generator.start(20);
  }
}

describe('market-data feed', () => {
  it('keeps a local book equal to the venue\'s while the market moves', async () => {
    const { feed, events } = startFeed();
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'book' ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expectEqualToVenue(feed);
    expect(events.filter((event) => event.kind !== 'book')).toEqual([]);
  });

  it('unsyncs on a sequence gap and resyncs from a fresh snapshot', async () => {
    const { feed, events } = startFeed();
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'book' ? true : undefined));
    sim.faults.bookGapOnce = true;
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'gap' ? true : undefined));
    const gapAt = events.findIndex((event) => event.kind === 'gap');
    await waitFor(events, () => (events.slice(gapAt).some((event) => event.kind === 'book' && event.synced) ? true : undefined));
    await expectEqualToVenue(feed);
  });

  it('unsyncs a silent feed as stale, and resyncs when it speaks again', async () => {
    const { feed, events } = startFeed(300);
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'book' ? true : undefined));
    sim.ws.stall('public', 800);
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'stale' ? true : undefined), 3_000);
    expect(feed.book('BTCUSDT')!.isSynced).toBe(false);
    const staleAt = events.findIndex((event) => event.kind === 'stale');
    await waitFor(events, () => (events.slice(staleAt).some((event) => event.kind === 'book' && event.synced) ? true : undefined), 5_000);
    await expectEqualToVenue(feed);
  });

  it('unsyncs on a reconnect and resyncs after the client resubscribes', async () => {
    const { feed, events } = startFeed();
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'book' ? true : undefined));
    sim.ws.drop('public');
    await waitFor(events, (event) => ((event as { kind: string }).kind === 'reconnect' ? true : undefined), 5_000);
    const reconnectAt = events.findIndex((event) => event.kind === 'reconnect');
    await waitFor(events, () => (events.slice(reconnectAt).some((event) => event.kind === 'book' && event.synced) ? true : undefined), 5_000);
    await expectEqualToVenue(feed);
  });
});
