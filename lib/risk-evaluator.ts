/**
 * The risk evaluator (docs/RISK.md): fill events from the bus reach it through a queue in batches (partial
 * batch failures go back to the queue, then to its dead-letter queue), and a schedule runs it every minute
 * (limits, edge, stale heartbeats; failures of a run go to an on-failure queue after Lambda's retries).
 * As the watchdog it cancels at the venue with the trading key, so it reads that secret.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES, RULES, ruleName } from '../src/resources/definitions.js';
import { type ControlPlaneProps, controlPlaneFunction } from './bundled-function.js';
import { eventPatternOf } from './event-bus.js';
import { definedQueue } from './queues.js';

export interface RiskEvaluatorFunctionProps extends ControlPlaneProps {
  readonly undeliveredEvents: sqs.IQueue;
  readonly failedInvocations: sqs.IQueue;
}

export class RiskEvaluatorFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly fillsQueue: sqs.Queue;
  readonly fillsDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RiskEvaluatorFunctionProps) {
    super(scope, id);
    const { names } = props;
    const stage = names.stage;
    this.fillsDeadLetterQueue = definedQueue(this, 'FillsDeadLetters', { queueName: names.queues.riskFillsDlq, definition: QUEUES.riskFillsDlq });
    this.fillsQueue = definedQueue(this, 'Fills', { queueName: names.queues.riskFills, definition: QUEUES.riskFills, deadLetterQueue: this.fillsDeadLetterQueue });

    // The queue's visibility timeout (60 s) is six times this, as Lambda advises for SQS sources.
    this.function = controlPlaneFunction(this, 'riskEvaluator', props, { timeout: Duration.seconds(10), onFailure: new destinations.SqsDestination(props.failedInvocations) });

    this.function.addEventSource(
      new sources.SqsEventSource(this.fillsQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        // The handler answers which records failed; only those are delivered again.
        reportBatchItemFailures: true,
        // Bounded: the exposure items are updated with conditional writes, and the venue's cancels are rate-limited.
        maxConcurrency: 2,
      }),
    );

    const fills = RULES.fillsToRisk;
    new events.Rule(this, 'FillsRule', {
      ruleName: ruleName(stage, fills.id),
      description: fills.purpose,
      eventBus: props.bus,
      eventPattern: eventPatternOf(fills),
      targets: [new targets.SqsQueue(this.fillsQueue, { deadLetterQueue: props.undeliveredEvents, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });
    new events.Rule(this, 'Schedule', {
      ruleName: `mmrb-${stage}-risk-schedule`,
      description: 'Runs the risk evaluator every minute: limits, edge, stale engine heartbeats (the watchdog)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // A run older than a minute is replaced by the next one.
      targets: [new targets.LambdaFunction(this.function, { deadLetterQueue: props.failedInvocations, retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
  }
}
