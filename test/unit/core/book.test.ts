import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LocalBook } from '../../../src/core/book.js';
import { InstrumentError, formatPrice, formatQty, gridCodec, priceToTicks } from '../../../src/core/instrument.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BIOUSDT, BTCUSDT } from '../../support/instruments.js';

const codec = gridCodec(BTCUSDT);

describe('gridCodec', () => {
  it('parses venue strings to ticks and lots exactly', () => {
    expect(codec.priceToTicks('65000.10')).toBe(650_001);
    expect(codec.priceToTicks('65000.1')).toBe(650_001);
    expect(codec.priceToTicks('65000.100')).toBe(650_001);
    expect(codec.priceToTicks('65000')).toBe(650_000);
    expect(codec.qtyToLots('0.015')).toBe(15);
    expect(gridCodec(BIOUSDT).qtyToLots('70')).toBe(70);
  });

  it.each(['65000.15', '65000.101', '-1', '1e5', '', ' 1', '1.', '.1', '99999999999999999999'])('refuses %j', (text) => {
    expect(() => codec.priceToTicks(text)).toThrow(InstrumentError);
  });

  it('agrees with the exact decimal conversion on and off the grid', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), fc.integer({ min: 0, max: 3 }), (units, scale) => {
        const text = scale === 0 ? String(units) : `${Math.floor(units / 10 ** scale)}.${String(units % 10 ** scale).padStart(scale, '0')}`;
        let exact: number | undefined;
        try {
          exact = priceToTicks(BTCUSDT, text);
        } catch {
          exact = undefined;
        }
        if (exact === undefined) expect(() => codec.priceToTicks(text)).toThrow(InstrumentError);
        else expect(codec.priceToTicks(text)).toBe(exact);
      }),
    );
  });

  it('accepts exactly the plain decimals, for any string, and converts them as the exact decimal path does', () => {
    const chars = fc.constantFrom(...'0123456789.'.split(''), '0', '0', '-', 'e', ' ', '+');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }).map((list) => list.join('')), (text) => {
        let exact: number | undefined;
        try {
          // The decimal type refuses leading zeros ("00", "007.5"), which the venue's plain decimals may have.
          exact = /^\d+(?:\.\d+)?$/.test(text) ? priceToTicks(BTCUSDT, text.replace(/^0+(?=\d)/, '')) : undefined;
        } catch {
          exact = undefined;
        }
        if (exact === undefined) expect(() => codec.priceToTicks(text)).toThrow(InstrumentError);
        else expect(codec.priceToTicks(text)).toBe(exact);
      }),
      { numRuns: 5_000 },
    );
    expect(() => codec.priceToTicks('65000.15x')).toThrow(/is not a non-negative decimal/);
    expect(() => codec.priceToTicks('65000.15')).toThrow(/is off the grid 0.1/);
    expect(() => codec.priceToTicks('9007199254740993')).toThrow(/is out of range/);
  });

  it('round-trips what the engine formats', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 19_999_998 }), fc.integer({ min: 0, max: 1_190_000 }), (priceTicks, qtyLots) => {
        expect(codec.priceToTicks(formatPrice(BTCUSDT, ticks(priceTicks)))).toBe(priceTicks);
        expect(codec.qtyToLots(formatQty(BTCUSDT, lots(qtyLots)))).toBe(qtyLots);
      }),
    );
  });
});

describe('LocalBook', () => {
  const book = () => new LocalBook('BTCUSDT', codec);

  it('builds from a snapshot and applies deltas: update, insert, delete', () => {
    const local = book();
    expect(local.applySnapshot([['65000.0', '1.000'], ['64999.0', '2.000']], [['65001.0', '0.500']], 10, 100, 1)).toEqual({ ok: true });
    expect(local.bestBid()).toBe(650_000);
    expect(local.bestAsk()).toBe(650_010);
    expect(local.applyDelta([['65000.0', '0'], ['64999.5', '0.300']], [['65000.5', '0.100']], 11, 101, 2)).toEqual({ ok: true });
    expect(local.bestBid()).toBe(649_995);
    expect(local.bestAsk()).toBe(650_005);
    expect(local.sizeAt('Buy', ticks(649_995))).toBe(300);
    expect(local.top('Buy', 5)).toEqual([[649_995, 300], [649_990, 2_000]]);
    expect(local.depth('Sell')).toBe(2);
    expect(local.lastU).toBe(11);
    expect(local.lastTs).toBe(2);
  });

  it('stops at a sequence gap and waits for a snapshot', () => {
    const local = book();
    local.applySnapshot([['65000.0', '1.000']], [['65001.0', '1.000']], 10, 1, 1);
    expect(local.applyDelta([['65000.0', '2.000']], [], 12, 2, 2)).toEqual({ ok: false, reason: 'gap' });
    expect(local.isSynced).toBe(false);
    expect(local.applyDelta([['65000.0', '3.000']], [], 13, 3, 3)).toEqual({ ok: false, reason: 'not-synced' });
    expect(local.sizeAt('Buy', ticks(650_000))).toBe(1_000);
    expect(local.applySnapshot([['65000.0', '4.000']], [['65001.0', '1.000']], 20, 4, 4)).toEqual({ ok: true });
    expect(local.isSynced).toBe(true);
  });

  it('refuses deltas before the first snapshot, a crossed book, and an invalidated book', () => {
    const local = book();
    expect(local.applyDelta([['65000.0', '1.000']], [], 1, 1, 1)).toEqual({ ok: false, reason: 'not-synced' });
    expect(local.applySnapshot([['65002.0', '1.000']], [['65001.0', '1.000']], 1, 1, 1)).toEqual({ ok: false, reason: 'crossed' });
    expect(local.isSynced).toBe(false);
    local.applySnapshot([['65000.0', '1.000']], [['65001.0', '1.000']], 2, 2, 2);
    local.invalidate();
    expect(local.applyDelta([], [], 3, 3, 3)).toEqual({ ok: false, reason: 'not-synced' });
  });

  it('matches a plain map model for any sequence of levels', () => {
    const level = fc.tuple(fc.integer({ min: 649_900, max: 650_100 }), fc.integer({ min: 0, max: 5 }));
    fc.assert(
      fc.property(fc.array(fc.array(level, { maxLength: 8 }), { minLength: 1, maxLength: 40 }), (updates) => {
        const local = book();
        const model = new Map<number, number>();
        local.applySnapshot([], [], 1, 1, 1);
        updates.forEach((update, index) => {
          const rows = update.map(([price, size]): [string, string] => [formatPrice(BTCUSDT, ticks(price)), formatQty(BTCUSDT, lots(size))]);
          local.applyDelta(rows, [], index + 2, 1, 1);
          for (const [price, size] of update) {
            if (size === 0) model.delete(price);
            else model.set(price, size);
          }
          const expected = [...model].sort((a, b) => b[0] - a[0]);
          expect(local.top('Buy', 1_000)).toEqual(expected);
        });
      }),
    );
  });
});
