/**
 * The engine's state and events, end to end on the simulator and the emulator: after a session of quoting
 * and fills, and again after a restart that carries on from the stored state, the orders, fills and
 * positions in DynamoDB and the events on the bus (read through an SQS queue that a rule subscribes) equal
 * what the venue reports, each fill exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type ReceivedEvent, expectStoreEqualsVenue, subscribeEngineEvents } from '../support/durability.js';
import { eventually, storeTraderKey, testConfig, venueExecutions } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const aws = useProvisionedStage();
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const SHARD = 'durable';
let sim: Simulator;
let rest: RestClientV5;
let queueUrl: string;
const running: EngineProcess[] = [];
const logs: string[] = [];
/** Every event received so far, across generations. */
const events: ReceivedEvent[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 11, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
  queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
});

afterAll(async () => {
  for (const engine of running) await engine.stop('test over');
  await sim.close();
});

async function startGeneration(): Promise<EngineProcess> {
  const config = testConfig(sim, aws.stage.names.secrets.tradingKey, SHARD, { stage: aws.stage.names.stage, persistence: { enabled: true, flushIntervalMs: 50 } });
  const engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, aws.clients.secrets),
    aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge },
    logSink: (line) => logs.push(line),
  });
  running.push(engine);
  return engine;
}

async function executionCount(): Promise<number> {
  let count = 0;
  for (const symbol of SYMBOLS) count += (await venueExecutions(rest, symbol)).length;
  return count;
}

/** Runs a generation until the venue reports `moreFills` more executions, then stops it gracefully. */
async function runGeneration(moreFills: number): Promise<EngineProcess> {
  const before = await executionCount();
  const engine = await startGeneration();
  await eventually('ready', () => (engine.engine.ready().ready ? true : undefined), 30_000);
  await eventually('fills', async () => ((await executionCount()) >= before + moreFills ? true : undefined), 60_000);
  const report = await engine.stop('generation over');
  expect(report.clean).toBe(true);
  expect(engine.journal?.status()).toMatchObject({ pendingOrders: 0, pendingFills: 0, pendingEvents: 0, pendingClears: 0, fenced: false, duplicateFills: 0 });
  return engine;
}

describe('engine state in DynamoDB and events on EventBridge', () => {
  it('after a session, then again after a restart from the stored state, equal the venue, each fill once', async () => {
    await runGeneration(3);
    const check = { clients: aws.clients, names: aws.stage.names, rest, shard: SHARD, symbols: SYMBOLS, queueUrl, events };
    const first = await expectStoreEqualsVenue(check);
    expect(first.venueFills).toBeGreaterThanOrEqual(3);
    // A graceful stop leaves nothing to publish twice.
    expect(first.redeliveredFillEvents).toBe(0);

    // The next generation carries on from the stored positions: nothing counted twice, nothing missed.
    const second = await runGeneration(2);
    expect(await expectStoreEqualsVenue(check)).toMatchObject({ redeliveredFillEvents: 0 });
    expect(logs.some((line) => line.includes('restored the stored state'))).toBe(true);
    for (const symbol of SYMBOLS) {
      expect(second.engine.tracker.position(symbol).tradeCount).toBe((await venueExecutions(rest, symbol)).length);
    }
  }, 150_000);
});
