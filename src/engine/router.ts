/**
 * The order router: sends creates, amends and cancels so that an order is never created twice and no
 * outcome is invented.
 *
 *   accepted        the venue acknowledged the request.
 *   rejected        the venue refused it for good (after retries, if the error was "not now").
 *   resolved        the answer was lost, and a status query by orderLinkId established the order's state
 *                   (or that it does not exist, for an amend or cancel).
 *   unresolved      the answer was lost and the state could not be established: the caller stops quoting
 *                   the symbol and keeps querying.
 *   blocked         the circuit breaker is open: nothing was sent.
 *
 * Retries reuse the same orderLinkId, which Bybit keeps unique: a create that did land after all makes the
 * retry fail with 110072, which is again settled by a query. Before every request the limiter is asked how
 * long to wait, so the engine queues rather than being refused. The primary transport is the order-entry
 * WebSocket; after a lost answer the next attempt goes over REST.
 */
import { type VenueOrderReport, isTerminalStatus } from '../core/order.js';
import type { AmendParams, CancelParams, CreateParams, EntryResult, OrderEntry } from '../ports/order-entry.js';
import type { CircuitBreaker } from './breaker.js';
import type { RequestLimiter } from './limiter.js';
import { type BackoffPolicy, backoffDelayMs, classifyRetCode } from './retry.js';

export type RouterResult =
  | { readonly kind: 'accepted'; readonly orderId: string }
  | { readonly kind: 'rejected'; readonly retCode: number; readonly retMsg: string }
  | { readonly kind: 'resolved'; readonly report: VenueOrderReport | undefined }
  | { readonly kind: 'unresolved'; readonly reason: string }
  | { readonly kind: 'blocked'; readonly reason: string };

/** A status query by orderLinkId: the venue's report, undefined when the venue has no such order. */
export type StatusQuery = (symbol: string, orderLinkId: string) => Promise<VenueOrderReport | undefined>;

export interface RouterDeps {
  readonly primary: OrderEntry;
  readonly fallback: OrderEntry;
  readonly query: StatusQuery;
  readonly limiter: RequestLimiter;
  readonly breaker: CircuitBreaker;
  readonly backoff: BackoffPolicy;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  /** Called on an authentication error (the key may have been rotated) before the retry. */
  readonly refreshCredentials: () => Promise<void>;
  /** How many times to ask the venue about a lost answer before giving up for now. */
  readonly statusQueryAttempts: number;
}

type Operation = 'create' | 'amend' | 'cancel';

/** Bybit: the orderLinkId already exists, i.e. an earlier attempt landed. */
const DUPLICATE_ORDER_LINK_ID = 110072;

export class OrderRouter {
  constructor(private readonly deps: RouterDeps) {}

  create(params: CreateParams): Promise<RouterResult> {
    return this.send('create', params.symbol, params.orderLinkId, (entry) => entry.create(params));
  }

  amend(params: AmendParams): Promise<RouterResult> {
    return this.send('amend', params.symbol, params.orderLinkId, (entry) => entry.amend(params));
  }

  cancel(params: CancelParams): Promise<RouterResult> {
    return this.send('cancel', params.symbol, params.orderLinkId, (entry) => entry.cancel(params));
  }

  private async send(operation: Operation, symbol: string, orderLinkId: string, request: (entry: OrderEntry) => Promise<EntryResult>): Promise<RouterResult> {
    const { deps } = this;
    let entry = deps.primary;
    for (let attempt = 1; ; attempt++) {
      if (!deps.breaker.allow(deps.clock())) return { kind: 'blocked', reason: 'the circuit breaker is open' };
      const wait = deps.limiter.waitMs(operation, 1, deps.clock());
      if (wait > 0) await deps.sleep(wait);
      deps.limiter.record(operation, 1, deps.clock());
      const { outcome, limits } = await request(entry);
      if (limits) deps.limiter.observeHeaders(operation, limits.limit, limits.remaining, limits.resetAt, deps.clock());
      const retriesLeft = attempt <= deps.backoff.maxRetries;

      if (outcome.kind === 'accepted') {
        deps.breaker.recordSuccess();
        return { kind: 'accepted', orderId: outcome.orderId };
      }

      if (outcome.kind === 'rejected') {
        // A retried create that finds its own orderLinkId: the earlier attempt landed.
        if (operation === 'create' && outcome.retCode === DUPLICATE_ORDER_LINK_ID && attempt > 1) return this.resolve(symbol, orderLinkId);
        const errorClass = classifyRetCode(outcome.retCode);
        if (errorClass === 'final') {
          // The venue answered: the path works, the request was wrong.
          deps.breaker.recordSuccess();
          return { kind: 'rejected', retCode: outcome.retCode, retMsg: outcome.retMsg };
        }
        if (errorClass === 'auth') await deps.refreshCredentials();
        else deps.breaker.recordFailure(deps.clock());
        if (!retriesLeft) return { kind: 'rejected', retCode: outcome.retCode, retMsg: outcome.retMsg };
        await deps.sleep(backoffDelayMs(deps.backoff, attempt, deps.random));
        continue;
      }

      // Unknown: never retry blind. Ask the venue what happened to this orderLinkId.
      deps.breaker.recordFailure(deps.clock());
      const resolved = await this.resolve(symbol, orderLinkId);
      if (resolved.kind !== 'resolved') return resolved;
      // Send again only where the venue's state says the request has not taken effect: a create that
      // did not land, a cancel whose order is still open. An amend is the strategy's to redo.
      const report = resolved.report;
      const again = operation === 'create' ? report === undefined : operation === 'cancel' && report !== undefined && !isTerminalStatus(report.status);
      if (!again || !retriesLeft) return resolved;
      entry = deps.fallback;
      await deps.sleep(backoffDelayMs(deps.backoff, attempt, deps.random));
    }
  }

  /** Queries the order until the venue answers, a bounded number of times. */
  private async resolve(symbol: string, orderLinkId: string): Promise<RouterResult> {
    const { deps } = this;
    let lastError = 'no answer';
    for (let attempt = 1; attempt <= deps.statusQueryAttempts; attempt++) {
      try {
        return { kind: 'resolved', report: await deps.query(symbol, orderLinkId) };
      } catch (error) {
        lastError = error instanceof Error ? error.message.slice(0, 200) : 'query failed';
        await deps.sleep(backoffDelayMs(deps.backoff, attempt, deps.random));
      }
    }
    return { kind: 'unresolved', reason: `status of ${orderLinkId} unknown after ${deps.statusQueryAttempts} queries: ${lastError}` };
  }
}
