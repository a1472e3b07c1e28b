/**
 * Structured JSON-lines logging that cannot leak credentials. Every line is built from a sanitised copy of
 * the message and fields: values under sensitive key names are replaced, and any occurrence of a current
 * secret value (asked for on every call, so a rotated key is covered at once) is cut out of every string.
 * The engine creates one logger and passes it to whatever needs it; there is no global instance.
 */

import type { LogFields, LogLevel, Logger } from '../../ports/logger.js';

export type { LogFields, LogLevel, Logger } from '../../ports/logger.js';

export interface LoggerOptions {
  readonly serviceName: string;
  /** The secret values to cut out of every line, e.g. the current apiKey and apiSecret. Read per call. */
  readonly secrets: () => Iterable<string>;
  /** Receives each line without its newline; defaults to stdout. */
  readonly sink?: (line: string) => void;
}

export const REDACTED = '[redacted]';

/** Field names whose values are never written. `sign` covers Bybit's X-BAPI-SIGN request signature. */
export const SENSITIVE_KEY = /secret|password|signature|sign$|apiSecret|authorization/i;

// Deep or huge structures (a whole SDK response) are cut off rather than walked without end.
const MAX_DEPTH = 12;
const RESERVED_KEYS = new Set(['level', 'message', 'timestamp', 'serviceName']);

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));

  const write = (level: LogLevel, message: string, fields: LogFields | undefined): void => {
    const secrets = [...new Set(options.secrets())].filter((secret) => secret.length > 0);
    const redact = textRedactor(secrets);
    const timestamp = new Date().toISOString();
    const own: [string, unknown][] = [
      ['level', level],
      ['message', redact(message)],
      ['timestamp', timestamp],
      ['serviceName', options.serviceName],
    ];
    const extra = Object.entries(sanitise(fields ?? {}, redact, 0, new Set()) as Record<string, unknown>).map(
      // A field never overwrites the line's own keys; it is kept beside them instead.
      ([key, value]): [string, unknown] => [RESERVED_KEYS.has(key) ? `_${key}` : key, value],
    );
    const record = Object.fromEntries([...own, ...extra]);
    const line = JSON.stringify(record);
    // Last line of defence: a secret that survived as a number, or only in its JSON-escaped spelling, means
    // the line is withheld rather than written.
    if (secrets.some((secret) => line.includes(secret) || line.includes(JSON.stringify(secret).slice(1, -1)))) {
      sink(JSON.stringify({ level, message: `${REDACTED} log line withheld: it contained a secret value`, timestamp, serviceName: options.serviceName }));
      return;
    }
    sink(line);
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
