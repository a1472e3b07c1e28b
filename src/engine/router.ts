/**
 * The order router: sends creates, amends and cancels, one at a time or amends and cancels in batches, so
 * that an order is never created twice and no outcome is invented.
 *
 *   accepted        the venue acknowledged the request.
 *   rejected        the venue refused it for good (after retries, if the error was "not now").
 *   resolved        the answer was lost, and a status query by orderLinkId established the order's state
 *                   (or that it does not exist, for an amend or cancel).
 *   unresolved      the answer was lost and the state could not be established: the caller stops quoting
 *                   the symbol and keeps querying.
 *   blocked         nothing was sent: the circuit breaker is open, or (a create or an amend) the quote gate
 *                   refused it, such as a generation whose lease is lost or about to run out.
 *
 * Retries reuse the same orderLinkId, which Bybit keeps unique: a create that did land after all makes the
 * retry fail with 110072, which is again settled by a query. Before every request the limiter is asked how
 * long to wait, so the engine queues rather than being refused. The primary transport is the order-entry
 * WebSocket; after a lost answer the next attempt goes over REST.
 *
 * A batch is split into requests of at most BYBIT_LINEAR_MAX_BATCH_ORDERS items, and each item gets the
 * outcome a single request would have given it: the items refused with "not now" (and those whose cancel is
 * found still open after a lost answer) are sent again together, as a smaller batch, after one backoff; the
 * others are settled. A batch request counts its items against the batch endpoint's own quota (Bybit: batch
 * endpoints count orders and do not share the single endpoints' limit), and the breaker, consulted before
 * each request, records one success or failure per request: a failure when any item failed.
 */
import { type VenueOrderReport, isTerminalStatus } from '../core/order.js';
import type { AmendParams, BatchEntryResult, CancelParams, CreateParams, EntryOutcome, EntryResult, OrderEntry } from '../ports/order-entry.js';
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
  /**
   * Why a create or an amend may not leave now, if so (the shard's lease is lost or about to run out).
   * Asked just before each request, after every wait: a request can wait (rate limit, backoff) long
   * enough for the answer to change, and a process paused meanwhile must not send on waking. Cancels
   * are never held back: they are what a generation losing its lease still owes.
   */
  readonly quoteGate?: (now: number) => string | undefined;
}

/**
 * Bybit: at most 20 orders per batch amend or cancel request for linear (docs/v5/order/batch-amend.mdx,
 * batch-cancel.mdx; 10 before 2025-02-20, see sim/reference/bybit-v5-rest.md §2.3 and §4.5).
 */
export const BYBIT_LINEAR_MAX_BATCH_ORDERS = 20;

type Operation = 'create' | 'amend' | 'cancel';

/** Bybit: the orderLinkId already exists, i.e. an earlier attempt landed. */
const DUPLICATE_ORDER_LINK_ID = 110072;

const BREAKER_OPEN = 'the circuit breaker is open';

interface OrderRef {
  readonly symbol: string;
  readonly orderLinkId: string;
}

/** Sends items (one, or a batch) over an entry: one outcome per item, in order. */
type Send<P> = (entry: OrderEntry, items: readonly P[]) => Promise<BatchEntryResult>;

/** An item still to be sent, with the entry its next attempt goes over. */
interface Pending<P> {
  readonly index: number;
  readonly params: P;
  readonly entry: OrderEntry;
  /**
   * Its result should it not be sent again (breaker open, gate shut): what an earlier attempt established,
   * such as a status query that did not find the create (it may yet land), instead of "nothing was sent".
   */
  readonly ifNotSent?: RouterResult;
}

const notSent = (item: Pending<unknown>, reason: string): RouterResult => item.ifNotSent ?? { kind: 'blocked', reason };

/** The items in order, grouped by the entry they go over (one request per entry). */
function byEntry<P>(items: readonly Pending<P>[]): Pending<P>[][] {
  const groups = new Map<OrderEntry, Pending<P>[]>();
  for (const item of items) {
    const group = groups.get(item.entry);
    if (group) group.push(item);
    else groups.set(item.entry, [item]);
  }
  return [...groups.values()];
}

function asBatch({ outcome, limits }: EntryResult): BatchEntryResult {
  return { outcomes: [outcome], ...(limits && { limits }) };
}

