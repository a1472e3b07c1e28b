/**
 * The trading key's rotation on the local stack (simulator, emulator, the engine and the rotation Lambda in
 * process, as `npm start` runs them), over several trials back to back:
 *
 * - **Rotation**: the four steps (Secrets Manager's side played by src/local/rotation-driver.ts): from the
 *   start to the new key being AWSCURRENT.
 * - **Engine switch**: from AWSCURRENT moved to the engine trading on the new key. It includes the wait
 *   for the engine's next read of the secret (venue.credentialsCacheTtlMs, 1 s here; 60 s by default).
 * - **Revocation**: the revoke run that deletes the replaced key (every engine on the new one, no grace).
 *
 * Each trial also counts the requests the venue refused for their key (it must stay 0) and whether the
 * engine stopped quoting at any point (sampled every 10 ms).
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { performance } from 'node:perf_hooks';
import { createSecretRotationHandler } from '../../lambdas/secret-rotation.js';
import { DEFAULT_KEYS, startSimulator } from '../../sim/simulator.js';
import { secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { loadConfig } from '../../src/config/config.js';
import type { RevokeReport } from '../../src/control/secret-rotation.js';
import { controlSettingsOf } from '../../src/control/settings.js';
import { ensureRotationFunction, rotateLocally } from '../../src/local/rotation-driver.js';
import { type AwsClients, provisionStage } from '../../src/local/provision.js';
import type { TrialLatency } from './freeze.js';

const SHARD = 'rotbench';
const keyOf = (apiKey: string) => {
  const found = DEFAULT_KEYS.find((key) => key.apiKey === apiKey);
  if (!found) throw new Error(`the simulator has no key ${apiKey}`);
  return found;
};
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RotationBench {
  readonly latencies: readonly TrialLatency[];
  /** Requests the venue refused for their key, over every trial (must be 0). */
  readonly keyRefusals: number;
  /** Status samples in which a symbol could not quote (a blocker) or the private stream was not synced. */
  readonly quotingGaps: number;
  /** The most frequent blockers seen, with their counts (numbers masked). */
  readonly gapReasons: readonly (readonly [string, number])[];
}

