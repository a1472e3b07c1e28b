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
 */
import type { RestClientV5, WebsocketAPIClient } from 'bybit-api';
import type { AmendParams, CancelParams, CreateParams, EntryOutcome, EntryResult, OrderEntry } from '../../ports/order-entry.js';

export type { AmendParams, CancelParams, CreateParams, EntryOutcome, EntryResult, LimitObservation, OrderEntry } from '../../ports/order-entry.js';

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
  readonly result?: unknown;
  readonly data?: unknown;
}

/** A string field of an untyped answer, or '' (never an object's "[object Object]"). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function outcomeOfEnvelope(envelope: Envelope, body: unknown): EntryOutcome {
  if (envelope.retCode === 0) {
    const ack = (body ?? {}) as { orderId?: unknown; orderLinkId?: unknown };
    return { kind: 'accepted', orderId: text(ack.orderId), orderLinkId: text(ack.orderLinkId) };
  }
  if (typeof envelope.retCode === 'number') return { kind: 'rejected', retCode: envelope.retCode, retMsg: text(envelope.retMsg) };
  return { kind: 'unknown', reason: 'answer without a retCode' };
}

/** What bybit-api throws: `{ code: <HTTP status>, ... }` for HTTP errors, an Error for transport ones. */
function outcomeOfThrown(thrown: unknown): EntryOutcome {
  if (typeof thrown === 'object' && thrown !== null) {
    const { code, retCode, retMsg, message } = thrown as { code?: unknown; retCode?: unknown; retMsg?: unknown; message?: unknown };
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

export class RestOrderEntry implements OrderEntry {
  readonly transport = 'rest';

  constructor(
    private readonly client: RestClientV5,
    private readonly timeoutMs: number,
  ) {}

  private async call(work: () => Promise<Envelope & { rateLimitApi?: { remainingRequests: number; maxRequests: number; resetAtTimestamp: number } | undefined }>): Promise<EntryResult> {
    try {
      const response = await withTimeout(work(), this.timeoutMs);
      if (response === 'timeout') return { outcome: { kind: 'unknown', reason: `no answer within ${this.timeoutMs} ms` } };
      const limits = response.rateLimitApi;
      return {
        outcome: outcomeOfEnvelope(response, response.result),
        ...(limits && { limits: { limit: limits.maxRequests, remaining: limits.remainingRequests, resetAt: limits.resetAtTimestamp } }),
      };
    } catch (thrown) {
      return { outcome: outcomeOfThrown(thrown) };
    }
  }

  create(params: CreateParams): Promise<EntryResult> {
    return this.call(() => this.client.submitOrder({ category: 'linear', orderType: 'Limit', timeInForce: 'PostOnly', ...params }));
  }

  amend(params: AmendParams): Promise<EntryResult> {
    return this.call(() => this.client.amendOrder({ category: 'linear', ...params }));
  }

  cancel(params: CancelParams): Promise<EntryResult> {
    return this.call(() => this.client.cancelOrder({ category: 'linear', ...params }));
  }
}

export class WebSocketOrderEntry implements OrderEntry {
  readonly transport = 'websocket';

  constructor(
    private readonly client: WebsocketAPIClient,
    private readonly timeoutMs: number,
  ) {}

  private async call(work: () => Promise<Envelope & { header?: Record<string, unknown> | undefined }>): Promise<EntryResult> {
    try {
      const response = await withTimeout(work(), this.timeoutMs);
      if (response === 'timeout') return { outcome: { kind: 'unknown', reason: `no answer within ${this.timeoutMs} ms` } };
      const header = response.header ?? {};
      const limit = Number(header['X-Bapi-Limit']);
      const remaining = Number(header['X-Bapi-Limit-Status']);
      const resetAt = Number(header['X-Bapi-Limit-Reset-Timestamp']);
      const limits = Number.isFinite(limit) && Number.isFinite(remaining) && Number.isFinite(resetAt) ? { limits: { limit, remaining, resetAt } } : {};
      return { outcome: outcomeOfEnvelope(response, response.data), ...limits };
    } catch (thrown) {
      return { outcome: outcomeOfThrown(thrown) };
    }
  }

  create(params: CreateParams): Promise<EntryResult> {
    return this.call(() => this.client.submitNewOrder({ category: 'linear', orderType: 'Limit', timeInForce: 'PostOnly', ...params }));
  }

  amend(params: AmendParams): Promise<EntryResult> {
    return this.call(() => this.client.amendOrder({ category: 'linear', ...params }));
  }

  cancel(params: CancelParams): Promise<EntryResult> {
    return this.call(() => this.client.cancelOrder({ category: 'linear', ...params }));
  }
}
