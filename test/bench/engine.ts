/**
 * The engine's decision path in process, before any I/O: a book delta in, a quote plan out (apply the
 * delta, fair value, volatility, targets, plan against resting quotes). The full tick-to-order latency,
 * with the order frame written, is measured once the engine loop exists.
 */
import { LocalBook } from '../../src/core/book.js';
import { formatPrice, formatQty, gridCodec, parseLinearInstrument } from '../../src/core/instrument.js';
import { type QuoteParams, type RestingQuote, fairValue, initialVolatility, planQuotes, quoteTargets, updateVolatility } from '../../src/core/quoting.js';
import { lots, ticks } from '../../src/core/units.js';
import { BTCUSDT_RAW } from '../../sim/config/instruments.js';
import type { Result } from './measure.js';

export interface LatencyResult {
  readonly name: string;
  readonly samples: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly p999Ns: number;
  readonly perSecond: number;
}

export function benchDecision(updates = 200_000): { latency: LatencyResult; throughput: Result } {
  const instrument = parseLinearInstrument(BTCUSDT_RAW);
  const book = new LocalBook('BTCUSDT', gridCodec(instrument));
  const params: QuoteParams = { levels: 2, levelSpacingBps: 1, minEdgeBps: 0.5, makerFeeBps: -0.25, volatilitySpreadMultiplier: 1.5, inventorySkewBps: 2, orderLots: lots(10), maxPositionLots: 1_000 };
  const row = (price: number, size: number): [string, string] => [formatPrice(instrument, ticks(price)), formatQty(instrument, lots(size))];
  book.applySnapshot(Array.from({ length: 50 }, (_, index) => row(650_000 - index, 100)), Array.from({ length: 50 }, (_, index) => row(650_001 + index, 100)), 1, 1, 0);
  // Deltas like the simulator's: a few levels each side change size; pre-formatted, as they arrive as strings.
  const deltas = Array.from({ length: 1_000 }, (_, index) => ({
    bids: Array.from({ length: 10 }, (_, level) => row(650_000 - ((index + level) % 50), 50 + ((index * 7 + level) % 100))),
    asks: Array.from({ length: 10 }, (_, level) => row(650_001 + ((index + level) % 50), 50 + ((index * 3 + level) % 100))),
  }));
  let volatility = initialVolatility();
  let resting: RestingQuote[] = [];
  const samples = new Float64Array(updates);
  const run = (index: number): void => {
    const delta = deltas[index % deltas.length]!;
    book.applyDelta(delta.bids, delta.asks, book.lastU + 1, index, index);
    const fair = fairValue(book, 'microprice');
    if (fair === undefined) return;
    volatility = updateVolatility(volatility, fair, index, 30_000);
    const targets = quoteTargets({ instrument, fair, volatility, positionLots: 0, bestBid: book.bestBid(), bestAsk: book.bestAsk(), params });
    const plan = planQuotes(targets, resting, 2);
    if (plan.place.length > 0 || plan.amend.length > 0) resting = targets.map((target) => ({ orderLinkId: `${target.side}${target.level}`, ...target }));
  };
  for (let index = 0; index < 20_000; index++) run(index); // warm up the JIT
  const started = process.hrtime.bigint();
  for (let index = 0; index < updates; index++) {
    const before = process.hrtime.bigint();
    run(index);
    samples[index] = Number(process.hrtime.bigint() - before);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort();
  const at = (quantile: number) => samples[Math.min(samples.length - 1, Math.floor(quantile * samples.length))] ?? 0;
  return {
    latency: { name: 'engine decision: book delta (20 levels) to quote plan', samples: updates, p50Ns: at(0.5), p99Ns: at(0.99), p999Ns: at(0.999), perSecond: updates / seconds },
    throughput: { name: 'engine decision: book updates per second (one core)', operations: updates, seconds },
  };
}

export function formatLatency(result: LatencyResult): string {
  const us = (ns: number) => `${(ns / 1_000).toFixed(1)} us`;
  return `${result.name.padEnd(58)} p50 ${us(result.p50Ns)}, p99 ${us(result.p99Ns)}, p99.9 ${us(result.p999Ns)} (${result.samples.toLocaleString('en-US')} samples)`;
}