export async function benchRotation(clients: AwsClients, motoEndpoint: string, trials: number): Promise<RotationBench> {
  const stage = await provisionStage(clients, `rb${Date.now().toString(36)}`);
  const trader = keyOf('SIMTRADERKEY0001');
  const master = keyOf('SIMMASTERKEY0001');
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: stage.names.secrets.tradingKey, SecretString: JSON.stringify({ apiKey: trader.apiKey, apiSecret: trader.secret, keyId: 'sim-trader' }) }));
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: stage.names.secrets.keyAdmin, SecretString: JSON.stringify({ apiKey: master.apiKey, apiSecret: master.secret, keyId: 'sim-master' }) }));
  const sim = await startSimulator({ seed: 61, market: { autoStart: true } });
  let refusals = 0;
  const lookup = sim.keys.lookup.bind(sim.keys);
  sim.keys.lookup = (apiKey, now) => {
    const found = lookup(apiKey, now);
    if (found.status !== 'ok') refusals += 1;
    return found;
  };
  const { config } = loadConfig({
    fileText: JSON.stringify({
      shard: SHARD,
      stage: stage.names.stage,
      venue: { credentialsSecretId: stage.names.secrets.tradingKey, dcpWindowSeconds: 10, credentialsCacheTtlMs: 1_000 },
      symbols: { BTCUSDT: { orderQty: '0.002', maxPosition: '0.02', maxNotional: '1500' }, ETHUSDT: { orderQty: '0.03', maxPosition: '0.3', maxNotional: '1200' } },
      engine: { healthPort: 0 },
      persistence: { enabled: true },
      control: { heartbeatIntervalMs: 250 },
    }),
    env: { MMRB__VENUE__RESTURL: sim.restUrl, MMRB__VENUE__WSPUBLICURL: sim.wsUrls.public, MMRB__VENUE__WSPRIVATEURL: sim.wsUrls.private, MMRB__VENUE__WSTRADEURL: sim.wsUrls.trade },
  });
  const settings = controlSettingsOf([config], { rotation: { revokeAfterMs: 0, orphanMinAgeMs: 0 } });
  const functionName = `mmrb-${stage.names.stage}-secret-rotation`;
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  // EMF lines mean something to CloudWatch only.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const { Logger } = await import('@aws-lambda-powertools/logger');
  const { Metrics } = await import('@aws-lambda-powertools/metrics');
  const handler = createSecretRotationHandler({
    settings,
    clients,
    logger: new Logger({ serviceName: 'secret-rotation', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'MmRebateBot', serviceName: 'secret-rotation', logger: quiet }),
  });
  const context = { functionName, awsRequestId: 'bench', getRemainingTimeInMillis: () => 60_000 } as Context;
  const functionArn = await ensureRotationFunction({ lambda: clients.lambda, iam: clients.iam, motoEndpoint, functionName });
  const engine = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, clients.secrets), aws: { dynamodb: clients.dynamodb, eventBridge: clients.eventBridge }, logSink: () => undefined });
  const rotation: number[] = [];
  const switchDelay: number[] = [];
  const revocation: number[] = [];
  let failures = 0;
  let gaps = 0;
  const reasons = new Map<string, number>();
  const sampler = setInterval(() => {
    const status = engine.engine.status();
    const blockers = status.symbols.flatMap((symbol) => symbol.blockers.map((blocker) => blocker.replace(/[\d.]+/g, 'N')));
    if (!status.privateStreamSynced || blockers.length > 0) gaps += 1;
    for (const blocker of blockers) reasons.set(blocker, (reasons.get(blocker) ?? 0) + 1);
  }, 10);
  try {
    while (engine.engine.status().symbols.some((symbol) => !symbol.quoting)) await sleep(50);
    gaps = 0;
    for (let trial = 0; trial < trials; trial++) {
      // create-sub-api allows one request a second per UID.
      await sleep(1_100);
      const before = engine.keyId();
      const started = performance.now();
      const report = await rotateLocally({ secrets: clients.secrets, secretId: stage.names.secrets.tradingKey, functionArn, invoke: (event) => handler(event, context), attempts: 1, retryDelayMs: 0 });
      const rotated = performance.now();
      if (report.outcome !== 'finished') {
        failures += 1;
        continue;
      }
      while (engine.keyId() === before && performance.now() - rotated < 10_000) await sleep(1);
      const switched = performance.now();
      // The heartbeat that reports the new key (every 250 ms) is what the revocation waits for.
      let revoked: RevokeReport | undefined;
      const revokeStarted = switched;
      for (let attempt = 0; attempt < 50; attempt++) {
        revoked = (await handler({ action: 'revokeSuperseded' }, context)) as RevokeReport;
        if (revoked.revoked.length > 0) break;
        await sleep(100);
      }
      const revokedAt = performance.now();
      if (engine.keyId() === before || !revoked || revoked.revoked.length === 0) {
        failures += 1;
        continue;
      }
      rotation.push(rotated - started);
      switchDelay.push(switched - rotated);
      revocation.push(revokedAt - revokeStarted);
    }
  } finally {
    clearInterval(sampler);
    await engine.stop('bench over');
    await sim.close();
  }
  return {
    latencies: [
      { name: 'key rotation: four steps, start to AWSCURRENT moved', samplesMs: rotation, failures },
      { name: 'key rotation: AWSCURRENT moved to the engine on the new key', samplesMs: switchDelay, failures },
      { name: 'key rotation: engine switched to the old key revoked', samplesMs: revocation, failures },
    ],
    keyRefusals: refusals,
    quotingGaps: gaps,
    gapReasons: [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5),
  };
}
