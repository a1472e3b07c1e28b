/**
 * The newest heartbeat of each shard's engine (src/core/events.ts EngineHeartbeatV1) in the control table,
 * item `heartbeat#<shard>`. The engine writes it on every heartbeat, conditioned on its epoch being no
 * older than the stored one, so a generation that lost the lease cannot make a dead shard look alive.
 * The risk evaluator's stale-engine check and the freeze API's status read it.
 */
import { type AttributeValue, BatchGetItemCommand, type BatchGetItemCommandOutput, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { type EngineHeartbeatV1, EngineHeartbeatV1Schema } from '../../core/events.js';
import { parseRecord } from '../../core/records.js';

export interface DynamoHeartbeatStoreOptions {
  readonly client: DynamoDBClient;
  /** The control table's name. */
  readonly table: string;
  readonly requestTimeoutMs: number;
}

const HeartbeatItemSchema = z.strictObject({
  pk: z.string().startsWith('heartbeat#'),
  shard: z.string().min(1),
  epoch: z.int().nonnegative(),
  sentAt: z.int().nonnegative(),
  /** The heartbeat's detail, as JSON (parsed with its event schema). */
  detail: z.string(),
});

const keyOf = (shard: string) => `heartbeat#${shard}`;
/** BatchGetItem takes at most 100 keys. */
const MAX_KEYS_PER_BATCH = 100;

export class DynamoHeartbeatStore {
  constructor(private readonly options: DynamoHeartbeatStoreOptions) {}

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  /** Stores the heartbeat unless a newer generation's is stored: 'stale' then. */
  async put(heartbeat: EngineHeartbeatV1): Promise<'written' | 'stale'> {
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.table,
          Item: marshall({ pk: keyOf(heartbeat.shard), shard: heartbeat.shard, epoch: heartbeat.epoch, sentAt: heartbeat.sentAt, detail: JSON.stringify(heartbeat) }),
          ConditionExpression: 'attribute_not_exists(pk) OR #epoch <= :epoch',
          ExpressionAttributeNames: { '#epoch': 'epoch' },
          ExpressionAttributeValues: marshall({ ':epoch': heartbeat.epoch }),
        }),
        this.signal(),
      );
      return 'written';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'stale';
      throw error;
    }
  }

  /** The newest heartbeat of each shard that has one (consistent reads). */
  async read(shards: readonly string[]): Promise<Map<string, EngineHeartbeatV1>> {
    const found = new Map<string, EngineHeartbeatV1>();
    for (let start = 0; start < shards.length; start += MAX_KEYS_PER_BATCH) {
      let keys: Record<string, AttributeValue>[] | undefined = shards.slice(start, start + MAX_KEYS_PER_BATCH).map((shard) => marshall({ pk: keyOf(shard) }));
      // Unprocessed keys (throttling) are asked again until none is left.
      while (keys && keys.length > 0) {
        const answer: BatchGetItemCommandOutput = await this.options.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.options.table]: { Keys: keys, ConsistentRead: true } } }),
          this.signal(),
        );
        for (const raw of answer.Responses?.[this.options.table] ?? []) {
          const item = parseRecord(HeartbeatItemSchema, 'heartbeat', unmarshall(raw));
          let detail: unknown;
          try {
            detail = JSON.parse(item.detail);
          } catch {
            detail = undefined;
          }
          found.set(item.shard, parseRecord(EngineHeartbeatV1Schema, `heartbeat of ${item.shard}`, detail));
        }
        keys = answer.UnprocessedKeys?.[this.options.table]?.Keys;
      }
    }
    return found;
  }
}
