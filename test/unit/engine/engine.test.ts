/**
 * The quoting loop (src/engine/engine.ts) against fakes: a manual clock, a scripted order path, a venue
 * account, a status query and a real LocalBook of BTCUSDT. Settings are built from a parsed configuration
 * as the process builds them. Every answer of the fakes is a promise callback, so each step flushes.
 */
import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { formatPrice, formatQty } from '../../../src/core/instrument.js';
import { type VenueOrderReport, isOrderOpen, orderStatus } from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';
import type { AmendParams, CreateParams } from '../../../src/ports/order-entry.js';
import {
  EngineHarness,
  INSTRUMENT,
  SHARD,
  START,
  SYMBOL,
  blocked,
  deferred,
  flush,
  rejected,
  resolved,
  unresolved,
} from './engine-harness.js';

const POST_ONLY_CANCEL = 'EC_PostOnlyWillTakeLiquidity';

function priceOf(h: EngineHarness, params: CreateParams | AmendParams): number {
  if (params.price === undefined) throw new Error('no price');
  return h.ticksOf(params.price);
}

/** The target the strategy wants in a slot on the current book, as the venue's strings. */
function targetFor(h: EngineHarness, side: 'Buy' | 'Sell', level: number, positionLots = 0): { price: string; qty: string } {
  const target = h.targets(positionLots).find((candidate) => candidate.side === side && candidate.level === level);
  if (!target) throw new Error(`no target for ${side}:${level}`);
  return { price: formatPrice(INSTRUMENT, target.priceTicks), qty: formatQty(INSTRUMENT, target.qtyLots) };
}

// ------------------------------------------------------------------------------------------ lifecycle

describe('Engine start', () => {
  it('refuses to start before the private stream is synced, then arms disconnect-cancel, reconciles and becomes ready', async () => {
    const h = new EngineHarness();
    const before = h.engine.ready();
    expect(before.ready).toBe(false);
    expect(before.reasons).toEqual(['engine created', 'private stream not synced', `${SYMBOL}: not reconciled`, `${SYMBOL}: no order book yet`]);
    expect(h.engine.live()).toBe(true);

    await expect(h.engine.start()).rejects.toThrow(/private stream/);
    expect(h.account.sequence).toEqual([]);
    expect(h.engine.status().phase).toBe('created');

    h.engine.onPrivateSynced(0);
    await h.engine.start();
    // Disconnect-cancel first, with the configured window; then one reconciliation per symbol.
    expect(h.account.sequence).toEqual(['armDisconnectCancel', 'openOrders', 'positionLots']);
    expect(h.account.calls.armDisconnectCancel).toEqual([15]);
    expect(h.account.calls.openOrders).toEqual([SYMBOL]);
    expect(h.account.calls.positionLots).toEqual([SYMBOL]);
    expect(h.engine.status().phase).toBe('running');
    expect(h.symbolStatus().reconciliation).toMatchObject({ at: START, cancelledUnknown: 0, adopted: 0, queried: 0, positionMismatchLots: 0n });
    expect(h.engine.ready()).toEqual({ ready: false, reasons: [`${SYMBOL}: no order book yet`] });

    h.setBook(650_000, 650_010);
    expect(h.engine.ready()).toEqual({ ready: true, reasons: [] });
    await expect(h.engine.start()).rejects.toThrow(/cannot start from running/);
  });
});

// ------------------------------------------------------------------------------------------ quoting

describe('quoting', () => {
  it('places one order per level and side, behind the touch and the fair value, in the instrument\'s strings', async () => {
    const h = new EngineHarness();
    await h.start();
    h.setBook(650_000, 650_010);
    await flush();

    const creates = h.router.creates();
    expect(h.router.methods()).toEqual(['create', 'create', 'create', 'create']);
    const fair = h.fair();
    const bestBid = h.book.bestBid()!;
    const bestAsk = h.book.bestAsk()!;
    for (const params of creates) {
      expect(params.symbol).toBe(SYMBOL);
      expect(params.price).toMatch(/^\d+\.\d{2}$/); // priceScale 2
      expect(params.qty).toBe('0.002'); // 3 decimals, orderQty
      const price = priceOf(h, params);
      if (params.side === 'Buy') {
        expect(price).toBeLessThan(bestAsk);
        expect(price).toBeLessThan(fair);
      } else {
        expect(price).toBeGreaterThan(bestBid);
        expect(price).toBeGreaterThan(fair);
      }
    }
    // Exactly what the strategy wants: one order per target.
    expect(creates.map(({ side, price, qty }) => ({ side, price, qty }))).toEqual(
      h.targets().map((target) => ({ side: target.side, price: formatPrice(INSTRUMENT, target.priceTicks), qty: formatQty(INSTRUMENT, target.qtyLots) })),
    );
    const slots = creates.map((params) => h.engine.tracker.slotOf(params.orderLinkId));
    expect(slots.map((slot) => `${slot?.side}:${slot?.level}`).sort()).toEqual(['Buy:0', 'Buy:1', 'Sell:0', 'Sell:1']);
    // Deeper levels are further from the touch.
    expect(priceOf(h, h.createsFor('Buy', 1)[0]!)).toBeLessThan(priceOf(h, h.createsFor('Buy', 0)[0]!));
    expect(priceOf(h, h.createsFor('Sell', 1)[0]!)).toBeGreaterThan(priceOf(h, h.createsFor('Sell', 0)[0]!));

    const ids = creates.map((params) => params.orderLinkId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id.startsWith(`${SHARD}-`)).toBe(true);
      expect(id.length).toBeLessThanOrEqual(36);
    }

    const status = h.symbolStatus();
    expect(status.openOrders).toBe(4);
    expect(status.ourBid).toBe(h.createsFor('Buy', 0)[0]!.price);
    expect(status.ourAsk).toBe(h.createsFor('Sell', 0)[0]!.price);
    expect(status.bestBid).toBe('65000.00');
    expect(status.bestAsk).toBe('65001.00');
    expect(status.mid?.eq(dec('65000.5'))).toBe(true);
    expect(h.engine.status().counters.sent).toEqual({ create: 4, amend: 0, cancel: 0 });

    // The same book again, before or after the venue confirms: nothing more to send.
    h.setBook(650_000, 650_010);
    await flush();
    h.confirmNew();
    await flush();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.calls).toHaveLength(4);
  });

  it('sends nothing before start', async () => {
    const h = new EngineHarness();
    h.engine.onPrivateSynced(0);
    h.setBook(650_000, 650_010);
    h.engine.tick();
    await flush();
    expect(h.router.calls).toEqual([]);
    expect(h.symbolStatus().blockers).toEqual(['engine created', 'not reconciled']);
    expect(h.symbolStatus().quoting).toBe(false);
  });

  it('pulls acknowledged quotes when the book is unsynced, and places none until it is synced again', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const ids = h.open().map((order) => order.intent.orderLinkId);

    h.engine.onBookUnsynced(SYMBOL, 'gap', 'u 9 after 7');
    await flush();
    expect(h.router.calls.at(-1)?.method).toBe('cancelBatch');
    expect(h.router.cancels().map((params) => params.orderLinkId).sort()).toEqual([...ids].sort());
    expect(h.symbolStatus().blockers).toEqual(['book gap: u 9 after 7']);
    expect(h.engine.ready().reasons).toEqual([`${SYMBOL}: book gap: u 9 after 7`]);

    h.confirmCancels();
    h.engine.tick();
    await flush();
    expect(h.router.creates()).toHaveLength(4);
    expect(h.symbolStatus().openOrders).toBe(0);

    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(8);
  });

  it('pulls quotes on a one-sided book (a delta that empties the asks)', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.delta([], h.book.top('Sell', 10).map(([price]) => [formatPrice(INSTRUMENT, price), '0'] as const));
    await flush();
    expect(h.book.bestAsk()).toBeUndefined();
    expect(h.symbolStatus().blockers).toEqual(['no two-sided book']);
    expect(h.symbolStatus().mid).toBeUndefined();
    expect(h.symbolStatus().pnl).toBeUndefined();
    expect(h.router.cancels()).toHaveLength(4);
    h.confirmCancels();
    await flush();
    expect(h.router.creates()).toHaveLength(4);
  });

  it('never sends a cancel before its create is acknowledged', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.hold = true;
    h.setBook(650_000, 650_010);
    await flush();
    const ids = h.router.creates().map((params) => params.orderLinkId);
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'no update for 2000 ms');
    await flush();
    expect(h.router.cancels()).toEqual([]);

    h.router.hold = false;
    h.router.releaseAll();
    await flush();
    expect(h.router.cancels().map((params) => params.orderLinkId).sort()).toEqual([...ids].sort());
  });

  it('pulls quotes while the private stream is unsynced, and reconciles before quoting again', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.engine.onPrivateUnsynced('socket closed');
    await flush();
    expect(h.router.cancels()).toHaveLength(4);
    expect(h.symbolStatus().blockers).toEqual(['private stream not synced', 'not reconciled']);
    h.confirmCancels();
    h.setBook(650_050, 650_060);
    h.engine.tick(); // no reconciliation before the stream is backfilled
    await flush();
    expect(h.router.creates()).toHaveLength(4);
    expect(h.account.calls.openOrders).toHaveLength(1);

    h.engine.onPrivateSynced(3);
    await flush();
    expect(h.account.calls.openOrders).toHaveLength(2);
    expect(h.symbolStatus().quoting).toBe(true);
    expect(h.router.creates()).toHaveLength(8);
  });

  it('sends no new order while frozen; only unfreezing resumes quoting', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.engine.freeze('operator', 'manual freeze');
    await flush();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    expect(h.engine.status().frozen).toEqual({ reason: 'operator', detail: 'manual freeze', at: START });
    expect(h.symbolStatus().blockers).toEqual(['frozen (operator)']);

    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.cancels()).toHaveLength(4); // the acknowledged quotes, through the router as well
    h.confirmCancels();
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.router.creates()).toHaveLength(4);

    // A second freeze keeps the first reason and cancels nothing more.
    h.engine.freeze('drawdown', 'later');
    await flush();
    expect(h.engine.status().frozen?.reason).toBe('operator');
    expect(h.account.calls.cancelAll).toHaveLength(1);

    h.engine.unfreeze('operator');
    await flush();
    expect(h.engine.status().frozen).toBeUndefined();
    expect(h.router.creates()).toHaveLength(8);
    h.engine.unfreeze('twice');
    expect(h.logger.entries.filter((entry) => entry.message === 'unfrozen')).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------------ refresh

