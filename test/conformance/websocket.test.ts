/**
 * Conformance of the simulator's WebSocket API, driven by the unmodified bybit-api WebsocketClient and
 * WebsocketAPIClient, and by a raw socket for protocol edges the SDK hides.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { RestClientV5, WebsocketAPIClient, WebsocketClient } from 'bybit-api';
import { formatPrice, gridCodec } from '../../src/core/instrument.js';
import { lots, ticks } from '../../src/core/units.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER, MASTER } from '../support/sim.js';
import { BTCUSDT } from '../support/instruments.js';
import { SILENT_LOGGER, rawSocket, waitFor } from '../support/ws.js';


let sim: Simulator;
let rest: RestClientV5;
const closers: (() => void)[] = [];
let linkSeq = 0;
const link = () => `ws-${process.pid}-${(linkSeq += 1)}`;

beforeAll(async () => {
  // A high rate-limit tier: these tests send many orders per second; limits are tested in rest.test.ts.
  sim = await startSimulator({ seed: 5, rateLimitScale: 100 });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  sim.faults.bookGapOnce = false;
  sim.faults.wsDuplicateExecutionRate = 0;
  sim.faults.wsExecutionDelayMs = 0;
  await rest.cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
});

afterAll(async () => {
  await sim.close();
});

function publicClient(): { client: WebsocketClient; updates: Record<string, unknown>[] } {
  // promiseSubscribeRequests: subscribeV5 then resolves on the venue's ack, not at once.
  const client = new WebsocketClient({ wsUrl: sim.wsUrls.public, promiseSubscribeRequests: true }, SILENT_LOGGER);
  const updates: Record<string, unknown>[] = [];
  client.on('update', (update: Record<string, unknown>) => updates.push(update));
  closers.push(() => {
    client.closeAll(true);
  });
  return { client, updates };
}

function privateClient(): { client: WebsocketClient; updates: Record<string, unknown>[]; events: Record<string, unknown>[] } {
  const client = new WebsocketClient({ ...TRADER, wsUrl: sim.wsUrls.private, promiseSubscribeRequests: true }, SILENT_LOGGER);
  const updates: Record<string, unknown>[] = [];
  const events: Record<string, unknown>[] = [];
  client.on('update', (update: Record<string, unknown>) => updates.push(update));
  for (const name of ['authenticated', 'reconnected', 'response', 'exception'] as const) client.on(name, (event: Record<string, unknown>) => events.push({ ...event, event: name }));
  closers.push(() => {
    client.closeAll(true);
  });
  return { client, updates, events };
}

/** Private subscriptions are queued until auth, so the SDK's promise says nothing; wait for the venue's ack. */
async function subscribePrivate(client: WebsocketClient, events: Record<string, unknown>[], topics: string[]): Promise<void> {
  const acksBefore = events.filter((event) => event.op === 'subscribe').length;
  void client.subscribeV5(topics, 'linear');
  await waitFor(events, () => (events.filter((event) => event.op === 'subscribe' && event.success === true).length > acksBefore ? true : undefined));
}

type Book = { bids: Map<string, string>; asks: Map<string, string> };
function applyBookMessage(book: Book, message: Record<string, unknown>): void {
  const data = message.data as { b: [string, string][]; a: [string, string][] };
  if (message.type === 'snapshot') {
    book.bids.clear();
    book.asks.clear();
  }
  for (const [side, rows] of [[book.bids, data.b], [book.asks, data.a]] as const) {
    for (const [price, size] of rows) {
      if (size === '0' || Number(size) === 0) side.delete(price);
      else side.set(price, size);
    }
  }
}

