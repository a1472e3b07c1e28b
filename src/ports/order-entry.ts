/**
 * Port: sending orders to the venue. The engine depends on this interface; src/adapters/bybit implements it
 * over bybit-api's order-entry WebSocket and REST.
 *
 * Outcomes: accepted (acknowledged; its fate comes from the order stream), rejected (refused with Bybit's
 * retCode; nothing happened), unknown (no answer in time, HTTP 5xx or a dropped connection: the order may
 * or may not exist).
 *
 * Batches (amend and cancel) give one outcome per item, in request order. A failure of the whole request
 * (no answer, HTTP 5xx, a top-level retCode, an answer of the wrong shape) gives every item the same
 * outcome. The caller keeps a batch within the venue's size limit.
 */

export interface CreateParams {
  readonly symbol: string;
  readonly side: 'Buy' | 'Sell';
  readonly qty: string;
  readonly price: string;
  readonly orderLinkId: string;
}

export interface AmendParams {
  readonly symbol: string;
  readonly orderLinkId: string;
  readonly qty?: string;
  readonly price?: string;
}

export interface CancelParams {
  readonly symbol: string;
  readonly orderLinkId: string;
}

export type EntryOutcome =
  | { readonly kind: 'accepted'; readonly orderId: string; readonly orderLinkId: string }
  | { readonly kind: 'rejected'; readonly retCode: number; readonly retMsg: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface LimitObservation {
  readonly limit: number;
  readonly remaining: number;
  readonly resetAt: number;
}

export interface EntryResult {
  readonly outcome: EntryOutcome;
  readonly limits?: LimitObservation;
}

export interface BatchEntryResult {
  /** One outcome per requested item, in request order. */
  readonly outcomes: readonly EntryOutcome[];
  readonly limits?: LimitObservation;
}

export interface OrderEntry {
  readonly transport: 'websocket' | 'rest';
  /**
   * False while the transport cannot send at once (a socket reconnecting): the router sends over its
   * fallback instead, because a request held until the socket is back would reach the venue late, all at
   * once with later ones (rate limits), and possibly after a retry over the fallback. Absent: always.
   */
  isAvailable?(): boolean;
  create(params: CreateParams): Promise<EntryResult>;
  amend(params: AmendParams): Promise<EntryResult>;
  cancel(params: CancelParams): Promise<EntryResult>;
  amendBatch(params: readonly AmendParams[]): Promise<BatchEntryResult>;
  cancelBatch(params: readonly CancelParams[]): Promise<BatchEntryResult>;
}
