/**
 * The operator's command line for the trading key (docs/runbooks/SECRET_ROTATION.md), `npm run secrets --
 * <command>`:
 *
 *   status                 the secret's versions and their key ids, each engine's key, the sub-account's keys
 *   rotate [--wait S]      start a rotation now (Secrets Manager runs the rotation Lambda); --wait polls
 *                          until the new key is current, at most S seconds
 *   revoke [--now]         revoke the keys rotations replaced: once every engine uses the current key, or
 *                          at once with --now (a compromised key)
 *   put-key                break-glass: store the key read from stdin as {"apiKey","apiSecret","keyId"} as
 *                          AWSCURRENT (when rotation itself cannot run)
 *
 * On AWS (--stage NAME) it invokes the stage's rotation Lambda and calls Secrets Manager with the
 * credentials of the default provider chain. With --local (or MMRB_ROTATION_URL) it talks to the local
 * stack's rotation server (npm start), which plays Secrets Manager's side on the emulator. Never prints a
 * secret: the Lambda answers with key ids only, and put-key echoes only the version id.
 */
import { UsageError, commandOrExit, parseOptions } from './cli.js';
import { BybitCredentialsSchema } from '../adapters/secrets/bybit-credentials.js';

export const DEFAULT_ROTATION_URL = 'http://127.0.0.1:8788';
export const ROTATION_URL_ENV = 'MMRB_ROTATION_URL';

export const USAGE = `Usage: npm run secrets -- <command> (--stage NAME | --local) [options]

Commands:
  status              the trading secret's versions (key ids), each engine's key, the sub-account's keys
  rotate [--wait S]   rotate the trading key now; --wait S: poll until the new key is current (at most S s)
  revoke [--now]      revoke the keys rotations replaced once every engine uses the current key;
                      --now: at once, whatever the engines use (a compromised key)
  put-key             break-glass: read {"apiKey","apiSecret","keyId"} from stdin and store it as the
                      current trading key (a key created by hand at Bybit)

Options:
  --stage NAME   the deployed stage (dev, prod): its Lambda mmrb-NAME-secret-rotation and secret
                 mmrb/NAME/trading-key, with your AWS credentials (environment, profile, SSO)
  --region NAME  AWS region (default: $AWS_REGION)
  --local        the local stack (npm start) at $${ROTATION_URL_ENV}, else ${DEFAULT_ROTATION_URL}
  --help         this text

Exit code: 0 on success, 1 when the operation failed, 2 on a usage error.`;

/** What the commands need from wherever the rotation runs. */
export interface RotationControl {
  /** Invokes the rotation function with an operator action; its answer, or an error with its message. */
  invoke(action: Readonly<Record<string, unknown>>): Promise<unknown>;
  /** Starts a rotation (RotateSecret); what Secrets Manager or the local stack answered. */
  rotate(): Promise<unknown>;
  /** Stores a value as AWSCURRENT; the new version's id. */
  putCurrent(value: string): Promise<string>;
}

export interface SecretsCliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
  /** Builds the control for the parsed target (AWS by default; tests pass their own). */
  readonly control: (target: Target) => RotationControl;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type Target = { readonly kind: 'aws'; readonly stage: string; readonly region: string | undefined } | { readonly kind: 'local'; readonly url: string };

interface ParsedCommand {
  readonly command: 'status' | 'rotate' | 'revoke' | 'put-key';
  readonly target: Target;
  readonly waitSeconds: number | undefined;
  readonly now: boolean;
}

const STAGE = /^[a-z][a-z0-9-]{0,19}$/;

