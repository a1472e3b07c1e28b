/**
 * The freeze API (docs/FREEZE_API.md): how an operator stops, pauses and resumes trading, and sees how the
 * stage stands. An application service on ports (the Lambda lambdas/freeze-api.ts, the local stack and
 * the tests build it with their own adapters); it takes an API Gateway REST proxy event (v1) and answers
 * with a proxy result, always JSON.
 *
 *   POST /freeze    { reason, symbols?, mode?: 'hard' | 'pause', resumeAfterMinutes? }
 *   POST /unfreeze  { reason, version }
 *   GET  /status
 *
 * The caller is the IAM principal API Gateway authorised (requestContext.identity.userArn); it is the
 * actor of the audit record and of the event. A change is written with its audit record in one
 * conditional transaction (src/adapters/dynamodb/control-store.ts), so a failed request leaves nothing
 * half-written. Rules of the control state: src/core/control.ts.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import {
  type ActiveFreeze,
  type AuditItem,
  type ControlChange,
  type ControlDecision,
  type ControlState,
  type FreezeRequest,
  controlEvent,
  decideFreeze,
  decideUnfreeze,
  effectiveFreeze,
  isSymbolFrozen,
} from '../core/control.js';
import type { EngineHeartbeatV1 } from '../core/events.js';
import type { OrderRecord, PositionRecord } from '../core/records.js';
import type { ControlStore, VenueCancelReport, VenueCanceller } from '../ports/control.js';
import type { Logger } from '../ports/logger.js';
import type { EventPublisher } from '../ports/state-store.js';
import { type ControlSettings, allSymbols } from './settings.js';

/** The newest heartbeat of each shard that has one (src/adapters/dynamodb/heartbeat-store.ts). */
export interface HeartbeatReader {
  read(shards: readonly string[]): Promise<ReadonlyMap<string, EngineHeartbeatV1>>;
}

/** Positions and open orders of a shard as the engine stored them (src/adapters/dynamodb/state-store.ts). */
export interface ShardStateReader {
  loadPositions(shard: string): Promise<PositionRecord[]>;
  loadOpenOrders(shard: string): Promise<OrderRecord[]>;
}

export type FreezeApiMetricName =
  | 'FreezeRequests'
  | 'UnfreezeRequests'
  | 'StatusRequests'
  | 'Freezes'
  | 'Unfreezes'
  | 'UnfreezeConflicts'
  | 'RefusedRequests'
  | 'EventPublishFailures'
  | 'VenueCancelFailures'
  | 'OrdersCancelled'
  | 'Failures';

/** Counters; the Lambda writes them as CloudWatch metrics (EMF). */
export interface FreezeApiMetrics {
  count(name: FreezeApiMetricName, value: number): void;
}

