/**
 * The engine's CloudWatch metrics, with Powertools Metrics in Embedded Metric Format: every flush
 * (`engine.metricsIntervalMs`) writes one EMF line per dimension set to the log stream, which CloudWatch
 * turns into metrics (namespace `MmRebateBot`). Nothing here is on the quoting path: the engine's status
 * and counters are read at flush time, and the two latency samples are plain array pushes.
 *
 *   dimensions                 metrics
 *   shard                      QuotesSent, AmendsSent, CancelsSent, FillsPerInterval, StateWritesPending,
 *                              StateWritesLagMs, StateWriteRetries, RouterRetries, UnknownOrders,
 *                              BreakerOpen, Frozen, TickToOrderP50/P99/Max (µs), VenueRequestP50/P99/Max (ms),
 *                              CredentialsSwapped, CredentialsSwapFailed (trading-key swaps, src/app/key-swap.ts)
 *   shard, symbol              Position, NetPnl, RealisedPnl, RebatesEarned, FeesPaid, Fills, MakerShare,
 *                              Quoting, OpenOrders
 *   shard, reason              RiskRefusals (by risk reason), VenueRejections (by retCode)
 *
 * Counters are sent as the increase since the last flush; gauges as their value at the flush.
 */
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { EngineStatus } from '../../engine/engine.js';
import type { RouterFigures } from '../../engine/router.js';
import type { WriteBehindStatus } from '../../engine/write-behind.js';
import type { Logger } from '../../ports/logger.js';
import { METRICS_NAMESPACE } from '../../resources/definitions.js';

/** Samples kept per interval for a latency figure; more are dropped (counted), so memory stays bounded. */
const MAX_SAMPLES = 50_000;

export interface EngineMetricsOptions {
  readonly serviceName: string;
  readonly shard: string;
  readonly stage: string;
  /** Where the EMF lines go: the process's log stream. */
  readonly sink: (line: string) => void;
  readonly logger: Logger;
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export class LatencySamples {
  private values: number[] = [];
  dropped = 0;

  add(value: number): void {
    if (this.values.length < MAX_SAMPLES) this.values.push(value);
    else this.dropped += 1;
  }

  /** The samples since the last drain, and a fresh start. */
  drain(): number[] {
    const values = this.values;
    this.values = [];
    return values;
  }
}

export class EngineMetrics {
  private readonly sets = new Map<string, Metrics>();
  private previous: { sent: Record<'create' | 'amend' | 'cancel', number>; fills: Map<string, number>; refusals: Map<string, number>; rejections: Map<string, number>; retries: number } | undefined;

  constructor(private readonly options: EngineMetricsOptions) {}

  /** The Metrics object of one dimension set, made once. */
  private set(dimensions: Readonly<Record<string, string>>): Metrics {
    const key = JSON.stringify(dimensions);
    let metrics = this.sets.get(key);
    if (!metrics) {
      const { logger } = this.options;
      metrics = new Metrics({
        namespace: METRICS_NAMESPACE,
        serviceName: this.options.serviceName,
        defaultDimensions: { stage: this.options.stage, shard: this.options.shard, ...dimensions },
        // Powertools' own warnings (a bad metric) go to our logger, not to the console.
        logger: { debug: (...args: unknown[]) => logger.debug('powertools metrics', { args }), info: (...args: unknown[]) => logger.info('powertools metrics', { args }), warn: (...args: unknown[]) => logger.warn('powertools metrics', { args }), error: (...args: unknown[]) => logger.error('powertools metrics', { args }) },
      });
      this.sets.set(key, metrics);
    }
    return metrics;
  }

  private add(dimensions: Readonly<Record<string, string>>, name: string, unit: Unit, value: number): void {
    if (!Number.isFinite(value)) return;
    this.set(dimensions).addMetric(name, unit, value);
  }

