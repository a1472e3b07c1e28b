/** The ops CLI: arguments to API calls, SigV4 signing for API Gateway, exit codes (no network: fetch is passed in). */
import { describe, expect, it } from '@jest/globals';
import { type CliIo, DEFAULT_FREEZE_API_URL, isLoopbackUrl, main, parseCommand, regionOfExecuteApiUrl, signRequest } from '../../../src/control/ops-cli.js';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const DATE = new Date('2026-01-02T03:04:05Z');
const AWS_URL = 'https://abc123.execute-api.ap-southeast-1.amazonaws.com/prod';

describe('parseCommand', () => {
  it('freeze: a hard stop of everything unless told symbols or pause minutes', () => {
    expect(parseCommand(['freeze', '--reason', 'going to bed'], {})).toEqual({ url: DEFAULT_FREEZE_API_URL, region: undefined, call: { method: 'POST', path: '/freeze', body: { reason: 'going to bed', mode: 'hard' } } });
    expect(parseCommand(['freeze', '--reason', 'r', '--symbols', 'BTCUSDT, ETHUSDT,', '--pause-minutes', '15'], {})?.call).toEqual({
      method: 'POST',
      path: '/freeze',
      body: { reason: 'r', symbols: ['BTCUSDT', 'ETHUSDT'], mode: 'pause', resumeAfterMinutes: 15 },
    });
  });

  it('unfreeze and status; the URL from --url, else the environment, else the local stack; the region from --region or AWS_REGION', () => {
    expect(parseCommand(['unfreeze', '--reason', 'ok', '--version', '7', '--url', `${AWS_URL}/`, '--region', 'eu-west-1'], {})).toEqual({
      url: AWS_URL,
      region: 'eu-west-1',
      call: { method: 'POST', path: '/unfreeze', body: { reason: 'ok', version: 7 } },
    });
    expect(parseCommand(['status'], { MMRB_FREEZE_API_URL: 'http://127.0.0.1:9999', AWS_REGION: 'us-east-1' })).toEqual({ url: 'http://127.0.0.1:9999', region: 'us-east-1', call: { method: 'GET', path: '/status' } });
    expect(parseCommand(['--help'], {})).toBeUndefined();
    expect(parseCommand(['help'], {})).toBeUndefined();
  });

  it.each([
    [[], /a command is required/],
    [['status', 'freeze'], /one command at a time/],
    [['thaw'], /unknown command "thaw"/],
    [['freeze'], /needs --reason/],
    [['freeze', '--reason', '  '], /needs --reason/],
    [['freeze', '--reason', 'r', '--pause-minutes', '1.5'], /--pause-minutes must be a positive whole number/],
    [['freeze', '--reason', 'r', '--pause-minutes', '0'], /--pause-minutes must be a positive whole number/],
    [['freeze', '--reason', 'r', '--version', '3'], /--version does not apply to freeze/],
    [['unfreeze', '--reason', 'r'], /needs --version/],
    [['unfreeze', '--reason', 'r', '--version', 'three'], /--version must be a positive whole number/],
    [['status', '--reason', 'r'], /--reason does not apply to status/],
    [['status', '--bogus'], /Unknown option '--bogus'/],
    [['status', '--url', 'not a url'], /not a URL/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommand(argv, {})).toThrow(message);
  });
});

