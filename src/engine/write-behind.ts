/**
 * The engine's state and events, written behind the quoting loop.
 *
 * The engine tells the journal what changed (an order's state, an execution with the position after it)
 * with a plain method call that only queues; a single writer drains the queues in the background:
 *
 *   fills       per symbol, in the order they were applied, in atomic batches with the position after
 *               them (src/adapters/dynamodb/state-store.ts): stored once each, never ahead of the position
 *   orders      coalesced per orderLinkId (only the newest state is written), versioned by (epoch, revision)
 *   earlier     orders an earlier generation sent, found at the venue (a restart's backfill reports the
 *               last 500 closed ones of each symbol): looked up in batches, written only where the store
 *               lacks that state, last of all; fills never wait behind them
 *   events      after their item is stored (the item carries the owed event: an outbox), in batches of 10;
 *               the bus's refusals are sent again, then the item's owed mark is cleared
 *
 * Nothing is dropped: a failed write stays queued and is retried with backoff and jitter; after
 * `logAfterAttempts` failures its content is logged, so that it is on record even if the process dies
 * before the store recovers. The queues stay bounded because the engine asks `blocker()` before quoting:
 * past `stopQuotingLagMs` of lag or `maxPendingItems` items it stops quoting (and says why) until the
 * writer has caught up, so no new orders and almost no new fills arrive meanwhile. Orders found from
 * earlier generations do not hold quoting up: they are history, and bounded by what the venue reports.
 */
import type { Instrument } from '../core/instrument.js';
import { type Order, isOrderOpen, orderStatus } from '../core/order.js';
import type { Execution, Position } from '../core/position.js';
import { type FillRecord, type OrderRecord, fillEvent, fillRecord, orderRecord, orderUpdateEvent, positionRecord } from '../core/records.js';
import type { Logger } from '../ports/logger.js';
import type { EngineJournal } from './engine.js';
import { type BusEvent, type EventPublisher, MAX_FILLS_PER_WRITE, type StateStore } from '../ports/state-store.js';

export interface WriteBehindSettings {
  /** Pause between rounds of writes while nothing fails, ms. */
  readonly flushIntervalMs: number;
  /** The engine stops quoting while the oldest unwritten item is older than this, ms. */
  readonly stopQuotingLagMs: number;
  /** The engine stops quoting while more items than this wait. */
  readonly maxPendingItems: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** After this many failed attempts, an item's content is logged (it is still retried). */
  readonly logAfterAttempts: number;
}

export interface WriteBehindDeps {
  readonly store: StateStore;
  readonly publisher: EventPublisher;
  readonly shard: string;
  /** This generation's epoch: every item it writes carries it (fencing). */
  readonly epoch: number;
  readonly instruments: ReadonlyMap<string, Instrument>;
  readonly settings: WriteBehindSettings;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly logger: Logger;
}

/** State read back at start, for the journal to carry on from. */
export interface JournalSeed {
  /** Revisions of the stored orders this generation tracks again. */
  readonly orderRevisions: ReadonlyMap<string, number>;
  /** Executions counted in each stored position. */
  readonly execCounts: ReadonlyMap<string, number>;
  /** Items whose event was still owed. */
  readonly pendingOrders: readonly OrderRecord[];
  readonly pendingFills: readonly FillRecord[];
}

export interface WriteBehindStatus {
  readonly pendingOrders: number;
  /** Orders found from earlier generations, still to look up (and write where the store lacks them). */
  readonly pendingEarlierOrders: number;
  readonly pendingFills: number;
  readonly pendingEvents: number;
  /** Published events whose owed mark is still to be cleared. */
  readonly pendingClears: number;
  readonly oldestPendingMs: number;
  readonly written: { readonly orders: number; readonly fills: number; readonly positions: number; readonly events: number };
  readonly retries: number;
  readonly duplicateFills: number;
  readonly staleOrders: number;
  /** Orders found from earlier generations that the store held already: not written again. */
  readonly earlierOrdersStored: number;
  readonly fenced: boolean;
}

