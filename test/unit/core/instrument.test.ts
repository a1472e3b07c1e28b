import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { dec } from '../../../src/core/decimal.js';
import {
  InstrumentError,
  clampPriceTicks,
  formatPrice,
  formatQty,
  lotsToQty,
  minValidLots,
  notional,
  orderViolations,
  parseLinearInstrument,
  priceToTicks,
  qtyToLots,
  roundOrderQty,
  roundPriceToTicks,
  ticksToPrice,
} from '../../../src/core/instrument.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BIOUSDT, BIOUSDT_RAW, BTCUSDT, BTCUSDT_RAW } from '../../support/instruments.js';

describe('parseLinearInstrument', () => {
  it('derives integer bounds from the documented BTCUSDT example', () => {
    expect(BTCUSDT.symbol).toBe('BTCUSDT');
    expect(BTCUSDT.priceScale).toBe(2);
    expect(BTCUSDT.minPriceTicks).toBe(1);
    expect(BTCUSDT.maxPriceTicks).toBe(19_999_998);
    expect(BTCUSDT.minQtyLots).toBe(1);
    expect(BTCUSDT.maxQtyLots).toBe(1_190_000);
    expect(BTCUSDT.maxMarketQtyLots).toBe(500_000);
    expect(BTCUSDT.tickLotValue.toFixed()).toBe('0.0001');
    expect(BTCUSDT.minNotional.toFixed()).toBe('5');
    expect(BTCUSDT.qtyDecimals).toBe(3);
  });

  it('names the field that is wrong', () => {
    expect(() => parseLinearInstrument({ ...BTCUSDT_RAW, priceFilter: { ...BTCUSDT_RAW.priceFilter, tickSize: '0' } })).toThrow(
      /priceFilter\.tickSize: expected a positive decimal/,
    );
    expect(() => parseLinearInstrument({ ...BTCUSDT_RAW, lotSizeFilter: { ...BTCUSDT_RAW.lotSizeFilter, qtyStep: 0.001 } })).toThrow(
      /lotSizeFilter\.qtyStep/,
    );
    expect(() => parseLinearInstrument({ symbol: 'BTCUSDT' })).toThrow(InstrumentError);
    expect(() => parseLinearInstrument(null)).toThrow(InstrumentError);
  });

  it('refuses contradictory rules', () => {
    expect(() => parseLinearInstrument({ ...BTCUSDT_RAW, priceScale: '0' })).toThrow(/more decimals than priceScale/);
    expect(() => parseLinearInstrument({ ...BTCUSDT_RAW, priceFilter: { minPrice: '10', maxPrice: '5', tickSize: '0.1' } })).toThrow(
      /minPrice is above maxPrice/,
    );
    expect(() =>
      parseLinearInstrument({ ...BTCUSDT_RAW, lotSizeFilter: { ...BTCUSDT_RAW.lotSizeFilter, minOrderQty: '2000', maxOrderQty: '1' } }),
    ).toThrow(/minOrderQty is above maxOrderQty/);
  });

  it('tightens off-grid bounds onto the grid', () => {
    const odd = parseLinearInstrument({ ...BTCUSDT_RAW, priceFilter: { minPrice: '0.15', maxPrice: '100.05', tickSize: '0.10' } });
    expect(odd.minPriceTicks).toBe(2);
    expect(odd.maxPriceTicks).toBe(1000);
  });
});

describe('price conversions', () => {
  it('converts venue prices on the grid and refuses off-grid ones', () => {
    expect(priceToTicks(BTCUSDT, '65000.10')).toBe(650_001);
    expect(() => priceToTicks(BTCUSDT, '65000.15')).toThrow(/not a multiple of tick 0.1/);
    expect(ticksToPrice(BTCUSDT, ticks(650_001)).toFixed()).toBe('65000.1');
    expect(formatPrice(BTCUSDT, ticks(650_001))).toBe('65000.10');
    expect(formatPrice(BIOUSDT, ticks(1234))).toBe('0.1234');
  });

  it('rounds bids down and asks up, never more aggressive', () => {
    expect(roundPriceToTicks(BTCUSDT, dec('65000.17'), 'down')).toBe(650_001);
    expect(roundPriceToTicks(BTCUSDT, dec('65000.17'), 'up')).toBe(650_002);
    expect(roundPriceToTicks(BTCUSDT, dec('0.01'), 'down')).toBe(BTCUSDT.minPriceTicks);
    expect(roundPriceToTicks(BTCUSDT, dec('3000000'), 'up')).toBe(BTCUSDT.maxPriceTicks);
    expect(clampPriceTicks(BTCUSDT, -5)).toBe(BTCUSDT.minPriceTicks);
    expect(clampPriceTicks(BTCUSDT, 1e12)).toBe(BTCUSDT.maxPriceTicks);
    expect(clampPriceTicks(BTCUSDT, 1234.9)).toBe(1234);
  });

  it('never produces an invalid price, for any input price', () => {
    const priceArb = fc
      .tuple(fc.bigInt({ min: 0n, max: 5n * 10n ** 12n }), fc.integer({ min: 0, max: 6 }))
      .map(([units, scale]) => dec(units).div(dec(10n ** BigInt(scale))));
    fc.assert(
      fc.property(priceArb, fc.constantFrom('down' as const, 'up' as const), fc.constantFrom(BTCUSDT, BIOUSDT), (price, rounding, instrument) => {
        const result = roundPriceToTicks(instrument, price, rounding);
        expect(Number.isSafeInteger(result)).toBe(true);
        expect(result).toBeGreaterThanOrEqual(instrument.minPriceTicks);
        expect(result).toBeLessThanOrEqual(instrument.maxPriceTicks);
        // Within the range, the rounding is on the asked side and within one tick.
        const roundedPrice = ticksToPrice(instrument, result);
        const inRange = result > instrument.minPriceTicks && result < instrument.maxPriceTicks;
        if (inRange && rounding === 'down') expect(roundedPrice.lte(price) && price.minus(roundedPrice).lt(instrument.tickSize)).toBe(true);
        if (inRange && rounding === 'up') expect(roundedPrice.gte(price) && roundedPrice.minus(price).lt(instrument.tickSize)).toBe(true);
        // The formatted string round-trips exactly.
        expect(priceToTicks(instrument, formatPrice(instrument, result))).toBe(result);
      }),
    );
  });
});

