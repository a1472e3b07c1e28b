import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DecimalFormatError, dec, decFromInt, decimalPlaces, exactMultiple, isDecimalString, roundedMultiple, sum } from '../../../src/core/decimal.js';

describe('dec', () => {
  it('parses the plain decimal strings Bybit sends, exactly', () => {
    expect(dec('65000.10').toFixed()).toBe('65000.1');
    expect(dec('-0.000250').toFixed()).toBe('-0.00025');
    expect(dec('0.1').plus(dec('0.2')).eq(dec('0.3'))).toBe(true);
    expect(dec(123n).toFixed()).toBe('123');
    const value = dec('1.5');
    expect(dec(value)).toBe(value);
  });

  it.each(['', ' 1', '1e5', '.5', '5.', '00.1', '+1', 'NaN', '1,5', '0x10'])('refuses %j with a clear error', (text) => {
    expect(() => dec(text)).toThrow(DecimalFormatError);
    expect(() => dec(text)).toThrow(/not a plain decimal number/);
    expect(isDecimalString(text)).toBe(false);
  });

  it('refuses JavaScript numbers that are not safe integers', () => {
    expect(() => decFromInt(0.1)).toThrow(DecimalFormatError);
    expect(() => decFromInt(2 ** 53)).toThrow(DecimalFormatError);
    expect(decFromInt(-42).toFixed()).toBe('-42');
  });

  it('is in strict mode: a float cannot enter and a lossy float cannot leave', () => {
    const Ctor = dec('1').constructor as unknown as new (value: number) => unknown;
    expect(() => new Ctor(0.1)).toThrow();
    expect(() => dec('0.1234567890123456789').toNumber()).toThrow();
  });
});

describe('grid arithmetic', () => {
  it('counts decimal places of the shortest form', () => {
    expect(decimalPlaces(dec('0.10'))).toBe(1);
    expect(decimalPlaces(dec('5'))).toBe(0);
    expect(decimalPlaces(dec('0.000025'))).toBe(6);
  });

  it('rounds to a multiple of the unit towards -inf or +inf', () => {
    const tick = dec('0.5');
    expect(roundedMultiple(dec('10.7'), tick, 'down')).toBe(21n);
    expect(roundedMultiple(dec('10.7'), tick, 'up')).toBe(22n);
    expect(roundedMultiple(dec('10.5'), tick, 'up')).toBe(21n);
    expect(roundedMultiple(dec('-10.7'), tick, 'down')).toBe(-22n);
    expect(roundedMultiple(dec('-10.7'), tick, 'up')).toBe(-21n);
    expect(() => roundedMultiple(dec('1'), dec('0'), 'up')).toThrow(RangeError);
  });

  it('finds exact multiples only', () => {
    expect(exactMultiple(dec('65000.1'), dec('0.1'))).toBe(650001n);
    expect(exactMultiple(dec('65000.15'), dec('0.1'))).toBeUndefined();
    expect(exactMultiple(dec('1'), dec('3'))).toBeUndefined();
  });

  it('rounding brackets the value within one unit, for any value and unit', () => {
    const decimalArb = fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }).chain((units) =>
      fc.integer({ min: 0, max: 12 }).map((scale) => dec(units).div(dec(10n ** BigInt(scale)))),
    );
    const unitArb = fc
      .tuple(fc.bigInt({ min: 1n, max: 10n ** 6n }), fc.integer({ min: 0, max: 8 }))
      .map(([units, scale]) => dec(units).div(dec(10n ** BigInt(scale))));
    fc.assert(
      fc.property(decimalArb, unitArb, (value, unit) => {
        const down = dec(roundedMultiple(value, unit, 'down')).times(unit);
        const up = dec(roundedMultiple(value, unit, 'up')).times(unit);
        expect(down.lte(value)).toBe(true);
        expect(up.gte(value)).toBe(true);
        expect(value.minus(down).lt(unit)).toBe(true);
        expect(up.minus(value).lt(unit)).toBe(true);
      }),
    );
  });

  it('sums exactly', () => {
    expect(sum([dec('0.1'), dec('0.2'), dec('-0.3')]).toFixed()).toBe('0');
    expect(sum([]).toFixed()).toBe('0');
  });
});
