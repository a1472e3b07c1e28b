/**
 * The quoting strategy, as pure functions of the book, the position and the parameters.
 *
 * Model values (fair value, volatility, spreads) are floats measured in ticks and basis points: they are
 * estimates, not money. Every price that leaves this module is an integer number of ticks, rounded away
 * from the touch (bids down, asks up), and every size an integer number of lots.
 *
 * - Fair value: the mid, or the micro-price (the mid weighted by the opposite side's size at the touch).
 * - Volatility: an exponentially weighted variance of log returns of the fair value, per millisecond.
 * - Half-spread: `volatilitySpreadMultiplier` x one-second volatility, floored so that the expected edge of a
 *   fill (half-spread plus the maker rebate, i.e. minus the maker fee) is at least `minEdgeBps`.
 * - Inventory skew (Avellaneda-Stoikov style): the reservation price moves against the position by
 *   `inventorySkewBps` x position / max position, so a long book quotes lower and sells more easily.
 * - Levels: `levels` quotes per side, `levelSpacingBps` apart; none on the side that would grow a position
 *   already at its limit, and sizes capped so that fills cannot pass the limit.
 * - Every quote is post-only and placed strictly behind the opposite touch.
 */
import type { LocalBook } from './book.js';
import { type Instrument, clampPriceTicks, minValidLots } from './instrument.js';
import { type Lots, type Side, type Ticks, lots } from './units.js';

export type FairValueMode = 'mid' | 'microprice';

export interface QuoteParams {
  readonly levels: number;
  readonly levelSpacingBps: number;
  readonly minEdgeBps: number;
  /** Maker fee rate in bps, signed as Bybit signs it: negative is a rebate. */
  readonly makerFeeBps: number;
  readonly volatilitySpreadMultiplier: number;
  readonly inventorySkewBps: number;
  readonly orderLots: Lots;
  readonly maxPositionLots: number;
}

/** The fair value in ticks (fractional), or undefined without both sides of the book. */
export function fairValue(book: LocalBook, mode: FairValueMode): number | undefined {
  const bid = book.bestBid();
  const ask = book.bestAsk();
  if (bid === undefined || ask === undefined) return undefined;
  if (mode === 'mid') return (bid + ask) / 2;
  const bidSize = book.sizeAt('Buy', bid);
  const askSize = book.sizeAt('Sell', ask);
  // A big bid and a thin ask mean the next trade is likely up: weight the ask by the bid's size.
  return (bid * askSize + ask * bidSize) / (bidSize + askSize);
}

export interface VolatilityState {
  readonly lastFair: number | undefined;
  readonly lastTime: number;
  /** Variance of the log return per millisecond. */
  readonly variancePerMs: number;
}

export function initialVolatility(variancePerMs = 0): VolatilityState {
  return { lastFair: undefined, lastTime: 0, variancePerMs };
}

/** Folds one fair-value observation into the EWMA variance; the weight decays with elapsed time. */
export function updateVolatility(state: VolatilityState, fair: number, time: number, halfLifeMs: number): VolatilityState {
  if (state.lastFair === undefined || time <= state.lastTime) return { ...state, lastFair: fair, lastTime: Math.max(time, state.lastTime) };
  const elapsed = time - state.lastTime;
  const logReturn = Math.log(fair / state.lastFair);
  const sample = (logReturn * logReturn) / elapsed;
  const weight = 1 - 2 ** (-elapsed / halfLifeMs);
  return { lastFair: fair, lastTime: time, variancePerMs: state.variancePerMs + weight * (sample - state.variancePerMs) };
}

/** Volatility of the log return over one second, in basis points. */
export function volatilityBps(state: VolatilityState): number {
  return Math.sqrt(state.variancePerMs * 1_000) * 10_000;
}

export interface QuoteTarget {
  readonly side: Side;
  /** 0 is the level nearest the touch. */
  readonly level: number;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
}

export interface QuoteInput {
  readonly instrument: Instrument;
  /** Fair value in ticks. */
  readonly fair: number;
  readonly volatility: VolatilityState;
  /** Signed position in lots. */
  readonly positionLots: number;
  readonly bestBid: Ticks | undefined;
  readonly bestAsk: Ticks | undefined;
  readonly params: QuoteParams;
}

