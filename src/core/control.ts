/**
 * The control state of a stage: whether trading is frozen, for which symbols, why, and until when. Pure
 * rules; src/adapters/dynamodb/control-store.ts keeps the state in the control table (item `control`) and
 * writes every change together with its audit record, conditioned on the version it was computed from.
 *
 * Semantics (the kill switch):
 * - A freeze is a **pause** (it lifts itself at `resumeAt`) or a **hard** stop (only a person lifts it).
 * - A freeze covers every symbol (`symbols` empty) or the named ones.
 * - Freezing while frozen widens the freeze, never narrows it: the scopes join, a hard stop wins over a
 *   pause, and the later resume time wins. A freeze that the current one already covers changes nothing,
 *   so a rule that fires twice (a fill event delivered twice) writes once.
 * - Unfreezing names the version it lifts: two operators acting on the same state cannot both succeed,
 *   and nobody lifts a freeze they have not seen.
 * - Every change raises `version` by one; the Freeze and Unfreeze events carry it (their idempotency key).
 */
import * as z from 'zod';
import { FREEZE_REASON_CODES, type FreezeEventV1, type FreezeReasonCode, type UnfreezeEventV1 } from './events.js';

export type FreezeMode = 'pause' | 'hard';

export interface FreezeReason {
  readonly code: FreezeReasonCode;
  readonly message: string;
}

export interface ActiveFreeze {
  readonly mode: FreezeMode;
  /** Symbols frozen; empty means every symbol. */
  readonly symbols: readonly string[];
  readonly reason: FreezeReason;
  /** An IAM principal ARN for operators, or the component that acted. */
  readonly actor: string;
  readonly frozenAt: number;
  /** A pause lifts itself at this time (ms since 1970); a hard stop has none. */
  readonly resumeAt: number | undefined;
}

export interface ControlState {
  /** Raised by one on every change; 0 before the first. */
  readonly version: number;
  readonly freeze: ActiveFreeze | undefined;
  readonly updatedAt: number;
}

export const INITIAL_CONTROL_STATE: ControlState = { version: 0, freeze: undefined, updatedAt: 0 };

export interface FreezeRequest {
  readonly mode: FreezeMode;
  /** Empty: every symbol. */
  readonly symbols: readonly string[];
  readonly reason: FreezeReason;
  readonly actor: string;
  /** For a pause: when it lifts itself. Required for a pause, refused for a hard stop. */
  readonly resumeAt?: number;
}

export interface UnfreezeRequest {
  /** The version of the state being lifted, as the caller saw it. */
  readonly version: number;
  readonly reason: string;
  readonly actor: string;
}

export type ControlAction = 'freeze' | 'unfreeze' | 'auto-resume';

/** A change to store: the state before and after, and what the audit trail says about it. */
export interface ControlChange {
  readonly action: ControlAction;
  readonly before: ControlState;
  readonly after: ControlState;
  readonly actor: string;
  readonly reason: string;
  readonly at: number;
}

export type ControlDecision =
  | { readonly kind: 'change'; readonly change: ControlChange }
  | { readonly kind: 'unchanged'; readonly state: ControlState; readonly why: string }
  | { readonly kind: 'conflict'; readonly state: ControlState; readonly why: string };

/** The freeze in force at `now`: a pause past its resume time is over, whether or not it was written yet. */
export function effectiveFreeze(state: ControlState, now: number): ActiveFreeze | undefined {
  const { freeze } = state;
  if (!freeze) return undefined;
  if (freeze.mode === 'pause' && freeze.resumeAt !== undefined && now >= freeze.resumeAt) return undefined;
  return freeze;
}

/** Whether `symbol` may not trade at `now`. */
export function isSymbolFrozen(state: ControlState, symbol: string, now: number): boolean {
  const freeze = effectiveFreeze(state, now);
  return freeze !== undefined && (freeze.symbols.length === 0 || freeze.symbols.includes(symbol));
}

