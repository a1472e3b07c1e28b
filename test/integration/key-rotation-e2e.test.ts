/**
 * The key rotation end to end, wired as `npm start` wires it, driven by the commands of
 * docs/runbooks/SECRET_ROTATION.md: the engine quotes on the simulator with its heartbeats in the emulator's
 * control table; the rotation Lambda's handler runs in the local control plane behind its loopback server;
 * the runbook's `npm run secrets` lines are read from the page and run, in order, through the CLI's own
 * main() with `--stage prod` switched to `--local`.
 *
 *   - A routine rotation while the engine quotes: not one request refused for its key from start to
 *     revocation, no quote pulled, the old key deleted once the engine reported the new one.
 *   - The emergency: rotate, then revoke the old key at once; the engine swaps on its next refusal, same
 *     process, and the whole thing takes well under five minutes.
 *   - Break-glass: a key made by hand stored with put-key, picked up by the engine.
 * Nothing logged by the engine or the Lambdas, and nothing the CLI printed, holds a key or a secret.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LocalControlPlane, startLocalControlPlane } from '../../bin/local-control-plane.js';
import { BybitKeyAdmin, KeyAdminError, type KeyCredentials } from '../../src/adapters/bybit/key-admin.js';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { httpRotationControl } from '../../src/control/rotation-control.js';
import { main as secretsCli } from '../../src/control/secrets-cli.js';
import { controlSettingsOf } from '../../src/control/settings.js';
import { REPOSITORY_ROOT } from '../../lib/lambda-bundling.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { motoEndpoint, useProvisionedStage } from '../support/aws.js';
import { eventually, testConfig } from '../support/engine.js';
import { type Faults, injectFaults } from '../support/durability.js';
import { FaultyKeys } from '../support/key-faults.js';
import { isMarketBlocker, LOST_ANSWER } from '../support/quoting-gaps.js';
import { MASTER, TRADER } from '../support/sim.js';

const SHARD = 'rot';
const aws = useProvisionedStage([SHARD]);
const MASTER_KEY: KeyCredentials = { apiKey: MASTER.key, apiSecret: MASTER.secret };
let sim: Simulator;
let admin: BybitKeyAdmin;
let controlPlane: LocalControlPlane;
let engine: EngineProcess;
const engineLogs: string[] = [];
const lambdaLines: string[] = [];
const printed: string[] = [];
/** Every key lookup of the venue: one per signed REST request, trade op, socket authentication and private push. */
const uses: { apiKey: string; status: string; at: number }[] = [];
let restoreStdout: () => void = () => undefined;
/** The rotation's key management (the real adapter on the simulator) and Secrets Manager, with faults on demand. */
let faultyKeys: FaultyKeys;
let secretsFaults: Faults;
/** Every key the venue issued during the test (the rotations' and the one made by hand), with its secret. */
const issued: { apiKey: string; secret: string }[] = [];

