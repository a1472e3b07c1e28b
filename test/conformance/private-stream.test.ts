/**
 * The private stream and its REST backfill feeding the order tracker, on the simulator: fills that happen
 * while the connection is down arrive by backfill, each is applied once, and the tracker's position and
 * fees equal the venue's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5, WebsocketClient } from 'bybit-api';
import { type BybitExecution, type BybitOrder, type BybitPosition, type BybitWallet, signedPositionLots, toExecution, toVenueOrderReport } from '../../src/adapters/bybit/messages.js';
import { RestOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import { PrivateStream } from '../../src/adapters/bybit/private-stream.js';
import { dec } from '../../src/core/decimal.js';
import { formatPrice, formatQty, gridCodec } from '../../src/core/instrument.js';
import { createOrder } from '../../src/core/order.js';
import { lots, ticks } from '../../src/core/units.js';
import { OrderLinkIds, OrderTracker } from '../../src/engine/tracker.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER } from '../support/sim.js';
import { BTCUSDT } from '../support/instruments.js';
import { SILENT_LOGGER, waitFor } from '../support/ws.js';

let sim: Simulator;
let rest: RestClientV5;

beforeAll(async () => {
  sim = await startSimulator({ seed: 23, rateLimitScale: 100 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
});

afterAll(async () => {
  await sim.close();
});

describe('private stream with backfill', () => {
  it('delivers fills missed while disconnected, applies each once, and matches the venue to the unit', async () => {
    const codec = gridCodec(BTCUSDT);
    const tracker = new OrderTracker();
    const ids = new OrderLinkIds('ps', 1);
    const events: string[] = [];
    const positions: BybitPosition[] = [];
    const wallets: BybitWallet[] = [];
    let applied = 0;
    let seen = 0;
    const client = new WebsocketClient({ ...TRADER, wsUrl: sim.wsUrls.private }, SILENT_LOGGER);
    const stream = new PrivateStream({
      client,
      rest,
      symbols: ['BTCUSDT'],
      clock: Date.now,
      initialLookbackMs: 60_000,
      overlapMs: 60_000,
      listener: {
        onOrder: (order: BybitOrder) => {
          if (tracker.get(order.orderLinkId)) tracker.onVenueReport(order.orderLinkId, toVenueOrderReport(order, codec));
        },
        onExecution: (execution: BybitExecution) => {
          seen += 1;
          if (tracker.onExecution(toExecution(execution, BTCUSDT, codec)).applied) applied += 1;
        },
        onPosition: (position) => positions.push(position),
        onWallet: (wallet) => wallets.push(wallet),
        onUnsynced: (reason) => events.push(`unsynced: ${reason}`),
        onSynced: (count) => events.push(`synced: ${count}`),
        onMalformed: (detail) => events.push(`malformed: ${detail}`),
      },
    });
    try {
      await stream.start();
      expect(events).toEqual(['synced: 0']);
      // The wallet topic has no snapshot: the backfill read it.
      const venueWallet = async () => (await rest.getWalletBalance({ accountType: 'UNIFIED' })).result.list[0]!;
      expect(wallets.map((wallet) => wallet.totalWalletBalance)).toEqual([(await venueWallet()).totalWalletBalance]);
      const entry = new RestOrderEntry(rest, 1_000);
      const place = async (side: 'Buy' | 'Sell', priceTicks: number) => {
        const orderLinkId = ids.next();
        tracker.register(createOrder({ orderLinkId, symbol: 'BTCUSDT', side, priceTicks: ticks(priceTicks), qtyLots: lots(10), createdAt: Date.now() }), { symbol: 'BTCUSDT', side, level: 0 });
        const result = await entry.create({ symbol: 'BTCUSDT', side, qty: formatQty(BTCUSDT, lots(10)), price: formatPrice(BTCUSDT, ticks(priceTicks)), orderLinkId });
        expect(result.outcome.kind).toBe('accepted');
        return orderLinkId;
      };
      const taker = (side: 'Buy' | 'Sell', qty: number, priceTicks: number) =>
        sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side, orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(qty), priceTicks: ticks(priceTicks) });

      await place('Buy', 640_000);
      await place('Sell', 660_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      taker('Sell', 4, 630_000);
      await waitFor([null], () => (applied >= 1 ? true : undefined));

      // The connection drops; fills happen while it is down; bybit-api reconnects and the backfill runs.
      sim.ws.drop('private');
      taker('Buy', 3, 670_000);
      taker('Sell', 6, 630_000);
      await waitFor(events, (event) => (typeof event === 'string' && event.startsWith('synced') && events.indexOf(event) > 0 ? true : undefined), 10_000);

      const venueExecutions = (await rest.getExecutionList({ category: 'linear', symbol: 'BTCUSDT', limit: 100 })).result.list;
      expect(applied).toBe(venueExecutions.length);
      expect(seen).toBeGreaterThan(applied);
      const venuePosition = (await rest.getPositionInfo({ category: 'linear', symbol: 'BTCUSDT' })).result.list[0]!;
      const position = tracker.position('BTCUSDT');
      expect(formatQty(BTCUSDT, lots(Number(position.sizeLots < 0n ? -position.sizeLots : position.sizeLots)))).toBe(venuePosition.size);
      expect(position.sizeLots > 0n ? 'Buy' : 'Sell').toBe(venuePosition.side);
      const venueFees = venueExecutions.reduce((total, execution) => total.plus(dec(execution.execFee)), dec('0'));
      expect(position.feesPaid.minus(position.rebatesEarned).eq(venueFees)).toBe(true);
      expect(events.some((event) => event.startsWith('unsynced'))).toBe(true);
      expect(events.filter((event) => event.startsWith('malformed'))).toEqual([]);
      // The position topic: the taker sold 4 lots into our bid before the drop, so the venue held +4.
      expect(positions.map((position) => signedPositionLots(position, codec))).toContain(4n);
      // The buy filled completely while the connection was down: the backfill brought its final state.
      expect(tracker.openOrders('BTCUSDT').map((order) => [order.intent.side, order.venue?.cumExecLots])).toEqual([['Sell', 3]]);
      // The wallet followed the fills (pushed, then read again by the backfill), and ends as the venue's.
      expect(wallets.length).toBeGreaterThan(2);
      expect(wallets.at(-1)?.totalWalletBalance).toBe((await venueWallet()).totalWalletBalance);
      expect(wallets.at(-1)?.totalEquity).toBe((await venueWallet()).totalEquity);
    } finally {
      client.closeAll(true);
    }
  });
});
