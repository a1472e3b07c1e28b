/**
 * The freeze API Lambda (lambdas/freeze-api.ts) with real clients on the emulator and the simulator: the
 * control item and its audit record written together or not at all, the version check of an unfreeze
 * (also between two operators racing), Freeze and Unfreeze events on the bus, a hard stop cancelling at
 * the venue, every bad request refused without a write, faults of DynamoDB and EventBridge; and the same
 * handler behind the loopback server (src/control/api-server.ts) driven by the ops CLI.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { RestClientV5 } from 'bybit-api';
import { randomBytes } from 'node:crypto';
import { DynamoControlStore } from '../../src/adapters/dynamodb/control-store.js';
import { DynamoHeartbeatStore } from '../../src/adapters/dynamodb/heartbeat-store.js';
import { proxyEventOf, startFreezeApiServer } from '../../src/control/api-server.js';
import type { EngineView, StateView } from '../../src/control/freeze-api.js';
import { main as opsCli } from '../../src/control/ops-cli.js';
import { type ControlSettings, ControlSettingsSchema } from '../../src/control/settings.js';
import { decideUnfreeze } from '../../src/core/control.js';
import { EVENT_SOURCES, parseEventDetail } from '../../src/core/events.js';
import { type AwsClients, destroyAwsClients } from '../../src/local/provision.js';
import type { ControlStore, VenueCancelReport } from '../../src/ports/control.js';
import { type FreezeApiHandlerDeps, createFreezeApiHandler } from '../../lambdas/freeze-api.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { testClients, useProvisionedStage } from '../support/aws.js';
import { type ReceivedEvent, drainEvents, injectFaults, scanTable } from '../support/durability.js';
import { storeTraderKey, venueOpenOrders } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

// Powertools Metrics would print EMF lines on every invocation; the counters are still kept (and read below).
// Restored after this file: the worker's environment outlives it.
const metricsDisabledBefore = process.env.POWERTOOLS_METRICS_DISABLED;
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const aws = useProvisionedStage();
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/operator/bob';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
/** A resting post-only buy per symbol, below the simulator's mid. */
const RESTING: Record<(typeof SYMBOLS)[number], { price: string; qty: string }> = { BTCUSDT: { price: '64500.0', qty: '0.001' }, ETHUSDT: { price: '3480.00', qty: '0.01' } };

let sim: Simulator;
let rest: RestClientV5;
let settings: ControlSettings;
let queueUrl: string;
const metricNames: string[] = [];
let handler: ReturnType<typeof createFreezeApiHandler>;

const silentLogger = () => new PowertoolsLogger({ serviceName: 'freeze-api', logLevel: 'SILENT' });
const noSleep = () => Promise.resolve();

function countingMetrics(): Metrics {
  const metrics = new Metrics({ namespace: 'MmRebateBot', serviceName: 'freeze-api' });
  const add = metrics.addMetric.bind(metrics);
  metrics.addMetric = (name, unit, value) => {
    metricNames.push(name);
    return add(name, unit, value);
  };
  return metrics;
}

function buildHandler(overrides: Partial<FreezeApiHandlerDeps> = {}) {
  return createFreezeApiHandler({ settings, clients: aws.clients, logger: silentLogger(), metrics: countingMetrics(), sleep: noSleep, ...overrides });
}

/** A queue that receives every event the freeze API puts on the stage's bus. */
async function subscribeFreezeApiEvents(clients: AwsClients, busName: string): Promise<string> {
  const name = `freeze-api-events-${randomBytes(4).toString('hex')}`;
  const url = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  const arn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
  await clients.eventBridge.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify({ source: [EVENT_SOURCES.freezeApi] }) }));
  await clients.eventBridge.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'queue', Arn: arn }] }));
  return url;
}

