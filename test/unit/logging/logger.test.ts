import { describe, expect, it } from '@jest/globals';
import { type Logger, REDACTED, createLogger } from '../../../src/adapters/logging/logger.js';

const API_KEY = 'XyZ12abcDEF34ghiJK';
const API_SECRET = 'sEcr3tV4lueN0b0dyM4yS33xxQQ99zz';

function capture(secrets: readonly string[] = [API_KEY, API_SECRET]): { logger: Logger; lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({ serviceName: 'engine', secrets: () => secrets, sink: (line) => lines.push(line), level: 'debug' });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function only(records: Record<string, unknown>[]): Record<string, unknown> {
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('lines', () => {
  it('writes one JSON line per call in Powertools\' shape: level, message, ISO timestamp, service, then the fields', () => {
    const { logger, lines, records } = capture();
    logger.debug('d');
    logger.info('quote placed', { symbol: 'BTCUSDT', levels: 2, nested: { ok: true } });
    logger.warn('w');
    logger.error('e');
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
    const [debug, info, warn, error] = records();
    expect(debug?.level).toBe('DEBUG');
    expect(warn?.level).toBe('WARN');
    expect(error?.level).toBe('ERROR');
    expect(info).toEqual({
      level: 'INFO',
      message: 'quote placed',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
      service: 'engine',
      sampling_rate: 0,
      symbol: 'BTCUSDT',
      levels: 2,
      nested: { ok: true },
    });
  });

  it('leaves out lines below its level, and writes its persistent keys and correlation id on every line', () => {
    const lines: string[] = [];
    const logger = createLogger({ serviceName: 'engine', secrets: () => [], sink: (line) => lines.push(line), level: 'warn', persistentKeys: { shard: 's1' }, correlationId: 's1-abc' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([expect.objectContaining({ level: 'WARN', message: 'w', shard: 's1', correlation_id: 's1-abc' })]);
  });

  it('never lets a field overwrite the line’s own keys', () => {
    const { logger, records } = capture();
    logger.info('real', { level: 'fake', message: 'fake', service: 'fake', correlation_id: 'fake' });
    expect(only(records())).toMatchObject({ level: 'INFO', message: 'real', service: 'engine', _level: 'fake', _message: 'fake', _service: 'fake', _correlation_id: 'fake' });
  });

  it('writes values JSON cannot: bigint, NaN, dates, maps, sets, bytes, cycles, toJSON, undefined', () => {
    const { logger, records } = capture();
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    logger.info('odd values', {
      big: 12n,
      nan: Number.NaN,
      at: new Date(0),
      bad: new Date(Number.NaN),
      map: new Map([['a', 1]]),
      set: new Set(['x']),
      bytes: new Uint8Array([1, 2, 3]),
      cycle,
      decimal: { toJSON: () => '1.50' },
      gone: undefined,
      fn: () => 1,
      list: [undefined, 1],
      ['__proto__']: 'plain field',
    });
    const record = only(records());
    expect(record).toMatchObject({
      big: '12',
      nan: 'NaN',
      at: '1970-01-01T00:00:00.000Z',
      bad: 'Invalid Date',
      map: { a: 1 },
      set: ['x'],
      bytes: '[binary 3 bytes]',
      cycle: { name: 'loop', self: '[circular]' },
      decimal: '1.50',
      list: [null, 1],
    });
    expect(record).not.toHaveProperty('gone');
    expect(record).not.toHaveProperty('fn');
  });

  it('cuts off structures deeper than it walks', () => {
    const { logger, lines } = capture();
    let deep: Record<string, unknown> = { bottom: true };
    for (let index = 0; index < 30; index += 1) deep = { deeper: deep };
    logger.info('deep', { deep });
    expect(lines[0]).toContain('[truncated]');
  });

  it('writes to stdout when no sink is given', () => {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => writes.push(chunk) > 0);
    try {
      createLogger({ serviceName: 'engine', secrets: () => [] }).info('to stdout');
    } finally {
      process.stdout.write = original;
    }
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^\{.*"message":"to stdout".*\}\n$/);
  });
});

describe('redaction by key name', () => {
  it('replaces sensitive keys at any depth, whatever their value, and leaves other keys alone', () => {
    const { logger, records } = capture([]);
    logger.info('request', {
      apiSecret: 'a',
      password: { nested: 'b' },
      outer: { deeper: [{ Authorization: 'Bearer c', signature: 'd', X_Client_Secret: 'e', 'X-BAPI-SIGN': 'f', symbol: 'BTCUSDT' }] },
    });
    expect(only(records())).toMatchObject({
      apiSecret: REDACTED,
      password: REDACTED,
      outer: { deeper: [{ Authorization: REDACTED, signature: REDACTED, X_Client_Secret: REDACTED, 'X-BAPI-SIGN': REDACTED, symbol: 'BTCUSDT' }] },
    });
  });
});

describe('redaction of secret values', () => {
  it('cuts the secrets out of the message, nested strings, arrays and keys', () => {
    const { logger, lines, records } = capture();
    logger.warn(`signing with ${API_KEY}`, {
      request: { url: `https://api.bybit.com/v5/order?api_key=${API_KEY}`, headers: [`X-BAPI-API-KEY: ${API_KEY}`] },
      notes: [`prefix${API_SECRET}suffix`, { text: API_SECRET }],
      [API_KEY]: 'keyed by the key',
    });
    const record = only(records());
    expect(record.message).toBe(`signing with ${REDACTED}`);
    expect(record).toMatchObject({
      request: { url: `https://api.bybit.com/v5/order?api_key=${REDACTED}`, headers: [`X-BAPI-API-KEY: ${REDACTED}`] },
      notes: [`prefix${REDACTED}suffix`, { text: REDACTED }],
      [REDACTED]: 'keyed by the key',
    });
    expect(lines.join('\n')).not.toContain(API_KEY);
    expect(lines.join('\n')).not.toContain(API_SECRET);
  });

  it('serialises errors as name, message and stack, with their cause, and redacts all of them', () => {
    const { logger, lines, records } = capture();
    const cause = new Error(`socket closed for ${API_KEY}`);
    const error = new TypeError(`bad signature from secret ${API_SECRET}`, { cause });
    logger.error('order failed', { error });
    const logged = only(records()).error as Record<string, unknown>;
    expect(logged.name).toBe('TypeError');
    expect(logged.message).toBe(`bad signature from secret ${REDACTED}`);
    expect(logged.stack).toEqual(expect.stringContaining(`TypeError: bad signature from secret ${REDACTED}`));
    expect(logged.stack).toEqual(expect.stringContaining('logger.test.ts'));
    expect(logged.cause).toMatchObject({ name: 'Error', message: `socket closed for ${REDACTED}` });
    expect(lines[0]).not.toContain(API_KEY);
    expect(lines[0]).not.toContain(API_SECRET);
  });

  it('redacts a bybit-api error object that carries the request options', () => {
    const { logger, lines, records } = capture(['K3yValue', 'S3cretValue']);
    const bybitError = { code: 403, message: 'Forbidden', body: 'x', requestOptions: { key: 'K3yValue', secret: 'S3cretValue', baseUrl: 'https://api.bybit.com' } };
    logger.error('REST call failed', { error: bybitError });
    expect(only(records()).error).toEqual({
      code: 403,
      message: 'Forbidden',
      body: 'x',
      requestOptions: { key: REDACTED, secret: REDACTED, baseUrl: 'https://api.bybit.com' },
    });
    expect(lines[0]).not.toContain('K3yValue');
    expect(lines[0]).not.toContain('S3cretValue');
  });

  it('asks for the secrets on every call, so a rotated key is redacted from the next line on', () => {
    let current = ['oldKey111'];
    const lines: string[] = [];
    const logger = createLogger({ serviceName: 'engine', secrets: () => current, sink: (line) => lines.push(line) });
    logger.info('using oldKey111');
    current = ['newKey222'];
    logger.info('using newKey222');
    expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual([`using ${REDACTED}`, `using ${REDACTED}`]);
  });

  it('redacts the longer of two overlapping secrets whole, and treats regex characters literally', () => {
    const { logger, records } = capture(['abc', 'abcdef', 'a.c+']);
    logger.info('abcdef abc a.c+ axc');
    expect(only(records()).message).toBe(`${REDACTED} ${REDACTED} ${REDACTED} axc`);
  });

  it('ignores empty secrets instead of redacting everything', () => {
    const { logger, records } = capture(['']);
    logger.info('nothing to hide');
    expect(only(records()).message).toBe('nothing to hide');
  });

  it('withholds a line whose secret survived in a form strings do not cover, such as a number', () => {
    const { logger, lines, records } = capture(['123456789']);
    logger.info('numbers', { accountNumber: 123456789 });
    logger.info('fine', { accountNumber: 42 });
    expect(records().map((record) => record.message)).toEqual([`${REDACTED} log line withheld: it contained a secret value`, 'fine']);
    expect(lines.join('\n')).not.toContain('123456789');
  });
});

describe('a realistic sequence', () => {
  it('never writes the apiKey or apiSecret, whatever is logged around them', () => {
    const lines: string[] = [];
    const credentials = { apiKey: API_KEY, apiSecret: API_SECRET, keyId: '18234567', versionId: 'v-1' };
    const logger = createLogger({ serviceName: 'engine', secrets: () => [credentials.apiKey, credentials.apiSecret], sink: (line) => lines.push(line), level: 'debug' });

    logger.info('credentials loaded', { keyId: credentials.keyId, versionId: credentials.versionId, reason: 'startup' });
    // A careless call that passes the whole credentials object.
    logger.debug('client config', { credentials, restOptions: { key: credentials.apiKey, secret: credentials.apiSecret, testnet: false } });
    const authError = Object.assign(new Error(`API key is invalid. key=${API_KEY}`), { retCode: 10003, request: { apiKey: API_KEY } });
    logger.error('order rejected: authentication', { retCode: 10003, error: authError, raw: { retCode: 10003, retMsg: `API key ${API_KEY} is invalid.` } });
    logger.warn(`refreshing credentials after auth error for ${API_KEY}`, { keyId: credentials.keyId });
    logger.error('websocket auth failed', {
      error: { code: 403, message: 'Forbidden', body: `{"retMsg":"invalid key ${API_KEY}"}`, requestOptions: { key: API_KEY, secret: API_SECRET, baseUrl: 'https://api.bybit.com' } },
    });

    const output = lines.join('\n');
    expect(lines).toHaveLength(5);
    expect(output).not.toContain(API_KEY);
    expect(output).not.toContain(API_SECRET);
    expect(output).toContain('18234567');
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });
});