describe('refresh', () => {
  it('leaves quotes within the refresh tolerance alone and amends the rest in one batch', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.setBook(650_001, 650_011); // fair value +1 tick
    await flush();
    expect(h.router.amends()).toEqual([]);

    h.setBook(650_020, 650_030); // +20 ticks: every quote is out of tolerance
    await flush();
    const batches = h.router.calls.filter((call) => call.method === 'amendBatch');
    expect(batches).toHaveLength(1);
    expect(batches[0]!.items.length).toBeGreaterThanOrEqual(2);
    const amends = h.router.amends();
    expect(new Set(amends.map((params) => h.engine.tracker.slotOf(params.orderLinkId)?.side))).toEqual(new Set(['Buy', 'Sell']));
    for (const params of amends) {
      const slot = h.engine.tracker.slotOf(params.orderLinkId)!;
      expect({ price: params.price, qty: params.qty }).toEqual(targetFor(h, slot.side, slot.level));
    }
    expect(h.engine.status().counters.sent.amend).toBe(amends.length);
    expect(h.open().every((order) => orderStatus(order) === 'PendingAmend')).toBe(true);

    // Confirmed by the stream: the quotes rest where they should, nothing more to send.
    h.confirmAmends();
    await flush();
    const calls = h.router.calls.length;
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.router.calls).toHaveLength(calls);
    expect(h.symbolStatus().ourBid).toBe(targetFor(h, 'Buy', 0).price);
  });

  it('amends a partly filled quote to what has filled plus the target size', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const price = formatPrice(INSTRUMENT, h.order(bid).venue!.priceTicks);
    h.emit(bid, { status: 'PartiallyFilled', cumExecLots: lots(1), leavesLots: lots(1) });
    await flush();
    expect(h.router.calls.at(-1)?.method).toBe('amend');
    expect(h.router.amends()).toEqual([{ symbol: SYMBOL, orderLinkId: bid, price, qty: '0.003' }]);

    h.confirmAmends();
    await flush();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.amends()).toHaveLength(1);
  });

  it('cancels a bid at once when the fair value moves to within fastCancelTicks of it, instead of amending', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const bidPrice = h.order(bid).venue!.priceTicks;
    h.setBook(bidPrice - 5, bidPrice + 7); // fair value one tick above our bid
    await flush();
    expect(h.fair() - bidPrice).toBeLessThan(h.setup.fastCancelTicks);
    expect(h.router.cancels().map((params) => params.orderLinkId)).toEqual([bid]);
    expect(h.router.amends().map((params) => params.orderLinkId)).not.toContain(bid);
    expect(h.router.amends().length).toBeGreaterThan(0); // the others are re-priced
  });

  it('amends rather than cancels a bid the fair value stays fastCancelTicks above', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const bidPrice = h.order(bid).venue!.priceTicks;
    h.setBook(bidPrice - 3, bidPrice + 9); // fair value exactly fastCancelTicks above our bid
    await flush();
    expect(h.fair() - bidPrice).toBe(h.setup.fastCancelTicks);
    expect(h.router.cancels()).toEqual([]);
    expect(h.router.amends().map((params) => params.orderLinkId)).toContain(bid);
  });
});

// ------------------------------------------------------------------------------------------ lost creates

