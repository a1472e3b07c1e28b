/**
 * The freeze API's routing and validation (pure), and the service on in-memory ports: retries on a
 * concurrent writer, a bus that stays down, a venue that fails, a store that fails. The same service on
 * the emulator and the simulator: test/integration/freeze-api.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  type FreezeApiDeps,
  FreezeApi,
  MAX_BODY_BYTES,
  engineView,
  freezeRequestOf,
  headerValue,
  historyView,
  isJsonContentType,
  parseRequest,
  stateView,
} from '../../../src/control/freeze-api.js';
import { ControlSettingsSchema } from '../../../src/control/settings.js';
import { type AuditItem, type ControlChange, type ControlState, INITIAL_CONTROL_STATE, auditItem } from '../../../src/core/control.js';
import type { EngineHeartbeatV1 } from '../../../src/core/events.js';
import type { CommitOutcome, ControlStore, VenueCancelReport } from '../../../src/ports/control.js';
import type { LogFields } from '../../../src/ports/logger.js';
import type { BusEvent } from '../../../src/ports/state-store.js';

const NOW = 1_800_000_000_000;
const OPERATOR = 'arn:aws:iam::123456789012:user/operator';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

const settings = ControlSettingsSchema.parse({
  stage: 'unit',
  shards: { a: ['BTCUSDT', 'ETHUSDT'], b: ['SOLUSDT'] },
  venue: { restUrl: 'http://127.0.0.1:1', credentialsSecretId: 'mmrb/unit/trading-key' },
  risk: { limits: {}, heartbeatStaleMs: 30_000 },
});

function apiEvent(method: string, path: string, body?: unknown, options: { contentType?: string | null; principal?: string | null; base64?: boolean; rawBody?: string } = {}): APIGatewayProxyEvent {
  const text = options.rawBody ?? (body === undefined ? null : JSON.stringify(body));
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: contentType === null ? {} : { 'Content-Type': contentType },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: text !== null && options.base64 === true ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: options.base64 === true,
    requestContext: { identity: { userArn: options.principal === undefined ? OPERATOR : options.principal } } as APIGatewayProxyEvent['requestContext'],
  };
}

const fieldsOf = (parsed: ReturnType<typeof parseRequest>) => (parsed.ok ? [] : (parsed.refusal.body.fields ?? []).map((field) => field.path));

describe('routing and validation', () => {
  it('routes and validates a freeze, defaulting to a hard stop of every symbol', () => {
    expect(parseRequest(apiEvent('POST', '/freeze', { reason: 'going to bed' }), SYMBOLS)).toEqual({ ok: true, route: 'freeze', actor: OPERATOR, body: { reason: 'going to bed', mode: 'hard' } });
    expect(parseRequest(apiEvent('POST', '/freeze/', { reason: ' x ', symbols: ['BTCUSDT'], mode: 'pause', resumeAfterMinutes: 15 }, { contentType: 'application/json; charset=UTF-8' }), SYMBOLS)).toMatchObject({
      ok: true,
      body: { reason: 'x', symbols: ['BTCUSDT'], mode: 'pause', resumeAfterMinutes: 15 },
    });
    expect(parseRequest(apiEvent('POST', '/unfreeze', { reason: 'clear', version: 4 }), SYMBOLS)).toEqual({ ok: true, route: 'unfreeze', actor: OPERATOR, body: { reason: 'clear', version: 4 } });
    expect(parseRequest(apiEvent('GET', '/status', undefined, { contentType: null }), SYMBOLS)).toEqual({ ok: true, route: 'status', actor: OPERATOR });
  });

  it('decodes a base64 body (API Gateway does for binary media types)', () => {
    expect(parseRequest(apiEvent('POST', '/unfreeze', { reason: 'clear', version: 4 }, { base64: true }), SYMBOLS)).toMatchObject({ ok: true, body: { version: 4 } });
  });

  const bad: [string, APIGatewayProxyEvent, number, string[]][] = [
    ['unknown path', apiEvent('POST', '/nope', { reason: 'x' }), 404, []],
    ['GET on /freeze', apiEvent('GET', '/freeze'), 405, []],
    ['POST on /status', apiEvent('POST', '/status', {}), 405, []],
    ['no principal', apiEvent('POST', '/freeze', { reason: 'x' }, { principal: null }), 403, []],
    ['empty principal', apiEvent('GET', '/status', undefined, { principal: '' }), 403, []],
    ['text/plain', apiEvent('POST', '/freeze', { reason: 'x' }, { contentType: 'text/plain' }), 415, []],
    ['no content type', apiEvent('POST', '/freeze', { reason: 'x' }, { contentType: null }), 415, []],
    ['another charset', apiEvent('POST', '/freeze', { reason: 'x' }, { contentType: 'application/json; charset=latin1' }), 415, []],
    ['5000 bytes', apiEvent('POST', '/freeze', { reason: 'x'.repeat(4990) }), 413, []],
    ['5000 bytes in base64', apiEvent('POST', '/freeze', { reason: 'é'.repeat(2100) }, { base64: true }), 413, []],
    ['invalid JSON', apiEvent('POST', '/freeze', undefined, { rawBody: '{"reason": ' }), 400, ['(body)']],
    ['no body', apiEvent('POST', '/freeze'), 400, ['(body)']],
    ['invalid UTF-8', { ...apiEvent('POST', '/freeze'), body: Buffer.from([0x7b, 0xff, 0x7d]).toString('base64'), isBase64Encoded: true }, 400, ['(body)']],
    ['not an object', apiEvent('POST', '/freeze', ['x']), 400, ['(body)']],
    ['missing reason', apiEvent('POST', '/freeze', { symbols: ['BTCUSDT'] }), 400, ['reason']],
    ['blank reason', apiEvent('POST', '/freeze', { reason: '   ' }), 400, ['reason']],
    ['reason of 501 characters', apiEvent('POST', '/freeze', { reason: 'x'.repeat(501) }), 400, ['reason']],
    ['unknown key', apiEvent('POST', '/freeze', { reason: 'x', force: true }), 400, ['force']],
    ['pause without minutes', apiEvent('POST', '/freeze', { reason: 'x', mode: 'pause' }), 400, ['resumeAfterMinutes']],
    ['hard with minutes', apiEvent('POST', '/freeze', { reason: 'x', mode: 'hard', resumeAfterMinutes: 5 }), 400, ['resumeAfterMinutes']],
    ['minutes by default hard', apiEvent('POST', '/freeze', { reason: 'x', resumeAfterMinutes: 5 }), 400, ['resumeAfterMinutes']],
    ['minutes out of range', apiEvent('POST', '/freeze', { reason: 'x', mode: 'pause', resumeAfterMinutes: 1441 }), 400, ['resumeAfterMinutes']],
    ['minutes not whole', apiEvent('POST', '/freeze', { reason: 'x', mode: 'pause', resumeAfterMinutes: 1.5 }), 400, ['resumeAfterMinutes']],
    ['unknown mode', apiEvent('POST', '/freeze', { reason: 'x', mode: 'soft' }), 400, ['mode']],
    ['unknown symbol', apiEvent('POST', '/freeze', { reason: 'x', symbols: ['BTCUSDT', 'DOGEUSDT'] }), 400, ['symbols.1']],
    ['version not an integer', apiEvent('POST', '/unfreeze', { reason: 'x', version: 1.5 }), 400, ['version']],
    ['version as a string', apiEvent('POST', '/unfreeze', { reason: 'x', version: '3' }), 400, ['version']],
    ['version zero', apiEvent('POST', '/unfreeze', { reason: 'x', version: 0 }), 400, ['version']],
    ['unfreeze without reason', apiEvent('POST', '/unfreeze', { version: 3 }), 400, ['reason']],
  ];

  it.each(bad)('refuses %s', (_name, event, statusCode, fields) => {
    const parsed = parseRequest(event, SYMBOLS);
    expect(parsed).toMatchObject({ ok: false, refusal: { statusCode, body: { error: expect.any(String) } } });
    expect(fieldsOf(parsed)).toEqual(expect.arrayContaining(fields));
    if (statusCode === 400) expect(fieldsOf(parsed).length).toBeGreaterThan(0);
  });

  it('names the unknown symbol and the known ones; a 405 says which method', () => {
    const unknown = parseRequest(apiEvent('POST', '/freeze', { reason: 'x', symbols: ['DOGEUSDT'] }), SYMBOLS);
    expect(unknown).toMatchObject({ ok: false, refusal: { body: { fields: [{ path: 'symbols.0', message: expect.stringMatching(/DOGEUSDT.*BTCUSDT, ETHUSDT, SOLUSDT/) }] } } });
    expect(parseRequest(apiEvent('GET', '/unfreeze'), SYMBOLS)).toMatchObject({ ok: false, refusal: { statusCode: 405, headers: { allow: 'POST' } } });
  });

  it('a 413 is decided on the decoded bytes: 4096 pass, 4097 do not', () => {
    const sized = (bytes: number) => apiEvent('POST', '/freeze', undefined, { rawBody: JSON.stringify({ reason: 'x'.repeat(bytes - 13) }) });
    expect(Buffer.byteLength(sized(MAX_BODY_BYTES).body ?? '')).toBe(MAX_BODY_BYTES);
    expect(parseRequest(sized(MAX_BODY_BYTES), SYMBOLS)).toMatchObject({ ok: false, refusal: { statusCode: 400, body: { fields: [{ path: 'reason' }] } } });
    expect(parseRequest(sized(MAX_BODY_BYTES + 1), SYMBOLS)).toMatchObject({ ok: false, refusal: { statusCode: 413 } });
  });

  it('reads headers whatever their case, and no headers at all', () => {
    expect(headerValue({ headers: { 'CONTENT-type': 'a' } }, 'content-type')).toBe('a');
    expect(headerValue({ headers: null as unknown as APIGatewayProxyEvent['headers'] }, 'content-type')).toBeUndefined();
    expect(isJsonContentType('application/json;')).toBe(true);
    expect(isJsonContentType('application/json; charset="utf-8"')).toBe(true);
    expect(isJsonContentType('application/jsonp')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });

  it('a request without any request context has no principal', () => {
    const { requestContext: _drop, ...event } = apiEvent('GET', '/status');
    expect(parseRequest(event as APIGatewayProxyEvent, SYMBOLS)).toMatchObject({ ok: false, refusal: { statusCode: 403 } });
  });

  it('turns a body into a freeze request: manual, the caller as actor, a pause resumes after its minutes', () => {
    expect(freezeRequestOf({ reason: 'r', mode: 'pause', resumeAfterMinutes: 2, symbols: ['BTCUSDT'] }, OPERATOR, NOW)).toEqual({
      mode: 'pause',
      symbols: ['BTCUSDT'],
      reason: { code: 'manual', message: 'r' },
      actor: OPERATOR,
      resumeAt: NOW + 120_000,
    });
    expect(freezeRequestOf({ reason: 'r', mode: 'hard' }, OPERATOR, NOW)).toEqual({ mode: 'hard', symbols: [], reason: { code: 'manual', message: 'r' }, actor: OPERATOR });
  });
});

describe('views', () => {
  it('the state says what is frozen now, and when a pause expired', () => {
    const paused: ControlState = { version: 2, updatedAt: NOW, freeze: { mode: 'pause', symbols: ['ETHUSDT'], reason: { code: 'manual', message: 'm' }, actor: OPERATOR, frozenAt: NOW, resumeAt: NOW + 10 } };
    expect(stateView(paused, SYMBOLS, NOW)).toEqual({
      version: 2,
      updatedAt: new Date(NOW).toISOString(),
      freeze: { mode: 'pause', symbols: ['ETHUSDT'], reason: { code: 'manual', message: 'm' }, actor: OPERATOR, frozenAt: new Date(NOW).toISOString(), resumeAt: new Date(NOW + 10).toISOString(), expired: false },
      frozenSymbols: { BTCUSDT: false, ETHUSDT: true, SOLUSDT: false },
    });
    expect(stateView(paused, SYMBOLS, NOW + 10)).toMatchObject({ freeze: { expired: true }, frozenSymbols: { ETHUSDT: false } });
    expect(stateView(INITIAL_CONTROL_STATE, SYMBOLS, NOW)).toEqual({ version: 0, updatedAt: null, freeze: null, frozenSymbols: { BTCUSDT: false, ETHUSDT: false, SOLUSDT: false } });
  });

  it('an engine is alive, stale, stopped or never seen', () => {
    const beat = (phase: EngineHeartbeatV1['phase'], sentAt: number) => ({ phase, sentAt }) as EngineHeartbeatV1;
    expect(engineView('a', ['BTCUSDT'], undefined, NOW, 1_000)).toMatchObject({ status: 'never-seen', stale: false, ageMs: null, heartbeat: null });
    expect(engineView('a', [], beat('running', NOW - 1_000), NOW, 1_000)).toMatchObject({ status: 'alive', stale: false, ageMs: 1_000 });
    expect(engineView('a', [], beat('running', NOW - 1_001), NOW, 1_000)).toMatchObject({ status: 'stale', stale: true, ageMs: 1_001 });
    expect(engineView('a', [], beat('stopped', NOW - 99_999), NOW, 1_000)).toMatchObject({ status: 'stopped', stale: false });
  });

  it('audit records come back with before and after as JSON (a corrupt one as its text)', () => {
    const item: AuditItem = { scope: 'control', at: 'x', action: 'freeze', actor: OPERATOR, reason: 'r', version: 1, before: '{"pk":"control","version":0}', after: 'not json' };
    expect(historyView(item)).toEqual({ ...item, before: { pk: 'control', version: 0 }, after: 'not json' });
  });
});

// ---------------------------------------------------------------- the service on in-memory ports

class MemoryControlStore implements ControlStore {
  state: ControlState = INITIAL_CONTROL_STATE;
  audit: AuditItem[] = [];
  /** Runs before each commit (another writer getting in between). */
  beforeCommit: (() => void) | undefined;
  failing = false;

  read(): Promise<ControlState> {
    return this.failing ? Promise.reject(new Error('DynamoDB is down')) : Promise.resolve(this.state);
  }

  commit(change: ControlChange): Promise<CommitOutcome> {
    this.beforeCommit?.();
    if (this.failing) return Promise.reject(new Error('DynamoDB is down'));
    if (this.state.version !== change.before.version) return Promise.resolve({ ok: false, current: this.state });
    this.state = change.after;
    this.audit.unshift(auditItem(change));
    return Promise.resolve({ ok: true });
  }

  history(limit: number): Promise<AuditItem[]> {
    return Promise.resolve(this.audit.slice(0, limit));
  }
}