describe('public stream', () => {
  it('keeps a local order book equal to the venue\'s from a snapshot and update-id-ordered deltas', async () => {
    const { client, updates } = publicClient();
    await Promise.all(client.subscribeV5(['orderbook.50.BTCUSDT'], 'linear'));
    await waitFor(updates, (update) => ((update as Record<string, unknown>).type === 'snapshot' ? true : undefined));
    // Quote, trade through, amend and cancel to exercise inserts, updates and deletes.
    const placed: string[] = [];
    for (let index = 0; index < 6; index++) {
      const orderLinkId = link();
      await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: index % 2 ? 'Sell' : 'Buy', orderType: 'Limit', qty: '0.005', price: index % 2 ? `${65010 + index}.0` : `${64990 - index}.0`, timeInForce: 'PostOnly', orderLinkId });
      placed.push(orderLinkId);
    }
    sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(7), priceTicks: ticks(650_200) });
    await rest.amendOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId: placed[0]!, price: '64995.0' });
    await rest.cancelOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId: placed[2]! });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const messages = updates.filter((update) => update.topic === 'orderbook.50.BTCUSDT');
    const book: Book = { bids: new Map(), asks: new Map() };
    let lastU = 0;
    for (const message of messages) {
      const u = (message.data as { u: number }).u;
      if (message.type === 'delta') expect(u).toBe(lastU + 1);
      lastU = u;
      applyBookMessage(book, message);
    }
    const venue = await rest.getOrderbook({ category: 'linear', symbol: 'BTCUSDT', limit: 50 });
    expect([...book.bids].sort((a, b) => Number(b[0]) - Number(a[0]))).toEqual(venue.result.b);
    expect([...book.asks].sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(venue.result.a);
    expect(messages[1]).toMatchObject({ topic: 'orderbook.50.BTCUSDT', type: 'delta', data: { s: 'BTCUSDT' } });
    expect(Object.keys(messages[1]!).slice(0, 3)).toEqual(['topic', 'type', 'ts']);
  });

  it('publishes trades with the taker side and tickers as snapshot then deltas', async () => {
    const { client, updates } = publicClient();
    await Promise.all(client.subscribeV5(['publicTrade.BTCUSDT', 'tickers.BTCUSDT'], 'linear'));
    await waitFor(updates, (update) => ((update as Record<string, unknown>).topic === 'tickers.BTCUSDT' ? true : undefined));
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.003', price: '64000.0', timeInForce: 'PostOnly', orderLinkId: link() });
    sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(2), priceTicks: ticks(630_000) });
    const trade = await waitFor(updates, (update) => {
      const message = update as { topic?: string; data?: Record<string, unknown>[] };
      return message.topic === 'publicTrade.BTCUSDT' ? message.data?.[0] : undefined;
    });
    expect(trade).toMatchObject({ s: 'BTCUSDT', S: 'Sell', p: '64000.00', v: '0.002', BT: false });
    const delta = await waitFor(updates, (update) => {
      const message = update as { topic?: string; type?: string; data?: Record<string, string> };
      return message.topic === 'tickers.BTCUSDT' && message.type === 'delta' && message.data?.lastPrice ? message.data : undefined;
    });
    expect(delta).toMatchObject({ symbol: 'BTCUSDT', lastPrice: '64000.00' });
  });

  it('answers ping with a compact pong and refuses an unknown topic by name', async () => {
    const socket = await rawSocket(sim.wsUrls.public);
    closers.push(socket.close);
    socket.send({ req_id: 'p1', op: 'ping' });
    await socket.next((message) => message.ret_msg === 'pong');
    expect(socket.frames.at(-1)).toMatch(/"ret_msg":"pong"/);
    expect(socket.messages.at(-1)).toMatchObject({ success: true, req_id: 'p1', op: 'ping' });
    socket.send({ req_id: 's1', op: 'subscribe', args: ['orderbook.30.BTCUSDT'] });
    expect(await socket.next((message) => message.req_id === 's1')).toMatchObject({ success: false, ret_msg: 'error:handler not found,topic:orderbook.30.BTCUSDT' });
    socket.send('not json');
    expect(await socket.next((message) => typeof message.ret_msg === 'string' && message.ret_msg.startsWith('Failed to decode'))).toMatchObject({ success: false });
  });

  it('injects an order-book sequence gap on request', async () => {
    const { client, updates } = publicClient();
    await Promise.all(client.subscribeV5(['orderbook.50.BTCUSDT'], 'linear'));
    const first = await waitFor(updates, (update) => ((update as Record<string, unknown>).type === 'snapshot' ? ((update as { data: { u: number } }).data.u) : undefined));
    sim.faults.bookGapOnce = true;
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly', orderLinkId: link() });
    const delta = await waitFor(updates, (update) => ((update as Record<string, unknown>).type === 'delta' ? ((update as { data: { u: number } }).data.u) : undefined));
    expect(delta).toBe(first + 2);
  });
});