export interface FreezeApiDeps {
  readonly control: ControlStore;
  readonly heartbeats: HeartbeatReader;
  readonly shardState: ShardStateReader;
  readonly publisher: EventPublisher;
  readonly canceller: VenueCanceller;
  /** ms since 1970. */
  readonly clock: () => number;
  readonly logger: Logger;
  readonly settings: ControlSettings;
  readonly metrics?: FreezeApiMetrics;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The largest body a POST may carry, in bytes of the decoded body. */
export const MAX_BODY_BYTES = 4096;
/** Audit records the status shows. */
export const STATUS_HISTORY_LIMIT = 20;
/** Tries of a freeze whose commit met a concurrent writer (it is decided again on what that writer stored). */
const MAX_FREEZE_ATTEMPTS = 3;
/** Tries of publishing a Freeze or Unfreeze event. */
const PUBLISH_ATTEMPTS = 3;
const MINUTE_MS = 60_000;

// ---------------------------------------------------------------- request validation (pure)

const reasonText = z.string().trim().min(1, { message: 'a reason is required' }).max(500, { message: 'at most 500 characters' });

/** The body of POST /freeze; `knownSymbols` are the settings' symbols (one may only freeze those). */
export function freezeBodySchema(knownSymbols: readonly string[]) {
  const known = new Set(knownSymbols);
  return z
    .strictObject({
      reason: reasonText,
      symbols: z.array(z.string()).max(200).optional(),
      mode: z.enum(['hard', 'pause']).default('hard'),
      resumeAfterMinutes: z.int({ message: 'expected a whole number of minutes' }).min(1).max(1440).optional(),
    })
    .superRefine((body, context) => {
      (body.symbols ?? []).forEach((symbol, index) => {
        if (!known.has(symbol)) context.addIssue({ code: 'custom', path: ['symbols', index], message: `unknown symbol ${JSON.stringify(symbol)}; known: ${[...known].join(', ')}` });
      });
      if (body.mode === 'pause' && body.resumeAfterMinutes === undefined) {
        context.addIssue({ code: 'custom', path: ['resumeAfterMinutes'], message: 'a pause needs resumeAfterMinutes (1 to 1440)' });
      }
      if (body.mode === 'hard' && body.resumeAfterMinutes !== undefined) {
        context.addIssue({ code: 'custom', path: ['resumeAfterMinutes'], message: 'a hard stop has no resume time; only a person lifts it (use mode "pause")' });
      }
    });
}
export type FreezeBody = z.infer<ReturnType<typeof freezeBodySchema>>;

export const UnfreezeBodySchema = z.strictObject({
  reason: reasonText,
  version: z.int({ message: 'expected the whole-number version of the state being lifted (GET /status)' }).positive(),
});
export type UnfreezeBody = z.infer<typeof UnfreezeBodySchema>;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export type Route = 'freeze' | 'unfreeze' | 'status';

const ROUTES: Readonly<Record<string, { readonly method: 'GET' | 'POST'; readonly route: Route }>> = {
  '/freeze': { method: 'POST', route: 'freeze' },
  '/unfreeze': { method: 'POST', route: 'unfreeze' },
  '/status': { method: 'GET', route: 'status' },
};

/** An answer that refuses the request, decided before anything is read or written. */
export interface Refusal {
  readonly statusCode: 400 | 403 | 404 | 405 | 413 | 415;
  readonly body: { readonly error: string; readonly fields?: readonly FieldError[] };
  readonly headers?: Readonly<Record<string, string>>;
}

export type ParsedRequest =
  | { readonly ok: true; readonly route: 'status'; readonly actor: string }
  | { readonly ok: true; readonly route: 'freeze'; readonly actor: string; readonly body: FreezeBody }
  | { readonly ok: true; readonly route: 'unfreeze'; readonly actor: string; readonly body: UnfreezeBody }
  | { readonly ok: false; readonly refusal: Refusal };

const refuse = (statusCode: Refusal['statusCode'], error: string, extra: Partial<Pick<Refusal['body'], 'fields'>> & { headers?: Record<string, string> } = {}): ParsedRequest => ({
  ok: false,
  refusal: { statusCode, body: { error, ...(extra.fields && { fields: extra.fields }) }, ...(extra.headers && { headers: extra.headers }) },
});

/** A header's value, whatever its case; API Gateway may send `headers: null` when there are none. */
export function headerValue(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const headers = event.headers as APIGatewayProxyEvent['headers'] | null;
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** `application/json`, with at most a UTF-8 charset parameter. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [mediaType = '', ...parameters] = value.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json') return false;
  return parameters.every((parameter) => parameter === '' || /^charset="?utf-8"?$/.test(parameter));
}

/** The path without a trailing slash (`/freeze/` is `/freeze`). */
function normalisePath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    // An unknown key is named as its own field, so the caller sees which one to drop.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
    return [{ path: at.join('.') || '(body)', message: issue.message }];
  });
}

/**
 * Routes and validates a request, reading nothing and writing nothing: 404 unknown path, 405 wrong method,
 * 403 without an IAM principal, 415 not JSON, 413 more than MAX_BODY_BYTES, 400 invalid JSON or body.
 */
