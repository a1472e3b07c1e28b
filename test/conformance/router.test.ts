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

describe('the quote gate (the lease, asked as each request leaves)', () => {
  const gate = () => {
    const state: { shut: string | undefined } = { shut: undefined };
    return { state, quoteGate: () => state.shut };
  };

  it('holds back a create whose retry comes after the gate shut: nothing reaches the venue', async () => {
    venue.sim.faults.rateLimitStorm = true;
    const { state, quoteGate } = gate();
    const { router: subject, sleeps } = router({
      quoteGate,
      onSleep: () => {
        // The process was paused in its backoff and woke with its lease gone.
        venue.sim.faults.rateLimitStorm = false;
        state.shut = 'lease lost';
      },
    });
    const orderLinkId = link();
    expect(await subject.create(order(orderLinkId))).toEqual({ kind: 'blocked', reason: 'lease lost' });
    expect(sleeps).toHaveLength(1);
    expect(await venueOrders(orderLinkId)).toEqual([]);
  });

  it('holds back amends but lets cancels through: they are what a generation losing its lease still owes', async () => {
    const { state, quoteGate } = gate();
    const { router: subject } = router({ quoteGate });
    const orderLinkId = link();
    expect(await subject.create(order(orderLinkId))).toMatchObject({ kind: 'accepted' });
    state.shut = 'lease not renewed';
    expect(await subject.create(order(link()))).toEqual({ kind: 'blocked', reason: 'lease not renewed' });
    expect(await subject.amend({ symbol: 'BTCUSDT', orderLinkId, price: '60001.0' })).toEqual({ kind: 'blocked', reason: 'lease not renewed' });
    expect(await subject.amendBatch([{ symbol: 'BTCUSDT', orderLinkId, price: '60002.0' }])).toEqual([{ kind: 'blocked', reason: 'lease not renewed' }]);
    expect(Number((await venueOrders(orderLinkId))[0]?.price)).toBe(60_000);
    expect(await subject.cancel({ symbol: 'BTCUSDT', orderLinkId })).toMatchObject({ kind: 'accepted' });
    expect((await venueOrders(orderLinkId))[0]?.orderStatus).toBe('Cancelled');
  });

  it('a create whose answer was lost and that the venue does not show yet stays unsettled when its resend is held back', async () => {
    // REST primary with 5xx: the create's answer is lost, and so is the first status query.
    venue.sim.faults.http5xxRate = 1;
    const { state, quoteGate } = gate();
    const { router: subject } = router({
      primary: new RestOrderEntry(venue.rest, 1_000),
      quoteGate,
      onSleep: (count) => {
        if (count === 1) venue.sim.faults.http5xxRate = 0;
        // The query found nothing; before the resend, the gate shuts.
        if (count === 2) state.shut = 'lease lost';
      },
    });
    const orderLinkId = link();
    // Not "blocked": the first attempt may still land, so the caller keeps asking the venue about it.
    expect(await subject.create(order(orderLinkId))).toEqual({ kind: 'resolved', report: undefined });
    expect(await venueOrders(orderLinkId)).toEqual([]);
  });

  it('a create already held open by the breaker keeps what its status query established', async () => {
    venue.sim.faults.http5xxRate = 1;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const { router: subject } = router({
      primary: new RestOrderEntry(venue.rest, 1_000),
      breaker,
      onSleep: (count) => {
        if (count === 1) venue.sim.faults.http5xxRate = 0;
      },
    });
    // The lost answer opened the breaker (one failure is its threshold): the resend is not sent.
    expect(await subject.create(order(link()))).toEqual({ kind: 'resolved', report: undefined });
    expect(breaker.state(Date.now())).toBe('open');
  });
});
