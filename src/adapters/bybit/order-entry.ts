/**
 * Order entry to Bybit through bybit-api, over the order-entry WebSocket or REST, behind one interface.
 *
 * Every call ends in one of three outcomes:
 *   accepted  the venue acknowledged it (its fate then comes from the order stream);
 *   rejected  the venue refused it, with Bybit's retCode (nothing happened);
 *   unknown   no answer in time, HTTP 5xx, or the connection dropped: the order may or may not exist, so
 *             the router must query it by orderLinkId before any retry.
 * bybit-api's WebSocket API has no timeout of its own (sim/reference/bybit-api-client.md §4.3), so both
 * transports race a timer. The rate-limit headers of each answer are passed on for the limiter.
 *
 * Batch amends and cancels (POST /v5/order/amend-batch and cancel-batch, or order.amend-batch and
 * order.cancel-batch on the WebSocket; docs/v5/order/batch-amend.mdx, batch-cancel.mdx) answer with an
 * envelope whose retCode is 0 even when items fail, and two lists aligned with the request: result.list[i]
 * (orderId, orderLinkId) and retExtInfo.list[i] ({code, msg}) (sim/reference/bybit-v5-rest.md §4.5,
 * bybit-v5-websocket.md §6.3). Each item gets its own outcome from them. A failure of the whole request (no
 * answer, HTTP 5xx or refusal, a non-zero top-level retCode) gives every item that outcome, and so does an
 * answer whose lists are missing or of the wrong length (unknown: the venue may have acted). Their quota is
 * counted per order, not per request (rate-limit.mdx "Instructions for batch endpoints"); the headers are
 * passed on as for single calls. An empty batch sends nothing (Bybit refuses an empty `request`).
 */
import { type RestClientV5, WS_KEY_MAP, type WebsocketAPIClient, WsConnectionStateEnum } from 'bybit-api';
import type {
  AmendParams,
  BatchEntryResult,
  CancelParams,
  CreateParams,
  EntryOutcome,
  EntryResult,
  LimitObservation,
  OrderEntry,
} from '../../ports/order-entry.js';

/** HTTP statuses that mean "refused before processing" rather than "unknown". */
const REFUSED_STATUSES: Readonly<Record<number, number>> = {
  // Per-IP ban and system protection: Bybit did not take the request; retry later.
  403: 10429,
  429: 10429,
};

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Envelope {
  readonly retCode?: unknown;
  readonly retMsg?: unknown;
  readonly retExtInfo?: unknown;
}

/** One round trip: the venue's answer (envelope, its result or data, its limit headers), or why there is none. */
type Exchanged =
  | { readonly answered: true; readonly envelope: Envelope; readonly body: unknown; readonly limits?: LimitObservation }
  | { readonly answered: false; readonly outcome: EntryOutcome };

/** A string field of an untyped answer, or '' (never an object's "[object Object]"). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function outcomeOfEnvelope(envelope: Envelope, body: unknown): EntryOutcome {
  if (envelope.retCode === 0) {
    const ack = isRecord(body) ? body : {};
    return { kind: 'accepted', orderId: text(ack.orderId), orderLinkId: text(ack.orderLinkId) };
  }
  if (typeof envelope.retCode === 'number') return { kind: 'rejected', retCode: envelope.retCode, retMsg: text(envelope.retMsg) };
  return { kind: 'unknown', reason: 'answer without a retCode' };
}

/** What bybit-api throws: `{ code: <HTTP status>, ... }` for HTTP errors, an Error for transport ones. */
function outcomeOfThrown(thrown: unknown): EntryOutcome {
  if (isRecord(thrown)) {
    const { code, retCode, retMsg, message } = thrown;
    // The WebSocket API rejects its promise with the venue's reply when retCode is not 0.
    if (typeof retCode === 'number') return { kind: 'rejected', retCode, retMsg: text(retMsg) };
    if (typeof code === 'number') {
      const refused = REFUSED_STATUSES[code];
      if (refused !== undefined) return { kind: 'rejected', retCode: refused, retMsg: `HTTP ${code}` };
      if (code >= 500) return { kind: 'unknown', reason: `HTTP ${code}` };
      return { kind: 'rejected', retCode: -code, retMsg: `HTTP ${code}` };
    }
    // Never include the thrown object itself: bybit-api's carries the request options, secret included.
    if (typeof message === 'string') return { kind: 'unknown', reason: message.slice(0, 200) };
  }
  return { kind: 'unknown', reason: 'transport error' };
}