describe('private stream', () => {
  it('pushes order, execution, position and wallet messages for a quote that gets filled', async () => {
    const { client, updates, events } = privateClient();
    await subscribePrivate(client, events, ['order', 'execution', 'position', 'wallet']);
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.010', price: '64000.0', timeInForce: 'PostOnly', orderLinkId });
    const newOrder = await waitFor(updates, (update) => {
      const message = update as { topic?: string; data?: Record<string, unknown>[] };
      return message.topic === 'order' && message.data?.[0]?.orderLinkId === orderLinkId ? message.data[0] : undefined;
    });
    expect(newOrder).toMatchObject({ category: 'linear', orderStatus: 'New', price: '64000.00', qty: '0.010', timeInForce: 'PostOnly' });

    sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(4), priceTicks: ticks(630_000) });
    const execution = await waitFor(updates, (update) => {
      const message = update as { topic?: string; data?: Record<string, unknown>[] };
      return message.topic === 'execution' && message.data?.[0]?.orderLinkId === orderLinkId ? message.data[0] : undefined;
    });
    expect(execution).toMatchObject({ category: 'linear', execQty: '0.004', execPrice: '64000.00', isMaker: true, feeRate: '-0.000025', execFee: '-0.00640000', execType: 'Trade' });
    const partial = await waitFor(updates, (update) => {
      const message = update as { topic?: string; data?: Record<string, unknown>[] };
      return message.topic === 'order' && message.data?.[0]?.orderStatus === 'PartiallyFilled' ? message.data[0] : undefined;
    });
    expect(partial).toMatchObject({ orderLinkId, cumExecQty: '0.004', leavesQty: '0.006' });
    // Earlier tests may have left a position: the pushed one must match the venue's REST view after the fill.
    const venuePosition = (await rest.getPositionInfo({ category: 'linear', symbol: 'BTCUSDT' })).result.list[0]!;
    const position = await waitFor(updates, (update) => {
      const message = update as { topic?: string; data?: Record<string, unknown>[] };
      return message.topic === 'position' && message.data?.[0]?.size === venuePosition.size ? message.data[0] : undefined;
    });
    expect(position).toMatchObject({ category: 'linear', symbol: 'BTCUSDT', side: venuePosition.side, entryPrice: venuePosition.avgPrice });
    const wallet = await waitFor(updates, (update) => ((update as { topic?: string }).topic === 'wallet' ? update : undefined));
    expect(wallet).toMatchObject({ data: [expect.objectContaining({ accountType: 'UNIFIED' })] });
  });

  it('refuses a subscription before auth, and a bad signature', async () => {
    const socket = await rawSocket(sim.wsUrls.private);
    closers.push(socket.close);
    socket.send({ req_id: 'a', op: 'subscribe', args: ['order'] });
    expect(await socket.next((message) => message.req_id === 'a')).toMatchObject({ success: false, ret_msg: 'Request not authorized', op: 'subscribe' });
    const expires = Date.now() + 5_000;
    socket.send({ req_id: 'b', op: 'auth', args: [TRADER.key, expires, 'bad'] });
    expect(await socket.next((message) => message.req_id === 'b')).toMatchObject({ success: false, op: 'auth' });
    const signature = createHmac('sha256', TRADER.secret).update(`GET/realtime${expires}`).digest('hex');
    socket.send({ req_id: 'c', op: 'auth', args: [TRADER.key, expires, signature] });
    expect(await socket.next((message) => message.req_id === 'c')).toMatchObject({ success: true, ret_msg: '', op: 'auth' });
    socket.send({ req_id: 'd', op: 'auth', args: [TRADER.key, expires, signature] });
    expect(await socket.next((message) => message.req_id === 'd')).toMatchObject({ success: true, op: 'auth' });
    socket.send({ req_id: 'e', op: 'ping' });
    expect(await socket.next((message) => message.req_id === 'e')).toMatchObject({ op: 'pong', args: [expect.any(String)] });
  });

  it('lets the SDK reconnect, re-authenticate and resubscribe after the venue drops it', async () => {
    const { client, updates, events } = privateClient();
    await subscribePrivate(client, events, ['order']);
    expect(sim.ws.drop('private')).toBeGreaterThan(0);
    await waitFor(events, (event) => ((event as { event?: string }).event === 'reconnected' ? true : undefined), 5_000);
    await waitFor(events, () => (events.filter((event) => event.op === 'subscribe' && event.success === true).length >= 2 ? true : undefined));
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly', orderLinkId });
    await waitFor(updates, (update) => ((update as { data?: { orderLinkId?: string }[] }).data?.[0]?.orderLinkId === orderLinkId ? true : undefined));
  });

  it('can send an execution twice or late when told to (faults for the engine\'s tests)', async () => {
    const { client, updates, events } = privateClient();
    await subscribePrivate(client, events, ['execution']);
    sim.faults.wsDuplicateExecutionRate = 1;
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '64000.0', timeInForce: 'PostOnly', orderLinkId });
    sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(1), priceTicks: ticks(630_000) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const copies = updates.filter((update) => (update as { data?: { orderLinkId?: string }[] }).data?.[0]?.orderLinkId === orderLinkId);
    expect(copies).toHaveLength(2);
    expect((copies[0] as { data: { execId: string }[] }).data[0]!.execId).toBe((copies[1] as { data: { execId: string }[] }).data[0]!.execId);
  });

  it('delays execution messages so that the order message overtakes them', async () => {
    const { client, updates, events } = privateClient();
    await subscribePrivate(client, events, ['order', 'execution']);
    sim.faults.wsExecutionDelayMs = 300;
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '64000.0', timeInForce: 'PostOnly', orderLinkId });
    sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(1), priceTicks: ticks(630_000) });
    const mine = (topic: string) => updates.findIndex((update) => update.topic === topic && (update.data as { orderLinkId?: string; orderStatus?: string }[])[0]?.orderLinkId === orderLinkId && (topic !== 'order' || (update.data as { orderStatus?: string }[])[0]?.orderStatus === 'Filled'));
    await waitFor(updates, () => (mine('order') >= 0 ? true : undefined));
    expect(mine('execution')).toBe(-1);
    await waitFor(updates, () => (mine('execution') >= 0 ? true : undefined));
    expect(mine('execution')).toBeGreaterThan(mine('order'));
  });
});

