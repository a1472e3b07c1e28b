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
      // Named, so that a failure says which execution of which order.
      const stored = item && { symbol: item.symbol, orderLinkId: item.orderLinkId, side: item.side, isMaker: item.isMaker, execTime: item.execTime };
      expect({ execId: execution.execId, orderLinkId: execution.orderLinkId, stored }).toEqual({ execId: execution.execId, orderLinkId: execution.orderLinkId, stored: { symbol, orderLinkId: execution.orderLinkId, side: execution.side, isMaker: execution.isMaker, execTime: Number(execution.execTime) } });
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
      // Named, so that a failure says which order (and how it ended at the venue).
      const seen = { orderLinkId: order.orderLinkId, venue: { status: order.orderStatus, cumExecQty: order.cumExecQty, createdTime: order.createdTime, updatedTime: order.updatedTime } };
      expect({ ...seen, stored: stored && { symbol: stored.symbol, status: stored.status } }).toEqual({ ...seen, stored: { symbol, status: order.orderStatus } });
      expect(stored?.openShard).toBeUndefined();
      const lastEvent = lastOrderEvent.get(order.orderLinkId);
      expect({ ...seen, lastEvent: lastEvent && { status: lastEvent.status, orderId: lastEvent.orderId } }).toEqual({ ...seen, lastEvent: { status: order.orderStatus, orderId: order.orderId } });
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
  /** Only these operations (e.g. 'UpdateItemCommand') meet the fault; all when empty. */
  readonly only: Set<string>;
  /** How many more requests meet the fault (each SDK attempt counts), then none; unlimited when undefined. */
  budget: number | undefined;
  /** PutEvents entries the bus refuses, once each, by the detail's eventId (FailedEntryCount). */
  readonly refuseEventIds: Set<string>;
  /** Requests that met a fault. */
  injected: number;
  /** Every operation sent, in order, with the item count of a transaction (`TransactWriteItemsCommand:99`). */
  readonly sent: string[];
  /** Called as each operation is sent, before it goes out: a test acts at a known point of the traffic. */
  onSend: ((command: string) => void) | undefined;
}

type Middleware = (next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>, context: { commandName?: string }) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;

interface MiddlewareStack {
  add(middleware: Middleware, options: { step: 'initialize' | 'finalizeRequest'; name: string }): void;
}

/**
 * Injects faults into a real SDK client, which still talks to the emulator:
 * - below its retry logic, throttling (400 ThrottlingException) and server errors (500) as the service
 *   sends them, and slowness before the request goes out (past the caller's timeout, it is aborted);
 * - above it, PutEvents entries refused as the bus refuses them: left out of the request, and reported
 *   in the answer at their index with an ErrorCode.
 * The emulator cannot produce these on demand.
 */
export function injectFaults(client: { readonly middlewareStack: unknown }, name: string): Faults {
  // The SDK's stack is generic over each client's own types; these middlewares only read the common parts.
  const stack = client.middlewareStack as MiddlewareStack;
  const faults: Faults = { mode: 'none', slowMs: 0, only: new Set(), budget: undefined, refuseEventIds: new Set(), injected: 0, sent: [], onSend: undefined };
  const failures: Middleware = (next, context) => async (args) => {
    const command = context.commandName ?? '';
    const mode = faults.mode;
    if (mode === 'none' || (faults.only.size > 0 && !faults.only.has(command)) || faults.budget === 0) return next(args);
    if (faults.budget !== undefined) faults.budget -= 1;
    faults.injected += 1;
    if (mode === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, faults.slowMs));
      return next(args);
    }
    const [errorName, status, message] = mode === 'throttle' ? ['ThrottlingException', 400, 'Rate of requests exceeds the allowed throughput.'] : ['InternalServerError', 500, 'Internal server error'];
    throw Object.assign(new Error(message), { name: errorName, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, attempts: 1 } });
  };
  const refusals: Middleware = (next, context) => async (args) => {
    const command = context.commandName ?? '';
    const items = args.input.TransactItems;
    faults.sent.push(Array.isArray(items) ? `${command}:${items.length}` : command);
    faults.onSend?.(command);
    const entries = args.input.Entries;
    if (command !== 'PutEventsCommand' || !Array.isArray(entries)) return next(args);
    const refused = new Set<number>();
    entries.forEach((entry: { Detail?: string }, index) => {
      const eventId = (JSON.parse(entry.Detail ?? '{}') as { eventId?: string }).eventId ?? '';
      if (faults.refuseEventIds.delete(eventId)) refused.add(index);
    });
    if (refused.size === 0) return next(args);
    const result = await next({ ...args, input: { ...args.input, Entries: entries.filter((_, index) => !refused.has(index)) } });
    const accepted = [...((result.output.Entries as unknown[] | undefined) ?? [])];
    const answer = entries.map((_, index) => (refused.has(index) ? { ErrorCode: 'InternalFailure', ErrorMessage: 'refused by the test' } : accepted.shift()));
    return { ...result, output: { ...result.output, Entries: answer, FailedEntryCount: (Number(result.output.FailedEntryCount) || 0) + refused.size } };
  };
  stack.add(failures, { step: 'finalizeRequest', name: `injected-faults-${name}` });
  stack.add(refusals, { step: 'initialize', name: `injected-refusals-${name}` });
  return faults;
}
