/**
 * The Lambda triggers of the local stack, in process, with the event shapes AWS delivers:
 * - an SQS event source mapping: long-polls a queue, hands batches to the handler as an `SQSEvent`,
 *   deletes the records it did not report as failures (ReportBatchItemFailures), and leaves a batch whose
 *   invocation threw to come back after its visibility timeout, as Lambda does;
 * - an EventBridge schedule: an `aws.events` Scheduled Event every `intervalMs` (the emulator never fires
 *   scheduled rules).
 */
import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord, ScheduledEvent } from 'aws-lambda';
import type { Logger } from '../ports/logger.js';

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** A Lambda context for an in-process invocation. */
export function localContext(functionName: string, region: string, timeoutMs = 30_000): Context {
  const startedAt = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - startedAt)),
  } as Context; // without the deprecated callbacks (done, fail, succeed), which nothing calls
}

export interface SqsEventSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly functionName: string;
  readonly handler: LambdaHandler<SQSEvent, SQSBatchResponse>;
  readonly batchSize: number;
  readonly waitSeconds: number;
  readonly logger: Logger;
}

export interface Trigger {
  stop(): Promise<void>;
}

/** The SDK's message as Lambda's SQS record (what the event source mapping hands over). */
export function sqsRecordOf(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes: Partial<Record<string, string>> = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function startSqsEventSource(options: SqsEventSourceOptions): Trigger {
  const abort = new AbortController();
  const stopped = () => abort.signal.aborted;
  const loop = (async () => {
    while (!stopped()) {
      try {
        const answer = await options.client.send(
          new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: options.batchSize, WaitTimeSeconds: options.waitSeconds, MessageSystemAttributeNames: ['All'] }),
          { abortSignal: abort.signal },
        );
        const records = (answer.Messages ?? []).map((message) => sqsRecordOf(message, options.queueArn, options.region));
        if (records.length === 0) continue;
        let response: SQSBatchResponse;
        try {
          response = await options.handler({ Records: records }, localContext(options.functionName, options.region));
        } catch (error) {
          options.logger.error('the Lambda failed; its batch comes back after the visibility timeout', { functionName: options.functionName, error: error instanceof Error ? error.message : 'unknown error' });
          continue;
        }
        const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
        const done = records.filter((record) => !failed.has(record.messageId));
        if (done.length > 0) {
          await options.client.send(
            new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })) }),
            { abortSignal: abort.signal },
          );
        }
      } catch (error) {
        if (stopped()) return;
        options.logger.warn('SQS event source: receive failed; trying again', { functionName: options.functionName, error: error instanceof Error ? error.message : 'unknown error' });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      await loop;
    },
  };
}

export interface ScheduleOptions {
  readonly intervalMs: number;
  readonly region: string;
  readonly ruleArn: string;
  readonly functionName: string;
  readonly handler: LambdaHandler<ScheduledEvent, unknown>;
  readonly logger: Logger;
}

/** A Scheduled Event as EventBridge delivers it, at `time`. */
export function scheduledEvent(time: Date, region: string, ruleArn: string): ScheduledEvent {
  return { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'), region, resources: [ruleArn], detail: {} };
}

export function startSchedule(options: ScheduleOptions): Trigger {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    // One invocation at a time: a slow run is not overlapped by the next.
    running ??= options
      .handler(scheduledEvent(new Date(), options.region, options.ruleArn), localContext(options.functionName, options.region))
      .then(
        () => undefined,
        (error: unknown) => {
          options.logger.error('the scheduled Lambda failed', { functionName: options.functionName, error: error instanceof Error ? error.message : 'unknown error' });
        },
      )
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