describe('where requests go', () => {
  it('loopback URLs are the local stack (unsigned); execute-api host names carry their region', () => {
    expect(isLoopbackUrl('http://127.0.0.1:8787')).toBe(true);
    expect(isLoopbackUrl('http://localhost:8787')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:8787')).toBe(true);
    expect(isLoopbackUrl('http://127.1.2.3')).toBe(true);
    expect(isLoopbackUrl(AWS_URL)).toBe(false);
    expect(isLoopbackUrl('http://127.0.0.1.example.com')).toBe(false);
    expect(regionOfExecuteApiUrl(AWS_URL)).toBe('ap-southeast-1');
    expect(regionOfExecuteApiUrl('https://example.com/prod')).toBeUndefined();
  });
});

describe('signRequest', () => {
  const sign = (body: string | undefined, extra: Partial<Parameters<typeof signRequest>[0]> = {}) =>
    signRequest({ method: 'POST', url: `${AWS_URL}/freeze`, headers: { 'content-type': 'application/json' }, body, region: 'ap-southeast-1', credentials: CREDENTIALS, date: DATE, ...extra });

  it('adds a SigV4 authorization for execute-api in the region, over host, content type and date', async () => {
    const headers = await sign('{"reason":"r"}');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/ap-southeast-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(headers['x-amz-date']).toBe('20260102T030405Z');
    expect(headers.host).toBe('abc123.execute-api.ap-southeast-1.amazonaws.com');
    expect(headers['content-type']).toBe('application/json');
  });

  it('is deterministic for the same request, and changes with the body, the path, the query, the date and the key', async () => {
    const signature = (headers: Record<string, string>) => /Signature=([0-9a-f]+)/.exec(headers.authorization ?? '')?.[1];
    const base = signature(await sign('{"reason":"r"}'));
    expect(signature(await sign('{"reason":"r"}'))).toBe(base);
    const others = [
      await sign('{"reason":"s"}'),
      await sign('{"reason":"r"}', { url: `${AWS_URL}/unfreeze` }),
      await sign('{"reason":"r"}', { url: `${AWS_URL}/freeze?a=1&a=2&b=3` }),
      await sign('{"reason":"r"}', { date: new Date(DATE.getTime() + 1_000) }),
      await sign('{"reason":"r"}', { credentials: { ...CREDENTIALS, secretAccessKey: 'other' } }),
    ].map(signature);
    for (const other of others) expect(other).not.toBe(base);
    expect(new Set(others).size).toBe(others.length);
  });

  it('signs a session token in, and a request without a body', async () => {
    const headers = await sign(undefined, { method: 'GET', url: `${AWS_URL}/status`, headers: {}, credentials: { ...CREDENTIALS, sessionToken: 'token' } });
    expect(headers['x-amz-security-token']).toBe('token');
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token');
  });
});

interface Captured {
  readonly io: CliIo;
  readonly out: string[];
  readonly err: string[];
  readonly requests: { url: string; init: RequestInit | undefined }[];
}

function capture(answer: { status: number; body: string } | Error, env: Record<string, string> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const requests: Captured['requests'] = [];
  const fakeFetch = (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    requests.push({ url: url instanceof Request ? url.url : url.toString(), init });
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(new Response(answer.body, { status: answer.status }));
  };
  return {
    io: { env, stdout: (text) => out.push(text), stderr: (text) => err.push(text), fetch: fakeFetch, credentials: () => Promise.resolve(CREDENTIALS) },
    out,
    err,
    requests,
  };
}

describe('main', () => {
  it('posts to the local stack unsigned, prints the answer indented, exits 0 on 2xx', async () => {
    const run = capture({ status: 200, body: '{"changed":true}' });
    expect(await main(['freeze', '--reason', 'r'], run.io)).toBe(0);
    expect(run.requests).toHaveLength(1);
    expect(run.requests[0]?.url).toBe(`${DEFAULT_FREEZE_API_URL}/freeze`);
    expect(run.requests[0]?.init).toMatchObject({ method: 'POST', body: '{"reason":"r","mode":"hard"}', headers: { 'content-type': 'application/json' } });
    expect(run.requests[0]?.init?.headers).not.toHaveProperty('authorization');
    expect(run.out.join('')).toBe('{\n  "changed": true\n}\n');
  });

  it('signs for an AWS URL, with the region of its host name', async () => {
    const run = capture({ status: 200, body: '{}' });
    expect(await main(['status', '--url', AWS_URL], run.io)).toBe(0);
    expect(run.requests[0]?.url).toBe(`${AWS_URL}/status`);
    expect((run.requests[0]?.init?.headers as Record<string, string>).authorization).toMatch(/\/ap-southeast-1\/execute-api\/aws4_request/);
  });

  it('an AWS URL without a region to sign for is a usage error', async () => {
    const run = capture({ status: 200, body: '{}' });
    expect(await main(['status', '--url', 'https://freeze.example.com'], run.io)).toBe(2);
    expect(run.requests).toEqual([]);
    expect(run.err.join('')).toMatch(/--region/);
  });

  it('exits 1 on a refusal (the answer still printed) or when the API cannot be reached; 2 on a usage error; help exits 0', async () => {
    const refused = capture({ status: 409, body: '{"error":"stale"}' });
    expect(await main(['unfreeze', '--reason', 'r', '--version', '2'], refused.io)).toBe(1);
    expect(refused.out.join('')).toContain('"error": "stale"');
    expect(refused.err.join('')).toContain('HTTP 409');
    const notJson = capture({ status: 502, body: 'Bad Gateway' });
    expect(await main(['status'], notJson.io)).toBe(1);
    expect(notJson.out.join('')).toBe('Bad Gateway\n');
    const down = capture(Object.assign(new TypeError('fetch failed'), { cause: new Error('connect ECONNREFUSED 127.0.0.1:8787') }));
    expect(await main(['status'], down.io)).toBe(1);
    expect(down.err.join('')).toMatch(/fetch failed \(connect ECONNREFUSED/);
    const usage = capture({ status: 200, body: '{}' });
    expect(await main(['freeze'], usage.io)).toBe(2);
    expect(usage.err.join('')).toMatch(/needs --reason[\s\S]*Usage: npm run ops/);
    const help = capture({ status: 200, body: '{}' });
    expect(await main(['--help'], help.io)).toBe(0);
    expect(help.out.join('')).toMatch(/http:\/\/127\.0\.0\.1:8787,\s+where the local stack/);
  });
});
