/**
 * Reading back what the engine kept and announced, on the emulator: the items of a table, and the events
 * of the bus through an SQS queue that a rule subscribes (as the risk evaluator's queue is).
 */
import { ScanCommand, type ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { randomBytes } from 'node:crypto';
import { expect } from '@jest/globals';
import type { RestClientV5 } from 'bybit-api';
import { ZERO, dec, sum } from '../../src/core/decimal.js';
import { EVENT_SOURCES, parseEventDetail } from '../../src/core/events.js';
import type { AwsClients } from '../../src/local/provision.js';
import type { ResourceNames } from '../../src/resources/definitions.js';
import { venueExecutions, venueOpenOrders, venueOrderHistory } from './engine.js';

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

export interface StoreCheck {
  readonly clients: AwsClients;
  readonly names: ResourceNames;
  readonly rest: RestClientV5;
  readonly shard: string;
  readonly symbols: readonly string[];
  readonly queueUrl: string;
  /** Every event received so far; this check adds what the queue holds now. */
  readonly events: ReceivedEvent[];
}

export interface StoreCheckReport {
  readonly venueFills: number;
  readonly storedOrders: number;
  /** Fill events received more than once (same eventId, same content): a crash between PutEvents and clearing the owed mark. */
  readonly redeliveredFillEvents: number;
}

/**
 * DynamoDB and the bus against the venue, after a graceful stop: every execution stored once with the
 * venue's figures, each position the venue's with fees and rebates to the unit, every order stored with
 * its final status, every fill's event on the bus under one eventId, nothing owed to the bus any more.
 */
export async function expectStoreEqualsVenue(check: StoreCheck): Promise<StoreCheckReport> {
  const { clients, names, rest, shard, events } = check;
  events.push(...(await drainEvents(clients, check.queueUrl)));
  for (const event of events) {
    expect(event.source).toBe(EVENT_SOURCES.engine);
    expect(parseEventDetail(event.detailType, event.detail)).toMatchObject({ ok: true });
  }
  const fillEvents = new Map<string, ReceivedEvent['detail'][]>();
  for (const event of events) {
    if (event.detailType !== 'Fill') continue;
    const seen = fillEvents.get(event.detail.eventId) ?? [];
    seen.push(event.detail);
    fillEvents.set(event.detail.eventId, seen);
  }

  const fills = (await scanTable(clients, names.tables.fills)).filter((item) => item.shard === shard);
  const positions = (await scanTable(clients, names.tables.positions)).filter((item) => item.shard === shard);
  const orders = (await scanTable(clients, names.tables.orders)).filter((item) => item.shard === shard);
  const fillById = new Map(fills.map((item) => [item.execId as string, item]));
  const orderById = new Map(orders.map((item) => [item.orderLinkId as string, item]));
  const lastOrderEvent = new Map<string, ReceivedEvent['detail']>();
  for (const event of events) if (event.detailType === 'OrderUpdate') lastOrderEvent.set(event.detail.orderLinkId as string, event.detail);

  let venueFills = 0;
  for (const symbol of check.symbols) {
    const executions = await venueExecutions(rest, symbol);
    venueFills += executions.length;
    for (const execution of executions) {
      const item = fillById.get(execution.execId);
      expect(item).toMatchObject({ symbol, orderLinkId: execution.orderLinkId, side: execution.side, isMaker: execution.isMaker, execTime: Number(execution.execTime) });
      expect(dec(item?.price as string).eq(dec(execution.execPrice))).toBe(true);
      expect(dec(item?.qty as string).eq(dec(execution.execQty))).toBe(true);
      expect(dec(item?.fee as string).eq(dec(execution.execFee))).toBe(true);
      // On the bus under one eventId; a redelivery carries the same content.
      const received = fillEvents.get(`fill:${execution.execId}`) ?? [];
      expect(received.length).toBeGreaterThanOrEqual(1);
      for (const detail of received) expect(detail).toEqual(received[0]);
    }

    // The stored position is the venue's, and its fees and rebates are the executions' to the unit.
    const position = positions.find((item) => item.symbol === symbol);
    const venueRow = (await rest.getPositionInfo({ category: 'linear', symbol })).result.list[0];
    const venueQty = venueRow && venueRow.side !== '' ? dec(venueRow.size).times(dec(venueRow.side === 'Buy' ? '1' : '-1')) : ZERO;
    if (executions.length > 0) {
      expect({ symbol, position: dec(position?.position as string).toFixed() }).toEqual({ symbol, position: venueQty.toFixed() });
      expect(position?.tradeCount).toBe(executions.length);
      const netFees = sum(executions.map((execution) => dec(execution.execFee)));
      expect(dec(position?.feesPaid as string).minus(dec(position?.rebatesEarned as string)).toFixed()).toBe(netFees.toFixed());
    }

    // Nothing is open; every order the venue knows is stored with its final status, and its last event says the same.
    expect(await venueOpenOrders(rest, symbol)).toEqual([]);
    for (const order of await venueOrderHistory(rest, symbol)) {
      const stored = orderById.get(order.orderLinkId);
      expect(stored).toMatchObject({ symbol, status: order.orderStatus });
      expect(stored?.openShard).toBeUndefined();
      expect(lastOrderEvent.get(order.orderLinkId)).toMatchObject({ status: order.orderStatus, orderId: order.orderId });
    }
  }
  expect(fills.length).toBe(venueFills);
  expect(fillEvents.size).toBe(venueFills);
  expect(fills.filter((item) => item.eventPending !== undefined)).toEqual([]);
  let redeliveredFillEvents = 0;
  for (const received of fillEvents.values()) redeliveredFillEvents += received.length - 1;
  return { venueFills, storedOrders: orders.length, redeliveredFillEvents };
}

export type FaultMode = 'none' | 'throttle' | 'error' | 'slow';

/** Faults a client's requests meet, switchable while the test runs. */
export interface Faults {
  mode: FaultMode;
  /** Added before each request in 'slow' mode, ms. */
  slowMs: number;
  /** Requests that met a fault. */
  injected: number;
}

interface ClientWithMiddleware {
  readonly middlewareStack: { add(middleware: unknown, options: { step: 'finalizeRequest'; name: string }): void };
}

/**
 * Injects faults into a real SDK client, below its retry logic: throttling (400 ThrottlingException) and
 * server errors (500) as the service sends them, and slowness before the request goes out (past the
 * caller's timeout, the request is aborted). The emulator cannot produce these on demand.
 */
export function injectFaults(client: ClientWithMiddleware, name: string): Faults {
  const faults: Faults = { mode: 'none', slowMs: 0, injected: 0 };
  const middleware = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
    const mode = faults.mode;
    if (mode === 'none') return next(args);
    faults.injected += 1;
    if (mode === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, faults.slowMs));
      return next(args);
    }
    const [errorName, status, message] = mode === 'throttle' ? ['ThrottlingException', 400, 'Rate of requests exceeds the allowed throughput.'] : ['InternalServerError', 500, 'Internal server error'];
    throw Object.assign(new Error(message), { name: errorName, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, attempts: 1 } });
  };
  client.middlewareStack.add(middleware, { step: 'finalizeRequest', name: `injected-faults-${name}` });
  return faults;
}