/** The runbook's `npm run secrets` commands, in page order, as argv (after `--`), the target switched to the local stack. */
function runbookCommands(): string[][] {
  const page = readFileSync(join(REPOSITORY_ROOT, 'docs/runbooks/SECRET_ROTATION.md'), 'utf8');
  const blocks = [...page.matchAll(/```bash\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  return blocks.flatMap((block) =>
    block
      .split('\n')
      .filter((line) => line.includes('npm run secrets -- '))
      .map((line) => (line.split('npm run secrets -- ')[1] ?? '').trim().replace('--stage prod', '--local').split(/\s+/)),
  );
}

/** Runs one runbook command through the CLI; its exit code and what it printed. */
async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await secretsCli(argv, {
    env: { MMRB_ROTATION_URL: controlPlane.rotationUrl },
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
    stdin: () => Promise.resolve(stdin),
    control: (target) => {
      if (target.kind !== 'local') throw new Error('the test runs the runbook against the local stack only');
      return httpRotationControl(target.url);
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 500))),
  });
  printed.push(out, err);
  return { code, out, err };
}

interface Status {
  readonly versions: { stages: string[]; keyId?: string }[];
  readonly engines: { shard: string; keyId?: string; state: string }[];
  readonly subAccountKeys: { keyId: string; role: string }[];
}

async function status(argv: string[]): Promise<Status> {
  const result = await run(argv);
  expect(result.code).toBe(0);
  return JSON.parse(result.out) as Status;
}

const currentKeyId = (answer: Status) => answer.versions.find((version) => version.stages.includes('AWSCURRENT'))?.keyId;

/** Refused lookups of the trading sub-account's keys (the master key is the rotation's). */
const refusedSince = (from: number) => uses.filter((use) => use.status !== 'ok' && use.apiKey !== MASTER.key && use.at >= from);

/**
 * Whether the engine quoted the whole time, sampled every 50 ms: gaps a key could cause (the market's own,
 * isMarketBlocker, aside), and on stop any request whose answer the engine lost meanwhile.
 */
function sampleQuoting(): { gaps: string[]; samples: number; stop: () => void } {
  const result = { gaps: [] as string[], samples: 0, stop: (): void => undefined };
  const logsFrom = engineLogs.length;
  const timer = setInterval(() => {
    const current = engine.engine.status();
    result.samples += 1;
    const blockers = current.symbols.flatMap((symbol) => symbol.blockers.map((blocker) => `${symbol.symbol}: ${blocker}`)).filter((blocker) => !isMarketBlocker(blocker));
    if (current.phase !== 'running' || !current.privateStreamSynced || blockers.length > 0) result.gaps.push(`${new Date().toISOString()} ${current.phase} ${blockers.join('; ')}`);
  }, 50);
  result.stop = () => {
    clearInterval(timer);
    result.gaps.push(...engineLogs.slice(logsFrom).filter((line) => line.includes(LOST_ANSWER)));
  };
  return result;
}

beforeAll(async () => {
  // The Lambdas' Powertools loggers write to stdout (info, EMF) and stderr (warn, error): both captured, to be scanned for secrets.
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write.bind(stream));
  for (const stream of streams) {
    stream.write = (chunk: string | Uint8Array) => {
      lambdaLines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
  }
  restoreStdout = () => {
    streams.forEach((stream, index) => {
      const write = writes[index];
      if (write) stream.write = write;
    });
  };
  // Bybit's per-UID limits tenfold: the test polls status (a query-api each time) far more often than an operator.
  sim = await startSimulator({ seed: 51, market: { autoStart: true }, rateLimitScale: 10 });
  const add = sim.keys.add.bind(sim.keys);
  sim.keys.add = (record) => {
    issued.push({ apiKey: record.apiKey, secret: record.secret });
    return add(record);
  };
  const lookup = sim.keys.lookup.bind(sim.keys);
  sim.keys.lookup = (apiKey, now) => {
    const found = lookup(apiKey, now);
    uses.push({ apiKey, status: found.status, at: Date.now() });
    return found;
  };
  admin = new BybitKeyAdmin({ restUrl: sim.restUrl, recvWindowMs: 5_000 });
  // create-sub-api allows one a second per UID: the cases follow each other faster than that.
  let lastCreate = 0;
  faultyKeys = new FaultyKeys(admin, async () => {
    const wait = lastCreate + 1_100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    lastCreate = Date.now();
  });
  secretsFaults = injectFaults(aws.clients.secrets, 'rotation-e2e');
  const traderId = (await admin.describe({ apiKey: TRADER.key, apiSecret: TRADER.secret })).id;
  const { secrets } = aws.stage.names;
  await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId: secrets.tradingKey, SecretString: JSON.stringify({ apiKey: TRADER.key, apiSecret: TRADER.secret, keyId: traderId }) }));
  await aws.clients.secrets.send(new PutSecretValueCommand({ SecretId: secrets.keyAdmin, SecretString: JSON.stringify({ apiKey: MASTER.key, apiSecret: MASTER.secret, keyId: 'sim-master' }) }));
  const config = testConfig(sim, secrets.tradingKey, SHARD, {
    stage: aws.stage.names.stage,
    venue: { credentialsSecretId: secrets.tradingKey, dcpWindowSeconds: 10, credentialsCacheTtlMs: 1_000 },
    persistence: { enabled: true, flushIntervalMs: 50 },
    control: { pollIntervalMs: 60_000, heartbeatIntervalMs: 500 },
  });
  controlPlane = await startLocalControlPlane({
    clients: aws.clients,
    stage: aws.stage,
    // No grace period here: the old key goes as soon as the engine reports the new one.
    settings: controlSettingsOf([config], { restUrl: sim.restUrl, rotation: { revokeAfterMs: 0, orphanMinAgeMs: 0 } }),
    region: 'ap-southeast-1',
    apiPort: 0,
    principalArn: 'arn:aws:iam::123456789012:role/oncall',
    scheduleIntervalMs: 60_000,
    logLevel: 'INFO',
    logger: { debug: () => undefined, info: () => undefined, warn: (message) => engineLogs.push(message), error: (message) => engineLogs.push(message) },
    rotation: { motoEndpoint: motoEndpoint(), port: 0, revokeIntervalMs: 60_000, keys: faultyKeys },
  });
  engine = await startEngineProcess({
    config,
    credentials: secretsManagerCredentials(config, aws.clients.secrets),
    aws: { dynamodb: aws.clients.dynamodb, eventBridge: aws.clients.eventBridge, sqs: aws.clients.sqs },
    logSink: (line) => engineLogs.push(line),
  });
  await eventually('the engine quoting both symbols', () => (engine.engine.status().symbols.every((symbol) => symbol.quoting && symbol.openOrders > 0) ? true : undefined), 30_000);
}, 60_000);

afterAll(async () => {
  await engine.stop('test over');
  await controlPlane.stop();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await sim.close();
  restoreStdout();
});

describe('the runbook (docs/runbooks/SECRET_ROTATION.md)', () => {
  it('lists status, rotate, revoke, revoke --now and put-key, in that order', () => {
    expect(runbookCommands().map((argv) => argv.join(' '))).toEqual([
      'status --local',
      'rotate --local --wait 120',
      'status --local',
      'revoke --local',
      'revoke --local --now',
      'put-key --local',
    ]);
  });

  it('a failure injected at each step while the engine quotes: it trades on on the current key, zero refusals, no quote pulled, the new key gone', async () => {
    const [look, rotate] = runbookCommands();
    if (!look || !rotate) throw new Error('the runbook lost a command');
    const before = currentKeyId(await status(look));
    const from = Date.now();
    const quoting = sampleQuoting();
    /** Hides the newest key the rotation created from one listing: setSecret's (createSecret lists before it creates). */
    const hideNewKeyOnce = () => {
      let hidden = false;
      faultyKeys.faults.listAs = (keys) => {
        const newest = faultyKeys.created[faultyKeys.created.length - 1];
        if (hidden || !keys.some((key) => key.id === newest)) return keys;
        hidden = true;
        return keys.filter((key) => key.id !== newest);
      };
    };
    const cases: { step: string; inject: () => void; message: RegExp }[] = [
      { step: 'createSecret', inject: () => (faultyKeys.faults.create = [new KeyAdminError('create-sub-api refused: 10005 Permission denied', 10005)]), message: /rolled-back after \d+ attempt\(s\): createSecret: KeyAdminError: create-sub-api refused: 10005/ },
      { step: 'setSecret', inject: hideNewKeyOnce, message: /rolled-back after \d+ attempt\(s\): setSecret: .*is not a key of sub-account/ },
      { step: 'testSecret', inject: () => (faultyKeys.faults.createAs = (request) => ({ ...request, readOnly: true })), message: /rolled-back after \d+ attempt\(s\): testSecret: .*readOnly true instead of false/ },
    ];
    for (const { step, inject, message } of cases) {
      const created = faultyKeys.created.length;
      inject();
      const failed = await run(rotate);
      delete faultyKeys.faults.createAs;
      delete faultyKeys.faults.listAs;
      expect({ step, code: failed.code }).toEqual({ step, code: 1 });
      expect(failed.err).toMatch(message);
      const after = await status(look);
      expect({ step, current: currentKeyId(after), pending: after.versions.some((version) => version.stages.includes('AWSPENDING')) }).toEqual({ step, current: before, pending: false });
      for (const id of faultyKeys.created.slice(created)) expect(after.subAccountKeys.map((key) => key.keyId)).not.toContain(id);
      expect(engine.keyId()).toBe(before);
    }

    // finishSecret: Secrets Manager cannot move AWSCURRENT, on every attempt (3, each with the SDK's 3 tries).
    secretsFaults.mode = 'error';
    secretsFaults.only.add('UpdateSecretVersionStageCommand');
    secretsFaults.budget = 9;
    const stuck = await run(rotate);
    expect(stuck.code).toBe(1);
    expect(stuck.err).toMatch(/rotation failed after 3 attempt\(s\)/);
    const halfDone = await status(look);
    expect(currentKeyId(halfDone)).toBe(before);
    expect(halfDone.versions.some((version) => version.stages.includes('AWSPENDING') && !version.stages.includes('AWSCURRENT'))).toBe(true);
    expect(engine.keyId()).toBe(before);
    // The next attempt finishes it under its own token (AWS attempts a rotation under way again).
    secretsFaults.mode = 'none';
    const resumed = await run(rotate);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain('"resumed": true');
    const newKeyId = currentKeyId(await status(look));
    expect(newKeyId).not.toBe(before);
    await eventually('the engine on the key of the resumed rotation, and its heartbeat saying so', async () => (engine.keyId() === newKeyId && (await status(look)).engines[0]?.keyId === newKeyId ? true : undefined), 15_000);

    quoting.stop();
    expect(quoting.samples).toBeGreaterThan(20);
    expect(quoting.gaps).toEqual([]);
    expect(refusedSince(from)).toEqual([]);
  }, 120_000);

  it('a routine rotation while the engine quotes: zero refusals, no quote pulled, the old key revoked once the engine switched', async () => {
    const [look, rotate, watch, revoke] = runbookCommands();
    if (!look || !rotate || !watch || !revoke) throw new Error('the runbook lost a command');
    const before = await status(look);
    const oldKeyId = currentKeyId(before);
    expect(before.engines).toEqual([expect.objectContaining({ shard: SHARD, keyId: oldKeyId, state: 'running' })]);
    const from = Date.now();
    const quoting = sampleQuoting();

    const rotated = await run(rotate);
    expect(rotated).toMatchObject({ code: 0, err: '' });
    expect(rotated.out).toContain('"outcome": "finished"');
    const after = await status(watch);
    const newKeyId = currentKeyId(after);
    expect(newKeyId).not.toBe(oldKeyId);
    await eventually('status shows the engine on the new key', async () => ((await status(watch)).engines[0]?.keyId === newKeyId ? true : undefined), 15_000);

    const revoked = await run(revoke);
    expect({ code: revoked.code, err: revoked.err }).toEqual({ code: 0, err: '' });
    // The previous rotation's old key (the hand-made trader key) goes too: each version carries the keys it replaced.
    expect(JSON.parse(revoked.out)).toMatchObject({ revoked: expect.arrayContaining([oldKeyId]), waitingFor: [] });
    const final = await status(look);
    expect(final.subAccountKeys.map((key) => key.keyId)).not.toContain(oldKeyId);
    expect(final.subAccountKeys.find((key) => key.keyId === newKeyId)?.role).toBe('AWSCURRENT');

    // Trading went on through all of it, on the new key after the swap.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    quoting.stop();
    expect(quoting.samples).toBeGreaterThan(20);
    expect(quoting.gaps).toEqual([]);
    expect(refusedSince(from)).toEqual([]);
    expect(engine.engine.status().counters.venueRejections).not.toHaveProperty('10003');
    expect(engine.keyId()).toBe(newKeyId);
    // The hand-made trader key, replaced two rotations ago, is gone too (checked last: the venue counts the refusal).
    expect(await works(TRADER.key, TRADER.secret)).toBe(false);
  }, 120_000);

  it('the emergency: rotate and revoke the old key at once; the engine swaps on its refusal, same process, in well under five minutes', async () => {
    const commands = runbookCommands();
    const [look, rotate, , , revokeNow] = commands;
    if (!look || !rotate || !revokeNow) throw new Error('the runbook lost a command');
    const epoch = engine.epoch;
    const startedAt = Date.now();
    const oldKeyId = currentKeyId(await status(look));
    expect((await run(rotate)).code).toBe(0);
    // At once: the engine may still be on the old key.
    const revoked = await run(revokeNow);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({ revoked: expect.arrayContaining([oldKeyId]) });
    const newKeyId = currentKeyId(await status(look));
    await eventually('the engine on the new key', () => (engine.keyId() === newKeyId ? true : undefined), 15_000);
    const elapsedMs = Date.now() - startedAt;
    expect(elapsedMs).toBeLessThan(5 * 60_000);
    await eventually('quoting both symbols', () => (engine.engine.status().symbols.every((symbol) => symbol.quoting) ? true : undefined), 15_000);
    expect(engine.epoch).toBe(epoch);
    expect(engine.engine.status().phase).toBe('running');
  }, 120_000);

  it('break-glass: a key made by hand, stored with put-key, is picked up by the engine', async () => {
    const putKey = runbookCommands()[5];
    if (!putKey) throw new Error('the runbook lost put-key');
    // create-sub-api allows one a second per UID; the rotations just used it.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const byHand = await admin.createSubAccountKey(MASTER_KEY, { subUid: await subAccountUid(), readOnly: false, permissions: { ContractTrade: ['Order', 'Position'] }, ips: [], note: 'made by hand' });
    const stored = await run(putKey, JSON.stringify({ apiKey: byHand.apiKey, apiSecret: byHand.apiSecret }));
    expect(stored.code).toBe(0);
    expect(JSON.parse(stored.out)).toMatchObject({ stored: 'AWSCURRENT' });
    await eventually('the engine on the key made by hand', async () => {
      const answer = await status(['status', '--local']);
      const keyId = currentKeyId(answer);
      return keyId !== undefined && engine.keyId() === keyId && answer.engines[0]?.keyId === keyId ? true : undefined;
    }, 15_000);
    await eventually('quoting both symbols', () => (engine.engine.status().symbols.every((symbol) => symbol.quoting) ? true : undefined), 15_000);
  }, 60_000);

  it('nothing logged or printed holds a key or a secret', () => {
    const everything = [...engineLogs, ...lambdaLines, ...printed].join('\n');
    // Info from stdout, errors from stderr: both scanned.
    expect(lambdaLines.join('')).toContain('rotation finished');
    expect(lambdaLines.join('')).toContain('rotation failed and was rolled back');
    for (const value of [TRADER.key, TRADER.secret, MASTER.key, MASTER.secret]) expect(everything).not.toContain(value);
    expect(issued.length).toBeGreaterThanOrEqual(3);
    for (const key of issued) {
      expect(everything).not.toContain(key.apiKey);
      expect(everything).not.toContain(key.secret);
    }
  });
});

/** True when the venue accepts the key. */
async function works(apiKey: string, apiSecret: string): Promise<boolean> {
  return admin.describe({ apiKey, apiSecret }).then(
    () => true,
    () => false,
  );
}

/** The trading sub-account's UID, from the engine's current key. */
async function subAccountUid(): Promise<number> {
  const credentials = await secretsManagerCredentials(testConfig(sim, aws.stage.names.secrets.tradingKey, SHARD), aws.clients.secrets).get();
  return (await admin.describe(credentials)).uid;
}
