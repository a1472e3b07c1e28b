/**
 * The deployable bundles (bin/bundle.ts), built into a temporary directory with no node_modules above it,
 * so that anything not bundled fails here rather than in the container or the Lambda:
 *
 * - the engine's bundle runs as the image runs it (node 22 with source maps on dist/engine/main.mjs,
 *   NODE_ENV=production) on the simulator and the emulator, with persistence, the lease and the control
 *   queue on (bybit-api, ws, the AWS SDK clients, Powertools and zod all in use), is ready on /ready, and
 *   stops on SIGTERM with exit 0; `--print-config` prints the effective configuration; a bad file exits 2;
 * - each Lambda bundle is one .mjs with its map and imports only node's builtins: the AWS SDK is inside.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { RestClientV5 } from 'bybit-api';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTIONAL_REQUIRES, type BundleReport, bundleAll, engineOutfile, lambdaIds, lambdaOutfile } from '../../bin/bundle.js';
import { LAMBDA_ENTRIES, type LambdaId } from '../../lib/lambda-bundling.js';
import { formatConfig, loadConfig } from '../../src/config/config.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { type EngineChild, type EngineEntry, eventually, spawnEngine, storeTraderKey, testConfigDocument, venueOpenOrders } from '../support/engine.js';
import { TRADER } from '../support/sim.js';

const SHARD = 'bundle';
const aws = useProvisionedStage([SHARD]);
const dir = mkdtempSync(join(tmpdir(), 'mmrb-bundle-'));
let reports: BundleReport[] = [];
let sim: Simulator;
const spawned: EngineChild[] = [];

beforeAll(async () => {
  reports = await bundleAll(dir);
  sim = await startSimulator({ seed: 31, market: { autoStart: true } });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
}, 60_000);

afterAll(async () => {
  for (const { child } of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The container's command: the image's node options and environment, the bundle instead of tsx and main.ts. */
const bundleEntry = (): EngineEntry => ({ nodeArgs: ['--enable-source-maps'], script: engineOutfile(dir), env: { NODE_ENV: 'production' } });

/** A port free now, for the health server: its URL must be known to poll /ready from outside. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function getJson(url: string): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const response = await fetch(url);
    return { status: response.status, body: await response.json() };
  } catch {
    return undefined; // not listening yet
  }
}

function run(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--enable-source-maps', engineOutfile(dir), ...args], { cwd: tmpdir(), env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('the engine bundle', () => {
  it('is one file with its map, importing only node: builtins', async () => {
    expect(readdirSync(join(dir, 'engine')).sort()).toEqual(['main.mjs', 'main.mjs.map']);
    expect(reports.map((report) => report.outfile)).toContain(engineOutfile(dir));
    const { imports, requires } = await runtimeImports(engineOutfile(dir));
    expect(imports.filter((entry) => !/^(import-statement|dynamic-import) node:/.test(entry))).toEqual([]);
    expect(requires.filter((specifier) => !isBuiltin(specifier) && !OPTIONAL_REQUIRES.includes(specifier))).toEqual([]);
  });

  it('starts on the simulator and the emulator, says ready on /ready, and stops on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const document = testConfigDocument(aws.stage.names.secrets.tradingKey, SHARD, {
      stage: aws.stage.names.stage,
      persistence: { enabled: true, flushIntervalMs: 50 },
      engine: { healthPort: port, stopTimeoutMs: 10_000 },
    });
    const started = spawnEngine(sim, document, [], bundleEntry());
    spawned.push(started);
    const { child, output, exited } = started;
    const ready = await eventually(
      'ready on /ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`the bundle exited with ${child.exitCode}:\n${output.join('').slice(-3_000)}`);
        const answer = await getJson(`http://127.0.0.1:${port}/ready`);
        return answer?.status === 200 ? answer.body : undefined;
      },
      45_000,
    );
    expect(ready).toEqual({ ready: true, reasons: [] });
    expect(await getJson(`http://127.0.0.1:${port}/health`)).toEqual({ status: 200, body: { status: 'ok' } });
    // Quoting: the venue holds its orders, which the stop must cancel.
    const rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
    await eventually('live quotes', async () => ((await venueOpenOrders(rest, 'BTCUSDT')).some((order) => order.orderLinkId.startsWith(`${SHARD}-`)) ? true : undefined), 30_000);

    child.kill('SIGTERM');
    const code = await exited;
    const text = output.join('');
    expect({ code, tail: code === 0 ? '' : text.slice(-3_000) }).toEqual({ code: 0, tail: '' });
    expect(text).toContain('stopped: no open orders at the venue');
    expect((await venueOpenOrders(rest, 'BTCUSDT')).filter((order) => order.orderLinkId.startsWith(`${SHARD}-`))).toEqual([]);
    // Powertools' JSON lines, and no error among them; the lease is in DynamoDB (the bundled SDK at work).
    expect(text).toContain('"message":"quoting"');
    expect(text).toContain('"message":"lease taken"');
    expect(text.split('\n').filter((line) => line.includes('"level":"ERROR"'))).toEqual([]);
  }, 120_000);

  it('--print-config prints the effective configuration and exits 0', async () => {
    const file = join(dir, 'print.json');
    writeFileSync(file, JSON.stringify(testConfigDocument('mmrb/test/trading-key', SHARD)));
    const env = { PATH: process.env.PATH ?? '', MMRB__RISK__MAXOPENORDERS: '80' };
    const { code, stdout, stderr } = await run(['--config', file, '--print-config'], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trimEnd()).toBe(formatConfig(loadConfig({ file, env })));
    expect(stdout).toContain('risk.maxOpenOrders = 80');
  });

  it('a bad configuration file exits 2, naming the bad keys', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...testConfigDocument('mmrb/test/trading-key', SHARD), engine: { healthPort: 'eighty' }, bogus: 1 }));
    const { code, stdout, stderr } = await run(['--config', file], { PATH: process.env.PATH ?? '' });
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain('invalid configuration');
    expect(stderr).toContain('bogus: unknown key');
    expect(stderr).toContain('engine.healthPort');
    // The message, not a stack trace.
    expect(stderr).not.toContain('    at ');
  });
});

/**
 * What a bundle loads at run time, read from its text: static and dynamic imports through esbuild's parser
 * (every package left external, so each import is listed), and the calls of esbuild's require shim, which
 * is where a CommonJS dependency's require of something not bundled ends up.
 */
