/**
 * The operator's command line for the freeze API (docs/FREEZE_API.md), `npm run ops -- <command>`:
 *
 *   freeze   --reason "..." [--symbols A,B] [--pause-minutes N]
 *   unfreeze --reason "..." --version N
 *   status
 *
 * It talks to the local stack's loopback server (http://127.0.0.1:8787) unless told another URL (--url or
 * MMRB_FREEZE_API_URL). A URL that is not loopback is the API Gateway endpoint on AWS: requests are signed
 * with SigV4 (service execute-api) with the credentials of the default provider chain (environment,
 * profile, SSO, instance role). Prints the answer as indented JSON; exit code 0 on 2xx, 1 otherwise, 2 on a
 * usage error.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { UsageError, commandOrExit, parseOptions } from './cli.js';

export const DEFAULT_FREEZE_API_URL = 'http://127.0.0.1:8787';
export const FREEZE_API_URL_ENV = 'MMRB_FREEZE_API_URL';

export const USAGE = `Usage: npm run ops -- <command> [options]

Commands:
  status                                        the control state, recent changes, engines, positions
  freeze   --reason TEXT [--symbols A,B] [--pause-minutes N]
                                                stop trading: a hard stop (cancels at the venue, lifted
                                                only by unfreeze) unless --pause-minutes (1..1440) is given;
                                                every symbol unless --symbols
  unfreeze --reason TEXT --version N            lift the freeze of version N (the "version" of status)

Options:
  --url URL      the freeze API (default: $${FREEZE_API_URL_ENV}, else ${DEFAULT_FREEZE_API_URL},
                 where the local stack, npm start, serves it). An AWS execute-api URL is signed with
                 SigV4 using your AWS credentials (environment, profile, SSO).
  --region NAME  region to sign for (default: $AWS_REGION, else taken from the execute-api host name)
  --help         this text

Exit code: 0 when the API answered 2xx, 1 when it answered otherwise or could not be reached, 2 on a
usage error.`;

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** By default the global fetch. */
  readonly fetch?: typeof fetch;
  /** By default the AWS SDK's node provider chain (asked only for non-loopback URLs). */
  readonly credentials?: () => Promise<Credentials>;
}

export interface ApiCall {
  readonly method: 'GET' | 'POST';
  /** The route, e.g. /freeze. */
  readonly path: string;
  readonly body?: Record<string, unknown>;
}

const positiveInteger = (value: string, option: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${option} must be a positive whole number, got ${JSON.stringify(value)}`);
  return Number(value);
};

export interface ParsedCommand {
  readonly call: ApiCall;
  readonly url: string;
  readonly region: string | undefined;
}

/** The API call an argument list asks for; a UsageError names what is wrong. `undefined`: help was asked for. */
export function parseCommand(argv: readonly string[], env: CliIo['env']): ParsedCommand | undefined {
  const { values, positionals } = parseOptions(argv, {
    reason: { type: 'string' },
    symbols: { type: 'string' },
    'pause-minutes': { type: 'string' },
    version: { type: 'string' },
    url: { type: 'string' },
    region: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true || positionals[0] === 'help') return undefined;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'a command is required: status, freeze or unfreeze' : `one command at a time, got ${positionals.join(' ')}`);
  const command = positionals[0];
  const allowed: Record<string, readonly string[]> = { status: [], freeze: ['reason', 'symbols', 'pause-minutes'], unfreeze: ['reason', 'version'] };
  const own = command === undefined ? undefined : allowed[command];
  if (!own) throw new UsageError(`unknown command ${JSON.stringify(command)}: status, freeze or unfreeze`);
  for (const option of ['reason', 'symbols', 'pause-minutes', 'version'] as const) {
    if (values[option] !== undefined && !own.includes(option)) throw new UsageError(`--${option} does not apply to ${command}`);
  }
  const url = (values.url ?? env[FREEZE_API_URL_ENV] ?? DEFAULT_FREEZE_API_URL).replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(url)}`);
  }
  const region = values.region ?? env.AWS_REGION;
  const base = { url, region };
  if (command === 'status') return { ...base, call: { method: 'GET', path: '/status' } };
  const reason = values.reason;
  if (reason === undefined || reason.trim() === '') throw new UsageError(`${command} needs --reason "why"`);
  if (command === 'unfreeze') {
    if (values.version === undefined) throw new UsageError('unfreeze needs --version N (the version GET status shows)');
    return { ...base, call: { method: 'POST', path: '/unfreeze', body: { reason, version: positiveInteger(values.version, '--version') } } };
  }
  const symbols = values.symbols === undefined ? undefined : values.symbols.split(',').map((symbol) => symbol.trim()).filter((symbol) => symbol !== '');
  const pause = values['pause-minutes'] === undefined ? undefined : positiveInteger(values['pause-minutes'], '--pause-minutes');
  return {
    ...base,
    call: {
      method: 'POST',
      path: '/freeze',
      body: { reason, ...(symbols && symbols.length > 0 && { symbols }), ...(pause === undefined ? { mode: 'hard' } : { mode: 'pause', resumeAfterMinutes: pause }) },
    },
  };
}

/** Whether the URL points at this machine (the local stack): such requests are not signed. */
export function isLoopbackUrl(url: string): boolean {
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** The region of an execute-api host name, `<id>.execute-api.<region>.amazonaws.com`. */
export function regionOfExecuteApiUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
}

export interface SignInput {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  readonly region: string;
  readonly credentials: Credentials;
  /** By default now. */
  readonly date?: Date;
}

/** The request's headers with SigV4 added for API Gateway (service execute-api): authorization, x-amz-date, host. */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const url = new URL(input.url);
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  const signer = new SignatureV4({ service: 'execute-api', region: input.region, credentials: input.credentials, sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: input.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port !== '' && { port: Number(url.port) }),
      path: url.pathname,
      query,
      headers: { ...input.headers, host: url.host },
      ...(input.body !== undefined && { body: input.body }),
    },
    input.date ? { signingDate: input.date } : {},
  );
  return { ...signed.headers };
}

async function defaultCredentials(): Promise<Credentials> {
  return fromNodeProviderChain()();
}

/** Runs one command; resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const outcome = commandOrExit(() => parseCommand(argv, io.env), USAGE, io);
  if ('exitCode' in outcome) return outcome.exitCode;
  const command = outcome.command;
  const { call, url } = command;
  const target = `${url}${call.path}`;
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  let headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) };
  try {
    if (!isLoopbackUrl(url)) {
      const region = command.region ?? regionOfExecuteApiUrl(url);
      if (region === undefined) {
        io.stderr(`error: no region to sign for: pass --region or set AWS_REGION\n`);
        return 2;
      }
      headers = await signRequest({ method: call.method, url: target, headers, body, region, credentials: await (io.credentials ?? defaultCredentials)() });
    }
    const response = await (io.fetch ?? fetch)(target, { method: call.method, headers, ...(body !== undefined && { body }) });
    const text = await response.text();
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // Not JSON (a proxy's error page): shown as it came.
    }
    io.stdout(`${shown}\n`);
    if (!response.ok) io.stderr(`${call.method} ${target}: HTTP ${response.status}\n`);
    return response.ok ? 0 : 1;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    io.stderr(`error: ${call.method} ${target} failed: ${error instanceof Error ? error.message : String(error)}${cause}\n`);
    return 1;
  }
}