/** Whether `outer` freezes at least everything `inner` would, as strictly and as long. */
function covers(outer: ActiveFreeze, inner: FreezeRequest): boolean {
  const scope = outer.symbols.length === 0 || (inner.symbols.length > 0 && inner.symbols.every((symbol) => outer.symbols.includes(symbol)));
  if (!scope) return false;
  if (outer.mode === 'hard') return true;
  if (inner.mode === 'hard') return false;
  return (outer.resumeAt ?? 0) >= (inner.resumeAt ?? 0);
}

function joinSymbols(a: readonly string[], b: readonly string[]): string[] {
  if (a.length === 0 || b.length === 0) return [];
  return [...new Set([...a, ...b])].sort();
}

/** The freeze `request` asks for, applied to `state` at `now`. */
export function decideFreeze(state: ControlState, request: FreezeRequest, now: number): ControlDecision {
  if (request.mode === 'pause' && (request.resumeAt === undefined || request.resumeAt <= now)) {
    return { kind: 'conflict', state, why: 'a pause needs a resume time in the future' };
  }
  if (request.mode === 'hard' && request.resumeAt !== undefined) return { kind: 'conflict', state, why: 'a hard stop has no resume time; only a person lifts it' };
  const current = effectiveFreeze(state, now);
  if (current && covers(current, request)) return { kind: 'unchanged', state, why: `already frozen (version ${state.version}, ${current.reason.code})` };
  const symbols = current ? joinSymbols(current.symbols, request.symbols) : [...new Set(request.symbols)].sort();
  const mode: FreezeMode = current?.mode === 'hard' || request.mode === 'hard' ? 'hard' : 'pause';
  const resumeAt = mode === 'hard' ? undefined : Math.max(current?.resumeAt ?? 0, request.resumeAt ?? 0);
  const freeze: ActiveFreeze = { mode, symbols, reason: request.reason, actor: request.actor, frozenAt: now, resumeAt };
  const after: ControlState = { version: state.version + 1, freeze, updatedAt: now };
  return { kind: 'change', change: { action: 'freeze', before: state, after, actor: request.actor, reason: `${request.reason.code}: ${request.reason.message}`, at: now } };
}

/** Lifts the freeze of version `request.version`; refused if the state moved on or nothing is frozen. */
export function decideUnfreeze(state: ControlState, request: UnfreezeRequest, now: number): ControlDecision {
  if (!state.freeze) return { kind: 'conflict', state, why: `nothing is frozen (version ${state.version})` };
  if (request.version !== state.version) {
    return { kind: 'conflict', state, why: `version ${request.version} is not the current one (${state.version}); read the status and try again` };
  }
  const after: ControlState = { version: state.version + 1, freeze: undefined, updatedAt: now };
  return { kind: 'change', change: { action: 'unfreeze', before: state, after, actor: request.actor, reason: request.reason, at: now } };
}

/** A pause past its resume time, written as lifted (the audit trail then says when and why). */
export function decideAutoResume(state: ControlState, actor: string, now: number): ControlDecision {
  const { freeze } = state;
  if (!freeze || freeze.mode !== 'pause' || freeze.resumeAt === undefined || now < freeze.resumeAt) {
    return { kind: 'unchanged', state, why: 'no pause has expired' };
  }
  const after: ControlState = { version: state.version + 1, freeze: undefined, updatedAt: now };
  return { kind: 'change', change: { action: 'auto-resume', before: state, after, actor, reason: `pause expired at ${new Date(freeze.resumeAt).toISOString()}`, at: now } };
}

// ---------------------------------------------------------------- stored shapes

const symbolName = z.string().regex(/^[A-Z0-9]{2,30}$/, { message: 'expected an upper-case symbol such as BTCUSDT' });

