import { describe, expect, it } from '@jest/globals';
import { UnitRangeError, lots, sideSign, ticks } from '../../../src/core/units.js';

describe('integer units', () => {
  it('accept safe integers', () => {
    expect(ticks(-3)).toBe(-3);
    expect(lots(0)).toBe(0);
  });

  it.each([0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuse %p as ticks or lots', (value) => {
    expect(() => ticks(value)).toThrow(UnitRangeError);
    expect(() => lots(value)).toThrow(/must be a safe integer/);
  });

  it('refuse negative lots', () => {
    expect(() => lots(-1)).toThrow(/must not be negative/);
  });

  it('sign a side', () => {
    expect(sideSign('Buy')).toBe(1);
    expect(sideSign('Sell')).toBe(-1);
  });
});
