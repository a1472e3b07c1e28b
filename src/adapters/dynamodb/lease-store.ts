/**
 * The single-writer lease of a shard (src/core/lease.ts) in the control table, item `lease#<shard>`.
 *
 * Taking it is a read, then a put conditioned on what was read (the same epoch, and expired or already
 * ours): two engines that read the same expired lease cannot both take it, since the first put changes
 * the epoch the second one's condition names. Renewing and releasing are conditioned on owner and epoch,
 * so a generation that lost the lease learns it on its next renewal.
 */
import { ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { type Lease, decideTake, renewed } from '../../core/lease.js';
import { parseRecord } from '../../core/records.js';

export interface DynamoLeaseStoreOptions {
  readonly client: DynamoDBClient;
  /** The control table's name. */
  readonly table: string;
  readonly requestTimeoutMs: number;
}

const LeaseItemSchema = z.strictObject({
  pk: z.string().startsWith('lease#'),
  shard: z.string().min(1),
  owner: z.string().min(1),
  epoch: z.int().positive(),
  expiresAt: z.int().nonnegative(),
  updatedAt: z.int().nonnegative(),
});

export type TakeResult = { readonly ok: true; readonly lease: Lease } | { readonly ok: false; readonly heldBy: Lease | undefined };

const keyOf = (shard: string) => `lease#${shard}`;

export class DynamoLeaseStore {
  constructor(private readonly options: DynamoLeaseStoreOptions) {}

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) };
  }

  /** The shard's lease as stored (read consistently), if any. */
  async read(shard: string): Promise<Lease | undefined> {
    const answer = await this.options.client.send(new GetItemCommand({ TableName: this.options.table, Key: marshall({ pk: keyOf(shard) }), ConsistentRead: true }), this.signal());
    if (!answer.Item) return undefined;
    const item = parseRecord(LeaseItemSchema, 'lease', unmarshall(answer.Item));
    return { shard: item.shard, owner: item.owner, epoch: item.epoch, expiresAt: item.expiresAt };
  }

  /** Takes the lease if it is free, expired or already ours, with the next epoch. */
  async take(shard: string, owner: string, now: number, ttlMs: number): Promise<TakeResult> {
    return this.takeFrom(await this.read(shard), shard, owner, now, ttlMs);
  }

  /** Takes the lease as `current` showed it; refused if anyone changed it since. */
  async takeFrom(current: Lease | undefined, shard: string, owner: string, now: number, ttlMs: number): Promise<TakeResult> {
    const decision = decideTake(current, shard, owner, now, ttlMs);
    if (decision.kind === 'held') return { ok: false, heldBy: decision.by };
    const { lease } = decision;
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.table,
          Item: marshall({ pk: keyOf(shard), shard, owner, epoch: lease.epoch, expiresAt: lease.expiresAt, updatedAt: now }),
          ...(current
            ? {
                ConditionExpression: '#epoch = :seen AND (#expiresAt <= :now OR #owner = :owner)',
                ExpressionAttributeNames: { '#epoch': 'epoch', '#expiresAt': 'expiresAt', '#owner': 'owner' },
                ExpressionAttributeValues: marshall({ ':seen': current.epoch, ':now': now, ':owner': owner }),
              }
            : { ConditionExpression: 'attribute_not_exists(pk)' }),
        }),
        this.signal(),
      );
      return { ok: true, lease };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { ok: false, heldBy: await this.read(shard) };
    }
  }

  /** Extends the lease while it is still ours (same owner and epoch); undefined when it was lost. */
  async renew(lease: Lease, now: number, ttlMs: number): Promise<Lease | undefined> {
    const next = renewed(lease, now, ttlMs);
    return (await this.update(lease, next.expiresAt, now)) ? next : undefined;
  }

  /** Gives the lease up at once (a graceful stop), so that a standby need not wait for the expiry. */
  async release(lease: Lease, now: number): Promise<boolean> {
    return this.update(lease, 0, now);
  }

  private async update(lease: Lease, expiresAt: number, now: number): Promise<boolean> {
    try {
      await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.table,
          Key: marshall({ pk: keyOf(lease.shard) }),
          UpdateExpression: 'SET #expiresAt = :expiresAt, #updatedAt = :now',
          ConditionExpression: '#owner = :owner AND #epoch = :epoch',
          ExpressionAttributeNames: { '#expiresAt': 'expiresAt', '#updatedAt': 'updatedAt', '#owner': 'owner', '#epoch': 'epoch' },
          ExpressionAttributeValues: marshall({ ':expiresAt': expiresAt, ':now': now, ':owner': lease.owner, ':epoch': lease.epoch }),
        }),
        this.signal(),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