beforeAll(async () => {
  // Generous per-UID limits: the test cancels and places faster than a trading key may.
  sim = await startSimulator({ seed: 61, rateLimitScale: 100 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  const names = aws.stage.names;
  await storeTraderKey(aws.clients.secrets, names.secrets.tradingKey);
  settings = ControlSettingsSchema.parse({
    stage: names.stage,
    shards: { alpha: ['BTCUSDT'], beta: ['ETHUSDT'] },
    venue: { restUrl: sim.restUrl, credentialsSecretId: names.secrets.tradingKey },
    requestTimeoutMs: 5_000,
    risk: { limits: {}, heartbeatStaleMs: 30_000 },
  });
  handler = buildHandler();
  queueUrl = await subscribeFreezeApiEvents(aws.clients, names.eventBus);
});

afterAll(async () => {
  await sim.close();
  if (metricsDisabledBefore === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = metricsDisabledBefore;
});

// ---------------------------------------------------------------- helpers

/** Every field any answer may carry (the test reads the ones its route answers with). */
interface AnswerBody {
  readonly error?: string;
  readonly fields?: readonly { path: string; message: string }[];
  readonly changed?: boolean;
  readonly eventPublished?: boolean;
  readonly state: StateView;
  readonly venueCancel?: { ok: boolean; symbols: VenueCancelReport[] };
  readonly history: readonly Record<string, unknown>[];
  readonly engines: readonly EngineView[];
  readonly positions: readonly unknown[];
  readonly openOrders: readonly unknown[];
}

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: AnswerBody;
}

interface CallOptions {
  readonly principal?: string | null;
  readonly contentType?: string;
  readonly rawBody?: string;
  readonly via?: typeof handler;
}

function lambdaContext(): Context {
  return { functionName: 'freeze-api-test', awsRequestId: randomBytes(8).toString('hex'), getRemainingTimeInMillis: () => 30_000 } as Context;
}

/** Invokes the Lambda handler with the event API Gateway would send. */
async function call(method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Answer> {
  const text = options.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
  const event: APIGatewayProxyEvent = proxyEventOf({
    method,
    url: path,
    rawHeaders: ['Content-Type', options.contentType ?? 'application/json'],
    body: Buffer.from(text),
    principalArn: options.principal ?? ALICE,
    sourceIp: '10.0.0.1',
  });
  if (options.principal === null) (event.requestContext.identity as { userArn: string | null }).userArn = null;
  const result = await (options.via ?? handler)(event, lambdaContext());
  return { status: result.statusCode, contentType: result.headers?.['content-type'] as string | undefined, body: JSON.parse(result.body) as AnswerBody };
}

const controlStore = () => new DynamoControlStore({ client: aws.clients.dynamodb, tables: aws.stage.names.tables, requestTimeoutMs: 5_000 });

/** The control item as stored, and every audit record. */
async function stored(): Promise<{ control: Record<string, unknown> | undefined; audit: Record<string, unknown>[] }> {
  const item = (await aws.clients.dynamodb.send(new GetItemCommand({ TableName: aws.stage.names.tables.control, Key: marshall({ pk: 'control' }), ConsistentRead: true }))).Item;
  return { control: item && unmarshall(item), audit: await scanTable(aws.clients, aws.stage.names.tables.audit) };
}

const events: ReceivedEvent[] = [];
/** Events the freeze API put on the bus since the last call. */
async function newEvents(): Promise<ReceivedEvent[]> {
  const received = await drainEvents(aws.clients, queueUrl);
  events.push(...received);
  return received;
}

/** Lifts whatever is frozen, cancels every order at the venue, and forgets the events so far. */
async function reset(): Promise<void> {
  const state = await controlStore().read();
  if (state.freeze) expect((await call('POST', '/unfreeze', { reason: 'test reset', version: state.version })).status).toBe(200);
  for (const symbol of SYMBOLS) expect((await rest.cancelAllOrders({ category: 'linear', symbol })).retCode).toBe(0);
  await newEvents();
}

let orderCount = 0;
async function placeResting(symbol: (typeof SYMBOLS)[number]): Promise<string> {
  orderCount += 1;
  const orderLinkId = `fz-${process.pid}-${orderCount}`;
  const answer = await rest.submitOrder({ category: 'linear', symbol, side: 'Buy', orderType: 'Limit', timeInForce: 'PostOnly', orderLinkId, ...RESTING[symbol] });
  expect({ retCode: answer.retCode, retMsg: answer.retMsg }).toEqual({ retCode: 0, retMsg: 'OK' });
  return orderLinkId;
}

const openIds = async (symbol: string) => (await venueOpenOrders(rest, symbol)).map((order) => order.orderLinkId).sort();

beforeEach(reset);

// ---------------------------------------------------------------- the routes

describe('freeze, status, unfreeze', () => {
  it('a hard freeze, the status, and an unfreeze of its version: each change audited with its principal and announced on the bus', async () => {
    const before = await stored();
    const frozen = await call('POST', '/freeze', { reason: 'checking the venue' });
    expect(frozen.status).toBe(200);
    expect(frozen.contentType).toBe('application/json');
    const version = ((before.control?.version as number | undefined) ?? 0) + 1;
    expect(frozen.body).toMatchObject({
      changed: true,
      eventPublished: true,
      state: { version, freeze: { mode: 'hard', symbols: [], reason: { code: 'manual', message: 'checking the venue' }, actor: ALICE, expired: false }, frozenSymbols: { BTCUSDT: true, ETHUSDT: true } },
      venueCancel: { ok: true, symbols: [{ symbol: 'BTCUSDT', ok: true, cancelled: 0 }, { symbol: 'ETHUSDT', ok: true, cancelled: 0 }] },
    });
    expect(metricNames).toEqual(expect.arrayContaining(['FreezeRequests', 'Freezes']));

    // Engines: alpha's heartbeat is a minute old (stale), beta's fresh; a position and an open order of alpha.
    const heartbeats = new DynamoHeartbeatStore({ client: aws.clients.dynamodb, table: aws.stage.names.tables.control, requestTimeoutMs: 5_000 });
    const beat = (shard: string, sentAt: number) => ({
      schemaVersion: 1 as const,
      eventId: `heartbeat:${shard}:7:${sentAt}`,
      shard,
      epoch: 7,
      sentAt,
      phase: 'running' as const,
      frozen: true,
      symbols: [],
    });
    await heartbeats.put(beat('alpha', Date.now() - 60_000));
    await heartbeats.put(beat('beta', Date.now()));
    await aws.clients.dynamodb.send(new PutItemCommand({ TableName: aws.stage.names.tables.positions, Item: marshall(positionItem('alpha', 'BTCUSDT')) }));
    await aws.clients.dynamodb.send(new PutItemCommand({ TableName: aws.stage.names.tables.orders, Item: marshall(openOrderItem('alpha', 'BTCUSDT')) }));

    const status = await call('GET', '/status');
    expect(status.status).toBe(200);
    expect(status.body.state).toEqual(frozen.body.state);
    expect(status.body.history[0]).toMatchObject({
      action: 'freeze',
      actor: ALICE,
      reason: 'manual: checking the venue',
      version,
      before: { pk: 'control', version: version - 1 },
      after: { pk: 'control', version, freeze: { mode: 'hard', actor: ALICE } },
    });
    expect(status.body.engines).toEqual([
      expect.objectContaining({ shard: 'alpha', symbols: ['BTCUSDT'], status: 'stale', stale: true, ageMs: expect.any(Number) }),
      expect.objectContaining({ shard: 'beta', symbols: ['ETHUSDT'], status: 'alive', stale: false }),
    ]);
    expect(status.body.engines[0]?.ageMs).toBeGreaterThanOrEqual(60_000);
    expect(status.body.positions).toEqual([
      { shard: 'alpha', positions: [expect.objectContaining({ symbol: 'BTCUSDT', position: '0.002', realisedPnl: '1.5', feesPaid: '0.01', rebatesEarned: '0.02', netRealised: '1.51' })] },
      { shard: 'beta', positions: [] },
    ]);
    expect(status.body.openOrders).toEqual([{ shard: 'alpha', count: 1 }, { shard: 'beta', count: 0 }]);

    const lifted = await call('POST', '/unfreeze', { reason: 'venue fine', version }, { principal: BOB });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toMatchObject({ changed: true, eventPublished: true, state: { version: version + 1, freeze: null, frozenSymbols: { BTCUSDT: false, ETHUSDT: false } } });

    const after = await stored();
    expect(after.control).toMatchObject({ pk: 'control', version: version + 1 });
    expect(after.control).not.toHaveProperty('freeze');
    const audit = after.audit.filter((record) => !before.audit.some((old) => old.at === record.at));
    expect(audit.map((record) => [record.action, record.actor, record.version, record.reason])).toEqual([
      ['freeze', ALICE, version, 'manual: checking the venue'],
      ['unfreeze', BOB, version + 1, 'venue fine'],
    ]);
    for (const record of audit) expect(Date.parse((record.at as string).split('#')[0] ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.parse(audit[1]?.before as string)).toMatchObject({ version, freeze: { mode: 'hard' } });

    const announced = await newEvents();
    expect(announced.map((event) => [event.source, event.detailType, event.detail.eventId, event.detail.actor])).toEqual([
      [EVENT_SOURCES.freezeApi, 'Freeze', `freeze:${version}`, ALICE],
      [EVENT_SOURCES.freezeApi, 'Unfreeze', `unfreeze:${version}`, BOB],
    ]);
    for (const event of announced) expect(parseEventDetail(event.detailType, event.detail)).toMatchObject({ ok: true });
  });

  it('an unfreeze naming a stale version is refused with the current state, and writes nothing', async () => {
    const frozen = await call('POST', '/freeze', { reason: 'stale check', mode: 'pause', resumeAfterMinutes: 30 });
    const version = frozen.body.state.version;
    const before = await stored();
    const refused = await call('POST', '/unfreeze', { reason: 'too late', version: version - 1 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: expect.stringContaining(`version ${version - 1} is not the current one (${version})`), state: { version, freeze: { mode: 'pause' } } });
    expect(await stored()).toEqual(before);
    expect((await newEvents()).map((event) => event.detailType)).toEqual(['Freeze']);
  });

  it('two operators unfreezing the same version at once: exactly one succeeds, the other gets 409', async () => {
    const version = (await call('POST', '/freeze', { reason: 'race' })).body.state.version;
    await newEvents();
    // Both invocations read the state before either commits (as two Lambdas can), then commit one after the
    // other: the second commit is refused by DynamoDB's version condition, not by an earlier read.
    const real = controlStore();
    let readers = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    let commits: Promise<unknown> = Promise.resolve();
    const interleaved: ControlStore = {
      read: async () => {
        const state = await real.read();
        readers += 1;
        if (readers === 2) release();
        await bothRead;
        return state;
      },
      commit: (change) => {
        const run = commits.then(() => real.commit(change));
        commits = run.catch(() => undefined);
        return run;
      },
      history: (limit) => real.history(limit),
    };
    const racing = buildHandler({ control: interleaved });
    const before = await stored();
    const answers = await Promise.all([
      call('POST', '/unfreeze', { reason: 'alice lifts', version }, { principal: ALICE, via: racing }),
      call('POST', '/unfreeze', { reason: 'bob lifts', version }, { principal: BOB, via: racing }),
    ]);
    expect(readers).toBe(2);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const winner = answers.find((answer) => answer.status === 200);
    const loser = answers.find((answer) => answer.status === 409);
    expect(loser?.body).toMatchObject({ error: expect.stringContaining(`changed while unfreezing version ${version}`), state: { version: version + 1, freeze: null } });
    expect(winner?.body.state).toMatchObject({ version: version + 1, freeze: null });
    const after = await stored();
    expect(after.audit.length).toBe(before.audit.length + 1);
    expect(after.control).toMatchObject({ version: version + 1 });
    expect((await newEvents()).map((event) => event.detail.eventId)).toEqual([`unfreeze:${version}`]);

    // The same at the store: two decisions on one read state, committed both; the second conflicts.
    const frozenAgain = (await call('POST', '/freeze', { reason: 'race 2' })).body.state.version;
    const state = await real.read();
    const decisions = [ALICE, BOB].map((actor) => decideUnfreeze(state, { version: frozenAgain, reason: 'r', actor }, Date.now()));
    const outcomes = [];
    for (const decision of decisions) if (decision.kind === 'change') outcomes.push(await real.commit(decision.change));
    expect(outcomes).toEqual([{ ok: true }, { ok: false, current: expect.objectContaining({ version: frozenAgain + 1, freeze: undefined }) }]);
  });

  it('a hard freeze of everything cancels every open order at the venue, and reports it per symbol', async () => {
    for (const symbol of SYMBOLS) for (let index = 0; index < 2; index++) await placeResting(symbol);
    expect((await openIds('BTCUSDT')).length).toBe(2);
    const frozen = await call('POST', '/freeze', { reason: 'venue misbehaves', mode: 'hard' });
    expect(frozen.status).toBe(200);
    expect(frozen.body.venueCancel).toEqual({ ok: true, symbols: [{ symbol: 'BTCUSDT', ok: true, cancelled: 2 }, { symbol: 'ETHUSDT', ok: true, cancelled: 2 }] });
    for (const symbol of SYMBOLS) expect(await openIds(symbol)).toEqual([]);
  });

  it('a scoped hard freeze stops one symbol: its orders cancelled, the other\'s left; then widened to both', async () => {
    await placeResting('BTCUSDT');
    const eth = await placeResting('ETHUSDT');
    const frozen = await call('POST', '/freeze', { reason: 'BTC only', symbols: ['BTCUSDT'] });
    expect(frozen.body).toMatchObject({ changed: true, state: { freeze: { mode: 'hard', symbols: ['BTCUSDT'] }, frozenSymbols: { BTCUSDT: true, ETHUSDT: false } }, venueCancel: { symbols: [{ symbol: 'BTCUSDT', cancelled: 1 }] } });
    expect(frozen.body.venueCancel?.symbols).toHaveLength(1);
    expect(await openIds('BTCUSDT')).toEqual([]);
    expect(await openIds('ETHUSDT')).toEqual([eth]);
    const widened = await call('POST', '/freeze', { reason: 'ETH too', symbols: ['ETHUSDT'] });
    expect(widened.body).toMatchObject({ changed: true, state: { version: (frozen.body.state.version) + 1, freeze: { symbols: ['BTCUSDT', 'ETHUSDT'], reason: { message: 'ETH too' } } } });
    expect(await openIds('ETHUSDT')).toEqual([]);
  });

  it('a pause stores its resume time and leaves the venue alone', async () => {
    const eth = await placeResting('ETHUSDT');
    const asked = Date.now();
    const paused = await call('POST', '/freeze', { reason: 'lunch', mode: 'pause', resumeAfterMinutes: 20, symbols: ['ETHUSDT'] });
    expect(paused.status).toBe(200);
    expect(paused.body).not.toHaveProperty('venueCancel');
    const resumeAt = Date.parse(paused.body.state.freeze?.resumeAt ?? '');
    expect(resumeAt).toBeGreaterThanOrEqual(asked + 20 * 60_000);
    expect(resumeAt).toBeLessThan(Date.now() + 20 * 60_000 + 1);
    expect((await stored()).control).toMatchObject({ freeze: { mode: 'pause', symbols: ['ETHUSDT'], resumeAt } });
    expect(await openIds('ETHUSDT')).toEqual([eth]);
  });

  it('freezing again within the current freeze changes nothing: no audit record, no event', async () => {
    const first = await call('POST', '/freeze', { reason: 'first', symbols: ['BTCUSDT', 'ETHUSDT'] });
    await newEvents();
    const before = await stored();
    const again = await call('POST', '/freeze', { reason: 'second', symbols: ['ETHUSDT'] }, { principal: BOB });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ changed: false, eventPublished: false, state: first.body.state });
    expect(await stored()).toEqual(before);
    expect(await newEvents()).toEqual([]);
  });
});

// ---------------------------------------------------------------- refusals

describe('bad requests are refused and write nothing', () => {
  const table: [string, () => Promise<Answer>, number, string[]][] = [
    ['wrong content type', () => call('POST', '/freeze', { reason: 'x' }, { contentType: 'text/plain' }), 415, []],
    ['a body of 5000 bytes', () => call('POST', '/freeze', undefined, { rawBody: JSON.stringify({ reason: 'x'.repeat(4_987) }) }), 413, []],
    ['invalid JSON', () => call('POST', '/freeze', undefined, { rawBody: '{"reason": "x"' }), 400, ['(body)']],
    ['missing reason', () => call('POST', '/freeze', { symbols: ['BTCUSDT'] }), 400, ['reason']],
    ['unknown key', () => call('POST', '/freeze', { reason: 'x', everything: true }), 400, ['everything']],
    ['pause without minutes', () => call('POST', '/freeze', { reason: 'x', mode: 'pause' }), 400, ['resumeAfterMinutes']],
    ['hard with minutes', () => call('POST', '/freeze', { reason: 'x', mode: 'hard', resumeAfterMinutes: 10 }), 400, ['resumeAfterMinutes']],
    ['unknown symbol', () => call('POST', '/freeze', { reason: 'x', symbols: ['DOGEUSDT'] }), 400, ['symbols.0']],
    ['version not an integer', () => call('POST', '/unfreeze', { reason: 'x', version: 1.5 }), 400, ['version']],
    ['GET on /freeze', () => call('GET', '/freeze'), 405, []],
    ['/nope', () => call('POST', '/nope', { reason: 'x' }), 404, []],
    ['missing principal', () => call('POST', '/freeze', { reason: 'x' }, { principal: null }), 403, []],
  ];

  it.each(table)('%s', async (_name, request, status, fields) => {
    // From a frozen state, so that a wrongly accepted unfreeze or freeze would show.
    await call('POST', '/freeze', { reason: 'baseline', symbols: ['BTCUSDT'] });
    await newEvents();
    const before = await stored();
    const answer = await request();
    expect(answer.status).toBe(status);
    expect(answer.contentType).toBe('application/json');
    expect(answer.body.error).toEqual(expect.any(String));
    expect(JSON.stringify(answer.body)).not.toMatch(/\bat .+:\d+:\d+|apiSecret|SIMTRADER/);
    expect((answer.body.fields as { path: string }[] | undefined)?.map((field) => field.path) ?? []).toEqual(fields);
    expect(await stored()).toEqual(before);
    expect(await newEvents()).toEqual([]);
  });
});

// ---------------------------------------------------------------- faults

describe('faults the emulator cannot produce', () => {
  let faulty: AwsClients | undefined;
  afterAll(() => {
    if (faulty) destroyAwsClients(faulty);
  });

  it('DynamoDB failing: 503 with a clear message, nothing half-written; the status too', async () => {
    faulty = testClients();
    const faults = injectFaults(faulty.dynamodb, 'freeze-api-ddb');
    const failing = buildHandler({ clients: faulty });
    await call('POST', '/freeze', { reason: 'baseline', symbols: ['BTCUSDT'] });
    const before = await stored();
    faults.only.add('TransactWriteItemsCommand');
    faults.mode = 'error';
    const refused = await call('POST', '/freeze', { reason: 'during an outage' }, { via: failing });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/did not answer; nothing was changed by this request/);
    expect(faults.injected).toBeGreaterThan(0);
    expect(await stored()).toEqual(before);
    faults.only.clear();
    expect((await call('GET', '/status', undefined, { via: failing })).status).toBe(503);
    faults.mode = 'none';
    expect((await call('GET', '/status', undefined, { via: failing })).status).toBe(200);
  });

  it('EventBridge failing: 200 with eventPublished false, and the freeze stands', async () => {
    faulty ??= testClients();
    const faults = injectFaults(faulty.eventBridge, 'freeze-api-bus');
    faults.only.add('PutEventsCommand');
    faults.mode = 'error';
    const answer = await call('POST', '/freeze', { reason: 'bus down', symbols: ['ETHUSDT'] }, { via: buildHandler({ clients: { ...aws.clients, eventBridge: faulty.eventBridge } }) });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ changed: true, eventPublished: false });
    expect(faults.injected).toBeGreaterThanOrEqual(3);
    expect(await controlStore().read()).toMatchObject({ version: answer.body.state.version, freeze: { mode: 'hard', symbols: ['ETHUSDT'] } });
    expect(await newEvents()).toEqual([]);
    expect(metricNames).toContain('EventPublishFailures');
  });
});

