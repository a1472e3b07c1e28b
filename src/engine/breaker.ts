/**
 * Circuit breaker for the order path. After `failureThreshold` consecutive failures it opens: the engine
 * stops quoting and cancels everything over REST. After `cooldownMs` it lets one probe through
 * (half-open); a success closes it, a failure opens it again for another cooldown. Deterministic: the
 * caller passes the time.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerPolicy {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(private readonly policy: BreakerPolicy) {}

  state(now: number): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return now - this.openedAt >= this.policy.cooldownMs ? 'half-open' : 'open';
  }

  /** May a request go out now? In half-open, only one probe at a time. */
  allow(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  /** Returns true when this failure opened (or re-opened) the breaker. */
  recordFailure(now: number): boolean {
    this.failures += 1;
    const wasProbing = this.probing;
    this.probing = false;
    if (wasProbing || (this.openedAt === undefined && this.failures >= this.policy.failureThreshold)) {
      this.openedAt = now;
      return true;
    }
    return false;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
