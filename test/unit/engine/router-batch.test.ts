/**
 * The order router's batch amends and cancels against a scripted order entry: chunking, per-item retries,
 * lost answers settled by status queries, the breaker and the limiter.
 */
import { describe, expect, it } from '@jest/globals';
import type { VenueOrderReport, VenueOrderStatus } from '../../../src/core/order.js';
import { lots, ticks } from '../../../src/core/units.js';
import { CircuitBreaker } from '../../../src/engine/breaker.js';
import { RequestLimiter } from '../../../src/engine/limiter.js';
import { BYBIT_LINEAR_MAX_BATCH_ORDERS, OrderRouter, type RouterDeps } from '../../../src/engine/router.js';
import type { AmendParams, BatchEntryResult, CancelParams, CreateParams, EntryOutcome, EntryResult, LimitObservation, OrderEntry } from '../../../src/ports/order-entry.js';

type Method = 'create' | 'amend' | 'cancel' | 'amendBatch' | 'cancelBatch';

interface Call {
  readonly method: Method;
  readonly transport: OrderEntry['transport'];
  readonly links: readonly string[];
  readonly items: readonly (AmendParams | CancelParams | CreateParams)[];
}

/**
 * What the venue answers to one call: an outcome per item, and limit headers. `call` counts every call to
 * either entry from 1. By default every item is accepted with orderId `id-<orderLinkId>`.
 */
type Script = (call: number, method: Method, links: readonly string[]) => { outcomes: readonly EntryOutcome[]; limits?: LimitObservation };

const accepted = (orderLinkId: string): EntryOutcome => ({ kind: 'accepted', orderId: `id-${orderLinkId}`, orderLinkId });
const rejected = (retCode: number, retMsg = `code ${retCode}`): EntryOutcome => ({ kind: 'rejected', retCode, retMsg });
const lost: EntryOutcome = { kind: 'unknown', reason: 'no answer within 150 ms' };

const everyAccepted: Script = (_call, _method, links) => ({ outcomes: links.map(accepted) });

/** Per orderLinkId, the outcomes of its successive sends; accepted once the list is used up. */
function perItem(plan: Readonly<Record<string, readonly EntryOutcome[]>>): Script {
  const sent = new Map<string, number>();
  return (_call, _method, links) => ({
    outcomes: links.map((orderLinkId) => {
      const count = sent.get(orderLinkId) ?? 0;
      sent.set(orderLinkId, count + 1);
      return plan[orderLinkId]?.[count] ?? accepted(orderLinkId);
    }),
  });
}

class ScriptedEntry implements OrderEntry {
  constructor(
    readonly transport: OrderEntry['transport'],
    private readonly venue: { script: Script; readonly calls: Call[] },
  ) {}

  private answer(method: Method, items: readonly (AmendParams | CancelParams | CreateParams)[]): BatchEntryResult {
    const links = items.map((item) => item.orderLinkId);
    this.venue.calls.push({ method, transport: this.transport, links, items });
    return this.venue.script(this.venue.calls.length, method, links);
  }

  private single(method: Method, params: AmendParams | CancelParams | CreateParams): Promise<EntryResult> {
    const { outcomes, limits } = this.answer(method, [params]);
    const [outcome] = outcomes;
    if (!outcome) throw new Error('script gave no outcome');
    return Promise.resolve({ outcome, ...(limits && { limits }) });
  }

  create(params: CreateParams): Promise<EntryResult> {
    return this.single('create', params);
  }

  amend(params: AmendParams): Promise<EntryResult> {
    return this.single('amend', params);
  }

  cancel(params: CancelParams): Promise<EntryResult> {
    return this.single('cancel', params);
  }

  amendBatch(params: readonly AmendParams[]): Promise<BatchEntryResult> {
    return Promise.resolve(this.answer('amendBatch', params));
  }

  cancelBatch(params: readonly CancelParams[]): Promise<BatchEntryResult> {
    return Promise.resolve(this.answer('cancelBatch', params));
  }
}

/** A RequestLimiter that also logs what it is asked and told. */
class RecordingLimiter extends RequestLimiter {
  readonly asked: [string, number][] = [];
  readonly recorded: [string, number][] = [];
  readonly observed: [string, number, number, number][] = [];

  override waitMs(endpoint: string, units: number, now: number): number {
    this.asked.push([endpoint, units]);
    return super.waitMs(endpoint, units, now);
  }

