/**
 * The engine's side of durability: it tells its journal every change and stops quoting while the journal
 * says its writes lag; it carries on from a restored state (positions and the executions they count,
 * orders stored as open); it keeps the orders an earlier generation never stored; and its stop leaves the
 * final states and executions complete even when a last query or backfill fails.
 */
import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type Order, createOrder, orderStatus } from '../../../src/core/order.js';
import { type Execution, type Position, flatPosition } from '../../../src/core/position.js';
import { lots, ticks } from '../../../src/core/units.js';
import type { EngineJournal } from '../../../src/engine/engine.js';
import { EngineHarness, SHARD, SYMBOL, flush } from './engine-harness.js';

class RecordingJournal implements EngineJournal {
  readonly orders: { orderLinkId: string; status: string; level: number | undefined }[] = [];
  readonly executions: { execId: string; sizeLots: bigint }[] = [];
  readonly found: string[] = [];
  lagging: string | undefined;

  orderChanged(order: Order, level: number | undefined): void {
    this.orders.push({ orderLinkId: order.intent.orderLinkId, status: orderStatus(order), level });
  }

  executionApplied(execution: Execution, position: Position): void {
    this.executions.push({ execId: execution.execId, sizeLots: position.sizeLots });
  }

  /** Found ones are listed with the rest, and by name: the journal writes them only where the store lacks them. */
  earlierOrderFound(order: Order): void {
    this.found.push(order.intent.orderLinkId);
    this.orderChanged(order, undefined);
  }

  blocker(): string | undefined {
    return this.lagging;
  }
}

/** Wakes every sleep in turn (the paced background queries), letting each step settle. */
async function drainSleeps(h: EngineHarness): Promise<void> {
  for (let step = 0; step < 500 && h.time.runNextTimer(); step++) await flush();
}

