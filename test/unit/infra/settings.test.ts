/**
 * The CDK app's settings: a bad context or an engine configuration the infrastructure cannot run is
 * refused at synth with every problem named, before anything reaches AWS.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPOSITORY_ROOT } from '../../../lib/lambda-bundling.js';
import { SettingsError, StageSettingsSchema, loadShards, parseAppSettings } from '../../../lib/settings.js';
import { cdkJsonContext } from '../../../lib/synth.js';

const deployAccess = { repository: 'example-org/mm-rebate-bot', environments: ['dev', 'prod'] };
const stages = { dev: { shards: { a: 'config/dev/a.json' } }, prod: { shards: { a: 'config/prod/a.json' }, production: true } };

describe('app settings', () => {
  it('reads cdk.json\'s settings, with defaults: ap-southeast-1, one egress address, 30-day logs', () => {
    const settings = parseAppSettings(cdkJsonContext(join(REPOSITORY_ROOT, 'cdk.json')).mmrb);
    expect(Object.keys(settings.stages).sort()).toEqual(['dev', 'prod']);
    expect(StageSettingsSchema.parse({ shards: { a: 'x.json' } })).toMatchObject({ region: 'ap-southeast-1', egressIps: 1, logRetentionDays: 30, production: false, engine: { cpu: 1024, memoryMiB: 2048 } });
    // From the command line (-c mmrb=...), the value is JSON text.
    expect(parseAppSettings(JSON.stringify({ stages, deployAccess })).deployAccess.branch).toBe('main');
  });

  it.each([
    ['no settings', undefined, /set the context key "mmrb"/],
    ['not JSON', '{stages', /not valid JSON/],
    ['no prod stage', { stages: { dev: stages.dev }, deployAccess }, /define at least the stages dev and prod/],
    ['a bad shard name', { stages: { ...stages, dev: { shards: { 'Shard A': 'x.json' } } }, deployAccess }, /stages\.dev\.shards\.Shard A/],
    ['a retention CloudWatch refuses', { stages: { ...stages, dev: { ...stages.dev, logRetentionDays: 10 } }, deployAccess }, /stages\.dev\.logRetentionDays: CloudWatch Logs keeps logs for one of/],
    ['a repository that is not owner/name', { stages, deployAccess: { ...deployAccess, repository: 'mm-rebate-bot' } }, /deployAccess\.repository: expected owner\/name/],
    ['an unknown key', { stages, deployAccess, extra: 1 }, /Unrecognized key/],
  ])('refuses %s, naming it', (_case, context, message) => {
    expect(() => parseAppSettings(context)).toThrow(SettingsError);
    expect(() => parseAppSettings(context)).toThrow(message);
  });
});

describe('shard configurations', () => {
  it('loads each shard\'s engine configuration with the engine\'s own loader', () => {
    const [shard] = loadShards('prod', StageSettingsSchema.parse(stages.prod), REPOSITORY_ROOT);
    expect(shard).toMatchObject({ shard: 'a', configPath: 'config/prod/a.json', config: { stage: 'prod', shard: 'a', venue: { restUrl: 'https://api.bybit.com' } } });
  });

  it('refuses a configuration the infrastructure cannot run, naming every problem', () => {
    const root = mkdtempSync(join(tmpdir(), 'mmrb-settings-'));
    mkdirSync(join(root, 'config'));
    const document = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'config/dev/a.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(root, 'config/wrong.json'), JSON.stringify({ ...document, stage: 'prod', region: 'eu-west-1', engine: { healthPort: 0, stopTimeoutMs: 115_000 } }));
    writeFileSync(join(root, 'config/broken.json'), JSON.stringify({ ...document, symbols: { BTCUSDT: { orderQty: 'lots' } } }));
    const settings = StageSettingsSchema.parse({ shards: { a: 'config/wrong.json', b: 'config/broken.json' } });
    let message = '';
    try {
      loadShards('dev', settings, root);
    } catch (error) {
      message = error instanceof SettingsError ? error.message : String(error);
    }
    expect(message).toContain('dev/a (config/wrong.json): stage is "prod", expected "dev"');
    expect(message).toContain('region is "eu-west-1", expected "ap-southeast-1"');
    expect(message).toContain('engine.healthPort is 0');
    expect(message).toContain('engine.stopTimeoutMs is 115000, expected "at most 110000');
    expect(message).toMatch(/dev\/b \(config\/broken\.json\): invalid configuration:[^]*symbols\.BTCUSDT\.orderQty: expected a decimal string/);
  });
});