// ---------------------------------------------------------------- over HTTP, with the ops CLI

describe('the loopback server and the ops CLI', () => {
  it('serves the handler over HTTP as the local principal; the CLI freezes, reads the status and unfreezes', async () => {
    const local = 'arn:aws:iam::000000000000:user/local-operator';
    const server = await startFreezeApiServer({ handler, port: 0, principalArn: local });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const posted = await fetch(`${server.url}/freeze`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ reason: 'over http', symbols: ['ETHUSDT'] }) });
      expect(posted.status).toBe(200);
      expect(posted.headers.get('content-type')).toBe('application/json');
      expect(await posted.json()).toMatchObject({ changed: true, state: { freeze: { actor: local, symbols: ['ETHUSDT'] } } });
      const missing = await fetch(`${server.url}/nope?x=1`);
      expect(missing.status).toBe(404);
      expect((await fetch(`${server.url}/freeze`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(5_000) })).status).toBe(413);
      const huge = await fetch(`${server.url}/freeze`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) }).catch((error: unknown) => error);
      // Refused at the socket: a 413, or the connection closed while the client was still sending.
      if (huge instanceof Response) expect(huge.status).toBe(413);
      else expect(String(huge)).toMatch(/fetch failed/);

      const run = async (argv: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await opsCli(argv, { env: { MMRB_FREEZE_API_URL: server.url }, stdout: (text) => out.push(text), stderr: (text) => err.push(text) });
        return { code, out: out.join(''), err: err.join('') };
      };
      const status = await run(['status']);
      expect(status.code).toBe(0);
      const shown = JSON.parse(status.out) as { state: { version: number; frozenSymbols: Record<string, boolean> } };
      expect(shown.state.frozenSymbols).toEqual({ BTCUSDT: false, ETHUSDT: true });
      const version = shown.state.version;

      const widened = await run(['freeze', '--reason', 'cli pause', '--symbols', 'BTCUSDT', '--pause-minutes', '5']);
      expect(widened.code).toBe(0);
      // A pause of BTC joins the hard stop of ETH: one hard stop of both (a hard stop wins).
      expect(JSON.parse(widened.out)).toMatchObject({ changed: true, state: { version: version + 1, freeze: { mode: 'hard', symbols: ['BTCUSDT', 'ETHUSDT'] } } });

      const stale = await run(['unfreeze', '--reason', 'cli', '--version', String(version)]);
      expect(stale.code).toBe(1);
      expect(JSON.parse(stale.out)).toMatchObject({ state: { version: version + 1 } });
      expect(stale.err).toContain('HTTP 409');

      const lifted = await run(['unfreeze', '--reason', 'cli', '--version', String(version + 1)]);
      expect(lifted.code).toBe(0);
      expect(JSON.parse(lifted.out)).toMatchObject({ changed: true, state: { version: version + 2, freeze: null } });
      expect((await run(['freeze'])).code).toBe(2);
      expect((await stored()).audit.filter((record) => record.actor === local).map((record) => record.action)).toEqual(['freeze', 'freeze', 'unfreeze']);
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------- stored records the status reads

function positionItem(shard: string, symbol: string): Record<string, unknown> {
  const now = Date.now();
  return {
    shard,
    symbol,
    sizeLots: '2',
    costTickLots: '1300000',
    realisedTickLots: '15',
    feesPaid: '0.01',
    rebatesEarned: '0.02',
    fundingPnl: '0',
    makerLots: '4',
    takerLots: '0',
    tradeCount: 4,
    lastExecTime: now - 5_000,
    execCount: 4,
    epoch: 7,
    revision: 4,
    updatedAt: now,
    position: '0.002',
    realisedPnl: '1.5',
    netRealised: '1.51',
  };
}

function openOrderItem(shard: string, symbol: string): Record<string, unknown> {
  const now = Date.now();
  return {
    orderLinkId: `${shard}-7-1`,
    shard,
    symbol,
    side: 'Buy',
    priceTicks: 645000,
    qtyLots: 1,
    createdAt: now,
    level: 0,
    status: 'New',
    price: '64500.0',
    qty: '0.001',
    epoch: 7,
    revision: 1,
    updatedAt: now,
    openShard: shard,
  };
}
