/**
 * Instrument rules of a Bybit linear perpetual (GET /v5/market/instruments-info, category=linear) and the
 * conversions between the venue's decimal strings and our integer ticks and lots.
 *
 * Every helper that produces a price or quantity for an order returns one that the venue accepts
 * (on the tick grid, within min/max price, on the qty step, within min/max qty), or says it cannot.
 */
import * as z from 'zod';
import { type Decimal, type Rounding, ZERO, dec, decFromInt, decimalPlaces, exactMultiple, isDecimalString, roundedMultiple } from './decimal.js';
import { type Lots, type Ticks, lots, ticks } from './units.js';

const decimalString = z.string().refine(isDecimalString, { message: 'expected a decimal string' });
const positiveDecimalString = decimalString.refine((value) => dec(value).gt(ZERO), { message: 'expected a positive decimal' });

/** The fields of a linear instruments-info list item that quoting depends on; others pass through. */
export const BybitLinearInstrumentSchema = z.looseObject({
  symbol: z.string().regex(/^[A-Z0-9]+$/),
  contractType: z.string(),
  status: z.string(),
  baseCoin: z.string(),
  quoteCoin: z.string(),
  settleCoin: z.string(),
  priceScale: z.string().regex(/^\d+$/),
  priceFilter: z.looseObject({
    minPrice: positiveDecimalString,
    maxPrice: positiveDecimalString,
    tickSize: positiveDecimalString,
  }),
  lotSizeFilter: z.looseObject({
    minOrderQty: positiveDecimalString,
    maxOrderQty: positiveDecimalString,
    maxMktOrderQty: positiveDecimalString,
    qtyStep: positiveDecimalString,
    minNotionalValue: decimalString,
  }),
});
export type BybitLinearInstrument = z.infer<typeof BybitLinearInstrumentSchema>;

export interface Instrument {
  readonly symbol: string;
  readonly status: string;
  readonly baseCoin: string;
  readonly quoteCoin: string;
  readonly settleCoin: string;
  readonly priceScale: number;
  readonly tickSize: Decimal;
  readonly qtyStep: Decimal;
  /** Quote-currency value of one tick times one lot: the unit of integer notionals and PnL. */
  readonly tickLotValue: Decimal;
  readonly minPriceTicks: Ticks;
  readonly maxPriceTicks: Ticks;
  readonly minQtyLots: Lots;
  /** Largest quantity of a limit (and so post-only) order. */
  readonly maxQtyLots: Lots;
  readonly maxMarketQtyLots: Lots;
  readonly minNotional: Decimal;
  /** minNotional in tick-lots, rounded up: priceTicks * qtyLots >= this <=> notional >= minNotional. */
  readonly minNotionalTickLots: bigint;
  readonly qtyDecimals: number;
  /** tickSize in units of 10^-priceScale: a price string is priceTicks * this, with priceScale decimals. */
  readonly priceUnitsPerTick: bigint;
  /** qtyStep in units of 10^-qtyDecimals: a qty string is qtyLots * this, with qtyDecimals decimals. */
  readonly qtyUnitsPerLot: bigint;
}

export class InstrumentError extends Error {
  override readonly name = 'InstrumentError';
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new InstrumentError(`${what} is out of the safe integer range: ${value}`);
  }
  return Number(value);
}

/** Validates a raw instruments-info item and derives the integer bounds. Throws InstrumentError naming the field. */
export function parseLinearInstrument(raw: unknown): Instrument {
  const parsed = BybitLinearInstrumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InstrumentError(`invalid instrument ${issue ? `${issue.path.join('.')}: ${issue.message}` : ''}`.trim());
  }
  const item = parsed.data;
  const tickSize = dec(item.priceFilter.tickSize);
  const qtyStep = dec(item.lotSizeFilter.qtyStep);
  const priceScale = Number(item.priceScale);
  if (decimalPlaces(tickSize) > priceScale) {
    throw new InstrumentError(`${item.symbol}: tickSize ${item.priceFilter.tickSize} has more decimals than priceScale ${priceScale}`);
  }
  // Bounds that are not on the grid are tightened onto it, so every price between them is valid.
  const minPriceTicks = toSafeNumber(roundedMultiple(dec(item.priceFilter.minPrice), tickSize, 'up'), 'minPrice');
  const maxPriceTicks = toSafeNumber(roundedMultiple(dec(item.priceFilter.maxPrice), tickSize, 'down'), 'maxPrice');
  const minQtyLots = toSafeNumber(roundedMultiple(dec(item.lotSizeFilter.minOrderQty), qtyStep, 'up'), 'minOrderQty');
  const maxQtyLots = toSafeNumber(roundedMultiple(dec(item.lotSizeFilter.maxOrderQty), qtyStep, 'down'), 'maxOrderQty');
  const maxMarketQtyLots = toSafeNumber(roundedMultiple(dec(item.lotSizeFilter.maxMktOrderQty), qtyStep, 'down'), 'maxMktOrderQty');
  if (minPriceTicks > maxPriceTicks) throw new InstrumentError(`${item.symbol}: minPrice is above maxPrice`);
  if (minQtyLots > maxQtyLots) throw new InstrumentError(`${item.symbol}: minOrderQty is above maxOrderQty`);
  const tickLotValue = tickSize.times(qtyStep);
  const minNotional = dec(item.lotSizeFilter.minNotionalValue);
  const qtyDecimals = decimalPlaces(qtyStep);
  return {
    symbol: item.symbol,
    status: item.status,
    baseCoin: item.baseCoin,
    quoteCoin: item.quoteCoin,
    settleCoin: item.settleCoin,
    priceScale,
    tickSize,
    qtyStep,
    tickLotValue,
    minPriceTicks: ticks(minPriceTicks),
    maxPriceTicks: ticks(maxPriceTicks),
    minQtyLots: lots(minQtyLots),
    maxQtyLots: lots(maxQtyLots),
    maxMarketQtyLots: lots(maxMarketQtyLots),
    minNotional,
    minNotionalTickLots: roundedMultiple(minNotional, tickLotValue, 'up'),
    qtyDecimals,
    // Whole numbers: tickSize has at most priceScale decimals (checked above), qtyStep exactly qtyDecimals.
    priceUnitsPerTick: BigInt(tickSize.times(dec(10n ** BigInt(priceScale))).toFixed(0)),
    qtyUnitsPerLot: BigInt(qtyStep.times(dec(10n ** BigInt(qtyDecimals))).toFixed(0)),
  };
}

