/**
 * Bybit v5 messages the engine consumes, validated (zod) and converted to the domain's types: orders
 * (private `order` topic and GET /v5/order/realtime|history), executions (private `execution` topic and
 * GET /v5/execution/list) and public order-book messages. Shapes: sim/reference/bybit-v5-rest.md §4.6, §4.8
 * and bybit-v5-websocket.md §4.1, §5. Fields the engine does not use are dropped (a strict-shape object
 * schema is several times cheaper for zod than one that copies unknown keys, and these run for every
 * message); a missing or malformed field the engine needs is a BybitMessageError naming it, never a silent
 * default.
 */
import * as z from 'zod';
import { dec, isDecimalString } from '../../core/decimal.js';
import type { GridCodec, Instrument } from '../../core/instrument.js';
import { VENUE_ORDER_STATUSES, type VenueOrderReport } from '../../core/order.js';
import type { Execution } from '../../core/position.js';

export class BybitMessageError extends Error {
  override readonly name = 'BybitMessageError';
}

const decimalString = z.string().refine(isDecimalString, { message: 'expected a decimal string' });
const epochMsString = z.string().regex(/^\d+$/, { message: 'expected epoch milliseconds as a string' }).transform(Number);
const side = z.enum(['Buy', 'Sell']);

export const BybitOrderSchema = z.object({
  orderId: z.string().min(1),
  orderLinkId: z.string(),
  symbol: z.string().min(1),
  side,
  orderStatus: z.enum(VENUE_ORDER_STATUSES),
  price: decimalString,
  qty: decimalString,
  cumExecQty: decimalString,
  leavesQty: decimalString,
  updatedTime: epochMsString,
  createdTime: epochMsString,
  rejectReason: z.string().optional(),
  cancelType: z.string().optional(),
  timeInForce: z.string().optional(),
  orderType: z.string().optional(),
});
export type BybitOrder = z.infer<typeof BybitOrderSchema>;

export const BybitExecutionSchema = z.object({
  execId: z.string().min(1),
  symbol: z.string().min(1),
  orderId: z.string(),
  orderLinkId: z.string(),
  side: z.union([side, z.literal('')]),
  execType: z.string(),
  execPrice: decimalString,
  execQty: decimalString,
  execFee: decimalString,
  feeRate: decimalString,
  isMaker: z.boolean(),
  execTime: epochMsString,
  seq: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
});
export type BybitExecution = z.infer<typeof BybitExecutionSchema>;

/**
 * A position (GET /v5/position/list row, private `position` topic): the fields the signed size depends on.
 * `size` is unsigned and `side` gives the sign, '' when flat on a unified account
 * (docs/v5/position/position.mdx, docs/v5/websocket/private/position.mdx). positionIdx 0 is one-way mode;
 * 1 and 2 are the legs of hedge mode, which this engine does not trade.
 */
export const BybitPositionSchema = z.object({
  symbol: z.string().min(1),
  positionIdx: z.literal(0, { message: 'expected positionIdx 0 (one-way mode)' }),
  side: z.enum(['Buy', 'Sell', '']),
  size: decimalString,
});
export type BybitPosition = z.infer<typeof BybitPositionSchema>;

/**
 * The account's balances and margin (private `wallet` topic, GET /v5/account/wallet-balance list item;
 * sim/reference/bybit-v5-websocket.md §5.6): the totals an operator watches. A unified account reports
 * them all as decimal strings; anything else is malformed.
 */
export const BybitWalletSchema = z.object({
  accountType: z.literal('UNIFIED', { message: 'expected a unified trading account' }),
  totalEquity: decimalString,
  totalWalletBalance: decimalString,
  totalAvailableBalance: decimalString,
  totalInitialMargin: decimalString,
  totalMaintenanceMargin: decimalString,
  accountMMRate: decimalString,
});
export type BybitWallet = z.infer<typeof BybitWalletSchema>;

/**
 * Order-book rows, [price, size] string pairs, checked for shape only: each string is then converted by the
 * symbol's GridCodec, which refuses anything that is not a decimal on the grid (InstrumentError). A zod
 * tuple per row costs microseconds per message for a check the codec makes anyway.
 */
