/**
 * The risk evaluator's failure paths, which the emulator cannot produce on demand: a concurrent writer of
 * the control state, a bus that refuses, a venue canceller that throws or fails a symbol, a store that
 * fails while evaluating. The happy paths run on the emulator and the simulator in
 * test/integration/risk-evaluator.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { type RiskEvaluatorDeps, type RiskMetrics, RiskEvaluator, parseFillMessage } from '../../../src/control/risk-evaluator.js';
import { type ControlSettings, ControlSettingsSchema } from '../../../src/control/settings.js';
import { type ControlChange, type ControlState, INITIAL_CONTROL_STATE } from '../../../src/core/control.js';
import { dec } from '../../../src/core/decimal.js';
import type { FillEventV1 } from '../../../src/core/events.js';
import { EMPTY_SUMS, type SymbolExposure } from '../../../src/core/exposure.js';
import type { CommitOutcome, ControlStore, VenueCancelReport } from '../../../src/ports/control.js';
import type { BusEvent } from '../../../src/ports/state-store.js';
import { handler, handlerFromEnvironment, isScheduledEvent, isSqsEvent } from '../../../lambdas/risk-evaluator.js';

const NOW = Date.UTC(2030, 0, 2, 3, 4, 30);

const settings: ControlSettings = ControlSettingsSchema.parse({
  stage: 'unit',
  shards: { a: ['BTCUSDT'] },
  venue: { restUrl: 'http://127.0.0.1:9', credentialsSecretId: 'x' },
  risk: {
    limits: { BTCUSDT: { maxPosition: '0.05', maxNotional: '1000000', maxDailyLoss: '1000', maxDrawdown: '1000', minEdgeBps: '-10000', maxFillsPerMinute: 100 } },
  },
});

const fill: FillEventV1 = {
  schemaVersion: 1,
  eventId: 'fill:e1',
  shard: 'a',
  symbol: 'BTCUSDT',
  execId: 'e1',
  orderId: 'o1',
  orderLinkId: '',
  side: 'Buy',
  price: '65000',
  qty: '0.01',
  fee: '0',
  feeRate: '0',
  isMaker: true,
  execTime: NOW,
};
const body = JSON.stringify({ version: '0', id: '1', 'detail-type': 'Fill', source: 'mm-rebate-bot.engine', time: '2030-01-02T03:04:30Z', region: 'x', resources: [], detail: fill });

/** Over the position limit, with a mark. */
const breaching: SymbolExposure = {
  symbol: 'BTCUSDT',
  total: { ...EMPTY_SUMS, netQty: dec('0.06') },
  lastPrice: { price: dec('65000'), execTime: NOW, execId: 'e1' },
  peakPnl: undefined,
  day: EMPTY_SUMS,
  minutes: new Map(),
};

class MemoryControl implements ControlStore {
  state: ControlState = INITIAL_CONTROL_STATE;
  /** States a concurrent writer stores just before each of the next commits. */
  readonly interleaved: ControlState[] = [];
  commits = 0;
  read(): Promise<ControlState> {
    return Promise.resolve(this.state);
  }
  commit(change: ControlChange): Promise<CommitOutcome> {
    this.commits += 1;
    const other = this.interleaved.shift();
    if (other) this.state = other;
    if (this.state.version !== change.before.version) return Promise.resolve({ ok: false, current: this.state });
    this.state = change.after;
    return Promise.resolve({ ok: true });
  }
  history(): Promise<never[]> {
    return Promise.resolve([]);
  }
}

function harness(overrides: Partial<RiskEvaluatorDeps> = {}) {
  const counts = new Map<string, number>();
  const metrics: RiskMetrics = {
    count: (name, value, dimensions) => {
      const key = dimensions ? `${name}{${Object.values(dimensions).join(',')}}` : name;
      counts.set(key, (counts.get(key) ?? 0) + value);
    },
  };
  const errors: string[] = [];
  const control = new MemoryControl();
  const published: BusEvent[] = [];
  const deps: RiskEvaluatorDeps = {
    exposure: { applyFill: () => Promise.resolve('applied'), raisePeak: () => Promise.resolve('raised'), read: () => Promise.resolve(breaching) },
    control,
    heartbeats: { read: () => Promise.resolve(new Map()) },
    publisher: {
      publish: (events) => {
        published.push(...events);
        return Promise.resolve([]);
      },
    },
    canceller: { cancelAll: (symbols) => Promise.resolve(symbols.map((symbol): VenueCancelReport => ({ symbol, ok: true, cancelled: 1 }))) },
    clock: () => NOW,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message) => errors.push(message) },
    metrics,
    settings,
    sleep: () => Promise.resolve(),
    ...overrides,
  };
  return { evaluator: new RiskEvaluator(deps), counts, errors, control, published };
}