interface Harness {
  readonly api: FreezeApi;
  readonly store: MemoryControlStore;
  readonly published: BusEvent[];
  readonly cancels: string[][];
  readonly logs: { level: string; message: string; fields: LogFields | undefined }[];
  readonly metrics: Map<string, number>;
  publisher: { fail: 'throw' | 'refuse' | 'none' };
  venue: { fail: 'throw' | 'report' | 'none' };
}

function harness(): Harness {
  const store = new MemoryControlStore();
  const published: BusEvent[] = [];
  const cancels: string[][] = [];
  const logs: Harness['logs'] = [];
  const metrics = new Map<string, number>();
  const publisher: Harness['publisher'] = { fail: 'none' };
  const venue: Harness['venue'] = { fail: 'none' };
  const log = (level: string) => (message: string, fields?: LogFields) => logs.push({ level, message, fields });
  const deps: FreezeApiDeps = {
    control: store,
    heartbeats: { read: () => Promise.resolve(new Map()) },
    shardState: { loadPositions: () => Promise.resolve([]), loadOpenOrders: () => Promise.resolve([]) },
    publisher: {
      publish: (events) => {
        if (publisher.fail === 'throw') return Promise.reject(new Error('EventBridge is down'));
        if (publisher.fail === 'refuse') return Promise.resolve(events.map((_, index) => index));
        published.push(...events);
        return Promise.resolve([]);
      },
    },
    canceller: {
      cancelAll: (symbols): Promise<VenueCancelReport[]> => {
        cancels.push([...symbols]);
        if (venue.fail === 'throw') return Promise.reject(new Error('no trading key'));
        return Promise.resolve(symbols.map((symbol) => (venue.fail === 'report' && symbol === 'ETHUSDT' ? { symbol, ok: false, cancelled: 0, error: 'venue timeout' } : { symbol, ok: true, cancelled: 2 })));
      },
    },
    clock: () => NOW,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    metrics: { count: (name, value) => metrics.set(name, (metrics.get(name) ?? 0) + value) },
    settings,
    sleep: () => Promise.resolve(),
  };
  return { api: new FreezeApi(deps), store, published, cancels, logs, metrics, publisher, venue };
}