/** What the router did since the figures were last taken (metrics). */
export interface RouterFigures {
  /** Items sent again after a failure. */
  readonly retries: number;
  /** How long each venue request took, ms (at most MAX_REQUEST_SAMPLES per interval). */
  readonly requestMs: readonly number[];
}

const MAX_REQUEST_SAMPLES = 10_000;

export class OrderRouter {
  private figures: { retries: number; requestMs: number[] } = { retries: 0, requestMs: [] };

  constructor(private readonly deps: RouterDeps) {}

  /** The figures since the last call, and a fresh start. */
  takeFigures(): RouterFigures {
    const figures = this.figures;
    this.figures = { retries: 0, requestMs: [] };
    return figures;
  }

  create(params: CreateParams): Promise<RouterResult> {
    return this.sendOne('create', params, async (entry) => asBatch(await entry.create(params)));
  }

  amend(params: AmendParams): Promise<RouterResult> {
    return this.sendOne('amend', params, async (entry) => asBatch(await entry.amend(params)));
  }

  cancel(params: CancelParams): Promise<RouterResult> {
    return this.sendOne('cancel', params, async (entry) => asBatch(await entry.cancel(params)));
  }

  /** Amends many orders: one result per item, in order. */
  amendBatch(params: readonly AmendParams[]): Promise<RouterResult[]> {
    return this.sendBatch('amend', params, (entry, items) => entry.amendBatch(items));
  }

  /** Cancels many orders: one result per item, in order. */
  cancelBatch(params: readonly CancelParams[]): Promise<RouterResult[]> {
    return this.sendBatch('cancel', params, (entry, items) => entry.cancelBatch(items));
  }

  private async sendOne<P extends OrderRef>(operation: Operation, params: P, send: Send<P>): Promise<RouterResult> {
    const [result] = await this.send(operation, operation, [params], send);
    if (!result) throw new Error('order router: no result for a single request');
    return result;
  }

  private async sendBatch<P extends OrderRef>(operation: 'amend' | 'cancel', params: readonly P[], send: Send<P>): Promise<RouterResult[]> {
    // Bybit's batch endpoints have their own quota, counted in orders (rate-limit.mdx, "Instructions for batch
    // endpoints"): the limiter keeps them apart from the single endpoints, as 'amend-batch' and 'cancel-batch'.
    // A request never carries more orders than the quota admits in one window, or it could never be sent
    // whole (the venue would refuse the rest).
    const endpoint = `${operation}-batch`;
    const size = Math.max(1, Math.min(BYBIT_LINEAR_MAX_BATCH_ORDERS, this.deps.limiter.capacity(endpoint)));
    const results: RouterResult[] = [];
    for (let start = 0; start < params.length; start += size) {
      results.push(...(await this.send(operation, endpoint, params.slice(start, start + size), send)));
    }
    return results;
  }

  /**
   * Sends the items (at most one batch) until each is settled. Round `attempt` sends every item still
   * pending, one request per entry; the items to try again wait one backoff and go in the next round.
   */
  private async send<P extends OrderRef>(operation: Operation, endpoint: string, params: readonly P[], send: Send<P>): Promise<RouterResult[]> {
    const { deps } = this;
    const results: (RouterResult | undefined)[] = params.map(() => undefined);
    let pending: Pending<P>[] = params.map((item, index) => ({ index, params: item, entry: deps.primary }));
    for (let attempt = 1; pending.length > 0; attempt++) {
      const again: Pending<P>[] = [];
      for (const group of byEntry(pending)) {
        if (!deps.breaker.allow(deps.clock())) {
          for (const item of group) results[item.index] = notSent(item, BREAKER_OPEN);
          continue;
        }
        again.push(...(await this.request(operation, endpoint, group, send, attempt, results)));
      }
      this.figures.retries += again.length;
      pending = again.sort((a, b) => a.index - b.index);
      if (pending.length > 0) await deps.sleep(backoffDelayMs(deps.backoff, attempt, deps.random));
    }
    return results.map((result) => {
      if (!result) throw new Error('order router: an item was left without a result');
      return result;
    });
  }