export function parseRequest(event: APIGatewayProxyEvent, knownSymbols: readonly string[]): ParsedRequest {
  const target = ROUTES[normalisePath(event.path)];
  if (!target) return refuse(404, `no such route: ${event.httpMethod} ${event.path}; routes: POST /freeze, POST /unfreeze, GET /status`);
  if (event.httpMethod !== target.method) {
    return refuse(405, `${event.path} takes ${target.method}, not ${event.httpMethod}`, { headers: { allow: target.method } });
  }
  // API Gateway's IAM authorisation sets the caller's ARN; without it nobody can be named in the audit trail.
  // A hand-made event (a test, another integration) may lack the request context altogether.
  const context = event.requestContext as APIGatewayProxyEvent['requestContext'] | undefined;
  const identity = context?.identity as APIGatewayProxyEvent['requestContext']['identity'] | null | undefined;
  const actor = identity?.userArn ?? '';
  if (actor === '') return refuse(403, 'no IAM principal: the freeze API must be called with SigV4-signed requests (IAM authorisation)');
  if (target.route === 'status') return { ok: true, route: 'status', actor };

  if (!isJsonContentType(headerValue(event, 'content-type'))) return refuse(415, 'the body must be JSON: send content-type application/json');
  const raw = event.body === null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > MAX_BODY_BYTES) return refuse(413, `the body is ${raw.length} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    return refuse(400, 'the body is not valid JSON (UTF-8)', { fields: [{ path: '(body)', message: 'expected a JSON object' }] });
  }
  if (target.route === 'freeze') {
    const parsed = freezeBodySchema(knownSymbols).safeParse(json);
    if (!parsed.success) return refuse(400, 'invalid freeze request', { fields: fieldErrors(parsed.error) });
    return { ok: true, route: 'freeze', actor, body: parsed.data };
  }
  const parsed = UnfreezeBodySchema.safeParse(json);
  if (!parsed.success) return refuse(400, 'invalid unfreeze request', { fields: fieldErrors(parsed.error) });
  return { ok: true, route: 'unfreeze', actor, body: parsed.data };
}

/** The control-state request a validated freeze body asks for, at `now`. */
export function freezeRequestOf(body: FreezeBody, actor: string, now: number): FreezeRequest {
  return {
    mode: body.mode,
    symbols: body.symbols ?? [],
    reason: { code: 'manual', message: body.reason },
    actor,
    ...(body.resumeAfterMinutes !== undefined && { resumeAt: now + body.resumeAfterMinutes * MINUTE_MS }),
  };
}

// ---------------------------------------------------------------- answers (pure)

const iso = (ms: number): string => new Date(ms).toISOString();

export interface FreezeView {
  readonly mode: ActiveFreeze['mode'];
  /** Empty: every symbol. */
  readonly symbols: readonly string[];
  readonly reason: ActiveFreeze['reason'];
  readonly actor: string;
  readonly frozenAt: string;
  /** A pause lifts itself then. */
  readonly resumeAt?: string;
  /** A pause past its resume time that nobody wrote as lifted yet: no longer in force. */
  readonly expired: boolean;
}

export interface StateView {
  /** Name it in POST /unfreeze. */
  readonly version: number;
  readonly updatedAt: string | null;
  readonly freeze: FreezeView | null;
  /** Whether each configured symbol may not trade now. */
  readonly frozenSymbols: Readonly<Record<string, boolean>>;
}

/** The control state as an operator reads it, with what is frozen at `now`. */
export function stateView(state: ControlState, symbols: readonly string[], now: number): StateView {
  const { freeze } = state;
  return {
    version: state.version,
    updatedAt: state.version === 0 ? null : iso(state.updatedAt),
    freeze: freeze
      ? {
          mode: freeze.mode,
          symbols: freeze.symbols,
          reason: freeze.reason,
          actor: freeze.actor,
          frozenAt: iso(freeze.frozenAt),
          ...(freeze.resumeAt !== undefined && { resumeAt: iso(freeze.resumeAt) }),
          expired: effectiveFreeze(state, now) === undefined,
        }
      : null,
    frozenSymbols: Object.fromEntries(symbols.map((symbol) => [symbol, isSymbolFrozen(state, symbol, now)])),
  };
}

function parseStoredJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** An audit record with its before and after parsed back to JSON. */
export function historyView(item: AuditItem): Record<string, unknown> {
  return { ...item, before: parseStoredJson(item.before), after: parseStoredJson(item.after) };
}

export interface EngineView {
  readonly shard: string;
  readonly symbols: readonly string[];
  /** `never-seen`: no heartbeat stored; `stopped`: it said it stopped; `stale`: older than heartbeatStaleMs. */
  readonly status: 'alive' | 'stale' | 'stopped' | 'never-seen';
  readonly stale: boolean;
  readonly ageMs: number | null;
  readonly heartbeat: EngineHeartbeatV1 | null;
}

/** A shard's engine as its newest heartbeat tells, judged as the risk evaluator's watchdog judges it. */
export function engineView(shard: string, symbols: readonly string[], heartbeat: EngineHeartbeatV1 | undefined, now: number, staleMs: number): EngineView {
  if (!heartbeat) return { shard, symbols, status: 'never-seen', stale: false, ageMs: null, heartbeat: null };
  const ageMs = now - heartbeat.sentAt;
  const stale = heartbeat.phase !== 'stopped' && ageMs > staleMs;
  return { shard, symbols, status: heartbeat.phase === 'stopped' ? 'stopped' : stale ? 'stale' : 'alive', stale, ageMs, heartbeat };
}

/** A stored position as an operator reads it: every figure a decimal string in the instrument's units. */
export function positionView(record: PositionRecord): Record<string, string | number> {
  return {
    symbol: record.symbol,
    position: record.position,
    realisedPnl: record.realisedPnl,
    netRealised: record.netRealised,
    feesPaid: record.feesPaid,
    rebatesEarned: record.rebatesEarned,
    fundingPnl: record.fundingPnl,
    tradeCount: record.tradeCount,
    lastExecTime: record.lastExecTime === 0 ? '' : iso(record.lastExecTime),
    updatedAt: iso(record.updatedAt),
    epoch: record.epoch,
  };
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export function jsonResult(statusCode: number, body: unknown, headers: Readonly<Record<string, string>> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

const describeError = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** A dependency (DynamoDB) failed, so the request was not carried out. */
class ServiceUnavailable extends Error {
  override readonly name = 'ServiceUnavailable';
}

// ---------------------------------------------------------------- the service

export class FreezeApi {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly symbols: readonly string[];

  constructor(private readonly deps: FreezeApiDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.symbols = allSymbols(deps.settings);
  }

  private count(name: FreezeApiMetricName, value = 1): void {
    this.deps.metrics?.count(name, value);
  }

  async handle(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const { logger } = this.deps;
    const request = parseRequest(event, this.symbols);
    if (!request.ok) {
      this.count('RefusedRequests');
      logger.warn('request refused', { method: event.httpMethod, path: event.path, statusCode: request.refusal.statusCode, error: request.refusal.body.error, fields: request.refusal.body.fields });
      return jsonResult(request.refusal.statusCode, request.refusal.body, request.refusal.headers);
    }
    try {
      switch (request.route) {
        case 'freeze':
          this.count('FreezeRequests');
          return await this.freeze(request.body, request.actor);
        case 'unfreeze':
          this.count('UnfreezeRequests');
          return await this.unfreeze(request.body, request.actor);
        case 'status':
          this.count('StatusRequests');
          return await this.status();
      }
    } catch (error) {
      // The store's writes are one transaction each: whatever failed, nothing was half-written.
      this.count('Failures');
      logger.error('request failed: a dependency did not answer', { route: request.route, actor: request.actor, error: describeError(error) });
      const why = error instanceof ServiceUnavailable ? error.message : 'the control store (DynamoDB) did not answer';
      return jsonResult(503, { error: `${why}; nothing was changed by this request. Read GET /status and try again.` }, { 'retry-after': '1' });
    }
  }

  private async freeze(body: FreezeBody, actor: string): Promise<APIGatewayProxyResult> {
    const { control, logger } = this.deps;
    const now = this.deps.clock();
    const request = freezeRequestOf(body, actor, now);
    let state = await control.read();
    let decision: ControlDecision | undefined;
    for (let attempt = 1; attempt <= MAX_FREEZE_ATTEMPTS; attempt++) {
      decision = decideFreeze(state, request, now);
      if (decision.kind !== 'change') break;
      const committed = await control.commit(decision.change);
      if (committed.ok) break;
      // Another writer got in between: decide again on what it stored (the freeze only ever widens).
      logger.info('freeze met a concurrent change; deciding again', { attempt, seenVersion: state.version, currentVersion: committed.current.version });
      state = committed.current;
      decision = undefined;
    }
    if (!decision) throw new ServiceUnavailable(`the control state kept changing under ${MAX_FREEZE_ATTEMPTS} attempts to freeze`);
    if (decision.kind === 'conflict') return jsonResult(400, { error: decision.why, fields: [] });

    const changed = decision.kind === 'change';
    const after = decision.kind === 'change' ? decision.change.after : decision.state;
    if (decision.kind === 'change') {
      this.count('Freezes');
      logger.warn('frozen by an operator', { actor, version: after.version, freeze: after.freeze });
    } else {
      logger.info('freeze unchanged: the current freeze covers it', { actor, version: after.version, why: decision.why });
    }
    // A hard stop also cancels at the venue itself, every time it is asked (also when nothing changed):
    // the engine may be hung, and a cancel-all of nothing is cheap. Scope: the hard freeze now in force.
    const hard = request.mode === 'hard' ? effectiveFreeze(after, now) : undefined;
    const cancelScope = hard?.mode === 'hard' ? (hard.symbols.length > 0 ? hard.symbols : this.symbols) : undefined;
    const [eventPublished, venueCancel] = await Promise.all([
      decision.kind === 'change' ? this.announce(decision.change) : Promise.resolve(false),
      cancelScope ? this.cancelAtVenue(cancelScope) : Promise.resolve(undefined),
    ]);
    return jsonResult(200, {
      changed,
      ...(decision.kind === 'unchanged' && { why: decision.why }),
      state: stateView(after, this.symbols, now),
      eventPublished,
      ...(venueCancel && { venueCancel }),
    });
  }

  private async unfreeze(body: UnfreezeBody, actor: string): Promise<APIGatewayProxyResult> {
    const { control, logger } = this.deps;
    const now = this.deps.clock();
    const state = await control.read();
    const decision = decideUnfreeze(state, { version: body.version, reason: body.reason, actor }, now);
    if (decision.kind !== 'change') {
      this.count('UnfreezeConflicts');
      return jsonResult(409, { error: decision.why, state: stateView(decision.state, this.symbols, now) });
    }
    const committed = await control.commit(decision.change);
    if (!committed.ok) {
      // The caller named a version; someone changed the state since. Not retried: they must look again.
      this.count('UnfreezeConflicts');
      return jsonResult(409, {
        error: `the state changed while unfreezing version ${body.version} (now version ${committed.current.version}); read the status and try again`,
        state: stateView(committed.current, this.symbols, now),
      });
    }
    this.count('Unfreezes');
    logger.warn('unfrozen by an operator', { actor, liftedVersion: body.version, version: decision.change.after.version, reason: body.reason });
    const eventPublished = await this.announce(decision.change);
    return jsonResult(200, { changed: true, state: stateView(decision.change.after, this.symbols, now), eventPublished });
  }

  private async status(): Promise<APIGatewayProxyResult> {
    const { control, heartbeats, shardState, settings } = this.deps;
    const now = this.deps.clock();
    const shards = Object.keys(settings.shards).sort();
    const [state, history, newest, perShard] = await Promise.all([
      control.read(),
      control.history(STATUS_HISTORY_LIMIT),
      heartbeats.read(shards),
      Promise.all(shards.map(async (shard) => ({ shard, positions: await shardState.loadPositions(shard), openOrders: await shardState.loadOpenOrders(shard) }))),
    ]);
    return jsonResult(200, {
      now: iso(now),
      state: stateView(state, this.symbols, now),
      history: history.map(historyView),
      engines: shards.map((shard) => engineView(shard, settings.shards[shard] ?? [], newest.get(shard), now, settings.risk.heartbeatStaleMs)),
      positions: perShard.map(({ shard, positions }) => ({ shard, positions: positions.map(positionView) })),
      openOrders: perShard.map(({ shard, openOrders }) => ({ shard, count: openOrders.length })),
    });
  }

  /**
   * Publishes a change's Freeze or Unfreeze event, a few times. If the bus stays unreachable the answer
   * says so (eventPublished false) but the change stands: engines also poll the control state, so they
   * learn of it within their poll interval anyway.
   */
  private async announce(change: ControlChange): Promise<boolean> {
    const { publisher, logger } = this.deps;
    const event = controlEvent(change);
    let failure = 'refused by the bus';
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
      try {
        const refused = await publisher.publish([{ detailType: event.detailType, detail: event.detail, time: change.at }]);
        if (refused.length === 0) return true;
        failure = 'refused by the bus';
      } catch (error) {
        failure = describeError(error);
      }
      if (attempt < PUBLISH_ATTEMPTS) await this.sleep(100 * 2 ** attempt);
    }
    this.count('EventPublishFailures');
    logger.error(`${event.detailType} event not published: engines learn of it by polling the control state`, { eventId: event.detail.eventId, error: failure });
    return false;
  }

  /** Cancel-all at the venue for `symbols`; a failure is reported, never undoes the freeze. */
  private async cancelAtVenue(symbols: readonly string[]): Promise<{ ok: boolean; symbols: VenueCancelReport[] }> {
    const { canceller, logger } = this.deps;
    let reports: VenueCancelReport[];
    try {
      reports = await canceller.cancelAll(symbols);
    } catch (error) {
      // No key, say: nothing was cancelled; the freeze stands and the engine cancels on its own.
      logger.error('hard stop: cancel-all at the venue failed', { symbols, error: describeError(error) });
      const message = error instanceof Error ? error.message : 'unknown error';
      reports = symbols.map((symbol) => ({ symbol, ok: false, cancelled: 0, error: message }));
    }
    for (const report of reports) {
      if (report.ok) {
        this.count('OrdersCancelled', report.cancelled);
        logger.warn('hard stop: cancelled at the venue', { symbol: report.symbol, cancelled: report.cancelled });
      } else {
        this.count('VenueCancelFailures');
        logger.error('hard stop: cancel-all at the venue failed for a symbol', { symbol: report.symbol, error: report.error });
      }
    }
    return { ok: reports.every((report) => report.ok), symbols: reports };
  }
}
