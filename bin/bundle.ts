/**
 * `npm run bundle [-- engine | lambdas]`: the deployable bundles, built with esbuild into dist/.
 *
 *   dist/engine/main.mjs (+ .map)        the engine (src/app/main.ts), what the container image runs
 *   dist/lambdas/<id>/index.mjs (+ .map) each Lambda of LAMBDA_ENTRIES, with the settings NodejsFunction uses
 *
 * Every npm dependency is bundled: a bundle imports node's builtins and nothing else (checked on every
 * build from esbuild's metafile), so the runtime image carries no node_modules. The Dockerfile runs
 * `npm run bundle -- engine`; `npm run bench -- bundles` and the tests call the functions below.
 */
import { type BuildOptions, type Message, build, formatMessages } from 'esbuild';
import { statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LAMBDA_BUNDLE, LAMBDA_ENTRIES, type LambdaEntry, type LambdaId, REPOSITORY_ROOT } from '../lib/lambda-bundling.js';

export const DIST_DIR = join(REPOSITORY_ROOT, 'dist');
export const ENGINE_ENTRY = 'src/app/main.ts';

/**
 * LAMBDA_BUNDLE as esbuild options, as NodejsFunction passes them to esbuild's command line (bundle,
 * platform node, the format, target, minify, source map, sources content, externals, main fields, banner).
 * The bundle measured by the bench is then the bundle deployed.
 */
export function esbuildOptionsOf(entry: LambdaEntry, outfile: string): BuildOptions {
  return optionsOf(entry.entry, outfile);
}

function optionsOf(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(REPOSITORY_ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: LAMBDA_BUNDLE.format,
    target: LAMBDA_BUNDLE.target,
    minify: LAMBDA_BUNDLE.minify,
    sourcemap: LAMBDA_BUNDLE.sourceMap,
    sourcesContent: LAMBDA_BUNDLE.sourcesContent,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    banner: { js: LAMBDA_BUNDLE.banner },
    external: [...LAMBDA_BUNDLE.externalModules],
  };
}

/**
 * The engine: the Lambdas' settings (ESM on node22, minified, a map without sources, the require banner
 * for CommonJS dependencies such as bybit-api and ws), with its own entry. A minified bundle keeps stack
 * traces readable through the map: the image runs node with --enable-source-maps.
 */
export function engineOptions(outfile: string): BuildOptions {
  return optionsOf(ENGINE_ENTRY, outfile);
}

/**
 * Requires esbuild leaves in place because they sit in a try block and cannot be resolved: ws's optional
 * native accelerators, not installed here either; ws falls back to JavaScript when the require throws.
 */
export const OPTIONAL_REQUIRES: readonly string[] = ['bufferutil', 'utf-8-validate'];

export interface BundleReport {
  readonly name: string;
  readonly outfile: string;
  /** Size of the .mjs file, in bytes. */
  readonly bytes: number;
  /** esbuild's warnings, formatted (e.g. an optional require left to fail at run time). */
  readonly warnings: readonly string[];
}

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

async function bundle(name: string, options: BuildOptions): Promise<BundleReport> {
  const outfile = options.outfile;
  if (outfile === undefined) throw new BundleError(`${name}: no outfile`);
  // Silent: warnings are returned (the bench and tests print what they need), errors thrown.
  const result = await build({ ...options, absWorkingDir: REPOSITORY_ROOT, metafile: true, logLevel: 'silent' });
  // Anything left external must be a builtin: the image has no node_modules, and the Lambda's runtime SDK is not used.
  const outside = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((imported) => imported.external && !isBuiltin(imported.path) && !(imported.kind === 'require-call' && OPTIONAL_REQUIRES.includes(imported.path)))
    .map((imported) => `${imported.kind} ${imported.path}`);
  if (outside.length > 0) throw new BundleError(`${name} imports modules that are not bundled: ${[...new Set(outside)].join(', ')}`);
  const warnings = await formatWarnings(result.warnings);
  return { name, outfile, bytes: statSync(outfile).size, warnings };
}

async function formatWarnings(messages: readonly Message[]): Promise<string[]> {
  if (messages.length === 0) return [];
  return formatMessages([...messages], { kind: 'warning', color: false });
}

export function engineOutfile(outDir: string = DIST_DIR): string {
  return join(outDir, 'engine', 'main.mjs');
}

export function lambdaOutfile(id: LambdaId, outDir: string = DIST_DIR): string {
  return join(outDir, 'lambdas', id, 'index.mjs');
}

export function bundleEngine(outDir: string = DIST_DIR): Promise<BundleReport> {
  return bundle('engine', engineOptions(engineOutfile(outDir)));
}

export function bundleLambda(id: LambdaId, outDir: string = DIST_DIR): Promise<BundleReport> {
  return bundle(`lambda ${id}`, esbuildOptionsOf(LAMBDA_ENTRIES[id], lambdaOutfile(id, outDir)));
}

export function lambdaIds(): LambdaId[] {
  return Object.keys(LAMBDA_ENTRIES) as LambdaId[];
}

export type BundleTarget = 'engine' | 'lambdas';

/** The engine and every Lambda (or the targets named), one after the other: two cores, and esbuild uses them all. */
export async function bundleAll(outDir: string = DIST_DIR, targets: readonly BundleTarget[] = ['engine', 'lambdas']): Promise<BundleReport[]> {
  const reports: BundleReport[] = [];
  if (targets.includes('engine')) reports.push(await bundleEngine(outDir));
  if (targets.includes('lambdas')) for (const id of lambdaIds()) reports.push(await bundleLambda(id, outDir));
  return reports;
}

async function cli(args: readonly string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== 'engine' && arg !== 'lambdas');
  if (unknown.length > 0) {
    process.stderr.write(`usage: npm run bundle [-- engine | lambdas]  (unknown: ${unknown.join(' ')})\n`);
    return 2;
  }
  const targets = args.length === 0 ? undefined : (args as BundleTarget[]);
  const reports = await bundleAll(DIST_DIR, targets);
  for (const report of reports) {
    for (const warning of report.warnings) process.stderr.write(warning);
    process.stdout.write(`${report.name.padEnd(24)} ${relative(REPOSITORY_ROOT, report.outfile).padEnd(36)} ${Math.round(report.bytes / 1000).toLocaleString('en-US').padStart(6)} kB\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await cli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  });
}