describe('a create whose fate is unknown', () => {
  it('stops the symbol quoting and is queried until the venue reports it; then quoting resumes', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.script('create', unresolved('no answer, status unknown'));
    h.setBook(650_000, 650_010);
    await flush();
    const [lost, ...others] = h.router.creates().map((params) => params.orderLinkId);
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.symbolStatus().blockers).toEqual(['an order whose state is unknown']);
    expect(h.symbolStatus().quoting).toBe(false);
    expect(h.query.callsFor(lost!)).toBe(1);
    expect(h.router.cancels().map((params) => params.orderLinkId).sort()).toEqual([...others].sort());

    h.engine.tick();
    await flush();
    expect(h.query.callsFor(lost!)).toBe(2);
    expect(h.engine.status().unknownOrders).toBe(1);

    const order = h.order(lost!);
    h.query.answers.set(lost!, { orderId: 'v-landed', status: 'New', priceTicks: order.intent.priceTicks, qtyLots: order.intent.qtyLots, cumExecLots: lots(0), leavesLots: order.intent.qtyLots, updatedTime: h.time.now });
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(h.order(lost!).venue?.status).toBe('New');
    expect(h.logger.has('info', 'order state established')).toBe(true);

    h.confirmCancels();
    await flush();
    expect(h.symbolStatus().quoting).toBe(true);
    expect(h.router.creates()).toHaveLength(4 + others.length); // the pulled slots, and only those
    expect(h.createsFor('Buy', 0)).toHaveLength(1);
  });

  it('is declared never to have landed only once createExpiryMs has passed', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.script('create', unresolved());
    h.setBook(650_000, 650_010);
    await flush();
    const lost = h.router.creates()[0]!.orderLinkId;
    h.confirmCancels();
    await flush();

    h.time.advance(h.settings.createExpiryMs);
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(isOrderOpen(h.order(lost))).toBe(true);
    expect(h.order(lost).localRejection).toBeUndefined();
    expect(h.router.creates()).toHaveLength(4);

    h.time.advance(1);
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(h.order(lost).localRejection).toMatch(/not at the venue/);
    expect(h.logger.has('info', 'order never reached the venue')).toBe(true);
    expect(h.createsFor('Buy', 0)).toHaveLength(2); // its slot is quoted again
  });

  it('treats a create the router resolved as absent as unknown too, and one resolved with a report as placed', async () => {
    const h = new EngineHarness();
    h.setBook(650_000, 650_010); // before start: the engine only records it
    const target = h.targets()[0]!;
    const report: VenueOrderReport = { orderId: 'v-1', status: 'New', priceTicks: target.priceTicks, qtyLots: target.qtyLots, cumExecLots: lots(0), leavesLots: target.qtyLots, updatedTime: START };
    h.router.script('create', resolved(report), resolved(undefined));
    await h.start();
    const [first, second] = h.router.creates().map((params) => params.orderLinkId);
    expect(h.order(first!).venue?.orderId).toBe('v-1');
    expect(orderStatus(h.order(second!))).toBe('PendingNew');
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.query.callsFor(second!)).toBe(1);
  });

  it('counts a refused create and holds its slot for a while; a blocked create is not a venue rejection', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.script('create', rejected(110_007, 'ab not enough for new order'), blocked());
    h.setBook(650_000, 650_010);
    await flush();
    const [refused, stopped] = h.router.creates().map((params) => params.orderLinkId);
    expect(h.order(refused!).localRejection).toBe('110007 ab not enough for new order');
    expect(h.order(stopped!).localRejection).toBe('the circuit breaker is open');
    expect(h.engine.status().counters.venueRejections).toEqual({ '110007': 1 });
    // The refused slot is not retried at once (the same request would be refused again); the blocked one is.
    expect(h.createsFor('Buy', 0)).toHaveLength(1);
    expect(h.createsFor('Buy', 1)).toHaveLength(2);
    h.time.advance(1_000);
    h.engine.tick();
    await flush();
    expect(h.createsFor('Buy', 0)).toHaveLength(2);
    expect(h.symbolStatus().openOrders).toBe(4);
  });

  it('makes the orders of an answer it failed to handle unknown, and settles them by query', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.script('create', new Error('socket exploded'));
    h.setBook(650_000, 650_010);
    await flush();
    const lost = h.router.creates()[0]!.orderLinkId;
    expect(h.logger.has('error', 'handling a venue answer failed; querying the orders')).toBe(true);
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.query.callsFor(lost)).toBe(0); // asked at the next tick

    h.engine.tick();
    await flush();
    expect(h.query.callsFor(lost)).toBe(1);
  });

  it('queries an order with a request and no news for stuckAfterMs', async () => {
    const h = new EngineHarness();
    await h.start();
    h.setBook(650_000, 650_010);
    await flush(); // acknowledged, never reported by the order stream
    const ids = h.router.creates().map((params) => params.orderLinkId);
    h.time.advance(h.settings.stuckAfterMs - 1);
    h.engine.tick();
    await flush();
    expect(h.query.calls).toEqual([]);

    for (const id of ids) {
      const order = h.order(id);
      h.query.answers.set(id, { orderId: order.orderId!, status: 'New', priceTicks: order.intent.priceTicks, qtyLots: order.intent.qtyLots, cumExecLots: lots(0), leavesLots: order.intent.qtyLots, updatedTime: h.time.now });
    }
    h.time.advance(1);
    h.engine.tick();
    await flush();
    expect(h.query.calls.map((call) => call.orderLinkId).sort()).toEqual([...ids].sort());
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(ids.map((id) => h.order(id).venue?.status)).toEqual(['New', 'New', 'New', 'New']);
  });

  it('makes an order unknown when the state machine refuses its report, until a query settles it', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const good = h.order(bid).venue!;
    h.emit(bid, { orderId: 'someone-elses-id' });
    await flush();
    expect(h.engine.status().counters.illegalTransitions).toEqual({ 'id-mismatch': 1 });
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.logger.has('warn', 'order state unknown; querying until the venue says')).toBe(true);

    h.query.answers.set(bid, { ...good, updatedTime: good.updatedTime + 1 });
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(h.symbolStatus().quoting).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------ executions

describe('executions', () => {
  it('move the position once per execId, and show maker share, fees, rebates and funding', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const bidPrice = h.order(bid).venue!.priceTicks;
    const fill = h.trade({ execId: 'e-1', side: 'Buy', priceTicks: bidPrice, qtyLots: 2, fee: '-0.0013', isMaker: true, orderLinkId: bid });
    h.engine.onExecution(fill);
    await flush();
    expect(h.symbolStatus().position.eq(dec('0.002'))).toBe(true);
    expect(h.symbolStatus().fills).toBe(1);
    expect(h.symbolStatus().makerShare).toBe(1);

    h.engine.onExecution(fill); // the same execution again (stream and backfill)
    await flush();
    expect(h.symbolStatus().position.eq(dec('0.002'))).toBe(true);
    expect(h.symbolStatus().fills).toBe(1);
    expect(h.symbolStatus().edge.fills).toBe(1);

    h.engine.onExecution(h.trade({ execId: 'e-2', side: 'Sell', priceTicks: 650_000, qtyLots: 1, fee: '0.00357', isMaker: false }));
    h.engine.onExecution(h.funding('f-1', '0.01'));
    await flush();
    const status = h.symbolStatus();
    expect(status.position.eq(dec('0.001'))).toBe(true);
    expect(status.fills).toBe(2);
    expect(status.makerShare).toBeCloseTo(2 / 3, 10);
    expect(status.pnl?.rebatesEarned.eq(dec('0.0013'))).toBe(true);
    expect(status.pnl?.feesPaid.eq(dec('0.00357'))).toBe(true);
    expect(status.pnl?.funding.eq(dec('-0.01'))).toBe(true);
    expect(status.edge.rebates.eq(dec('0.0013').minus(dec('0.00357')))).toBe(true);
    expect(status.edge.fills).toBe(2);
  });

  it('take the fill price as the mid when there is no book yet', async () => {
    const h = new EngineHarness();
    await h.start();
    h.engine.onExecution(h.trade({ execId: 'e-1', side: 'Buy', priceTicks: 650_000, qtyLots: 2 }));
    h.engine.tick();
    await flush();
    expect(h.symbolStatus().position.eq(dec('0.002'))).toBe(true);
    expect(h.symbolStatus().edge.spreadCapture.eq(dec('0'))).toBe(true);
    expect(h.symbolStatus().pnl).toBeUndefined();
  });

  it('skew the quotes against a long position: the ask moves closer to the fair value than the bid', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const ask = h.idInSlot('Sell:0');
    const bid = h.idInSlot('Buy:0');
    const fair = h.fair();
    const askBefore = h.order(ask).venue!.priceTicks;
    const bidBefore = h.order(bid).venue!.priceTicks;
    expect(Math.abs(askBefore - fair - (fair - bidBefore))).toBeLessThanOrEqual(1); // flat: symmetric, up to rounding

    h.engine.onExecution(h.trade({ execId: 'e-1', side: 'Buy', priceTicks: bidBefore, qtyLots: 10, orderLinkId: bid }));
    await flush();
    const amended = new Map(h.router.amends().map((params) => [params.orderLinkId, priceOf(h, params)]));
    const askAfter = amended.get(ask)!;
    const bidAfter = amended.get(bid)!;
    expect(askAfter).toBeLessThan(askBefore);
    expect(bidAfter).toBeLessThan(bidBefore);
    expect(askAfter - fair).toBeLessThan(fair - bidAfter);
    expect(formatPrice(INSTRUMENT, ticks(askAfter))).toBe(targetFor(h, 'Sell', 0, 10).price);
  });
});

// ------------------------------------------------------------------------------------------ edge

describe('edge and drawdown', () => {
  it('freeze on a drawdown beyond maxDrawdown: cancel-all over REST, no new creates, until unfrozen', async () => {
    const h = new EngineHarness({ risk: { maxDrawdown: '1' } });
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.engine.onExecution(h.trade({ execId: 'e-1', side: 'Buy', priceTicks: 650_000, qtyLots: 10, orderLinkId: bid }));
    await flush();
    expect(h.engine.status().frozen).toBeUndefined();

    h.setBook(648_000, 648_010); // 10 lots lose about 2 USDT
    h.engine.tick();
    await flush();
    const frozen = h.engine.status().frozen;
    expect(frozen?.reason).toBe('drawdown');
    expect(frozen?.detail).toContain(SYMBOL);
    expect(h.symbolStatus().edge.peakNetPnl.minus(h.symbolStatus().edge.netPnl).gt(dec('1'))).toBe(true);
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);

    const createsAtFreeze = h.router.creates().length;
    h.confirmCancels(true);
    h.setBook(648_000, 648_010);
    h.engine.tick();
    await flush();
    expect(h.router.creates()).toHaveLength(createsAtFreeze);
    expect(h.symbolStatus().blockers).toEqual(['frozen (drawdown)']);
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]); // once per freeze

    h.engine.unfreeze('operator');
    await flush();
    expect(h.router.creates().length).toBeGreaterThan(createsAtFreeze);
  });

  it('freeze when the net edge over the window of fills collapses', async () => {
    const h = new EngineHarness({ risk: { edgeWindowFills: 2, markoutHorizonsMs: [1_000], edgeCollapseBps: '-1' } });
    await h.quoting();
    // Two buys at the mid, paying a fee; then the market falls.
    h.engine.onExecution(h.trade({ execId: 'e-1', side: 'Buy', priceTicks: 650_005, qtyLots: 2, fee: '0.01', isMaker: false }));
    h.engine.onExecution(h.trade({ execId: 'e-2', side: 'Buy', priceTicks: 650_005, qtyLots: 2, fee: '0.01', isMaker: false }));
    h.engine.tick();
    await flush();
    expect(h.engine.status().frozen).toBeUndefined();
    expect(h.symbolStatus().edge.netEdgeBps).toBeUndefined();

    h.time.advance(1_000);
    h.setBook(649_900, 649_910);
    await flush();
    expect(h.symbolStatus().edge.netEdgeBps?.lt(dec('-1'))).toBe(true);
    h.engine.tick();
    await flush();
    expect(h.engine.status().frozen?.reason).toBe('edge-collapse');
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
  });

  it('retries a failed cancel-all on the next tick', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.account.failures.cancelAll = 1;
    h.engine.freeze('operator', 'test');
    await flush();
    expect(h.logger.has('error', 'cancel-all failed; retrying on the next tick')).toBe(true);
    h.engine.tick();
    await flush();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL, SYMBOL]);
    expect(h.logger.has('info', 'cancelled everything')).toBe(true);
    h.engine.tick();
    await flush();
    expect(h.account.calls.cancelAll).toHaveLength(2);
  });
});

