/**
 * The order router against the simulator, with the venue's faults: an order is never created twice, a
 * lost answer is settled by a status query, "not now" errors are retried, and nothing is invented.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5, WebsocketAPIClient } from 'bybit-api';
import { RestOrderEntry, WebSocketOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import { restStatusQuery } from '../../src/adapters/bybit/queries.js';
import { gridCodec } from '../../src/core/instrument.js';
import { CircuitBreaker } from '../../src/engine/breaker.js';
import { RequestLimiter } from '../../src/engine/limiter.js';
import { OrderRouter, type RouterDeps } from '../../src/engine/router.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER } from '../support/sim.js';
import { BTCUSDT } from '../support/instruments.js';
import { SILENT_LOGGER } from '../support/ws.js';

let sim: Simulator;
let rest: RestClientV5;
let wsApi: WebsocketAPIClient;
let sequence = 0;
const link = () => `rt-${process.pid}-${(sequence += 1)}`;

beforeAll(async () => {
  sim = await startSimulator({ seed: 13, rateLimitScale: 100 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl, parseAPIRateLimits: true });
  wsApi = new WebsocketAPIClient({ ...TRADER, wsUrl: sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
});

afterEach(async () => {
  Object.assign(sim.faults, { latencyMs: 0, http5xxRate: 0, rateLimitStorm: false });
  await rest.cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
});

afterAll(async () => {
  wsApi.getWSClient().closeAll(true);
  await sim.close();
});

interface Harness {
  readonly router: OrderRouter;
  readonly sleeps: number[];
  readonly refreshes: number[];
}

/** A router over the simulator; `onSleep` runs at each wait (tests lift faults there). */
function router(overrides: Partial<RouterDeps> & { onSleep?: (count: number) => void; primary?: RouterDeps['primary'] } = {}): Harness {
  const sleeps: number[] = [];
  const refreshes: number[] = [];
  const deps: RouterDeps = {
    primary: new WebSocketOrderEntry(wsApi, 150),
    fallback: new RestOrderEntry(rest, 1_000),
    query: restStatusQuery(rest, new Map([['BTCUSDT', gridCodec(BTCUSDT)]])),
    limiter: new RequestLimiter({ defaultPerSecond: 1_000, ipBudget: 100_000, ipWindowMs: 5_000, tasksSharingIp: 1 }),
    breaker: new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 }),
    backoff: { baseMs: 10, maxMs: 100, maxRetries: 3 },
    clock: Date.now,
    sleep: (ms) => {
      sleeps.push(ms);
      overrides.onSleep?.(sleeps.length);
      return Promise.resolve();
    },
    random: () => 0.5,
    refreshCredentials: () => {
      refreshes.push(Date.now());
      return Promise.resolve();
    },
    statusQueryAttempts: 3,
    ...overrides,
  };
  return { router: new OrderRouter(deps), sleeps, refreshes };
}

const order = (orderLinkId: string) => ({ symbol: 'BTCUSDT', side: 'Buy' as const, qty: '0.001', price: '60000.0', orderLinkId });

async function venueOrders(orderLinkId: string) {
  return (await rest.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).result.list;
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
    sim.ws.stall('trade', 400);
    const result = await subject.create(order(orderLinkId));
    expect(result).toMatchObject({ kind: 'resolved', report: { status: 'New', qtyLots: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await venueOrders(orderLinkId)).toHaveLength(1);
  });

  it('retries a create that did not land, once the venue says it does not exist', async () => {
    sim.faults.http5xxRate = 1;
    // REST is primary here so that the 5xx hits the create and then the first status query.
    const { router: subject, sleeps } = router({
      primary: new RestOrderEntry(rest, 1_000),
      onSleep: (count) => {
        if (count === 1) sim.faults.http5xxRate = 0;
      },
    });
    const orderLinkId = link();
    expect(await subject.create(order(orderLinkId))).toMatchObject({ kind: 'accepted' });
    expect(sleeps.length).toBeGreaterThanOrEqual(2);
    expect(await venueOrders(orderLinkId)).toHaveLength(1);
  });

  it('retries "not now" errors with backoff, and returns final refusals at once', async () => {
    sim.faults.rateLimitStorm = true;
    const { router: subject, sleeps } = router({
      onSleep: () => {
        sim.faults.rateLimitStorm = false;
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
    sim.faults.rateLimitStorm = true;
    // Four attempts (one and three retries) fail; the fifth failure, in the next call, opens the breaker.
    const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 });
    const { router: subject } = router({ breaker });
    expect(await subject.create(order(link()))).toMatchObject({ kind: 'rejected', retCode: 10006 });
    expect(breaker.consecutiveFailures).toBe(4);
    expect(await subject.create(order(link()))).toEqual({ kind: 'blocked', reason: 'the circuit breaker is open' });
    expect(breaker.state(Date.now())).toBe('open');
  });

  it('reports an order whose state cannot be established as unresolved, never as gone', async () => {
    sim.faults.http5xxRate = 1;
    const { router: subject } = router({ primary: new RestOrderEntry(rest, 1_000) });
    const result = await subject.create(order(link()));
    expect(result).toMatchObject({ kind: 'unresolved' });
    expect(result.kind === 'unresolved' && result.reason).toMatch(/unknown after 3 queries/);
  });

  it('settles a cancel whose answer was lost by the order\'s state', async () => {
    const { router: subject } = router();
    const orderLinkId = link();
    await subject.create(order(orderLinkId));
    sim.ws.stall('trade', 400);
    expect(await subject.cancel({ symbol: 'BTCUSDT', orderLinkId })).toMatchObject({ kind: 'resolved', report: { status: 'Cancelled' } });
    await new Promise((resolve) => setTimeout(resolve, 450));
  });

  it('refreshes the credentials on an authentication error before retrying', async () => {
    const badKey = new RestOrderEntry(new RestClientV5({ key: TRADER.key, secret: 'rotated-away', baseUrl: sim.restUrl }), 1_000);
    const { router: subject, refreshes } = router({ primary: badKey, fallback: badKey });
    expect(await subject.create(order(link()))).toMatchObject({ kind: 'rejected', retCode: 10004 });
    expect(refreshes).toHaveLength(4);
  });
});
