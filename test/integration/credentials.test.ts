import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { createLogger } from '../../src/adapters/logging/logger.js';
import {
  BybitCredentialsSchema,
  CredentialsError,
  type CredentialsErrorReason,
  CredentialsProvider,
  type CredentialsProviderOptions,
  fingerprint,
} from '../../src/adapters/secrets/bybit-credentials.js';
import { motoEndpoint, useProvisionedStage } from '../support/aws.js';
import { rejectionOf } from '../support/rejection.js';

const aws = useProvisionedStage();

const KEY_1 = 'AbCdEf0123456789Key1';
const SECRET_1 = 'first-Secret-Value-x9Q2w7Lm';
const KEY_2 = 'ZyXwVu9876543210Key2';
const SECRET_2 = 'second-Secret-Value-p4T8k1Rn';

/** The provider's own client, so the calls it makes can be counted apart from the test's. */
const providerClients: SecretsManagerClient[] = [];
afterEach(() => {
  for (const client of providerClients.splice(0)) client.destroy();
});

function countedClient(options: { endpoint?: string } = {}): { client: SecretsManagerClient; calls: string[] } {
  const client = new SecretsManagerClient({
    endpoint: options.endpoint ?? motoEndpoint(),
    region: 'ap-southeast-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  });
  providerClients.push(client);
  const calls: string[] = [];
  const send = client.send.bind(client) as (command: object) => Promise<unknown>;
  client.send = ((command: object) => {
    calls.push(command instanceof GetSecretValueCommand ? 'GetSecretValue' : command instanceof DescribeSecretCommand ? 'DescribeSecret' : 'other');
    return send(command);
  }) as SecretsManagerClient['send'];
  return { client, calls };
}

let secretCount = 0;
/** A new empty secret of this file's stage, so each test starts from a known state. */
async function newSecret(): Promise<string> {
  secretCount += 1;
  const name = `${aws.stage.names.secrets.tradingKey}-${secretCount}`;
  await aws.clients.secrets.send(new CreateSecretCommand({ Name: name }));
  return name;
}

async function put(secretId: string, value: unknown, stages?: string[]): Promise<string> {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const { VersionId } = await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: text, ...(stages && { VersionStages: stages }) }));
  if (!VersionId) throw new Error('PutSecretValue returned no VersionId');
  return VersionId;
}

function provider(secretId: string, client: SecretsManagerClient, extra: Partial<CredentialsProviderOptions> = {}): CredentialsProvider {
  return new CredentialsProvider({ client, secretId, ttlMs: 60_000, ...extra });
}


/** Everything an error would show in a log: message, stack, and its cause's. */
function everythingIn(error: Error): string {
  const cause = error.cause instanceof Error ? `${error.cause.message}\n${String(error.cause.stack)}` : '';
  return `${error.message}\n${String(error.stack)}\n${cause}`;
}

describe('caching', () => {
  it('serves the cached value within the TTL without calling AWS, and fetches again after it', async () => {
    const secretId = await newSecret();
    const firstVersion = await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1, keyId: '1001' });
    let now = 1_000_000;
    const { client, calls } = countedClient();
    const credentials = provider(secretId, client, { ttlMs: 30_000, clock: () => now });

    expect(await credentials.get()).toEqual({ apiKey: KEY_1, apiSecret: SECRET_1, keyId: '1001', versionId: firstVersion });

    // Changed in AWS, but the cache is young: the old value, and no call.
    const secondVersion = await put(secretId, { apiKey: KEY_2, apiSecret: SECRET_2, keyId: '1002' });
    now += 29_999;
    expect((await credentials.get()).apiKey).toBe(KEY_1);
    expect(calls).toEqual(['GetSecretValue']);

    now += 1;
    expect(await credentials.get()).toEqual({ apiKey: KEY_2, apiSecret: SECRET_2, keyId: '1002', versionId: secondVersion });
    expect(calls).toEqual(['GetSecretValue', 'GetSecretValue']);
  });

  it('derives a loggable fingerprint when the secret names no keyId', async () => {
    const secretId = await newSecret();
    await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1 });
    const { client } = countedClient();
    const { keyId } = await provider(secretId, client).get();
    expect(keyId).toBe(fingerprint(KEY_1));
    expect(keyId).toMatch(/^AbCd…[0-9a-f]{8}$/);
    expect(keyId).not.toContain(KEY_1);
  });

  it('shares one fetch between concurrent callers', async () => {
    const secretId = await newSecret();
    await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1 });
    const { client, calls } = countedClient();
    const credentials = provider(secretId, client);

    const results = await Promise.all([credentials.get(), credentials.get(), credentials.refresh('auth error'), credentials.get(), credentials.refresh('auth error')]);
    expect(new Set(results.map((result) => result.apiKey))).toEqual(new Set([KEY_1]));
    expect(calls).toEqual(['GetSecretValue']);

    // Once it settled, a refresh fetches again.
    await credentials.refresh('auth error');
    expect(calls).toEqual(['GetSecretValue', 'GetSecretValue']);
  });
});

