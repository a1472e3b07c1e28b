/**
 * The order operations behind both the REST endpoints and the order-entry WebSocket: venue strings to
 * ticks and lots (off-grid values are parameter errors), then the exchange. Same codes on both paths.
 */
import type * as z from 'zod';
import { type Instrument, InstrumentError, priceToTicks, qtyToLots } from '../../src/core/instrument.js';
import type { Lots, Ticks } from '../../src/core/units.js';
import { type Outcome, RET, failure, success } from '../exchange/errors.js';
import type { Exchange, OrderRef } from '../exchange/exchange.js';
import type * as P from '../http/params.js';

export interface OrderVenue {
  readonly exchange: Exchange;
}

/** Venue strings to ticks and lots; off-grid values are parameter errors. */
function toTicks(instrument: Instrument, price: string, field = 'price'): Outcome<Ticks> {
  try {
    return success(priceToTicks(instrument, price));
  } catch (error) {
    if (error instanceof InstrumentError) return failure(RET.paramError, `params error: ${field} must be a multiple of tickSize ${instrument.tickSize.toFixed()}`);
    throw error;
  }
}

function toLots(instrument: Instrument, qty: string): Outcome<Lots> {
  try {
    return success(qtyToLots(instrument, qty));
  } catch (error) {
    if (error instanceof InstrumentError) return failure(RET.paramError, `params error: qty must be a multiple of qtyStep ${instrument.qtyStep.toFixed()}`);
    throw error;
  }
}

function refOf(params: { orderId?: string | undefined; orderLinkId?: string | undefined }): OrderRef {
  // Bybit: when both are given, orderId wins.
  return params.orderId !== undefined ? { orderId: params.orderId } : { orderLinkId: params.orderLinkId ?? '' };
}

export function createOne(state: OrderVenue, accountId: string, params: P.CreateOrderParams): Outcome<{ orderId: string; orderLinkId: string }> {
  const instrument = state.exchange.instrument(params.symbol);
  if (!instrument) return failure(RET.paramError, 'params error: symbol invalid');
  const qty = toLots(instrument, params.qty);
  if (!qty.ok) return qty;
  let priceTicks: Ticks | undefined;
  if (params.orderType === 'Limit') {
    if (params.price === undefined) return failure(RET.paramError, 'params error: price is required for a limit order');
    const price = toTicks(instrument, params.price);
    if (!price.ok) return price;
    priceTicks = price.value;
  }
  return state.exchange.createOrder(accountId, {
    symbol: params.symbol,
    side: params.side,
    orderType: params.orderType,
    qtyLots: qty.value,
    ...(priceTicks !== undefined && { priceTicks }),
    ...(params.timeInForce !== undefined && { timeInForce: params.timeInForce }),
    ...(params.orderLinkId !== undefined && { orderLinkId: params.orderLinkId }),
    ...(params.reduceOnly !== undefined && { reduceOnly: params.reduceOnly }),
  });
}

export function amendOne(state: OrderVenue, accountId: string, params: z.infer<typeof P.BatchAmendItem>): Outcome<{ orderId: string; orderLinkId: string }> {
  const instrument = state.exchange.instrument(params.symbol);
  if (!instrument) return failure(RET.paramError, 'params error: symbol invalid');
  let qtyLots: Lots | undefined;
  let priceTicks: Ticks | undefined;
  if (params.qty !== undefined) {
    const qty = toLots(instrument, params.qty);
    if (!qty.ok) return qty;
    qtyLots = qty.value;
  }
  if (params.price !== undefined) {
    const price = toTicks(instrument, params.price);
    if (!price.ok) return price;
    priceTicks = price.value;
  }
  return state.exchange.amendOrder(accountId, {
    symbol: params.symbol,
    ref: refOf(params),
    ...(qtyLots !== undefined && { qtyLots }),
    ...(priceTicks !== undefined && { priceTicks }),
  });
}

export function cancelOne(state: OrderVenue, accountId: string, params: z.infer<typeof P.BatchCancelItem>): Outcome<{ orderId: string; orderLinkId: string }> {
  return state.exchange.cancelOrder(accountId, params.symbol, refOf(params));
}

export const RATE_LIMITED = failure(RET.tooManyVisits, 'Too many visits!');

