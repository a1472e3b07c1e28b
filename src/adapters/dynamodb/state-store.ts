/**
 * The engine's state in DynamoDB (port: src/ports/state-store.ts), in the tables of
 * src/resources/definitions.ts.
 *
 * - Orders: one item per orderLinkId, replaced only by a newer (epoch, revision).
 * - Fills and positions: each batch of a symbol's fills is one transaction with the position after them,
 *   so the stored position always equals the stored fills, and a fill is stored at most once (a condition
 *   on its execId). A crash or a lost answer can therefore never count a fill twice, nor lose one that the
 *   position counts.
 * - Items read back are validated (src/core/records.ts): a corrupt item is an error that names it.
 *
 * Each request carries a timeout; a slow table is a failed request, retried by the caller.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type * as z from 'zod';
import { type FillRecord, FillRecordSchema, type OrderRecord, OrderRecordSchema, type PositionRecord, PositionRecordSchema, parseRecord } from '../../core/records.js';
import { type FillsWriteOutcome, MAX_FILLS_PER_WRITE, type OrderWriteOutcome, type StateStore } from '../../ports/state-store.js';
import { TABLES } from '../../resources/definitions.js';

export interface DynamoStateStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: { readonly orders: string; readonly positions: string; readonly fills: string };
  /** A request without an answer after this long fails (and is retried by the caller), ms. */
  readonly requestTimeoutMs: number;
}

const BATCH_GET_LIMIT = 100;

/** Replaced only by a newer generation, or a higher revision of the same one. */
const NEWER_THAN_STORED = 'attribute_not_exists(#key) OR #epoch < :epoch OR (#epoch = :epoch AND #revision < :revision)';

