/**
 * `npm start`: the local stack. Today it brings up the AWS emulator with every resource of the `local`
 * stage and the Bybit venue simulator with a moving market; the engine joins them with the engine issue
 * (see docs/ARCHITECTURE.md). Ctrl-C (or SIGTERM) stops everything it started.
 *
 * An entry point in bin/ because it composes src/ and sim/, which src/ itself may not import.
 */
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../sim/simulator.js';
import { ensureMotoVenv, startMoto } from '../src/local/moto.js';
import { createAwsClients, destroyAwsClients, provisionStage } from '../src/local/provision.js';

const STAGE = 'local';
const REGION = 'ap-southeast-1';

async function main(): Promise<void> {
  const venvDir = fileURLToPath(new URL('../.venv', import.meta.url));
  const motoServer = await ensureMotoVenv({ venvDir, log: (line) => {
    console.log(`[moto] ${line}`);
  } });
  const moto = await startMoto({ motoServer });
  const clients = createAwsClients({ endpoint: moto.endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  let stopping = false;
  let stopVenue: () => Promise<void> = () => Promise.resolve();
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local stack`);
    destroyAwsClients(clients);
    await stopVenue();
    await moto.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const { names, queueUrls } = await provisionStage(clients, STAGE);
  const venue = await startSimulator({ seed: 1, market: { autoStart: true } });
  stopVenue = () => venue.close();
  console.log(`AWS emulator   ${moto.endpoint}  (region ${REGION}, any credentials)`);
  console.log(`tables         ${Object.values(names.tables).join(', ')}`);
  console.log(`event bus      ${names.eventBus}`);
  console.log(`queues         ${Object.values(queueUrls).join('\n               ')}`);
  console.log(`secrets        ${Object.values(names.secrets).join(', ')}`);
  console.log(`Bybit venue    ${venue.restUrl}  (simulator; WebSocket ${venue.wsUrls.public.replace('/v5/public/linear', '/v5/...')})`);
  console.log('               keys: SIMTRADERKEY0001 / sim-trader-secret-0001 (see sim/README.md)');
  console.log('engine: not built yet (issue 4). Ctrl-C stops.');
  console.log(`try: AWS_ENDPOINT_URL=${moto.endpoint} AWS_REGION=${REGION} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws dynamodb list-tables`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
