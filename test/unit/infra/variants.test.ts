/**
 * The app under settings other than cdk.json's: an account and an existing OIDC provider, alarm emails,
 * and the guards that stop a synth which would deploy something broken.
 */
import { describe, expect, it } from '@jest/globals';
import { Annotations as CoreAnnotations, App, CfnWaitConditionHandle, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineApp } from '../../../lib/app.js';
import { bundledFunction } from '../../../lib/bundled-function.js';
import { LAMBDA_ENTRIES, REPOSITORY_ROOT } from '../../../lib/lambda-bundling.js';
import { definedQueue } from '../../../lib/queues.js';
import { SettingsError, retentionDays } from '../../../lib/settings.js';
import { cdkJsonContext, findingsOf, stacksOf } from '../../../lib/synth.js';
import { QUEUES } from '../../../src/resources/definitions.js';

const ACCOUNT = '123456789012';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;

describe('the app under other settings', () => {
  it('deploys to a named account with an existing OIDC provider, and emails the alarms', () => {
    const mmrb = {
      stages: {
        dev: { account: ACCOUNT, shards: { a: 'config/dev/a.json' }, alarmEmails: ['oncall@example.com'] },
        prod: { account: ACCOUNT, production: true, shards: { a: 'config/prod/a.json' } },
      },
      deployAccess: { repository: 'acme/mm', environments: ['dev', 'prod'], account: ACCOUNT, oidcProviderArn: PROVIDER },
    };
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'mmrb-cdk-')), context: { mmrb, 'aws:cdk:bundling-stacks': [] } });
    const defined = defineApp(app, REPOSITORY_ROOT);
    expect(defined.stages.get('dev')?.service.account).toBe(ACCOUNT);
    expect(defined.deployAccess.account).toBe(ACCOUNT);
    const access = Template.fromStack(defined.deployAccess);
    // The account's provider is used, not a second one (IAM allows one per URL).
    access.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(JSON.stringify(access.findResources('AWS::IAM::Role'))).toContain(PROVIDER);
    const dev = defined.stages.get('dev');
    if (!dev) throw new Error('no dev stage');
    const service = Template.fromStack(dev.service);
    service.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe('guards', () => {
  it('refuses a Lambda environment over Lambda\'s 4 KB', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Big');
    expect(() =>
      bundledFunction(stack, 'Fn', { entry: LAMBDA_ENTRIES.freezeApi, functionName: 'big', serviceName: 'big', production: false, environment: { HUGE: 'x'.repeat(4_000) }, timeout: Duration.seconds(5), memorySize: 128, logRetention: retentionDays(7) }),
    ).toThrow(/its environment is \d+ bytes; Lambda allows 4096/);
  });

  it('refuses a working queue without its dead-letter queue', () => {
    expect(() => definedQueue(new Stack(), 'Q', { queueName: 'q', definition: QUEUES.riskFills })).toThrow('queue riskFills needs its dead-letter queue riskFillsDlq');
  });

  it('knows CloudWatch\'s retention periods only', () => {
    expect(retentionDays(30)).toBe(30);
    expect(() => retentionDays(10)).toThrow(SettingsError);
  });
});

describe('synthesis helpers', () => {
  it('reads a cdk.json without context as no context, and reports warnings and errors of nested stages', () => {
    const directory = mkdtempSync(join(tmpdir(), 'mmrb-cdk-json-'));
    writeFileSync(join(directory, 'cdk.json'), JSON.stringify({ app: 'x' }));
    expect(cdkJsonContext(join(directory, 'cdk.json'))).toEqual({});

    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'mmrb-cdk-')) });
    const stack = new Stack(app, 'Noisy');
    // One resource, so that CDK's template validation has nothing to say about an empty stack.
    new CfnWaitConditionHandle(stack, 'Placeholder');
    CoreAnnotations.of(stack).addWarningV2('test:warning', 'a warning');
    CoreAnnotations.of(stack).addInfo('an info line');
    const assembly = app.synth();
    expect(stacksOf(assembly).map((artifact) => artifact.stackName)).toEqual(['Noisy']);
    expect(findingsOf(assembly)).toEqual([{ level: 'warning', path: '/Noisy', message: 'a warning [ack: test:warning]' }]);
  });
});
