/**
 * Running the engine against the simulator and the AWS emulator in tests: its configuration (the
 * simulator's URLs, a trading-key secret in the emulator), and reading back what the venue reports.
 */
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RestClientV5 } from 'bybit-api';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EngineConfig, loadConfig } from '../../src/config/config.js';
import type { Simulator } from '../../sim/simulator.js';
import { TRADER } from './sim.js';

/** Stores the simulator's trader key as the engine's trading-key secret. */
export async function storeTraderKey(secrets: SecretsManagerClient, secretId: string): Promise<void> {
  await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ apiKey: TRADER.key, apiSecret: TRADER.secret, keyId: 'sim-trader' }) }));
}

/** The simulator's URLs as MMRB__ environment overrides (its ports are picked at start). */
export function venueEnv(sim: Simulator): Record<string, string> {
  return {
    MMRB__VENUE__RESTURL: sim.restUrl,
    MMRB__VENUE__WSPUBLICURL: sim.wsUrls.public,
    MMRB__VENUE__WSPRIVATEURL: sim.wsUrls.private,
    MMRB__VENUE__WSTRADEURL: sim.wsUrls.trade,
  };
}

/** A configuration document for tests: two symbols, two levels, fast ticks; `overrides` merge on top. */
export function testConfigDocument(secretId: string, shard: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    shard,
    venue: { credentialsSecretId: secretId, dcpWindowSeconds: 10 },
    symbolDefaults: { levels: 2, levelSpacingBps: '1', minEdgeBps: '0.5', refreshToleranceTicks: 2 },
    symbols: {
      BTCUSDT: { orderQty: '0.002', maxPosition: '0.02', maxNotional: '1500' },
      ETHUSDT: { orderQty: '0.03', maxPosition: '0.3', maxNotional: '1200' },
    },
    risk: { ordersPerSecond: 8 },
    router: { requestTimeoutMs: 1_000 },
    engine: { healthPort: 0, stopTimeoutMs: 10_000 },
    // In memory unless a test gives its stage's tables (stage and persistence in overrides).
    persistence: { enabled: false },
    ...overrides,
  };
}

export function testConfig(sim: Simulator, secretId: string, shard: string, overrides: Record<string, unknown> = {}): EngineConfig {
  return loadConfig({ fileText: JSON.stringify(testConfigDocument(secretId, shard, overrides)), env: venueEnv(sim) }).config;
}

/** Bybit: too many visits (the endpoint's per-UID limit, which the test shares with the engine's key). */
const RATE_LIMITED = 10006;

/** Every item of a cursor-paged list endpoint; a page refused for the rate limit is asked again, as any client would. */
export async function allPages<T>(fetch: (cursor: string | undefined) => Promise<{ retCode: number; retMsg: string; result: { list: T[]; nextPageCursor?: string } }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    let response = await fetch(cursor);
    for (let attempt = 1; response.retCode === RATE_LIMITED && attempt <= 5; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      response = await fetch(cursor);
    }
    if (response.retCode !== 0) throw new Error(`venue answered ${response.retCode} ${response.retMsg}`);
    items.push(...response.result.list);
    cursor = response.result.nextPageCursor || undefined;
  } while (cursor);
  return items;
}

export async function venueExecutions(rest: RestClientV5, symbol: string) {
  return allPages((cursor) => rest.getExecutionList({ category: 'linear', symbol, limit: 100, ...(cursor && { cursor }) }));
}

export async function venueOrderHistory(rest: RestClientV5, symbol: string) {
  return allPages((cursor) => rest.getHistoricOrders({ category: 'linear', symbol, limit: 50, ...(cursor && { cursor }) }));
}

export async function venueOpenOrders(rest: RestClientV5, symbol: string) {
  return allPages((cursor) => rest.getActiveOrders({ category: 'linear', symbol, openOnly: 0, limit: 50, ...(cursor && { cursor }) }));
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Kills the engine with SIGKILL while it has orders live. A quoting engine replaces its orders all the
 * time, so it is stopped (SIGSTOP) first and the simulator left to settle what it had already sent; only
 * then is `holdsOrders` asked, and if a requote had just emptied its book it runs on a while and is
 * stopped again. Resolves once it has exited.
 */
export async function killHoldingOrders(engine: EngineChild, holdsOrders: () => Promise<boolean> | boolean): Promise<void> {
  await eventually('the stopped engine holding live orders', async () => {
    engine.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (await holdsOrders()) return true;
    engine.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 500));
    return undefined;
  });
  engine.child.kill('SIGKILL');
  await engine.exited;
}

export interface EngineChild {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr, in order. */
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** How the engine's process is started: node's options, the entry module, extra environment. */
export interface EngineEntry {
  readonly nodeArgs: readonly string[];
  readonly script: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** The sources, through tsx's loader. */
export const SOURCE_ENTRY: EngineEntry = { nodeArgs: ['--import', 'tsx'], script: join(root, 'src/app/main.ts') };

/**
 * The engine as the container runs it: `src/app/main.ts --config <file>` (or `entry`, such as the bundle)
 * in its own process, on the simulator (and the emulator, through the AWS_ environment of the test
 * worker), its output kept. `imports` are extra modules loaded first (`--import`), such as a bug to inject.
 */
export function spawnEngine(sim: Simulator, configDocument: Record<string, unknown>, imports: readonly string[] = [], entry: EngineEntry = SOURCE_ENTRY): EngineChild {
  const dir = mkdtempSync(join(tmpdir(), 'mmrb-engine-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(configDocument));
  // Node itself with tsx's loader, not the tsx wrapper: SIGKILL must hit the engine, not a parent that cannot relay it.
  const loaders = imports.flatMap((path) => ['--import', join(root, path)]);
  const child = spawn(process.execPath, [...entry.nodeArgs, ...loaders, entry.script, '--config', file], { cwd: root, env: { ...process.env, ...venueEnv(sim), ...entry.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}