const BLOCKER_RECHECK_MS = 20;
/** Orders written side by side: one slow item must not hold up the rest, and the table's capacity is shared. */
const ORDER_WRITES_AT_ONCE = 8;
/** Orders found from earlier generations looked up in one batch read (BatchGetItem takes 100 keys). */
const EARLIER_LOOKUP_BATCH = 100;

interface PendingOrder {
  readonly order: Order;
  readonly level: number | undefined;
  readonly revision: number;
  readonly since: number;
  attempts: number;
}

interface PendingFill {
  readonly execution: Execution;
  readonly position: Position;
  readonly execCount: number;
  readonly since: number;
  attempts: number;
}

interface PendingClear {
  readonly table: 'orders' | 'fills';
  readonly key: string;
  readonly eventId: string;
  readonly since: number;
  attempts: number;
}

interface PendingEvent {
  readonly event: BusEvent;
  /** The item whose owed mark is cleared once the event is on the bus. */
  readonly owner: { readonly table: 'orders' | 'fills'; readonly key: string };
  readonly since: number;
  attempts: number;
}

export class WriteBehind implements EngineJournal {
  private readonly orders = new Map<string, PendingOrder>();
  private readonly earlier = new Map<string, PendingOrder>();
  private readonly revisions = new Map<string, number>();
  /** The last order-update event queued per order: the same venue state is not announced twice. */
  private readonly announced = new Map<string, string>();
  private readonly fills = new Map<string, PendingFill[]>();
  private readonly execCounts = new Map<string, number>();
  private events: PendingEvent[] = [];
  /** Owed marks of events already on the bus, still to clear. */
  private readonly clears: PendingClear[] = [];
  private readonly written = { orders: 0, fills: 0, positions: 0, events: 0 };
  private retries = 0;
  private duplicateFills = 0;
  private staleOrders = 0;
  private earlierOrdersStored = 0;
  private fenced = false;
  private consecutiveFailures = 0;
  private loop: Promise<void> | undefined;
  /** A holder: the writer's loop reads it after every await. */
  private readonly life = { running: false };
  private wake: (() => void) | undefined;
  private verdict: { at: number; value: string | undefined } = { at: Number.NEGATIVE_INFINITY, value: undefined };

  constructor(private readonly deps: WriteBehindDeps) {}

  // ---------------------------------------------------------------- the journal (hot path: queue only)

  orderChanged(order: Order, level: number | undefined): void {
    const { orderLinkId } = order.intent;
    const since = this.orders.get(orderLinkId)?.since ?? this.deps.clock();
    this.orders.set(orderLinkId, { order, level, revision: this.nextRevision(orderLinkId), since, attempts: 0 });
  }

  earlierOrderFound(order: Order): void {
    const { orderLinkId } = order.intent;
    const since = this.earlier.get(orderLinkId)?.since ?? this.deps.clock();
    this.earlier.set(orderLinkId, { order, level: undefined, revision: this.nextRevision(orderLinkId), since, attempts: 0 });
  }

  /** Revisions go up with every state queued, whichever queue: a later state is never overwritten by an earlier one. */
  private nextRevision(orderLinkId: string): number {
    const revision = (this.revisions.get(orderLinkId) ?? 0) + 1;
    this.revisions.set(orderLinkId, revision);
    return revision;
  }

  executionApplied(execution: Execution, position: Position): void {
    const execCount = (this.execCounts.get(execution.symbol) ?? 0) + 1;
    this.execCounts.set(execution.symbol, execCount);
    let queue = this.fills.get(execution.symbol);
    if (!queue) this.fills.set(execution.symbol, (queue = []));
    queue.push({ execution, position, execCount, since: this.deps.clock(), attempts: 0 });
  }

