/**
 * The engine's metrics as CloudWatch reads them: EMF lines (Powertools Metrics) per dimension set, counters
 * as increases since the last flush, gauges as values, latency as percentiles.
 */
import { describe, expect, it } from '@jest/globals';
import { EngineMetrics, LatencySamples } from '../../../src/adapters/metrics/engine-metrics.js';
import { METRICS_NAMESPACE } from '../../../src/resources/definitions.js';
import { EngineHarness, SYMBOL } from '../engine/engine-harness.js';

interface Emf {
  readonly _aws: { readonly CloudWatchMetrics: readonly { readonly Namespace: string; readonly Dimensions: readonly (readonly string[])[]; readonly Metrics: readonly { Name: string; Unit: string }[] }[] };
  readonly [key: string]: unknown;
}

function setup() {
  const lines: string[] = [];
  const h = new EngineHarness();
  const metrics = new EngineMetrics({ serviceName: 'mmrb-engine-t1', shard: 't1', stage: 'dev', sink: (line) => lines.push(line), logger: h.logger });
  const take = (): Emf[] => lines.splice(0).map((line) => JSON.parse(line) as Emf);
  const byDimensions = (emf: readonly Emf[], dimensions: readonly string[]) => emf.find((entry) => JSON.stringify(entry._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([dimensions]));
  return { h, metrics, take, byDimensions };
}

describe('EngineMetrics', () => {
  it('writes EMF per dimension set: counters as increases, gauges as values, latency as percentiles', async () => {
    const { h, metrics, take, byDimensions } = setup();
    await h.quoting();
    const samples = new LatencySamples();
    for (let value = 1; value <= 100; value++) samples.add(value);
    metrics.flush(h.engine.status(), undefined, { retries: 2, requestMs: [5, 1, 9] }, samples.drain(), { swapped: 1, failed: 2 });
    const first = take();
    const shard = byDimensions(first, ['service', 'stage', 'shard']);
    expect(shard?._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect(shard).toMatchObject({ shard: 't1', stage: 'dev', QuotesSent: 4, RouterRetries: 2, TickToOrderP50: 51, TickToOrderP99: 100, TickToOrderMax: 100, VenueRequestP50: 5, VenueRequestMax: 9, Frozen: 0, BreakerOpen: 0, Heartbeat: 1, VenueRejectionsTotal: 0, CredentialsSwapped: 1, CredentialsSwapFailed: 2 });
    expect(shard?._aws.CloudWatchMetrics[0]?.Metrics).toContainEqual({ Name: 'TickToOrderP99', Unit: 'Microseconds' });
    expect(byDimensions(first, ['service', 'stage', 'shard', 'symbol'])).toMatchObject({ symbol: SYMBOL, Quoting: 1, OpenOrders: 4, Position: 0, Fills: 0 });

    // The next interval: only what happened since, and no latency figures without samples.
    h.engine.freeze('manual', 'test');
    metrics.flush(h.engine.status(), undefined, { retries: 0, requestMs: [] }, samples.drain());
    const second = byDimensions(take(), ['service', 'stage', 'shard']);
    expect(second).toMatchObject({ QuotesSent: 0, Frozen: 1, CredentialsSwapped: 0, CredentialsSwapFailed: 0 });
    expect(second).not.toHaveProperty('TickToOrderP50');
  });

  it('counts risk refusals and venue rejections by reason, as increases', async () => {
    const { h, metrics, take, byDimensions } = setup();
    await h.quoting();
    const status = h.engine.status();
    const withCounters = (refused: number, rejected: number) => ({ ...status, counters: { ...status.counters, riskRefusals: { 'position-limit': refused }, venueRejections: { '110007': rejected } } });
    metrics.flush(withCounters(3, 1), undefined, { retries: 0, requestMs: [] }, []);
    let emf = take();
    expect(byDimensions(emf, ['service', 'stage', 'shard', 'reason'])?.RiskRefusals).toBe(3);
    metrics.flush(withCounters(5, 4), undefined, { retries: 0, requestMs: [] }, []);
    emf = take();
    const reasons = emf.filter((entry) => JSON.stringify(entry._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([['service', 'stage', 'shard', 'reason']]));
    // Every reason together at the shard's level, for the rejection-rate alarm.
    expect(byDimensions(emf, ['service', 'stage', 'shard'])?.VenueRejectionsTotal).toBe(3);
    expect(reasons.map((entry) => [entry.reason, entry.RiskRefusals ?? entry.VenueRejections])).toEqual([
      ['position-limit', 2],
      ['retCode 110007', 3],
    ]);
  });

  it('keeps at most a bounded number of latency samples per interval, and says how many it dropped', () => {
    const samples = new LatencySamples();
    for (let index = 0; index < 50_010; index++) samples.add(index);
    expect(samples.drain()).toHaveLength(50_000);
    expect(samples.dropped).toBe(10);
    expect(samples.drain()).toEqual([]);
  });
});