// ---- prices ----

/** A venue price that must already be on the grid (an execution, a resting order). */
export function priceToTicks(instrument: Instrument, price: string | Decimal): Ticks {
  const multiple = exactMultiple(dec(price), instrument.tickSize);
  if (multiple === undefined) {
    throw new InstrumentError(`${instrument.symbol}: price ${dec(price).toFixed()} is not a multiple of tick ${instrument.tickSize.toFixed()}`);
  }
  return ticks(toSafeNumber(multiple, 'price'));
}

export function ticksToPrice(instrument: Instrument, priceTicks: Ticks): Decimal {
  return decFromInt(priceTicks).times(instrument.tickSize);
}

/**
 * `units * 10^-scale` as a decimal string with exactly `scale` decimals, by integer arithmetic only (the
 * order path formats every price and quantity it sends; big.js takes microseconds for each).
 */
function formatScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** The price string for an order, with the instrument's priceScale decimals. */
export function formatPrice(instrument: Instrument, priceTicks: Ticks): string {
  return formatScaled(BigInt(priceTicks) * instrument.priceUnitsPerTick, instrument.priceScale);
}

/**
 * Rounds any price onto the grid, in the given direction, then into [minPrice, maxPrice].
 * A bid rounds down and an ask rounds up, so rounding never makes a quote more aggressive.
 */
export function roundPriceToTicks(instrument: Instrument, price: Decimal, rounding: Rounding): Ticks {
  const raw = roundedMultiple(price, instrument.tickSize, rounding);
  if (raw < BigInt(instrument.minPriceTicks)) return instrument.minPriceTicks;
  if (raw > BigInt(instrument.maxPriceTicks)) return instrument.maxPriceTicks;
  return ticks(Number(raw));
}

/** Clamps a tick price into the instrument's range. */
export function clampPriceTicks(instrument: Instrument, priceTicks: number): Ticks {
  return ticks(Math.min(instrument.maxPriceTicks, Math.max(instrument.minPriceTicks, Math.trunc(priceTicks))));
}

// ---- quantities ----

/** A venue quantity that must already be on the step (an execution, a position size). */
export function qtyToLots(instrument: Instrument, qty: string | Decimal): Lots {
  const multiple = exactMultiple(dec(qty), instrument.qtyStep);
  if (multiple === undefined || multiple < 0n) {
    throw new InstrumentError(`${instrument.symbol}: qty ${dec(qty).toFixed()} is not a non-negative multiple of step ${instrument.qtyStep.toFixed()}`);
  }
  return lots(toSafeNumber(multiple, 'qty'));
}

export function lotsToQty(instrument: Instrument, qtyLots: Lots | bigint): Decimal {
  return dec(BigInt(qtyLots)).times(instrument.qtyStep);
}

/** The qty string for an order, with as many decimals as qtyStep has. */
export function formatQty(instrument: Instrument, qtyLots: Lots): string {
  return formatScaled(BigInt(qtyLots) * instrument.qtyUnitsPerLot, instrument.qtyDecimals);
}

/** Exact notional of `qtyLots` at `priceTicks`, in the quote currency. */
export function notional(instrument: Instrument, priceTicks: Ticks, qtyLots: Lots): Decimal {
  return dec(BigInt(priceTicks) * BigInt(qtyLots)).times(instrument.tickLotValue);
}