/** Half-spread in bps: from volatility, floored by the edge requirement net of the maker fee or rebate. */
export function halfSpreadBps(params: QuoteParams, volatility: VolatilityState): number {
  const fromVolatility = params.volatilitySpreadMultiplier * volatilityBps(volatility);
  const edgeFloor = params.minEdgeBps + params.makerFeeBps;
  return Math.max(fromVolatility, edgeFloor, 0);
}

/** Reservation price in ticks: the fair value moved against the inventory. */
export function reservationPrice(fair: number, positionLots: number, params: QuoteParams): number {
  const inventory = params.maxPositionLots > 0 ? Math.max(-1, Math.min(1, positionLots / params.maxPositionLots)) : 0;
  return fair * (1 - (params.inventorySkewBps * inventory) / 10_000);
}

/** The quotes the strategy wants resting now; empty sides mean "nothing on that side". */
export function quoteTargets(input: QuoteInput): QuoteTarget[] {
  const { instrument, params, positionLots } = input;
  const reservation = reservationPrice(input.fair, positionLots, params);
  const half = halfSpreadBps(params, input.volatility);
  const targets: QuoteTarget[] = [];
  for (const side of ['Buy', 'Sell'] as const) {
    const sign = side === 'Buy' ? 1 : -1;
    // Room left before the position limit on this side; fills of all levels together must fit.
    let room = params.maxPositionLots - sign * positionLots;
    for (let level = 0; level < params.levels && room > 0; level++) {
      const distanceBps = half + level * params.levelSpacingBps;
      const raw = side === 'Buy' ? reservation * (1 - distanceBps / 10_000) : reservation * (1 + distanceBps / 10_000);
      let price = side === 'Buy' ? Math.floor(raw) : Math.ceil(raw);
      // At least one tick from the fair value, and strictly behind the opposite touch (post-only).
      price = side === 'Buy' ? Math.min(price, Math.ceil(input.fair) - 1) : Math.max(price, Math.floor(input.fair) + 1);
      if (side === 'Buy' && input.bestAsk !== undefined) price = Math.min(price, input.bestAsk - 1);
      if (side === 'Sell' && input.bestBid !== undefined) price = Math.max(price, input.bestBid + 1);
      const priceTicks = clampPriceTicks(instrument, price);
      const qty = Math.min(params.orderLots, room);
      if (qty < minValidLots(instrument, priceTicks)) break;
      targets.push({ side, level, priceTicks, qtyLots: lots(qty) });
      room -= qty;
    }
  }
  return targets;
}

export interface RestingQuote {
  readonly orderLinkId: string;
  readonly side: Side;
  readonly level: number;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
}

export interface QuotePlan {
  readonly place: readonly QuoteTarget[];
  readonly amend: readonly { readonly quote: RestingQuote; readonly target: QuoteTarget }[];
  readonly cancel: readonly RestingQuote[];
}

/**
 * What to do to move from the resting quotes to the targets. A resting quote within `toleranceTicks` of
 * its target price and of the same size is kept: every amend costs rate limit and queue priority.
 */
export function planQuotes(targets: readonly QuoteTarget[], resting: readonly RestingQuote[], toleranceTicks: number): QuotePlan {
  const key = (side: Side, level: number) => `${side}:${level}`;
  const restingByKey = new Map(resting.map((quote) => [key(quote.side, quote.level), quote]));
  const place: QuoteTarget[] = [];
  const amend: { quote: RestingQuote; target: QuoteTarget }[] = [];
  const wanted = new Set<string>();
  for (const target of targets) {
    const k = key(target.side, target.level);
    wanted.add(k);
    const quote = restingByKey.get(k);
    if (!quote) place.push(target);
    else if (Math.abs(quote.priceTicks - target.priceTicks) > toleranceTicks || quote.qtyLots !== target.qtyLots) amend.push({ quote, target });
  }
  const cancel = resting.filter((quote) => !wanted.has(key(quote.side, quote.level)));
  return { place, amend, cancel };
}

/**
 * Quotes the market has moved against: a bid the fair value has fallen to within `fastCancelTicks` of, or
 * an ask it has risen to within that of. They are cancelled at once rather than re-priced, because the
 * next trade would likely pick them off.
 */
export function adverseQuotes(resting: readonly RestingQuote[], fair: number, fastCancelTicks: number): RestingQuote[] {
  return resting.filter((quote) => (quote.side === 'Buy' ? fair - quote.priceTicks < fastCancelTicks : quote.priceTicks - fair < fastCancelTicks));
}