type BookRows = readonly (readonly [string, string])[];
function isBookRows(value: unknown): value is BookRows {
  if (!Array.isArray(value)) return false;
  for (const row of value as unknown[]) {
    if (!Array.isArray(row) || row.length !== 2 || typeof row[0] !== 'string' || typeof row[1] !== 'string') return false;
  }
  return true;
}
const bookRows = z.custom<BookRows>(isBookRows, { message: 'expected a list of [price, size] string pairs' });
export const BybitOrderbookMessageSchema = z.object({
  topic: z.string().regex(/^orderbook\.\d+\.[A-Z0-9]+$/),
  type: z.enum(['snapshot', 'delta']),
  ts: z.number().int(),
  data: z.object({ s: z.string(), b: bookRows, a: bookRows, u: z.number().int(), seq: z.number().int() }),
});
export type BybitOrderbookMessage = z.infer<typeof BybitOrderbookMessageSchema>;

/** Validates a venue answer or message; a problem is a BybitMessageError naming the first fields at fault. */
export function parseWith<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new BybitMessageError(`malformed ${what}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export function parseOrder(raw: unknown): BybitOrder {
  return parseWith(BybitOrderSchema, raw, 'order');
}

export function parseExecution(raw: unknown): BybitExecution {
  return parseWith(BybitExecutionSchema, raw, 'execution');
}

export function parsePosition(raw: unknown): BybitPosition {
  return parseWith(BybitPositionSchema, raw, 'position');
}

/** The signed size in lots: long > 0, short < 0. A size with no side is malformed, not flat. */
export function signedPositionLots(position: BybitPosition, codec: GridCodec): bigint {
  const size = BigInt(codec.qtyToLots(position.size));
  if (position.side === '') {
    if (size !== 0n) throw new BybitMessageError(`malformed position: ${position.symbol} has size ${position.size} but no side`);
    return 0n;
  }
  return position.side === 'Buy' ? size : -size;
}

export function parseWallet(raw: unknown): BybitWallet {
  return parseWith(BybitWalletSchema, raw, 'wallet');
}

export function parseOrderbookMessage(raw: unknown): BybitOrderbookMessage {
  return parseWith(BybitOrderbookMessageSchema, raw, 'orderbook message');
}

/** An order as the state machine sees it. Market orders report price "0", kept as 0 ticks. */
export function toVenueOrderReport(order: BybitOrder, codec: GridCodec): VenueOrderReport {
  return {
    orderId: order.orderId,
    status: order.orderStatus,
    priceTicks: codec.priceToTicks(order.price),
    qtyLots: codec.qtyToLots(order.qty),
    cumExecLots: codec.qtyToLots(order.cumExecQty),
    leavesLots: codec.qtyToLots(order.leavesQty),
    updatedTime: order.updatedTime,
    ...(order.rejectReason !== undefined && { rejectReason: order.rejectReason }),
    ...(order.cancelType !== undefined && { cancelType: order.cancelType }),
  };
}

/**
 * An execution as positions see it: a trade, or a funding settlement (execType Funding). Other execution
 * types (ADL, liquidation, delivery) change the position like a trade.
 */
export function toExecution(execution: BybitExecution, instrument: Instrument, codec: GridCodec): Execution {
  if (execution.execType === 'Funding') {
    return { kind: 'funding', execId: execution.execId, symbol: execution.symbol, fee: dec(execution.execFee), execTime: execution.execTime };
  }
  if (execution.side === '') throw new BybitMessageError(`malformed execution ${execution.execId}: side is empty for execType ${execution.execType}`);
  if (execution.symbol !== instrument.symbol) throw new BybitMessageError(`execution ${execution.execId} is for ${execution.symbol}, not ${instrument.symbol}`);
  return {
    kind: 'trade',
    execId: execution.execId,
    symbol: execution.symbol,
    orderId: execution.orderId,
    orderLinkId: execution.orderLinkId,
    side: execution.side,
    priceTicks: codec.priceToTicks(execution.execPrice),
    qtyLots: codec.qtyToLots(execution.execQty),
    fee: dec(execution.execFee),
    feeRate: dec(execution.feeRate),
    isMaker: execution.isMaker,
    execTime: execution.execTime,
  };
}
