/**
 * `npm start`: the whole thing on this machine, no internet. It starts the AWS emulator with every
 * resource of the `local` stage, stores the simulator's trading key in Secrets Manager, starts the Bybit
 * venue simulator with a moving market, then the engine on config/local.json, and prints one status line
 * per symbol a second. Ctrl-C (or SIGTERM) stops the engine gracefully (cancel all, confirm), then the rest.
 *
 * An entry point in bin/ because it composes src/ and sim/, which src/ itself may not import.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KEYS, startSimulator } from '../sim/simulator.js';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../src/app/engine-process.js';
import { statusLines } from '../src/app/status-line.js';
import { loadConfig } from '../src/config/config.js';
import { ensureMotoVenv, startMoto } from '../src/local/moto.js';
import { createAwsClients, destroyAwsClients, provisionRouting, provisionStage } from '../src/local/provision.js';
import { controlSettingsOf } from '../src/control/settings.js';
import { createLogger } from '../src/adapters/logging/logger.js';
import { type LocalControlPlane, startLocalControlPlane } from './local-control-plane.js';

const STAGE = 'local';
const REGION = 'ap-southeast-1';
const TRADER_KEY = 'SIMTRADERKEY0001';
/** Where `npm run ops` finds the freeze API by default (src/control/ops-cli.ts). */
const FREEZE_API_PORT = Number(process.env.MMRB_FREEZE_API_PORT ?? 8787);
/** Where `npm run secrets -- --local` finds the rotation (src/control/secrets-cli.ts). */
const ROTATION_PORT = Number(process.env.MMRB_ROTATION_PORT ?? 8788);
const KEY_ADMIN_KEY = 'SIMMASTERKEY0001';
const LOCAL_OPERATOR = 'arn:aws:iam::000000000000:user/local-operator';
/** The risk evaluator's schedule: every minute in AWS; every 10 s here, so a stale engine is seen sooner. */
const SCHEDULE_INTERVAL_MS = 10_000;

async function main(): Promise<void> {
  const venvDir = fileURLToPath(new URL('../.venv', import.meta.url));
  const motoServer = await ensureMotoVenv({ venvDir, log: (line) => {
    console.log(`[moto] ${line}`);
  } });
  // Out of the terminal's process group: Ctrl-C stops the engine first, which still writes its last state.
  const moto = await startMoto({ motoServer, ownProcessGroup: true });
  const clients = createAwsClients({ endpoint: moto.endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  let stopping = false;
  const started: { engine?: EngineProcess; controlPlane?: LocalControlPlane } = {};
  let stopVenue: () => Promise<void> = () => Promise.resolve();
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the engine (cancel all, confirm), then the local stack`);
    const report = await started.engine?.stop(signal);
    if (report) console.log(`engine stopped ${report.clean ? 'clean: no open orders at the venue' : `with ${report.remainingOpenOrders} orders possibly open`} (${report.elapsedMs} ms)`);
    await started.controlPlane?.stop();
    destroyAwsClients(clients);
    await stopVenue();
    await moto.stop();
    process.exit(report && !report.clean ? 1 : 0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const stage = await provisionStage(clients, STAGE);
  const { names } = stage;
  const trader = DEFAULT_KEYS.find((key) => key.apiKey === TRADER_KEY);
  if (!trader) throw new Error(`the simulator has no key ${TRADER_KEY}`);
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: names.secrets.tradingKey, SecretString: JSON.stringify({ apiKey: trader.apiKey, apiSecret: trader.secret, keyId: 'sim-trader' }) }));
  // The simulator's master key manages the trading sub-account's keys: `npm run secrets -- --local rotate`.
  const admin = DEFAULT_KEYS.find((key) => key.apiKey === KEY_ADMIN_KEY);
  if (!admin) throw new Error(`the simulator has no key ${KEY_ADMIN_KEY}`);
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: names.secrets.keyAdmin, SecretString: JSON.stringify({ apiKey: admin.apiKey, apiSecret: admin.secret, keyId: 'sim-master' }) }));
  const venue = await startSimulator({ seed: 1, market: { autoStart: true } });
  stopVenue = () => venue.close();
  console.log(`AWS emulator   ${moto.endpoint}  (region ${REGION}, any credentials)`);
  console.log(`Bybit venue    ${venue.restUrl}  (simulator; WebSocket ${venue.wsUrls.public.replace('/v5/public/linear', '/v5/...')})`);

  // The simulator's ports are picked at start, so its URLs come in as environment overrides.
  const { config } = loadConfig({
    file: fileURLToPath(new URL('../config/local.json', import.meta.url)),
    env: {
      ...process.env,
      MMRB__VENUE__RESTURL: venue.restUrl,
      MMRB__VENUE__WSPUBLICURL: venue.wsUrls.public,
      MMRB__VENUE__WSPRIVATEURL: venue.wsUrls.private,
      MMRB__VENUE__WSTRADEURL: venue.wsUrls.trade,
    },
  });
  await provisionRouting(clients, stage, [config.shard]);
  // The Lambdas in process: JSON lines of warnings and errors on stderr, like the engine's.
  started.controlPlane = await startLocalControlPlane({
    clients,
    stage,
    // A rotation's old key goes a minute after every engine reports the new one (15 minutes in AWS).
    settings: controlSettingsOf([config], { heartbeatStaleMs: 30_000, rotation: { revokeAfterMs: 60_000, orphanMinAgeMs: 60_000 } }),
    region: REGION,
    apiPort: FREEZE_API_PORT,
    principalArn: LOCAL_OPERATOR,
    scheduleIntervalMs: SCHEDULE_INTERVAL_MS,
    logLevel: 'WARN',
    logger: createLogger({ serviceName: 'local-stack', secrets: () => [], sink: (line) => process.stderr.write(`${line}\n`) }),
    rotation: { motoEndpoint: moto.endpoint, port: ROTATION_PORT, revokeIntervalMs: 30_000 },
  });
  console.log(`freeze API     ${started.controlPlane.apiUrl}  (npm run ops -- status | freeze --reason ... | unfreeze --reason ... --version N)`);
  console.log(`key rotation   ${started.controlPlane.rotationUrl}  (npm run secrets -- --local status | rotate | revoke)`);
  const engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, clients.secrets),
    aws: { dynamodb: clients.dynamodb, eventBridge: clients.eventBridge, sqs: clients.sqs },
    // JSON logs of warnings and errors go to stderr; the status lines are the view here.
    logSink: (line) => {
      if (line.includes('"level":"WARN"') || line.includes('"level":"ERROR"') || line.includes('"level":"CRITICAL"')) process.stderr.write(`${line}\n`);
    },
  });
  started.engine = engine;
  console.log(`engine         shard ${config.shard}, health ${engine.healthUrl}/status. Ctrl-C stops.`);
  const statusTimer = setInterval(() => {
    if (stopping) {
      clearInterval(statusTimer);
      return;
    }
    for (const line of statusLines(engine.engine.status(), new Date())) console.log(line);
  }, config.engine.statusIntervalMs);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
