/**
 * Freeze latency on the local stack (simulator, emulator, the engine and both Lambdas in process, as
 * `npm start` runs them), over many trials:
 *
 * - **API**: from `POST /freeze` returning (a pause, so that what is measured is the engine's path: bus,
 *   its control queue, a control-state read, the cancel-all) to the last of the shard's orders cancelled at
 *   the simulator. (A hard stop also cancels from the Lambda before it answers, which would measure nothing.)
 * - **Rule**: from a breaching Fill event put on the bus to the last order of its symbol cancelled: the
 *   rule, the risk queue, the evaluator (which freezes hard and cancels at the venue), the Freeze event.
 *
 * Between trials the freeze is lifted through the API and the engine quotes again. Cancellation is seen
 * by polling the simulator's matching engine every millisecond, in process.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { performance } from 'node:perf_hooks';
import { DEFAULT_KEYS, type Simulator, startSimulator } from '../../sim/simulator.js';
import { startLocalControlPlane } from '../../bin/local-control-plane.js';
import { EventBridgePublisher } from '../../src/adapters/eventbridge/publisher.js';
import { secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { loadConfig } from '../../src/config/config.js';
import { controlSettingsOf } from '../../src/control/settings.js';
import { EVENT_SOURCES, type FillEventV1 } from '../../src/core/events.js';
import { type AwsClients, provisionRouting, provisionStage } from '../../src/local/provision.js';

export interface TrialLatency {
  readonly name: string;
  readonly samplesMs: readonly number[];
  readonly failures: number;
}

const SHARD = 'bench';
const TRADER = DEFAULT_KEYS.find((key) => key.apiKey === 'SIMTRADERKEY0001');
const OPERATOR = 'arn:aws:iam::000000000000:user/bench';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function formatTrialLatency(result: TrialLatency): string {
  const sorted = [...result.samplesMs].sort((a, b) => a - b);
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  return `${result.name.padEnd(58)} p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted[sorted.length - 1] ?? Number.NaN)} (${sorted.length} trials${result.failures > 0 ? `, ${result.failures} timed out` : ''})`;
}

function openOrders(sim: Simulator, symbol?: string): number {
  return sim.exchange.openOrders(TRADER?.accountId ?? '', symbol).filter((order) => order.orderLinkId.startsWith(`${SHARD}-`)).length;
}

/** Resolves with the time the condition first held (checked every millisecond), or undefined after `timeoutMs`. */
async function when(condition: () => boolean, timeoutMs: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (condition()) return performance.now();
    await sleep(1);
  }
  return undefined;
}