describe('rotation', () => {
  it('picks up a key promoted to AWSCURRENT on refresh, tells onChange, and never logs either key', async () => {
    const secretId = await newSecret();
    const oldVersion = await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1, keyId: '1001' });
    const { client } = countedClient();
    const changes: [string, string | undefined][] = [];
    const lines: string[] = [];
    const holder: { provider?: CredentialsProvider } = {};
    const logger = createLogger({ serviceName: 'engine', secrets: () => holder.provider?.secretValues() ?? [], sink: (line) => lines.push(line) });
    const credentials = provider(secretId, client, { logger, onChange: (keyId, previous) => changes.push([keyId, previous]) });
    holder.provider = credentials;

    expect((await credentials.get()).keyId).toBe('1001');
    expect(changes).toEqual([['1001', undefined]]);

    // What the rotation Lambda does: stage the new key as AWSPENDING, then promote it.
    const newVersion = await put(secretId, { apiKey: KEY_2, apiSecret: SECRET_2, keyId: '1002' }, ['AWSPENDING']);
    expect((await credentials.refresh('still current')).keyId).toBe('1001');
    await aws.clients.secrets.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT', MoveToVersionId: newVersion, RemoveFromVersionId: oldVersion }));

    expect((await credentials.get()).keyId).toBe('1001'); // cached until told otherwise
    expect(await credentials.refresh('retCode 10003')).toEqual({ apiKey: KEY_2, apiSecret: SECRET_2, keyId: '1002', versionId: newVersion });
    expect(changes).toEqual([
      ['1001', undefined],
      ['1002', '1001'],
    ]);
    // The old key stays redacted too: late errors from requests signed with it may still be logged.
    expect(credentials.secretValues()).toEqual([KEY_2, SECRET_2, KEY_1, SECRET_1]);

    logger.error('order rejected', { error: new Error(`retCode 10003: invalid key ${KEY_1}`), sentWith: { key: KEY_1, secret: SECRET_1 } });
    const output = lines.join('\n');
    expect(output).toContain('"keyId":"1002"');
    expect(output).toContain('"previousKeyId":"1001"');
    for (const secret of [KEY_1, SECRET_1, KEY_2, SECRET_2]) expect(output).not.toContain(secret);
  });
});