  /** Carries on from the stored state: revisions and counts continue, owed events are sent. */
  seed(seed: JournalSeed): void {
    for (const [orderLinkId, revision] of seed.orderRevisions) this.revisions.set(orderLinkId, revision);
    for (const [symbol, count] of seed.execCounts) this.execCounts.set(symbol, count);
    const now = this.deps.clock();
    for (const record of seed.pendingFills) {
      if (record.pendingEventId !== undefined && record.kind === 'trade') this.queueEvent({ detailType: 'Fill', detail: fillEvent(record), time: record.execTime }, 'fills', record.execId, now);
    }
    for (const record of seed.pendingOrders) this.queueOrderEvent(record, now);
  }

  // ---------------------------------------------------------------- health

  /** Why the engine must not quote now, if it must not. Asked on every book update: the answer is kept for a few ms. */
  blocker(now: number): string | undefined {
    if (now - this.verdict.at < BLOCKER_RECHECK_MS) return this.verdict.value;
    this.verdict = { at: now, value: this.assess(now) };
    return this.verdict.value;
  }

  private assess(now: number): string | undefined {
    if (this.fenced) return 'state writes fenced: a newer generation wrote this shard\'s positions';
    const pending = this.pendingCount() - this.earlier.size;
    if (pending > this.deps.settings.maxPendingItems) return `state writes behind: ${pending} items waiting`;
    const lag = this.oldestPendingMs(now);
    if (lag > this.deps.settings.stopQuotingLagMs) return `state writes behind: oldest waiting ${Math.round(lag)} ms`;
    return undefined;
  }

  status(): WriteBehindStatus {
    let pendingFills = 0;
    for (const queue of this.fills.values()) pendingFills += queue.length;
    return {
      pendingOrders: this.orders.size,
      pendingEarlierOrders: this.earlier.size,
      pendingFills,
      pendingEvents: this.events.length,
      pendingClears: this.clears.length,
      oldestPendingMs: this.oldestPendingMs(this.deps.clock()),
      written: { ...this.written },
      retries: this.retries,
      duplicateFills: this.duplicateFills,
      staleOrders: this.staleOrders,
      earlierOrdersStored: this.earlierOrdersStored,
      fenced: this.fenced,
    };
  }

  /** Rounds of writes under way (one, or none: the loop and stop() never overlap). */
  private rounds = 0;

  private pendingCount(): number {
    let count = this.orders.size + this.earlier.size + this.events.length + this.clears.length;
    for (const queue of this.fills.values()) count += queue.length;
    return count;
  }

  /** Orders found from earlier generations are left out: they are history and do not hold quoting up. */
  private oldestPendingMs(now: number): number {
    let oldest = now;
    for (const entry of this.orders.values()) oldest = Math.min(oldest, entry.since);
    for (const queue of this.fills.values()) if (queue[0]) oldest = Math.min(oldest, queue[0].since);
    if (this.events[0]) oldest = Math.min(oldest, this.events[0].since);
    if (this.clears[0]) oldest = Math.min(oldest, this.clears[0].since);
    return now - oldest;
  }

  // ---------------------------------------------------------------- the writer

  start(): void {
    if (this.life.running) return;
    this.life.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { life } = this;
    while (life.running) {
      const ok = await this.round();
      // stop() takes over from here: it writes what is left against its own deadline.
      if (this.stopping()) break;
      // Fills that arrived while orders were written go at once (the round gave way to them).
      if (ok && this.fillsWaiting()) continue;
      await this.pause(ok ? this.deps.settings.flushIntervalMs : this.backoffMs());
    }
  }

  private stopping(): boolean {
    return !this.life.running;
  }

  /** Waits, unless stop() or drained() wants the writer now. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private backoffMs(): number {
    const { backoffBaseMs, backoffMaxMs } = this.deps.settings;
    const ceiling = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(20, this.consecutiveFailures - 1));
    // Full jitter: engines that failed together do not retry together.
    return ceiling / 2 + (this.deps.random() * ceiling) / 2;
  }

  /** One pass over every queue; false when something failed (the next pass backs off). */
  private async round(): Promise<boolean> {
    this.rounds += 1;
    try {
      return await this.roundOnce();
    } finally {
      this.rounds -= 1;
    }
  }

