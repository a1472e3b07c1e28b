/**
 * The engine's one configuration: schema defaults, then a JSON file, then `MMRB__` environment
 * overrides, deep-merged in that order; `symbolDefaults` is then merged under each symbol's own settings.
 * The result is validated as a whole and every problem is reported at once, by dotted path or variable.
 *
 * Each leaf's source (default, file, file:symbolDefaults, env:<VAR>) is recorded so `--print-config`
 * can show where an effective value came from. Printing the configuration is safe: it never holds a
 * secret, only the id of the Secrets Manager secret that does (venue.credentialsSecretId).
 */
import { readFileSync } from 'node:fs';
import { readEnvOverrides, type EnvOverride } from './env.js';
import { type ConfigProblem, ConfigError, problemsFromIssues } from './errors.js';
import { ConfigDocumentSchema, type EngineConfig, EngineConfigSchema, SymbolDefaultsSchema } from './schema.js';
import { type Tree, dottedPath, fillMissing, isTree, leaves, setLeaf } from './tree.js';

export { ENV_PREFIX } from './env.js';
export { type ConfigProblem, ConfigError } from './errors.js';
export {
  ConfigDocumentSchema,
  type EngineConfig,
  EngineConfigSchema,
  SYMBOL_PATTERN,
  SymbolDefaultsSchema,
  type SymbolSettings,
  SymbolSettingsSchema,
} from './schema.js';

export type ConfigSource = 'default' | 'file' | 'file:symbolDefaults' | `env:${string}`;

export interface LoadConfigOptions {
  /** Path of a JSON configuration file, read unless `fileText` is given; errors name it. */
  readonly file?: string;
  /** The environment (normally process.env); only `MMRB__` variables are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The file's contents when the caller already has them (tests); `file` then only names them. */
  readonly fileText?: string;
}

export interface LoadedConfig {
  readonly config: EngineConfig;
  /** Where each leaf's effective value came from, by dotted path (`symbols.BTCUSDT.orderQty`), sorted. */
  readonly sources: ReadonlyMap<string, ConfigSource>;
}

/** Loads, merges and validates the configuration; throws a ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const document = readDocument(options);
  const sources = new Map<string, ConfigSource>();
  for (const [path] of leaves(document)) sources.set(dottedPath(path), 'file');
  const env = readEnvOverrides(options.env, ConfigDocumentSchema, document);
  applyEnvOverrides(document, env.overrides, sources);

  const { symbolDefaults, ...settings } = document;
  const defaults = checkSymbolDefaults(symbolDefaults);
  inheritSymbolDefaults(settings, defaults.valid, sources);
  // reportInput: how problemsFromIssues tells a missing value ("required") from a wrong one.
  const parsed = EngineConfigSchema.safeParse(settings, { reportInput: true });

  const problems = [...env.problems, ...defaults.problems, ...(parsed.success ? [] : problemsFromIssues(parsed.error.issues))];
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems.map((problem) => withSource(problem, sources)).sort((a, b) => compareText(a.path, b.path)));
  }
  return { config: parsed.data, sources: effectiveSources(parsed.data, sources) };
}

/** One line per leaf, `path = value  (source)`, sorted by path; values as JSON, so decimals show quoted. */
export function formatConfig(result: LoadedConfig): string {
  return sortedLeaves(result.config)
    .map(([path, value]) => `${path} = ${JSON.stringify(value)}  (${result.sources.get(path) ?? 'default'})`)
    .join('\n');
}

function readDocument({ file, fileText }: LoadConfigOptions): Tree {
  if (file === undefined && fileText === undefined) return {};
  const name = file ?? 'fileText';
  return parseDocument(name, fileText ?? readText(name));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: file, message: `cannot read the configuration file: ${describeError(error)}` }]);
  }
}

function parseDocument(name: string, text: string): Tree {
  let value: unknown;
  try {
    // JSON numbers are binary floats, which is why every fractional setting must be a quoted decimal string.
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{ path: name, message: `not valid JSON: ${describeError(error)}` }]);
  }
  if (!isTree(value)) throw new ConfigError([{ path: name, message: 'expected a JSON object at the top level' }]);
  return value;
}

function applyEnvOverrides(document: Tree, overrides: readonly EnvOverride[], sources: Map<string, ConfigSource>): void {
  for (const override of overrides) {
    setLeaf(document, override.path, override.value);
    sources.set(dottedPath(override.path), `env:${override.variable}`);
  }
}

/**
 * Validates `symbolDefaults` where it was written, so a bad default is reported once, at
 * `symbolDefaults.<key>`, rather than under every symbol; only its valid keys are inherited. The raw
 * values are inherited, not the parsed ones: parsing would add the schema's defaults, which are not the
 * file's and must keep their 'default' source.
 */
function checkSymbolDefaults(raw: unknown): { valid: Tree; problems: ConfigProblem[] } {
  if (raw === undefined) return { valid: {}, problems: [] };
  const parsed = SymbolDefaultsSchema.safeParse(raw, { reportInput: true });
  if (!isTree(raw)) return { valid: {}, problems: parsed.success ? [] : problemsFromIssues(parsed.error.issues, ['symbolDefaults']) };
  if (parsed.success) return { valid: raw, problems: [] };
  const badKeys = new Set(parsed.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : issue.path.slice(0, 1).map(String))));
  return {
    valid: Object.fromEntries(Object.entries(raw).filter(([key]) => !badKeys.has(key))),
    problems: problemsFromIssues(parsed.error.issues, ['symbolDefaults']),
  };
}

function inheritSymbolDefaults(settings: Tree, defaults: Tree, sources: Map<string, ConfigSource>): void {
  const symbols = settings.symbols;
  if (!isTree(symbols)) return;
  for (const [symbol, own] of Object.entries(symbols)) {
    if (!isTree(own)) continue;
    fillMissing(own, defaults, (path) => {
      const from = sources.get(dottedPath(['symbolDefaults', ...path]));
      // A default the environment set keeps naming its variable; one from the file says it was a default.
      sources.set(dottedPath(['symbols', symbol, ...path]), from === undefined || from === 'file' ? 'file:symbolDefaults' : from);
    });
  }
}

/** Every leaf of the parsed configuration: recorded sources, else the schema's default. */
function effectiveSources(config: EngineConfig, recorded: ReadonlyMap<string, ConfigSource>): Map<string, ConfigSource> {
  return new Map(sortedLeaves(config).map(([path]): [string, ConfigSource] => [path, recorded.get(path) ?? 'default']));
}

function sortedLeaves(config: EngineConfig): [string, unknown][] {
  return leaves(config)
    .map(([path, value]): [string, unknown] => [dottedPath(path), value])
    .sort(([a], [b]) => compareText(a, b));
}

/** Names the variable or symbolDefaults that set a bad value; a value written at its own path in the file needs no note. */
function withSource(problem: ConfigProblem, sources: ReadonlyMap<string, ConfigSource>): ConfigProblem {
  const source = sources.get(problem.path);
  return source === undefined || source === 'file' ? problem : { path: problem.path, message: `${problem.message} (from ${source})` };
}

/** Code-unit order, so the listing does not depend on the locale. */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));