describe('freezing', () => {
  it('decides again on the state a concurrent writer committed, and widens it', async () => {
    const h = harness();
    const other: ControlState = {
      version: 1,
      updatedAt: NOW,
      freeze: { mode: 'pause', symbols: ['ETHUSDT'], reason: { code: 'manual', message: 'operator' }, actor: 'op', frozenAt: NOW, resumeAt: NOW + 60_000 },
    };
    h.control.interleaved.push(other);
    expect(await h.evaluator.onFills([{ messageId: 'm1', body }])).toEqual({ batchItemFailures: [] });
    expect(h.control.commits).toBe(2);
    expect(h.control.state.version).toBe(2);
    expect(h.control.state.freeze).toMatchObject({ mode: 'hard', symbols: ['BTCUSDT', 'ETHUSDT'], reason: { code: 'position-limit' } });
    expect(h.published.map((event) => event.detail.eventId)).toEqual(['freeze:2']);
  });

  it('gives up after a few commits that all met another writer', async () => {
    const h = harness();
    for (let version = 1; version <= 5; version++) h.control.interleaved.push({ version, updatedAt: NOW, freeze: undefined });
    const result = await h.evaluator.onFills([{ messageId: 'm1', body }]);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(h.counts.get('EvaluationFailures')).toBe(1);
  });

  it('logs a Freeze event the bus refused or that failed, and keeps the freeze', async () => {
    let calls = 0;
    const h = harness({
      publisher: {
        publish: () => {
          calls += 1;
          return calls === 1 ? Promise.resolve([0]) : Promise.reject(new Error('bus down'));
        },
      },
    });
    expect(await h.evaluator.onFills([{ messageId: 'm1', body }])).toEqual({ batchItemFailures: [] });
    expect(calls).toBe(3);
    expect(h.counts.get('EventPublishFailures')).toBe(1);
    expect(h.errors).toContain('Freeze event not published: engines learn of it by polling the control state');
    expect(h.control.state.version).toBe(1);
  });

  it('counts a symbol the venue could not cancel, and a canceller that throws', async () => {
    const failing = harness({ canceller: { cancelAll: (symbols) => Promise.resolve(symbols.map((symbol) => ({ symbol, ok: false, cancelled: 0, error: 'timeout' }))) } });
    await failing.evaluator.onFills([{ messageId: 'm1', body }]);
    expect(failing.counts.get('VenueCancelFailures{BTCUSDT,position-limit}')).toBe(1);

    const throwing = harness({ canceller: { cancelAll: () => Promise.reject(new Error('no key')) } });
    expect(await throwing.evaluator.onFills([{ messageId: 'm1', body }])).toEqual({ batchItemFailures: [] });
    expect(throwing.counts.get('VenueCancelFailures{BTCUSDT,position-limit}')).toBe(1);
    expect(throwing.errors).toContain('cancel-all at the venue failed');
  });

  it('cancels every configured symbol for a hard stop of all symbols', async () => {
    const cancelled: string[][] = [];
    const h = harness({
      canceller: {
        cancelAll: (symbols) => {
          cancelled.push([...symbols]);
          return Promise.resolve([]);
        },
      },
      heartbeats: { read: () => Promise.resolve(new Map([['a', { schemaVersion: 1, eventId: 'heartbeat:a:1:0', shard: 'a', epoch: 1, sentAt: 0, phase: 'running', frozen: false, symbols: [] }]])) },
      settings: { ...settings, shards: { a: [] } },
    });
    await h.evaluator.onSchedule(NOW);
    // The shard names no symbols: its freeze covers every symbol, and every configured symbol is cancelled.
    expect(cancelled[0]).toEqual(['BTCUSDT']);
  });
});

