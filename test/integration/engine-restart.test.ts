/**
 * Restarts: the engine stopped gracefully (in process, and as the container's process by SIGTERM) and
 * killed with SIGKILL while its orders are live, then started again. No order is duplicated, none is
 * orphaned (every open order at the venue is one the running engine knows), and positions equal the venue's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import type { ChildProcess } from 'node:child_process';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { dec } from '../../src/core/decimal.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type EngineChild, eventually, killHoldingOrders, spawnEngine, storeTraderKey, testConfig, testConfigDocument, venueExecutions, venueOpenOrders, venueOrderHistory } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const aws = useProvisionedStage();
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
let sim: Simulator;
let rest: RestClientV5;
const running: EngineProcess[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 9, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const engine of running) await engine.stop('test over');
  await sim.close();
});

async function startInProcess(shard: string, logSink: (line: string) => void = () => undefined): Promise<EngineProcess> {
  const config = testConfig(sim, aws.stage.names.secrets.tradingKey, shard);
  const engine = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), logSink });
  running.push(engine);
  return engine;
}

function startChild(shard: string, imports: readonly string[] = []): EngineChild {
  const started = spawnEngine(sim, testConfigDocument(aws.stage.names.secrets.tradingKey, shard), imports);
  children.push(started.child);
  return started;
}

async function openOrdersOf(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const symbol of SYMBOLS) for (const order of await venueOpenOrders(rest, symbol)) if (order.orderLinkId.startsWith(prefix)) ids.push(order.orderLinkId);
  return ids;
}

async function venuePositionQty(symbol: string): Promise<string> {
  const row = (await rest.getPositionInfo({ category: 'linear', symbol })).result.list[0];
  if (!row || row.side === '') return '0';
  return dec(row.size).times(dec(row.side === 'Buy' ? '1' : '-1')).toFixed();
}

/** The restarted engine's view equals the venue's: positions, and every venue open order known to it. */
async function expectConsistent(engine: EngineProcess): Promise<void> {
  await eventually('ready after restart', () => (engine.engine.ready().ready ? true : undefined));
  for (const symbol of SYMBOLS) {
    const status = engine.engine.status().symbols.find((entry) => entry.symbol === symbol);
    expect(status?.position.toFixed()).toBe(await venuePositionQty(symbol));
    for (const order of await venueOpenOrders(rest, symbol)) expect(engine.engine.tracker.get(order.orderLinkId)).toBeDefined();
    // No duplicate: Bybit keeps orderLinkIds unique, and no slot ever held two orders of the same generation.
    const history = await venueOrderHistory(rest, symbol);
    expect(new Set(history.map((order) => order.orderLinkId)).size).toBe(history.length);
  }
}

async function waitForQuotesAndFills(prefix: string): Promise<void> {
  await eventually('live quotes', async () => ((await openOrdersOf(prefix)).length >= 2 ? true : undefined), 30_000);
  await eventually('a fill', async () => ((await venueExecutions(rest, 'BTCUSDT')).length + (await venueExecutions(rest, 'ETHUSDT')).length > 0 ? true : undefined), 30_000);
}

