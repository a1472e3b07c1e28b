/**
 * Structured JSON-lines logging on Powertools Logger, that cannot leak credentials.
 *
 * Lines have Powertools' shape (`level` in capitals, `message`, `timestamp`, `service`, `sampling_rate`,
 * the persistent keys such as `correlation_id`, then the fields), so the same CloudWatch Logs Insights
 * queries serve the engine and the Lambdas. What reaches Powertools is a sanitised copy of the message
 * and fields: values under sensitive key names are replaced, and any occurrence of a current secret value
 * (asked for on every call, so a rotated key is covered at once) is cut out of every string. A line that
 * still holds a secret in another spelling is withheld. The engine creates one logger and passes it to
 * whatever needs it; there is no global instance.
 */
import { type LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { LogFields, LogLevel, Logger } from '../../ports/logger.js';

export type { LogFields, LogLevel, Logger } from '../../ports/logger.js';

export interface LoggerOptions {
  readonly serviceName: string;
  /** The secret values to cut out of every line, e.g. the current apiKey and apiSecret. Read per call. */
  readonly secrets: () => Iterable<string>;
  /** Receives each line without its newline; defaults to stdout. */
  readonly sink?: (line: string) => void;
  /** Lines below this level are not written (default info). */
  readonly level?: LogLevel;
  /** Written on every line, e.g. the shard and stage. */
  readonly persistentKeys?: Readonly<Record<string, string>>;
  /** `correlation_id` of every line: what ties them to the orders, items and events of the same run. */
  readonly correlationId?: string;
}

export const REDACTED = '[redacted]';

/** Field names whose values are never written. `sign` covers Bybit's X-BAPI-SIGN request signature. */
export const SENSITIVE_KEY = /secret|password|signature|sign$|apiSecret|authorization/i;

// Deep or huge structures (a whole SDK response) are cut off rather than walked without end.
const MAX_DEPTH = 12;
/** Keys Powertools writes itself: a field of the same name is kept beside them, prefixed with `_`. */
const RESERVED_KEYS = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate', 'correlation_id', 'xray_trace_id']);
const POWERTOOLS_LEVEL = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' } as const;

/** Powertools Logger, printing to a sink instead of its own console (tests, the local stack, the status view). */
class SinkLogger extends PowertoolsLogger {
  /** Set right after construction; Powertools may print before (a warning about its settings). */
  sink: ((line: string) => void) | undefined;

  protected override printLog(logLevel: number, log: LogItem): void {
    if (!this.sink) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    this.sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const state: { secrets: string[]; level: LogLevel } = { secrets: [], level: 'info' };
  const powertools = new SinkLogger({
    serviceName: options.serviceName,
    logLevel: POWERTOOLS_LEVEL[options.level ?? 'info'],
    ...(options.persistentKeys && { persistentKeys: { ...options.persistentKeys } }),
  });
  if (options.correlationId !== undefined) powertools.setCorrelationId(options.correlationId);
  powertools.sink = (line) => {
    // Last line of defence: a secret that survived as a number, or only in its JSON-escaped spelling, means
    // the line is withheld rather than written.
    const { secrets } = state;
    if (secrets.some((secret) => line.includes(secret) || line.includes(JSON.stringify(secret).slice(1, -1)))) {
      sink(JSON.stringify({ level: POWERTOOLS_LEVEL[state.level], message: `${REDACTED} log line withheld: it contained a secret value`, timestamp: new Date().toISOString(), service: options.serviceName }));
      return;
    }
    sink(line);
  };

  const write = (level: LogLevel, message: string, fields: LogFields | undefined): void => {
    const secrets = [...new Set(options.secrets())].filter((secret) => secret.length > 0);
    state.secrets = secrets;
    state.level = level;
    const redact = textRedactor(secrets);
    const extra = Object.fromEntries(
      Object.entries(sanitise(fields ?? {}, redact, 0, new Set()) as Record<string, unknown>).map(
        // A field never overwrites the line's own keys; it is kept beside them instead.
        ([key, value]): [string, unknown] => [RESERVED_KEYS.has(key) ? `_${key}` : key, value],
      ),
    );
    powertools[level](redact(message), extra);
  };

  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}

/** Replaces every occurrence of any of `secrets` in a string; longest first, so a secret inside another goes too. */
function textRedactor(secrets: readonly string[]): (text: string) => string {
  if (secrets.length === 0) return (text) => text;
  const escaped = [...secrets].sort((a, b) => b.length - a.length).map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(escaped.join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

/** A JSON-safe copy of `value` with sensitive keys and secret text replaced. */
function sanitise(value: unknown, redact: (text: string) => string, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
      return redact(value);
    case 'number':
      // JSON would write NaN and Infinity as null, losing what happened.
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      // JSON.stringify throws on bigint.
      return redact(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (ancestors.has(value)) return '[circular]';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  // Bytes are never printed: a binary secret would otherwise appear as its numbers.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;

  ancestors.add(value);
  try {
    const inner = (child: unknown) => sanitise(child, redact, depth + 1, ancestors);
    if (value instanceof Error) {
      const error: Record<string, unknown> = { name: inner(value.name), message: inner(value.message), stack: inner(value.stack) };
      // The cause is where an AWS or network error behind a wrapper is; it goes through the same redaction.
      if (value.cause !== undefined) error.cause = inner(value.cause);
      return error;
    }
    if (Array.isArray(value)) return value.map((item) => inner(item) ?? null);
    if (value instanceof Set) return [...value].map((item) => inner(item) ?? null);
    if (value instanceof Map) return sanitiseEntries(value.entries(), inner, redact);
    if ('toJSON' in value && typeof value.toJSON === 'function') {
      // Decimal and similar types say how they serialise; that form is then sanitised like anything else.
      return inner((value.toJSON as () => unknown).call(value));
    }
    return sanitiseEntries(Object.entries(value), inner, redact);
  } finally {
    ancestors.delete(value);
  }
}

function sanitiseEntries(entries: Iterable<[unknown, unknown]>, inner: (child: unknown) => unknown, redact: (text: string) => string): Record<string, unknown> {
  const out: [string, unknown][] = [];
  for (const [rawKey, child] of entries) {
    const key = redact(String(rawKey));
    out.push([key, SENSITIVE_KEY.test(key) ? REDACTED : inner(child)]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain field.
  return Object.fromEntries(out);
}
