import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LocalBook } from '../../../src/core/book.js';
import { gridCodec, minValidLots, orderViolations } from '../../../src/core/instrument.js';
import {
  type QuoteParams,
  type RestingQuote,
  adverseQuotes,
  fairValue,
  halfSpreadBps,
  initialVolatility,
  planQuotes,
  quoteTargets,
  reservationPrice,
  updateVolatility,
  volatilityBps,
} from '../../../src/core/quoting.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

const params: QuoteParams = {
  levels: 2,
  levelSpacingBps: 1,
  minEdgeBps: 0.5,
  makerFeeBps: -0.25,
  volatilitySpreadMultiplier: 1.5,
  inventorySkewBps: 2,
  orderLots: lots(10),
  maxPositionLots: 100,
};

function bookWith(bid: string, bidSize: string, ask: string, askSize: string): LocalBook {
  const book = new LocalBook('BTCUSDT', gridCodec(BTCUSDT));
  book.applySnapshot([[bid, bidSize]], [[ask, askSize]], 1, 1, 1);
  return book;
}

describe('fair value', () => {
  it('is the mid, or the micro-price leaning towards the thinner side', () => {
    const book = bookWith('65000.0', '3.000', '65001.0', '1.000');
    expect(fairValue(book, 'mid')).toBe(650_005);
    // Big bid, thin ask: the next trade is likely up, so the micro-price sits above the mid.
    expect(fairValue(book, 'microprice')).toBe((650_000 * 1_000 + 650_010 * 3_000) / 4_000);
    expect(fairValue(new LocalBook('BTCUSDT', gridCodec(BTCUSDT)), 'mid')).toBeUndefined();
  });
});

describe('volatility', () => {
  it('is zero for a flat price and grows with moves, weighting recent ones', () => {
    let state = initialVolatility();
    for (let time = 0; time <= 10_000; time += 100) state = updateVolatility(state, 650_000, time, 5_000);
    expect(volatilityBps(state)).toBe(0);
    for (let time = 10_100; time <= 20_000; time += 100) state = updateVolatility(state, 650_000 + (time % 200 === 0 ? 10 : -10), time, 5_000);
    const moving = volatilityBps(state);
    expect(moving).toBeGreaterThan(0);
    for (let time = 20_100; time <= 60_000; time += 100) state = updateVolatility(state, 650_000, time, 5_000);
    expect(volatilityBps(state)).toBeLessThan(moving / 10);
  });

  it('ignores observations that do not move time forward', () => {
    const state = updateVolatility(updateVolatility(initialVolatility(), 100, 1_000, 1_000), 200, 1_000, 1_000);
    expect(state.variancePerMs).toBe(0);
  });
});

describe('spread and skew', () => {
  it('floors the half-spread so that spread plus rebate meets the minimum edge', () => {
    // 0.5 bps of edge with a 0.25 bps rebate needs only 0.25 bps of half-spread.
    expect(halfSpreadBps(params, initialVolatility())).toBe(0.25);
    expect(halfSpreadBps({ ...params, makerFeeBps: 0.2 }, initialVolatility())).toBeCloseTo(0.7);
    expect(halfSpreadBps(params, initialVolatility(1e-12))).toBeCloseTo(1.5 * Math.sqrt(1e-9) * 10_000);
  });

  it('moves the reservation price against the inventory', () => {
    expect(reservationPrice(650_000, 0, params)).toBe(650_000);
    expect(reservationPrice(650_000, 50, params)).toBeLessThan(650_000);
    expect(reservationPrice(650_000, -50, params)).toBeGreaterThan(650_000);
    expect(reservationPrice(650_000, 1_000, params)).toBe(reservationPrice(650_000, 100, params));
  });
});

