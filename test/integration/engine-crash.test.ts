/**
 * Crash-proof restarts: the engine (as the container runs it) is killed with SIGKILL at seeded random
 * points, during its start or while it quotes with orders live and state writes in flight, and started
 * again, many times. Then one last generation reconciles, quotes and stops gracefully, and:
 *
 * - no order was duplicated (every orderLinkId once at the venue) and none is orphaned (every open order
 *   at the venue is known to the running engine; nothing is left open after its stop);
 * - positions equal the venue's, in memory and in DynamoDB, with nothing untracked;
 * - every fill is stored once, and on the bus under one eventId (a kill between PutEvents and clearing
 *   the owed mark redelivers the same event, which consumers deduplicate by eventId).
 *
 * MMRB_CRASH_CYCLES (default 50) and MMRB_CRASH_SEED (default 20261124) reproduce a run.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { seededRandom } from '../../sim/random.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type ReceivedEvent, drainEvents, expectStoreEqualsVenue, subscribeEngineEvents } from '../support/durability.js';
import { eventually, spawnEngine, storeTraderKey, testConfig, testConfigDocument, venueExecutions, venueOpenOrders, venueOrderHistory } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const CYCLES = Number(process.env.MMRB_CRASH_CYCLES ?? '50');
const SEED = Number(process.env.MMRB_CRASH_SEED ?? '20261124');
const SHARD = 'crash';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;

const aws = useProvisionedStage(['crash']);
let sim: Simulator;
let rest: RestClientV5;
let queueUrl: string;
const children: ChildProcess[] = [];
const running: EngineProcess[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 13, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
  queueUrl = await subscribeEngineEvents(aws.clients, aws.stage.names.eventBus);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const engine of running) await engine.stop('test over');
  await sim.close();
});

// A short lease: each generation after a SIGKILL waits as a standby until its predecessor's lease expires.
const settings = () => ({ stage: aws.stage.names.stage, persistence: { enabled: true, flushIntervalMs: 20 }, lease: { ttlMs: 1_500, renewIntervalMs: 500, standbyRetryMs: 100 } });

async function openOrders(): Promise<string[]> {
  const ids: string[] = [];
  for (const symbol of SYMBOLS) for (const order of await venueOpenOrders(rest, symbol)) ids.push(order.orderLinkId);
  return ids;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SIGKILL at random points', () => {
  it(`${CYCLES} kills (seed ${SEED}): no duplicate or orphaned order, positions equal the venue's, no fill counted twice`, async () => {
    const random = seededRandom(SEED);
    const document = testConfigDocument(aws.stage.names.secrets.tradingKey, SHARD, settings());
    const kills = { starting: 0, quoting: 0, withLiveOrders: 0, leasesLost: 0 };
    const lastLogs: string[] = [];
    const events: ReceivedEvent[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const { child, output, exited } = spawnEngine(sim, document);
      children.push(child);
      if (random() < 0.25) {
        // Somewhere in the start: loading, restoring, backfilling, reconciling.
        await sleep(300 + random() * 2_500);
        kills.starting += 1;
      } else {
        await eventually(`cycle ${cycle} quoting`, () => (output.join('').includes('"message":"quoting"') ? true : undefined), 30_000);
        await sleep(random() * 1_500);
        if ((await openOrders()).length > 0) kills.withLiveOrders += 1;
        kills.quoting += 1;
      }
      child.kill('SIGKILL');
      await exited;
      // A generation that lost its lease (renewals too slow on a loaded machine) stops on its own: counted.
      if (output.join('').includes('"message":"lease lost"')) kills.leasesLost += 1;
      // Read as it goes: the emulator's queue slows down as it fills.
      events.push(...(await drainEvents(aws.clients, queueUrl)));
    }
    // Most kills hit an engine with orders live at the venue.
    expect(kills.withLiveOrders).toBeGreaterThanOrEqual(Math.floor(kills.quoting / 2));

    const config = testConfig(sim, aws.stage.names.secrets.tradingKey, SHARD, settings());
    const last = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge }, logSink: (line) => lastLogs.push(line) });
    running.push(last);
    await eventually('ready after the last kill', () => (last.engine.ready().ready ? true : undefined), 30_000);
    // Nothing orphaned: whatever is open at the venue, the running engine knows.
    for (const orderLinkId of await openOrders()) expect({ orderLinkId, known: last.engine.tracker.get(orderLinkId) !== undefined }).toEqual({ orderLinkId, known: true });
    // Every fill of every generation counted once: the executions explain the venue's position exactly, with
    // nothing untracked. (Read until both sides agree: it still quotes, so a fill may be on its way.)
    const counts = async () => {
      const ours: { symbol: string; untracked: string | undefined; fills: number }[] = [];
      const venue: { symbol: string; untracked: string; fills: number }[] = [];
      for (const symbol of SYMBOLS) {
        const status = last.engine.status().symbols.find((entry) => entry.symbol === symbol);
        ours.push({ symbol, untracked: status?.untrackedPosition.toFixed(), fills: last.engine.tracker.position(symbol).tradeCount });
        venue.push({ symbol, untracked: '0', fills: (await venueExecutions(rest, symbol)).length });
      }
      return { ours, venue };
    };
    const seen = { latest: await counts() };
    await eventually('fills counted once', async () => {
      seen.latest = await counts();
      return JSON.stringify(seen.latest.ours) === JSON.stringify(seen.latest.venue) ? true : undefined;
    }, 10_000).catch(() => undefined);
    expect(seen.latest.ours).toEqual(seen.latest.venue);
    expect(await last.stop('done')).toMatchObject({ clean: true, unwrittenState: 0 });

    for (const symbol of SYMBOLS) {
      const history = await venueOrderHistory(rest, symbol);
      expect(new Set(history.map((order) => order.orderLinkId)).size).toBe(history.length);
    }
    let report: Awaited<ReturnType<typeof expectStoreEqualsVenue>>;
    try {
      report = await expectStoreEqualsVenue({ clients: aws.clients, names: aws.stage.names, rest, shard: SHARD, symbols: SYMBOLS, queueUrl, events });
    } catch (error) {
      // What the last generation said about the order named in the failure, to tell why.
      const named = /"orderLinkId": "([^"]+)"/.exec(error instanceof Error ? error.message : '')?.[1];
      const said = named === undefined ? [] : lastLogs.filter((line) => line.includes(named)).slice(0, 20);
      const allLines = join(tmpdir(), 'mmrb-crash-last-generation.log');
      writeFileSync(allLines, `${lastLogs.join('\n')}\n`);
      const warnings = lastLogs.filter((line) => /"level":"(WARN|ERROR)"/.test(line)).slice(0, 30).map((line) => line.slice(0, 400));
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nthe last generation's lines naming it:\n${said.map((line) => line.slice(0, 2000)).join('\n')}\nrestore: ${lastLogs.find((line) => line.includes('restored the stored state')) ?? '-'}\nits warnings and errors:\n${warnings.join('\n')}\nall its lines: ${allLines}`);
    }
    expect(report.venueFills).toBeGreaterThan(0);
    process.stdout.write(`crash test: ${CYCLES} kills (${kills.starting} starting, ${kills.quoting} quoting, ${kills.withLiveOrders} with live orders, ${kills.leasesLost} lost their lease first); ${report.venueFills} fills, ${report.storedOrders} orders stored, ${report.redeliveredFillEvents} fill events redelivered\n`);
  }, 15 * 60_000);
});
