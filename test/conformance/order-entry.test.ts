/**
 * The engine's order entry (both transports) and message parsing against the simulator, through bybit-api.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5, WebsocketAPIClient, WebsocketClient } from 'bybit-api';
import { parseExecution, parseOrder, toExecution, toVenueOrderReport } from '../../src/adapters/bybit/messages.js';
import { RestOrderEntry, WebSocketOrderEntry } from '../../src/adapters/bybit/order-entry.js';
import type { OrderEntry } from '../../src/ports/order-entry.js';
import { gridCodec } from '../../src/core/instrument.js';
import { lots, ticks } from '../../src/core/units.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER } from '../support/sim.js';
import { SILENT_LOGGER, waitFor } from '../support/ws.js';
import { BTCUSDT } from '../support/instruments.js';

let sim: Simulator;
let rest: RestClientV5;
let wsApi: WebsocketAPIClient;
let sequence = 0;
const link = () => `oe-${process.pid}-${(sequence += 1)}`;

beforeAll(async () => {
  sim = await startSimulator({ seed: 3, rateLimitScale: 100 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl, parseAPIRateLimits: true });
  wsApi = new WebsocketAPIClient({ ...TRADER, wsUrl: sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
});

afterEach(async () => {
  Object.assign(sim.faults, { latencyMs: 0, http5xxRate: 0 });
  await rest.cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
});

afterAll(async () => {
  wsApi.getWSClient().closeAll(true);
  await sim.close();
});

const transports = (): [string, () => OrderEntry][] => [
  ['rest', () => new RestOrderEntry(rest, 1_000)],
  ['websocket', () => new WebSocketOrderEntry(wsApi, 1_000)],
];

describe.each(transports())('order entry over %s', (_name, make) => {
  it('is accepted, amended and cancelled, with the venue\'s rate-limit figures', async () => {
    const entry = make();
    const orderLinkId = link();
    const created = await entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId });
    expect(created.outcome).toMatchObject({ kind: 'accepted', orderLinkId });
    expect(created.limits).toMatchObject({ limit: 1_000 });
    expect((await entry.amend({ symbol: 'BTCUSDT', orderLinkId, price: '60001.0' })).outcome.kind).toBe('accepted');
    expect((await entry.cancel({ symbol: 'BTCUSDT', orderLinkId })).outcome.kind).toBe('accepted');
  });

  it('reports the venue\'s refusal with its code', async () => {
    const entry = make();
    const orderLinkId = link();
    await entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId });
    expect((await entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId })).outcome).toEqual({ kind: 'rejected', retCode: 110072, retMsg: 'OrderLinkedID is duplicate' });
    expect((await entry.cancel({ symbol: 'BTCUSDT', orderLinkId: 'never-sent' })).outcome).toMatchObject({ kind: 'rejected', retCode: 110001 });
  });

  it('says unknown when the answer is lost, though the venue took the order', async () => {
    // REST: the answer is late; order entry: the acknowledgement never arrives (a stalled socket).
    if (_name === 'rest') sim.faults.latencyMs = 300;
    else sim.ws.stall('trade', 300);
    const timed = _name === 'rest' ? new RestOrderEntry(rest, 100) : new WebSocketOrderEntry(wsApi, 100);
    const orderLinkId = link();
    const result = await timed.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId });
    expect(result.outcome).toEqual({ kind: 'unknown', reason: 'no answer within 100 ms' });
    expect(make().transport).toBe(_name);
    sim.faults.latencyMs = 0;
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Only a status query can tell: the router must ask before it retries.
    expect((await rest.getActiveOrders({ category: 'linear', orderLinkId })).result.list[0]).toMatchObject({ orderStatus: 'New' });
  });
});

describe('order entry failures', () => {
  it('REST: HTTP 5xx is unknown, a per-IP ban is a retryable refusal', async () => {
    const entry = new RestOrderEntry(rest, 1_000);
    sim.faults.http5xxRate = 1;
    expect((await entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId: link() })).outcome).toEqual({ kind: 'unknown', reason: 'HTTP 503' });
    sim.faults.http5xxRate = 0;
    const banned = await startSimulator({ ipLimit: { limit: 1, windowMs: 5_000, banMs: 60_000 } });
    try {
      const bannedEntry = new RestOrderEntry(new RestClientV5({ ...TRADER, baseUrl: banned.restUrl }), 1_000);
      await bannedEntry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId: link() });
      expect((await bannedEntry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId: link() })).outcome).toEqual({ kind: 'rejected', retCode: 10429, retMsg: 'HTTP 403' });
    } finally {
      await banned.close();
    }
  });

  it('WebSocket: a dropped connection is unknown', async () => {
    const client = new WebsocketAPIClient({ ...TRADER, wsUrl: sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
    try {
      const entry = new WebSocketOrderEntry(client, 2_000);
      await entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId: link() });
      sim.ws.stall('trade', 1_000);
      const pending = entry.create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.001', price: '60000.0', orderLinkId: link() });
      await new Promise((resolve) => setTimeout(resolve, 50));
      sim.ws.drop('trade');
      expect((await pending).outcome.kind).toBe('unknown');
    } finally {
      client.getWSClient().closeAll(true);
    }
  });
});

describe('message parsing on real venue output', () => {
  it('parses REST orders and executions and private stream messages into domain types', async () => {
    const codec = gridCodec(BTCUSDT);
    const stream = new WebsocketClient({ ...TRADER, wsUrl: sim.wsUrls.private }, SILENT_LOGGER);
    const updates: Record<string, unknown>[] = [];
    const responses: Record<string, unknown>[] = [];
    stream.on('update', (update: Record<string, unknown>) => updates.push(update));
    stream.on('response', (response: Record<string, unknown>) => responses.push(response));
    try {
      void stream.subscribeV5(['order', 'execution'], 'linear');
      await waitFor(responses, (response) => ((response as { op?: string }).op === 'subscribe' ? true : undefined));
      const orderLinkId = link();
      await new RestOrderEntry(rest, 1_000).create({ symbol: 'BTCUSDT', side: 'Buy', qty: '0.002', price: '64000.0', orderLinkId });
      sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(1), priceTicks: ticks(630_000) });
      const restOrder = (await rest.getActiveOrders({ category: 'linear', orderLinkId })).result.list[0];
      expect(toVenueOrderReport(parseOrder(restOrder), codec)).toMatchObject({ status: 'PartiallyFilled', cumExecLots: 1, leavesLots: 1, priceTicks: 640_000 });
      const restExecution = (await rest.getExecutionList({ category: 'linear', orderLinkId })).result.list[0];
      expect(toExecution(parseExecution(restExecution), BTCUSDT, codec)).toMatchObject({ kind: 'trade', isMaker: true, qtyLots: 1 });
      const streamed = await waitFor(updates, (update) => {
        const message = update as { topic?: string; data?: Record<string, unknown>[] };
        return message.topic === 'execution' && message.data?.[0]?.orderLinkId === orderLinkId ? message.data[0] : undefined;
      });
      const trade = toExecution(parseExecution(streamed), BTCUSDT, codec);
      expect(trade.execId).toBe((restExecution as { execId: string }).execId);
      const streamedOrder = await waitFor(updates, (update) => {
        const message = update as { topic?: string; data?: Record<string, unknown>[] };
        return message.topic === 'order' && message.data?.[0]?.orderLinkId === orderLinkId && message.data[0].orderStatus === 'PartiallyFilled' ? message.data[0] : undefined;
      });
      expect(toVenueOrderReport(parseOrder(streamedOrder), codec).cumExecLots).toBe(1);
    } finally {
      stream.closeAll(true);
    }
  });
});