export const ActiveFreezeSchema = z
  .strictObject({
    mode: z.enum(['pause', 'hard']),
    symbols: z.array(symbolName).max(200),
    reason: z.strictObject({ code: z.enum(FREEZE_REASON_CODES), message: z.string().min(1).max(500) }),
    actor: z.string().min(1).max(2048),
    frozenAt: z.int().nonnegative(),
    resumeAt: z.int().nonnegative().optional(),
  })
  // A pause always lifts itself at a time, and a hard stop never does: an item that says otherwise is corrupt.
  .refine((freeze) => (freeze.mode === 'pause') === (freeze.resumeAt !== undefined), { message: 'a pause has a resumeAt and a hard stop has none', path: ['resumeAt'] });

/** The control item as stored (pk `control`); the freeze is absent while nothing is frozen. */
export const ControlItemSchema = z.strictObject({
  pk: z.literal('control'),
  version: z.int().nonnegative(),
  updatedAt: z.int().nonnegative(),
  freeze: ActiveFreezeSchema.optional(),
});
export type ControlItem = z.infer<typeof ControlItemSchema>;

export function controlItem(state: ControlState): ControlItem {
  const { freeze } = state;
  return {
    pk: 'control',
    version: state.version,
    updatedAt: state.updatedAt,
    ...(freeze && {
      freeze: {
        mode: freeze.mode,
        symbols: [...freeze.symbols],
        reason: { ...freeze.reason },
        actor: freeze.actor,
        frozenAt: freeze.frozenAt,
        ...(freeze.resumeAt !== undefined && { resumeAt: freeze.resumeAt }),
      },
    }),
  };
}

export function controlStateOf(item: ControlItem): ControlState {
  const { freeze } = item;
  return {
    version: item.version,
    updatedAt: item.updatedAt,
    freeze: freeze && { ...freeze, resumeAt: freeze.resumeAt },
  };
}

/** The reason code of a freeze request, checked (an operator's freeze is always `manual`). */
export function isFreezeReasonCode(value: string): value is FreezeReasonCode {
  return (FREEZE_REASON_CODES as readonly string[]).includes(value);
}

// ---------------------------------------------------------------- audit and events

/** One entry of the audit trail (table `audit`, partition `control`), written in the change's transaction. */
export const AuditItemSchema = z.strictObject({
  scope: z.literal('control'),
  /** ISO time, then the version: unique and in order. */
  at: z.string().min(1),
  action: z.enum(['freeze', 'unfreeze', 'auto-resume']),
  actor: z.string().min(1),
  reason: z.string().min(1),
  version: z.int().positive(),
  /** The control item before and after, as JSON. */
  before: z.string(),
  after: z.string(),
});
export type AuditItem = z.infer<typeof AuditItemSchema>;

export function auditItem(change: ControlChange): AuditItem {
  return {
    scope: 'control',
    at: `${new Date(change.at).toISOString()}#${change.after.version.toString().padStart(10, '0')}`,
    action: change.action,
    actor: change.actor,
    reason: change.reason,
    version: change.after.version,
    before: JSON.stringify(controlItem(change.before)),
    after: JSON.stringify(controlItem(change.after)),
  };
}

/** The Freeze or Unfreeze event detail of a stored change (src/core/events.ts schemas). */
export function controlEvent(change: ControlChange): { detailType: 'Freeze'; detail: FreezeEventV1 } | { detailType: 'Unfreeze'; detail: UnfreezeEventV1 } {
  const { freeze } = change.after;
  if (change.action === 'freeze' && freeze) {
    const version = change.after.version;
    return {
      detailType: 'Freeze',
      detail: { schemaVersion: 1, eventId: `freeze:${version}`, freezeVersion: version, symbols: [...freeze.symbols], reason: { ...freeze.reason }, actor: freeze.actor, frozenAt: freeze.frozenAt },
    };
  }
  const lifted = change.before.version;
  return {
    detailType: 'Unfreeze',
    detail: { schemaVersion: 1, eventId: `unfreeze:${lifted}`, freezeVersion: lifted, reason: { message: change.reason }, actor: change.actor, unfrozenAt: change.at },
  };
}