  override record(endpoint: string, units: number, now: number): void {
    this.recorded.push([endpoint, units]);
    super.record(endpoint, units, now);
  }

  override observeHeaders(endpoint: string, limit: number, remaining: number, resetAt: number, now: number): void {
    this.observed.push([endpoint, limit, remaining, resetAt]);
    super.observeHeaders(endpoint, limit, remaining, resetAt, now);
  }
}

const report = (status: VenueOrderStatus): VenueOrderReport => ({
  orderId: 'venue-id',
  status,
  priceTicks: ticks(600_000),
  qtyLots: lots(1),
  cumExecLots: lots(0),
  leavesLots: status === 'New' ? lots(1) : lots(0),
  updatedTime: 1_700_000_000_000,
});

interface Harness {
  readonly router: OrderRouter;
  readonly calls: Call[];
  readonly sleeps: number[];
  readonly queries: string[];
  readonly refreshes: number[];
  readonly limiter: RecordingLimiter;
  readonly breaker: CircuitBreaker;
  readonly now: () => number;
}

function harness(
  script: Script,
  options: { states?: Readonly<Record<string, VenueOrderStatus | 'absent' | 'error'>>; perSecond?: number; breaker?: CircuitBreaker; maxRetries?: number; primaryAvailable?: () => boolean } = {},
): Harness {
  const venue = { script, calls: [] as Call[] };
  const sleeps: number[] = [];
  const queries: string[] = [];
  const refreshes: number[] = [];
  let clock = 1_000_000;
  const limiter = new RecordingLimiter({ defaultPerSecond: options.perSecond ?? 1_000, ipBudget: 100_000, ipWindowMs: 5_000, tasksSharingIp: 1 });
  const breaker = options.breaker ?? new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 });
  const primary: OrderEntry = new ScriptedEntry('websocket', venue);
  if (options.primaryAvailable) primary.isAvailable = options.primaryAvailable;
  const deps: RouterDeps = {
    primary,
    fallback: new ScriptedEntry('rest', venue),
    query: (_symbol, orderLinkId) => {
      queries.push(orderLinkId);
      const state = options.states?.[orderLinkId] ?? 'absent';
      if (state === 'error') return Promise.reject(new Error('HTTP 503'));
      return Promise.resolve(state === 'absent' ? undefined : report(state));
    },
    limiter,
    breaker,
    backoff: { baseMs: 10, maxMs: 100, maxRetries: options.maxRetries ?? 3 },
    clock: () => clock,
    sleep: (ms) => {
      sleeps.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
    refreshCredentials: () => {
      refreshes.push(clock);
      return Promise.resolve();
    },
    statusQueryAttempts: 2,
  };
  return { router: new OrderRouter(deps), calls: venue.calls, sleeps, queries, refreshes, limiter, breaker, now: () => clock };
}

const links = (count: number, prefix = 'q') => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
const amends = (ids: readonly string[]): AmendParams[] => ids.map((orderLinkId, index) => ({ symbol: 'BTCUSDT', orderLinkId, price: `${60_000 + index}.0` }));
const cancels = (ids: readonly string[]): CancelParams[] => ids.map((orderLinkId) => ({ symbol: 'BTCUSDT', orderLinkId }));

describe('order router transports', () => {
  it('sends over the fallback while the primary says it cannot send at once (a socket reconnecting)', async () => {
    let available = false;
    const { router, calls } = harness(everyAccepted, { primaryAvailable: () => available });
    await router.cancelBatch(cancels(links(2)));
    available = true;
    await router.cancelBatch(cancels(links(2, 'r')));
    expect(calls.map((call) => call.transport)).toEqual(['rest', 'websocket']);
  });
});

describe('order router batch sizes', () => {
  it('never puts more orders in one request than the quota admits in a window', async () => {
    const { router, calls } = harness(everyAccepted, { perSecond: 10 });
    await router.cancelBatch(cancels(links(25)));
    expect(calls.map((call) => call.links.length)).toEqual([10, 10, 5]);
  });
});

