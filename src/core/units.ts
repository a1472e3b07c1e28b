/**
 * Integer units of an instrument. A price is a whole number of ticks and a quantity a whole number
 * of lots (qtyStep), so the hot path (order book, quoting, order state) does integer arithmetic only
 * and can never hold an off-grid price. Conversions to and from the venue's decimal strings live in
 * instrument.ts.
 */

declare const unitBrand: unique symbol;

/** Price in ticks of the instrument's tickSize. */
export type Ticks = number & { readonly [unitBrand]: 'ticks' };
/** Quantity in lots of the instrument's qtyStep. */
export type Lots = number & { readonly [unitBrand]: 'lots' };

export class UnitRangeError extends RangeError {
  override readonly name = 'UnitRangeError';
}

function safeInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) throw new UnitRangeError(`${what} must be a safe integer, got ${value}`);
  return value;
}

export function ticks(value: number): Ticks {
  return safeInteger(value, 'ticks') as Ticks;
}

export function lots(value: number): Lots {
  if (safeInteger(value, 'lots') < 0) throw new UnitRangeError(`lots must not be negative, got ${value}`);
  return value as Lots;
}

export type Side = 'Buy' | 'Sell';

export const SIDES: readonly Side[] = ['Buy', 'Sell'];

/** +1 for Buy, -1 for Sell: the sign a fill on this side gives to the position. */
export function sideSign(side: Side): 1 | -1 {
  return side === 'Buy' ? 1 : -1;
}
