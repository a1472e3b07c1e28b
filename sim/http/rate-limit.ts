/**
 * Bybit's rate limits: a rolling one-second window per account (UID) and endpoint, reported in the
 * X-Bapi-Limit headers; batch endpoints count each order; and a per-IP ceiling of 600 requests in any
 * 5 seconds, past which the IP is refused with HTTP 403 for a while. Sources in sim/README.md.
 */

export interface WindowDecision {
  /** How many of the requested units fit (a batch may be admitted in part). */
  readonly admitted: number;
  readonly limit: number;
  /** Units left in the window after this request. */
  readonly remaining: number;
  /** When the window has room again if exhausted, otherwise now (ms). */
  readonly resetAt: number;
}

/** A rolling window of `limit` units per `windowMs`, keyed by anything. */
export class RollingWindow {
  private readonly used = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  take(key: string, units: number, now: number): WindowDecision {
    let stamps = this.used.get(key);
    if (!stamps) this.used.set(key, (stamps = []));
    const horizon = now - this.windowMs;
    let expired = 0;
    while (expired < stamps.length && (stamps[expired] ?? Number.POSITIVE_INFINITY) <= horizon) expired++;
    if (expired > 0) stamps.splice(0, expired);
    const admitted = Math.max(0, Math.min(units, this.limit - stamps.length));
    for (let index = 0; index < admitted; index++) stamps.push(now);
    const remaining = this.limit - stamps.length;
    const oldest = stamps[0];
    const resetAt = remaining === 0 && oldest !== undefined ? oldest + this.windowMs : now;
    return { admitted, limit: this.limit, remaining, resetAt };
  }
}

export interface IpDecision {
  readonly allowed: boolean;
  /** Set while the IP is refused. */
  readonly bannedUntil?: number;
}

/** Bybit: more than 600 requests within 5 s from one IP is refused with HTTP 403 and a ban. */
export class IpLimiter {
  private readonly window: RollingWindow;
  private readonly bans = new Map<string, number>();

  constructor(
    limit = 600,
    windowMs = 5_000,
    /** Bybit documents a ban of at least 10 minutes; tests may shorten it. */
    private readonly banMs = 10 * 60_000,
  ) {
    this.window = new RollingWindow(limit, windowMs);
  }

  /** IP bans imposed so far: a client that respects the limit never earns one. */
  bansImposed = 0;

  check(ip: string, now: number): IpDecision {
    const bannedUntil = this.bans.get(ip);
    if (bannedUntil !== undefined) {
      if (now < bannedUntil) return { allowed: false, bannedUntil };
      this.bans.delete(ip);
    }
    if (this.window.take(ip, 1, now).admitted === 1) return { allowed: true };
    const until = now + this.banMs;
    this.bans.set(ip, until);
    this.bansImposed += 1;
    return { allowed: false, bannedUntil: until };
  }
}

/**
 * Per-UID endpoint limits shared by the REST API and the order-entry WebSocket (Bybit counts an account's
 * quota per endpoint across both). Keyed by the REST path of the operation.
 */
export class UidLimits {
  private readonly windows = new Map<string, RollingWindow>();

  constructor(perSecondByPath: Iterable<readonly [string, number]>) {
    for (const [path, perSecond] of perSecondByPath) this.windows.set(path, new RollingWindow(perSecond, 1_000));
  }

  /** Requests refused (wholly or in part) because the account's own quota was spent, by path; a storm fault is not counted. */
  readonly refusals = new Map<string, number>();

  /** undefined when the path has no per-UID limit. */
  take(path: string, uid: number, units: number, now: number): WindowDecision | undefined {
    const decision = this.windows.get(path)?.take(String(uid), units, now);
    if (decision && decision.admitted < units) this.refusals.set(path, (this.refusals.get(path) ?? 0) + 1);
    return decision;
  }

  limitOf(path: string): number | undefined {
    return this.windows.get(path)?.limit;
  }
}
