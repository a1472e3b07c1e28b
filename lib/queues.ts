/**
 * SQS queues from their definitions (src/resources/definitions.ts): encrypted at rest (SQS-managed keys,
 * which EventBridge can deliver to without a key policy), TLS-only, and a dead-letter queue where the
 * definition names one. Dead-letter queues keep messages for the longest SQS allows: 14 days to look.
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { QueueDefinition } from '../src/resources/definitions.js';

export interface QueueOptions {
  readonly queueName: string;
  readonly definition: QueueDefinition;
  /** The queue this one gives up to (the definition's `deadLetterQueue`). */
  readonly deadLetterQueue?: sqs.IQueue;
}

export function definedQueue(scope: Construct, id: string, options: QueueOptions): sqs.Queue {
  const { definition, deadLetterQueue } = options;
  const isDeadLetterQueue = isDeadLetterQueueDefinition(definition);
  if (definition.deadLetterQueue !== undefined && !deadLetterQueue) throw new Error(`queue ${definition.id} needs its dead-letter queue ${definition.deadLetterQueue}`);
  return new sqs.Queue(scope, id, {
    queueName: options.queueName,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
    ...(isDeadLetterQueue && { retentionPeriod: Duration.days(14) }),
    ...(deadLetterQueue && { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: definition.maxReceiveCount ?? 5 } }),
  });
}

/** Every queue that does work has a dead-letter queue; the ones without are where failures end up. */
export function isDeadLetterQueueDefinition(definition: QueueDefinition): boolean {
  return definition.deadLetterQueue === undefined;
}
