import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { lots, ticks } from '../../../src/core/units.js';
import { Exchange, type SimExecution } from '../../../sim/exchange/exchange.js';
import { type GeneratorOptions, MarketGenerator, defaultGeneratorOptions } from '../../../sim/market/generator.js';
import { seededRandom } from '../../../sim/random.js';
import { BTCUSDT } from '../../support/instruments.js';

function venue(seed: number, overrides: Partial<GeneratorOptions> = {}) {
  let now = 0;
  const executions: SimExecution[] = [];
  const exchange = new Exchange({ instruments: [BTCUSDT], clock: () => now, listener: { execution: (execution) => executions.push(execution) } });
  exchange.addAccount({ accountId: 'flow', makerFeeRate: dec('0.0002'), takerFeeRate: dec('0.00055'), walletBalance: dec('100000000') });
  exchange.addAccount({ accountId: 'mm', makerFeeRate: dec('-0.000025'), takerFeeRate: dec('0.00055'), walletBalance: dec('100000') });
  const generator = new MarketGenerator(exchange, BTCUSDT, seededRandom(seed), { ...defaultGeneratorOptions(BTCUSDT, 650_000), ...overrides });
  const step = (ms: number) => {
    now += ms;
    generator.step(ms);
  };
  return { exchange, generator, executions, step };
}

describe('market generator', () => {
  it('lays a ladder around the mid and publishes the mid as mark price', () => {
    const { exchange, generator } = venue(1);
    const book = exchange.book('BTCUSDT');
    expect(book.bids.depth).toBe(50);
    expect(book.asks.depth).toBe(50);
    expect(book.bestBid()).toBe(generator.mid - 2);
    expect(book.bestAsk()).toBe(generator.mid + 2);
    expect(exchange.marketState('BTCUSDT').markPrice.toFixed()).toBe('65000');
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const run = (seed: number) => {
      const { generator, executions, step } = venue(seed);
      for (let index = 0; index < 600; index++) step(100);
      return { mid: generator.mid, takers: generator.takerOrders, fills: executions.map((execution) => `${execution.execPriceTicks}:${execution.execQtyLots}`).join(',') };
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('moves the mid and sends taker flow at about the regime\'s rate', () => {
    const { exchange, generator, step } = venue(7);
    const start = generator.mid;
    for (let index = 0; index < 3_000; index++) step(100);
    expect(generator.mid).not.toBe(start);
    // 300 s at 4 to 12 takers per second.
    expect(generator.takerOrders).toBeGreaterThan(300 * 3);
    expect(generator.takerOrders).toBeLessThan(300 * 14);
    const book = exchange.book('BTCUSDT');
    expect(book.bestBid()!).toBeLessThan(book.bestAsk()!);
  });

  it('fills a quote at the touch with taker flow, at the maker rebate', () => {
    const { exchange, generator, executions, step } = venue(3);
    const placed = exchange.createOrder('mm', { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', timeInForce: 'PostOnly', qtyLots: lots(5), priceTicks: ticks(generator.mid - 1) });
    expect(placed.ok).toBe(true);
    for (let index = 0; index < 200 && !executions.some((execution) => execution.accountId === 'mm'); index++) step(100);
    const fill = executions.find((execution) => execution.accountId === 'mm');
    expect(fill).toMatchObject({ isMaker: true });
    expect(fill!.feeRate.toFixed()).toBe('-0.000025');
  });

  it('picks off a stale quote that the mid moves through, with no taker flow at all', () => {
    const { exchange, generator, executions, step } = venue(11, { regimes: [{ name: 'fast', volatilityBps: 20, meanDurationSeconds: 1_000, takerRatePerSecond: 0 }] });
    const start = generator.mid;
    const stale = exchange.createOrder('mm', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'PostOnly', qtyLots: lots(5), priceTicks: ticks(start + 4) });
    expect(stale.ok).toBe(true);
    for (let index = 0; index < 5_000 && !executions.some((execution) => execution.accountId === 'mm'); index++) step(100);
    expect(generator.takerOrders).toBe(0);
    const fill = executions.find((execution) => execution.accountId === 'mm');
    expect(fill).toMatchObject({ side: 'Sell', isMaker: true, execPriceTicks: start + 4 });
    // It was hit because the ladder's bids followed the mid up through it.
    expect(exchange.book('BTCUSDT').bestBid()! + 2).toBeGreaterThan(start + 4);
  });
});
