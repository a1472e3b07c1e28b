/**
 * The long-run memory bench in a process of its own (so that its resident memory is the engine's alone):
 * `tsx test/bench/soak.ts <emulator endpoint> <stage> <max duration ms>` runs benchEngineSoak (an hour of
 * live book messages, accelerated) against the emulator's provisioned stage and prints `SOAK <json>`.
 */
import { createAwsClients, destroyAwsClients } from '../../src/local/provision.js';
import { benchEngineSoak } from './loop.js';

const [endpoint, stage, duration] = process.argv.slice(2);
if (!endpoint || !stage || !duration) throw new Error('usage: soak.ts <emulator endpoint> <stage> <max duration ms>');
const clients = createAwsClients({ endpoint, region: 'ap-southeast-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
const result = await benchEngineSoak(Number(duration), { clients, stage });
destroyAwsClients(clients);
console.log(`SOAK ${JSON.stringify(result)}`);
process.exit(0);