describe('quantity conversions', () => {
  it('converts venue quantities on the step and refuses others', () => {
    expect(qtyToLots(BTCUSDT, '0.015')).toBe(15);
    expect(() => qtyToLots(BTCUSDT, '0.0155')).toThrow(/not a non-negative multiple of step 0.001/);
    expect(() => qtyToLots(BTCUSDT, '-0.001')).toThrow(/non-negative/);
    expect(lotsToQty(BTCUSDT, lots(15)).toFixed()).toBe('0.015');
    expect(formatQty(BTCUSDT, lots(1500))).toBe('1.500');
    expect(formatQty(BIOUSDT, lots(70))).toBe('70');
  });

  it('formats prices and quantities exactly as the decimal values they stand for, on any grid', () => {
    // A tick of 0.5 with priceScale 2 and a step of 0.25: units per tick and per lot that are not 1.
    const half = parseLinearInstrument({
      ...BTCUSDT_RAW,
      priceScale: '2',
      priceFilter: { minPrice: '0.5', maxPrice: '1000000', tickSize: '0.5' },
      lotSizeFilter: { ...BTCUSDT_RAW.lotSizeFilter, qtyStep: '0.25', minOrderQty: '0.25' },
    });
    expect(formatPrice(half, ticks(3))).toBe('1.50');
    expect(formatQty(half, lots(3))).toBe('0.75');
    fc.assert(
      fc.property(fc.constantFrom(BTCUSDT, BIOUSDT, half), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (instrument, count) => {
        expect(formatPrice(instrument, ticks(count))).toBe(ticksToPrice(instrument, ticks(count)).toFixed(instrument.priceScale));
        expect(formatQty(instrument, lots(count))).toBe(lotsToQty(instrument, lots(count)).toFixed(instrument.qtyDecimals));
      }),
    );
  });

  it('computes notionals exactly', () => {
    expect(notional(BTCUSDT, ticks(650_001), lots(15)).toFixed()).toBe('975.0015');
  });

  it('knows the smallest valid order at a price (min qty and min notional)', () => {
    // 5 USDT at 65000 needs 0.000077 BTC: min qty 0.001 wins.
    expect(minValidLots(BTCUSDT, ticks(650_000))).toBe(1);
    // At 1000 USDT, 5 USDT needs 0.005.
    expect(minValidLots(BTCUSDT, ticks(10_000))).toBe(5);
    // At 1001 USDT, 0.004995... rounds up to 0.005.
    expect(minValidLots(BTCUSDT, ticks(10_010))).toBe(5);
  });

  it('rounds order sizes down onto the step, caps them, and skips what cannot be valid', () => {
    expect(roundOrderQty(BTCUSDT, dec('0.0159'), ticks(650_000))).toBe(15);
    expect(roundOrderQty(BTCUSDT, dec('5000'), ticks(650_000))).toBe(BTCUSDT.maxQtyLots);
    expect(roundOrderQty(BTCUSDT, dec('0.0009'), ticks(650_000))).toBeUndefined();
    expect(roundOrderQty(BTCUSDT, dec('0.004'), ticks(10_000))).toBeUndefined();
  });

  it('never produces an invalid order, for any size and price', () => {
    const qtyArb = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 10n }), fc.integer({ min: 0, max: 6 }))
      .map(([units, scale]) => dec(units).div(dec(10n ** BigInt(scale))));
    fc.assert(
      fc.property(qtyArb, fc.integer({ min: 1, max: 19_999_998 }), (qty, priceTicks) => {
        const size = roundOrderQty(BTCUSDT, qty, ticks(priceTicks));
        if (size === undefined) return;
        expect(orderViolations(BTCUSDT, ticks(priceTicks), size)).toEqual([]);
        expect(lotsToQty(BTCUSDT, size).lte(qty)).toBe(true);
        // Cross-check the integer min-notional rule against exact decimals, and that one lot less fails it.
        expect(notional(BTCUSDT, ticks(priceTicks), size).gte(BTCUSDT.minNotional)).toBe(true);
        const smallest = minValidLots(BTCUSDT, ticks(priceTicks));
        if (smallest > BTCUSDT.minQtyLots) expect(notional(BTCUSDT, ticks(priceTicks), lots(smallest - 1)).lt(BTCUSDT.minNotional)).toBe(true);
      }),
    );
  });

  it('lists every rule an order breaks', () => {
    expect(orderViolations(BTCUSDT, ticks(650_000), lots(1))).toEqual([]);
    expect(orderViolations(BTCUSDT, ticks(0), lots(0))).toEqual(['price-below-min', 'qty-below-min', 'notional-below-min']);
    expect(orderViolations(BTCUSDT, ticks(20_000_000), lots(2_000_000))).toEqual(['price-above-max', 'qty-above-max']);
  });
});

describe('raw fixtures', () => {
  it('parse', () => {
    expect(parseLinearInstrument(BIOUSDT_RAW).minQtyLots).toBe(1);
  });
});
