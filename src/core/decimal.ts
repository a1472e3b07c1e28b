/**
 * Exact decimal numbers for money paths (prices, quantities, notionals, fees, PnL).
 *
 * Built on big.js with a constructor of our own, so no other code can change its settings, in strict
 * mode: a JavaScript `number` passed in, or `toNumber()` on a value that would lose precision, throws.
 * That keeps binary floating point out of every money path by construction.
 */
import BigJs from 'big.js';

export type Decimal = BigJs.Big;

const DecimalCtor: BigJs.BigConstructor = BigJs();
DecimalCtor.strict = true;
/** Division keeps this many decimal places; only averages and ratios divide. */
DecimalCtor.DP = 30;
DecimalCtor.RM = BigJs.roundHalfEven;

/** Plain decimal notation as Bybit sends it: optional sign, digits, optional fraction. */
const DECIMAL_STRING = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

export class DecimalFormatError extends Error {
  override readonly name = 'DecimalFormatError';
  constructor(readonly input: unknown) {
    super(`not a plain decimal number: ${JSON.stringify(input)}`);
  }
}

/**
 * Parses a decimal string ("65000.10", "-0.000250"), a bigint or an existing Decimal.
 * Numbers are refused on purpose: a float has already lost the exact value.
 */
export function dec(value: string | bigint | Decimal): Decimal {
  if (typeof value === 'bigint') return new DecimalCtor(value.toString());
  if (typeof value === 'string') {
    if (!DECIMAL_STRING.test(value)) throw new DecimalFormatError(value);
    return new DecimalCtor(value);
  }
  return value;
}

/** True when the string is a decimal that dec() accepts; for schema validation. */
export function isDecimalString(value: string): boolean {
  return DECIMAL_STRING.test(value);
}

/** An integer count (ticks, lots) as a Decimal. Throws on anything but a safe integer. */
export function decFromInt(value: number): Decimal {
  if (!Number.isSafeInteger(value)) throw new DecimalFormatError(value);
  return new DecimalCtor(value.toString());
}

export const ZERO: Decimal = new DecimalCtor('0');

/** Number of digits after the decimal point in the shortest exact representation. */
export function decimalPlaces(value: Decimal): number {
  const text = value.toFixed();
  const point = text.indexOf('.');
  return point === -1 ? 0 : text.length - point - 1;
}

export type Rounding = 'down' | 'up';

/** Integer quotient of value / unit, rounded towards -infinity ('down') or +infinity ('up'). */
export function roundedMultiple(value: Decimal, unit: Decimal, rounding: Rounding): bigint {
  if (!unit.gt(ZERO)) throw new RangeError(`unit must be positive, got ${unit.toFixed()}`);
  // Division is rounded to DP places, so correct the estimate with exact multiplications.
  let floor = BigInt(value.div(unit).round(0, BigJs.roundDown).toFixed(0));
  while (dec(floor).times(unit).gt(value)) floor -= 1n;
  while (dec(floor + 1n).times(unit).lte(value)) floor += 1n;
  if (rounding === 'down' || dec(floor).times(unit).eq(value)) return floor;
  return floor + 1n;
}

/** Exact integer quotient `value / unit` when value is a whole multiple of unit, else undefined. */
export function exactMultiple(value: Decimal, unit: Decimal): bigint | undefined {
  const floor = roundedMultiple(value, unit, 'down');
  return dec(floor).times(unit).eq(value) ? floor : undefined;
}

/** Sum of decimals; ZERO for none. */
export function sum(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const value of values) total = total.plus(value);
  return total;
}
