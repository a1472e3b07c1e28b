/**
 * What the order router does after a venue error, and how long it waits before trying again.
 *
 * Only errors that say "not now" are retried (timeouts, rate limits, server trouble); authentication and
 * permission errors first refresh the credentials (a rotation may have replaced the key); everything else
 * is final, because retrying a refused order cannot change the answer. Codes: docs/v5/error.mdx and the order-entry
 * WebSocket's table (sim/reference/bybit-v5-rest.md §1.6, §2; bybit-v5-websocket.md §6.4).
 */

export type ErrorClass = 'retryable' | 'auth' | 'final';

/** Server timeout, server error, too many visits, order still processing, service restarting. */
const RETRYABLE = new Set([10000, 10006, 10016, 10019, 10429, 20003, 110079]);
/**
 * Invalid key, bad signature, expired key: the key may have been rotated. And permission denied: an
 * order-entry socket whose key was revoked answers it (the simulator's choice where Bybit is silent), and a
 * key whose grants changed does too, so a fresh key is looked for before the request is given up.
 */
const AUTH = new Set([10003, 10004, 10005, 33004]);

export function classifyRetCode(retCode: number): ErrorClass {
  if (RETRYABLE.has(retCode)) return 'retryable';
  if (AUTH.has(retCode)) return 'auth';
  return 'final';
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxRetries: number;
}

/**
 * Delay before retry number `attempt` (1-based): "full jitter", uniformly in [0, min(max, base x 2^attempt)],
 * so that many clients hit by the same failure do not retry in lock-step. `random` is in [0, 1).
 */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Whether another try is allowed after `attempt` tries have failed with this class of error. */
export function shouldRetry(policy: BackoffPolicy, attempt: number, errorClass: ErrorClass): boolean {
  return errorClass !== 'final' && attempt <= policy.maxRetries;
}