// ------------------------------------------------------------------------------------------ reconciliation

describe('reconciliation', () => {
  it('cancels unknown venue orders with cancel-all and checks the venue again', async () => {
    const h = new EngineHarness();
    h.account.open.set(SYMBOL, [h.venueOrder('other-bot-1', 'Buy', 649_000), h.venueOrder('', 'Sell', 651_000, 2, 'bare-order')]);
    await h.start();
    expect(h.account.sequence).toEqual(['armDisconnectCancel', 'openOrders', 'positionLots', 'cancelAll', 'openOrders']);
    const report = h.symbolStatus().reconciliation!;
    expect(report.cancelledUnknown).toBe(2);
    expect(report.findings).toEqual([`${SYMBOL}: cancelling unknown open order other-bot-1`, `${SYMBOL}: cancelling unknown open order bare-order`]);
    expect(h.engine.tracker.get('other-bot-1')).toBeUndefined();
    expect(h.engine.ready().reasons).toEqual([`${SYMBOL}: no order book yet`]);
  });

  it('fails when unknown orders survive the cancel-all, and retries on the next tick', async () => {
    const h = new EngineHarness();
    h.account.cancelAllClears = false;
    h.account.open.set(SYMBOL, [h.venueOrder('other-bot-1', 'Buy', 649_000)]);
    await h.start();
    expect(h.engine.status().phase).toBe('running');
    expect(h.engine.ready().reasons).toContain(`${SYMBOL}: not reconciled`);
    expect(h.logger.has('error', 'reconciliation failed; retrying on the next tick')).toBe(true);
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.calls).toEqual([]);

    h.account.cancelAllClears = true;
    h.engine.tick();
    await flush();
    expect(h.symbolStatus().reconciliation?.cancelledUnknown).toBe(1);
    expect(h.router.creates()).toHaveLength(4);
  });

  it('retries on the next tick after the venue failed to list the open orders', async () => {
    const h = new EngineHarness();
    h.account.failures.openOrders = 1;
    await h.start();
    expect(h.symbolStatus().blockers).toContain('not reconciled');
    expect(h.symbolStatus().reconciliation).toBeUndefined();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.calls).toEqual([]);

    h.engine.tick();
    await flush();
    expect(h.account.calls.openOrders).toHaveLength(2);
    expect(h.symbolStatus().reconciliation).toBeDefined();
    expect(h.router.creates()).toHaveLength(4);
  });

  it('adopts this shard\'s earlier orders into free slots (the rest as surplus) and leaves foreign ones alone', async () => {
    const h = new EngineHarness({ engine: { cancelUnknownOrders: false } });
    h.setBook(650_000, 650_010); // recorded before start, quoted once running
    const bidTarget = h.targets().find((target) => target.side === 'Buy' && target.level === 0)!;
    const earlier = (sequence: number) => `${SHARD}-6-${sequence}`;
    h.account.open.set(SYMBOL, [
      h.venueOrder(earlier(1), 'Buy', bidTarget.priceTicks, bidTarget.qtyLots),
      h.venueOrder(earlier(2), 'Buy', 649_000),
      h.venueOrder(earlier(3), 'Buy', 648_000),
      h.venueOrder('other-bot-1', 'Sell', 651_000),
    ]);
    await h.start();

    const report = h.symbolStatus().reconciliation!;
    expect(report.adopted).toBe(3);
    expect(report.cancelledUnknown).toBe(0);
    expect(report.findings).toContain(`${SYMBOL}: leaving a foreign open order other-bot-1`);
    expect(h.account.calls.cancelAll).toEqual([]);
    expect(h.engine.tracker.slotOf(earlier(1))).toEqual({ symbol: SYMBOL, side: 'Buy', level: 0 });
    expect(h.engine.tracker.slotOf(earlier(2))).toEqual({ symbol: SYMBOL, side: 'Buy', level: 1 });
    expect(h.engine.tracker.slotOf(earlier(3))).toBeUndefined();
    expect(h.engine.tracker.get('other-bot-1')).toBeUndefined();

    // Quoting: the adopted orders keep their slots; only the asks are created.
    expect(h.router.creates().map((params) => params.side)).toEqual(['Sell', 'Sell']);
    expect(h.router.cancels().map((params) => params.orderLinkId)).toEqual([earlier(3)]);
    expect(h.router.amends().map((params) => params.orderLinkId)).toEqual([earlier(2)]);
  });

  it('takes the venue\'s position after a backfill and reports what the executions do not explain', async () => {
    const h = new EngineHarness();
    h.account.positions.set(SYMBOL, 5n);
    h.onBackfill = () => {
      h.engine.onExecution(h.trade({ execId: 'missed-1', side: 'Buy', priceTicks: 650_000, qtyLots: 3 }));
    };
    await h.start();
    expect(h.backfills).toBe(1);
    expect(h.account.calls.positionLots).toEqual([SYMBOL, SYMBOL]);
    const status = h.symbolStatus();
    expect(status.position.eq(dec('0.005'))).toBe(true);
    expect(status.untrackedPosition.eq(dec('0.002'))).toBe(true);
    expect(status.reconciliation?.positionMismatchLots).toBe(2n);
    expect(status.reconciliation?.findings).toContain(`${SYMBOL}: position differs by 5 lots (venue 5, here 0); the venue's is taken`);

    // Quoting uses the venue's position.
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates().map(({ side, price }) => ({ side, price }))).toEqual(
      h.targets(5).map((target) => ({ side: target.side, price: formatPrice(INSTRUMENT, target.priceTicks) })),
    );
  });

  it('queries orders open here that the venue does not list, and quotes once they are settled', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const ids = h.open().map((order) => order.intent.orderLinkId);
    h.engine.onPrivateUnsynced('reconnect');
    await flush();
    h.router.calls.length = 0;
    // The venue lists nothing open: every order here must be asked about.
    for (const id of ids) h.query.answers.set(id, { ...h.order(id).venue!, status: 'Cancelled', leavesLots: lots(0), updatedTime: h.time.now + 1 });
    h.engine.onPrivateSynced(0);
    await flush();
    expect(h.symbolStatus().reconciliation?.queried).toBe(4);
    expect(h.engine.status().unknownOrders).toBe(4);
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(ids.every((id) => orderStatus(h.order(id)) === 'Cancelled')).toBe(true);
    expect(h.router.creates()).toHaveLength(4);
  });
});

// ------------------------------------------------------------------------------------------ breaker

