/**
 * The order router against the simulator, with the venue's faults: an order is never created twice, a
 * lost answer is settled by a status query, "not now" errors are retried, and nothing is invented.
 */
import { describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { RestOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import { CircuitBreaker } from '../../src/engine/breaker.js';
import { TRADER } from '../support/sim.js';
import { type RouterHarness, simulatedRouter, useSimulatedVenue } from '../support/venue-router.js';

const venue = useSimulatedVenue(13, 'rt');
const link = () => venue.link();
const router = (overrides: Parameters<typeof simulatedRouter>[1] = {}): RouterHarness => simulatedRouter(venue, overrides);

const order = (orderLinkId: string) => ({ symbol: 'BTCUSDT', side: 'Buy' as const, qty: '0.001', price: '60000.0', orderLinkId });

async function venueOrders(orderLinkId: string) {
  return (await venue.rest.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).result.list;
}

describe('order router', () => {
  it('sends over the order-entry WebSocket first', async () => {
    const { router: subject } = router();
    const orderLinkId = link();
    expect(await subject.create(order(orderLinkId))).toMatchObject({ kind: 'accepted' });
    expect(await venueOrders(orderLinkId)).toHaveLength(1);
  });

  it('settles a lost acknowledgement with a status query and creates nothing twice', async () => {
    const { router: subject } = router();
    const orderLinkId = link();
    venue.sim.ws.stall('trade', 400);
    const result = await subject.create(order(orderLinkId));
    expect(result).toMatchObject({ kind: 'resolved', report: { status: 'New', qtyLots: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await venueOrders(orderLinkId)).toHaveLength(1);
  });

  it('retries a create that did not land, once the venue says it does not exist', async () => {
    venue.sim.faults.http5xxRate = 1;
    // REST is primary here so that the 5xx hits the create and then the first status query.
    const { router: subject, sleeps } = router({
      primary: new RestOrderEntry(venue.rest, 1_000),
      onSleep: (count) => {
        if (count === 1) venue.sim.faults.http5xxRate = 0;
      },
    });
    const orderLinkId = link();
    expect(await subject.create(order(orderLinkId))).toMatchObject({ kind: 'accepted' });
    expect(sleeps.length).toBeGreaterThanOrEqual(2);
    expect(await venueOrders(orderLinkId)).toHaveLength(1);
  });

  it('retries "not now" errors with backoff, and returns final refusals at once', async () => {
    venue.sim.faults.rateLimitStorm = true;
    const { router: subject, sleeps } = router({
      onSleep: () => {
        venue.sim.faults.rateLimitStorm = false;
      },
    });
    expect(await subject.create(order(link()))).toMatchObject({ kind: 'accepted' });
    // Full jitter: the first retry waits a draw (0.5 here) of min(max, base x 2) = 20 ms.
    expect(sleeps).toEqual([10]);

    const orderLinkId = link();
    await subject.create(order(orderLinkId));
    const duplicate = router();
    expect(await duplicate.router.create(order(orderLinkId))).toEqual({ kind: 'rejected', retCode: 110072, retMsg: 'OrderLinkedID is duplicate' });
    expect(duplicate.sleeps).toEqual([]);
  });

  it('gives up after its retries and opens the breaker after repeated failures', async () => {
    venue.sim.faults.rateLimitStorm = true;
    // Four attempts (one and three retries) fail; the fifth failure, in the next call, opens the breaker.
    const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 });
    const { router: subject } = router({ breaker });
    expect(await subject.create(order(link()))).toMatchObject({ kind: 'rejected', retCode: 10006 });
    expect(breaker.consecutiveFailures).toBe(4);
    expect(await subject.create(order(link()))).toEqual({ kind: 'blocked', reason: 'the circuit breaker is open' });
    expect(breaker.state(Date.now())).toBe('open');
  });

  it('reports an order whose state cannot be established as unresolved, never as gone', async () => {
    venue.sim.faults.http5xxRate = 1;
    const { router: subject } = router({ primary: new RestOrderEntry(venue.rest, 1_000) });
    const result = await subject.create(order(link()));
    expect(result).toMatchObject({ kind: 'unresolved' });
    expect(result.kind === 'unresolved' && result.reason).toMatch(/unknown after 3 queries/);
  });

  it('settles a cancel whose answer was lost by the order\'s state', async () => {
    const { router: subject } = router();
    const orderLinkId = link();
    await subject.create(order(orderLinkId));
    venue.sim.ws.stall('trade', 400);
    expect(await subject.cancel({ symbol: 'BTCUSDT', orderLinkId })).toMatchObject({ kind: 'resolved', report: { status: 'Cancelled' } });
    await new Promise((resolve) => setTimeout(resolve, 450));
  });

  it('refreshes the credentials on an authentication error before retrying', async () => {
    const badKey = new RestOrderEntry(new RestClientV5({ key: TRADER.key, secret: 'rotated-away', baseUrl: venue.sim.restUrl }), 1_000);
    const { router: subject, refreshes } = router({ primary: badKey, fallback: badKey });
    expect(await subject.create(order(link()))).toMatchObject({ kind: 'rejected', retCode: 10004 });
    expect(refreshes).toHaveLength(4);
  });
});
