import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type RiskLimits, type RiskState, checkOrder } from '../../../src/core/risk.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

const limits: RiskLimits = { maxPositionLots: 100, maxNotional: dec('10000'), maxOpenOrders: 4, maxOrderLots: 50, priceBandBps: dec('50'), ordersPerSecond: 5 };
const state: RiskState = { frozen: false, positionLots: 0, restingBuyLots: 0, restingSellLots: 0, openOrders: 0, sentLastSecond: 0, markPrice: dec('65000'), ownBestBid: undefined, ownBestAsk: undefined };
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
    ['price-band', { markPrice: dec('66000') }, bid],
    ['price-band', { markPrice: undefined }, bid],
    ['rate-budget', { sentLastSecond: 5 }, bid],
    ['self-cross', { ownBestAsk: ticks(649_990) }, bid],
    ['self-cross', { ownBestBid: ticks(650_010) }, { ...bid, side: 'Sell' as const, priceTicks: ticks(650_005) }],
  ] as const)('refuses with %s', (reason, overrides, order) => {
    const decision = checkOrder(BTCUSDT, { ...limits, ...(reason === 'notional-limit' ? { maxPositionLots: 1_000, maxNotional: dec('500') } : {}) }, { ...state, ...overrides }, order);
    expect(decision).toMatchObject({ ok: false, reason });
  });

  it('counts an amend as replacing the order it changes', () => {
    // 80 held and 15 resting: replacing a 10-lot order with another stays at 95; adding one would reach 105.
    const nearLimit = { ...state, positionLots: 80, restingBuyLots: 15, openOrders: 3 };
    expect(checkOrder(BTCUSDT, limits, nearLimit, { ...bid, replacesLots: 10 })).toEqual({ ok: true });
    expect(checkOrder(BTCUSDT, limits, nearLimit, bid)).toMatchObject({ ok: false, reason: 'position-limit' });
  });
});
