/**
 * Batch amends and cancels against the simulator, through bybit-api's REST and order-entry WebSocket
 * clients: per-item outcomes in request order, requests of at most 20 orders, quota counted per order, and a
 * lost answer settled by status queries without a second effect.
 */
import { describe, expect, it } from '@jest/globals';
import { RestClientV5, WebsocketAPIClient } from 'bybit-api';
import { RestOrderEntry, WebSocketOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import type { OrderEntry } from '../../src/ports/order-entry.js';
import type { OrderRouter } from '../../src/engine/router.js';
import { startSimulator } from '../../sim/simulator.js';
import { TRADER } from '../support/sim.js';
import { simulatedRouter, useSimulatedVenue } from '../support/venue-router.js';
import { SILENT_LOGGER } from '../support/ws.js';

const venue = useSimulatedVenue(17, 'bt');
const links = (count: number) => Array.from({ length: count }, () => venue.link());

/** An entry that logs each request it sends, as "<name> <method> <number of orders>". */
function logged(name: string, entry: OrderEntry, log: string[]): OrderEntry {
  return {
    transport: entry.transport,
    create: (params) => (log.push(`${name} create 1`), entry.create(params)),
    amend: (params) => (log.push(`${name} amend 1`), entry.amend(params)),
    cancel: (params) => (log.push(`${name} cancel 1`), entry.cancel(params)),
    amendBatch: (params) => (log.push(`${name} amendBatch ${params.length}`), entry.amendBatch(params)),
    cancelBatch: (params) => (log.push(`${name} cancelBatch ${params.length}`), entry.cancelBatch(params)),
  };
}

interface Harness {
  readonly router: OrderRouter;
  readonly log: string[];
  readonly sleeps: number[];
}

/** A router whose entries log their requests: `primary` over the WebSocket (150 ms) or REST (1 s), REST as the fallback. */
function router(primary: 'websocket' | 'rest', options: { timeoutMs?: number; onSleep?: (count: number) => void } = {}): Harness {
  const log: string[] = [];
  const timeoutMs = options.timeoutMs ?? (primary === 'websocket' ? 150 : 1_000);
  const entry = primary === 'websocket' ? new WebSocketOrderEntry(venue.wsApi, timeoutMs) : new RestOrderEntry(venue.rest, timeoutMs);
  const harness = simulatedRouter(venue, {
    primary: logged('primary', entry, log),
    fallback: logged('fallback', new RestOrderEntry(venue.rest, 1_000), log),
    ...(options.onSleep && { onSleep: options.onSleep }),
  });
  return { router: harness.router, log, sleeps: harness.sleeps };
}

/** PostOnly buys far below any price the quiet book has: they rest. Returns their venue orderIds. */
async function place(ids: readonly string[], client = venue.rest): Promise<string[]> {
  const orderIds: string[] = [];
  for (const [index, orderLinkId] of ids.entries()) {
    const placed = await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', timeInForce: 'PostOnly', qty: '0.001', price: `${50_000 + index}.0`, orderLinkId });
    expect(placed.retCode).toBe(0);
    orderIds.push(placed.result.orderId);
  }
  return orderIds;
}

/** The venue's view of an order by orderLinkId (open or recently closed). */
async function venueOrder(orderLinkId: string, client = venue.rest) {
  const [found] = (await client.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).result.list;
  return found;
}

const amendsTo = (ids: readonly string[], base: number) => ids.map((orderLinkId, index) => ({ symbol: 'BTCUSDT', orderLinkId, price: `${base + index}.0` }));
const cancelsOf = (ids: readonly string[]) => ids.map((orderLinkId) => ({ symbol: 'BTCUSDT', orderLinkId }));

describe.each(['websocket', 'rest'] as const)('batches with %s as the primary entry', (primary) => {
  it('amends a batch: each price changes at the venue, and each item carries its own orderId', async () => {
    const { router: subject, log } = router(primary);
    const ids = links(5);
    const orderIds = await place(ids);
    const results = await subject.amendBatch(amendsTo(ids, 51_000));
    expect(results).toEqual(orderIds.map((orderId) => ({ kind: 'accepted', orderId })));
    expect(log).toEqual(['primary amendBatch 5']);
    for (const [index, orderLinkId] of ids.entries()) expect(await venueOrder(orderLinkId)).toMatchObject({ orderStatus: 'New', price: `${51_000 + index}.00` });
  });

  it('cancels a batch: every order is cancelled', async () => {
    const { router: subject } = router(primary);
    const ids = links(4);
    const orderIds = await place(ids);
    expect(await subject.cancelBatch(cancelsOf(ids))).toEqual(orderIds.map((orderId) => ({ kind: 'accepted', orderId })));
    for (const orderLinkId of ids) expect(await venueOrder(orderLinkId)).toMatchObject({ orderStatus: 'Cancelled' });
    const open = (await venue.rest.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).result.list;
    expect(open.filter((order) => ids.includes(order.orderLinkId))).toEqual([]);
  });

  it('answers a live order and a missing one each with its own outcome', async () => {
    const { router: subject, log } = router(primary);
    const [live = ''] = links(1);
    const [orderId] = await place([live]);
    const missing = `${live}-never`;
    expect(await subject.cancelBatch(cancelsOf([missing, live]))).toEqual([
      { kind: 'rejected', retCode: 110001, retMsg: 'Order does not exist' },
      { kind: 'accepted', orderId },
    ]);
    // A final refusal is not retried.
    expect(log).toEqual(['primary cancelBatch 2']);
    expect(await venueOrder(live)).toMatchObject({ orderStatus: 'Cancelled' });

    const [other = ''] = links(1);
    await place([other]);
    const amended = await subject.amendBatch([
      { symbol: 'BTCUSDT', orderLinkId: other, price: '52000.0' },
      { symbol: 'BTCUSDT', orderLinkId: missing, price: '52001.0' },
    ]);
    expect(amended.map((result) => result.kind)).toEqual(['accepted', 'rejected']);
    expect(amended[1]).toMatchObject({ retCode: 110001 });
    expect(await venueOrder(other)).toMatchObject({ price: '52000.00' });
  });

  it('sends a batch of 25 as two requests, of 20 and 5', async () => {
    const { router: subject, log } = router(primary);
    const ids = links(25);
    const orderIds = await place(ids);
    expect(await subject.cancelBatch(cancelsOf(ids))).toEqual(orderIds.map((orderId) => ({ kind: 'accepted', orderId })));
    expect(log).toEqual(['primary cancelBatch 20', 'primary cancelBatch 5']);
    const open = (await venue.rest.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT', limit: 50 })).result.list;
    expect(open.filter((order) => ids.includes(order.orderLinkId))).toEqual([]);
  });
});

describe('lost answers to a batch', () => {
  it('a cancel batch whose acknowledgement is lost is settled by status queries, and sent nowhere else', async () => {
    const { router: subject, log } = router('websocket');
    const ids = links(3);
    await place(ids);
    venue.sim.ws.stall('trade', 400);
    const results = await subject.cancelBatch(cancelsOf(ids));
    expect(results).toEqual(ids.map(() => expect.objectContaining({ kind: 'resolved', report: expect.objectContaining({ status: 'Cancelled' }) as unknown })));
    expect(log).toEqual(['primary cancelBatch 3']);
    await new Promise((resolve) => setTimeout(resolve, 450));
  });

  it('an amend batch whose answer is late is settled by the order\'s state, and not sent again', async () => {
    const ids = links(2);
    await place(ids);
    venue.sim.faults.latencyMs = 300;
    const { router: subject, log } = router('rest', { timeoutMs: 100 });
    const results = await subject.amendBatch(amendsTo(ids, 53_000));
    expect(results.map((result) => result.kind)).toEqual(['resolved', 'resolved']);
    expect(log).toEqual(['primary amendBatch 2']);
    venue.sim.faults.latencyMs = 0;
    // The one amend took effect once: the venue has the new price and the same order.
    for (const [index, orderLinkId] of ids.entries()) expect(await venueOrder(orderLinkId)).toMatchObject({ orderStatus: 'New', price: `${53_000 + index}.00` });
  });

  it('a cancel batch that did not reach the venue is sent again, over the fallback, for the orders still open', async () => {
    const ids = links(3);
    await place(ids);
    // Every REST call fails with 503 until the router first waits: the batch and the first status queries.
    venue.sim.faults.http5xxRate = 1;
    const { router: subject, log, sleeps } = router('rest', {
      onSleep: (count) => {
        if (count === 1) venue.sim.faults.http5xxRate = 0;
      },
    });
    const results = await subject.cancelBatch(cancelsOf(ids));
    expect(results.map((result) => result.kind)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(log).toEqual(['primary cancelBatch 3', 'fallback cancelBatch 3']);
    expect(sleeps.length).toBeGreaterThanOrEqual(2);
    for (const orderLinkId of ids) expect(await venueOrder(orderLinkId)).toMatchObject({ orderStatus: 'Cancelled' });
  });
});

describe('batch order entry and the venue\'s quota', () => {
  it('counts orders, not requests, and refuses only the orders past the quota', async () => {
    // A venue of its own at the default tier (10 orders a second per batch endpoint), so the window is fresh.
    const ownVenue = await startSimulator({ seed: 19 });
    const client = new RestClientV5({ ...TRADER, baseUrl: ownVenue.restUrl, parseAPIRateLimits: true });
    const socket = new WebsocketAPIClient({ ...TRADER, wsUrl: ownVenue.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
    try {
      const ids = links(8);
      await place(ids, client);
      const overRest = new RestOrderEntry(client, 1_000);
      const overWs = new WebSocketOrderEntry(socket, 1_000);

      const first = await overRest.amendBatch(amendsTo(ids.slice(0, 3), 54_000));
      expect(first.outcomes.map((outcome) => outcome.kind)).toEqual(['accepted', 'accepted', 'accepted']);
      expect(first.limits).toMatchObject({ limit: 10, remaining: 7 });

      // The WebSocket draws on the same quota, and its header says so.
      const second = await overWs.amendBatch(amendsTo(ids.slice(3, 5), 54_100));
      expect(second.limits).toMatchObject({ limit: 10, remaining: 5 });

      // 5 left and 8 asked: the first 5 go through, the last 3 are refused, each with its own code.
      const third = await overRest.amendBatch(amendsTo(ids, 54_200));
      expect(third.outcomes.map((outcome) => (outcome.kind === 'rejected' ? outcome.retCode : outcome.kind))).toEqual([
        'accepted',
        'accepted',
        'accepted',
        'accepted',
        'accepted',
        10006,
        10006,
        10006,
      ]);
      expect(third.limits).toMatchObject({ limit: 10, remaining: 0 });
      expect(await venueOrder(ids[4] ?? '', client)).toMatchObject({ price: '54204.00' });
      expect(await venueOrder(ids[5] ?? '', client)).toMatchObject({ price: '50005.00' });
    } finally {
      socket.getWSClient().closeAll(true);
      await ownVenue.close();
    }
  });

  it.each(['rest', 'websocket'] as const)('%s: a refusal of the whole request is every item\'s outcome', async (transport) => {
    const ids = links(2);
    await place(ids);
    venue.sim.faults.rateLimitStorm = true;
    const entry = transport === 'rest' ? new RestOrderEntry(venue.rest, 1_000) : new WebSocketOrderEntry(venue.wsApi, 1_000);
    const { outcomes } = await entry.cancelBatch(cancelsOf(ids));
    expect(outcomes).toEqual([
      { kind: 'rejected', retCode: 10006, retMsg: 'Too many visits!' },
      { kind: 'rejected', retCode: 10006, retMsg: 'Too many visits!' },
    ]);
    venue.sim.faults.rateLimitStorm = false;
    for (const orderLinkId of ids) expect(await venueOrder(orderLinkId)).toMatchObject({ orderStatus: 'New' });
  });
});

/** bybit-api clients that answer what the simulator never does (malformed or failed answers). */
describe('batch answers of the wrong shape', () => {
  const item = (orderLinkId: string) => ({ category: 'linear', symbol: 'BTCUSDT', orderId: `id-${orderLinkId}`, orderLinkId });
  const ok = { code: 0, msg: 'OK' };
  const restAnswering = (answer: () => Promise<unknown>, timeoutMs = 1_000) =>
    new RestOrderEntry({ batchCancelOrders: answer, batchAmendOrders: answer } as unknown as RestClientV5, timeoutMs);
  const two = cancelsOf(['x', 'y']);

  it('gives every item "unknown" when the lists do not match the request', async () => {
    const entry = restAnswering(() => Promise.resolve({ retCode: 0, retMsg: 'OK', result: { list: [item('x')] }, retExtInfo: { list: [ok] } }));
    expect((await entry.cancelBatch(two)).outcomes).toEqual([
      { kind: 'unknown', reason: 'batch answer with 1 results and 1 codes for 2 orders' },
      { kind: 'unknown', reason: 'batch answer with 1 results and 1 codes for 2 orders' },
    ]);
    const noLists = restAnswering(() => Promise.resolve({ retCode: 0, retMsg: 'OK', result: {}, retExtInfo: {} }));
    expect((await noLists.amendBatch(amendsTo(['x'], 1))).outcomes).toEqual([{ kind: 'unknown', reason: 'batch answer with no results and no codes for 1 orders' }]);
  });

  it('reads each item from its own row and code, and passes the rate-limit headers on', async () => {
    const entry = restAnswering(() =>
      Promise.resolve({
        retCode: 0,
        retMsg: 'OK',
        result: { list: [item('x'), item('y')] },
        retExtInfo: { list: [{ msg: 'no code' }, { code: 110001, msg: 'Order does not exist' }] },
        rateLimitApi: { maxRequests: 10, remainingRequests: 8, resetAtTimestamp: 1_700_000_000_000 },
      }),
    );
    expect(await entry.cancelBatch(two)).toEqual({
      outcomes: [
        { kind: 'unknown', reason: 'batch item without a code' },
        { kind: 'rejected', retCode: 110001, retMsg: 'Order does not exist' },
      ],
      limits: { limit: 10, remaining: 8, resetAt: 1_700_000_000_000 },
    });
  });

  it('gives every item the outcome of a failed request: top-level code, HTTP 5xx, no answer', async () => {
    const refused = restAnswering(() => Promise.resolve({ retCode: 10001, retMsg: 'at most 20 orders per batch', result: {}, retExtInfo: {} }));
    expect((await refused.cancelBatch(two)).outcomes).toEqual([
      { kind: 'rejected', retCode: 10001, retMsg: 'at most 20 orders per batch' },
      { kind: 'rejected', retCode: 10001, retMsg: 'at most 20 orders per batch' },
    ]);
    const broken = restAnswering(() => Promise.reject(Object.assign(new Error('Request failed'), { code: 502 })));
    expect((await broken.cancelBatch(two)).outcomes).toEqual([
      { kind: 'unknown', reason: 'HTTP 502' },
      { kind: 'unknown', reason: 'HTTP 502' },
    ]);
    const silent = restAnswering(() => new Promise(() => undefined), 20);
    expect((await silent.cancelBatch(two)).outcomes).toEqual([
      { kind: 'unknown', reason: 'no answer within 20 ms' },
      { kind: 'unknown', reason: 'no answer within 20 ms' },
    ]);
  });

  it('WebSocket: reads data.list and the header, and a rejected promise is every item\'s refusal', async () => {
    const answering = (answer: () => Promise<unknown>) => new WebSocketOrderEntry({ batchCancelOrder: answer, batchAmendOrder: answer } as unknown as WebsocketAPIClient, 1_000);
    const accepting = answering(() =>
      Promise.resolve({
        retCode: 0,
        retMsg: 'OK',
        op: 'order.cancel-batch',
        data: { list: [item('x'), item('y')] },
        retExtInfo: { list: [ok, ok] },
        header: { 'X-Bapi-Limit': '10', 'X-Bapi-Limit-Status': '8', 'X-Bapi-Limit-Reset-Timestamp': '1700000000000' },
      }),
    );
    expect(await accepting.cancelBatch(two)).toEqual({
      outcomes: [
        { kind: 'accepted', orderId: 'id-x', orderLinkId: 'x' },
        { kind: 'accepted', orderId: 'id-y', orderLinkId: 'y' },
      ],
      limits: { limit: 10, remaining: 8, resetAt: 1_700_000_000_000 },
    });
    const refusing = answering(() => Promise.reject(Object.assign(new Error('order.amend-batch'), { wsKey: 'v5PrivateTrade', retCode: 10404, retMsg: 'op type is not found' })));
    expect((await refusing.amendBatch(amendsTo(['x'], 1))).outcomes).toEqual([{ kind: 'rejected', retCode: 10404, retMsg: 'op type is not found' }]);
  });
});
