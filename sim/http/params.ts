/**
 * Request parameter schemas of the REST endpoints (zod). A request that does not match gets Bybit's
 * 10001 "params error" naming the field. Numbers arrive as strings, as Bybit's API takes them.
 */
import * as z from 'zod';
import { isDecimalString } from '../../src/core/decimal.js';

const decimalString = z.string().refine(isDecimalString, { message: 'must be a decimal string' });
/** The simulator serves linear perpetuals only. */
const category = z.literal('linear', { message: 'only category=linear is served by the simulator' });
const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/, { message: 'invalid symbol' });
const side = z.enum(['Buy', 'Sell']);
/** GET parameters are strings; an integer field accepts digits only. */
const intString = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be an integer' })
    .transform(Number)
    .refine((value) => value >= min && value <= max, { message: `must be between ${min} and ${max}` });
/** Bybit takes booleans as JSON booleans; bybit-api sends them so. */
const flag = z.boolean();

export const CreateOrderParams = z.looseObject({
  category,
  symbol,
  side,
  orderType: z.enum(['Limit', 'Market']),
  qty: decimalString,
  price: decimalString.optional(),
  timeInForce: z.enum(['GTC', 'IOC', 'FOK', 'PostOnly']).optional(),
  orderLinkId: z.string().optional(),
  positionIdx: z.union([z.literal(0), z.literal('0')]).optional(),
  reduceOnly: flag.optional(),
  closeOnTrigger: flag.optional(),
});
export type CreateOrderParams = z.infer<typeof CreateOrderParams>;

const orderRef = {
  orderId: z.string().min(1).optional(),
  orderLinkId: z.string().min(1).optional(),
};

export const AmendOrderParams = z
  .looseObject({ category, symbol, ...orderRef, qty: decimalString.optional(), price: decimalString.optional() })
  .refine((params) => params.orderId !== undefined || params.orderLinkId !== undefined, { message: 'orderId or orderLinkId is required', path: ['orderId'] });
export type AmendOrderParams = z.infer<typeof AmendOrderParams>;

export const CancelOrderParams = z
  .looseObject({ category, symbol, ...orderRef })
  .refine((params) => params.orderId !== undefined || params.orderLinkId !== undefined, { message: 'orderId or orderLinkId is required', path: ['orderId'] });
export type CancelOrderParams = z.infer<typeof CancelOrderParams>;

export const CancelAllParams = z
  .looseObject({ category, symbol: symbol.optional(), baseCoin: z.string().optional(), settleCoin: z.string().optional() })
  .refine((params) => params.symbol !== undefined || params.baseCoin !== undefined || params.settleCoin !== undefined, {
    message: 'symbol, baseCoin or settleCoin is required for linear',
    path: ['symbol'],
  });

/** Bybit: up to 20 orders per batch for linear (docs/v5/order/batch-place.mdx). */
export const MAX_BATCH = 20;
export const BatchParams = <T extends z.ZodType>(item: T) =>
  z.looseObject({ category, request: z.array(item).min(1).max(MAX_BATCH, { message: `at most ${MAX_BATCH} orders per batch` }) });

export const BatchCreateItem = CreateOrderParams.omit({ category: true });
export const BatchAmendItem = z.looseObject({ symbol, ...orderRef, qty: decimalString.optional(), price: decimalString.optional() });
export const BatchCancelItem = z.looseObject({ symbol, ...orderRef });

export const OrderQueryParams = z.looseObject({
  category,
  symbol: symbol.optional(),
  baseCoin: z.string().optional(),
  settleCoin: z.string().optional(),
  orderId: z.string().optional(),
  orderLinkId: z.string().optional(),
  openOnly: z.enum(['0', '1', '2']).optional(),
  startTime: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  endTime: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intString(1, 50).optional(),
  cursor: z.string().optional(),
});

export const ExecutionQueryParams = z.looseObject({
  category,
  symbol: symbol.optional(),
  orderId: z.string().optional(),
  orderLinkId: z.string().optional(),
  startTime: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  endTime: intString(0, Number.MAX_SAFE_INTEGER).optional(),
  execType: z.string().optional(),
  limit: intString(1, 100).optional(),
  cursor: z.string().optional(),
});

export const PositionQueryParams = z
  .looseObject({ category, symbol: symbol.optional(), settleCoin: z.string().optional(), limit: intString(1, 200).optional(), cursor: z.string().optional() })
  .refine((params) => params.symbol !== undefined || params.settleCoin !== undefined, { message: 'symbol or settleCoin is required', path: ['symbol'] });

export const WalletQueryParams = z.looseObject({ accountType: z.literal('UNIFIED', { message: 'accountType must be UNIFIED' }), coin: z.string().optional() });

export const FeeRateParams = z.looseObject({ category, symbol: symbol.optional() });

export const InstrumentsParams = z.looseObject({ category, symbol: symbol.optional(), status: z.string().optional(), limit: intString(1, 1000).optional(), cursor: z.string().optional() });
export const OrderbookParams = z.looseObject({ category, symbol, limit: intString(1, 500).optional() });
export const TickersParams = z.looseObject({ category, symbol: symbol.optional() });
export const RecentTradeParams = z.looseObject({ category, symbol, limit: intString(1, 1000).optional() });

export const DcpParams = z.looseObject({
  // bybit-api's V2 method types the product 'OPTION'; the docs say OPTIONS. Both mean options.
  product: z.enum(['OPTIONS', 'OPTION', 'DERIVATIVES', 'SPOT']).optional(),
  timeWindow: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).refine((value) => value >= 3 && value <= 300, {
    message: 'timeWindow must be between 3 and 300',
  }),
});

/** "path: message" of the first problem, as Bybit names one parameter per error. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'params error';
  const path = issue.path.join('.');
  return `params error: ${path ? `${path}: ` : ''}${issue.message}`;
}