const bodyOf = (result: APIGatewayProxyResult) => JSON.parse(result.body) as Record<string, unknown>;

describe('the service', () => {
  it('answers every request as JSON, refusals too, without touching the store', async () => {
    const h = harness();
    for (const event of [apiEvent('GET', '/nope'), apiEvent('POST', '/freeze', { reason: 'x', bogus: 1 }), apiEvent('GET', '/status')]) {
      const result = await h.api.handle(event);
      expect(result.headers).toMatchObject({ 'content-type': 'application/json' });
      expect(() => bodyOf(result)).not.toThrow();
    }
    expect(h.store.audit).toEqual([]);
    expect(h.metrics.get('RefusedRequests')).toBe(2);
  });

  it('a hard freeze commits, publishes and cancels every configured symbol at the venue', async () => {
    const h = harness();
    const result = await h.api.handle(apiEvent('POST', '/freeze', { reason: 'bed' }));
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ changed: true, eventPublished: true, state: { version: 1, freeze: { mode: 'hard', symbols: [], actor: OPERATOR } }, venueCancel: { ok: true } });
    expect(h.cancels).toEqual([SYMBOLS]);
    expect(h.published.map((event) => event.detail.eventId)).toEqual(['freeze:1']);
    expect(h.store.audit).toHaveLength(1);
  });

  it('a pause does not cancel at the venue; asking again for what is covered changes nothing and publishes nothing', async () => {
    const h = harness();
    expect(bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'p', mode: 'pause', resumeAfterMinutes: 10 })))).not.toHaveProperty('venueCancel');
    const again = bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'p', mode: 'pause', resumeAfterMinutes: 5, symbols: ['BTCUSDT'] })));
    expect(again).toMatchObject({ changed: false, eventPublished: false, why: expect.stringContaining('already frozen'), state: { version: 1 } });
    expect(h.cancels).toEqual([]);
    expect(h.published).toHaveLength(1);
  });

  it('a hard stop asked again cancels at the venue again (the engine may be hung) but writes nothing', async () => {
    const h = harness();
    await h.api.handle(apiEvent('POST', '/freeze', { reason: 'a', symbols: ['ETHUSDT'] }));
    const again = bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b', symbols: ['ETHUSDT'] })));
    expect(again).toMatchObject({ changed: false, venueCancel: { ok: true } });
    expect(h.cancels).toEqual([['ETHUSDT'], ['ETHUSDT']]);
    expect(h.store.audit).toHaveLength(1);
  });

  it('a hard stop widened by a pause of all symbols cancels everything the hard stop now holds', async () => {
    const h = harness();
    await h.api.handle(apiEvent('POST', '/freeze', { reason: 'p', mode: 'pause', resumeAfterMinutes: 10 }));
    const widened = bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'h', symbols: ['BTCUSDT'] })));
    expect(widened).toMatchObject({ changed: true, state: { version: 2, freeze: { mode: 'hard', symbols: [] } } });
    expect(h.cancels).toEqual([SYMBOLS]);
  });

  it('a commit that meets another writer decides again on what it stored', async () => {
    const h = harness();
    let interfered = false;
    h.store.beforeCommit = () => {
      if (interfered) return;
      interfered = true;
      h.store.state = { version: 5, updatedAt: NOW, freeze: { mode: 'pause', symbols: ['SOLUSDT'], reason: { code: 'fill-rate-anomaly', message: 'x' }, actor: 'risk-evaluator', frozenAt: NOW, resumeAt: NOW + 60_000 } };
    };
    const result = bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b', symbols: ['BTCUSDT'] })));
    expect(result).toMatchObject({ changed: true, state: { version: 6, freeze: { mode: 'hard', symbols: ['BTCUSDT', 'SOLUSDT'] } } });
  });

  it('a state that keeps changing under every attempt is a 503, with nothing written by this request', async () => {
    const h = harness();
    h.store.beforeCommit = () => {
      h.store.state = { ...h.store.state, version: h.store.state.version + 1 };
    };
    const result = await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b' }));
    expect(result.statusCode).toBe(503);
    expect(bodyOf(result).error).toMatch(/kept changing under 3 attempts.*nothing was changed/);
    expect(h.store.audit).toEqual([]);
  });

  it('a bus that stays down: 200 with eventPublished false, the freeze stands, an error is logged', async () => {
    for (const fail of ['throw', 'refuse'] as const) {
      const h = harness();
      h.publisher.fail = fail;
      const result = await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b', mode: 'pause', resumeAfterMinutes: 1 }));
      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ changed: true, eventPublished: false });
      expect(h.store.state.freeze).toBeDefined();
      expect(h.logs.filter((line) => line.level === 'error').map((line) => line.message)).toEqual([expect.stringContaining('Freeze event not published')]);
      expect(h.metrics.get('EventPublishFailures')).toBe(1);
    }
  });

  it('a venue failure does not undo the freeze and is reported per symbol', async () => {
    const h = harness();
    h.venue.fail = 'report';
    const partly = bodyOf(await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b', symbols: ['BTCUSDT', 'ETHUSDT'] })));
    expect(partly).toMatchObject({ changed: true, venueCancel: { ok: false, symbols: [{ symbol: 'BTCUSDT', ok: true, cancelled: 2 }, { symbol: 'ETHUSDT', ok: false, error: 'venue timeout' }] } });
    h.venue.fail = 'throw';
    const none = await h.api.handle(apiEvent('POST', '/freeze', { reason: 'b' }));
    expect(none.statusCode).toBe(200);
    expect(bodyOf(none)).toMatchObject({ changed: true, venueCancel: { ok: false, symbols: SYMBOLS.map((symbol) => ({ symbol, ok: false, error: 'no trading key' })) } });
    expect(h.store.state.version).toBe(2);
    expect(h.metrics.get('VenueCancelFailures')).toBe(4);
  });

  it('unfreeze: the version named, 409 with the state otherwise, and 409 when another writer commits in between', async () => {
    const h = harness();
    expect((await h.api.handle(apiEvent('POST', '/unfreeze', { reason: 'r', version: 1 }))).statusCode).toBe(409);
    await h.api.handle(apiEvent('POST', '/freeze', { reason: 'f' }));
    const stale = await h.api.handle(apiEvent('POST', '/unfreeze', { reason: 'r', version: 3 }));
    expect(stale.statusCode).toBe(409);
    expect(bodyOf(stale)).toMatchObject({ error: expect.stringContaining('version 3 is not the current one (1)'), state: { version: 1 } });
    h.store.beforeCommit = () => {
      h.store.state = { ...h.store.state, version: 2 };
    };
    const raced = await h.api.handle(apiEvent('POST', '/unfreeze', { reason: 'r', version: 1 }));
    expect(raced.statusCode).toBe(409);
    expect(bodyOf(raced)).toMatchObject({ error: expect.stringContaining('changed while unfreezing version 1 (now version 2)'), state: { version: 2 } });
    h.store.beforeCommit = undefined;
    const lifted = await h.api.handle(apiEvent('POST', '/unfreeze', { reason: 'r', version: 2 }));
    expect(lifted.statusCode).toBe(200);
    expect(bodyOf(lifted)).toMatchObject({ changed: true, eventPublished: true, state: { version: 3, freeze: null } });
    expect(h.published.map((event) => event.detail.eventId)).toEqual(['freeze:1', 'unfreeze:2']);
    expect(h.metrics.get('UnfreezeConflicts')).toBe(3);
  });

  it('a failing store is a 503 that names no internals', async () => {
    const h = harness();
    h.store.failing = true;
    for (const event of [apiEvent('POST', '/freeze', { reason: 'f' }), apiEvent('POST', '/unfreeze', { reason: 'f', version: 1 }), apiEvent('GET', '/status')]) {
      const result = await h.api.handle(event);
      expect(result.statusCode).toBe(503);
      expect(result.headers).toMatchObject({ 'retry-after': '1' });
      expect(result.body).not.toMatch(/DynamoDB is down|at .*\.ts/);
      expect(bodyOf(result).error).toMatch(/did not answer; nothing was changed/);
    }
    expect(h.logs.filter((line) => line.level === 'error')).toHaveLength(3);
  });

  it('status: state, history, engines, positions and open orders of every shard', async () => {
    const h = harness();
    await h.api.handle(apiEvent('POST', '/freeze', { reason: 'f' }));
    const status = bodyOf(await h.api.handle(apiEvent('GET', '/status')));
    expect(status).toMatchObject({
      now: new Date(NOW).toISOString(),
      state: { version: 1, frozenSymbols: { BTCUSDT: true, ETHUSDT: true, SOLUSDT: true } },
      history: [{ action: 'freeze', actor: OPERATOR, version: 1, before: { version: 0 }, after: { version: 1 } }],
      engines: [{ shard: 'a', status: 'never-seen' }, { shard: 'b', status: 'never-seen' }],
      positions: [{ shard: 'a', positions: [] }, { shard: 'b', positions: [] }],
      openOrders: [{ shard: 'a', count: 0 }, { shard: 'b', count: 0 }],
    });
  });
});
