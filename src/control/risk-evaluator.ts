/**
 * The risk evaluator (docs/RISK.md): counts every Fill event once into the exposure sums, checks each
 * touched symbol's limits, and freezes trading on a breach; on a schedule it checks every symbol (edge
 * windows and the fill rate move with time alone), lifts expired pauses, and watches the engines'
 * heartbeats: a stale engine is frozen and its orders are cancelled at the venue (the watchdog).
 *
 * Imperative shell around src/core/exposure.ts and src/core/control.ts; every port is passed in, so the
 * Lambda (lambdas/risk-evaluator.ts), the local stack and the tests build it with their own clients.
 *
 * Failure handling: a record that cannot be parsed, or whose fill could not be stored, is reported back as
 * a batch item failure (SQS delivers it again, then moves it to the DLQ), and nothing of it was counted;
 * the other records of the batch succeed. Counting is idempotent (a fill is counted once by its execId),
 * so a retried record only evaluates again. A freeze is written with its audit record in one conditional
 * transaction; a breach seen twice freezes once.
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { type ControlChange, type ControlDecision, type ControlState, type FreezeRequest, controlEvent, decideAutoResume, decideFreeze } from '../core/control.js';
import type { Decimal } from '../core/decimal.js';
import { type EngineHeartbeatV1, type FillEventV1, parseEventDetail } from '../core/events.js';
import { type ExposureEvaluation, type SymbolExposure, evaluateExposure, freezeRequestOf, minutesToRead, utcDay } from '../core/exposure.js';
import type { ControlStore, VenueCancelReport, VenueCanceller } from '../ports/control.js';
import type { Logger } from '../ports/logger.js';
import type { EventPublisher } from '../ports/state-store.js';
import { type ControlSettings, allSymbols } from './settings.js';

/** Who the audit trail and the events name as the actor of the evaluator's changes. */
export const RISK_EVALUATOR_ACTOR = 'risk-evaluator';

/** Where the exposure sums are kept (src/adapters/dynamodb/exposure-store.ts). */
export interface ExposureStore {
  /** Counts a fill once by its execId: 'duplicate' when it was counted before (nothing changes then). */
  applyFill(fill: FillEventV1): Promise<'applied' | 'duplicate'>;
  /** Raises the stored PnL high-water mark, unless a higher one is stored. */
  raisePeak(symbol: string, pnl: Decimal): Promise<unknown>;
  read(symbol: string, day: string, minutes: readonly number[]): Promise<SymbolExposure>;
}

/** The newest heartbeat of each shard that has one (src/adapters/dynamodb/heartbeat-store.ts). */
export interface HeartbeatReader {
  read(shards: readonly string[]): Promise<ReadonlyMap<string, EngineHeartbeatV1>>;
}

export type RiskMetricName =
  /** Records received, and scheduled runs started: an alarm on their absence finds a dead evaluator (and watchdog). */
  | 'FillRecords'
  | 'ScheduledRuns'
  | 'FillsApplied'
  | 'FillDuplicates'
  | 'MalformedRecords'
  | 'RecordFailures'
  | 'Breaches'
  | 'Freezes'
  | 'AutoResumes'
  | 'StaleShards'
  | 'VenueCancels'
  | 'VenueCancelFailures'
  | 'OrdersCancelled'
  | 'EventPublishFailures'
  | 'EvaluationFailures';

/** Counters; the Lambda writes them as CloudWatch metrics (EMF). */
export interface RiskMetrics {
  count(name: RiskMetricName, value: number, dimensions?: Readonly<Record<string, string>>): void;
}