describe('the engine and its journal', () => {
  it('tells the journal every order change and execution, and stops quoting while its writes lag', async () => {
    const journal = new RecordingJournal();
    const h = new EngineHarness({}, { journal });
    await h.quoting();
    const [first] = h.router.creates();
    if (!first) throw new Error('expected a create');
    // Sent (in its slot), acknowledged with its orderId, confirmed by the order stream.
    expect(journal.orders.filter((entry) => entry.orderLinkId === first.orderLinkId).map((entry) => entry.status)).toEqual(['PendingNew', 'PendingNew', 'New']);
    expect(journal.orders.every((entry) => entry.level !== undefined)).toBe(true);

    h.engine.onExecution(h.trade({ execId: 'x1', side: 'Buy', priceTicks: 650_000, qtyLots: 2, orderLinkId: first.orderLinkId }));
    h.engine.onExecution(h.trade({ execId: 'x1', side: 'Buy', priceTicks: 650_000, qtyLots: 2, orderLinkId: first.orderLinkId }));
    expect(journal.executions).toEqual([{ execId: 'x1', sizeLots: 2n }]);

    journal.lagging = 'state writes behind: oldest waiting 6000 ms';
    h.engine.tick();
    await flush();
    expect(h.symbolStatus().blockers).toContain('state writes behind: oldest waiting 6000 ms');
    h.confirmCancels();
    await flush();
    expect(h.openCount()).toBe(0);

    journal.lagging = undefined;
    h.engine.tick();
    await flush();
    expect(h.symbolStatus().quoting).toBe(true);
    expect(h.openCount()).toBeGreaterThan(0);
  });

  it('carries on from a restored state: the stored position and its executions, the stored orders reconciled', async () => {
    const journal = new RecordingJournal();
    const h = new EngineHarness({}, { journal });
    const position: Position = { ...flatPosition(SYMBOL), sizeLots: 4n, costTickLots: 2_600_000n, makerLots: 4n, tradeCount: 2, rebatesEarned: dec('0.01'), lastExecTime: h.time.now - 1_000 };
    const resting = h.venueOrder(`${SHARD}-5-1`, 'Buy', 649_990);
    const stored = { ...createOrder({ orderLinkId: resting.orderLinkId, symbol: SYMBOL, side: 'Buy' as const, priceTicks: ticks(649_990), qtyLots: lots(2), createdAt: h.time.now - 2_000 }), orderId: resting.report.orderId, venue: resting.report };
    const gone = createOrder({ orderLinkId: `${SHARD}-5-2`, symbol: SYMBOL, side: 'Sell', priceTicks: ticks(650_020), qtyLots: lots(2), createdAt: h.time.now - 2_000 });
    const otherSymbol = createOrder({ orderLinkId: `${SHARD}-5-3`, symbol: 'SOLUSDT', side: 'Sell', priceTicks: ticks(1), qtyLots: lots(1), createdAt: 1 });
    h.account.open.set(SYMBOL, [resting]);
    h.account.positions.set(SYMBOL, 4n);
    h.engine.restore({
      positions: [position, { ...flatPosition('SOLUSDT'), sizeLots: 9n }],
      appliedExecIds: ['old-1', 'old-2'],
      orders: [
        { order: stored, level: 0 },
        { order: gone, level: 7 },
        { order: otherSymbol, level: 0 },
      ],
    });
    // Nothing changed by restoring: nothing to write.
    expect(journal.orders).toEqual([]);
    expect(h.logger.has('info', 'restored the stored state')).toBe(true);

    await h.start();
    const status = h.symbolStatus();
    expect(status.position.toFixed()).toBe('0.004');
    expect(status.untrackedPosition.toFixed()).toBe('0');
    expect(status.fills).toBe(2);
    // The stored open order is the venue's and keeps its slot; the one the venue does not list is asked about.
    expect(h.engine.tracker.slotOf(resting.orderLinkId)).toEqual({ symbol: SYMBOL, side: 'Buy', level: 0 });
    expect(h.engine.tracker.slotOf(gone.intent.orderLinkId)).toBeUndefined();
    expect(status.reconciliation).toMatchObject({ cancelledUnknown: 0, queried: 1 });
    expect(h.engine.tracker.get(otherSymbol.intent.orderLinkId)).toBeUndefined();

    // The backfill delivers the counted executions again: not counted twice; a new one is.
    h.engine.onExecution(h.trade({ execId: 'old-2', side: 'Buy', priceTicks: 650_000, qtyLots: 2 }));
    h.engine.onExecution(h.trade({ execId: 'new-1', side: 'Sell', priceTicks: 650_010, qtyLots: 1 }));
    expect(journal.executions).toEqual([{ execId: 'new-1', sizeLots: 3n }]);
    expect(() => h.engine.restore({ positions: [], appliedExecIds: [], orders: [] })).toThrow(/restore before/);
  });

  it('keeps the orders an earlier generation sent and never stored: cancelled at reconciliation, or reported closed', async () => {
    const journal = new RecordingJournal();
    const h = new EngineHarness({}, { journal });
    const orphan = h.venueOrder(`${SHARD}-5-9`, 'Sell', 650_030);
    const foreign = h.venueOrder('someone-else-1', 'Sell', 650_040);
    h.account.open.set(SYMBOL, [orphan, foreign]);
    await h.start();
    expect(h.account.calls.cancelAll).toEqual([SYMBOL]);
    expect(journal.orders).toContainEqual({ orderLinkId: orphan.orderLinkId, status: 'New', level: undefined });
    expect(h.engine.tracker.get(foreign.orderLinkId)).toBeUndefined();

    // A closed order of an earlier generation, reported by the backfill: kept with its final state.
    const filled = h.venueOrder(`${SHARD}-5-a`, 'Buy', 649_980);
    h.engine.onOrderUpdate({ ...filled, report: { ...filled.report, status: 'Filled', cumExecLots: lots(2), leavesLots: lots(0) } });
    expect(h.engine.tracker.get(filled.orderLinkId) && orderStatus(h.order(filled.orderLinkId))).toBe('Filled');
    // Told as found, not as changed: most such orders are stored already.
    expect(journal.found).toEqual([orphan.orderLinkId, filled.orderLinkId]);
    h.engine.onOrderUpdate({ ...foreign, orderLinkId: 'someone-else-2', report: { ...foreign.report, status: 'Cancelled' } });
    expect(h.engine.tracker.get('someone-else-2')).toBeUndefined();
  });

  it('stops clean even when the last status queries and the last backfill fail, and says so', async () => {
    const h = new EngineHarness();
    await h.quoting();
    for (const order of h.open()) h.query.answers.set(order.intent.orderLinkId, new Error('venue unavailable'));
    h.onBackfill = () => {
      throw new Error('execution list unavailable');
    };
    const report = await h.settle(h.engine.stop('test over'));
    expect(report.clean).toBe(true);
    expect(h.logger.has('debug', 'final-state query failed on stop')).toBe(true);
    expect(h.logger.has('warn', /the last execution backfill on stop failed/)).toBe(true);
  });

  it('stores the orders an earlier generation never stored that traded before this one watched, asking the venue once for each', async () => {
    const journal = new RecordingJournal();
    const h = new EngineHarness({}, { journal });
    const filled = `${SHARD}-5-7`;
    const open = `${SHARD}-5-8`;
    const unknown = `${SHARD}-5-9`;
    const failing = `${SHARD}-5-10`;
    const report = (status: 'Filled' | 'New') => ({ orderId: `v-${status}`, status, priceTicks: ticks(650_000), qtyLots: lots(2), cumExecLots: lots(status === 'Filled' ? 2 : 0), leavesLots: lots(status === 'Filled' ? 0 : 2), updatedTime: h.time.now - 500 });
    h.query.answers.set(filled, report('Filled'));
    h.query.answers.set(open, report('New'));
    h.query.answers.set(failing, new Error('venue down'));
    const traded = (orderLinkId: string, symbol = SYMBOL) => ({ orderLinkId, symbol, side: 'Buy' as const });
    // One the venue reported closed already (the order history): recorded as it is, never asked about.
    const cancelled = `${SHARD}-5-12`;
    const closedReport = { ...report('New'), status: 'Cancelled' as const };
    h.engine.restore({
      positions: [],
      appliedExecIds: [],
      orders: [],
      unstoredTradedOrders: [traded(filled), traded(open), traded(unknown), traded(failing), traded(`${SHARD}-5-11`, 'SOLUSDT'), traded(cancelled)],
      unstoredClosedOrders: [{ orderLinkId: cancelled, symbol: SYMBOL, side: 'Sell', report: closedReport }, { orderLinkId: `${SHARD}-5-13`, symbol: 'SOLUSDT', side: 'Sell', report: closedReport }],
    });
    expect(journal.orders.filter((entry) => entry.orderLinkId === cancelled).at(-1)).toEqual({ orderLinkId: cancelled, status: 'Cancelled', level: undefined });
    await h.start();
    // Asked in the background, paced, once quoting has begun.
    expect(h.engine.status().phase).toBe('running');
    await drainSleeps(h);
    // The filled one is stored with its final state; the open one was reconciliation's; the others are logged.
    expect(journal.orders.filter((entry) => entry.orderLinkId === filled).at(-1)).toEqual({ orderLinkId: filled, status: 'Filled', level: undefined });
    expect(journal.orders.some((entry) => entry.orderLinkId === open)).toBe(false);
    expect(h.query.calls.map((call) => call.orderLinkId)).toEqual([filled, open, unknown, failing]);
    expect(h.logger.has('warn', 'an unstored order that traded is unknown to the venue')).toBe(true);
    expect(h.logger.has('warn', 'asking for an unstored order that traded failed; it stays unstored')).toBe(true);
  });

  it('asks for a bounded number of unstored traded orders per start', async () => {
    const h = new EngineHarness();
    const many = Array.from({ length: 60 }, (_, index) => ({ orderLinkId: `${SHARD}-5-${(index + 20).toString(36)}`, symbol: SYMBOL, side: 'Sell' as const }));
    h.engine.restore({ positions: [], appliedExecIds: [], orders: [], unstoredTradedOrders: many });
    await h.start();
    await drainSleeps(h);
    expect(h.query.calls).toHaveLength(50);
    expect(h.logger.has('warn', 'more unstored traded orders than are asked for at a start; the rest stay unstored')).toBe(true);
  });

  it('stops asking for unstored traded orders once the engine stops', async () => {
    const h = new EngineHarness();
    h.engine.restore({ positions: [], appliedExecIds: [], orders: [], unstoredTradedOrders: [{ orderLinkId: `${SHARD}-5-30`, symbol: SYMBOL, side: 'Buy' }] });
    await h.start();
    const stopping = h.engine.stop('test over');
    await h.settle(stopping);
    expect(h.query.calls.filter((call) => call.orderLinkId === `${SHARD}-5-30`)).toEqual([]);
  });
});