describe('engine restarts', () => {
  it('graceful stop in process: nothing left open, and the next generation starts from the venue', async () => {
    const first = await startInProcess('grace');
    await waitForQuotesAndFills('grace-');
    const report = await first.stop('restart');
    expect(report.clean).toBe(true);
    expect(await openOrdersOf('grace-')).toEqual([]);

    const second = await startInProcess('grace');
    await expectConsistent(second);
    expect(second.engine.status().symbols.every((symbol) => symbol.reconciliation?.cancelledUnknown === 0)).toBe(true);
    expect((await second.stop('done')).clean).toBe(true);
  }, 90_000);

  it('SIGTERM to the container process: it cancels everything and exits 0', async () => {
    const { child, output, exited } = startChild('term');
    await waitForQuotesAndFills('term-');
    child.kill('SIGTERM');
    const code = await exited;
    expect({ code, tail: code === 0 ? '' : output.join('').slice(-2_000) }).toEqual({ code: 0, tail: '' });
    expect(await openOrdersOf('term-')).toEqual([]);
    expect(output.join('')).toContain('stopped: no open orders at the venue');
  }, 90_000);

  it('a bug that escapes every handler: logged, everything cancelled, exit 1', async () => {
    const { output, exited } = startChild('bug', ['test/support/inject-bug.ts']);
    await eventually('live quotes', async () => ((await openOrdersOf('bug-')).length >= 2 ? true : undefined), 30_000);
    const code = await exited;
    const text = output.join('');
    expect({ code, fatal: text.includes('fatal: a bug escaped every handler') && text.includes('an injected bug') }).toEqual({ code: 1, fatal: true });
    expect(await openOrdersOf('bug-')).toEqual([]);
    expect(text).toContain('stopped: no open orders at the venue');
  }, 90_000);

  it('SIGKILL with live orders: the next generation cancels the orphans before quoting and takes the venue position', async () => {
    const killed = startChild('kill');
    await waitForQuotesAndFills('kill-');
    await killHoldingOrders(killed, async () => (await openOrdersOf('kill-')).length > 0);
    const orphans = await openOrdersOf('kill-');
    // Killed mid-quote: its orders are still live (disconnect-cancel takes its window to act).
    expect(orphans.length).toBeGreaterThan(0);

    const logs: string[] = [];
    const next = await startInProcess('kill', (line) => logs.push(line));
    await expectConsistent(next);
    // Read from the log, not the status, which shows only the latest reconciliation: on a loaded machine a
    // private-stream reconnect can reconcile again (finding nothing) before this looks.
    const reconciliations = logs.filter((line) => line.includes('"message":"reconciled with the venue"'));
    const cancelledUnknown = reconciliations.reduce((total, line) => total + (JSON.parse(line) as { cancelledUnknown: number }).cancelledUnknown, 0);
    // On a failure, what the engine said: its reconciliations and the log's tail.
    expect({ cancelledSome: cancelledUnknown > 0, orphans, said: cancelledUnknown > 0 ? [] : [...reconciliations, ...logs.slice(-40)] }).toEqual({ cancelledSome: true, orphans, said: [] });
    for (const orderLinkId of orphans) expect(await openOrdersOf(orderLinkId)).toEqual([]);
    // Cancelled before the next generation quoted: an orphan's cancel precedes the new generation's first order
    // (an orphan may also have filled first, on this moving market).
    const generationOf = (orderLinkId: string) => orderLinkId.split('-')[1] ?? '';
    const killedGeneration = generationOf(orphans[0] ?? '');
    const history = (await Promise.all(SYMBOLS.map((symbol) => venueOrderHistory(rest, symbol)))).flat();
    const firstOfNext = Math.min(...history.filter((order) => order.orderLinkId.startsWith('kill-') && generationOf(order.orderLinkId) !== killedGeneration).map((order) => Number(order.createdTime)));
    const orphanCancels = history.filter((order) => orphans.includes(order.orderLinkId) && order.orderStatus !== 'Filled');
    expect(orphanCancels.length).toBeGreaterThan(0);
    for (const order of orphanCancels) expect({ orderLinkId: order.orderLinkId, status: order.orderStatus, beforeQuoting: Number(order.updatedTime) <= firstOfNext }).toEqual({ orderLinkId: order.orderLinkId, status: expect.stringMatching(/^(Cancelled|PartiallyFilledCanceled)$/), beforeQuoting: true });
    expect((await next.stop('done')).clean).toBe(true);
  }, 90_000);

  it('a start that finds the account quota spent waits and retries its reads instead of failing', async () => {
    // Every per-UID limited request is refused with 10006 (query-api, the start's first read, is one) until the storm passes.
    sim.faults.rateLimitStorm = true;
    const logs: string[] = [];
    const config = testConfig(sim, aws.stage.names.secrets.tradingKey, 'quota');
    const starting = startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), logSink: (line) => logs.push(line) });
    try {
      await eventually('a start-up read refused and retried', () => (logs.some((line) => line.includes('start-up read failed; retrying')) ? true : undefined));
    } finally {
      sim.faults.rateLimitStorm = false;
    }
    const engine = await starting;
    running.push(engine);
    await eventually('ready once the quota is back', () => (engine.engine.ready().ready ? true : undefined));
    const retried = logs.filter((line) => line.includes('start-up read failed; retrying'));
    expect(retried[0]).toContain('"what":"the trading key"');
    expect(retried[0]).toContain('10006');
    expect((await engine.stop('done')).clean).toBe(true);
  }, 60_000);
});
