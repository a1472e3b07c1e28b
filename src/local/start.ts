/**
 * `npm start`: the local stack. Today it brings up the AWS emulator with every resource of the `local`
 * stage; the venue simulator and the engine join it as they are built (see docs/ARCHITECTURE.md).
 * Ctrl-C (or SIGTERM) stops everything it started.
 */
import { fileURLToPath } from 'node:url';
import { ensureMotoVenv, startMoto } from './moto.js';
import { createAwsClients, destroyAwsClients, provisionStage } from './provision.js';

const STAGE = 'local';
const REGION = 'ap-southeast-1';

async function main(): Promise<void> {
  const venvDir = fileURLToPath(new URL('../../.venv', import.meta.url));
  const motoServer = await ensureMotoVenv({ venvDir, log: (line) => {
    console.log(`[moto] ${line}`);
  } });
  const moto = await startMoto({ motoServer });
  const clients = createAwsClients({ endpoint: moto.endpoint, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local stack`);
    destroyAwsClients(clients);
    await moto.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const { names, queueUrls } = await provisionStage(clients, STAGE);
  console.log(`AWS emulator   ${moto.endpoint}  (region ${REGION}, any credentials)`);
  console.log(`tables         ${Object.values(names.tables).join(', ')}`);
  console.log(`event bus      ${names.eventBus}`);
  console.log(`queues         ${Object.values(queueUrls).join('\n               ')}`);
  console.log(`secrets        ${Object.values(names.secrets).join(', ')}`);
  console.log('venue simulator and engine: not built yet (issues 3 and 4). Ctrl-C stops.');
  console.log(`try: AWS_ENDPOINT_URL=${moto.endpoint} AWS_REGION=${REGION} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws dynamodb list-tables`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
