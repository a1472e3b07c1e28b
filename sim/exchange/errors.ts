/**
 * Bybit v5 business errors the exchange returns: HTTP 200 with a non-zero retCode (docs/v5/error.mdx).
 * Sources for each code and text are listed in sim/README.md.
 */

export interface Failure {
  readonly ok: false;
  readonly retCode: number;
  readonly retMsg: string;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | Failure;

export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function failure(retCode: number, retMsg: string): Failure {
  return { ok: false, retCode, retMsg };
}

export const RET = {
  paramError: 10001,
  timestampError: 10002,
  invalidApiKey: 10003,
  signError: 10004,
  permissionDenied: 10005,
  tooManyVisits: 10006,
  unmatchedIp: 10010,
  orderNotExists: 110001,
  priceOutOfRange: 110003,
  orderCompleted: 110008,
  qtyTruncatedToZero: 110017,
  tooManyOpenOrders: 110020,
  duplicateOrderLinkId: 110072,
  amendQtyNotAboveFilled: 110064,
  notionalBelowMin: 110094,
  keyExpired: 33004,
  serverError: 10016,
  routeNotFound: 10017,
} as const;
