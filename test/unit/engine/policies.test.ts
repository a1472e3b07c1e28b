import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CircuitBreaker } from '../../../src/engine/breaker.js';
import { RequestLimiter } from '../../../src/engine/limiter.js';
import { backoffDelayMs, classifyRetCode, shouldRetry } from '../../../src/engine/retry.js';

describe('retry policy', () => {
  it('retries only "not now" errors, refreshes credentials on auth errors, and stops on the rest', () => {
    for (const code of [10000, 10006, 10016, 10019, 10429, 20003, 110079]) expect(classifyRetCode(code)).toBe('retryable');
    // 10005 too: a revoked key's order-entry socket answers it, so a fresh key is looked for first.
    for (const code of [10003, 10004, 10005, 33004]) expect(classifyRetCode(code)).toBe('auth');
    for (const code of [10001, 110001, 110017, 110072, 110094]) expect(classifyRetCode(code)).toBe('final');
  });

  it('backs off with full jitter under an exponential ceiling', () => {
    const policy = { baseMs: 100, maxMs: 2_000, maxRetries: 3 };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (attempt, draw) => {
        const delay = backoffDelayMs(policy, attempt, () => draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(2_000, 100 * 2 ** attempt));
      }),
    );
    expect(backoffDelayMs(policy, 1, () => 0.5)).toBe(100);
    expect(backoffDelayMs(policy, 10, () => 0.5)).toBe(1_000);
    expect(shouldRetry(policy, 3, 'retryable')).toBe(true);
    expect(shouldRetry(policy, 4, 'retryable')).toBe(false);
    expect(shouldRetry(policy, 1, 'final')).toBe(false);
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, probes once after the cooldown, and closes on success', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000 });
    expect(breaker.recordFailure(0)).toBe(false);
    breaker.recordSuccess();
    expect(breaker.consecutiveFailures).toBe(0);
    breaker.recordFailure(1);
    breaker.recordFailure(2);
    expect(breaker.recordFailure(3)).toBe(true);
    expect(breaker.state(500)).toBe('open');
    expect(breaker.allow(500)).toBe(false);
    expect(breaker.state(1_003)).toBe('half-open');
    expect(breaker.allow(1_003)).toBe(true);
    expect(breaker.allow(1_004)).toBe(false);
    breaker.recordSuccess();
    expect(breaker.state(1_005)).toBe('closed');
    expect(breaker.allow(1_005)).toBe(true);
  });

  it('re-opens for another cooldown when the probe fails', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000 });
    breaker.recordFailure(0);
    expect(breaker.allow(1_000)).toBe(true);
    expect(breaker.recordFailure(1_000)).toBe(true);
    expect(breaker.state(1_500)).toBe('open');
    expect(breaker.state(2_000)).toBe('half-open');
  });
});

describe('request limiter', () => {
  const policy = { defaultPerSecond: 10, ipBudget: 600, ipWindowMs: 5_000, tasksSharingIp: 1 };

  it('lets ten orders a second through and makes the eleventh wait for the window', () => {
    const limiter = new RequestLimiter(policy);
    for (let index = 0; index < 10; index++) {
      expect(limiter.waitMs('create', 1, 100 + index)).toBe(0);
      limiter.record('create', 1, 100 + index);
    }
    expect(limiter.waitMs('create', 1, 200)).toBe(900);
    expect(limiter.waitMs('cancel', 1, 200)).toBe(0);
    expect(limiter.waitMs('create', 1, 1_101)).toBe(0);
  });

  it('leaves the configured headroom of every limit unused', () => {
    const limiter = new RequestLimiter({ ...policy, headroomPercent: 20 });
    for (let index = 0; index < 8; index++) {
      expect(limiter.waitMs('create', 1, index)).toBe(0);
      limiter.record('create', 1, index);
    }
    expect(limiter.waitMs('create', 1, 10)).toBe(990);
    limiter.observeHeaders('amend', 20, 20, 1_000, 0);
    for (let index = 0; index < 16; index++) limiter.record('amend', 1, 0);
    expect(limiter.waitMs('amend', 1, 1)).toBe(999);
  });

  it('says how many orders one request may carry, and lets a request bigger than that wait only for an empty window', () => {
    const limiter = new RequestLimiter({ ...policy, headroomPercent: 20 });
    expect(limiter.capacity('cancel-batch')).toBe(8);
    limiter.record('cancel-batch', 3, 0);
    expect(limiter.waitMs('cancel-batch', 20, 10)).toBe(990);
    expect(limiter.waitMs('cancel-batch', 20, 1_001)).toBe(0);
  });

  it('keeps a margin on every window, so bursts a window apart cannot land in one venue second', () => {
    const limiter = new RequestLimiter({ ...policy, windowMarginMs: 100 });
    for (let index = 0; index < 10; index++) limiter.record('create', 1, 0);
    expect(limiter.waitMs('create', 1, 1_000)).toBe(100);
    expect(limiter.waitMs('create', 1, 1_100)).toBe(0);
  });

  it('counts a batch by its orders', () => {
    const limiter = new RequestLimiter(policy);
    limiter.record('amend-batch', 8, 0);
    expect(limiter.waitMs('amend-batch', 2, 10)).toBe(0);
    expect(limiter.waitMs('amend-batch', 3, 10)).toBe(990);
  });

  it('follows the venue\'s headers: a higher tier limit, and a block until the reset', () => {
    const limiter = new RequestLimiter(policy);
    limiter.observeHeaders('create', 20, 5, 1_000, 0);
    for (let index = 0; index < 15; index++) limiter.record('create', 1, 0);
    expect(limiter.waitMs('create', 1, 1)).toBe(0);
    limiter.observeHeaders('create', 20, 0, 700, 2);
    expect(limiter.waitMs('create', 1, 2)).toBe(698);
  });

  it('keeps to its share of the per-IP budget', () => {
    const limiter = new RequestLimiter({ ...policy, ipBudget: 600, tasksSharingIp: 4 });
    for (let index = 0; index < 150; index++) limiter.record(`endpoint-${index % 30}`, 1, index);
    expect(limiter.waitMs('another', 1, 200)).toBe(4_800);
    expect(limiter.waitMs('another', 1, 5_000)).toBe(0);
  });
});