async function runtimeImports(file: string): Promise<{ imports: string[]; requires: string[] }> {
  const result = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', external: ['*'], logLevel: 'silent' });
  const inputs = Object.values(result.metafile.inputs);
  if (inputs.length !== 1) throw new Error(`${file}: expected one input with every import external, not ${inputs.length}`);
  const imports = (inputs[0]?.imports ?? []).map((imported) => `${imported.kind} ${imported.path}`);
  const code = readFileSync(file, 'utf8');
  // esbuild's __require: `var X=(t=>typeof require<"u"?require:...)(function(t){...Dynamic require of...})`.
  const shim = /var ([\w$]+)=\([\w$]+=>typeof require<"u"\?require:/.exec(code)?.[1];
  if (shim === undefined) throw new Error(`${file}: esbuild's require shim was not found; update the pattern`);
  const calls = new RegExp(`(?<![\\w$.])${shim.replace(/\$/g, '\\$')}\\("([^"]+)"\\)`, 'g');
  const requires = [...code.matchAll(calls)].map((match) => match[1] ?? '');
  return { imports, requires };
}

/** The dependencies each function's bundle carries. */
const COMMON = ['@aws-sdk/client-dynamodb', '@aws-sdk/client-secrets-manager', '@middy/core', '@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics'];
const BUNDLED: Readonly<Record<LambdaId, readonly string[]>> = {
  riskEvaluator: [...COMMON, '@aws-sdk/client-eventbridge'],
  freezeApi: [...COMMON, '@aws-sdk/client-eventbridge'],
  secretRotation: COMMON,
};

describe('the Lambda bundles', () => {
  it.each(lambdaIds())('%s: one .mjs with its map, importing only node: builtins, the AWS SDK inside', async (id) => {
    const outfile = lambdaOutfile(id, dir);
    expect(readdirSync(join(dir, 'lambdas', id)).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const { imports, requires } = await runtimeImports(outfile);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((entry) => !/^(import-statement|dynamic-import) node:/.test(entry))).toEqual([]);
    expect(requires.filter((specifier) => !isBuiltin(specifier) && !OPTIONAL_REQUIRES.includes(specifier))).toEqual([]);
    // The SDK clients, middy and Powertools are in the bundle (their sources are in its map, without their text).
    const map = JSON.parse(readFileSync(`${outfile}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sourcesContent).toBeUndefined();
    for (const dependency of BUNDLED[id]) {
      expect({ dependency, bundled: map.sources.some((source) => source.includes(`node_modules/${dependency}/`)) }).toEqual({ dependency, bundled: true });
    }
    // What a function does not use stays out (the rotation publishes no events; none needs Lambda or IAM clients).
    for (const dependency of ['@aws-sdk/client-eventbridge', '@aws-sdk/client-lambda', '@aws-sdk/client-iam'].filter((name) => !BUNDLED[id].includes(name))) {
      expect({ dependency, bundled: map.sources.some((source) => source.includes(`node_modules/${dependency}/`)) }).toEqual({ dependency, bundled: false });
    }
    expect(map.sources.filter((source) => source.endsWith(LAMBDA_ENTRIES[id].entry))).toHaveLength(1);
  });
});