describe('circuit breaker', () => {
  it('cancels everything over REST once per open episode and sends nothing through the router meanwhile', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const calls = h.router.calls.length;
    h.breaker = 'open';
    h.engine.tick();
    await flush();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    expect(h.logger.has('error', 'circuit breaker open: quoting stopped, cancelling everything over REST')).toBe(true);
    expect(h.engine.status().breaker).toBe('open');
    expect(h.symbolStatus().blockers).toEqual(['circuit breaker open']);
    expect(h.engine.ready().reasons).toEqual(['circuit breaker open']);

    h.engine.tick();
    h.setBook(650_100, 650_110); // would move every quote
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x'); // would pull every quote
    h.setBook(650_100, 650_110);
    await flush();
    expect(h.account.calls.cancelAll).toHaveLength(1);
    expect(h.router.calls).toHaveLength(calls);

    h.breaker = 'closed';
    h.engine.tick();
    await flush();
    expect(h.router.calls.length).toBeGreaterThan(calls);
    h.breaker = 'open';
    h.engine.tick();
    await flush();
    expect(h.account.calls.cancelAll).toHaveLength(2); // a new episode
  });
});

// ------------------------------------------------------------------------------------------ stop

describe('stop', () => {
  it('once the venue lists nothing open, each order open here learns its final state: from the stream, else by a query', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const [streamed, queried, ...others] = h.open().map((order) => order.intent.orderLinkId);
    if (streamed === undefined || queried === undefined) throw new Error('expected quotes');
    h.query.answers.set(queried, h.report(queried, { status: 'Cancelled', leavesLots: lots(0) }).report);
    for (const orderLinkId of others) h.query.answers.set(orderLinkId, h.report(orderLinkId, { status: 'Cancelled', leavesLots: lots(0) }).report);
    const stopping = h.engine.stop('test over');
    await flush();
    // The stream reports one cancellation; the rest stay silent and are asked for.
    h.emit(streamed, { status: 'Cancelled', leavesLots: lots(0) });
    const report = await h.settle(stopping);
    expect(report.clean).toBe(true);
    expect(h.open()).toEqual([]);
    expect(h.query.callsFor(streamed)).toBe(0);
    expect(h.query.callsFor(queried)).toBe(1);
    expect(orderStatus(h.order(queried))).toBe('Cancelled');
  });

  it('waits for answers in flight, cancels everything, checks the venue lists nothing open, then sends nothing', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.hold = true;
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(4);

    const stopping = h.engine.stop('test over');
    await flush();
    expect(h.engine.status().phase).toBe('stopping');
    expect(h.account.calls.cancelAll).toEqual([]); // a create may still land: wait for it
    expect(h.engine.stop('again')).toBe(stopping);

    h.router.hold = false;
    h.router.releaseAll();
    const report = await h.settle(stopping);
    expect(report).toMatchObject({ clean: true, remainingOpenOrders: 0 });
    // Half the budget at most for the answers, plus the second this fake venue leaves the order stream to report the cancellations.
    expect(report.elapsedMs).toBeLessThan(h.settings.stopTimeoutMs / 2 + 1_100);
    expect(h.account.sequence.slice(-2)).toEqual(['cancelAll', 'openOrders']);
    expect(h.router.creates()).toHaveLength(4);
    expect(h.engine.status().phase).toBe('stopped');
    expect(h.engine.live()).toBe(false);
    expect(h.engine.ready().reasons).toContain('engine stopped');

    const calls = h.router.calls.length;
    const accountCalls = h.account.sequence.length;
    h.setBook(650_100, 650_110);
    h.engine.onBookUnsynced(SYMBOL, 'gap', 'x');
    h.engine.onPrivateUnsynced('x');
    h.engine.tick();
    await flush();
    expect(h.router.calls).toHaveLength(calls);
    expect(h.account.sequence).toHaveLength(accountCalls);
  });

  it('waits for answers in flight at most half the stop timeout', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.hold = true;
    h.setBook(650_000, 650_010);
    await flush();
    const stopping = h.engine.stop('test over');
    await flush();
    // The answers never come: step the clock sleep by sleep until the cancel-all goes out.
    const cancelAlls = (): number => h.account.calls.cancelAll.length;
    let steps = 0;
    while (cancelAlls() === 0 && h.time.runNextTimer()) {
      await flush();
      steps += 1;
      if (cancelAlls() === 0) expect(h.time.now).toBeLessThan(START + h.settings.stopTimeoutMs / 2);
    }
    expect(steps).toBeGreaterThan(1);
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    expect(h.time.now).toBeGreaterThanOrEqual(START + h.settings.stopTimeoutMs / 2);
    expect(h.router.calls.every((call) => !call.settled)).toBe(true);
    expect(await h.settle(stopping)).toMatchObject({ clean: true, remainingOpenOrders: 0 });
  });

  it('reports an unclean stop when the venue still lists open orders at the stop timeout', async () => {
    const h = new EngineHarness();
    await h.start();
    h.account.cancelAllClears = false;
    h.account.open.set(SYMBOL, [h.venueOrder('stubborn-1', 'Buy', 649_000)]);
    const report = await h.settle(h.engine.stop('test over'));
    expect(report.clean).toBe(false);
    expect(report.remainingOpenOrders).toBe(1);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(h.settings.stopTimeoutMs);
    expect(h.account.calls.cancelAll.length).toBeGreaterThan(1);
    expect(h.logger.has('error', 'stopped with orders possibly open at the venue; disconnect-cancel will remove them')).toBe(true);
  });

  it('retries a failed cancel-all while stopping', async () => {
    const h = new EngineHarness();
    await h.start();
    h.account.failures.cancelAll = 2;
    const report = await h.settle(h.engine.stop('test over'));
    expect(report.clean).toBe(true);
    expect(h.account.calls.cancelAll).toHaveLength(3);
    expect(h.logger.has('warn', 'cancel-all on stop failed; retrying')).toBe(true);
  });

  it('does not report a clean stop when cancel-all failed on every attempt', async () => {
    const h = new EngineHarness();
    await h.start();
    h.account.failures.cancelAll = 1_000;
    const report = await h.settle(h.engine.stop('test over'));
    expect(report.clean).toBe(false);
    expect(report.remainingOpenOrders).toBe(-1);
  });

  it('stopped while starting, it never begins quoting', async () => {
    const h = new EngineHarness();
    const gate = deferred<undefined>();
    h.account.openOrdersGates.push(gate);
    h.engine.onPrivateSynced(0);
    h.setBook(650_000, 650_010);
    const starting = h.engine.start();
    await flush();
    expect(h.engine.status().phase).toBe('starting');
    const stopping = h.engine.stop('shutdown during start');
    gate.resolve(undefined);
    await starting;
    const report = await h.settle(stopping);
    expect(report.clean).toBe(true);
    expect(h.engine.status().phase).toBe('stopped');
    expect(h.router.calls).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------ risk

describe('pre-trade risk', () => {
  it('refuses a second order in the same second with ordersPerSecond = 1, and counts it', async () => {
    const h = new EngineHarness({ risk: { ordersPerSecond: 1 } });
    await h.start();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(1);
    const refusals = h.engine.status().counters.riskRefusals['rate-budget'] ?? 0;
    expect(refusals).toBeGreaterThanOrEqual(3);

    h.time.advance(999);
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(1);
    expect(h.engine.status().counters.riskRefusals['rate-budget']).toBeGreaterThan(refusals);

    h.time.advance(1);
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(2);
  });
});

describe('scarce order budget', () => {
  it('keeps room for the level-0 quotes: the deeper levels wait', async () => {
    // 4 a second for one symbol: the last 2 are kept for the level-0 bid and ask.
    const h = new EngineHarness({ risk: { ordersPerSecond: 4 } });
    await h.start();
    h.setBook(650_000, 650_010);
    await flush();
    h.confirmNew();
    const levelsOf = (ids: readonly string[]) => ids.map((orderLinkId) => `${h.engine.tracker.slotOf(orderLinkId)?.side}:${h.engine.tracker.slotOf(orderLinkId)?.level}`);
    // The plan lists the bid side first: Buy 0, Buy 1 (2 sent + 2 kept is not over), Sell 0; Sell 1 must wait.
    expect(levelsOf(h.router.creates().map((params) => params.orderLinkId))).toEqual(['Buy:0', 'Buy:1', 'Sell:0']);
    expect(h.engine.status().counters.riskRefusals['rate-budget']).toBeGreaterThanOrEqual(1);

    // Next second, the market moves: both level-0 quotes are amended before any deeper level is touched.
    h.time.advance(1_000);
    h.setBook(650_040, 650_050);
    await flush();
    const amended = levelsOf(h.router.amends().map((params) => params.orderLinkId));
    expect(amended).toContain('Buy:0');
    expect(amended).toContain('Sell:0');
    expect(amended.length + h.router.creates().length - 3).toBeLessThanOrEqual(4);
  });
});

// ------------------------------------------------------------------------------------------ order stream

describe('order stream', () => {
  it('counts a post-only cancellation as a re-price and quotes the slot again', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    const update = h.report(bid, { status: 'Cancelled', rejectReason: POST_ONLY_CANCEL, cancelType: 'CancelByUser', leavesLots: lots(0) });
    h.engine.onOrderUpdate(update);
    h.engine.onOrderUpdate(update); // delivered twice: counted once
    await flush();
    expect(h.engine.status().counters.postOnlyRepriced).toBe(1);

    h.setBook(650_000, 650_010);
    await flush();
    const again = h.createsFor('Buy', 0);
    expect(again).toHaveLength(2);
    expect(again[1]!.orderLinkId).not.toBe(bid);

    h.emit(h.idInSlot('Sell:0'), { status: 'Cancelled', leavesLots: lots(0) }); // an ordinary cancellation
    await flush();
    expect(h.engine.status().counters.postOnlyRepriced).toBe(1);
  });

  it('cancels an open order it never sent, counts it, and ignores its later reports', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const foreign = h.venueOrder('manual-1', 'Sell', 651_000);
    h.engine.onOrderUpdate(foreign);
    await flush();
    expect(h.engine.status().counters.foreignOrders).toBe(1);
    expect(h.router.cancels().map((params) => params.orderLinkId)).toEqual(['manual-1']);
    expect(h.engine.tracker.slotOf('manual-1')).toBeUndefined(); // every slot is ours: it is surplus
    expect(h.logger.has('warn', 'cancelling an open order unknown to this engine')).toBe(true);

    h.engine.onOrderUpdate({ ...foreign, report: { ...foreign.report, status: 'Cancelled', leavesLots: lots(0), updatedTime: foreign.report.updatedTime + 1 } });
    h.engine.onOrderUpdate({ ...h.venueOrder('manual-2', 'Buy', 649_000), report: { ...h.venueOrder('manual-2', 'Buy', 649_000).report, status: 'Filled' } });
    await flush();
    expect(h.engine.status().counters.foreignOrders).toBe(1);
    expect(h.router.cancels()).toHaveLength(1);
    expect(h.engine.tracker.get('manual-2')).toBeUndefined();
  });

  it('leaves a foreign open order alone when it may not cancel it, or cannot name it', async () => {
    const keep = new EngineHarness({ engine: { cancelUnknownOrders: false } });
    await keep.quoting();
    keep.engine.onOrderUpdate(keep.venueOrder('manual-1', 'Sell', 651_000));
    await flush();
    expect(keep.engine.status().counters.foreignOrders).toBe(1);
    expect(keep.router.cancels()).toEqual([]);
    expect(keep.engine.tracker.get('manual-1')).toBeUndefined();
    expect(keep.logger.has('warn', 'open order unknown to this engine')).toBe(true);

    const nameless = new EngineHarness();
    await nameless.quoting();
    nameless.engine.onOrderUpdate(nameless.venueOrder('', 'Sell', 651_000, 2, 'v-9'));
    await flush();
    expect(nameless.engine.status().counters.foreignOrders).toBe(1);
    expect(nameless.router.cancels()).toEqual([]);
  });

  it('ignores every input for a symbol it does not quote', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const calls = h.router.calls.length;
    h.engine.onBook('ETHUSDT', h.book, h.time.now);
    h.engine.onBookUnsynced('ETHUSDT', 'gap', 'x');
    h.engine.onOrderUpdate({ ...h.venueOrder('x-1', 'Buy', 1), symbol: 'ETHUSDT' });
    h.engine.onExecution({ ...h.trade({ execId: 'eth-1', side: 'Buy', priceTicks: 30_000, qtyLots: 1 }), symbol: 'ETHUSDT' });
    await flush();
    expect(h.router.calls).toHaveLength(calls);
    expect(h.engine.status().counters.foreignOrders).toBe(0);
    expect(h.engine.tracker.hasExecution('eth-1')).toBe(false);
  });

  it('counts malformed venue messages by source', () => {
    const h = new EngineHarness();
    h.engine.onMalformed('order', 'bad price');
    h.engine.onMalformed('order', 'bad qty');
    h.engine.onMalformed('execution', 'no execId');
    expect(h.engine.status().counters.malformed).toEqual({ order: 2, execution: 1 });
  });
});

