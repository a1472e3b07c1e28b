/** The control-state rules (src/core/control.ts): freezes widen only, unfreeze by version, auto-resume, stored shapes, audit and events. */
import { describe, expect, it } from '@jest/globals';
import {
  type ActiveFreeze,
  AuditItemSchema,
  type ControlChange,
  ControlItemSchema,
  type ControlState,
  type FreezeRequest,
  INITIAL_CONTROL_STATE,
  auditItem,
  controlEvent,
  controlItem,
  controlStateOf,
  decideAutoResume,
  decideFreeze,
  decideUnfreeze,
  effectiveFreeze,
  isFreezeReasonCode,
  isSymbolFrozen,
} from '../../../src/core/control.js';
import { parseEventDetail } from '../../../src/core/events.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const OPERATOR = 'arn:aws:iam::123456789012:user/operator';

const hard = (symbols: string[] = [], extra: Partial<FreezeRequest> = {}): FreezeRequest => ({ mode: 'hard', symbols, reason: { code: 'manual', message: 'stop' }, actor: OPERATOR, ...extra });
const pause = (minutes: number, symbols: string[] = [], extra: Partial<FreezeRequest> = {}): FreezeRequest => ({
  mode: 'pause',
  symbols,
  reason: { code: 'fill-rate-anomaly', message: 'too many fills' },
  actor: 'risk-evaluator',
  resumeAt: NOW + minutes * MINUTE,
  ...extra,
});

function frozen(freeze: Partial<ActiveFreeze>, version = 3): ControlState {
  return {
    version,
    updatedAt: NOW - MINUTE,
    freeze: { mode: 'hard', symbols: [], reason: { code: 'manual', message: 'earlier' }, actor: OPERATOR, frozenAt: NOW - MINUTE, resumeAt: undefined, ...freeze },
  };
}

function changeOf(state: ControlState, request: FreezeRequest, now = NOW): ControlChange {
  const decision = decideFreeze(state, request, now);
  if (decision.kind !== 'change') throw new Error(`expected a change, got ${decision.kind}: ${decision.why}`);
  return decision.change;
}