export interface RiskEvaluatorDeps {
  readonly exposure: ExposureStore;
  readonly control: ControlStore;
  readonly heartbeats: HeartbeatReader;
  readonly publisher: EventPublisher;
  readonly canceller: VenueCanceller;
  /** ms since 1970. */
  readonly clock: () => number;
  readonly logger: Logger;
  readonly metrics: RiskMetrics;
  readonly settings: ControlSettings;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The SQS record fields the evaluator reads. */
export type FillMessage = Pick<SQSRecord, 'messageId' | 'body'>;

/** An EventBridge event as a rule delivers it to SQS (the emulator's has no `account`). */
const EnvelopeSchema = z.object({
  version: z.string(),
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string().optional(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});

type ParsedMessage = { readonly ok: true; readonly fill: FillEventV1 } | { readonly ok: false; readonly problem: string };

/** The fill an SQS record carries, or what is wrong with it. */
export function parseFillMessage(body: string): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'the body is not JSON' };
  }
  const envelope = EnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return { ok: false, problem: `not an EventBridge event: ${envelope.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}` };
  }
  const detailType = envelope.data['detail-type'];
  if (detailType !== 'Fill') return { ok: false, problem: `detail-type ${JSON.stringify(detailType)} is not Fill` };
  const parsed = parseEventDetail(detailType, envelope.data.detail);
  if (!parsed.ok) return { ok: false, problem: `invalid Fill detail: ${parsed.errors.join('; ')}` };
  // parseEventDetail returns the detail type it was given, so this is a Fill.
  return { ok: true, fill: parsed.event.detail as FillEventV1 };
}

export interface ScheduleReport {
  readonly resumed: boolean;
  readonly staleShards: readonly string[];
  /** Reason codes of the breaches found, by symbol (symbols without any are left out). */
  readonly breaches: Readonly<Record<string, readonly string[]>>;
}

/** Tries of a control change whose commit met a concurrent writer. */
const MAX_COMMIT_ATTEMPTS = 5;
/** Tries of publishing a Freeze or Unfreeze event. */
const PUBLISH_ATTEMPTS = 3;