// ------------------------------------------------------------------------------------------ answers

describe('amend and cancel answers', () => {
  it('a cancel refused with 110001 makes the order unknown until the query says it finished', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.onceById.set(bid, rejected(110_001, 'order not exists or too late to cancel'));
    h.query.answers.set(bid, { ...h.order(bid).venue!, status: 'Cancelled', leavesLots: lots(0), updatedTime: h.time.now + 5 });
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'no update for 2000 ms');
    await flush();
    expect(h.engine.status().counters.venueRejections).toEqual({ '110001': 1 });
    expect(h.query.callsFor(bid)).toBeGreaterThanOrEqual(1);
    expect(orderStatus(h.order(bid))).toBe('Cancelled');
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(h.logger.has('debug', 'order finished while a request was on its way; confirming its final state')).toBe(true);
  });

  it('a cancel refused with 110001 is settled by the order stream\'s final report when the query fails', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.script('cancel', rejected(110_001, 'order not exists or too late to cancel'));
    h.query.answers.set(bid, new Error('query timed out'));
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'no update for 2000 ms');
    await flush();
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.symbolStatus().blockers).toContain('an order whose state is unknown');
    expect(h.logger.has('debug', 'status query failed; will ask again')).toBe(true);

    h.emit(bid, { status: 'Cancelled', leavesLots: lots(0) });
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('does not send a cancel again for an order the venue said is gone while its state is being established', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.script('cancel', rejected(110_001, 'order not exists or too late to cancel'));
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'no update for 2000 ms');
    await flush();
    expect(h.router.cancels().filter((params) => params.orderLinkId === bid)).toHaveLength(1);
  });

  it('a late "gone" for an order already finished is settled by a query that finds nothing', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.hold = true;
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x');
    await flush();
    h.emit(bid, { status: 'Filled', cumExecLots: lots(2), leavesLots: lots(0) });
    await flush();
    const [batch] = h.router.calls.filter((call) => call.method === 'cancelBatch');
    h.router.hold = false;
    batch!.release(batch!.items.map((item) => (item.orderLinkId === bid ? rejected(110_008, 'order has been completed or cancelled') : undefined)));
    await flush();
    expect(h.query.callsFor(bid)).toBe(1);
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('forgets an unknown order once it has been pruned', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.hold = true;
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x');
    await flush();
    h.emit(bid, { status: 'Filled', cumExecLots: lots(2), leavesLots: lots(0) });
    h.query.answers.set(bid, new Error('query timed out'));
    const [batch] = h.router.calls.filter((call) => call.method === 'cancelBatch');
    h.router.hold = false;
    batch!.release(batch!.items.map((item) => (item.orderLinkId === bid ? rejected(110_008, 'order has been completed or cancelled') : undefined)));
    h.confirmCancels();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(1);

    h.query.answers.delete(bid);
    h.time.advance(h.settings.retainClosedMs + 1_000);
    h.engine.tick();
    await flush();
    expect(h.engine.tracker.get(bid)).toBeUndefined();
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('cancel answers: blocked or shown still open put the order back; shown cancelled closes it; no report or no answer makes it unknown', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const [buy0, buy1, sell0, sell1] = ['Buy:0', 'Buy:1', 'Sell:0', 'Sell:1'].map((slot) => h.idInSlot(slot));
    const current = (id: string) => h.order(id).venue!;
    h.router.onceById.set(buy0!, blocked());
    h.router.onceById.set(buy1!, resolved({ ...current(buy1!) }));
    h.router.onceById.set(sell0!, resolved({ ...current(sell0!), status: 'Cancelled', leavesLots: lots(0), updatedTime: current(sell0!).updatedTime + 1 }));
    h.router.onceById.set(sell1!, resolved(undefined));
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x');
    await flush();
    expect(orderStatus(h.order(sell0!))).toBe('Cancelled');
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.query.callsFor(sell1!)).toBe(1);
    // The two put back are cancelled again (still pulled).
    expect(h.router.cancels().filter((params) => params.orderLinkId === buy0)).toHaveLength(2);
    expect(orderStatus(h.order(buy0!))).toBe('PendingCancel');
    expect(h.router.cancels().filter((params) => params.orderLinkId === buy1)).toHaveLength(2);
    expect(h.engine.status().counters.venueRejections).toEqual({});
  });

  it('an unresolved cancel makes the order unknown; its final report settles it', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.router.script('cancel', unresolved('no answer'));
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x');
    await flush();
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.logger.has('warn', 'order state unknown; querying until the venue says')).toBe(true);
    h.emit(bid, { status: 'Cancelled', leavesLots: lots(0) });
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('amend answers: refused, blocked or shown unchanged clear the pending amend, and the next requote amends again', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const [buy0, buy1, sell0, sell1] = ['Buy:0', 'Buy:1', 'Sell:0', 'Sell:1'].map((slot) => h.idInSlot(slot));
    // Items go in slot order: Buy:0, Buy:1, Sell:0, Sell:1.
    h.router.script('amend', rejected(10_001, 'params error'), blocked(), resolved({ ...h.order(sell0!).venue! }));
    h.setBook(650_020, 650_030);
    await flush();
    const batches = h.router.calls.filter((call) => call.method === 'amendBatch');
    expect(batches[0]!.items.map((item) => item.orderLinkId)).toEqual([buy0, buy1, sell0, sell1]);
    expect(h.engine.status().counters.venueRejections).toEqual({ '10001': 1 });
    expect(batches).toHaveLength(2);
    expect(batches[1]!.items.map((item) => item.orderLinkId)).toEqual([buy0, buy1, sell0]);
    expect(h.engine.status().unknownOrders).toBe(0);
    expect(h.query.calls).toEqual([]);
  });

  it('an amend refused with "gone" makes the order unknown, pulls the quotes meanwhile, and is settled by a query', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.query.answers.set(bid, new Error('query timed out'));
    h.router.script('amend', rejected(110_008, 'order has been completed or cancelled'));
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.engine.status().counters.venueRejections).toEqual({ '110008': 1 });
    expect(h.query.callsFor(bid)).toBe(1);
    expect(h.engine.status().unknownOrders).toBe(1);
    expect(h.router.cancels().length).toBeGreaterThan(0); // pulled while the bid's state was unknown
    expect(h.router.cancels().map((params) => params.orderLinkId)).not.toContain(bid); // but not the gone one

    h.query.answers.set(bid, { ...h.order(bid).venue!, status: 'Filled', cumExecLots: lots(2), leavesLots: lots(0), updatedTime: h.time.now + 1 });
    h.engine.tick();
    await flush();
    expect(orderStatus(h.order(bid))).toBe('Filled');
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('amend answers without a report or without an answer make the order unknown', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const [buy0, buy1] = ['Buy:0', 'Buy:1'].map((slot) => h.idInSlot(slot));
    h.query.answers.set(buy0!, new Error('query timed out'));
    h.query.answers.set(buy1!, new Error('query timed out'));
    h.router.script('amend', resolved(undefined), unresolved('no answer'));
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.engine.status().unknownOrders).toBe(2);
    expect(h.symbolStatus().quoting).toBe(false);

    for (const id of [buy0!, buy1!]) h.query.answers.set(id, { ...h.order(id).venue!, updatedTime: h.order(id).venue!.updatedTime + 1 });
    h.engine.tick();
    await flush();
    expect(h.engine.status().unknownOrders).toBe(0);
    // Known again: the lost amends are settled, and quoting resumes (re-amending to the current targets).
    expect(h.symbolStatus().quoting).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------ housekeeping

