/**
 * Pre-trade risk: every order the engine wants to send is checked here first, in process, against the
 * frozen state and the limits. A refusal names its reason, which the engine counts and reports. Pure: the
 * caller passes the state it knows (position, resting orders, the mark, its recent sending rate).
 *
 * Every check is integer arithmetic on ticks and lots (it runs for each order on the quoting path, where
 * a decimal library costs microseconds per operation): the limits given as decimals are converted once,
 * by riskLimits, rounded the safe way. Decimals appear only in the text of a refusal.
 */
import { type Decimal, dec, decFromInt, roundedMultiple } from './decimal.js';
import { type Instrument, notional, orderViolations } from './instrument.js';
import { type Lots, type Side, type Ticks, sideSign } from './units.js';

export const RISK_REASONS = [
  'frozen',
  'invalid-order',
  'max-order-size',
  'position-limit',
  'notional-limit',
  'max-open-orders',
  'price-band',
  'rate-budget',
  'self-cross',
] as const;
export type RiskReason = (typeof RISK_REASONS)[number];

export interface RiskLimits {
  readonly maxPositionLots: number;
  /** Largest absolute position value at the order's price, in tick-lots (value / tickLotValue, rounded down). */
  readonly maxNotionalTickLots: bigint;
  readonly maxOpenOrders: number;
  readonly maxOrderLots: number;
  /** Orders must lie within this band around the mark, in millionths of a basis point (rounded down). */
  readonly priceBandMicroBps: bigint;
  readonly ordersPerSecond: number;
}

/** The limits as configured, in the instrument's units. */
export interface RiskSettings {
  readonly maxPositionLots: number;
  /** Largest absolute position value, in the settle coin. */
  readonly maxNotional: Decimal;
  readonly maxOpenOrders: number;
  readonly maxOrderLots: number;
  /** Orders must lie within this many bps of the mark price. */
  readonly priceBandBps: Decimal;
  readonly ordersPerSecond: number;
}

const MICRO = dec('0.000001');

/** Converts configured limits to the integer ones checkOrder uses; rounding only ever tightens a limit. */
export function riskLimits(instrument: Instrument, settings: RiskSettings): RiskLimits {
  const { maxNotional, priceBandBps, ...counts } = settings;
  return { ...counts, maxNotionalTickLots: roundedMultiple(maxNotional, instrument.tickLotValue, 'down'), priceBandMicroBps: roundedMultiple(priceBandBps, MICRO, 'down') };
}

export interface RiskState {
  readonly frozen: boolean;
  /** Signed position in lots. */
  readonly positionLots: number;
  /** Lots resting in our open orders on each side (they may all fill). */
  readonly restingBuyLots: number;
  readonly restingSellLots: number;
  readonly openOrders: number;
  /** Orders sent in the last second. */
  readonly sentLastSecond: number;
  /** Of the orders-per-second budget, how many only level-0 quotes may use (the touch matters most). */
  readonly touchReserve: number;
  /** The mark as bid + ask in ticks: twice the mid, so that a mid between two ticks is exact. */
  readonly markTwiceTicks: number | undefined;
  /** Our own best resting prices: a new order must not trade with them. */
  readonly ownBestBid: Ticks | undefined;
  readonly ownBestAsk: Ticks | undefined;
}

export interface OrderRequest {
  readonly side: Side;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  /** An amend replaces an order already counted in the state; a new order adds one. */
  readonly replacesLots?: number;
  /** The quote's level, 0 nearest the touch; an order with none counts as level 0. */
  readonly level?: number;
}

/** bps times millionths: the scale of |price - mark| / mark against priceBandMicroBps. */
const BPS_MICRO = 10_000n * 1_000_000n;

export type RiskDecision = { readonly ok: true } | { readonly ok: false; readonly reason: RiskReason; readonly detail: string };

function refuse(reason: RiskReason, detail: string): RiskDecision {
  return { ok: false, reason, detail };
}

export function checkOrder(instrument: Instrument, limits: RiskLimits, state: RiskState, order: OrderRequest): RiskDecision {
  if (state.frozen) return refuse('frozen', 'trading is frozen');
  const violations = orderViolations(instrument, order.priceTicks, order.qtyLots);
  if (violations.length > 0) return refuse('invalid-order', violations.join(', '));
  if (order.qtyLots > limits.maxOrderLots) return refuse('max-order-size', `${order.qtyLots} lots > ${limits.maxOrderLots}`);

  // Worst case: every resting order on this side and this one fill.
  const sign = sideSign(order.side);
  const resting = order.side === 'Buy' ? state.restingBuyLots : state.restingSellLots;
  const worstPosition = state.positionLots + sign * (resting - (order.replacesLots ?? 0) + order.qtyLots);
  if (Math.abs(worstPosition) > limits.maxPositionLots) return refuse('position-limit', `position could reach ${worstPosition} lots, limit ${limits.maxPositionLots}`);
  const worstLots = Math.abs(worstPosition) as Lots;
  if (BigInt(order.priceTicks) * BigInt(worstLots) > limits.maxNotionalTickLots) {
    const limit = dec(limits.maxNotionalTickLots).times(instrument.tickLotValue);
    return refuse('notional-limit', `position value could reach ${notional(instrument, order.priceTicks, worstLots).toFixed()} > ${limit.toFixed()}`);
  }

  if (order.replacesLots === undefined && state.openOrders >= limits.maxOpenOrders) return refuse('max-open-orders', `${state.openOrders} open orders`);
  const markTwice = state.markTwiceTicks;
  if (markTwice === undefined || markTwice <= 0) return refuse('price-band', 'no mark price yet');
  // |price - mark| / mark > band: with both sides doubled, |2 price - 2 mark| * 10^10 > band in micro-bps * 2 mark.
  const distanceTwice = BigInt(Math.abs(2 * order.priceTicks - markTwice));
  if (distanceTwice * BPS_MICRO > limits.priceBandMicroBps * BigInt(markTwice)) {
    const bps = dec(distanceTwice).times(dec('10000')).div(decFromInt(markTwice));
    const mark = decFromInt(markTwice).times(instrument.tickSize).times(dec('0.5'));
    return refuse('price-band', `${bps.toFixed(2)} bps from the mark ${mark.toFixed()}`);
  }
  if (state.sentLastSecond >= limits.ordersPerSecond) return refuse('rate-budget', `${state.sentLastSecond} orders in the last second`);
  if ((order.level ?? 0) > 0 && state.sentLastSecond + state.touchReserve >= limits.ordersPerSecond) {
    return refuse('rate-budget', `${state.sentLastSecond} orders in the last second; the last ${state.touchReserve} of ${limits.ordersPerSecond} are kept for level-0 quotes`);
  }
  const crosses = order.side === 'Buy' ? state.ownBestAsk !== undefined && order.priceTicks >= state.ownBestAsk : state.ownBestBid !== undefined && order.priceTicks <= state.ownBestBid;
  if (crosses) return refuse('self-cross', `would trade with our own ${order.side === 'Buy' ? 'ask' : 'bid'}`);
  return { ok: true };
}