describe('decideFreeze', () => {
  it('freezes an unfrozen state: version +1, the request\'s scope (deduplicated, sorted), the reason and actor, the audit reason', () => {
    const change = changeOf(INITIAL_CONTROL_STATE, hard(['ETHUSDT', 'BTCUSDT', 'ETHUSDT']));
    expect(change).toEqual({
      action: 'freeze',
      before: INITIAL_CONTROL_STATE,
      after: { version: 1, updatedAt: NOW, freeze: { mode: 'hard', symbols: ['BTCUSDT', 'ETHUSDT'], reason: { code: 'manual', message: 'stop' }, actor: OPERATOR, frozenAt: NOW, resumeAt: undefined } },
      actor: OPERATOR,
      reason: 'manual: stop',
      at: NOW,
    });
  });

  it('a pause keeps its resume time', () => {
    expect(changeOf(INITIAL_CONTROL_STATE, pause(5)).after.freeze).toMatchObject({ mode: 'pause', symbols: [], resumeAt: NOW + 5 * MINUTE });
  });

  it('a pause needs a resume time in the future; a hard stop refuses one', () => {
    expect(decideFreeze(INITIAL_CONTROL_STATE, pause(0), NOW)).toMatchObject({ kind: 'conflict', why: expect.stringContaining('future') });
    expect(decideFreeze(INITIAL_CONTROL_STATE, pause(-1), NOW)).toMatchObject({ kind: 'conflict' });
    const { resumeAt: _drop, ...withoutResume } = pause(5);
    expect(decideFreeze(INITIAL_CONTROL_STATE, withoutResume, NOW)).toMatchObject({ kind: 'conflict', state: INITIAL_CONTROL_STATE });
    expect(decideFreeze(INITIAL_CONTROL_STATE, hard([], { resumeAt: NOW + MINUTE }), NOW)).toMatchObject({ kind: 'conflict', why: expect.stringContaining('only a person') });
  });

  it('widening: the scopes join (every symbol wins over a list)', () => {
    expect(changeOf(frozen({ symbols: ['BTCUSDT'] }), hard(['ETHUSDT'])).after.freeze?.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(changeOf(frozen({ symbols: ['BTCUSDT'] }), hard([])).after.freeze?.symbols).toEqual([]);
    expect(changeOf(frozen({ mode: 'pause', symbols: [], resumeAt: NOW + MINUTE }), pause(5, ['BTCUSDT'])).after.freeze?.symbols).toEqual([]);
  });

  it('widening: a hard stop wins over a pause, both ways', () => {
    const pausedAll = frozen({ mode: 'pause', resumeAt: NOW + 10 * MINUTE });
    expect(changeOf(pausedAll, hard(['BTCUSDT'])).after.freeze).toMatchObject({ mode: 'hard', symbols: [], resumeAt: undefined });
    const hardOne = frozen({ mode: 'hard', symbols: ['BTCUSDT'] });
    expect(changeOf(hardOne, pause(5, ['ETHUSDT'])).after.freeze).toMatchObject({ mode: 'hard', symbols: ['BTCUSDT', 'ETHUSDT'], resumeAt: undefined });
  });

  it('widening: the later resume time wins', () => {
    const paused = frozen({ mode: 'pause', symbols: ['BTCUSDT'], resumeAt: NOW + 30 * MINUTE });
    // A shorter pause of a new symbol widens the scope and keeps the later resume.
    expect(changeOf(paused, pause(5, ['ETHUSDT'])).after.freeze).toMatchObject({ symbols: ['BTCUSDT', 'ETHUSDT'], resumeAt: NOW + 30 * MINUTE });
    // A longer pause of the same symbol lengthens it.
    expect(changeOf(paused, pause(60, ['BTCUSDT'])).after.freeze).toMatchObject({ symbols: ['BTCUSDT'], resumeAt: NOW + 60 * MINUTE });
  });

  it('a freeze the current one covers changes nothing (a rule firing twice writes once)', () => {
    const cases: [ControlState, FreezeRequest][] = [
      [frozen({ mode: 'hard', symbols: [] }), hard(['BTCUSDT'])],
      [frozen({ mode: 'hard', symbols: [] }), pause(5)],
      [frozen({ mode: 'hard', symbols: ['BTCUSDT', 'ETHUSDT'] }), hard(['ETHUSDT'])],
      [frozen({ mode: 'pause', symbols: [], resumeAt: NOW + 30 * MINUTE }), pause(30, ['BTCUSDT'])],
      [frozen({ mode: 'pause', symbols: ['BTCUSDT'], resumeAt: NOW + 30 * MINUTE }), pause(10, ['BTCUSDT'])],
    ];
    for (const [state, request] of cases) {
      expect(decideFreeze(state, request, NOW)).toEqual({ kind: 'unchanged', state, why: expect.stringContaining(`version ${state.version}`) });
    }
  });

  it('is not covered by a narrower scope, by a pause when asked for a hard stop, or by a pause with no resume time', () => {
    expect(decideFreeze(frozen({ symbols: ['BTCUSDT'] }), hard([]), NOW).kind).toBe('change');
    expect(decideFreeze(frozen({ symbols: ['BTCUSDT'] }), hard(['BTCUSDT', 'ETHUSDT']), NOW).kind).toBe('change');
    expect(decideFreeze(frozen({ mode: 'pause', resumeAt: NOW + 60 * MINUTE }), hard([]), NOW).kind).toBe('change');
    // A stored pause without a resume time (these rules never write one) covers no pause that has one.
    const odd = frozen({ mode: 'pause', resumeAt: undefined });
    expect(changeOf(odd, pause(5)).after.freeze).toMatchObject({ mode: 'pause', resumeAt: NOW + 5 * MINUTE });
  });

  it('an expired pause counts as no freeze: the new freeze replaces it', () => {
    const expired = frozen({ mode: 'pause', symbols: [], resumeAt: NOW - 1 });
    expect(changeOf(expired, hard(['BTCUSDT'])).after).toMatchObject({ version: 4, freeze: { mode: 'hard', symbols: ['BTCUSDT'] } });
  });
});

describe('decideUnfreeze', () => {
  it('lifts the freeze of the version named', () => {
    const state = frozen({}, 7);
    expect(decideUnfreeze(state, { version: 7, reason: 'all clear', actor: OPERATOR }, NOW)).toEqual({
      kind: 'change',
      change: { action: 'unfreeze', before: state, after: { version: 8, freeze: undefined, updatedAt: NOW }, actor: OPERATOR, reason: 'all clear', at: NOW },
    });
  });

  it('refuses a stale version and an unfrozen state', () => {
    const state = frozen({}, 7);
    expect(decideUnfreeze(state, { version: 6, reason: 'x', actor: OPERATOR }, NOW)).toEqual({ kind: 'conflict', state, why: expect.stringContaining('version 6 is not the current one (7)') });
    const lifted = { version: 8, freeze: undefined, updatedAt: NOW };
    expect(decideUnfreeze(lifted, { version: 8, reason: 'x', actor: OPERATOR }, NOW)).toEqual({ kind: 'conflict', state: lifted, why: expect.stringContaining('nothing is frozen') });
  });
});

describe('decideAutoResume', () => {
  it('lifts a pause past its resume time, saying when it expired', () => {
    const state = frozen({ mode: 'pause', resumeAt: NOW - 1 });
    const decision = decideAutoResume(state, 'risk-evaluator', NOW);
    expect(decision).toEqual({
      kind: 'change',
      change: { action: 'auto-resume', before: state, after: { version: 4, freeze: undefined, updatedAt: NOW }, actor: 'risk-evaluator', reason: `pause expired at ${new Date(NOW - 1).toISOString()}`, at: NOW },
    });
    expect(decideAutoResume(frozen({ mode: 'pause', resumeAt: NOW }), 'r', NOW).kind).toBe('change');
  });

  it('leaves alone nothing frozen, a hard stop, a pause without resume time, and a running pause', () => {
    for (const state of [INITIAL_CONTROL_STATE, frozen({ mode: 'hard' }), frozen({ mode: 'pause', resumeAt: undefined }), frozen({ mode: 'pause', resumeAt: NOW + 1 })]) {
      expect(decideAutoResume(state, 'r', NOW)).toEqual({ kind: 'unchanged', state, why: 'no pause has expired' });
    }
  });
});

describe('effectiveFreeze and isSymbolFrozen', () => {
  it('a hard stop holds; a pause holds until its resume time; nothing is nothing', () => {
    const hardAll = frozen({ mode: 'hard' });
    expect(effectiveFreeze(hardAll, NOW + 1e9)).toBe(hardAll.freeze);
    const paused = frozen({ mode: 'pause', resumeAt: NOW + 10 });
    expect(effectiveFreeze(paused, NOW + 9)).toBe(paused.freeze);
    expect(effectiveFreeze(paused, NOW + 10)).toBeUndefined();
    expect(effectiveFreeze(frozen({ mode: 'pause', resumeAt: undefined }), NOW)).toBeDefined();
    expect(effectiveFreeze(INITIAL_CONTROL_STATE, NOW)).toBeUndefined();
  });

  it('a symbol is frozen by a freeze of every symbol or of its own', () => {
    expect(isSymbolFrozen(frozen({ symbols: [] }), 'BTCUSDT', NOW)).toBe(true);
    expect(isSymbolFrozen(frozen({ symbols: ['BTCUSDT'] }), 'BTCUSDT', NOW)).toBe(true);
    expect(isSymbolFrozen(frozen({ symbols: ['BTCUSDT'] }), 'ETHUSDT', NOW)).toBe(false);
    expect(isSymbolFrozen(frozen({ mode: 'pause', resumeAt: NOW }), 'BTCUSDT', NOW)).toBe(false);
    expect(isSymbolFrozen(INITIAL_CONTROL_STATE, 'BTCUSDT', NOW)).toBe(false);
  });
});

describe('stored shapes', () => {
  it('controlItem and controlStateOf round-trip, with and without a freeze and a resume time', () => {
    const states = [INITIAL_CONTROL_STATE, frozen({ mode: 'hard', symbols: ['BTCUSDT'] }), frozen({ mode: 'pause', resumeAt: NOW + MINUTE })];
    for (const state of states) {
      const item = controlItem(state);
      expect(ControlItemSchema.parse(JSON.parse(JSON.stringify(item)))).toEqual(item);
      expect(controlStateOf(item)).toEqual(state);
    }
    expect(controlItem(INITIAL_CONTROL_STATE)).toEqual({ pk: 'control', version: 0, updatedAt: 0 });
    expect('resumeAt' in (controlItem(frozen({ mode: 'hard' })).freeze ?? {})).toBe(false);
  });

  it('the stored item copies the freeze (a later change to the state does not reach it)', () => {
    const state = frozen({ symbols: ['BTCUSDT'] });
    const item = controlItem(state);
    expect(item.freeze?.symbols).not.toBe(state.freeze?.symbols);
    expect(item.freeze?.reason).not.toBe(state.freeze?.reason);
  });

  it('knows the reason codes', () => {
    expect(isFreezeReasonCode('manual')).toBe(true);
    expect(isFreezeReasonCode('stale-engine')).toBe(true);
    expect(isFreezeReasonCode('because')).toBe(false);
  });
});

describe('audit and events', () => {
  it('the audit record names the action, actor, reason and version, with before and after as stored items; its key sorts by time then version', () => {
    const change = changeOf(frozen({ symbols: ['BTCUSDT'] }, 41), hard(['ETHUSDT']));
    const item = auditItem(change);
    expect(AuditItemSchema.parse(item)).toEqual(item);
    expect(item).toEqual({
      scope: 'control',
      at: `${new Date(NOW).toISOString()}#0000000042`,
      action: 'freeze',
      actor: OPERATOR,
      reason: 'manual: stop',
      version: 42,
      before: JSON.stringify(controlItem(change.before)),
      after: JSON.stringify(controlItem(change.after)),
    });
    expect(JSON.parse(item.after)).toMatchObject({ version: 42, freeze: { symbols: ['BTCUSDT', 'ETHUSDT'] } });
  });

  it('a freeze is a Freeze event keyed by the new version, valid against its schema', () => {
    const change = changeOf(INITIAL_CONTROL_STATE, pause(5, ['BTCUSDT']));
    const event = controlEvent(change);
    expect(event).toEqual({
      detailType: 'Freeze',
      detail: { schemaVersion: 1, eventId: 'freeze:1', freezeVersion: 1, symbols: ['BTCUSDT'], reason: { code: 'fill-rate-anomaly', message: 'too many fills' }, actor: 'risk-evaluator', frozenAt: NOW },
    });
    expect(parseEventDetail(event.detailType, event.detail)).toEqual({ ok: true, event });
  });

  it('an unfreeze and an auto-resume are Unfreeze events keyed by the version lifted, valid against their schema', () => {
    const state = frozen({ mode: 'pause', resumeAt: NOW - 1 }, 9);
    const unfreeze = decideUnfreeze(state, { version: 9, reason: 'all clear', actor: OPERATOR }, NOW);
    const resume = decideAutoResume(state, 'risk-evaluator', NOW);
    if (unfreeze.kind !== 'change' || resume.kind !== 'change') throw new Error('expected changes');
    const lifted = controlEvent(unfreeze.change);
    expect(lifted).toEqual({ detailType: 'Unfreeze', detail: { schemaVersion: 1, eventId: 'unfreeze:9', freezeVersion: 9, reason: { message: 'all clear' }, actor: OPERATOR, unfrozenAt: NOW } });
    expect(parseEventDetail(lifted.detailType, lifted.detail)).toEqual({ ok: true, event: lifted });
    const resumed = controlEvent(resume.change);
    expect(resumed).toMatchObject({ detailType: 'Unfreeze', detail: { eventId: 'unfreeze:9', actor: 'risk-evaluator', reason: { message: expect.stringContaining('pause expired') } } });
    expect(parseEventDetail(resumed.detailType, resumed.detail)).toMatchObject({ ok: true });
  });
});

describe('stored freeze consistency', () => {
  const base = { pk: 'control', version: 2, updatedAt: 1, freeze: { symbols: [], reason: { code: 'manual', message: 'x' }, actor: 'op', frozenAt: 1 } } as const;
  it('refuses a pause without a resume time and a hard stop with one', () => {
    expect(ControlItemSchema.safeParse({ ...base, freeze: { ...base.freeze, mode: 'pause' } }).success).toBe(false);
    expect(ControlItemSchema.safeParse({ ...base, freeze: { ...base.freeze, mode: 'hard', resumeAt: 5 } }).success).toBe(false);
    expect(ControlItemSchema.safeParse({ ...base, freeze: { ...base.freeze, mode: 'pause', resumeAt: 5 } }).success).toBe(true);
    expect(ControlItemSchema.safeParse({ ...base, freeze: { ...base.freeze, mode: 'hard' } }).success).toBe(true);
  });
});