describe('housekeeping', () => {
  it('forgets closed orders retainClosedMs after their last report', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const ids = h.open().map((order) => order.intent.orderLinkId);
    h.engine.onBookUnsynced(SYMBOL, 'stale', 'x');
    await flush();
    h.confirmCancels();
    await flush();
    h.time.advance(h.settings.retainClosedMs);
    h.engine.tick();
    expect(ids.every((id) => h.engine.tracker.get(id) !== undefined)).toBe(true);
    h.time.advance(10);
    h.engine.tick();
    await flush();
    expect(ids.every((id) => h.engine.tracker.get(id) === undefined)).toBe(true);
    expect(h.query.calls).toEqual([]); // closed orders are never "stuck"
  });

  it('quotes again while the breaker is half-open, without another cancel-all', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.breaker = 'half-open';
    h.engine.tick();
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.account.calls.cancelAll).toEqual([]);
    expect(h.router.amends().length).toBeGreaterThan(0);
    expect(h.engine.ready().ready).toBe(true);
  });

  it('asks for another backfill when the private stream stays unsynced (a failed backfill), until it syncs', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const before = h.backfills;
    h.onBackfill = () => {
      throw new Error('10006 Too many visits!');
    };
    h.engine.onPrivateUnsynced('backfill failed: 10006');
    h.engine.tick();
    await flush();
    expect(h.backfills).toBe(before); // a grace period first: the stream's own backfill may be under way
    h.time.advance(2_000);
    h.engine.tick();
    await flush();
    expect(h.backfills).toBe(before + 1);
    expect(h.logger.has('warn', 'private-stream backfill failed; trying again')).toBe(true);
    h.onBackfill = () => {
      h.engine.onPrivateSynced(0);
    };
    h.time.advance(2_000);
    h.engine.tick();
    await flush();
    expect(h.backfills).toBe(before + 2);
    expect(h.engine.status().privateStreamSynced).toBe(true);
    const synced = h.backfills;
    h.time.advance(5_000);
    h.engine.tick();
    await flush();
    expect(h.backfills).toBe(synced); // synced: no more retries
    // Synced and reconciled again (the pulled quotes' cancels are unconfirmed in this harness, hence queried).
    expect(h.engine.status().symbols[0]?.blockers).not.toContain('private stream not synced');
    expect(h.engine.status().symbols[0]?.blockers).not.toContain('not reconciled');
  });

  it('reconciles when the venue\'s position stream disagrees for longer than a grace period, and takes the venue\'s size', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const reconciliations = h.account.calls.positionLots.length;
    // A difference that an execution soon explains is not acted on.
    h.engine.onVenuePosition(SYMBOL, 3n);
    h.time.advance(1_000);
    h.engine.onVenuePosition(SYMBOL, 0n);
    h.time.advance(5_000);
    h.engine.tick();
    await flush();
    expect(h.account.calls.positionLots.length).toBe(reconciliations);

    // One that lasts is: the symbol is reconciled again and the venue's size taken.
    h.account.positions.set(SYMBOL, 7n);
    h.engine.onVenuePosition(SYMBOL, 7n);
    h.time.advance(1_000);
    h.engine.tick();
    await flush();
    expect(h.account.calls.positionLots.length).toBe(reconciliations);
    h.time.advance(2_500);
    h.engine.tick();
    await flush();
    h.engine.tick();
    await flush();
    expect(h.logger.has('warn', 'position differs from the venue\'s position stream; reconciling')).toBe(true);
    expect(h.account.calls.positionLots.length).toBeGreaterThan(reconciliations);
    expect(h.symbolStatus().position.toFixed()).toBe('0.007');
    expect(h.symbolStatus().untrackedPosition.toFixed()).toBe('0.007');
  });

  it('does not spin while the half-open breaker refuses everything but its probe', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.breaker = 'half-open';
    for (const order of h.open()) h.router.byId.set(order.intent.orderLinkId, blocked());
    h.engine.onBookUnsynced(SYMBOL, 'gap', 'x'); // wants to pull every quote; each cancel comes back "blocked"
    await flush(20);
    const sent = h.router.calls.length;
    await flush(20);
    // Nothing more is sent until something changes (a book update, a tick): no busy loop on blocked answers.
    expect(h.router.calls.length).toBe(sent);
  });

  it('cancels everything again when the breaker re-opens after a half-open period in which it quoted', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.breaker = 'open';
    h.engine.tick();
    await flush();
    h.confirmCancels(true);
    h.breaker = 'half-open';
    h.engine.tick();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates().length).toBeGreaterThan(4); // quoting again during half-open
    h.breaker = 'open';
    h.engine.tick();
    await flush();
    expect(h.account.calls.cancelAll).toHaveLength(2);
  });

  it('does not declare a create never-landed while the router is still sending it', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.hold = true;
    h.setBook(650_000, 650_010);
    await flush();
    const first = h.createsFor('Buy', 0)[0]!.orderLinkId;
    h.time.advance(h.settings.stuckAfterMs);
    h.engine.tick();
    await flush();
    h.time.advance(h.settings.createExpiryMs);
    h.engine.tick();
    await flush();
    expect(h.order(first).localRejection).toBeUndefined();
    expect(h.createsFor('Buy', 0)).toHaveLength(1);
  });

  it('attempts no amend of an order the venue has not confirmed yet', async () => {
    // 4 creates and 4 amends in the same second, with the 2 kept for the touch on top.
    const h = new EngineHarness({ risk: { ordersPerSecond: 10 } });
    await h.start();
    h.setBook(650_000, 650_010);
    await flush(); // acknowledged, not yet reported by the order stream
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.engine.status().counters.illegalTransitions).toEqual({});
    h.confirmNew();
    h.setBook(650_040, 650_050);
    await flush();
    expect(h.engine.status().counters.riskRefusals['rate-budget']).toBeUndefined();
    expect(h.router.amends()).toHaveLength(4);
  });
});