/** The `list` array of a batch answer's result (or data) or retExtInfo; undefined when there is none. */
function listIn(value: unknown): readonly unknown[] | undefined {
  return isRecord(value) && Array.isArray(value.list) ? (value.list as unknown[]) : undefined;
}

/** One batch item: its code in retExtInfo.list[i], its ids in result.list[i]. */
function outcomeOfItem(row: unknown, status: unknown): EntryOutcome {
  if (!isRecord(status) || typeof status.code !== 'number') return { kind: 'unknown', reason: 'batch item without a code' };
  if (status.code !== 0) return { kind: 'rejected', retCode: status.code, retMsg: text(status.msg) };
  if (!isRecord(row)) return { kind: 'unknown', reason: 'accepted batch item without a result' };
  return { kind: 'accepted', orderId: text(row.orderId), orderLinkId: text(row.orderLinkId) };
}

function outcomesOfBatch(envelope: Envelope, body: unknown, count: number): EntryOutcome[] {
  const every = (outcome: EntryOutcome) => Array.from({ length: count }, () => outcome);
  // A top-level refusal (or no retCode at all) concerns the whole request.
  if (envelope.retCode !== 0) return every(outcomeOfEnvelope(envelope, undefined));
  const rows = listIn(body);
  const statuses = listIn(envelope.retExtInfo);
  if (rows?.length !== count || statuses?.length !== count) {
    return every({ kind: 'unknown', reason: `batch answer with ${rows?.length ?? 'no'} results and ${statuses?.length ?? 'no'} codes for ${count} orders` });
  }
  return rows.map((row, index) => outcomeOfItem(row, statuses[index]));
}

function entryResult(exchanged: Exchanged): EntryResult {
  if (!exchanged.answered) return { outcome: exchanged.outcome };
  return { outcome: outcomeOfEnvelope(exchanged.envelope, exchanged.body), ...(exchanged.limits && { limits: exchanged.limits }) };
}

function batchResult(exchanged: Exchanged, count: number): BatchEntryResult {
  if (!exchanged.answered) return { outcomes: Array.from({ length: count }, () => exchanged.outcome) };
  return { outcomes: outcomesOfBatch(exchanged.envelope, exchanged.body, count), ...(exchanged.limits && { limits: exchanged.limits }) };
}

/** Sends a batch, unless it is empty. */
async function sendBatch(count: number, exchange: () => Promise<Exchanged>): Promise<BatchEntryResult> {
  if (count === 0) return { outcomes: [] };
  return batchResult(await exchange(), count);
}

type RestResponse = Envelope & {
  readonly result?: unknown;
  readonly rateLimitApi?: { remainingRequests: number; maxRequests: number; resetAtTimestamp: number } | undefined;
};

type WsResponse = Envelope & { readonly data?: unknown; readonly header?: Record<string, unknown> | undefined };

/** The order-entry WebSocket's limit fields, all strings (sim/reference/bybit-v5-websocket.md §6.2). */
function limitsOfHeader(header: Record<string, unknown>): LimitObservation | undefined {
  const limit = Number(header['X-Bapi-Limit']);
  const remaining = Number(header['X-Bapi-Limit-Status']);
  const resetAt = Number(header['X-Bapi-Limit-Reset-Timestamp']);
  return Number.isFinite(limit) && Number.isFinite(remaining) && Number.isFinite(resetAt) ? { limit, remaining, resetAt } : undefined;
}

/** The five requests, as one transport's client makes them. */
interface Requests<R> {
  create(params: CreateParams): Promise<R>;
  amend(params: AmendParams): Promise<R>;
  cancel(params: CancelParams): Promise<R>;
  amendBatch(params: readonly AmendParams[]): Promise<R>;
  cancelBatch(params: readonly CancelParams[]): Promise<R>;
}