describe('quote targets', () => {
  const input = (overrides = {}) => ({ instrument: BTCUSDT, fair: 650_005, volatility: initialVolatility(), positionLots: 0, bestBid: ticks(650_000), bestAsk: ticks(650_010), params, ...overrides });

  it('quotes both sides, levels spaced away from the touch', () => {
    const targets = quoteTargets(input());
    expect(targets.map((target) => `${target.side}${target.level}`)).toEqual(['Buy0', 'Buy1', 'Sell0', 'Sell1']);
    const [bid0, bid1, ask0, ask1] = targets;
    expect(bid0!.priceTicks).toBeLessThan(650_005);
    expect(ask0!.priceTicks).toBeGreaterThan(650_005);
    expect(bid1!.priceTicks).toBeLessThan(bid0!.priceTicks);
    expect(ask1!.priceTicks).toBeGreaterThan(ask0!.priceTicks);
    expect(targets.every((target) => target.qtyLots === 10)).toBe(true);
  });

  it('stays strictly behind the opposite touch in a one-tick market', () => {
    // With no edge floor the model would quote at the fair value; the touch keeps it post-only.
    const targets = quoteTargets(input({ fair: 650_000.5, bestBid: ticks(650_000), bestAsk: ticks(650_001), params: { ...params, minEdgeBps: 0 } }));
    expect(targets.find((target) => target.side === 'Buy' && target.level === 0)!.priceTicks).toBe(650_000);
    expect(targets.find((target) => target.side === 'Sell' && target.level === 0)!.priceTicks).toBe(650_001);
  });

  it('quotes lower when long, and nothing on the buy side at the position limit', () => {
    const flat = quoteTargets(input());
    const long = quoteTargets(input({ positionLots: 60 }));
    expect(long[0]!.priceTicks).toBeLessThan(flat[0]!.priceTicks);
    const atLimit = quoteTargets(input({ positionLots: 100 }));
    expect(atLimit.some((target) => target.side === 'Buy')).toBe(false);
    expect(atLimit.some((target) => target.side === 'Sell')).toBe(true);
  });

  it('caps sizes so that all fills together stay within the position limit', () => {
    const targets = quoteTargets(input({ positionLots: 95 }));
    expect(targets.filter((target) => target.side === 'Buy').map((target) => target.qtyLots)).toEqual([5]);
  });

  it('never produces a quote that is invalid, crosses, or could breach the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100_000, max: 2_000_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: -150, max: 150 }),
        fc.double({ min: 0, max: 1e-9, noNaN: true }),
        fc.integer({ min: 1, max: 5 }),
        (bid, spread, position, variance, levels) => {
          const bestBid = ticks(bid);
          const bestAsk = ticks(bid + spread);
          const targets = quoteTargets({ ...input({ fair: bid + spread / 2, bestBid, bestAsk, positionLots: position }), volatility: initialVolatility(variance), params: { ...params, levels } });
          for (const target of targets) {
            expect(orderViolations(BTCUSDT, target.priceTicks, target.qtyLots)).toEqual([]);
            if (target.side === 'Buy') expect(target.priceTicks).toBeLessThan(bestAsk);
            else expect(target.priceTicks).toBeGreaterThan(bestBid);
            expect(target.qtyLots).toBeGreaterThanOrEqual(minValidLots(BTCUSDT, target.priceTicks));
          }
          const buys = targets.filter((target) => target.side === 'Buy').reduce((total, target) => total + target.qtyLots, 0);
          const sells = targets.filter((target) => target.side === 'Sell').reduce((total, target) => total + target.qtyLots, 0);
          expect(position + buys).toBeLessThanOrEqual(Math.max(position, params.maxPositionLots));
          expect(position - sells).toBeGreaterThanOrEqual(Math.min(position, -params.maxPositionLots));
        },
      ),
    );
  });
});

describe('planning and fast cancel', () => {
  const quote = (side: 'Buy' | 'Sell', level: number, price: number, qty = 10): RestingQuote => ({ orderLinkId: `${side}${level}`, side, level, priceTicks: ticks(price), qtyLots: lots(qty) });

  it('keeps quotes within tolerance, amends those that moved, places and cancels the rest', () => {
    const targets = [
      { side: 'Buy' as const, level: 0, priceTicks: ticks(650_000), qtyLots: lots(10) },
      { side: 'Buy' as const, level: 1, priceTicks: ticks(649_990), qtyLots: lots(10) },
      { side: 'Sell' as const, level: 0, priceTicks: ticks(650_020), qtyLots: lots(10) },
    ];
    const resting = [quote('Buy', 0, 650_001), quote('Buy', 1, 649_980), quote('Sell', 1, 650_040)];
    const plan = planQuotes(targets, resting, 2);
    expect(plan.amend.map((entry) => entry.quote.orderLinkId)).toEqual(['Buy1']);
    expect(plan.place.map((target) => `${target.side}${target.level}`)).toEqual(['Sell0']);
    expect(plan.cancel.map((entry) => entry.orderLinkId)).toEqual(['Sell1']);
    expect(planQuotes(targets, [quote('Buy', 0, 650_000, 5)], 2).amend).toHaveLength(1);
  });

  it('picks the quotes the fair value has moved against', () => {
    const resting = [quote('Buy', 0, 649_998), quote('Buy', 1, 649_990), quote('Sell', 0, 650_002)];
    expect(adverseQuotes(resting, 650_000, 3).map((entry) => entry.orderLinkId)).toEqual(['Buy0', 'Sell0']);
    expect(adverseQuotes(resting, 649_991, 3).map((entry) => entry.orderLinkId)).toEqual(['Buy0', 'Buy1']);
  });
});
