/**
 * The trading key's rotation (docs/SECURITY.md): the rotation Lambda, Secrets Manager's schedule for it,
 * and a rule that runs it every five minutes to revoke the keys rotations replaced once every engine uses
 * the new one.
 *
 * Least privilege, written out rather than through `addRotationSchedule` (which also grants
 * secretsmanager:GetRandomPassword on every resource, unused here, and lets Secrets Manager of any account
 * invoke the function): the four rotation actions on the trading key only, GetSecretValue on the key-admin
 * secret only, BatchGetItem on the control table (heartbeats), and an invoke permission for Secrets
 * Manager conditioned on this account and this secret.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type ControlPlaneProps, controlPlaneFunction } from './bundled-function.js';

export interface KeyRotationProps extends ControlPlaneProps {
  /** Days between rotations (Secrets Manager's schedule). */
  readonly rotationDays: number;
}

/** How often superseded keys are looked for: a few minutes after the engines switched (they re-read the key every credentialsCacheTtlMs). */
export const REVOKE_INTERVAL = Duration.minutes(5);

export class KeyRotation extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly schedule: secretsmanager.CfnRotationSchedule;

  constructor(scope: Construct, id: string, props: KeyRotationProps) {
    super(scope, id);
    const { names } = props;
    const stack = Stack.of(this);
    // A step makes a few Bybit and Secrets Manager calls; a minute leaves room for their timeouts and retries.
    this.function = controlPlaneFunction(this, 'secretRotation', props, { timeout: Duration.minutes(1), publishes: false });
    // By name, as the secrets live in the state stack: Secrets Manager appends six random characters to the ARN.
    const secretArn = (name: string, suffix: string) => stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${name}${suffix}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    // Reading it (DescribeSecret, GetSecretValue) comes with every control-plane function; rotating it adds these two.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'RotateTheTradingKeyOnly', actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'], resources: [secretArn(names.secrets.tradingKey, '-??????')] }),
    );
    this.function.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadTheKeyAdminKey', actions: ['secretsmanager:GetSecretValue'], resources: [secretArn(names.secrets.keyAdmin, '-??????')] }));

    const invokedBySecretsManager = new iam.ServicePrincipal('secretsmanager.amazonaws.com');
    this.function.addPermission('InvokedBySecretsManager', {
      principal: invokedBySecretsManager,
      sourceAccount: stack.account,
      // By name: the secret lives in the state stack (its ARN ends in a random suffix).
      sourceArn: secretArn(names.secrets.tradingKey, '-*'),
    });

    this.schedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: names.secrets.tradingKey,
      rotationLambdaArn: this.function.functionArn,
      rotationRules: { scheduleExpression: `rate(${props.rotationDays.toString()} days)` },
      // A deploy that creates or changes the schedule only tests the configuration (testSecret on a copy of
      // the current value); without this every such deploy would create a Bybit key.
      rotateImmediatelyOnUpdate: false,
    });
    // Secrets Manager invokes the function when the schedule is created: the permission must exist first.
    const permission = this.function.node.tryFindChild('InvokedBySecretsManager');
    if (permission) this.schedule.node.addDependency(permission);

    new events.Rule(this, 'RevokeSuperseded', {
      ruleName: `mmrb-${names.stage}-revoke-superseded-keys`,
      description: 'Revokes the Bybit keys rotations replaced, once every engine reports the current key',
      schedule: events.Schedule.rate(REVOKE_INTERVAL),
      // A run older than the interval is replaced by the next one.
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: REVOKE_INTERVAL })],
    });
  }
}