  /** One request for `group` (all on the same entry): settles what it can in `results`, returns what to send again. */
  private async request<P extends OrderRef>(
    operation: Operation,
    endpoint: string,
    group: readonly Pending<P>[],
    send: Send<P>,
    attempt: number,
    results: (RouterResult | undefined)[],
  ): Promise<Pending<P>[]> {
    const { deps } = this;
    const chosen = group[0]?.entry ?? deps.primary;
    const entry = chosen.isAvailable?.() === false ? deps.fallback : chosen;
    // Asked again after every wait: other requests may have taken the room meanwhile. Recorded at once
    // after a zero wait, with no await between, so nothing else can slip in.
    for (let wait = deps.limiter.waitMs(endpoint, group.length, deps.clock()); wait > 0; wait = deps.limiter.waitMs(endpoint, group.length, deps.clock())) await deps.sleep(wait);
    const shut = operation === 'cancel' ? undefined : deps.quoteGate?.(deps.clock());
    if (shut !== undefined) {
      for (const item of group) results[item.index] = notSent(item, shut);
      return [];
    }
    deps.limiter.record(endpoint, group.length, deps.clock());
    const sentAt = deps.clock();
    const { outcomes, limits } = await send(entry, group.map((item) => item.params));
    if (this.figures.requestMs.length < MAX_REQUEST_SAMPLES) this.figures.requestMs.push(deps.clock() - sentAt);
    if (limits) deps.limiter.observeHeaders(endpoint, limits.limit, limits.remaining, limits.resetAt, deps.clock());
    const retriesLeft = attempt <= deps.backoff.maxRetries;

    const again: Pending<P>[] = [];
    /** Items whose fate only a status query can tell; `resend` when a lost answer may be sent again. */
    const toQuery: { readonly item: Pending<P>; readonly resend: boolean }[] = [];
    let answered = false;
    let failed = false;
    let authError = false;
    for (const [position, item] of group.entries()) {
      const outcome: EntryOutcome = outcomes[position] ?? { kind: 'unknown', reason: 'no outcome for this item' };
      if (outcome.kind === 'accepted') {
        answered = true;
        results[item.index] = { kind: 'accepted', orderId: outcome.orderId };
        continue;
      }
      if (outcome.kind === 'unknown') {
        // Never retry blind: ask the venue what happened to this orderLinkId.
        failed = true;
        toQuery.push({ item, resend: true });
        continue;
      }
      // A retried create that finds its own orderLinkId: the earlier attempt landed.
      if (operation === 'create' && outcome.retCode === DUPLICATE_ORDER_LINK_ID && attempt > 1) {
        toQuery.push({ item, resend: false });
        continue;
      }
      const rejected: RouterResult = { kind: 'rejected', retCode: outcome.retCode, retMsg: outcome.retMsg };
      const errorClass = classifyRetCode(outcome.retCode);
      if (errorClass === 'final') {
        // The venue answered: the path works, the request was wrong.
        answered = true;
        results[item.index] = rejected;
        continue;
      }
      if (errorClass === 'auth') authError = true;
      else failed = true;
      if (retriesLeft) again.push(item);
      else results[item.index] = rejected;
    }

    if (failed) deps.breaker.recordFailure(deps.clock());
    else if (answered) deps.breaker.recordSuccess();
    if (authError) await deps.refreshCredentials();

    const settled = await Promise.all(toQuery.map(({ item }) => this.resolve(item.params.symbol, item.params.orderLinkId)));
    for (const [position, { item, resend }] of toQuery.entries()) {
      const resolved = settled[position] ?? { kind: 'unresolved', reason: `status of ${item.params.orderLinkId} not queried` };
      // Send again only where the venue's state says the request has not taken effect: a create that
      // did not land, a cancel whose order is still open. An amend is the strategy's to redo.
      const report = resolved.kind === 'resolved' ? resolved.report : undefined;
      const sendAgain =
        resend &&
        resolved.kind === 'resolved' &&
        (operation === 'create' ? report === undefined : operation === 'cancel' && report !== undefined && !isTerminalStatus(report.status));
      if (sendAgain && retriesLeft) again.push({ ...item, entry: deps.fallback, ifNotSent: resolved });
      else results[item.index] = resolved;
    }
    return again;
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
