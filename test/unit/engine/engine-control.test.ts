/**
 * The engine under the control plane: freezes applied from the control state (scoped, versioned, lifted
 * through reconciliation), its own freezes handed to the control plane, and a lost lease (quotes pulled one
 * by one, never a cancel-all, a stop that cancels only its own orders).
 */
import { describe, expect, it } from '@jest/globals';
import { EngineHarness, SYMBOL, flush } from './engine-harness.js';

describe('control-plane freezes', () => {
  it('a freeze of the symbol cancels everything and pulls the quotes; an unfreeze reconciles, then quotes again', async () => {
    const h = new EngineHarness();
    await h.quoting();
    expect(h.router.creates()).toHaveLength(4);
    h.engine.applyControl({ version: 3, frozenSymbols: [SYMBOL], reason: 'hard manual: test (arn:aws:iam::1:user/op)' });
    await flush();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    expect(h.router.cancels()).toHaveLength(4);
    expect(h.symbolStatus().blockers).toEqual(['frozen by the control plane (version 3: hard manual: test (arn:aws:iam::1:user/op))']);
    expect(h.engine.status().control).toEqual({ version: 3, frozenSymbols: [SYMBOL], reason: 'hard manual: test (arn:aws:iam::1:user/op)' });
    h.confirmCancels();
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.router.creates()).toHaveLength(4);

    // The same view again changes nothing; an older one is ignored.
    h.engine.applyControl({ version: 3, frozenSymbols: [SYMBOL], reason: 'again' });
    h.engine.applyControl({ version: 2, frozenSymbols: [], reason: undefined });
    await flush();
    expect(h.account.calls.cancelAll).toHaveLength(1);
    expect(h.engine.status().control.frozenSymbols).toEqual([SYMBOL]);

    const reconciliations = h.account.calls.openOrders.length;
    h.engine.applyControl({ version: 4, frozenSymbols: [], reason: undefined });
    await flush();
    // Not reconciled yet: no quote before the venue was asked what rests.
    expect(h.symbolStatus().blockers).toEqual(['not reconciled']);
    expect(h.router.creates()).toHaveLength(4);
    h.engine.tick();
    await flush();
    expect(h.account.calls.openOrders.length).toBeGreaterThan(reconciliations);
    h.setBook(650_020, 650_030);
    await flush();
    expect(h.symbolStatus().quoting).toBe(true);
    expect(h.router.creates()).toHaveLength(8);
  });

  it('a freeze of other symbols leaves this one quoting', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.engine.applyControl({ version: 1, frozenSymbols: ['ETHUSDT'], reason: 'hard position-limit: ETH' });
    await flush();
    expect(h.account.calls.cancelAll).toEqual([]);
    expect(h.symbolStatus().quoting).toBe(true);
    expect(h.engine.status().control.frozenSymbols).toEqual([]);
  });

  it('an engine that starts frozen stays frozen: nothing is quoted after the start', async () => {
    const h = new EngineHarness();
    h.engine.applyControl({ version: 7, frozenSymbols: [SYMBOL], reason: 'hard stale-engine: watchdog' });
    await flush();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    await h.start();
    h.setBook(650_000, 650_010);
    await flush();
    expect(h.router.creates()).toHaveLength(0);
    expect(h.symbolStatus().quoting).toBe(false);
  });

  it('its own freeze goes to the control plane, and a later version that freezes nothing lifts it', async () => {
    const told: string[] = [];
    const h = new EngineHarness({}, { onSelfFreeze: (reason, detail) => told.push(`${reason}: ${detail}`) });
    await h.quoting();
    h.engine.applyControl({ version: 5, frozenSymbols: [], reason: undefined });
    h.engine.freeze('drawdown', 'BTCUSDT: net 10 below peak');
    await flush();
    expect(told).toEqual(['drawdown: BTCUSDT: net 10 below peak']);
    // The same version (read before the freeze was written) does not lift it.
    h.engine.applyControl({ version: 5, frozenSymbols: [], reason: undefined });
    expect(h.engine.status().frozen?.reason).toBe('drawdown');
    // The control plane froze it (version 6), then an operator lifted it (version 7).
    h.engine.applyControl({ version: 6, frozenSymbols: [SYMBOL], reason: 'hard drawdown' });
    expect(h.engine.status().frozen?.reason).toBe('drawdown');
    h.engine.applyControl({ version: 7, frozenSymbols: [], reason: undefined });
    expect(h.engine.status().frozen).toBeUndefined();
  });
});

describe('a lost lease', () => {
  it('pulls the quotes one by one and never sends a cancel-all, even when frozen or on stop', async () => {
    const h = new EngineHarness();
    await h.quoting();
    h.engine.fence('the renewal was refused');
    h.engine.fence('twice');
    await flush();
    expect(h.router.cancels()).toHaveLength(4);
    expect(h.symbolStatus().blockers).toEqual(['lease lost (the renewal was refused)']);
    expect(h.engine.status().fenced).toBe('the renewal was refused');
    expect(h.logger.entries.filter((entry) => entry.message.startsWith('lease lost'))).toHaveLength(1);

    // A freeze or an open breaker would cancel account-wide: not any more.
    h.engine.applyControl({ version: 1, frozenSymbols: [SYMBOL], reason: 'hard manual' });
    h.engine.freeze('operator', 'after the lease was lost');
    h.breaker = 'open';
    h.engine.tick();
    h.breaker = 'closed';
    await flush();
    expect(h.account.calls.cancelAll).toEqual([]);

    const stopping = h.engine.stop('lease lost');
    await flush();
    h.confirmCancels(true);
    const report = await h.settle(stopping);
    expect(report).toMatchObject({ clean: true, remainingOpenOrders: 0 });
    expect(h.account.calls.cancelAll).toEqual([]);
    expect(h.engine.status().phase).toBe('stopped');
  });

  it('a stop that cannot cancel its own orders in time reports them', async () => {
    const h = new EngineHarness({ engine: { stopTimeoutMs: 1_000 } });
    await h.quoting();
    h.engine.fence('expired');
    const report = await h.settle(h.engine.stop('lease lost'));
    expect(report).toMatchObject({ clean: false, remainingOpenOrders: 4 });
    expect(h.account.calls.cancelAll).toEqual([]);
  });
});
