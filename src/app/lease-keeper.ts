/**
 * Holds the shard's single-writer lease (src/core/lease.ts) for the engine process: waits as a standby
 * while another generation holds it, then renews it on a timer. The lease is lost when a renewal is
 * refused (someone else took it), or when renewals keep failing until the lease would expire: from then
 * on a standby may take it, so this generation must already have stopped trading. Either way `onLost`
 * is told once, before the expiry, and the keeper stops.
 */
import type { Lease } from '../core/lease.js';
import type { Logger } from '../ports/logger.js';

export interface LeaseStorePort {
  take(shard: string, owner: string, now: number, ttlMs: number): Promise<{ readonly ok: true; readonly lease: Lease } | { readonly ok: false; readonly heldBy: Lease | undefined }>;
  renew(lease: Lease, now: number, ttlMs: number): Promise<Lease | undefined>;
  release(lease: Lease, now: number): Promise<boolean>;
}

export interface LeaseKeeperOptions {
  readonly store: LeaseStorePort;
  readonly shard: string;
  readonly owner: string;
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly standbyRetryMs: number;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: Logger;
}

export class StandbyAbortedError extends Error {
  override readonly name = 'StandbyAbortedError';
}

export class LeaseKeeper {
  private lease: Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private released = false;
  private renewing = false;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /**
   * Why this generation may not trade at `now`: the lease is lost, or it runs out within one renewal
   * interval without having been renewed (a process that was paused must not trade on waking).
   */
  blocker(now: number): string | undefined {
    if (this.released) return 'lease released';
    if (this.lost) return 'lease lost';
    const lease = this.lease;
    if (!lease) return 'no lease';
    if (now >= lease.expiresAt - this.options.renewIntervalMs) return `lease not renewed; it expires at ${new Date(lease.expiresAt).toISOString()}`;
    return undefined;
  }

  /** The lease held, if any. */
  current(): Lease | undefined {
    return this.lost ? undefined : this.lease;
  }

  /**
   * Takes the lease, waiting as a standby while another generation holds it; `signal` ends the wait
   * (a stop requested before this process ever traded).
   */
  async acquire(signal?: AbortSignal): Promise<Lease> {
    const { store, shard, owner, ttlMs, clock, logger } = this.options;
    let announced: string | undefined;
    for (;;) {
      if (signal?.aborted) throw new StandbyAbortedError('stopped while waiting for the lease');
      try {
        const result = await store.take(shard, owner, clock(), ttlMs);
        if (result.ok) {
          this.lease = result.lease;
          logger.info('lease taken', { shard, owner, epoch: result.lease.epoch, expiresAt: new Date(result.lease.expiresAt).toISOString() });
          return result.lease;
        }
        const holder = result.heldBy ? `${result.heldBy.owner} (epoch ${result.heldBy.epoch})` : 'another engine';
        if (announced !== holder) {
          announced = holder;
          logger.warn('standby: the shard\'s lease is held; waiting for it to be released or to expire', {
            shard,
            heldBy: holder,
            expiresAt: result.heldBy ? new Date(result.heldBy.expiresAt).toISOString() : undefined,
          });
        }
      } catch (error) {
        logger.warn('taking the lease failed; trying again', { shard, error: error instanceof Error ? error.message : 'unknown error' });
      }
      await this.options.sleep(this.options.standbyRetryMs);
    }
  }

  /** Renews on a timer until the lease is lost or released; `onLost` is told once. */
  startRenewing(onLost: (detail: string) => void): void {
    const { renewIntervalMs, clock, logger, store, ttlMs } = this.options;
    const loseIt = (detail: string) => {
      if (this.lost) return;
      this.lost = true;
      this.stopTimer();
      logger.error('lease lost', { shard: this.options.shard, detail });
      onLost(detail);
    };
    this.timer = setInterval(() => {
      const lease = this.lease;
      if (!lease || this.lost || this.renewing) return;
      const now = clock();
      // Renewals kept failing: before the expiry (one interval of margin) this generation gives up, so it
      // has stopped trading by the time a standby may take over.
      if (now >= lease.expiresAt - renewIntervalMs) {
        loseIt(`not renewed since ${new Date(lease.expiresAt - ttlMs).toISOString()}; it expires at ${new Date(lease.expiresAt).toISOString()}`);
        return;
      }
      this.renewing = true;
      store
        .renew(lease, now, ttlMs)
        .then(
          (renewed) => {
            if (renewed) this.lease = renewed;
            else loseIt('the renewal was refused: another generation took the lease');
          },
          (error: unknown) => {
            logger.warn('renewing the lease failed; trying again', { error: error instanceof Error ? error.message : 'unknown error', expiresAt: new Date(lease.expiresAt).toISOString() });
          },
        )
        .finally(() => {
          this.renewing = false;
        });
    }, renewIntervalMs);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops renewing and hands the lease over at once (a graceful stop), so a standby need not wait for the expiry. */
  async release(): Promise<void> {
    this.stopTimer();
    const lease = this.lease;
    if (!lease || this.lost) return;
    this.lost = true;
    this.released = true;
    try {
      const released = await this.options.store.release(lease, this.options.clock());
      this.options.logger.info(released ? 'lease released' : 'lease already taken by another generation', { shard: lease.shard, epoch: lease.epoch });
    } catch (error) {
      this.options.logger.warn('releasing the lease failed; it expires on its own', { error: error instanceof Error ? error.message : 'unknown error' });
    }
  }
}