// ------------------------------------------------------------------------------------------ more paths

describe('account', () => {
  it('reports the wallet the venue last sent, with when it came, and quotes as before', async () => {
    const h = new EngineHarness();
    await h.quoting();
    expect(h.engine.status().wallet).toBeUndefined();
    const wallet = { equity: '100012.5', walletBalance: '100000', availableBalance: '99000.25', initialMargin: '1012.25', maintenanceMargin: '50.1', maintenanceMarginRate: '0.0005' };
    h.time.advance(5);
    h.engine.onWallet(wallet);
    h.engine.onWallet({ ...wallet, equity: '100013' });
    expect(h.engine.status().wallet).toEqual({ ...wallet, equity: '100013', receivedAt: START + 5 });
    expect(h.engine.status().symbols[0]?.quoting).toBe(true);
  });
});

describe('observer', () => {
  it('is told what was sent, how many, when, and on which book', async () => {
    const h = new EngineHarness();
    await h.quoting();
    expect(h.sentEvents).toHaveLength(4);
    expect(h.sentEvents.every((event) => event.kind === 'create' && event.orderLinkIds.length === 1 && event.symbol === SYMBOL)).toBe(true);
    expect(h.sentEvents.map((event) => event.orderLinkIds[0])).toEqual(h.router.creates().map((params) => params.orderLinkId));
    expect(h.sentEvents[0]).toEqual({ kind: 'create', symbol: SYMBOL, orderLinkIds: [h.router.creates()[0]!.orderLinkId], at: START, bookSynced: true, bookVenueTs: h.book.lastTs });

    h.time.advance(10);
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.sentEvents.at(-1)).toEqual({ kind: 'amend', symbol: SYMBOL, orderLinkIds: h.router.amends().map((params) => params.orderLinkId), at: START + 10, bookSynced: true, bookVenueTs: START + 10 });

    h.confirmAmends();
    h.engine.onBookUnsynced(SYMBOL, 'gap', 'x');
    await flush();
    expect(h.sentEvents.at(-1)).toMatchObject({ kind: 'cancel', bookSynced: false });
    expect(h.sentEvents.at(-1)?.orderLinkIds).toHaveLength(4);
  });

  it('reports no book for what is sent before any book, and may have no callback at all', async () => {
    const h = new EngineHarness({ engine: { cancelUnknownOrders: false } });
    h.account.open.set(SYMBOL, [h.venueOrder(`${SHARD}-6-1`, 'Buy', 649_000), h.venueOrder(`${SHARD}-6-2`, 'Buy', 648_000), h.venueOrder(`${SHARD}-6-3`, 'Buy', 647_000)]);
    await h.start();
    // No book: every adopted order is pulled (the surplus one, beyond the levels, first).
    expect(h.sentEvents).toEqual([{ kind: 'cancel', symbol: SYMBOL, orderLinkIds: expect.arrayContaining([`${SHARD}-6-1`, `${SHARD}-6-2`, `${SHARD}-6-3`]), at: START, bookSynced: false, bookVenueTs: undefined }]);
    expect(h.sentEvents[0]?.orderLinkIds).toHaveLength(3);

    const silent = new EngineHarness({}, { observer: {} });
    await silent.quoting();
    expect(silent.router.creates()).toHaveLength(4);
  });
});

describe('more answers and housekeeping', () => {
  it('queries a cancel accepted but never confirmed after stuckAfterMs', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.engine.onBookUnsynced(SYMBOL, 'gap', 'x');
    await flush();
    for (const order of h.open()) if (order.intent.orderLinkId !== bid) h.emit(order.intent.orderLinkId, { status: 'Cancelled', leavesLots: lots(0) });
    await flush();
    expect(orderStatus(h.order(bid))).toBe('PendingCancel');
    h.query.answers.set(bid, { ...h.order(bid).venue!, status: 'Cancelled', leavesLots: lots(0), updatedTime: h.time.now + 1 });
    h.time.advance(h.settings.stuckAfterMs);
    h.engine.tick();
    await flush();
    expect(h.query.calls.map((call) => call.orderLinkId)).toEqual([bid]);
    expect(orderStatus(h.order(bid))).toBe('Cancelled');
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('queries an amend accepted but never confirmed, and clears it when the venue shows it did not take effect', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.setBook(650_020, 650_030);
    await flush();
    const amended = h.router.amends().map((params) => params.orderLinkId);
    expect(amended.length).toBeGreaterThan(0);
    for (const id of amended) h.query.answers.set(id, { ...h.order(id).venue! });
    h.time.advance(h.settings.stuckAfterMs);
    h.engine.tick();
    await flush();
    expect(h.query.calls.map((call) => call.orderLinkId).sort()).toEqual([...amended].sort());
    expect(h.engine.status().unknownOrders).toBe(0);
    // Shown unchanged, the amends are known not to have happened: the next requote amends again.
    expect(h.router.amends().length).toBeGreaterThan(amended.length);
  });

  it('does not query an order whose last request was confirmed, however long ago', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.time.advance(h.settings.stuckAfterMs * 2);
    h.engine.tick();
    await flush();
    expect(h.query.calls).toEqual([]);
    expect(h.engine.status().unknownOrders).toBe(0);
  });

  it('applies at reconciliation the venue\'s report of an order both sides know', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const bid = h.idInSlot('Buy:0');
    h.engine.onPrivateUnsynced('reconnect');
    await flush();
    h.router.hold = true; // the pulls stay in flight
    // While the stream was down the bid partly filled; the venue lists it so.
    const venue = h.order(bid).venue!;
    h.account.open.set(SYMBOL, [{ orderLinkId: bid, symbol: SYMBOL, side: 'Buy', report: { ...venue, status: 'PartiallyFilled', cumExecLots: lots(1), leavesLots: lots(1), updatedTime: venue.updatedTime + 1 } }]);
    h.engine.onPrivateSynced(1);
    await flush();
    expect(h.order(bid).venue?.cumExecLots).toBe(1);
    expect(h.symbolStatus().reconciliation?.queried).toBe(3);
  });

  it('an amend of an order the venue has not confirmed never reaches the router', async () => {
    const h = new EngineHarness();
    await h.start();
    h.setBook(650_000, 650_010);
    await flush(); // acknowledged, not yet reported by the order stream
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.router.amends()).toEqual([]);
    expect(h.open().every((order) => order.pending === undefined)).toBe(true);
  });

  it('reports an unknown remainder when the stop timeout passes before any cancel-all could be tried', async () => {
    const h = new EngineHarness();
    await h.start();
    h.router.hold = true;
    h.setBook(650_000, 650_010);
    await flush();
    const stopping = h.engine.stop('test over');
    await flush();
    h.time.advance(h.settings.stopTimeoutMs); // the process was stalled past the whole budget
    const report = await h.settle(stopping);
    expect(report).toMatchObject({ clean: false, remainingOpenOrders: -1 });
    expect(h.account.calls.cancelAll).toEqual([]);
  });

  it('describes a failure that is not an Error', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.account.failures.cancelAll = 1;
    h.account.failureValue = 'HTTP 502';
    h.engine.freeze('operator', 'test');
    await flush();
    expect(h.logger.entries.find((entry) => entry.message === 'cancel-all failed; retrying on the next tick')?.fields).toMatchObject({ error: 'unknown error' });
  });
});