  private async roundOnce(): Promise<boolean> {
    let ok = true;
    for (const symbol of [...this.fills.keys()]) ok = (await this.writeFills(symbol)) && ok;
    ok = (await this.writeOrders(this.orders, [...this.orders.values()])) && ok;
    ok = (await this.publishEvents()) && ok;
    ok = (await this.writeClears()) && ok;
    ok = (await this.writeEarlierOrders()) && ok;
    this.consecutiveFailures = ok ? 0 : this.consecutiveFailures + 1;
    if (!ok) this.retries += 1;
    return ok;
  }

  private instrument(symbol: string): Instrument {
    const instrument = this.deps.instruments.get(symbol);
    if (!instrument) throw new Error(`no instrument for ${symbol}`);
    return instrument;
  }

  private async writeFills(symbol: string): Promise<boolean> {
    const queue = this.fills.get(symbol);
    const instrument = this.instrument(symbol);
    while (queue && queue.length > 0) {
      const batch = queue.slice(0, MAX_FILLS_PER_WRITE);
      const last = batch[batch.length - 1];
      if (!last) break;
      const now = this.deps.clock();
      const records = batch.map((entry) => fillRecord(entry.execution, instrument, { shard: this.deps.shard, now }));
      const position = positionRecord(last.position, instrument, { shard: this.deps.shard, execCount: last.execCount, epoch: this.deps.epoch, revision: last.execCount, now });
      let outcome;
      try {
        outcome = await this.deps.store.putFills(records, position);
      } catch (error) {
        this.failed(batch, 'fills and position', (entry) => ({ execId: entry.execution.execId, symbol, execution: describeExecution(entry.execution) }), error);
        return false;
      }
      if (outcome.kind === 'fenced') {
        this.fenced = true;
        this.deps.logger.error('a newer generation wrote this shard\'s position: this engine must not write; its unwritten fills follow', { symbol, fills: queue.map((entry) => describeExecution(entry.execution)) });
        queue.length = 0;
        return false;
      }
      if (outcome.kind === 'duplicates') {
        // Stored by an attempt whose answer was lost: done. Their events may still be owed.
        const stored = new Set(outcome.execIds);
        this.duplicateFills += stored.size;
        this.deps.logger.warn('fills already stored; writing the rest without them', { symbol, execIds: outcome.execIds });
        const remaining = queue.filter((entry) => !stored.has(entry.execution.execId));
        for (const record of records) if (stored.has(record.execId)) this.queueFillEvent(record, now);
        queue.splice(0, queue.length, ...remaining);
        continue;
      }
      queue.splice(0, batch.length);
      this.written.fills += records.length;
      this.written.positions += 1;
      for (const record of records) this.queueFillEvent(record, now);
    }
    return true;
  }

  private fillsWaiting(): boolean {
    for (const queue of this.fills.values()) if (queue.length > 0) return true;
    return false;
  }

