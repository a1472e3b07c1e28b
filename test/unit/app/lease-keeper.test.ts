/**
 * The lease keeper (src/app/lease-keeper.ts) on a scripted store and fake timers: a standby waits and
 * takes over, renewals keep it, a refused renewal or renewals failing until the expiry lose it (told
 * once, before the expiry), a paused process is blocked on waking, and a release hands it over.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { type LeaseStorePort, LeaseKeeper, StandbyAbortedError } from '../../../src/app/lease-keeper.js';
import type { Lease } from '../../../src/core/lease.js';
import type { Logger } from '../../../src/ports/logger.js';

const TTL = 3_000;
const RENEW = 1_000;

class ScriptedStore implements LeaseStorePort {
  heldBy: Lease | undefined = { shard: 's', owner: 'other', epoch: 5, expiresAt: 2_000 };
  renewals: 'ok' | 'refused' | 'fail' = 'ok';
  takes = 0;
  released: Lease[] = [];
  take(shard: string, owner: string, now: number, ttlMs: number) {
    this.takes += 1;
    if (this.heldBy && this.heldBy.expiresAt > now) return Promise.resolve({ ok: false as const, heldBy: this.heldBy });
    const lease = { shard, owner, epoch: (this.heldBy?.epoch ?? 0) + 1, expiresAt: now + ttlMs };
    this.heldBy = lease;
    return Promise.resolve({ ok: true as const, lease });
  }
  renew(lease: Lease, now: number, ttlMs: number) {
    if (this.renewals === 'fail') return Promise.reject(new Error('throttled'));
    if (this.renewals === 'refused') return Promise.resolve(undefined);
    return Promise.resolve({ ...lease, expiresAt: now + ttlMs });
  }
  release(lease: Lease) {
    this.released.push(lease);
    return Promise.resolve(true);
  }
}

const lines: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: (message) => lines.push(message),
  warn: (message) => lines.push(message),
  error: (message) => lines.push(message),
};

function keeper(store: LeaseStorePort): LeaseKeeper {
  return new LeaseKeeper({ store, shard: 's', owner: 'me', ttlMs: TTL, renewIntervalMs: RENEW, standbyRetryMs: 500, clock: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), logger });
}

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
  lines.length = 0;
});
afterEach(() => {
  jest.useRealTimers();
});

describe('LeaseKeeper', () => {
  it('waits as a standby while the lease is held, then takes it with the next epoch', async () => {
    const store = new ScriptedStore();
    const taking = keeper(store).acquire();
    await jest.advanceTimersByTimeAsync(2_500);
    const lease = await taking;
    expect(lease).toMatchObject({ owner: 'me', epoch: 6 });
    expect(store.takes).toBeGreaterThan(2);
    // The standby said so once, not on every try.
    expect(lines.filter((line) => line.startsWith('standby'))).toHaveLength(1);
  });

  it('a stop during the wait ends it', async () => {
    const abort = new AbortController();
    const taking = keeper(new ScriptedStore()).acquire(abort.signal);
    const failed = expect(taking).rejects.toThrow(StandbyAbortedError);
    abort.abort();
    await jest.advanceTimersByTimeAsync(600);
    await failed;
  });

  it('keeps the lease while renewals succeed, and loses it once when one is refused', async () => {
    const store = new ScriptedStore();
    store.heldBy = undefined;
    const k = keeper(store);
    await k.acquire();
    const lost: string[] = [];
    k.startRenewing((detail) => lost.push(detail));
    await jest.advanceTimersByTimeAsync(10_000);
    expect(lost).toEqual([]);
    expect(k.blocker(Date.now())).toBeUndefined();
    store.renewals = 'refused';
    await jest.advanceTimersByTimeAsync(3_000);
    expect(lost).toEqual(['the renewal was refused: another generation took the lease']);
    expect(k.current()).toBeUndefined();
    expect(k.blocker(Date.now())).toBe('lease lost');
  });

  it('renewals failing: lost one interval before the expiry, so trading stops before a standby may take over', async () => {
    const store = new ScriptedStore();
    store.heldBy = undefined;
    const k = keeper(store);
    const lease = await k.acquire();
    const lost: number[] = [];
    store.renewals = 'fail';
    k.startRenewing(() => lost.push(Date.now()));
    await jest.advanceTimersByTimeAsync(5_000);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeLessThan(lease.expiresAt);
    expect(lines).toContain('renewing the lease failed; trying again');
  });

  it('blocks a decision once the lease is within one interval of expiring unrenewed (a process that was paused)', async () => {
    const store = new ScriptedStore();
    store.heldBy = undefined;
    const k = keeper(store);
    const lease = await k.acquire();
    expect(k.blocker(lease.expiresAt - RENEW - 1)).toBeUndefined();
    expect(k.blocker(lease.expiresAt - RENEW)).toMatch(/^lease not renewed; it expires at /);
    expect(keeper(store).blocker(0)).toBe('no lease');
  });

  it('a release hands the lease over and stops renewing', async () => {
    const store = new ScriptedStore();
    store.heldBy = undefined;
    const k = keeper(store);
    const lease = await k.acquire();
    k.startRenewing(() => undefined);
    await k.release();
    await k.release();
    expect(store.released).toEqual([lease]);
    expect(k.blocker(Date.now())).toBe('lease released');
  });
});
