/**
 * What a restart carries on from: the shard's stored positions, the executions they count, its orders
 * stored as open and the events still owed to the bus.
 *
 * The stored positions are read consistently, and so is the check of which recent executions they count:
 * the venue's executions since `overlapMs` before the newest stored one are listed, and the store says which
 * of them it holds (fills and positions are written together, so a stored fill is a counted fill). The
 * private stream's first backfill then starts at the same point: what is stored is skipped, the rest is
 * applied, and PnL, fees and rebates go on without a gap or a double count.
 */
import { type OrderRecord, orderFromRecord, positionFromRecord } from '../core/records.js';
import type { Order } from '../core/order.js';
import type { Position } from '../core/position.js';
import type { Side } from '../core/units.js';
import type { RestoredState } from '../engine/engine.js';
import type { JournalSeed } from '../engine/write-behind.js';
import type { Logger } from '../ports/logger.js';
import type { StateStore } from '../ports/state-store.js';
import type { VenueOpenOrder } from '../ports/venue-account.js';

/** How far back closed orders are looked for at most: Bybit keeps fully cancelled orders for a day. */
const CLOSED_ORDERS_REACH_MS = 24 * 3_600_000;

export interface RestoreOptions {
  readonly store: StateStore;
  readonly shard: string;
  /** This generation's epoch: the stored positions are claimed with it before they are read. */
  readonly epoch: number;
  readonly symbols: readonly string[];
  readonly overlapMs: number;
  readonly now: number;
  /** The venue's executions of a symbol in [start, end]: their ids and the orders they belong to. */
  readonly executions: (symbol: string, start: number, end: number) => Promise<{ execId: string; orderLinkId: string; side: Side | '' }[]>;
  /** Whether an orderLinkId was minted by some generation of this shard. */
  readonly isOurs: (orderLinkId: string) => boolean;
  /**
   * When an earlier generation was last seen alive (its newest heartbeat, unless it said it stopped): the
   * venue's closed orders since a little before then are checked against the store, since that generation
   * may have died with orders it never stored, which the venue (disconnect-cancel) then closed unwatched.
   */
  readonly lastSeenAlive: number | undefined;
  /** How far before `lastSeenAlive` the check reaches (a heartbeat interval and more), ms. */
  readonly aliveMarginMs: number;
  readonly closedOrders: (symbol: string, start: number, end: number) => Promise<VenueOpenOrder[]>;
  readonly logger: Logger;
}

export interface Restored {
  readonly state: RestoredState;
  readonly seed: JournalSeed;
  /** Where the first backfill of each restored symbol starts. */
  readonly resumeFrom: ReadonlyMap<string, number>;
}

export async function readStoredState(options: RestoreOptions): Promise<Restored> {
  const { store, shard, logger, now } = options;
  const configured = new Set(options.symbols);
  const positions: Position[] = [];
  const execCounts = new Map<string, number>();
  const appliedExecIds = new Set<string>();
  const resumeFrom = new Map<string, number>();
  const tradedOrders = new Map<string, { orderLinkId: string; symbol: string; side: Side }>();
  await store.claimPositions(shard, options.symbols, options.epoch);
  for (const record of await store.loadPositions(shard)) {
    if (!configured.has(record.symbol)) {
      logger.warn('a stored position of a symbol this shard no longer quotes; left as it is', { symbol: record.symbol, position: record.position });
      continue;
    }
    const { position, execCount } = positionFromRecord(record);
    positions.push(position);
    execCounts.set(record.symbol, execCount);
    if (position.lastExecTime === 0) continue;
    const start = Math.max(0, position.lastExecTime - options.overlapMs);
    const executions = await options.executions(record.symbol, start, now);
    for (const execId of await store.storedExecIds(executions.map((execution) => execution.execId))) appliedExecIds.add(execId);
    // Funding has no order (and no side).
    for (const { orderLinkId, side } of executions) if (side !== '' && orderLinkId !== '' && options.isOurs(orderLinkId)) tradedOrders.set(orderLinkId, { orderLinkId, symbol: record.symbol, side });
    resumeFrom.set(record.symbol, start);
  }

  const orders: { order: Order; level: number | undefined }[] = [];
  const orderRevisions = new Map<string, number>();
  const openRecords: OrderRecord[] = await store.loadOpenOrders(shard);
  for (const record of openRecords) {
    if (!configured.has(record.symbol)) continue;
    orders.push(orderFromRecord(record));
    orderRevisions.set(record.orderLinkId, record.revision);
  }

  // Orders that traded but were never stored: a generation killed between sending one and storing it,
  // whose order then filled (and closed) before anyone watched. Their final state is asked for at start.
  const storedTraded = await store.storedOrderStatuses([...tradedOrders.keys()]);
  const unstoredTradedOrders = [...tradedOrders.values()].filter((order) => !storedTraded.has(order.orderLinkId));
  // Orders closed while no generation watched, never stored: the venue still reports them (closed ones for a
  // day or more), with their final state.
  const unstoredClosedOrders: VenueOpenOrder[] = [];
  if (options.lastSeenAlive !== undefined) {
    const start = Math.max(options.lastSeenAlive - options.aliveMarginMs, now - CLOSED_ORDERS_REACH_MS);
    for (const symbol of options.symbols) {
      const ours = (await options.closedOrders(symbol, start, now)).filter((order) => order.orderLinkId !== '' && options.isOurs(order.orderLinkId));
      const stored = await store.storedOrderStatuses(ours.map((order) => order.orderLinkId));
      unstoredClosedOrders.push(...ours.filter((order) => !stored.has(order.orderLinkId)));
    }
  }

  const pending = await store.loadPendingEvents(shard);
  logger.info('read the stored state', {
    positions: positions.length,
    openOrders: orders.length,
    executionsCounted: appliedExecIds.size,
    eventsOwed: pending.orders.length + pending.fills.length,
    unstoredTradedOrders: unstoredTradedOrders.length,
    unstoredClosedOrders: unstoredClosedOrders.length,
  });
  return {
    state: { positions, appliedExecIds, orders, unstoredTradedOrders, unstoredClosedOrders },
    seed: { orderRevisions, execCounts, pendingOrders: pending.orders, pendingFills: pending.fills },
    resumeFrom,
  };
}