const describeError = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export class RiskEvaluator {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: RiskEvaluatorDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** One SQS batch of Fill events: returns the records to be delivered again (and, after enough tries, dead-lettered). */
  async onFills(records: readonly FillMessage[]): Promise<SQSBatchResponse> {
    const { exposure, logger, metrics, settings } = this.deps;
    metrics.count('FillRecords', records.length);
    const failed = new Set<string>();
    const touched = new Map<string, string[]>();
    for (const record of records) {
      const parsed = parseFillMessage(record.body);
      if (!parsed.ok) {
        logger.error('malformed fill record: left for the DLQ', { messageId: record.messageId, problem: parsed.problem });
        metrics.count('MalformedRecords', 1);
        failed.add(record.messageId);
        continue;
      }
      const { fill } = parsed;
      let outcome: 'applied' | 'duplicate';
      try {
        outcome = await exposure.applyFill(fill);
      } catch (error) {
        logger.error('fill not applied: to be retried', { messageId: record.messageId, eventId: fill.eventId, symbol: fill.symbol, error: describeError(error) });
        metrics.count('RecordFailures', 1);
        failed.add(record.messageId);
        continue;
      }
      metrics.count(outcome === 'applied' ? 'FillsApplied' : 'FillDuplicates', 1);
      if (outcome === 'duplicate') logger.info('fill counted before', { messageId: record.messageId, eventId: fill.eventId });
      if (!(fill.symbol in settings.risk.limits)) {
        logger.warn('fill of a symbol without risk limits: counted, no rules', { messageId: record.messageId, eventId: fill.eventId, symbol: fill.symbol });
        continue;
      }
      const ids = touched.get(fill.symbol) ?? [];
      ids.push(record.messageId);
      touched.set(fill.symbol, ids);
    }

    const now = this.deps.clock();
    for (const [symbol, messageIds] of touched) {
      try {
        await this.evaluateSymbol(symbol, now);
      } catch (error) {
        // The fills are counted; delivered again, they count as duplicates and evaluate once more.
        logger.error('rules not evaluated: the batch records of this symbol will be retried', { symbol, messageIds, error: describeError(error) });
        metrics.count('EvaluationFailures', 1);
        for (const id of messageIds) failed.add(id);
      }
    }
    return { batchItemFailures: records.filter((record) => failed.has(record.messageId)).map((record) => ({ itemIdentifier: record.messageId })) };
  }

  /**
   * The scheduled run: lifts an expired pause, checks every shard's heartbeat (freeze and cancel at the
   * venue while stale), and every configured symbol's rules. Each part runs even if another failed; the
   * run throws at the end if any did, so the invocation counts as an error.
   */
  async onSchedule(now: number): Promise<ScheduleReport> {
    const { logger, settings } = this.deps;
    this.deps.metrics.count('ScheduledRuns', 1);
    const problems: string[] = [];
    const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        problems.push(`${what}: ${describeError(error)}`);
        logger.error(`scheduled ${what} failed`, { error: describeError(error) });
        this.deps.metrics.count('EvaluationFailures', 1);
      }
    };
    let resumed = false;
    let staleShards: string[] = [];
    const breaches: Record<string, string[]> = {};
    await attempt('auto-resume', async () => {
      resumed = (await this.commitControl((state) => decideAutoResume(state, RISK_EVALUATOR_ACTOR, now))) === 'changed';
      if (resumed) this.deps.metrics.count('AutoResumes', 1);
    });
    await attempt('stale-engine check', async () => {
      staleShards = await this.checkHeartbeats(now);
    });
    for (const symbol of Object.keys(settings.risk.limits).sort()) {
      await attempt(`rules of ${symbol}`, async () => {
        const evaluation = await this.evaluateSymbol(symbol, now);
        if (evaluation.breaches.length > 0) breaches[symbol] = evaluation.breaches.map((breach) => breach.code);
      });
    }
    if (problems.length > 0) throw new Error(`the scheduled risk run failed in part: ${problems.join('; ')}`);
    return { resumed, staleShards, breaches };
  }

  /** Reads the symbol's exposure at `now`, raises its peak, and freezes on a breach. */
  private async evaluateSymbol(symbol: string, now: number): Promise<ExposureEvaluation> {
    const { exposure, logger, metrics, settings } = this.deps;
    const limits = settings.risk.limits[symbol];
    if (!limits) throw new Error(`no risk limits for ${symbol}`);
    const stored = await exposure.read(symbol, utcDay(now), minutesToRead(limits, now));
    const evaluation = evaluateExposure(stored, limits, now, settings.risk.fillRatePauseMs);
    for (const breach of evaluation.breaches) {
      metrics.count('Breaches', 1, { reason: breach.code });
      logger.warn('risk limit breached', { symbol, reason: breach.code, mode: breach.mode, message: breach.message });
    }
    const request = freezeRequestOf(symbol, evaluation.breaches, RISK_EVALUATOR_ACTOR);
    // The new peak is stored alongside the freeze, not before it: a breach acts first.
    await Promise.all([evaluation.newPeakPnl ? exposure.raisePeak(symbol, evaluation.newPeakPnl) : undefined, request ? this.freeze(request, now) : undefined]);
    return evaluation;
  }

  /** Stale shards at `now`: a heartbeat older than heartbeatStaleMs from an engine that did not say it stopped. */
  private async checkHeartbeats(now: number): Promise<string[]> {
    const { heartbeats, logger, metrics, settings } = this.deps;
    const shards = Object.keys(settings.shards).sort();
    const newest = await heartbeats.read(shards);
    const stale: string[] = [];
    for (const shard of shards) {
      const heartbeat = newest.get(shard);
      // A shard that never ran has nothing at the venue to watch; one that stopped cleanly cancelled its orders.
      if (!heartbeat || heartbeat.phase === 'stopped') continue;
      const age = now - heartbeat.sentAt;
      if (age <= settings.risk.heartbeatStaleMs) continue;
      stale.push(shard);
      metrics.count('StaleShards', 1);
      const symbols = settings.shards[shard] ?? [];
      const message = `shard ${shard}: newest heartbeat is ${age} ms old (sent ${new Date(heartbeat.sentAt).toISOString()}, epoch ${heartbeat.epoch}, phase ${heartbeat.phase}), more than heartbeatStaleMs ${settings.risk.heartbeatStaleMs}`;
      logger.error('engine stale: freezing its symbols and cancelling at the venue (watchdog)', { shard, symbols, ageMs: age, epoch: heartbeat.epoch, phase: heartbeat.phase });
      await this.freeze({ mode: 'hard', symbols, reason: { code: 'stale-engine', message }, actor: RISK_EVALUATOR_ACTOR }, now);
    }
    return stale;
  }

  /**
   * Freezes as `request` asks (widening only; nothing is written if the current freeze covers it), and on a
   * hard stop cancels the scope's orders at the venue, every time: a hard stop must hold even if the engine
   * hangs, and a cancel-all of nothing is cheap.
   */
  private async freeze(request: FreezeRequest, now: number): Promise<void> {
    // The cancel at the venue goes out at once, beside the write of the freeze: it is what stops the
    // trading, and it needs nothing from the control state.
    const cancelling = request.mode === 'hard' ? this.cancelAtVenue(request.symbols.length > 0 ? request.symbols : this.everySymbol(), request.reason.code) : undefined;
    const [outcome] = await Promise.all([this.commitControl((state) => decideFreeze(state, request, now)), cancelling]);
    // Without a dimension, so that one alarm sees every freeze; the reason is in the log, Breaches and the audit.
    if (outcome === 'changed') this.deps.metrics.count('Freezes', 1);
  }

  /** Every symbol the settings name: traded by a shard, or with limits. */
  private everySymbol(): string[] {
    const { settings } = this.deps;
    return [...new Set([...allSymbols(settings), ...Object.keys(settings.risk.limits)])].sort();
  }

  /**
   * Decides a change on the current control state and commits it; a commit that met a concurrent writer
   * decides again on what that writer stored. A committed change is announced on the bus.
   */
  private async commitControl(decide: (state: ControlState) => ControlDecision): Promise<'changed' | 'unchanged'> {
    const { control, logger } = this.deps;
    let state = await control.read();
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      const decision = decide(state);
      if (decision.kind === 'unchanged') {
        logger.info('control state unchanged', { why: decision.why, version: state.version });
        return 'unchanged';
      }
      if (decision.kind === 'conflict') throw new Error(`control change refused: ${decision.why}`);
      const committed = await control.commit(decision.change);
      if (committed.ok) {
        logger.warn(`control state changed: ${decision.change.action}`, { version: decision.change.after.version, reason: decision.change.reason, freeze: decision.change.after.freeze });
        await this.announce(decision.change);
        return 'changed';
      }
      state = committed.current;
    }
    throw new Error(`the control state kept changing under ${MAX_COMMIT_ATTEMPTS} attempts to commit`);
  }

  /** Publishes a change's Freeze or Unfreeze event, a few times; engines also poll the control state, so a failure is logged, not thrown. */
  private async announce(change: ControlChange): Promise<void> {
    const { publisher, logger, metrics } = this.deps;
    const event = controlEvent(change);
    let failure = 'refused by the bus';
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
      try {
        const refused = await publisher.publish([{ detailType: event.detailType, detail: event.detail, time: change.at }]);
        if (refused.length === 0) return;
        failure = 'refused by the bus';
      } catch (error) {
        failure = describeError(error);
      }
      if (attempt < PUBLISH_ATTEMPTS) await this.sleep(100 * 2 ** attempt);
    }
    metrics.count('EventPublishFailures', 1);
    logger.error(`${event.detailType} event not published: engines learn of it by polling the control state`, { eventId: event.detail.eventId, error: failure });
  }

  /** Cancel-all at the venue for `symbols`; what it achieved is logged and counted per symbol. */
  private async cancelAtVenue(symbols: readonly string[], cause: string): Promise<VenueCancelReport[]> {
    const { canceller, logger, metrics } = this.deps;
    let reports: VenueCancelReport[];
    try {
      reports = await canceller.cancelAll(symbols);
    } catch (error) {
      // No key, say: nothing was cancelled. The freeze stands, and the next run tries again.
      logger.error('cancel-all at the venue failed', { symbols, cause, error: describeError(error) });
      for (const symbol of symbols) metrics.count('VenueCancelFailures', 1, { symbol, cause });
      return [];
    }
    for (const report of reports) {
      if (report.ok) {
        metrics.count('VenueCancels', 1, { symbol: report.symbol, cause });
        metrics.count('OrdersCancelled', report.cancelled, { symbol: report.symbol, cause });
        logger.warn('cancelled at the venue', { symbol: report.symbol, cause, cancelled: report.cancelled });
      } else {
        metrics.count('VenueCancelFailures', 1, { symbol: report.symbol, cause });
        logger.error('cancel-all at the venue failed for a symbol', { symbol: report.symbol, cause, error: report.error });
      }
    }
    return reports;
  }
}