describe('disconnect-cancel-all (DCP)', () => {
  async function dcpConnection() {
    const socket = await rawSocket(sim.wsUrls.private);
    const expires = Date.now() + 5_000;
    socket.send({ req_id: 'auth', op: 'auth', args: [TRADER.key, expires, createHmac('sha256', TRADER.secret).update(`GET/realtime${expires}`).digest('hex')] });
    await socket.next((message) => message.req_id === 'auth' && message.success === true);
    socket.send({ req_id: 'sub', op: 'subscribe', args: ['dcp.future'] });
    await socket.next((message) => message.req_id === 'sub' && message.success === true);
    return socket;
  }

  it('cancels open orders with CancelByDCP once every dcp connection has been gone longer than the window', async () => {
    expect((await rest.setDisconnectCancelAllWindowV2({ product: 'DERIVATIVES', timeWindow: 3 })).retCode).toBe(0);
    const socket = await dcpConnection();
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly', orderLinkId });
    socket.terminate();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await rest.getActiveOrders({ category: 'linear', orderLinkId })).result.list[0]).toMatchObject({ orderStatus: 'New' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await rest.getActiveOrders({ category: 'linear', orderLinkId })).result.list[0]).toMatchObject({ orderStatus: 'Cancelled', cancelType: 'CancelByDCP' });
  });

  it('does not cancel when a dcp connection comes back within the window', async () => {
    expect((await rest.setDisconnectCancelAllWindowV2({ product: 'DERIVATIVES', timeWindow: 3 })).retCode).toBe(0);
    const first = await dcpConnection();
    const orderLinkId = link();
    await rest.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly', orderLinkId });
    first.terminate();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const second = await dcpConnection();
    closers.push(second.close);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await rest.getActiveOrders({ category: 'linear', orderLinkId })).result.list[0]).toMatchObject({ orderStatus: 'New' });
  });
});