export async function benchFreezeLatency(clients: AwsClients, motoEndpoint: string, trials: number): Promise<TrialLatency[]> {
  if (!TRADER) throw new Error('the simulator has no trader key');
  const stage = await provisionStage(clients, `fz${Date.now().toString(36)}`);
  await provisionRouting(clients, stage, [SHARD]);
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: stage.names.secrets.tradingKey, SecretString: JSON.stringify({ apiKey: TRADER.apiKey, apiSecret: TRADER.secret, keyId: 'sim-trader' }) }));
  // Limits of a VIP account: a hundred freezes and requotes in a row stay within them.
  const sim = await startSimulator({ seed: 5, market: { autoStart: true }, rateLimitScale: 100 });
  const { config } = loadConfig({
    fileText: JSON.stringify({
      shard: SHARD,
      stage: stage.names.stage,
      venue: { credentialsSecretId: stage.names.secrets.tradingKey, restUrl: sim.restUrl, wsPublicUrl: sim.wsUrls.public, wsPrivateUrl: sim.wsUrls.private, wsTradeUrl: sim.wsUrls.trade },
      symbols: { BTCUSDT: { orderQty: '0.002', maxPosition: '0.05', maxNotional: '5000' }, ETHUSDT: { orderQty: '0.03', maxPosition: '0.5', maxNotional: '5000' } },
      engine: { healthPort: 0, logLevel: 'warn' },
      control: { pollIntervalMs: 60_000 },
    }),
    env: {},
  });
  const logs: string[] = [];
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (message: string) => logs.push(message) };
  const controlPlane = await startLocalControlPlane({
    clients,
    stage,
    settings: controlSettingsOf([config]),
    region: 'ap-southeast-1',
    apiPort: 0,
    principalArn: OPERATOR,
    scheduleIntervalMs: 60_000,
    logLevel: 'ERROR',
    logger: quiet,
    rotation: { motoEndpoint, port: 0, revokeIntervalMs: 60_000 },
  });
  const engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, clients.secrets),
    aws: { dynamodb: clients.dynamodb, eventBridge: clients.eventBridge, sqs: clients.sqs },
    logSink: () => undefined,
  });
  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${controlPlane.apiUrl}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { state?: { version?: number } } };
  };
  const unfreeze = async () => {
    const status = await api('/status');
    const version = status.body.state?.version ?? 0;
    const answer = await api('/unfreeze', { reason: 'bench: next trial', version });
    if (answer.status !== 200) throw new Error(`unfreeze answered ${answer.status}`);
  };
  const bus = new EventBridgePublisher({ client: clients.eventBridge, eventBusName: stage.names.eventBus, requestTimeoutMs: 5_000, source: EVENT_SOURCES.engine });
  let fillSeq = 0;
  const fill = (side: 'Buy' | 'Sell', qty: string): FillEventV1 => {
    fillSeq += 1;
    const execId = `bench-fill-${Date.now().toString(36)}-${fillSeq}`;
    return { schemaVersion: 1, eventId: `fill:${execId}`, shard: SHARD, symbol: 'BTCUSDT', execId, orderId: `o-${execId}`, orderLinkId: '', side, price: '65000', qty, fee: '0', feeRate: '0', isMaker: true, execTime: Date.now() };
  };

  const results: TrialLatency[] = [];
  try {
    const apiSamples: number[] = [];
    let apiFailures = 0;
    for (let trial = 0; trial < trials; trial++) {
      if ((await when(() => openOrders(sim) >= 2, 15_000)) === undefined) throw new Error('the engine is not quoting');
      const answer = await api('/freeze', { reason: 'bench: freeze latency', mode: 'pause', resumeAfterMinutes: 5 });
      const returned = performance.now();
      if (answer.status !== 200) throw new Error(`freeze answered ${answer.status}`);
      const cancelled = await when(() => openOrders(sim) === 0, 5_000);
      if (cancelled === undefined) apiFailures += 1;
      else apiSamples.push(cancelled - returned);
      await unfreeze();
    }
    results.push({ name: 'freeze latency: API call returned to last order cancelled', samplesMs: apiSamples, failures: apiFailures });

    const ruleSamples: number[] = [];
    let ruleFailures = 0;
    for (let trial = 0; trial < trials; trial++) {
      if ((await when(() => openOrders(sim, 'BTCUSDT') >= 1, 15_000)) === undefined) throw new Error('the engine is not quoting BTCUSDT');
      // Beyond maxPosition (0.05): a position-limit breach, a hard freeze of BTCUSDT.
      const refused = await bus.publish([{ detailType: 'Fill', detail: fill('Buy', '1'), time: Date.now() }]);
      const put = performance.now();
      if (refused.length > 0) throw new Error('the bus refused the fill');
      const cancelled = await when(() => openOrders(sim, 'BTCUSDT') === 0, 5_000);
      if (cancelled === undefined) ruleFailures += 1;
      else ruleSamples.push(cancelled - put);
      // Back within the limit, then lifted: the next trial starts from a quoting engine.
      await bus.publish([{ detailType: 'Fill', detail: fill('Sell', '1'), time: Date.now() }]);
      await when(() => false, 300);
      await unfreeze();
    }
    results.push({ name: 'freeze latency: breaching fill put to last order cancelled', samplesMs: ruleSamples, failures: ruleFailures });
  } finally {
    await engine.stop('bench over');
    await controlPlane.stop();
    await sim.close();
  }
  if (logs.length > 0) console.error(`freeze bench: ${logs.length} errors logged, first: ${logs[0] ?? ''}`);
  return results;
}
