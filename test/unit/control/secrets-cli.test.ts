/** The secrets CLI: arguments to targets, each command's calls and output, exit codes, and no secret echoed. */
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_ROTATION_URL, type RotationControl, type SecretsCliIo, type Target, main, parseCommand } from '../../../src/control/secrets-cli.js';

describe('parseCommand', () => {
  it('targets the stage on AWS, or the local stack with --local or MMRB_ROTATION_URL', () => {
    expect(parseCommand(['status', '--stage', 'prod'], { AWS_REGION: 'ap-southeast-1' })).toEqual({ command: 'status', target: { kind: 'aws', stage: 'prod', region: 'ap-southeast-1' }, waitSeconds: undefined, now: false });
    expect(parseCommand(['rotate', '--stage', 'dev', '--region', 'eu-west-1', '--wait', '300'], {})).toMatchObject({ command: 'rotate', target: { kind: 'aws', stage: 'dev', region: 'eu-west-1' }, waitSeconds: 300 });
    expect(parseCommand(['revoke', '--local', '--now'], {})).toMatchObject({ command: 'revoke', target: { kind: 'local', url: DEFAULT_ROTATION_URL }, now: true });
    expect(parseCommand(['put-key'], { MMRB_ROTATION_URL: 'http://127.0.0.1:9000/' })).toMatchObject({ target: { kind: 'local', url: 'http://127.0.0.1:9000' } });
    // A stage wins over the environment's local URL.
    expect(parseCommand(['status', '--stage', 'prod'], { MMRB_ROTATION_URL: 'http://127.0.0.1:9000' })).toMatchObject({ target: { kind: 'aws', stage: 'prod' } });
    expect(parseCommand(['--help'], {})).toBeUndefined();
    expect(parseCommand(['help'], {})).toBeUndefined();
  });

  it.each([
    [[], /a command is required/],
    [['spin', '--local'], /unknown command "spin"/],
    [['status'], /name the stage \(--stage dev\) or use --local/],
    [['status', 'now', '--local'], /unexpected argument\(s\) now/],
    [['status', '--stage', 'Prod'], /--stage must match/],
    [['status', '--stage', 'prod', '--local'], /exclude each other/],
    [['status', '--local', '--wait', '5'], /--wait goes with rotate/],
    [['rotate', '--local', '--now'], /--now goes with revoke/],
    [['rotate', '--local', '--wait', '0'], /whole seconds, 1 to 3600/],
    [['rotate', '--local', '--wait', 'soon'], /whole seconds/],
    [['status', '--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommand(argv, {})).toThrow(message);
  });
});

interface Run {
  code: number;
  out: string;
  err: string;
  calls: unknown[];
  targets: Target[];
}

async function run(argv: string[], control: Partial<RotationControl>, stdin = ''): Promise<Run> {
  const result: Run = { code: -1, out: '', err: '', calls: [], targets: [] };
  const io: SecretsCliIo = {
    env: {},
    stdout: (text) => (result.out += text),
    stderr: (text) => (result.err += text),
    stdin: () => Promise.resolve(stdin),
    sleep: () => Promise.resolve(),
    control: (target) => {
      result.targets.push(target);
      return {
        invoke: async (action) => {
          result.calls.push(action);
          if (!control.invoke) throw new Error('no invoke');
          return control.invoke(action);
        },
        rotate: async () => {
          result.calls.push('rotate');
          if (!control.rotate) throw new Error('no rotate');
          return control.rotate();
        },
        putCurrent: async (value) => {
          result.calls.push({ putCurrent: value });
          if (!control.putCurrent) throw new Error('no putCurrent');
          return control.putCurrent(value);
        },
      };
    },
  };
  result.code = await main(argv, io);
  return result;
}

const statusWith = (current: string, pending = false) => ({
  versions: [{ versionId: 'v-current', stages: ['AWSCURRENT'], keyId: current }, ...(pending ? [{ versionId: 'v-next', stages: ['AWSPENDING'] }] : [])],
});

describe('main', () => {
  it('prints the usage on --help and on a usage error (exit 2)', async () => {
    expect(await run(['--help'], {})).toMatchObject({ code: 0, out: expect.stringContaining('Usage: npm run secrets') });
    const refused = await run(['rotate'], {});
    expect(refused).toMatchObject({ code: 2, err: expect.stringMatching(/error: name the stage[\s\S]*Usage/) });
    expect(refused.targets).toEqual([]);
  });

  it('status invokes the function with the status action and prints its answer', async () => {
    const result = await run(['status', '--stage', 'prod'], { invoke: () => Promise.resolve({ secret: 'mmrb/prod/trading-key' }) });
    expect(result).toMatchObject({ code: 0, calls: [{ action: 'status' }], targets: [{ kind: 'aws', stage: 'prod' }] });
    expect(JSON.parse(result.out)).toEqual({ secret: 'mmrb/prod/trading-key' });
  });

  it('revoke waits for the engines unless --now, and says what it waits for', async () => {
    const kept = await run(['revoke', '--local'], { invoke: () => Promise.resolve({ revoked: [], kept: ['11'], waitingFor: ['shard a (on 11)'] }) });
    expect(kept).toMatchObject({ code: 0, calls: [{ action: 'revokeSuperseded', force: false }] });
    expect(kept.err).toMatch(/kept until shard a \(on 11\); run again later, or with --now/);
    const forced = await run(['revoke', '--local', '--now'], { invoke: () => Promise.resolve({ revoked: ['11'], kept: [], waitingFor: [] }) });
    expect(forced).toMatchObject({ code: 0, err: '', calls: [{ action: 'revokeSuperseded', force: true }] });
  });

  it('rotate starts a rotation and, with --wait, polls until the current key changed and nothing is pending', async () => {
    const answers = [statusWith('11'), statusWith('11', true), statusWith('12', true), statusWith('12')];
    const result = await run(['rotate', '--local', '--wait', '60'], { invoke: () => Promise.resolve(answers.shift()), rotate: () => Promise.resolve({ started: true }) });
    expect(result.code).toBe(0);
    expect(result.calls).toEqual([{ action: 'status' }, 'rotate', { action: 'status' }, { action: 'status' }, { action: 'status' }]);
    expect(result.out).toContain('"currentKeyId": "12"');
    expect(result.out).toContain('"previousKeyId": "11"');
  });

  it('rotate --wait gives up at its deadline with what it saw (exit 1)', async () => {
    const result = await run(['rotate', '--local', '--wait', '1'], { invoke: () => new Promise((resolve) => setTimeout(() => resolve(statusWith('11', true)), 600)), rotate: () => Promise.resolve({ started: true }) });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/did not finish within 1 s \(current key 11, a rotation is under way\)/);
  });

  it('a failed call is exit 1 with its message', async () => {
    const result = await run(['rotate', '--stage', 'dev'], { invoke: () => Promise.resolve(statusWith('11')), rotate: () => Promise.reject(new Error('InvalidRequestException: A previous rotation isn\'t complete')) });
    expect(result).toMatchObject({ code: 1, err: expect.stringContaining('rotate failed: InvalidRequestException: A previous rotation') });
  });

  it('put-key stores a valid key from stdin and echoes only the version id; refuses anything else without echoing it', async () => {
    const key = { apiKey: 'NEWKEY0001', apiSecret: 'super-secret-value', keyId: '42' };
    const stored = await run(['put-key', '--local'], { putCurrent: () => Promise.resolve('v-42') }, `${JSON.stringify(key)}\n`);
    expect(stored.code).toBe(0);
    expect(stored.calls).toEqual([{ putCurrent: JSON.stringify(key) }]);
    expect(stored.out).toContain('"versionId": "v-42"');
    expect(stored.out + stored.err).not.toContain('super-secret-value');

    const notJson = await run(['put-key', '--local'], {}, 'super-secret-value');
    expect(notJson).toMatchObject({ code: 1, calls: [], err: expect.stringContaining('stdin is not JSON') });
    const wrong = await run(['put-key', '--local'], {}, JSON.stringify({ apiKey: 'NEWKEY0001', secret: 'super-secret-value' }));
    expect(wrong).toMatchObject({ code: 1, calls: [] });
    expect(wrong.err).toMatch(/not a Bybit key: .*apiSecret.*unknown field\(s\) secret|not a Bybit key: .*unknown field\(s\) secret/);
    expect(notJson.err + wrong.err).not.toContain('super-secret-value');
  });
});