export function parseCommand(argv: readonly string[], env: SecretsCliIo['env']): ParsedCommand | undefined {
  const { values, positionals } = parseOptions(argv, { stage: { type: 'string' }, region: { type: 'string' }, local: { type: 'boolean' }, wait: { type: 'string' }, now: { type: 'boolean' }, help: { type: 'boolean' } });
  const [command, ...extra] = positionals;
  if (values.help === true || command === 'help') return undefined;
  if (command === undefined) throw new UsageError('a command is required');
  if (command !== 'status' && command !== 'rotate' && command !== 'revoke' && command !== 'put-key') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument(s) ${extra.join(' ')}`);
  if (values.wait !== undefined && command !== 'rotate') throw new UsageError('--wait goes with rotate');
  if (values.now !== undefined && command !== 'revoke') throw new UsageError('--now goes with revoke');
  let waitSeconds: number | undefined;
  if (values.wait !== undefined) {
    waitSeconds = Number(values.wait);
    if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 3600) throw new UsageError('--wait takes whole seconds, 1 to 3600');
  }
  const localUrl = env[ROTATION_URL_ENV];
  let target: Target;
  if (values.local === true || (values.stage === undefined && localUrl !== undefined && localUrl !== '')) {
    if (values.stage !== undefined) throw new UsageError('--stage and --local exclude each other');
    target = { kind: 'local', url: localUrl !== undefined && localUrl !== '' ? localUrl.replace(/\/+$/, '') : DEFAULT_ROTATION_URL };
  } else {
    if (values.stage === undefined) throw new UsageError('name the stage (--stage dev) or use --local');
    if (!STAGE.test(values.stage)) throw new UsageError(`--stage must match ${STAGE.source}`);
    target = { kind: 'aws', stage: values.stage, region: values.region ?? env.AWS_REGION };
  }
  return { command, target, waitSeconds, now: values.now === true };
}

interface VersionRow {
  readonly stages: readonly string[];
  readonly keyId?: string;
}

function currentKeyId(status: unknown): string | undefined {
  const versions = (status as { versions?: readonly VersionRow[] } | undefined)?.versions ?? [];
  return versions.find((version) => version.stages.includes('AWSCURRENT'))?.keyId;
}

function rotationUnderWay(status: unknown): boolean {
  const versions = (status as { versions?: readonly VersionRow[] } | undefined)?.versions ?? [];
  return versions.some((version) => version.stages.includes('AWSPENDING') && !version.stages.includes('AWSCURRENT'));
}

const show = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export async function main(argv: readonly string[], io: SecretsCliIo): Promise<number> {
  const outcome = commandOrExit(() => parseCommand(argv, io.env), USAGE, io);
  if ('exitCode' in outcome) return outcome.exitCode;
  const parsed = outcome.command;
  const control = io.control(parsed.target);
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  try {
    switch (parsed.command) {
      case 'status':
        io.stdout(show(await control.invoke({ action: 'status' })));
        return 0;
      case 'revoke': {
        const report = await control.invoke({ action: 'revokeSuperseded', force: parsed.now });
        io.stdout(show(report));
        const waitingFor = (report as { waitingFor?: readonly string[] }).waitingFor ?? [];
        if (waitingFor.length > 0) io.stderr(`kept until ${waitingFor.join(', ')}; run again later, or with --now to revoke at once\n`);
        return 0;
      }
      case 'put-key': {
        const value = await readKey(io);
        if (value === undefined) return 1;
        const versionId = await control.putCurrent(value);
        io.stdout(show({ stored: 'AWSCURRENT', versionId, note: 'engines switch at their next credentials refresh; revoke the old key at Bybit once status shows every engine on the new key id' }));
        return 0;
      }
      case 'rotate': {
        const before = currentKeyId(await control.invoke({ action: 'status' }));
        const started = await control.rotate();
        io.stdout(show(started));
        if (parsed.waitSeconds === undefined) return 0;
        const deadline = Date.now() + parsed.waitSeconds * 1000;
        for (;;) {
          const status = await control.invoke({ action: 'status' });
          const now = currentKeyId(status);
          if (now !== undefined && now !== before && !rotationUnderWay(status)) {
            io.stdout(show({ rotated: true, previousKeyId: before, currentKeyId: now }));
            return 0;
          }
          if (Date.now() >= deadline) {
            io.stderr(`the rotation did not finish within ${parsed.waitSeconds.toString()} s (current key ${now ?? 'unknown'}${rotationUnderWay(status) ? ', a rotation is under way' : ''}); see status and the rotation Lambda's logs\n`);
            return 1;
          }
          await sleep(5_000);
        }
      }
    }
  } catch (error) {
    io.stderr(`error: ${parsed.command} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function readKey(io: SecretsCliIo): Promise<string | undefined> {
  const text = (await io.stdin()).trim();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    io.stderr('error: stdin is not JSON (expected {"apiKey": ..., "apiSecret": ..., "keyId": ...})\n');
    return undefined;
  }
  const parsed = BybitCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    // Field names only: the input is the secret.
    io.stderr(`error: not a Bybit key: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message}`).join('; ')}\n`);
    return undefined;
  }
  return JSON.stringify(parsed.data);
}