  /** Writes these entries of a queue, a few at a time; gives way (returns) as soon as fills wait. */
  private async writeOrders(queue: Map<string, PendingOrder>, entries: readonly PendingOrder[]): Promise<boolean> {
    let ok = true;
    const now = this.deps.clock();
    for (let start = 0; start < entries.length; start += ORDER_WRITES_AT_ONCE) {
      if (start > 0 && this.fillsWaiting()) break;
      const slice = entries.slice(start, start + ORDER_WRITES_AT_ONCE);
      await Promise.all(
        slice.map(async (entry) => {
          const { orderLinkId, symbol } = entry.order.intent;
          const record = orderRecord(entry.order, this.instrument(symbol), { shard: this.deps.shard, level: entry.level, epoch: this.deps.epoch, revision: entry.revision, now });
          let outcome;
          try {
            outcome = await this.deps.store.putOrder(record);
          } catch (error) {
            ok = false;
            this.failed([entry], 'order', () => record, error);
            return;
          }
          // A newer state queued meanwhile stays queued.
          if (queue.get(orderLinkId)?.revision === entry.revision) queue.delete(orderLinkId);
          if (outcome === 'stale') {
            this.staleOrders += 1;
            this.deps.logger.warn('a newer state of this order is stored; not overwritten', { orderLinkId, revision: entry.revision, epoch: this.deps.epoch });
            return;
          }
          this.written.orders += 1;
          this.queueOrderEvent(record, now);
          if (!isOrderOpen(entry.order) && !this.orders.has(orderLinkId) && !this.earlier.has(orderLinkId)) {
            this.revisions.delete(orderLinkId);
            this.announced.delete(orderLinkId);
          }
        }),
      );
    }
    return ok;
  }

  /**
   * Orders found from earlier generations, a batch at a time: those the store holds in the same state are
   * done; the rest (a killed generation never stored them, or stored an older state) are written like any
   * order, with their event.
   */
  private async writeEarlierOrders(): Promise<boolean> {
    let ok = true;
    while (this.earlier.size > 0 && ok && !this.fillsWaiting()) {
      const batch = [...this.earlier.values()].slice(0, EARLIER_LOOKUP_BATCH);
      let stored: Map<string, string>;
      try {
        stored = await this.deps.store.storedOrderStatuses(batch.map((entry) => entry.order.intent.orderLinkId));
      } catch (error) {
        this.failed(batch, 'orders found from earlier generations', (entry) => entry.order, error);
        return false;
      }
      const missing: PendingOrder[] = [];
      for (const entry of batch) {
        const { orderLinkId } = entry.order.intent;
        if (stored.get(orderLinkId) !== orderStatus(entry.order)) {
          missing.push(entry);
          continue;
        }
        this.earlierOrdersStored += 1;
        if (this.earlier.get(orderLinkId)?.revision === entry.revision) this.earlier.delete(orderLinkId);
      }
      // Gives way to fills; what it left stays queued for the next round.
      ok = await this.writeOrders(this.earlier, missing);
    }
    return ok;
  }

  private queueFillEvent(record: FillRecord, now: number): void {
    if (record.pendingEventId === undefined || record.kind !== 'trade') return;
    this.queueEvent({ detailType: 'Fill', detail: fillEvent(record), time: record.execTime }, 'fills', record.execId, now);
  }

  private queueOrderEvent(record: OrderRecord, now: number): void {
    const instrument = this.deps.instruments.get(record.symbol);
    if (record.pendingEventId === undefined || !instrument) return;
    if (this.announced.get(record.orderLinkId) === record.pendingEventId) return;
    const detail = orderUpdateEvent(record, instrument);
    if (!detail) return;
    this.announced.set(record.orderLinkId, record.pendingEventId);
    this.queueEvent({ detailType: 'OrderUpdate', detail, time: detail.updatedTime }, 'orders', record.orderLinkId, now);
  }

  private queueEvent(event: BusEvent, table: 'orders' | 'fills', key: string, now: number): void {
    this.events.push({ event, owner: { table, key }, since: now, attempts: 0 });
  }

  private async publishEvents(): Promise<boolean> {
    while (this.events.length > 0) {
      const batch = this.events.slice(0, 10);
      let refused: readonly number[];
      try {
        refused = await this.deps.publisher.publish(batch.map((entry) => entry.event));
      } catch (error) {
        this.failed(batch, 'events', (entry) => entry.event, error);
        return false;
      }
      const again = new Set(refused);
      const published = batch.filter((_, index) => !again.has(index));
      const retry = batch.filter((_, index) => again.has(index));
      this.written.events += published.length;
      this.events = [...retry, ...this.events.slice(batch.length)];
      await this.clearOwed(published);
      if (retry.length > 0) {
        this.failed(retry, 'events', (entry) => entry.event, new Error(`the bus refused ${retry.length} of ${batch.length} events`));
        return false;
      }
    }
    return true;
  }