describe('the schedule', () => {
  it('runs every part even when one fails, then throws naming it', async () => {
    const h = harness({
      exposure: { applyFill: () => Promise.resolve('applied'), raisePeak: () => Promise.resolve('raised'), read: () => Promise.reject(new Error('throttled')) },
      heartbeats: { read: () => Promise.reject(new Error('heartbeats unreadable')) },
    });
    await expect(h.evaluator.onSchedule(NOW)).rejects.toThrow('the scheduled risk run failed in part: stale-engine check: Error: heartbeats unreadable; rules of BTCUSDT: Error: throttled');
    expect(h.counts.get('EvaluationFailures')).toBe(2);
    expect(h.counts.get('ScheduledRuns')).toBe(1);
  });

  it('raises the peak it sees', async () => {
    const peaks: string[] = [];
    const winning: SymbolExposure = { ...breaching, total: { ...EMPTY_SUMS, cash: dec('5') } };
    const h = harness({ exposure: { applyFill: () => Promise.resolve('applied'), raisePeak: (_symbol, pnl) => Promise.resolve(peaks.push(pnl.toFixed())), read: () => Promise.resolve(winning) } });
    expect(await h.evaluator.onSchedule(NOW)).toEqual({ resumed: false, staleShards: [], breaches: {} });
    expect(peaks).toEqual(['5']);
  });
});

describe('records', () => {
  it('names what is wrong with a message', () => {
    expect(parseFillMessage('{')).toEqual({ ok: false, problem: 'the body is not JSON' });
    expect(parseFillMessage('[]')).toMatchObject({ ok: false, problem: expect.stringMatching(/^not an EventBridge event: \(root\): /) as unknown });
    expect(parseFillMessage(body.replace('"detail-type":"Fill"', '"detail-type":"Freeze"'))).toEqual({ ok: false, problem: 'detail-type "Freeze" is not Fill' });
    expect(parseFillMessage(body.replace('"qty":"0.01"', '"qty":"-1"'))).toMatchObject({ ok: false, problem: expect.stringContaining('invalid Fill detail: qty:') as unknown });
    expect(parseFillMessage(body)).toEqual({ ok: true, fill });
  });

  it('a fill the store refuses is retried, and so are the records of a symbol whose rules could not run', async () => {
    const h = harness({
      exposure: {
        applyFill: (one) => (one.execId === 'bad' ? Promise.reject(new Error('throttled')) : Promise.resolve('duplicate')),
        raisePeak: () => Promise.resolve('raised'),
        read: () => Promise.reject(new Error('read timed out')),
      },
    });
    const bad = body.replaceAll('e1', 'bad');
    expect(await h.evaluator.onFills([{ messageId: 'm1', body }, { messageId: 'm2', body: bad }])).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    expect(h.counts.get('FillDuplicates')).toBe(1);
    expect(h.counts.get('RecordFailures')).toBe(1);
  });
});

describe('the Lambda entry', () => {
  it('tells an SQS batch and a scheduled event apart', () => {
    expect(isSqsEvent({ Records: [{ eventSource: 'aws:sqs' }] })).toBe(true);
    expect(isSqsEvent({ Records: [] })).toBe(false);
    expect(isSqsEvent({ Records: [{ eventSource: 'aws:sqs' }, { eventSource: 'aws:s3' }] })).toBe(false);
    expect(isSqsEvent(null)).toBe(false);
    expect(isScheduledEvent({ 'detail-type': 'Scheduled Event', source: 'aws.events' })).toBe(true);
    expect(isScheduledEvent({ 'detail-type': 'Scheduled Event', source: 'mm-rebate-bot.engine' })).toBe(false);
  });

  it('refuses to start without its settings', async () => {
    expect(() => handlerFromEnvironment({})).toThrow('MMRB_CONTROL_SETTINGS is not set');
    const saved = process.env.MMRB_CONTROL_SETTINGS;
    delete process.env.MMRB_CONTROL_SETTINGS;
    try {
      await expect(async () => handler({}, {} as never)).rejects.toThrow('MMRB_CONTROL_SETTINGS is not set');
    } finally {
      if (saved !== undefined) process.env.MMRB_CONTROL_SETTINGS = saved;
    }
    expect(typeof handlerFromEnvironment({ MMRB_CONTROL_SETTINGS: JSON.stringify(settings), AWS_REGION: 'ap-southeast-1' })).toBe('function');
    expect(typeof handlerFromEnvironment({ MMRB_CONTROL_SETTINGS: JSON.stringify(settings) })).toBe('function');
  });
});