describe('order router batches', () => {
  it('splits 45 amends into requests of 20, 20 and 5, and answers each item in order', async () => {
    expect(BYBIT_LINEAR_MAX_BATCH_ORDERS).toBe(20);
    const { router, calls } = harness(everyAccepted);
    const ids = links(45);
    const params = amends(ids);
    const results = await router.amendBatch(params);
    expect(calls.map((call) => call.links.length)).toEqual([20, 20, 5]);
    expect(calls.every((call) => call.method === 'amendBatch' && call.transport === 'websocket')).toBe(true);
    // Every item went out exactly once, with its own parameters, in request order.
    expect(calls.flatMap((call) => call.items)).toEqual(params);
    expect(results).toEqual(ids.map((orderLinkId) => ({ kind: 'accepted', orderId: `id-${orderLinkId}` })));
  });

  it('sends nothing for an empty batch', async () => {
    const { router, calls } = harness(everyAccepted);
    expect(await router.cancelBatch([])).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('settles accepted and finally refused items at once, and re-sends only the "not now" ones, together', async () => {
    const { router, calls, sleeps, breaker } = harness(
      perItem({
        b: [rejected(110001, 'order not exists or too late to cancel')],
        c: [rejected(10006)],
        d: [rejected(10429), rejected(10016)],
        e: [rejected(10006), rejected(10006), rejected(10006), rejected(10006)],
      }),
    );
    const results = await router.cancelBatch(cancels(['a', 'b', 'c', 'd', 'e']));
    expect(calls.map((call) => call.links)).toEqual([
      ['a', 'b', 'c', 'd', 'e'],
      ['c', 'd', 'e'],
      ['d', 'e'],
      ['e'],
    ]);
    // Retries stay on the entry that answered; the batch form is kept for the smaller batches.
    expect(calls.every((call) => call.method === 'cancelBatch' && call.transport === 'websocket')).toBe(true);
    expect(results).toEqual([
      { kind: 'accepted', orderId: 'id-a' },
      { kind: 'rejected', retCode: 110001, retMsg: 'order not exists or too late to cancel' },
      { kind: 'accepted', orderId: 'id-c' },
      { kind: 'accepted', orderId: 'id-d' },
      // One try and three retries, then the venue's last word.
      { kind: 'rejected', retCode: 10006, retMsg: 'code 10006' },
    ]);
    // One backoff per round, full jitter at 0.5 of min(100, 10 x 2^attempt).
    expect(sleeps).toEqual([10, 20, 40]);
    // One failure per request, not per item: four requests each had an item refused "not now".
    expect(breaker.consecutiveFailures).toBe(4);
  });

  it('refreshes the credentials once per request on an authentication error, then retries', async () => {
    const { router, calls, refreshes } = harness(perItem({ a: [rejected(10004)], b: [rejected(10004)] }));
    expect(await router.amendBatch(amends(['a', 'b']))).toEqual([
      { kind: 'accepted', orderId: 'id-a' },
      { kind: 'accepted', orderId: 'id-b' },
    ]);
    expect(refreshes).toHaveLength(1);
    expect(calls.map((call) => call.links)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('after a lost answer, queries each cancel and re-sends, over the fallback, only those still open', async () => {
    const { router, calls, queries } = harness((call, _method, ids) => ({ outcomes: ids.map((id) => (call === 1 ? lost : accepted(id))) }), {
      states: { gone: 'Cancelled', open: 'New', partly: 'PartiallyFilled', filled: 'Filled' },
    });
    const results = await router.cancelBatch(cancels(['gone', 'open', 'never', 'partly', 'filled']));
    expect([...queries].sort()).toEqual(['filled', 'gone', 'never', 'open', 'partly']);
    expect(calls.map((call) => [call.transport, call.links])).toEqual([
      ['websocket', ['gone', 'open', 'never', 'partly', 'filled']],
      ['rest', ['open', 'partly']],
    ]);
    expect(results).toEqual([
      { kind: 'resolved', report: report('Cancelled') },
      { kind: 'accepted', orderId: 'id-open' },
      { kind: 'resolved', report: undefined },
      { kind: 'accepted', orderId: 'id-partly' },
      { kind: 'resolved', report: report('Filled') },
    ]);
  });

  it('after a lost answer, settles amends by their state and sends none of them again', async () => {
    const { router, calls } = harness((call, _method, ids) => ({ outcomes: ids.map((id) => (call === 1 ? lost : accepted(id))) }), {
      states: { open: 'New', gone: 'Cancelled' },
    });
    expect(await router.amendBatch(amends(['open', 'gone']))).toEqual([
      { kind: 'resolved', report: report('New') },
      { kind: 'resolved', report: report('Cancelled') },
    ]);
    expect(calls).toHaveLength(1);
  });

  it('reports an item whose state cannot be established as unresolved, and the others as found', async () => {
    const { router, queries } = harness((_call, _method, ids) => ({ outcomes: ids.map(() => lost) }), { states: { down: 'error', gone: 'Cancelled' } });
    const results = await router.cancelBatch(cancels(['down', 'gone']));
    expect(results[0]).toMatchObject({ kind: 'unresolved', reason: expect.stringMatching(/status of down unknown after 2 queries: HTTP 503/) as unknown });
    expect(results[1]).toEqual({ kind: 'resolved', report: report('Cancelled') });
    expect(queries.filter((id) => id === 'down')).toHaveLength(2);
  });

  it('a lost answer for one item of an answered batch is queried for that item alone', async () => {
    const { router, calls, queries } = harness(perItem({ b: [lost] }), { states: { b: 'New' } });
    const results = await router.cancelBatch(cancels(['a', 'b', 'c']));
    expect(queries).toEqual(['b']);
    expect(calls.map((call) => [call.transport, call.links])).toEqual([
      ['websocket', ['a', 'b', 'c']],
      ['rest', ['b']],
    ]);
    expect(results.map((result) => result.kind)).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('blocks every remaining item once the breaker is open, and sends nothing more', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
    const { router, calls, now } = harness((_call, _method, ids) => ({ outcomes: ids.map(() => rejected(10006)) }), { breaker });
    const results = await router.cancelBatch(cancels(links(45)));
    // Two refused requests open the breaker: the first chunk's retry is not sent, nor are the other chunks.
    expect(calls.map((call) => call.links.length)).toEqual([20, 20]);
    expect(results).toHaveLength(45);
    expect(results.every((result) => result.kind === 'blocked' && result.reason === 'the circuit breaker is open')).toBe(true);
    expect(breaker.state(now())).toBe('open');

    const { router: closed, calls: none } = harness(everyAccepted, { breaker });
    expect((await closed.amendBatch(amends(['x', 'y']))).map((result) => result.kind)).toEqual(['blocked', 'blocked']);
    expect(none).toEqual([]);
  });

  it('a batch the venue answered counts as one success for the breaker', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 });
    breaker.recordFailure(0);
    breaker.recordFailure(0);
    const { router } = harness(perItem({ b: [rejected(110001)] }), { breaker });
    await router.cancelBatch(cancels(['a', 'b']));
    expect(breaker.consecutiveFailures).toBe(0);
  });

  it('asks the limiter for as many units as the request has orders, on the batch endpoint\'s own quota', async () => {
    const { router, limiter } = harness(perItem({ 'q-3': [rejected(10006)], 'q-41': [rejected(10006)] }));
    await router.amendBatch(amends(links(45)));
    // Chunks q-0..19, q-20..39, q-40..44; q-3 and q-41 are sent again, each alone, within their chunk.
    const expected: [string, number][] = [
      ['amend-batch', 20],
      ['amend-batch', 1],
      ['amend-batch', 20],
      ['amend-batch', 5],
      ['amend-batch', 1],
    ];
    expect(limiter.asked).toEqual(expected);
    expect(limiter.recorded).toEqual(expected);

    // A single amend still goes through its own endpoint, one unit at a time.
    const single = harness(everyAccepted);
    await single.router.amend({ symbol: 'BTCUSDT', orderLinkId: 'one', price: '60000.0' });
    expect(single.limiter.asked).toEqual([['amend', 1]]);
  });

  it('waits when a batch does not fit the per-second quota, counting its orders', async () => {
    // 25 orders per second: the first 20 go at once, the next 20 must wait for the first to leave the window.
    const { router, sleeps, calls } = harness(everyAccepted, { perSecond: 25 });
    await router.cancelBatch(cancels(links(45)));
    expect(calls.map((call) => call.links.length)).toEqual([20, 20, 5]);
    expect(sleeps).toEqual([1_000]);
  });

  it('feeds the venue\'s rate-limit headers to the limiter, which then holds the next request back', async () => {
    let resetAt = 0;
    const h = harness((call, _method, ids) => {
      if (call === 1) resetAt = h.now() + 400;
      return { outcomes: ids.map(accepted), limits: { limit: 60, remaining: call === 1 ? 0 : 40, resetAt } };
    });
    await h.router.cancelBatch(cancels(links(25)));
    expect(h.limiter.observed[0]).toEqual(['cancel-batch', 60, 0, resetAt]);
    expect(h.sleeps).toEqual([400]);
    expect(h.calls.map((call) => call.links.length)).toEqual([20, 5]);
  });
});
