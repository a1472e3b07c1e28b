/**
 * Reading back what the engine kept and announced, on the emulator: the items of a table, and the events
 * of the bus through an SQS queue that a rule subscribes (as the risk evaluator's queue is).
 */
import { ScanCommand, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { randomBytes } from 'node:crypto';
import { EVENT_SOURCES } from '../../src/core/events.js';
import type { AwsClients } from '../../src/local/provision.js';

/** A new queue that receives every event the engine puts on `busName`. */
export async function subscribeEngineEvents(clients: AwsClients, busName: string): Promise<string> {
  const name = `engine-events-${randomBytes(4).toString('hex')}`;
  const created = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const queueUrl = created.QueueUrl;
  if (!queueUrl) throw new Error('CreateQueue returned no URL');
  const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = attributes.Attributes?.QueueArn;
  if (!arn) throw new Error('no QueueArn');
  await clients.eventBridge.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify({ source: [EVENT_SOURCES.engine] }) }));
  await clients.eventBridge.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'queue', Arn: arn }] }));
  return queueUrl;
}

export interface ReceivedEvent {
  readonly detailType: string;
  readonly source: string;
  readonly detail: Record<string, unknown> & { eventId: string };
}

/** Every message on the queue now (received and deleted), as EventBridge envelopes. */
export async function drainEvents(clients: AwsClients, queueUrl: string): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for (;;) {
    const answer = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return events;
    for (const message of messages) {
      const envelope = JSON.parse(message.Body ?? '{}') as { 'detail-type': string; source: string; detail: ReceivedEvent['detail'] };
      events.push({ detailType: envelope['detail-type'], source: envelope.source, detail: envelope.detail });
    }
    await clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? '' })) }));
  }
}

/** Every item of a table, unmarshalled. */
export async function scanTable(clients: AwsClients, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: ScanCommandInput['ExclusiveStartKey'];
  do {
    const answer = await clients.dynamodb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(startKey && { ExclusiveStartKey: startKey }) }));
    for (const item of answer.Items ?? []) items.push(unmarshall(item));
    startKey = answer.LastEvaluatedKey;
  } while (startKey);
  return items;
}