/** What both transports share: the timeout, the outcomes, the batch handling. A transport says how to send and how to read an answer. */
abstract class BybitOrderEntry<R> implements OrderEntry {
  abstract readonly transport: OrderEntry['transport'];
  protected abstract readonly requests: Requests<R>;

  constructor(private readonly timeoutMs: number) {}

  /** An answer's envelope, body and rate-limit observation. */
  protected abstract read(response: R): Exchanged;

  private async exchange(work: () => Promise<R>): Promise<Exchanged> {
    try {
      const response = await withTimeout(work(), this.timeoutMs);
      if (response === 'timeout') return { answered: false, outcome: { kind: 'unknown', reason: `no answer within ${this.timeoutMs} ms` } };
      return this.read(response);
    } catch (thrown) {
      return { answered: false, outcome: outcomeOfThrown(thrown) };
    }
  }

  async create(params: CreateParams): Promise<EntryResult> {
    return entryResult(await this.exchange(() => this.requests.create(params)));
  }

  async amend(params: AmendParams): Promise<EntryResult> {
    return entryResult(await this.exchange(() => this.requests.amend(params)));
  }

  async cancel(params: CancelParams): Promise<EntryResult> {
    return entryResult(await this.exchange(() => this.requests.cancel(params)));
  }

  amendBatch(params: readonly AmendParams[]): Promise<BatchEntryResult> {
    return sendBatch(params.length, () => this.exchange(() => this.requests.amendBatch(params)));
  }

  cancelBatch(params: readonly CancelParams[]): Promise<BatchEntryResult> {
    return sendBatch(params.length, () => this.exchange(() => this.requests.cancelBatch(params)));
  }
}

export class RestOrderEntry extends BybitOrderEntry<RestResponse> {
  readonly transport = 'rest';
  protected readonly requests: Requests<RestResponse>;

  constructor(client: RestClientV5, timeoutMs: number) {
    super(timeoutMs);
    this.requests = {
      create: (params) => client.submitOrder({ category: 'linear', orderType: 'Limit', timeInForce: 'PostOnly', ...params }),
      amend: (params) => client.amendOrder({ category: 'linear', ...params }),
      cancel: (params) => client.cancelOrder({ category: 'linear', ...params }),
      amendBatch: (params) => client.batchAmendOrders('linear', params.map((item) => ({ ...item }))),
      cancelBatch: (params) => client.batchCancelOrders('linear', params.map((item) => ({ ...item }))),
    };
  }

  protected read(response: RestResponse): Exchanged {
    const limits = response.rateLimitApi;
    return {
      answered: true,
      envelope: response,
      body: response.result,
      ...(limits && { limits: { limit: limits.maxRequests, remaining: limits.remainingRequests, resetAt: limits.resetAtTimestamp } }),
    };
  }
}

export class WebSocketOrderEntry extends BybitOrderEntry<WsResponse> {
  readonly transport = 'websocket';
  protected readonly requests: Requests<WsResponse>;

  constructor(
    private readonly client: WebsocketAPIClient,
    timeoutMs: number,
  ) {
    super(timeoutMs);
    this.requests = {
      create: (params) => client.submitNewOrder({ category: 'linear', orderType: 'Limit', timeInForce: 'PostOnly', ...params }),
      amend: (params) => client.amendOrder({ category: 'linear', ...params }),
      cancel: (params) => client.cancelOrder({ category: 'linear', ...params }),
      amendBatch: (params) => client.batchAmendOrder('linear', params.map((item) => ({ ...item }))),
      cancelBatch: (params) => client.batchCancelOrder('linear', params.map((item) => ({ ...item }))),
    };
  }

  /** Connected, or never connected yet (bybit-api connects on first use); not while reconnecting. */
  isAvailable(): boolean {
    const state = this.client.getWSClient().getWsStore().getConnectionState(WS_KEY_MAP.v5PrivateTrade);
    return state === WsConnectionStateEnum.CONNECTED || state === WsConnectionStateEnum.INITIAL;
  }

  protected read(response: WsResponse): Exchanged {
    const limits = limitsOfHeader(response.header ?? {});
    return { answered: true, envelope: response, body: response.data, ...(limits && { limits }) };
  }
}
