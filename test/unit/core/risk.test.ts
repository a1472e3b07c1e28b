import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type RiskLimits, type RiskSettings, type RiskState, checkOrder, riskLimits } from '../../../src/core/risk.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

const settings: RiskSettings = { maxPositionLots: 100, maxNotional: dec('10000'), maxOpenOrders: 4, maxOrderLots: 50, priceBandBps: dec('50'), ordersPerSecond: 5 };
const limits: RiskLimits = riskLimits(BTCUSDT, settings);
// A mark of 65000: bid + ask = 2 * 650000 ticks.
const state: RiskState = { frozen: false, positionLots: 0, restingBuyLots: 0, restingSellLots: 0, openOrders: 0, sentLastSecond: 0, touchReserve: 0, markTwiceTicks: 1_300_000, ownBestBid: undefined, ownBestAsk: undefined };
const bid = { side: 'Buy' as const, priceTicks: ticks(649_990), qtyLots: lots(10) };

describe('pre-trade risk', () => {
  it('accepts an order within every limit', () => {
    expect(checkOrder(BTCUSDT, limits, state, bid)).toEqual({ ok: true });
  });

  it.each([
    ['frozen', { frozen: true }, bid],
    ['invalid-order', {}, { ...bid, qtyLots: lots(0) }],
    ['max-order-size', {}, { ...bid, qtyLots: lots(60) }],
    ['position-limit', { positionLots: 60, restingBuyLots: 35 }, bid],
    ['notional-limit', { positionLots: 140, restingBuyLots: 0 }, { ...bid, side: 'Sell' as const, priceTicks: ticks(650_010) }],
    ['max-open-orders', { openOrders: 4 }, bid],
    ['price-band', { markTwiceTicks: 1_320_000 }, bid],
    ['price-band', { markTwiceTicks: undefined }, bid],
    ['rate-budget', { sentLastSecond: 5 }, bid],
    ['self-cross', { ownBestAsk: ticks(649_990) }, bid],
    ['self-cross', { ownBestBid: ticks(650_010) }, { ...bid, side: 'Sell' as const, priceTicks: ticks(650_005) }],
  ] as const)('refuses with %s', (reason, overrides, order) => {
    const decision = checkOrder(BTCUSDT, reason === 'notional-limit' ? riskLimits(BTCUSDT, { ...settings, maxPositionLots: 1_000, maxNotional: dec('500') }) : limits, { ...state, ...overrides }, order);
    expect(decision).toMatchObject({ ok: false, reason });
  });

  it('converts the configured limits to integers, rounding towards the tighter limit', () => {
    // BTCUSDT: a tick-lot is 0.1 * 0.001 = 0.0001 USDT.
    expect(limits.maxNotionalTickLots).toBe(100_000_000n);
    expect(limits.priceBandMicroBps).toBe(50_000_000n);
    const odd = riskLimits(BTCUSDT, { ...settings, maxNotional: dec('10000.00019'), priceBandBps: dec('12.3456789') });
    expect(odd.maxNotionalTickLots).toBe(100_000_001n);
    expect(odd.priceBandMicroBps).toBe(12_345_678n);
  });

  it('holds the notional limit exactly at the boundary', () => {
    // 650000 ticks * 15 lots = 9_750_000 tick-lots = 975 USDT.
    const atLimit = riskLimits(BTCUSDT, { ...settings, maxNotional: dec('975') });
    const order = { side: 'Buy' as const, priceTicks: ticks(650_000), qtyLots: lots(15) };
    expect(checkOrder(BTCUSDT, atLimit, state, order)).toEqual({ ok: true });
    const below = riskLimits(BTCUSDT, { ...settings, maxNotional: dec('974.9999') });
    expect(checkOrder(BTCUSDT, below, state, order)).toEqual({ ok: false, reason: 'notional-limit', detail: 'position value could reach 975 > 974.9999' });
  });

  it('holds the price band exactly at the boundary, with a mid between two ticks', () => {
    // Mark 65000.05 (bid 65000.0, ask 65000.1); 50 bps of it is 325.00025: 64675.1 is 324.95 away (inside),
    // 64675.0 is 325.05 away (outside).
    const halfTickMark = { ...state, markTwiceTicks: 650_000 + 650_001 };
    expect(checkOrder(BTCUSDT, limits, halfTickMark, { ...bid, priceTicks: ticks(646_751) })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, halfTickMark, { ...bid, priceTicks: ticks(646_750) })).toEqual({ ok: false, reason: 'price-band', detail: '50.01 bps from the mark 65000.05' });
    // And on the ask side, symmetric: 65325.1 is 325.05 away.
    expect(checkOrder(BTCUSDT, limits, halfTickMark, { side: 'Sell', priceTicks: ticks(653_250), qtyLots: lots(10) })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, halfTickMark, { side: 'Sell', priceTicks: ticks(653_251), qtyLots: lots(10) })).toMatchObject({ ok: false, reason: 'price-band' });
  });

  it('keeps the end of the order budget for level-0 quotes', () => {
    // Budget 5 a second, 2 kept for the touch: deeper levels stop at 3 sent, level 0 goes on to 5.
    const reserving = { ...state, touchReserve: 2 };
    expect(checkOrder(BTCUSDT, limits, { ...reserving, sentLastSecond: 2 }, { ...bid, level: 1 })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, { ...reserving, sentLastSecond: 3 }, { ...bid, level: 1 })).toEqual({
      ok: false,
      reason: 'rate-budget',
      detail: '3 orders in the last second; the last 2 of 5 are kept for level-0 quotes',
    });
    expect(checkOrder(BTCUSDT, limits, { ...reserving, sentLastSecond: 4 }, { ...bid, level: 0 })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, { ...reserving, sentLastSecond: 4 }, bid)).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, { ...reserving, sentLastSecond: 5 }, { ...bid, level: 0 })).toMatchObject({ ok: false, reason: 'rate-budget' });
  });

  it('counts an amend as replacing the order it changes', () => {
    // 80 held and 15 resting: replacing a 10-lot order with another stays at 95; adding one would reach 105.
    const nearLimit = { ...state, positionLots: 80, restingBuyLots: 15, openOrders: 3 };
    expect(checkOrder(BTCUSDT, limits, nearLimit, { ...bid, replacesLots: 10 })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, nearLimit, bid)).toMatchObject({ ok: false, reason: 'position-limit' });
  });
});
