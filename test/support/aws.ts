/** AWS clients and per-test-file stages on the emulator that global-setup.ts started. */
import { randomBytes } from 'node:crypto';
import { type AwsClients, type ProvisionedStage, createAwsClients, provisionStage } from '../../src/local/provision.js';
import { MOTO_ENV } from './moto-env.js';

export function motoEndpoint(): string {
  const endpoint = process.env[MOTO_ENV.endpoint];
  if (!endpoint) throw new Error(`${MOTO_ENV.endpoint} is not set`);
  return endpoint;
}

export function testClients(): AwsClients {
  return createAwsClients({
    endpoint: motoEndpoint(),
    region: 'ap-southeast-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/** A stage name of its own per call, so test files sharing the emulator never see each other's data. */
export function uniqueStage(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export async function provisionTestStage(clients: AwsClients): Promise<ProvisionedStage> {
  return provisionStage(clients, uniqueStage());
}