describe('failures', () => {
  it('keeps serving the cached value when a refresh fails, and waits before trying again', async () => {
    const secretId = await newSecret();
    await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1, keyId: '1001' });
    let now = 0;
    const { client, calls } = countedClient();
    const warnings: string[] = [];
    const logger = createLogger({ serviceName: 'engine', secrets: () => [KEY_1, SECRET_1], sink: (line) => warnings.push(line) });
    const credentials = provider(secretId, client, { ttlMs: 60_000, retryAfterFailureMs: 5_000, clock: () => now, logger });
    await credentials.get();

    await aws.clients.secrets.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
    now = 58_000;
    expect((await credentials.refresh('retCode 10003')).apiKey).toBe(KEY_1);
    expect(calls).toEqual(['GetSecretValue', 'GetSecretValue', 'DescribeSecret']);

    now = 62_999; // past the TTL, but within the pause after the failure
    expect((await credentials.get()).apiKey).toBe(KEY_1);
    expect(calls).toHaveLength(3);
    now = 63_000;
    expect((await credentials.get()).apiKey).toBe(KEY_1);
    expect(calls).toHaveLength(5);

    const warning = warnings.find((line) => line.includes('credentials fetch failed'));
    expect(warning).toContain('does not exist');
    expect(warning).not.toContain(SECRET_1);
    expect(warning).not.toContain(KEY_1);
  });

  it('throws when a fetch fails and there is no cached value', async () => {
    const secretId = await newSecret();
    const { client } = countedClient();
    const credentials = provider(secretId, client);
    await expect(credentials.get()).rejects.toBeInstanceOf(CredentialsError);
    await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1 });
    expect((await credentials.get()).apiKey).toBe(KEY_1);
  });

  const cases: { name: string; reason: CredentialsErrorReason; message: RegExp; setup: () => Promise<string>; endpoint?: string }[] = [
    { name: 'the secret does not exist', reason: 'secret-not-found', message: /secret .*-nope does not exist$/, setup: () => Promise.resolve(`${aws.stage.names.secrets.tradingKey}-nope`) },
    // The stage's own secret, as provisioned: it exists but holds nothing yet.
    { name: 'the secret has no value yet', reason: 'no-value', message: /has no AWSCURRENT value yet$/, setup: () => Promise.resolve(aws.stage.names.secrets.tradingKey) },
    {
      name: 'the value is binary',
      reason: 'no-value',
      message: /has no string value$/,
      setup: async () => {
        const secretId = await newSecret();
        await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretBinary: new TextEncoder().encode(SECRET_1) }));
        return secretId;
      },
    },
    {
      name: 'the value is not JSON',
      reason: 'not-json',
      message: /is not JSON$/,
      setup: async () => {
        const secretId = await newSecret();
        await put(secretId, `apiKey=${KEY_1} apiSecret=${SECRET_1}`);
        return secretId;
      },
    },
    {
      name: 'the value fails the schema',
      reason: 'invalid',
      message: /is not valid Bybit credentials: apiKey: must be 1 to 64 letters or digits; apiSecret: .*; unknown field\(s\) secret$/,
      setup: async () => {
        const secretId = await newSecret();
        await put(secretId, { apiKey: `${KEY_1}-${SECRET_1}`, apiSecret: 42, secret: SECRET_1 });
        return secretId;
      },
    },
    {
      name: 'the keyId would leak the key',
      reason: 'invalid',
      message: /keyId: must not contain the apiKey or apiSecret$/,
      setup: async () => {
        const secretId = await newSecret();
        await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1, keyId: `id-${SECRET_1}` });
        return secretId;
      },
    },
    {
      name: 'the AWS call fails (secret scheduled for deletion)',
      reason: 'aws',
      message: /^GetSecretValue for secret .* failed with InvalidRequestException: /,
      setup: async () => {
        const secretId = await newSecret();
        await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1 });
        await aws.clients.secrets.send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }));
        return secretId;
      },
    },
    {
      name: 'the AWS call fails (endpoint unreachable)',
      reason: 'aws',
      message: /^GetSecretValue for secret .* failed with \w+/,
      endpoint: 'http://127.0.0.1:9',
      setup: async () => {
        const secretId = await newSecret();
        await put(secretId, { apiKey: KEY_1, apiSecret: SECRET_1 });
        return secretId;
      },
    },
  ];

  it.each(cases)('gives a CredentialsError without secret text when $name', async ({ reason, message, setup, endpoint }) => {
    const secretId = await setup();
    const { client } = countedClient(endpoint === undefined ? {} : { endpoint });
    const error = await rejectionOf(provider(secretId, client).get(), CredentialsError);
    expect(error.name).toBe('CredentialsError');
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(secretId);
    const text = everythingIn(error);
    for (const secret of [KEY_1, SECRET_1]) expect(text).not.toContain(secret);
  });

  it('reports an unexpected DescribeSecret failure behind a not-found answer by its AWS name', async () => {
    const { client } = countedClient();
    const send = client.send.bind(client) as (command: object) => Promise<unknown>;
    const denied = Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' });
    client.send = jest.fn((command: object) => (command instanceof DescribeSecretCommand ? Promise.reject(denied) : send(command)));
    const error = await rejectionOf(provider(`${aws.stage.names.secrets.tradingKey}-missing`, client).get(), CredentialsError);
    expect(error.reason).toBe('secret-not-found');
    expect(error.message).toMatch(/does not exist or has no AWSCURRENT value \(DescribeSecret failed: AccessDeniedException\)$/);
  });
});

describe('BybitCredentialsSchema', () => {
  it('accepts a key and secret with an optional keyId, and nothing else', () => {
    expect(BybitCredentialsSchema.parse({ apiKey: KEY_1, apiSecret: SECRET_1 })).toEqual({ apiKey: KEY_1, apiSecret: SECRET_1 });
    expect(BybitCredentialsSchema.safeParse({ apiKey: '', apiSecret: SECRET_1 }).success).toBe(false);
    expect(BybitCredentialsSchema.safeParse({ apiKey: 'a'.repeat(65), apiSecret: SECRET_1 }).success).toBe(false);
    expect(BybitCredentialsSchema.safeParse({ apiKey: KEY_1, apiSecret: '' }).success).toBe(false);
    expect(BybitCredentialsSchema.safeParse({ apiKey: KEY_1, apiSecret: SECRET_1, keyId: '' }).success).toBe(false);
  });
});
