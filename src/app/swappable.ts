/**
 * Two small parts of the trading-key swap (key-swap.ts), apart so that each is tested alone:
 *   - Swappable: a stand-in for a bybit-api client that forwards every call to the client in place at the
 *     moment of the call. The adapters built on it (order entry, status queries, the venue account, the
 *     private stream's backfill) follow a swap without being rebuilt, since bybit-api clients copy their key
 *     at construction and cannot be given another. It counts the calls in flight on each client, so that an
 *     old one is closed only once its requests have settled.
 *   - LatestOnly: runs a job one at a time, with the latest value asked for; values asked for while a run
 *     waits to start are coalesced into that run.
 */

export class Swappable<T extends object> {
  private current: T;
  private readonly inFlight = new Map<T, Set<Promise<unknown>>>();
  /** Forwards to the client in place; use it wherever the client would be passed. */
  readonly proxy: T;

  constructor(initial: T) {
    this.current = initial;
    // The target is empty: every property is read from the client in place, never from a copy.
    this.proxy = new Proxy({} as T, {
      get: (_target, property) => this.forward(property),
    });
  }

  /** The client in place. */
  get(): T {
    return this.current;
  }

  /** Puts `next` in place: calls from now on go to it. Returns the client it replaced. */
  swap(next: T): T {
    const previous = this.current;
    this.current = next;
    return previous;
  }

  /** Resolves true once the calls in flight on `client` have settled, or false after `timeoutMs`. */
  async drained(client: T, timeoutMs: number): Promise<boolean> {
    const calls = [...(this.inFlight.get(client) ?? [])];
    if (calls.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs);
    });
    try {
      return await Promise.race([Promise.allSettled(calls).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private forward(property: string | symbol): unknown {
    const client = this.current;
    const value: unknown = Reflect.get(client, property, client);
    if (typeof value !== 'function') return value;
    // Bound to the client read now: a call that started before a swap ends on the client it started on.
    return (...args: unknown[]): unknown => {
      const result: unknown = Reflect.apply(value, client, args);
      if (result instanceof Promise) this.track(client, result);
      return result;
    };
  }

  private track(client: T, call: Promise<unknown>): void {
    let calls = this.inFlight.get(client);
    if (!calls) this.inFlight.set(client, (calls = new Set()));
    calls.add(call);
    const settled = (): void => {
      calls.delete(call);
      if (calls.size === 0 && this.inFlight.get(client) === calls) this.inFlight.delete(client);
    };
    // The caller handles the call's rejection; this only watches it.
    void call.then(settled, settled);
  }
}

export class LatestOnly<T> {
  /** The last run scheduled, settled either way: the next one starts after it. */
  private last: Promise<void> = Promise.resolve();
  /** The run that has not started yet, with the value it will take. */
  private queued: { value: T; readonly done: Promise<void> } | undefined;

  constructor(private readonly job: (value: T) => Promise<void>) {}

  /**
   * Runs the job with `value` once the run under way (if any) has finished. A value given before that run
   * starts replaces the earlier one, and both callers share the run. Settles as that run does.
   */
  submit(value: T): Promise<void> {
    if (this.queued) {
      this.queued.value = value;
      return this.queued.done;
    }
    const done: Promise<void> = this.last.then((): Promise<void> => {
      const wanted: T = queued.value;
      // From here on a new value waits for this run rather than joining it.
      this.queued = undefined;
      return this.job(wanted);
    });
    const queued: { value: T; readonly done: Promise<void> } = { value, done };
    this.queued = queued;
    this.last = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** Resolves once every run scheduled so far has finished. */
  idle(): Promise<void> {
    return this.last;
  }
}
