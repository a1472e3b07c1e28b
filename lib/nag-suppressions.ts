/**
 * cdk-nag (AwsSolutions pack) findings this design accepts, each with the reason a reviewer needs. They are
 * attached to the resources concerned (and, for IAM wildcards, to the one finding, with appliesTo), never
 * stack-wide, so a new resource with the same finding is still reported.
 */
import { NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { ServiceStack, StateStack } from './stacks.js';

const NODE_22_PINNED = 'Node 22 is pinned everywhere (the engine image, CI, local runs and Lambda) so that Lambda runs the runtime the tests ran; runtimes are upgraded together, deliberately.';

export function suppressStateFindings(stack: StateStack): void {
  NagSuppressions.addResourceSuppressions(stack.secrets.secrets.tradingKey, [
    {
      id: 'AwsSolutions-SMG4',
      reason: 'Rotated: the service stack holds its RotationSchedule (every keyRotationDays, by the secret-rotation Lambda), which refers to this secret by name because the function lives in the service stack; cdk-nag looks for the schedule in this stack only. test/unit/infra/app.test.ts checks the schedule.',
    },
  ]);
  NagSuppressions.addResourceSuppressions(stack.secrets.secrets.keyAdmin, [
    {
      id: 'AwsSolutions-SMG4',
      reason: 'The key-admin key creates and revokes trading keys; it cannot rotate itself without a second admin key, so it is rotated by a person under the break-glass procedure (docs/DEPLOY.md).',
    },
  ]);
}

export function suppressServiceFindings(stack: ServiceStack): void {
  const deadLetterDestinations = [stack.node.findChild('UndeliveredEvents'), stack.node.findChild('FailedInvocations')];
  for (const queue of deadLetterDestinations) {
    NagSuppressions.addResourceSuppressions(queue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself a dead-letter destination (the rules\' target DLQ, the scheduled Lambda\'s on-failure destination): failures end here, kept 14 days, and an alarm fires while it is not empty.' },
    ]);
  }
  const functions = [stack.riskEvaluator.function, stack.freezeApi.function, stack.keyRotation.function];
  for (const fn of functions) {
    NagSuppressions.addResourceSuppressions(fn, [{ id: 'AwsSolutions-L1', reason: NODE_22_PINNED }]);
    if (!fn.role) throw new Error(`${fn.node.path} has no role`);
    NagSuppressions.addResourceSuppressions(
      fn.role,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason: 'The function runs in the VPC (its Bybit calls must leave from the egress IPs the keys are bound to). AWSLambdaVPCAccessExecutionRole is the documented grant Lambda creates the function\'s network interfaces with, and allows only the EC2 network-interface actions and log writes.',
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
        },
      ],
      true,
    );
  }

  const api = stack.freezeApi.api;
  NagSuppressions.addResourceSuppressions(
    api,
    [
      { id: 'AwsSolutions-COG4', reason: 'Operators authenticate with IAM (SigV4): every method uses AWS_IAM authorisation and the audit trail records the caller\'s principal ARN. There are no end users, so no user pool.' },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'An operators-only API: IAM authorisation rejects unsigned or unauthorised calls in API Gateway before they reach the function, and the stage is throttled to a few requests a second. A WAF web ACL would add cost, not protection.',
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    api.node.findChild('CloudWatchRole'),
    [
      {
        id: 'AwsSolutions-IAM4',
        reason: 'The account-level role API Gateway writes execution logs with. The AWS service-role policy AmazonAPIGatewayPushToCloudWatchLogs is the documented grant for it and allows CloudWatch Logs actions only.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
      },
    ],
    true,
  );
  for (const engine of stack.engines) {
    NagSuppressions.addResourceSuppressions(engine.taskDefinition, [
      { id: 'AwsSolutions-ECS2', reason: 'Plain, non-secret settings only (how many engine tasks share an egress address). The engine reads its API key from Secrets Manager itself, at start and on rotation.' },
    ]);
    NagSuppressions.addResourceSuppressions(
      engine.taskDefinition.obtainExecutionRole(),
      [{ id: 'AwsSolutions-IAM5', reason: 'ecr:GetAuthorizationToken has no resource-level permissions (AWS requires "*"); the image pull itself is scoped to the image\'s repository.', appliesTo: ['Resource::*'] }],
      true,
    );
  }
}

export function suppressNetworkFindings(_stack: IConstruct): void {
  // Nothing to accept: flow logs on, no public ingress.
}

export function suppressDeployAccessFindings(_stack: IConstruct): void {
  // Nothing to accept: exact trust subjects, exact bootstrap role ARNs.
}