/** The smallest quantity that is a valid order at this price: minOrderQty and minNotionalValue both met. */
export function minValidLots(instrument: Instrument, priceTicks: Ticks): Lots {
  const price = BigInt(priceTicks);
  if (price <= 0n) return instrument.minQtyLots;
  const forNotional = (instrument.minNotionalTickLots + price - 1n) / price;
  return forNotional > BigInt(instrument.minQtyLots) ? lots(Number(forNotional)) : instrument.minQtyLots;
}

/**
 * Rounds a desired quantity down onto the step and caps it at maxOrderQty. Returns undefined when the
 * result would be below the smallest valid order at this price: the caller skips the quote rather than
 * sending an order the venue rejects.
 */
export function roundOrderQty(instrument: Instrument, qty: Decimal, priceTicks: Ticks): Lots | undefined {
  const raw = roundedMultiple(qty, instrument.qtyStep, 'down');
  const capped = raw > BigInt(instrument.maxQtyLots) ? instrument.maxQtyLots : Number(raw);
  return capped >= minValidLots(instrument, priceTicks) ? lots(capped) : undefined;
}

export type OrderViolation = 'price-below-min' | 'price-above-max' | 'qty-below-min' | 'qty-above-max' | 'notional-below-min';

/** Every rule of the instrument that a limit order at this price and size breaks; empty when valid. */
export function orderViolations(instrument: Instrument, priceTicks: Ticks, qtyLots: Lots): OrderViolation[] {
  const violations: OrderViolation[] = [];
  if (priceTicks < instrument.minPriceTicks) violations.push('price-below-min');
  if (priceTicks > instrument.maxPriceTicks) violations.push('price-above-max');
  if (qtyLots < instrument.minQtyLots) violations.push('qty-below-min');
  if (qtyLots > instrument.maxQtyLots) violations.push('qty-above-max');
  if (BigInt(priceTicks) * BigInt(qtyLots) < instrument.minNotionalTickLots) violations.push('notional-below-min');
  return violations;
}

// ---- fast string conversions for market data ----

/**
 * Converts the venue's decimal strings to ticks and lots with integer arithmetic only, for the market-data
 * hot path (big.js costs microseconds per call). Exact: a value off the grid, with more decimals than the
 * grid has, or beyond the safe-integer range is refused with InstrumentError, like priceToTicks/qtyToLots.
 */
export interface GridCodec {
  priceToTicks(text: string): Ticks;
  qtyToLots(text: string): Lots;
}

/** `unit` as an integer count of 10^-scale: 0.10 -> { units: 10, scale: 2 }. */
function scaledUnit(unit: Decimal): { units: number; scale: number } {
  const scale = decimalPlaces(unit);
  return { units: Number(unit.times(dec(10n ** BigInt(scale))).toFixed(0)), scale };
}

const DOT = 46;
const ZERO_CODE = 48;

/**
 * A parser of plain non-negative decimals (digits, optionally a point and more digits) onto a grid, one
 * character at a time: the value is accumulated as an integer count of 10^-scale, which is exact while it
 * is a safe integer (every intermediate is at most the final value, so a result that passes the range check
 * was computed exactly). Digits past the grid's scale must be zeros ("65000.10" on a 0.1 grid is fine).
 */
function gridParser(unit: Decimal, what: string, symbol: string): (text: string) => number {
  const { units, scale } = scaledUnit(unit);
  const notDecimal = (text: string) => new InstrumentError(`${symbol}: ${what} ${JSON.stringify(text)} is not a non-negative decimal`);
  const offGrid = (text: string) => new InstrumentError(`${symbol}: ${what} ${text} is off the grid ${unit.toFixed()}`);
  return (text) => {
    const length = text.length;
    let value = 0;
    let index = 0;
    for (; index < length; index++) {
      const digit = text.charCodeAt(index) - ZERO_CODE;
      if (digit === DOT - ZERO_CODE) break;
      if (digit < 0 || digit > 9) throw notDecimal(text);
      value = value * 10 + digit;
    }
    if (index === 0) throw notDecimal(text);
    let decimals = 0;
    let beyondGrid = false;
    if (index < length) {
      index += 1; // the point
      if (index === length) throw notDecimal(text);
      for (; index < length; index++) {
        const digit = text.charCodeAt(index) - ZERO_CODE;
        if (digit < 0 || digit > 9) throw notDecimal(text);
        if (decimals < scale) {
          value = value * 10 + digit;
          decimals += 1;
        } else if (digit !== 0) {
          beyondGrid = true;
        }
      }
    }
    if (beyondGrid) throw offGrid(text);
    for (; decimals < scale; decimals++) value *= 10;
    if (!Number.isSafeInteger(value)) throw new InstrumentError(`${symbol}: ${what} ${text} is out of range`);
    if (value % units !== 0) throw offGrid(text);
    return value / units;
  };
}

export function gridCodec(instrument: Instrument): GridCodec {
  const price = gridParser(instrument.tickSize, 'price', instrument.symbol);
  const qty = gridParser(instrument.qtyStep, 'qty', instrument.symbol);
  return { priceToTicks: (text) => price(text) as Ticks, qtyToLots: (text) => qty(text) as Lots };
}