  /** The events are on the bus: their items no longer owe them. A failure here costs a duplicate after a restart, nothing more. */
  private async clearOwed(published: readonly PendingEvent[]): Promise<void> {
    const now = this.deps.clock();
    for (const entry of published) this.clears.push({ ...entry.owner, eventId: entry.event.detail.eventId, since: now, attempts: 0 });
    await this.writeClears();
  }

  /**
   * Clears the owed marks of published events, a few at a time; a failed one stays queued and is tried
   * again (were the process to die first, the restart would publish the event once more, same eventId).
   */
  private async writeClears(): Promise<boolean> {
    let ok = true;
    const failed: PendingClear[] = [];
    while (this.clears.length > 0) {
      const slice = this.clears.splice(0, 8);
      await Promise.all(
        slice.map(async (entry) => {
          try {
            await this.deps.store.clearPendingEvent(entry.table, entry.key, entry.eventId);
          } catch (error) {
            ok = false;
            failed.push(entry);
            this.failed([entry], 'published marks', () => ({ eventId: entry.eventId }), error);
          }
        }),
      );
    }
    this.clears.push(...failed);
    return ok;
  }

  private failed<T extends { attempts: number }>(entries: readonly T[], what: string, content: (entry: T) => unknown, error: unknown): void {
    const logAt = this.deps.settings.logAfterAttempts;
    for (const entry of entries) {
      entry.attempts += 1;
      // Once, when it has failed long enough to matter: its content is then on record whatever happens next.
      if (entry.attempts === logAt) this.deps.logger.error(`${what} still not written; its content, which is still retried`, { attempts: entry.attempts, content: content(entry) });
    }
    if (this.consecutiveFailures === 0) this.deps.logger.warn(`writing ${what} failed; retrying with backoff`, { error: describe(error), waiting: this.pendingCount() });
  }

  // ---------------------------------------------------------------- stop

  /**
   * Writes what is queued, until the deadline; what is left is logged with its content, so that nothing
   * is lost without a trace. The writer then stops.
   */
  async stop(deadline: number): Promise<{ unwritten: number }> {
    this.life.running = false;
    this.wake?.();
    await this.loop;
    while (this.pendingCount() > 0 && this.deps.clock() < deadline && !this.fenced) {
      const ok = await this.round();
      if (!ok) await this.deps.sleep(Math.min(this.backoffMs(), Math.max(0, deadline - this.deps.clock())));
    }
    const unwritten = this.pendingCount();
    if (unwritten > 0) {
      this.deps.logger.error('state not written before stopping; its content follows', {
        orders: [...this.orders.values()].map((entry) => entry.order),
        earlierOrders: [...this.earlier.values()].map((entry) => entry.order),
        fills: [...this.fills.values()].flat().map((entry) => describeExecution(entry.execution)),
        events: this.events.map((entry) => entry.event),
        publishedEventsStillMarkedOwed: this.clears.map((entry) => entry.eventId),
      });
    }
    return { unwritten };
  }

  /** Whether a round of writes is under way: its items have left the queues but are not written yet. */
  private writing(): boolean {
    return this.rounds > 0;
  }

  /**
   * Waits until every queue is empty and no round of writes is under way (tests, and the bench's "written"
   * figure), or the deadline passes.
   */
  async drained(deadline: number): Promise<boolean> {
    while (this.pendingCount() > 0 || this.writing()) {
      if (this.deps.clock() >= deadline) return false;
      this.wake?.();
      await this.deps.sleep(10);
    }
    return true;
  }
}

function describeExecution(execution: Execution): Record<string, unknown> {
  return { ...execution, fee: execution.fee.toFixed(), ...(execution.kind === 'trade' && { feeRate: execution.feeRate.toFixed() }) };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : 'unknown error';
}
