/**
 * `npm run bench -- bundles`: each Lambda's bundle as deployed (bin/bundle.ts, LAMBDA_BUNDLE's settings),
 * its size, and its module initialisation time in a fresh Node 22 process: the cold-start proxy. The
 * process gets the environment Lambda would give it, AWS_LAMBDA_FUNCTION_NAME included, so the handler's
 * clients and settings are built during the import as they are in a cold start. Targets (issue 7): under
 * 1 MB and under 150 ms. Printed, never asserted.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { bundleEngine, bundleLambda, lambdaIds } from '../../bin/bundle.js';
import type { LambdaId } from '../../lib/lambda-bundling.js';
import { loadConfig } from '../../src/config/config.js';
import { CONTROL_SETTINGS_ENV, controlSettingsOf } from '../../src/control/settings.js';
import { METRICS_NAMESPACE, METRIC_SERVICES } from '../../src/resources/definitions.js';

const TARGET_BYTES = 1_000_000;
const TARGET_INIT_MS = 150;
const RUNS = Number(process.env.MMRB_BENCH_BUNDLE_RUNS ?? '10');

/** Records the time, imports the bundle, prints the elapsed time: nothing else runs before the import. */
const INIT_SCRIPT = `const start = performance.now();
await import(process.argv[2]);
process.stdout.write(\`INIT \${(performance.now() - start).toFixed(3)}\\n\`);
`;

export interface BundleFigures {
  readonly id: LambdaId;
  readonly bytes: number;
  /** The .mjs and its map deflated, as in the deployment zip. */
  readonly zippedBytes: number;
  /** Module initialisation, in ms, sorted: node run with --enable-source-maps and without. */
  readonly initMs: { readonly sourceMaps: readonly number[]; readonly plain: readonly number[] };
}

/** What the Lambda runtime sets (the credentials are dummies: the clients read them on the first call only). */
function lambdaEnvironment(id: LambdaId, settings: string, nodeOptions: string): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: `mmrb-bench-${id}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_REGION: 'ap-southeast-1',
    AWS_DEFAULT_REGION: 'ap-southeast-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_SESSION_TOKEN: 'bench',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    POWERTOOLS_SERVICE_NAME: METRIC_SERVICES[id],
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    NODE_OPTIONS: nodeOptions,
    [CONTROL_SETTINGS_ENV]: settings,
  };
}

/** One fresh process importing the bundle; resolves with the import's duration in ms. */
function initOnce(script: string, bundle: string, env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [script, pathToFileURL(bundle).href], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr = (output.stderr + chunk.toString('utf8')).slice(-2_000)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = /^INIT ([0-9.]+)$/m.exec(output.stdout)?.[1];
      if (code === 0 && ms !== undefined) resolve(Number(ms));
      else reject(new Error(`importing ${bundle} failed (exit ${code}): ${output.stderr || output.stdout}`));
    });
  });
}

async function initTimes(script: string, bundle: string, env: Record<string, string>): Promise<number[]> {
  const samples: number[] = [];
  // One after the other: two cores, and parallel starts would measure each other.
  for (let run = 0; run < RUNS; run++) samples.push(await initOnce(script, bundle, env));
  return samples.sort((a, b) => a - b);
}

/** The settings the handlers parse at init: the local stage's, as the CDK app derives them from an engine configuration. */
function controlSettings(): string {
  const config = loadConfig({ file: fileURLToPath(new URL('../../config/local.json', import.meta.url)), env: {} }).config;
  return JSON.stringify(controlSettingsOf([config]));
}

export interface BundleBench {
  readonly lambdas: readonly BundleFigures[];
  readonly engineBytes: number;
}

/** Bundles into a temporary directory (no node_modules above it: a leaked import fails the run) and measures. */
export async function benchBundles(): Promise<BundleBench> {
  const dir = mkdtempSync(join(tmpdir(), 'mmrb-bundles-'));
  try {
    const script = join(dir, 'init.mjs');
    writeFileSync(script, INIT_SCRIPT);
    const settings = controlSettings();
    const lambdas: BundleFigures[] = [];
    for (const id of lambdaIds()) {
      const report = await bundleLambda(id, dir);
      const zippedBytes = deflateRawSync(readFileSync(report.outfile), { level: 9 }).length + deflateRawSync(readFileSync(`${report.outfile}.map`), { level: 9 }).length;
      const sourceMaps = await initTimes(script, report.outfile, lambdaEnvironment(id, settings, '--enable-source-maps'));
      const plain = await initTimes(script, report.outfile, lambdaEnvironment(id, settings, ''));
      lambdas.push({ id, bytes: report.bytes, zippedBytes, initMs: { sourceMaps, plain } });
    }
    const engine = await bundleEngine(dir);
    return { lambdas, engineBytes: engine.bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kB = (bytes: number) => `${Math.round(bytes / 1000).toLocaleString('en-US')} kB`;
const median = (sorted: readonly number[]) => sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
const max = (sorted: readonly number[]) => sorted[sorted.length - 1] ?? Number.NaN;

export function formatBundles(bench: BundleBench): string[] {
  const lines: string[] = [];
  for (const { id, bytes, zippedBytes, initMs } of bench.lambdas) {
    const size = bytes < TARGET_BYTES ? 'met' : 'NOT met';
    lines.push(`${`lambda ${id}: bundle size (.mjs)`.padEnd(58)} ${kB(bytes).padStart(12)}  (zipped with its map ${kB(zippedBytes)}; target < ${kB(TARGET_BYTES)}: ${size})`);
    // The deployed functions run with NODE_OPTIONS=--enable-source-maps (lib/bundled-function.ts), which reads the map at import.
    for (const [label, samples] of [['--enable-source-maps, as deployed', initMs.sourceMaps], ['no source maps', initMs.plain]] as const) {
      const met = max(samples) < TARGET_INIT_MS ? 'met' : median(samples) < TARGET_INIT_MS ? 'met by the median' : 'NOT met';
      lines.push(`${`lambda ${id}: module init, fresh node (median / max)`.padEnd(58)} ${`${median(samples).toFixed(0)} / ${max(samples).toFixed(0)}`.padStart(12)} ms  (${samples.length} runs, ${label}; target < ${TARGET_INIT_MS} ms: ${met})`);
    }
  }
  lines.push(`${'engine: bundle size (dist/engine/main.mjs)'.padEnd(58)} ${kB(bench.engineBytes).padStart(12)}  (every dependency inside; the image has no node_modules)`);
  return lines;
}