  /** Adds this interval's figures and writes them, one EMF line per dimension set. */
  flush(status: EngineStatus, stateWrites: WriteBehindStatus | undefined, router: RouterFigures, tickToOrderMicros: readonly number[], keySwaps: { readonly swapped: number; readonly failed: number } = { swapped: 0, failed: 0 }): void {
    const before = this.previous;
    const shard = {};
    const delta = (now: number, then: number | undefined) => now - (then ?? 0);
    // One per flush while the process lives: its absence is what the "engine heartbeat missing" alarm sees.
    this.add(shard, 'Heartbeat', MetricUnit.Count, 1);
    this.add(shard, 'QuotesSent', MetricUnit.Count, delta(status.counters.sent.create, before?.sent.create));
    this.add(shard, 'AmendsSent', MetricUnit.Count, delta(status.counters.sent.amend, before?.sent.amend));
    this.add(shard, 'CancelsSent', MetricUnit.Count, delta(status.counters.sent.cancel, before?.sent.cancel));
    this.add(shard, 'RouterRetries', MetricUnit.Count, router.retries);
    this.add(shard, 'UnknownOrders', MetricUnit.Count, status.unknownOrders);
    this.add(shard, 'BreakerOpen', MetricUnit.Count, status.breaker === 'open' ? 1 : 0);
    this.add(shard, 'Frozen', MetricUnit.Count, status.frozen ? 1 : 0);
    // Counted since the last flush by the swapper itself.
    this.add(shard, 'CredentialsSwapped', MetricUnit.Count, keySwaps.swapped);
    this.add(shard, 'CredentialsSwapFailed', MetricUnit.Count, keySwaps.failed);
    if (stateWrites) {
      this.add(shard, 'StateWritesPending', MetricUnit.Count, stateWrites.pendingOrders + stateWrites.pendingFills + stateWrites.pendingEvents);
      this.add(shard, 'StateWritesLagMs', MetricUnit.Milliseconds, stateWrites.oldestPendingMs);
      this.add(shard, 'StateWriteRetries', MetricUnit.Count, delta(stateWrites.retries, before?.retries));
    }
    this.addPercentiles(shard, 'TickToOrder', MetricUnit.Microseconds, tickToOrderMicros);
    this.addPercentiles(shard, 'VenueRequest', MetricUnit.Milliseconds, router.requestMs);

    const fills = new Map<string, number>();
    let fillsNow = 0;
    for (const symbol of status.symbols) {
      const dimensions = { symbol: symbol.symbol };
      fills.set(symbol.symbol, symbol.fills);
      fillsNow += delta(symbol.fills, before?.fills.get(symbol.symbol));
      this.add(dimensions, 'Fills', MetricUnit.Count, delta(symbol.fills, before?.fills.get(symbol.symbol)));
      this.add(dimensions, 'Position', MetricUnit.NoUnit, Number(symbol.position.toFixed()));
      this.add(dimensions, 'Quoting', MetricUnit.Count, symbol.quoting ? 1 : 0);
      this.add(dimensions, 'OpenOrders', MetricUnit.Count, symbol.openOrders);
      if (symbol.makerShare !== undefined) this.add(dimensions, 'MakerShare', MetricUnit.Percent, symbol.makerShare * 100);
      if (symbol.pnl) {
        this.add(dimensions, 'NetPnl', MetricUnit.NoUnit, Number(symbol.pnl.net.toFixed()));
        this.add(dimensions, 'RealisedPnl', MetricUnit.NoUnit, Number(symbol.pnl.realised.toFixed()));
        this.add(dimensions, 'RebatesEarned', MetricUnit.NoUnit, Number(symbol.pnl.rebatesEarned.toFixed()));
        this.add(dimensions, 'FeesPaid', MetricUnit.NoUnit, Number(symbol.pnl.feesPaid.toFixed()));
      }
    }
    this.add(shard, 'FillsPerInterval', MetricUnit.Count, fillsNow);

    const refusals = new Map(Object.entries(status.counters.riskRefusals).map(([reason, count]) => [reason, count]));
    for (const [reason, count] of refusals) this.add({ reason }, 'RiskRefusals', MetricUnit.Count, delta(count, before?.refusals.get(reason)));
    const rejections = new Map(Object.entries(status.counters.venueRejections));
    let rejectedNow = 0;
    for (const [code, count] of rejections) {
      rejectedNow += delta(count, before?.rejections.get(code));
      this.add({ reason: `retCode ${code}` }, 'VenueRejections', MetricUnit.Count, delta(count, before?.rejections.get(code)));
    }
    // All reasons together, per shard: an alarm cannot sum a dimension it does not know the values of.
    this.add(shard, 'VenueRejectionsTotal', MetricUnit.Count, rejectedNow);

    this.previous = { sent: { ...status.counters.sent }, fills, refusals, rejections, retries: stateWrites?.retries ?? 0 };
    this.write();
  }

  private addPercentiles(dimensions: Readonly<Record<string, string>>, name: string, unit: Unit, samples: readonly number[]): void {
    if (samples.length === 0) return;
    const sorted = [...samples].sort((a, b) => a - b);
    const at = (quantile: number) => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0;
    this.add(dimensions, `${name}P50`, unit, at(0.5));
    this.add(dimensions, `${name}P99`, unit, at(0.99));
    this.add(dimensions, `${name}Max`, unit, sorted[sorted.length - 1] ?? 0);
  }

  private write(): void {
    for (const metrics of this.sets.values()) {
      if (!metrics.hasStoredMetrics()) continue;
      this.options.sink(JSON.stringify(metrics.serializeMetrics()));
      metrics.clearMetrics();
    }
  }
}
