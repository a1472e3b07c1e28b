/**
 * Ports: where the engine's state is kept (src/adapters/dynamodb/state-store.ts) and where its events go
 * (src/adapters/eventbridge/publisher.ts). The write-behind (src/engine/write-behind.ts) is their only
 * writer; the restore at start (src/app/restore.ts) their only reader in the engine.
 *
 * Every method throws on a failure it cannot classify (throttling, a timeout, a 5xx), and the caller
 * retries; the outcomes that retrying cannot change (a newer item already there) are answers, not errors.
 */
import type { DetailType } from '../core/events.js';
import type { FillRecord, OrderRecord, PositionRecord } from '../core/records.js';

/** DynamoDB allows 100 items per transaction: 99 fills and their position. */
export const MAX_FILLS_PER_WRITE = 99;

/** What became of one order write. */
export type OrderWriteOutcome = 'written' | 'stale';

/**
 * What became of an atomic fills-and-position write:
 * - `written`: every fill and the position are stored;
 * - `duplicates`: nothing was written, because these fills are stored already (an earlier attempt whose
 *   answer was lost, or a double count); write the rest again without them;
 * - `fenced`: nothing was written, because a newer generation wrote the position: this one must not.
 */
export type FillsWriteOutcome =
  | { readonly kind: 'written' }
  | { readonly kind: 'duplicates'; readonly execIds: readonly string[] }
  | { readonly kind: 'fenced' };

export interface StateStore {
  /** Writes an order unless the stored item is newer (by epoch, then revision). */
  putOrder(record: OrderRecord): Promise<OrderWriteOutcome>;
  /** Writes fills (each at most once, by execId) and the position after them, all or nothing. At most 99 fills. */
  putFills(fills: readonly FillRecord[], position: PositionRecord): Promise<FillsWriteOutcome>;
  /** Marks an item's owed event as published, unless another event has become owed since. */
  clearPendingEvent(table: 'orders' | 'fills', key: string, eventId: string): Promise<void>;

  /**
   * Marks the shard's stored positions as this generation's (epoch), before reading them: a write an
   * earlier generation still has in flight (sent just before it was killed) is then refused, instead of
   * landing after the read and being overwritten.
   */
  claimPositions(shard: string, symbols: readonly string[], epoch: number): Promise<void>;
  /** Every position of the shard (read consistently). */
  loadPositions(shard: string): Promise<PositionRecord[]>;
  /** The shard's orders stored as open (an index: it can lag the last writes by a moment). */
  loadOpenOrders(shard: string): Promise<OrderRecord[]>;
  /** Which of these execIds are stored (read consistently). */
  storedExecIds(execIds: readonly string[]): Promise<Set<string>>;
  /**
   * The stored status of each of these orders that is stored (consistent reads). An execution of one that
   * is not names an order a killed generation never stored; an order found at the venue is written only
   * where the store lacks its state.
   */
  storedOrderStatuses(orderLinkIds: readonly string[]): Promise<Map<string, string>>;
  /** Items whose event is still owed to the bus (an index: it can lag the last writes by a moment). */
  loadPendingEvents(shard: string): Promise<{ readonly orders: OrderRecord[]; readonly fills: FillRecord[] }>;
}

export interface BusEvent {
  readonly detailType: DetailType;
  /** The event's detail, built with the schemas of src/core/events.ts; its `eventId` is the idempotency key. */
  readonly detail: { readonly eventId: string } & object;
  readonly time: number;
}

export interface EventPublisher {
  /** Puts up to 10 events; resolves with the indexes of those the bus refused (to be sent again). */
  publish(events: readonly BusEvent[]): Promise<readonly number[]>;
}
