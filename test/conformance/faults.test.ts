/**
 * Fault injection through the simulator's loopback admin endpoint, observed through bybit-api.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER } from '../support/sim.js';

let sim: Simulator;
let client: RestClientV5;

const admin = async (body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const response = await fetch(`${sim.restUrl}/sim/admin/faults`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  sim = await startSimulator({ seed: 11 });
  client = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  await admin({ latencyMs: 0, http5xxRate: 0, rateLimitStorm: false, clockSkewMs: 0, bookGapOnce: false, wsDuplicateExecutionRate: 0, wsExecutionDelayMs: 0 });
});

describe('the admin endpoint', () => {
  it('reports and merges fault settings', async () => {
    expect((await admin()).json).toEqual({ latencyMs: 0, http5xxRate: 0, rateLimitStorm: false, clockSkewMs: 0, bookGapOnce: false, wsDuplicateExecutionRate: 0, wsExecutionDelayMs: 0 });
    expect((await admin({ latencyMs: 5 })).json).toMatchObject({ latencyMs: 5, http5xxRate: 0 });
  });

  it('refuses unknown fields and bad values with HTTP 400 naming them', async () => {
    const unknown = await admin({ latencyMs: 5, nonsense: true });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toMatch(/nonsense/);
    const bad = await admin({ http5xxRate: 2 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/http5xxRate/);
    expect((await admin()).json).toMatchObject({ latencyMs: 0, http5xxRate: 0 });
  });
});

describe('injected faults', () => {
  it('HTTP 5xx: the SDK throws with the status', async () => {
    await admin({ http5xxRate: 1 });
    await expect(client.getServerTime()).rejects.toMatchObject({ code: 503 });
  });

  it('added latency delays every answer', async () => {
    await admin({ latencyMs: 150 });
    const started = Date.now();
    await client.getServerTime();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('a rate-limit storm refuses limited endpoints with 10006 while public ones still answer', async () => {
    await admin({ rateLimitStorm: true });
    expect(await client.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).toMatchObject({ retCode: 10006, retMsg: 'Too many visits!' });
    expect((await client.getServerTime()).retCode).toBe(0);
  });

  it('clock skew moves the venue\'s time, so signed requests fall outside the receive window', async () => {
    await admin({ clockSkewMs: -6_000 });
    expect((await client.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).retCode).toBe(10002);
    const time = await client.getServerTime();
    expect(time.time).toBeLessThan(Date.now() - 5_000);
  });
});

describe('WebSocket faults from the admin endpoint', () => {
  it('stalls a public connection (nothing reaches it) and then lets it flow again', async () => {
    const { rawSocket } = await import('../support/ws.js');
    const socket = await rawSocket(sim.wsUrls.public);
    try {
      const response = await fetch(`${sim.restUrl}/sim/admin/ws`, { method: 'POST', body: JSON.stringify({ action: 'stall', endpoint: 'public', ms: 300 }) });
      expect(await response.json()).toEqual({ affected: 1 });
      socket.send({ req_id: 'stalled', op: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(socket.messages).toHaveLength(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      socket.send({ req_id: 'flowing', op: 'ping' });
      await socket.next((message) => message.req_id === 'flowing');
    } finally {
      socket.close();
    }
  });

  it('answers an unknown admin path with 404, and a body that is not JSON or not a fault with 400', async () => {
    expect((await fetch(`${sim.restUrl}/sim/admin/nothing`, { method: 'POST', body: '{}' })).status).toBe(404);
    const notJson = await fetch(`${sim.restUrl}/sim/admin/faults`, { method: 'POST', body: 'latencyMs=5' });
    expect({ status: notJson.status, body: await notJson.json() }).toEqual({ status: 400, body: { error: 'the body must be JSON' } });
    const badFault = await admin({ latencyMs: -1 });
    expect(badFault.status).toBe(400);
    expect(JSON.stringify(badFault.json)).toMatch(/latencyMs/);
    // Nothing changed.
    expect((await admin()).json).toMatchObject({ latencyMs: 0 });
  });

  it('refuses a malformed action naming the field', async () => {
    const response = await fetch(`${sim.restUrl}/sim/admin/ws`, { method: 'POST', body: JSON.stringify({ action: 'stall', endpoint: 'public' }) });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/ms/);
  });
});

describe('rate-limit accounting', () => {
  it('counts refusals a client earned by overrunning its quota, by path, but not those of a storm', async () => {
    const venue = await startSimulator({ seed: 12 });
    try {
      const rest = new RestClientV5({ ...TRADER, baseUrl: venue.restUrl });
      venue.faults.rateLimitStorm = true;
      expect((await rest.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).retCode).toBe(10006);
      expect(venue.limitStats()).toEqual({ uidRefusals: {}, ipBans: 0 });
      venue.faults.rateLimitStorm = false;
      // Bybit's default tier: 5 fee-rate requests a second; the sixth and later in the same second are refused.
      const codes = await Promise.all(Array.from({ length: 8 }, async () => (await rest.getFeeRate({ category: 'linear', symbol: 'BTCUSDT' })).retCode));
      const refused = codes.filter((code) => code === 10006).length;
      expect(refused).toBeGreaterThan(0);
      expect(venue.limitStats()).toEqual({ uidRefusals: { '/v5/account/fee-rate': refused }, ipBans: 0 });
    } finally {
      await venue.close();
    }
  });
});
