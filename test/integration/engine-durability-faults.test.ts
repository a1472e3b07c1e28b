/**
 * DynamoDB and EventBridge failing under a quoting engine (faults injected into the real SDK clients:
 * throttling, server errors, requests slower than the timeout). The queues stay bounded, the engine stops
 * quoting past the configured lag and says why, quotes again once the writes catch up, and nothing is lost:
 * after a graceful stop the store and the bus equal the venue, each fill once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { type AwsClients, destroyAwsClients } from '../../src/local/provision.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { testClients, useProvisionedStage } from '../support/aws.js';
import { type Faults, type ReceivedEvent, drainEvents, expectStoreEqualsVenue, injectFaults, subscribeEngineEvents } from '../support/durability.js';
import { eventually, storeTraderKey, testConfig, venueExecutions, venueOpenOrders } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const aws = useProvisionedStage();
const SHARD = 'faulty';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const STOP_QUOTING_LAG_MS = 1_500;
let sim: Simulator;
let rest: RestClientV5;
let queueUrl: string;
/** The engine's own clients, with faults injected; the test reads back through clean ones. */
let engineClients: AwsClients;
let faults: { dynamodb: Faults; eventBridge: Faults };
let engine: EngineProcess | undefined;
const logs: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 17, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
  queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
  engineClients = testClients();
  faults = { dynamodb: injectFaults(engineClients.dynamodb, 'dynamodb'), eventBridge: injectFaults(engineClients.eventBridge, 'eventbridge') };
});

afterAll(async () => {
  await engine?.stop('test over');
  destroyAwsClients(engineClients);
  await sim.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openOrderCount(): Promise<number> {
  let count = 0;
  for (const symbol of SYMBOLS) count += (await venueOpenOrders(rest, symbol)).length;
  return count;
}

function blockers(running: EngineProcess): string[] {
  return running.engine.status().symbols.flatMap((symbol) => symbol.blockers);
}

/** Samples the write-behind's queues while a fault lasts: the most items it held, first half and second half. */
async function sampleWhile(running: EngineProcess, ms: number): Promise<{ firstHalf: number; secondHalf: number }> {
  const peaks = { firstHalf: 0, secondHalf: 0 };
  const start = Date.now();
  while (Date.now() - start < ms) {
    const status = running.journal?.status();
    const pending = status ? status.pendingOrders + status.pendingFills + status.pendingEvents : 0;
    const half = Date.now() - start < ms / 2 ? 'firstHalf' : 'secondHalf';
    peaks[half] = Math.max(peaks[half], pending);
    await sleep(100);
  }
  return peaks;
}

async function quotingAgain(running: EngineProcess): Promise<void> {
  await eventually('quoting again', async () => (blockers(running).length === 0 && (await openOrderCount()) > 0 ? true : undefined), 30_000);
}

describe('state writes under DynamoDB and EventBridge faults', () => {
  it('stay bounded, stop quoting past the lag and say why, then catch up and lose nothing', async () => {
    const config = testConfig(sim, aws.stage.names.secrets.tradingKey, SHARD, {
      stage: aws.stage.names.stage,
      persistence: { enabled: true, flushIntervalMs: 20, stopQuotingLagMs: STOP_QUOTING_LAG_MS, requestTimeoutMs: 500, backoffBaseMs: 50, backoffMaxMs: 400, logAfterAttempts: 3 },
      // The lease lives in the same table: a DynamoDB outage longer than the lease fences the engine for good
      // (it cannot prove it is the only writer), which is the lease's test, not this one's.
      lease: { ttlMs: 120_000, renewIntervalMs: 5_000 },
    });
    engine = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), aws: { dynamodb: engineClients.dynamodb, eventBridge: engineClients.eventBridge }, logSink: (line) => logs.push(line) });
    const running = engine;
    await quotingAgain(running);
    await eventually('a fill', async () => ((await venueExecutions(rest, 'BTCUSDT')).length + (await venueExecutions(rest, 'ETHUSDT')).length > 0 ? true : undefined), 40_000);
    const events: ReceivedEvent[] = [];

    // DynamoDB throttles every request: the engine stops quoting within the lag, says why, and pulls its quotes.
    faults.dynamodb.mode = 'throttle';
    await eventually('quoting stopped for the lag', () => (blockers(running).some((reason) => reason.startsWith('state writes behind')) ? true : undefined), 10_000);
    await eventually('quotes pulled', async () => ((await openOrderCount()) === 0 ? true : undefined), 10_000);
    // Bounded while it lasts: with no quotes out, almost nothing new arrives to queue.
    const throttled = await sampleWhile(running, 4_000);
    expect(throttled.secondHalf).toBeLessThanOrEqual(throttled.firstHalf + 4);
    expect(logs.some((line) => line.includes('still not written; its content, which is still retried') && line.includes('"content"'))).toBe(true);
    faults.dynamodb.mode = 'none';
    await quotingAgain(running);
    events.push(...(await drainEvents(aws.clients, queueUrl)));

    // EventBridge fails with server errors, then answers slower than the request timeout.
    for (const mode of ['error', 'slow'] as const) {
      faults.eventBridge.mode = mode;
      faults.eventBridge.slowMs = 800;
      await eventually(`quoting stopped while EventBridge is ${mode}`, () => (blockers(running).some((reason) => reason.startsWith('state writes behind')) ? true : undefined), 20_000);
      const peaks = await sampleWhile(running, 2_000);
      expect(peaks.secondHalf).toBeLessThanOrEqual(peaks.firstHalf + 4);
      faults.eventBridge.mode = 'none';
      await quotingAgain(running);
    }

    // DynamoDB slow but within the timeout: the writes keep up and quoting goes on.
    faults.dynamodb.mode = 'slow';
    faults.dynamodb.slowMs = 100;
    await sleep(2_000);
    expect(blockers(running)).toEqual([]);
    faults.dynamodb.mode = 'none';

    expect(faults.dynamodb.injected).toBeGreaterThan(0);
    expect(faults.eventBridge.injected).toBeGreaterThan(0);
    expect(running.journal?.status().retries).toBeGreaterThan(0);
    expect((await running.stop('test over')).clean).toBe(true);
    expect(running.journal?.status()).toMatchObject({ pendingOrders: 0, pendingFills: 0, pendingEvents: 0, pendingClears: 0 });
    const report = await expectStoreEqualsVenue({ clients: aws.clients, names: aws.stage.names, rest, shard: SHARD, symbols: SYMBOLS, queueUrl, events });
    expect(report.venueFills).toBeGreaterThan(0);
  }, 180_000);
});
