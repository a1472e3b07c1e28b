/**
 * The single-writer lease of a shard on the emulator, with the real DynamoDB client: one holder at a time,
 * renewals only by the holder, a standby taking over after the expiry with a larger epoch (the fencing
 * token), a release handing over at once, and a take from a stale read refused.
 */
import { describe, expect, it } from '@jest/globals';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { DynamoLeaseStore } from '../../src/adapters/dynamodb/lease-store.js';
import { epochFloor } from '../../src/core/lease.js';
import { RecordError } from '../../src/core/records.js';
import { useProvisionedStage } from '../support/aws.js';

const aws = useProvisionedStage();
const TTL = 10_000;
const T0 = 1_800_000_000_000;

function store(): DynamoLeaseStore {
  return new DynamoLeaseStore({ client: aws.clients.dynamodb, table: aws.stage.names.tables.control, requestTimeoutMs: 5_000 });
}

describe('DynamoLeaseStore', () => {
  it('one holder at a time; only the holder renews; a standby takes over after the expiry with a larger epoch', async () => {
    const first = await store().take('s-a', 'engine-1', T0, TTL);
    if (!first.ok) throw new Error('the free lease was not taken');
    expect(first.lease).toEqual({ shard: 's-a', owner: 'engine-1', epoch: epochFloor(T0), expiresAt: T0 + TTL });

    // Held: a second engine is refused and told by whom.
    expect(await store().take('s-a', 'engine-2', T0 + 1_000, TTL)).toEqual({ ok: false, heldBy: first.lease });
    // The holder renews; nobody else can, nor the holder with another epoch.
    const renewed = await store().renew(first.lease, T0 + 5_000, TTL);
    expect(renewed?.expiresAt).toBe(T0 + 5_000 + TTL);
    expect(await store().renew({ ...first.lease, owner: 'engine-2' }, T0 + 5_000, TTL)).toBeUndefined();
    expect(await store().renew({ ...first.lease, epoch: first.lease.epoch + 1 }, T0 + 5_000, TTL)).toBeUndefined();

    // Not renewed in time: the standby takes it, with the next epoch (not below the time's deciseconds).
    const later = T0 + 5_000 + TTL + 1;
    const second = await store().take('s-a', 'engine-2', later, TTL);
    if (!second.ok) throw new Error('the expired lease was not taken');
    expect(second.lease.epoch).toBe(epochFloor(later));
    expect(second.lease.epoch).toBeGreaterThan(first.lease.epoch);
    // The old holder learns it on its next renewal, and cannot take it back while the new one holds it.
    expect(await store().renew(first.lease, later + 1, TTL)).toBeUndefined();
    expect(await store().take('s-a', 'engine-1', later + 2, TTL)).toMatchObject({ ok: false, heldBy: { owner: 'engine-2' } });
  });

  it('a release hands the lease over at once, and the epoch still grows by one within a decisecond', async () => {
    const first = await store().take('s-b', 'engine-1', T0, TTL);
    if (!first.ok) throw new Error('not taken');
    expect(await store().release(first.lease, T0 + 10)).toBe(true);
    expect(await store().release(first.lease, T0 + 11)).toBe(true);
    const second = await store().take('s-b', 'engine-2', T0 + 20, TTL);
    expect(second).toMatchObject({ ok: true, lease: { owner: 'engine-2', epoch: first.lease.epoch + 1 } });
    // A release by the one who lost it changes nothing.
    expect(await store().release(first.lease, T0 + 30)).toBe(false);
    expect((await store().read('s-b'))?.owner).toBe('engine-2');
  });

  it('refuses a take from a stale read: two engines that saw the same expired lease cannot both hold it', async () => {
    const first = await store().take('s-c', 'engine-1', T0, TTL);
    if (!first.ok) throw new Error('not taken');
    const later = T0 + TTL + 1;
    const seen = await store().read('s-c');
    const winner = await store().takeFrom(seen, 's-c', 'engine-2', later, TTL);
    expect(winner.ok).toBe(true);
    expect(await store().takeFrom(seen, 's-c', 'engine-3', later, TTL)).toMatchObject({ ok: false, heldBy: { owner: 'engine-2' } });
  });

  it('names a corrupt lease item instead of trusting it', async () => {
    await aws.clients.dynamodb.send(new PutItemCommand({ TableName: aws.stage.names.tables.control, Item: marshall({ pk: 'lease#s-d', shard: 's-d', owner: 'engine-1', epoch: 'seven', expiresAt: 1, updatedAt: 1 }) }));
    await expect(store().read('s-d')).rejects.toThrow(RecordError);
    await expect(store().take('s-d', 'engine-2', T0, TTL)).rejects.toThrow(/corrupt lease: epoch/);
  });
});
