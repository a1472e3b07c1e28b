/**
 * The single-writer lease of a shard, as data and rules (pure; src/adapters/dynamodb/lease-store.ts keeps it
 * in the control table with conditional writes).
 *
 * A lease has an owner (one engine process), an expiry and an epoch: the fencing token. Taking the lease
 * raises the epoch, so every generation has a larger one than all before it, and everything a generation
 * writes or sends carries it (state items, orderLinkIds); a write conditioned on the epoch then refuses a
 * generation that lost the lease, even one that does not know it yet.
 *
 * The epoch never goes below deciseconds since 1970 at the time it was taken, so it stays comparable with
 * the epochs generations used before there was a lease (and with an epoch an operator might reset).
 */

export interface Lease {
  readonly shard: string;
  readonly owner: string;
  readonly epoch: number;
  /** ms since 1970; past it, anyone may take the lease. */
  readonly expiresAt: number;
}

export type LeaseDecision =
  | { readonly kind: 'take'; readonly lease: Lease }
  | { readonly kind: 'held'; readonly by: Lease };

/** The epoch floor for a lease taken at `now`: deciseconds since 1970. */
export function epochFloor(now: number): number {
  return Math.floor(now / 100);
}

/** Whether `owner` may take the lease now, and what it would hold: the next epoch, `ttlMs` from now. */
export function decideTake(current: Lease | undefined, shard: string, owner: string, now: number, ttlMs: number): LeaseDecision {
  if (current && current.expiresAt > now && current.owner !== owner) return { kind: 'held', by: current };
  const epoch = Math.max((current?.epoch ?? 0) + 1, epochFloor(now));
  return { kind: 'take', lease: { shard, owner, epoch, expiresAt: now + ttlMs } };
}

/** The lease renewed: same owner and epoch, a later expiry. */
export function renewed(lease: Lease, now: number, ttlMs: number): Lease {
  return { ...lease, expiresAt: now + ttlMs };
}