describe('order entry stream', () => {
  function tradeClient(): WebsocketAPIClient {
    const client = new WebsocketAPIClient({ ...TRADER, wsUrl: sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
    closers.push(() => {
      client.getWSClient().closeAll(true);
    });
    return client;
  }

  it('creates, amends and cancels orders with REST\'s results, codes and limit headers', async () => {
    const client = tradeClient();
    const orderLinkId = link();
    const created = await client.submitNewOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.002', price: '61000.0', timeInForce: 'PostOnly', orderLinkId });
    expect(created).toMatchObject({ retCode: 0, retMsg: 'OK', op: 'order.create', data: { orderLinkId } });
    expect(created.header).toMatchObject({ 'X-Bapi-Limit': '1000', 'X-Bapi-Limit-Status': expect.any(String), Traceid: expect.any(String), Timenow: expect.any(String) });
    expect(await client.amendOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId, price: '61001.0' })).toMatchObject({ retCode: 0, op: 'order.amend' });
    expect(await client.cancelOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).toMatchObject({ retCode: 0, op: 'order.cancel' });
    await expect(client.cancelOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).rejects.toMatchObject({ retCode: 110001, op: 'order.cancel' });
  });

  it('runs batch operations with per-order results', async () => {
    const client = tradeClient();
    const ids = [link(), link()];
    const response = await client.batchSubmitOrders('linear', [
      { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '61000.0', timeInForce: 'PostOnly', orderLinkId: ids[0]! },
      { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '61000.03', timeInForce: 'PostOnly', orderLinkId: ids[1]! },
    ]);
    expect(response.op).toBe('order.create-batch');
    expect(response.retExtInfo.list.map((item: { code: number }) => item.code)).toEqual([0, 10001]);
  });

  it('answers auth, repeat auth, a duplicate reqId and an unknown op as Bybit does', async () => {
    const socket = await rawSocket(sim.wsUrls.trade);
    closers.push(socket.close);
    const expires = Date.now() + 5_000;
    const auth = { reqId: 'auth-1', op: 'auth', args: [TRADER.key, expires, createHmac('sha256', TRADER.secret).update(`GET/realtime${expires}`).digest('hex')] };
    socket.send({ ...auth, args: [TRADER.key, expires, 'bad'] });
    expect(await socket.next((message) => message.reqId === 'auth-1')).toMatchObject({ retCode: 10004, op: 'auth' });
    socket.send({ ...auth, reqId: 'auth-2' });
    expect(await socket.next((message) => message.reqId === 'auth-2')).toMatchObject({ retCode: 0, retMsg: 'OK', op: 'auth', connId: expect.any(String) });
    socket.send({ ...auth, reqId: 'auth-3' });
    expect(await socket.next((message) => message.reqId === 'auth-3')).toMatchObject({ retCode: 20001, op: 'auth' });
    const order = { reqId: 'dup', header: { 'X-BAPI-TIMESTAMP': String(Date.now()), 'X-BAPI-RECV-WINDOW': '5000' }, op: 'order.create', args: [{ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly' }] };
    socket.send(order);
    expect(await socket.next((message) => message.reqId === 'dup')).toMatchObject({ retCode: 0, op: 'order.create' });
    const before = socket.messages.length;
    socket.send(order);
    expect(await socket.next((message) => message.reqId === 'dup' && socket.messages.indexOf(message) >= before)).toMatchObject({ retCode: 20006 });
    socket.send({ ...order, reqId: 'x', op: 'order.teleport' });
    expect(await socket.next((message) => message.reqId === 'x')).toMatchObject({ retCode: 10404 });
    socket.send({ op: 'ping' });
    const pong = await socket.next((message) => message.op === 'pong');
    expect(pong).toMatchObject({ retCode: 0, retMsg: 'OK', data: [expect.any(String)] });
    expect(socket.frames.find((frame) => frame.includes('"op":"pong"'))).toBeDefined();
  });
});

describe('a venue with a moving market', () => {
  it('fills a post-only quote placed through the SDK with the generator\'s taker flow, reported on every private topic', async () => {
    const moving = await startSimulator({ seed: 9, market: { autoStart: false } });
    const generator = moving.markets.get('BTCUSDT')!;
    const client = new WebsocketClient({ ...TRADER, wsUrl: moving.wsUrls.private }, SILENT_LOGGER);
    const updates: Record<string, unknown>[] = [];
    const events: Record<string, unknown>[] = [];
    client.on('update', (update: Record<string, unknown>) => updates.push(update));
    client.on('response', (event: Record<string, unknown>) => events.push(event));
    try {
      await subscribePrivate(client, events, ['order', 'execution', 'position', 'wallet']);
      const restClient = new RestClientV5({ ...TRADER, baseUrl: moving.restUrl });
      const best = (await restClient.getOrderbook({ category: 'linear', symbol: 'BTCUSDT', limit: 1 })).result.b[0]![0];
      // Join the best bid one tick better, post-only: first in line for the next seller.
      const price = formatPrice(BTCUSDT, ticks(gridCodec(BTCUSDT).priceToTicks(best) + 1));
      const orderLinkId = link();
      expect((await restClient.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price, timeInForce: 'PostOnly', orderLinkId })).retCode).toBe(0);
      const fill = () => updates.find((update) => update.topic === 'execution' && (update.data as { orderLinkId: string }[])[0]?.orderLinkId === orderLinkId);
      for (let step = 0; step < 600 && !fill(); step++) {
        generator.step(100);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(generator.takerOrders).toBeGreaterThan(0);
      expect((fill()?.data as Record<string, unknown>[])[0]).toMatchObject({ isMaker: true, feeRate: '-0.000025', execQty: '0.001' });
      const executions = await restClient.getExecutionList({ category: 'linear', orderLinkId });
      expect(executions.result.list).toHaveLength(1);
      await waitFor(updates, (update) => ((update as { topic?: string }).topic === 'wallet' ? true : undefined));
      await waitFor(updates, (update) => ((update as { topic?: string; data?: { size?: string }[] }).topic === 'position' && (update as { data: { size?: string }[] }).data[0]?.size !== '0.000' ? true : undefined));
    } finally {
      client.closeAll(true);
      await moving.close();
    }
  });

  it('streams trades and a changing top of book without any client activity', async () => {
    const moving = await startSimulator({ seed: 21, market: { autoStart: true, intervalMs: 20 } });
    const client = new WebsocketClient({ wsUrl: moving.wsUrls.public, promiseSubscribeRequests: true }, SILENT_LOGGER);
    const updates: Record<string, unknown>[] = [];
    client.on('update', (update: Record<string, unknown>) => updates.push(update));
    try {
      await Promise.all(client.subscribeV5(['orderbook.1.BTCUSDT', 'publicTrade.BTCUSDT'], 'linear'));
      await waitFor(updates, () => (updates.filter((update) => update.topic === 'publicTrade.BTCUSDT').length >= 3 ? true : undefined), 10_000);
      const tops = updates.filter((update) => update.topic === 'orderbook.1.BTCUSDT').map((update) => JSON.stringify((update.data as { b: unknown; a: unknown }).b));
      expect(new Set(tops).size).toBeGreaterThan(1);
      expect(Object.keys(updates.find((update) => update.topic === 'orderbook.1.BTCUSDT')!).slice(0, 3)).toEqual(['topic', 'ts', 'type']);
    } finally {
      client.closeAll(true);
      await moving.close();
    }
  });
});

describe('key lifecycle across REST and WebSocket', () => {
  it('a sub-account key created by the master trades, and once deleted is refused on its open socket', async () => {
    const master = new RestClientV5({ ...MASTER, baseUrl: sim.restUrl });
    const created = await master.createSubUIDAPIKey({ subuid: 100001, readOnly: 0, permissions: { ContractTrade: ['Order', 'Position'] } });
    expect(created.retCode).toBe(0);
    const { apiKey, secret } = created.result;
    const client = new WebsocketAPIClient({ key: apiKey, secret, wsUrl: sim.wsUrls.trade, attachEventListeners: false }, SILENT_LOGGER);
    closers.push(() => {
      client.getWSClient().closeAll(true);
    });
    const order = { category: 'linear' as const, symbol: 'BTCUSDT', side: 'Buy' as const, orderType: 'Limit' as const, qty: '0.001', price: '60000.0', timeInForce: 'PostOnly' as const };
    expect(await client.submitNewOrder(order)).toMatchObject({ retCode: 0 });
    expect((await master.deleteSubApiKey({ apikey: apiKey })).retCode).toBe(0);
    await expect(client.submitNewOrder(order)).rejects.toMatchObject({ retCode: 10005 });
  });
});
