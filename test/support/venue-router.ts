/**
 * The order router over the simulator, for conformance tests: one simulator per test file with bybit-api's
 * REST and order-entry WebSocket clients on it (cleaned between tests), and routers over them with fast
 * backoff whose waits and credential refreshes are recorded.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { RestClientV5, WebsocketAPIClient } from 'bybit-api';
import { RestOrderEntry, WebSocketOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import { restStatusQuery } from '../../src/adapters/bybit/queries.js';
import { gridCodec } from '../../src/core/instrument.js';
import { CircuitBreaker } from '../../src/engine/breaker.js';
import { RequestLimiter } from '../../src/engine/limiter.js';
import { OrderRouter, type RouterDeps } from '../../src/engine/router.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { BTCUSDT } from './instruments.js';
import { TRADER } from './sim.js';
import { SILENT_LOGGER } from './ws.js';

export interface SimulatedVenue {
  readonly sim: Simulator;
  readonly rest: RestClientV5;
  readonly wsApi: WebsocketAPIClient;
  /** A fresh orderLinkId with this file's prefix. */
  link(): string;
}

/** Starts the simulator before the file's tests and closes it after; lifts REST faults and cancels every BTCUSDT order after each test. */
export function useSimulatedVenue(seed: number, prefix: string): SimulatedVenue {
  const holder: { sim?: Simulator; rest?: RestClientV5; wsApi?: WebsocketAPIClient } = {};
  let sequence = 0;
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the simulated venue is used before beforeAll');
    return value;
  };
  beforeAll(async () => {
    holder.sim = await startSimulator({ seed, rateLimitScale: 100 });
    holder.rest = new RestClientV5({ ...TRADER, baseUrl: holder.sim.restUrl, parseAPIRateLimits: true });
    holder.wsApi = new WebsocketAPIClient({ ...TRADER, wsUrl: holder.sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
  });
  afterEach(async () => {
    Object.assign(need(holder.sim).faults, { latencyMs: 0, http5xxRate: 0, rateLimitStorm: false });
    await need(holder.rest).cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
  });
  afterAll(async () => {
    holder.wsApi?.getWSClient().closeAll(true);
    await holder.sim?.close();
  });
  return {
    get sim() {
      return need(holder.sim);
    },
    get rest() {
      return need(holder.rest);
    },
    get wsApi() {
      return need(holder.wsApi);
    },
    link: () => `${prefix}-${process.pid}-${(sequence += 1)}`,
  };
}

export interface RouterHarness {
  readonly router: OrderRouter;
  readonly sleeps: number[];
  readonly refreshes: number[];
}

/**
 * A router over the simulated venue: WebSocket first (150 ms timeout), REST as the fallback, fast backoff
 * with no jitter. `onSleep` runs at each wait (tests lift faults there); any dependency can be replaced.
 */
export function simulatedRouter(venue: SimulatedVenue, overrides: Partial<RouterDeps> & { onSleep?: (count: number) => void } = {}): RouterHarness {
  const sleeps: number[] = [];
  const refreshes: number[] = [];
  const { onSleep, ...replaced } = overrides;
  const deps: RouterDeps = {
    primary: new WebSocketOrderEntry(venue.wsApi, 150),
    fallback: new RestOrderEntry(venue.rest, 1_000),
    query: restStatusQuery(venue.rest, new Map([['BTCUSDT', gridCodec(BTCUSDT)]])),
    limiter: new RequestLimiter({ defaultPerSecond: 1_000, ipBudget: 100_000, ipWindowMs: 5_000, tasksSharingIp: 1 }),
    breaker: new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 }),
    backoff: { baseMs: 10, maxMs: 100, maxRetries: 3 },
    clock: Date.now,
    sleep: (ms) => {
      sleeps.push(ms);
      onSleep?.(sleeps.length);
      return Promise.resolve();
    },
    random: () => 0.5,
    refreshCredentials: () => {
      refreshes.push(Date.now());
      return Promise.resolve();
    },
    statusQueryAttempts: 3,
    ...replaced,
  };
  return { router: new OrderRouter(deps), sleeps, refreshes };
}