export class DynamoStateStore implements StateStore {
  constructor(private readonly options: DynamoStateStoreOptions) {}

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  async putOrder(record: OrderRecord): Promise<OrderWriteOutcome> {
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.tables.orders,
          Item: marshall(record, { removeUndefinedValues: true }),
          ConditionExpression: NEWER_THAN_STORED,
          ExpressionAttributeNames: { '#key': 'orderLinkId', '#epoch': 'epoch', '#revision': 'revision' },
          ExpressionAttributeValues: marshall({ ':epoch': record.epoch, ':revision': record.revision }),
        }),
        this.signal(),
      );
      return 'written';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'stale';
      throw error;
    }
  }

  async putFills(fills: readonly FillRecord[], position: PositionRecord): Promise<FillsWriteOutcome> {
    if (fills.length === 0 || fills.length > MAX_FILLS_PER_WRITE) throw new RangeError(`putFills takes 1 to ${MAX_FILLS_PER_WRITE} fills, got ${fills.length}`);
    try {
      await this.options.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            ...fills.map((fill) => ({
              Put: {
                TableName: this.options.tables.fills,
                Item: marshall(fill, { removeUndefinedValues: true }),
                ConditionExpression: 'attribute_not_exists(#key)',
                ExpressionAttributeNames: { '#key': 'execId' },
              },
            })),
            {
              Put: {
                TableName: this.options.tables.positions,
                Item: marshall(position, { removeUndefinedValues: true }),
                // The position's revision is its execution count: it only grows.
                ConditionExpression: NEWER_THAN_STORED,
                ExpressionAttributeNames: { '#key': 'shard', '#epoch': 'epoch', '#revision': 'execCount' },
                ExpressionAttributeValues: marshall({ ':epoch': position.epoch, ':revision': position.execCount }),
              },
            },
          ],
        }),
        this.signal(),
      );
      return { kind: 'written' };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = (index: number) => reasons[index]?.Code === 'ConditionalCheckFailed';
      const duplicates = fills.filter((_, index) => failed(index)).map((fill) => fill.execId);
      if (duplicates.length > 0) return { kind: 'duplicates', execIds: duplicates };
      if (failed(fills.length)) return { kind: 'fenced' };
      // Cancelled for another reason (a conflicting transaction, throttling): not an answer; retry.
      throw error;
    }
  }

  async clearPendingEvent(table: 'orders' | 'fills', key: string, eventId: string): Promise<void> {
    const keyName = table === 'orders' ? TABLES.orders.partitionKey.name : TABLES.fills.partitionKey.name;
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.tables[table],
          Key: marshall({ [keyName]: key }),
          UpdateExpression: 'REMOVE eventPending, pendingEventId',
          ConditionExpression: 'pendingEventId = :eventId',
          ExpressionAttributeValues: marshall({ ':eventId': eventId }),
        }),
        this.signal(),
      );
    } catch (error) {
      // Another event became owed since (a newer order state): that one stays pending.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async claimPositions(shard: string, symbols: readonly string[], epoch: number): Promise<void> {
    for (const symbol of symbols) {
      try {
        await this.options.client.send(
          new UpdateItemCommand({
            TableName: this.options.tables.positions,
            Key: marshall({ shard, symbol }),
            UpdateExpression: 'SET #epoch = :epoch',
            // Only a stored position, and only from an older generation: a newer one's claim stands.
            ConditionExpression: 'attribute_exists(#shard) AND #epoch < :epoch',
            ExpressionAttributeNames: { '#shard': 'shard', '#epoch': 'epoch' },
            ExpressionAttributeValues: marshall({ ':epoch': epoch }),
          }),
          this.signal(),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
  }

  async loadPositions(shard: string): Promise<PositionRecord[]> {
    return this.query(PositionRecordSchema, 'position', {
      TableName: this.options.tables.positions,
      KeyConditionExpression: '#shard = :shard',
      ExpressionAttributeNames: { '#shard': 'shard' },
      ExpressionAttributeValues: marshall({ ':shard': shard }),
      ConsistentRead: true,
    });
  }

  async loadOpenOrders(shard: string): Promise<OrderRecord[]> {
    return this.query(OrderRecordSchema, 'order', {
      TableName: this.options.tables.orders,
      IndexName: 'open-by-shard',
      KeyConditionExpression: 'openShard = :shard',
      ExpressionAttributeValues: marshall({ ':shard': shard }),
    });
  }

  async storedExecIds(execIds: readonly string[]): Promise<Set<string>> {
    return new Set((await this.storedItems(this.options.tables.fills, 'execId', execIds)).keys());
  }

  async storedOrderStatuses(orderLinkIds: readonly string[]): Promise<Map<string, string>> {
    const items = await this.storedItems(this.options.tables.orders, 'orderLinkId', orderLinkIds, ['status']);
    return new Map([...items].map(([orderLinkId, item]) => [orderLinkId, typeof item.status === 'string' ? item.status : '']));
  }

  /** The items of these keys that the table holds, with the attributes asked for (consistent BatchGetItem). */
  private async storedItems(table: string, keyName: string, values: readonly string[], attributes: readonly string[] = []): Promise<Map<string, Record<string, unknown>>> {
    const stored = new Map<string, Record<string, unknown>>();
    const unique = [...new Set(values)];
    const names = Object.fromEntries([keyName, ...attributes].map((name, index) => [`#a${index}`, name]));
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] = unique.slice(start, start + BATCH_GET_LIMIT).map((value) => marshall({ [keyName]: value }));
      // DynamoDB may answer part of a batch (UnprocessedKeys): ask again for the rest.
      for (let round = 0; keys.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** round)));
        const answer = await this.options.client.send(
          new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys as never, ConsistentRead: true, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } } }),
          this.signal(),
        );
        for (const raw of answer.Responses?.[table] ?? []) {
          const item = unmarshall(raw);
          const value = item[keyName] as unknown;
          if (typeof value === 'string') stored.set(value, item);
        }
        keys = answer.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
    return stored;
  }

  async loadPendingEvents(shard: string): Promise<{ orders: OrderRecord[]; fills: FillRecord[] }> {
    const pending = (table: string) => ({
      TableName: table,
      IndexName: 'events-pending',
      KeyConditionExpression: 'eventPending = :shard',
      ExpressionAttributeValues: marshall({ ':shard': shard }),
    });
    const [orders, fills] = await Promise.all([
      this.query(OrderRecordSchema, 'order', pending(this.options.tables.orders)),
      this.query(FillRecordSchema, 'fill', pending(this.options.tables.fills)),
    ]);
    return { orders, fills };
  }

  private async query<T>(schema: z.ZodType<T>, what: string, input: QueryCommandInput): Promise<T[]> {
    const records: T[] = [];
    let startKey: QueryCommandInput['ExclusiveStartKey'];
    do {
      const answer = await this.options.client.send(new QueryCommand({ ...input, ...(startKey && { ExclusiveStartKey: startKey }) }), this.signal());
      for (const item of answer.Items ?? []) records.push(parseRecord(schema, what, unmarshall(item)));
      startKey = answer.LastEvaluatedKey;
    } while (startKey);
    return records;
  }
}
