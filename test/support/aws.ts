/** AWS clients and per-test-file stages on the emulator that global-setup.ts started. */
import { afterAll, beforeAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { type AwsClients, type ProvisionedRouting, type ProvisionedStage, createAwsClients, destroyAwsClients, provisionRouting, provisionStage } from '../../src/local/provision.js';
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

export interface TestStage {
  readonly clients: AwsClients;
  readonly stage: ProvisionedStage;
  /** The bus's rules and each shard's control queue. */
  readonly routing: ProvisionedRouting;
}

/**
 * Provisions a fresh stage before the file's tests and closes its clients after them; with `shards`, the
 * bus's routing too (the engines of those shards long-poll their control queues, which must exist).
 */
export function useProvisionedStage(shards: readonly string[] = []): TestStage {
  const context: { clients?: AwsClients; stage?: ProvisionedStage; routing?: ProvisionedRouting } = {};
  beforeAll(async () => {
    context.clients = testClients();
    context.stage = await provisionTestStage(context.clients);
    context.routing = await provisionRouting(context.clients, context.stage, shards);
  });
  afterAll(() => {
    if (context.clients) destroyAwsClients(context.clients);
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test stage is provisioned in beforeAll; use it inside tests');
    return value;
  };
  return {
    get clients() {
      return ready(context.clients);
    },
    get stage() {
      return ready(context.stage);
    },
    get routing() {
      return ready(context.routing);
    },
  };
}
