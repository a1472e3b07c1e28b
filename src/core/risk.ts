/**
 * Pre-trade risk: every order the engine wants to send is checked here first, in process, against the
 * frozen state and the limits. A refusal names its reason, which the engine counts and reports. Pure: the
 * caller passes the state it knows (position, resting orders, the mark, its recent sending rate).
 */
import { type Decimal, dec } from './decimal.js';
import { type Instrument, notional, orderViolations, ticksToPrice } from './instrument.js';
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
  /** Largest absolute position value at the mark, in the settle coin. */
  readonly maxNotional: Decimal;
  readonly maxOpenOrders: number;
  readonly maxOrderLots: number;
  /** Orders must lie within this many bps of the mark price. */
  readonly priceBandBps: Decimal;
  readonly ordersPerSecond: number;
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
  readonly markPrice: Decimal | undefined;
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
}

const BPS = dec('10000');

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
  const worstNotional = notional(instrument, order.priceTicks, Math.abs(worstPosition) as Lots);
  if (worstNotional.gt(limits.maxNotional)) return refuse('notional-limit', `position value could reach ${worstNotional.toFixed()} > ${limits.maxNotional.toFixed()}`);

  if (order.replacesLots === undefined && state.openOrders >= limits.maxOpenOrders) return refuse('max-open-orders', `${state.openOrders} open orders`);
  if (!state.markPrice) return refuse('price-band', 'no mark price yet');
  // |price - mark| / mark > band, compared without a division (the hot path; division is the slow one).
  const distance = ticksToPrice(instrument, order.priceTicks).minus(state.markPrice).abs().times(BPS);
  if (distance.gt(limits.priceBandBps.times(state.markPrice))) return refuse('price-band', `${distance.div(state.markPrice).toFixed(2)} bps from the mark ${state.markPrice.toFixed()}`);
  if (state.sentLastSecond >= limits.ordersPerSecond) return refuse('rate-budget', `${state.sentLastSecond} orders in the last second`);
  const crosses = order.side === 'Buy' ? state.ownBestAsk !== undefined && order.priceTicks >= state.ownBestAsk : state.ownBestBid !== undefined && order.priceTicks <= state.ownBestBid;
  if (crosses) return refuse('self-cross', `would trade with our own ${order.side === 'Buy' ? 'ask' : 'bid'}`);
  return { ok: true };
}
