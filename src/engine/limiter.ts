/**
 * Sending budget of one engine: Bybit's per-UID limit per endpoint (10/s for create, amend and cancel on
 * linear; learnt from the X-Bapi-Limit headers when they come back) and the per-IP limit of 600 requests
 * in 5 s, which every task behind the same NAT address shares (so each gets its part). A request that
 * does not fit waits instead of being sent to be refused: a refusal costs a round trip and, per IP, a ban.
 * Deterministic: the caller passes the time.
 */

export interface LimiterPolicy {
  /** Requests per second per endpoint before any header has been seen. */
  readonly defaultPerSecond: number;
  /** Bybit's per-IP budget (600 per 5 s) ... */
  readonly ipBudget: number;
  readonly ipWindowMs: number;
  /** ... shared by this many tasks behind one address. */
  readonly tasksSharingIp: number;
  /**
   * Share of every limit left unused, in percent. The venue counts a request when it arrives, not when it
   * was sent: a request held up (a reconnecting socket, a slow path) can land together with later ones.
   */
  readonly headroomPercent?: number;
  /**
   * Added to every window, in ms. Requests sent a window apart can arrive less than a window apart (one
   * burst delayed a few ms more than the next), and the venue counts arrivals: a measured case put 11
   * requests in the venue's second from two bursts of 8 sent 1,002 ms apart.
   */
  readonly windowMarginMs?: number;
}

interface EndpointState {
  limit: number;
  sent: number[];
  /** The venue said the window is exhausted until then. */
  blockedUntil: number;
}

export class RequestLimiter {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly ipSent: number[] = [];

  constructor(private readonly policy: LimiterPolicy) {}

  private endpoint(name: string): EndpointState {
    let state = this.endpoints.get(name);
    if (!state) this.endpoints.set(name, (state = { limit: this.policy.defaultPerSecond, sent: [], blockedUntil: 0 }));
    return state;
  }

  private get ipShare(): number {
    return this.usable(Math.max(1, Math.floor(this.policy.ipBudget / this.policy.tasksSharingIp)));
  }

  private usable(limit: number): number {
    return Math.max(1, Math.floor((limit * (100 - (this.policy.headroomPercent ?? 0))) / 100));
  }

  /** ms to wait before `units` requests (a batch counts its orders) may go to `endpoint`; 0 means now. */
  waitMs(endpoint: string, units: number, now: number): number {
    const state = this.endpoint(endpoint);
    const margin = this.policy.windowMarginMs ?? 0;
    const second = 1_000 + margin;
    const ipWindow = this.policy.ipWindowMs + margin;
    prune(state.sent, now - second);
    prune(this.ipSent, now - ipWindow);
    let wait = Math.max(0, state.blockedUntil - now);
    const limit = this.usable(state.limit);
    // A request bigger than the whole quota waits for an empty window, not for ever.
    const needed = Math.min(units, limit);
    if (state.sent.length + needed > limit) {
      const freeing = state.sent[state.sent.length + needed - limit - 1];
      wait = Math.max(wait, freeing === undefined ? second : freeing + second - now);
    }
    if (this.ipSent.length + 1 > this.ipShare) {
      const oldest = this.ipSent[this.ipSent.length - this.ipShare];
      wait = Math.max(wait, oldest === undefined ? ipWindow : oldest + ipWindow - now);
    }
    return wait;
  }

  /** The most units one request to `endpoint` may carry and ever be admitted: its usable limit. */
  capacity(endpoint: string): number {
    return this.usable(this.endpoint(endpoint).limit);
  }

  /** Records a request sent now. */
  record(endpoint: string, units: number, now: number): void {
    const state = this.endpoint(endpoint);
    for (let index = 0; index < units; index++) state.sent.push(now);
    this.ipSent.push(now);
  }

  /** What the venue said in its X-Bapi-Limit headers: the real limit, and a block when exhausted. */
  observeHeaders(endpoint: string, limit: number, remaining: number, resetAt: number, now: number): void {
    const state = this.endpoint(endpoint);
    if (limit > 0) state.limit = limit;
    if (remaining <= 0 && resetAt > now) state.blockedUntil = resetAt;
  }
}

/** Drops timestamps at or before `horizon` from the front of an ascending list. */
function prune(stamps: number[], horizon: number): void {
  let expired = 0;
  while (expired < stamps.length && (stamps[expired] ?? Number.POSITIVE_INFINITY) <= horizon) expired++;
  if (expired > 0) stamps.splice(0, expired);
}
