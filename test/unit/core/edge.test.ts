import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { dec, sum } from '../../../src/core/decimal.js';
import { type EdgeFill, EdgeMonitor, breakdownOf, exactMid, inventoryPnl } from '../../../src/core/edge.js';
import { applyTrade, flatPosition, realisedPnl, unrealisedPnl } from '../../../src/core/position.js';
import { lots, ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

const fill = (overrides: Partial<EdgeFill> = {}): EdgeFill => ({
  execId: 'e1',
  side: 'Buy',
  priceTicks: ticks(649_990),
  qtyLots: lots(10),
  fee: dec('-0.01625'),
  midAtFill: dec('65000'),
  time: 0,
  ...overrides,
});

describe('fill breakdown', () => {
  it('computes the exact mid from integer ticks', () => {
    expect(exactMid(BTCUSDT, ticks(650_000), ticks(650_005)).toFixed()).toBe('65000.25');
  });

  it('splits a fill into spread capture against the mid and the rebate', () => {
    const breakdown = breakdownOf(BTCUSDT, fill());
    expect(breakdown.spreadCapture.toFixed()).toBe('0.01');
    expect(breakdown.rebate.toFixed()).toBe('0.01625');
    expect(breakdown.notional.toFixed()).toBe('649.99');
    const sell = breakdownOf(BTCUSDT, fill({ side: 'Sell', priceTicks: ticks(649_990) }));
    expect(sell.spreadCapture.toFixed()).toBe('-0.01');
  });

  it('measures inventory PnL from the mid at the fill', () => {
    expect(inventoryPnl(BTCUSDT, fill(), dec('64990')).toFixed()).toBe('-0.1');
    expect(inventoryPnl(BTCUSDT, fill({ side: 'Sell' }), dec('64990')).toFixed()).toBe('0.1');
  });

  it('adds up: spread capture + inventory PnL is the trading PnL of the position at any mid', () => {
    const fillArb = fc.record({
      side: fc.constantFrom('Buy' as const, 'Sell' as const),
      priceTicks: fc.integer({ min: 640_000, max: 660_000 }),
      qtyLots: fc.integer({ min: 1, max: 500 }),
      midTicksTimesTwo: fc.integer({ min: 1_280_000, max: 1_320_000 }),
    });
    fc.assert(
      fc.property(fc.array(fillArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1_280_000, max: 1_320_000 }), (raw, finalMidTimesTwo) => {
        const fills = raw.map((entry, index): EdgeFill => ({
          execId: `e${index}`,
          side: entry.side,
          priceTicks: ticks(entry.priceTicks),
          qtyLots: lots(entry.qtyLots),
          fee: dec('0'),
          midAtFill: dec(BigInt(entry.midTicksTimesTwo)).times(BTCUSDT.tickSize).div(dec('2')),
          time: index,
        }));
        const mid = dec(BigInt(finalMidTimesTwo)).times(BTCUSDT.tickSize).div(dec('2'));
        const decomposed = sum(fills.map((entry) => breakdownOf(BTCUSDT, entry).spreadCapture.plus(inventoryPnl(BTCUSDT, entry, mid))));
        const position = fills.reduce(
          (held, entry) => applyTrade(held, { kind: 'trade', execId: entry.execId, symbol: 'BTCUSDT', orderId: 'o', orderLinkId: '', side: entry.side, priceTicks: entry.priceTicks, qtyLots: entry.qtyLots, fee: dec('0'), feeRate: dec('0'), isMaker: true, execTime: entry.time }),
          flatPosition('BTCUSDT'),
        );
        expect(decomposed.eq(realisedPnl(position, BTCUSDT).plus(unrealisedPnl(position, BTCUSDT, mid)))).toBe(true);
      }),
    );
  });
});

describe('EdgeMonitor', () => {
  const limits = { edgeCollapseBps: dec('-1'), windowFills: 3, maxDrawdown: dec('50') };

  it('settles markouts at the first mid at or after each horizon', () => {
    const monitor = new EdgeMonitor(BTCUSDT, [1_000, 5_000], limits);
    monitor.recordFill(fill({ time: 0 }));
    monitor.observeMid(999, dec('65010'));
    expect(monitor.snapshot().markoutBps).toEqual([undefined, undefined]);
    monitor.observeMid(1_200, dec('64990'));
    monitor.observeMid(5_000, dec('65020'));
    const snapshot = monitor.snapshot();
    // Buying 0.01 at a mid of 65000: -0.1 at 1 s and +0.2 at 5 s, on 649.99 of notional.
    expect(snapshot.markoutBps[0]?.toFixed(4)).toBe('-1.5385');
    expect(snapshot.markoutBps[1]?.toFixed(4)).toBe('3.0770');
    expect(snapshot.fills).toBe(1);
    expect(snapshot.rebates.toFixed()).toBe('0.01625');
  });

  it('freezes on edge collapse only once the window is full, and says why', () => {
    const monitor = new EdgeMonitor(BTCUSDT, [1_000], limits);
    // Each buy is picked off: the mid falls 10 right after, far more than spread plus rebate.
    for (let index = 0; index < 3; index++) {
      monitor.recordFill(fill({ execId: `e${index}`, time: index * 2_000 }));
      expect(monitor.evaluate()).toEqual({ freeze: false });
      monitor.observeMid(index * 2_000 + 1_000, dec('64990'));
    }
    const verdict = monitor.evaluate();
    expect(verdict).toMatchObject({ freeze: true, reason: 'edge-collapse' });
    expect(verdict.freeze && verdict.detail).toMatch(/net edge -1\.\d\d bps over the last 3 fills is below -1 bps/);
  });

  it('does not freeze while the edge holds, net of the rebate', () => {
    const monitor = new EdgeMonitor(BTCUSDT, [1_000], limits);
    for (let index = 0; index < 5; index++) {
      monitor.recordFill(fill({ execId: `e${index}`, time: index * 2_000 }));
      monitor.observeMid(index * 2_000 + 1_000, dec('64999.5'));
    }
    expect(monitor.snapshot().netEdgeBps?.gt(dec('-1'))).toBe(true);
    expect(monitor.evaluate()).toEqual({ freeze: false });
  });

  it('freezes on a drawdown from the peak beyond the limit', () => {
    const monitor = new EdgeMonitor(BTCUSDT, [1_000], limits);
    monitor.observeNetPnl(dec('100'));
    monitor.observeNetPnl(dec('60'));
    expect(monitor.evaluate()).toEqual({ freeze: false });
    monitor.observeNetPnl(dec('49.99'));
    expect(monitor.evaluate()).toMatchObject({ freeze: true, reason: 'drawdown' });
  });

  it('needs a horizon', () => {
    expect(() => new EdgeMonitor(BTCUSDT, [], limits)).toThrow(/horizon/);
  });
});
