/**
 * Conformance of the simulator's REST API, driven by the unmodified bybit-api RestClientV5 over real HTTP.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { dec } from '../../src/core/decimal.js';
import { lots, ticks } from '../../src/core/units.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { TRADER, READ_ONLY } from '../support/sim.js';


let sim: Simulator;
let client: RestClientV5;
let linkSeq = 0;
const link = () => `conf-${process.pid}-${(linkSeq += 1)}`;

beforeAll(async () => {
  // A high rate-limit tier for the shared venue; the rate-limit tests below use default-tier venues of their own.
  sim = await startSimulator({ seed: 7, rateLimitScale: 100 });
  client = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl, parseAPIRateLimits: true });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  await client.cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
  sim.faults.clockSkewMs = 0;
});

/** Taker flow from the simulator's own flow account (the market generator does this in a running venue). */
function takerFlow(side: 'Buy' | 'Sell', qty: number, priceTicks: number) {
  const outcome = sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side, orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(qty), priceTicks: ticks(priceTicks) });
  expect(outcome.ok).toBe(true);
}

describe('public market endpoints', () => {
  it('serve server time from the envelope and result', async () => {
    const before = Date.now();
    const response = await client.getServerTime();
    expect(response.retCode).toBe(0);
    expect(response.time).toBeGreaterThanOrEqual(before);
    expect(Number(response.result.timeSecond)).toBe(Math.floor(response.time / 1000));
  });

  it('serve instruments info in Bybit\'s linear shape', async () => {
    const response = await client.getInstrumentsInfo({ category: 'linear', symbol: 'BTCUSDT' });
    expect(response.retCode).toBe(0);
    expect(response.result.list[0]).toMatchObject({ symbol: 'BTCUSDT', priceFilter: { tickSize: '0.10' }, lotSizeFilter: { qtyStep: '0.001', minNotionalValue: '5' } });
  });

  it('refuse a category the simulator does not serve, naming it', async () => {
    const response = await client.getInstrumentsInfo({ category: 'spot' });
    expect(response.retCode).toBe(10001);
    expect(response.retMsg).toMatch(/category/);
  });
});

describe('a post-only quote, end to end over REST', () => {
  it('rests in the book, is filled by taker flow, and shows in orders, executions, position and wallet', async () => {
    const orderLinkId = link();
    const walletBefore = await client.getWalletBalance({ accountType: 'UNIFIED' });
    const placed = await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.010', price: '64000.0', timeInForce: 'PostOnly', orderLinkId });
    expect(placed).toMatchObject({ retCode: 0, retMsg: 'OK', result: { orderLinkId } });
    expect(placed.rateLimitApi).toMatchObject({ maxRequests: 1000 });

    const book = await client.getOrderbook({ category: 'linear', symbol: 'BTCUSDT' });
    expect(book.result.b[0]).toEqual(['64000.00', '0.010']);

    const open = await client.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' });
    expect(open.result.list).toEqual([expect.objectContaining({ orderLinkId, orderStatus: 'New', price: '64000.00', qty: '0.010', timeInForce: 'PostOnly', cancelType: 'UNKNOWN', rejectReason: 'EC_NoError' })]);

    takerFlow('Sell', 4, 639_000);

    const executions = await client.getExecutionList({ category: 'linear', orderLinkId });
    expect(executions.result.list).toHaveLength(1);
    const [execution] = executions.result.list;
    expect(execution).toMatchObject({ orderLinkId, side: 'Buy', execPrice: '64000.00', execQty: '0.004', execValue: '256', feeRate: '-0.000025', execFee: '-0.00640000', isMaker: true, execType: 'Trade' });

    const order = await client.getActiveOrders({ category: 'linear', orderLinkId });
    expect(order.result.list[0]).toMatchObject({ orderStatus: 'PartiallyFilled', cumExecQty: '0.004', leavesQty: '0.006', avgPrice: '64000' });

    const position = await client.getPositionInfo({ category: 'linear', symbol: 'BTCUSDT' });
    expect(position.result.list[0]).toMatchObject({ symbol: 'BTCUSDT', side: 'Buy', size: '0.004', avgPrice: '64000' });

    const walletAfter = await client.getWalletBalance({ accountType: 'UNIFIED' });
    const before = dec(walletBefore.result.list[0]!.totalWalletBalance);
    expect(dec(walletAfter.result.list[0]!.totalWalletBalance).minus(before).toFixed()).toBe('0.0064');

    const trades = await client.getPublicTradingHistory({ category: 'linear', symbol: 'BTCUSDT', limit: 1 });
    expect(trades.result.list[0]).toMatchObject({ price: '64000.00', size: '0.004', side: 'Sell' });
  });

  it('acknowledges a crossing post-only order, then reports it Cancelled with EC_PostOnlyWillTakeLiquidity', async () => {
    const ask = sim.exchange.createOrder('flow', { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'GTC', qtyLots: lots(5), priceTicks: ticks(650_000) });
    expect(ask.ok).toBe(true);
    const orderLinkId = link();
    const placed = await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '65000.0', timeInForce: 'PostOnly', orderLinkId });
    expect(placed.retCode).toBe(0);
    const order = await client.getActiveOrders({ category: 'linear', orderLinkId });
    expect(order.result.list[0]).toMatchObject({ orderStatus: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity', cumExecQty: '0.000', leavesQty: '0.000' });
    if (ask.ok) sim.exchange.cancelOrder('flow', 'BTCUSDT', { orderId: ask.value.orderId });
  });
});

describe('amend, cancel and cancel-all', () => {
  it('amends price and size, then cancels with Bybit\'s results', async () => {
    const orderLinkId = link();
    await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', qty: '0.010', price: '70000.0', timeInForce: 'PostOnly', orderLinkId });
    const amended = await client.amendOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId, price: '70010.0', qty: '0.020' });
    expect(amended).toMatchObject({ retCode: 0, result: { orderLinkId } });
    const unchanged = await client.amendOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId, price: '70010.0' });
    expect(unchanged).toMatchObject({ retCode: 10001, retMsg: 'The order remains unchanged as the parameters entered match the existing ones.' });
    const order = await client.getActiveOrders({ category: 'linear', orderLinkId });
    expect(order.result.list[0]).toMatchObject({ price: '70010.00', qty: '0.020' });
    const cancelled = await client.cancelOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId });
    expect(cancelled).toMatchObject({ retCode: 0, result: { orderLinkId } });
    expect(await client.cancelOrder({ category: 'linear', symbol: 'BTCUSDT', orderLinkId })).toMatchObject({ retCode: 110001, retMsg: 'order not exists or too late to cancel' });
    const history = await client.getHistoricOrders({ category: 'linear', orderLinkId });
    expect(history.result.list[0]).toMatchObject({ orderStatus: 'Cancelled', cancelType: 'CancelByUser' });
    // The history's time window (7 days by default): an order created before startTime is not in it.
    const createdTime = Number(history.result.list[0]?.createdTime);
    const within = await client.getHistoricOrders({ category: 'linear', symbol: 'BTCUSDT', startTime: createdTime, endTime: createdTime + 60_000, limit: 50 });
    expect(within.result.list.map((entry) => entry.orderLinkId)).toContain(orderLinkId);
    const after = await client.getHistoricOrders({ category: 'linear', symbol: 'BTCUSDT', startTime: createdTime + 1, limit: 50 });
    expect(after.result.list.map((entry) => entry.orderLinkId)).not.toContain(orderLinkId);
  });

  it('cancels all open orders of a symbol', async () => {
    for (const price of ['60000.0', '60001.0', '60002.0']) {
      await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price, timeInForce: 'PostOnly', orderLinkId: link() });
    }
    const response = await client.cancelAllOrders({ category: 'linear', symbol: 'BTCUSDT' });
    expect(response.retCode).toBe(0);
    expect(response.result.success).toBe('1');
    expect(response.result.list).toHaveLength(3);
    expect((await client.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).result.list).toEqual([]);
  });

  it('refuses a duplicate orderLinkId with 110072', async () => {
    const orderLinkId = link();
    const order = { category: 'linear' as const, symbol: 'BTCUSDT', side: 'Buy' as const, orderType: 'Limit' as const, qty: '0.001', price: '60000.0', timeInForce: 'PostOnly' as const, orderLinkId };
    expect((await client.submitOrder(order)).retCode).toBe(0);
    expect(await client.submitOrder(order)).toMatchObject({ retCode: 110072, retMsg: 'OrderLinkedID is duplicate' });
  });

  it('refuses off-grid prices and sizes with 10001', async () => {
    const base = { category: 'linear' as const, symbol: 'BTCUSDT', side: 'Buy' as const, orderType: 'Limit' as const, timeInForce: 'PostOnly' as const };
    expect((await client.submitOrder({ ...base, qty: '0.001', price: '60000.05' })).retCode).toBe(10001);
    expect((await client.submitOrder({ ...base, qty: '0.0015', price: '60000.0' })).retCode).toBe(10001);
  });
});

describe('batch orders', () => {
  it('place, amend and cancel up to 20 orders with per-order results', async () => {
    const ids: [string, string, string] = [link(), link(), link()];
    const placed = await client.batchSubmitOrders('linear', [
      { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '61000.0', timeInForce: 'PostOnly', orderLinkId: ids[0] },
      { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '61000.05', timeInForce: 'PostOnly', orderLinkId: ids[1] },
      { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '61001.0', timeInForce: 'PostOnly', orderLinkId: ids[2] },
    ]);
    expect(placed.retCode).toBe(0);
    expect(placed.result.list.map((item) => item.orderLinkId)).toEqual(ids);
    expect(placed.result.list[1]!.orderId).toBe('');
    expect(placed.retExtInfo.list.map((item) => item.code)).toEqual([0, 10001, 0]);

    const amended = await client.batchAmendOrders('linear', [
      { symbol: 'BTCUSDT', orderLinkId: ids[0], price: '61000.5' },
      { symbol: 'BTCUSDT', orderLinkId: 'no-such-order', price: '61000.5' },
    ]);
    expect(amended.retExtInfo.list.map((item) => item.code)).toEqual([0, 110001]);

    const cancelled = await client.batchCancelOrders('linear', [
      { symbol: 'BTCUSDT', orderLinkId: ids[0] },
      { symbol: 'BTCUSDT', orderLinkId: ids[2] },
    ]);
    expect(cancelled.retExtInfo.list.map((item) => item.code)).toEqual([0, 0]);
  });

  it('refuses more than 20 orders in one batch', async () => {
    const orders = Array.from({ length: 21 }, () => ({ symbol: 'BTCUSDT', side: 'Buy' as const, orderType: 'Limit' as const, qty: '0.001', price: '60000.0', timeInForce: 'PostOnly' as const }));
    const response = await client.batchSubmitOrders('linear', orders);
    expect(response.retCode).toBe(10001);
  });
});

describe('authentication errors', () => {
  const create = (target: RestClientV5) => target.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: '60000.0', timeInForce: 'PostOnly' });

  it('wrong secret: 10004 with the origin string', async () => {
    const response = await create(new RestClientV5({ key: TRADER.key, secret: 'wrong', baseUrl: sim.restUrl }));
    expect(response.retCode).toBe(10004);
    expect(response.retMsg).toMatch(/^error sign! origin_string\[\d+SIMTRADERKEY00015000\{/);
  });

  it('unknown key: 10003', async () => {
    expect(await create(new RestClientV5({ key: 'NOSUCHKEY', secret: 'x', baseUrl: sim.restUrl }))).toMatchObject({ retCode: 10003, retMsg: 'API key is invalid.' });
  });

  it('timestamp outside the receive window: 10002', async () => {
    sim.faults.clockSkewMs = 10_000;
    const response = await create(client);
    expect(response.retCode).toBe(10002);
    expect(response.retMsg).toMatch(/^invalid request, please check your server timestamp or recv_window param\. req_timestamp\[\d+\],server_timestamp\[\d+\],recv_window\[5000\]$/);
  });

  it('read-only key placing an order: 10005; reading is allowed', async () => {
    const readOnly = new RestClientV5({ ...READ_ONLY, baseUrl: sim.restUrl });
    expect(await create(readOnly)).toMatchObject({ retCode: 10005, retMsg: 'Permission denied, please check your API key permissions.' });
    expect((await readOnly.getActiveOrders({ category: 'linear', symbol: 'BTCUSDT' })).retCode).toBe(0);
  });

  it('key bound to another IP: 10010', async () => {
    sim.keys.add({ apiKey: 'IPBOUNDKEY', secret: 'ip-secret', accountId: 'mm', uid: 100001, note: '', readOnly: false, permissions: { ContractTrade: ['Order', 'Position'] }, ips: ['203.0.113.7'], isMaster: false, parentUid: 100000, createdAt: sim.now() });
    expect(await create(new RestClientV5({ key: 'IPBOUNDKEY', secret: 'ip-secret', baseUrl: sim.restUrl }))).toMatchObject({ retCode: 10010 });
  });

  it('expired key (not bound to an IP, 90 days old): 33004', async () => {
    sim.keys.add({ apiKey: 'OLDKEY', secret: 'old-secret', accountId: 'mm', uid: 100001, note: '', readOnly: false, permissions: { ContractTrade: ['Order'] }, ips: [], isMaster: false, parentUid: 100000, createdAt: sim.now() - 91 * 86_400_000 });
    expect(await create(new RestClientV5({ key: 'OLDKEY', secret: 'old-secret', baseUrl: sim.restUrl }))).toMatchObject({ retCode: 33004 });
  });

  it('missing auth headers: HTTP 401, which the SDK throws', async () => {
    const response = await fetch(`${sim.restUrl}/v5/order/realtime?category=linear&symbol=BTCUSDT`);
    expect(response.status).toBe(401);
  });

  it('unknown path: HTTP 404', async () => {
    await expect(client.getPrivate('/v5/no/such/path')).rejects.toMatchObject({ code: 404 });
  });
});

describe('rate limits', () => {
  // Each test gets a venue of its own, so its one-second windows start empty.
  let limited: Simulator;
  let client: RestClientV5;
  beforeEach(async () => {
    limited = await startSimulator();
    client = new RestClientV5({ ...TRADER, baseUrl: limited.restUrl, parseAPIRateLimits: true });
  });
  afterEach(async () => {
    await limited.close();
  });

  it('refuses the 11th order in a second with 10006 and the X-Bapi-Limit headers', async () => {
    const results = [];
    for (let index = 0; index < 11; index++) {
      results.push(await client.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: `${50000 + index}.0`, timeInForce: 'PostOnly' }));
    }
    expect(results.slice(0, 10).every((result) => result.retCode === 0)).toBe(true);
    expect(results[9]!.rateLimitApi).toMatchObject({ maxRequests: 10, remainingRequests: 0 });
    expect(results[10]).toMatchObject({ retCode: 10006, retMsg: 'Too many visits!' });
    expect(results[10]!.rateLimitApi?.resetAtTimestamp).toBeGreaterThan(Date.now() - 1_000);
  });

  it('counts batch orders one by one and fails only the orders past the limit', async () => {
    for (let index = 0; index < 5; index++) {
      await client.batchSubmitOrders('linear', [{ symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: `${51000 + index}.0`, timeInForce: 'PostOnly' }]);
    }
    const orders = Array.from({ length: 8 }, (_, index) => ({ symbol: 'BTCUSDT', side: 'Buy' as const, orderType: 'Limit' as const, qty: '0.001', price: `${52000 + index}.0`, timeInForce: 'PostOnly' as const }));
    const response = await client.batchSubmitOrders('linear', orders);
    expect(response.retExtInfo.list.map((item) => item.code)).toEqual([0, 0, 0, 0, 0, 10006, 10006, 10006]);
  });

  it('bans an IP past its request budget with HTTP 403 "access too frequent"', async () => {
    const small = await startSimulator({ ipLimit: { limit: 5, windowMs: 5_000, banMs: 60_000 } });
    try {
      const smallClient = new RestClientV5({ ...TRADER, baseUrl: small.restUrl });
      for (let index = 0; index < 5; index++) expect((await smallClient.getServerTime()).retCode).toBe(0);
      await expect(smallClient.getServerTime()).rejects.toMatchObject({ code: 403, body: 'access too frequent' });
    } finally {
      await small.close();
    }
  });
});

describe('account, DCP and key endpoints', () => {
  it('report the fee schedule, with the maker rebate as a negative rate', async () => {
    const response = await client.getFeeRate({ category: 'linear', symbol: 'BTCUSDT' });
    expect(response.result.list).toEqual([expect.objectContaining({ symbol: 'BTCUSDT', makerFeeRate: '-0.000025', takerFeeRate: '0.00055' })]);
  });

  it('set and report the disconnect-cancel-all window', async () => {
    expect(await client.setDisconnectCancelAllWindowV2({ product: 'DERIVATIVES', timeWindow: 10 })).toEqual(expect.objectContaining({ retCode: 0, retMsg: 'success' }));
    const info = await client.getDCPInfo();
    expect(info.result.dcpInfos).toEqual([{ product: 'DERIVATIVES', dcpStatus: 'ON', timeWindow: '10' }]);
    expect((await client.setDisconnectCancelAllWindowV2({ product: 'DERIVATIVES', timeWindow: 2 })).retCode).toBe(10001);
  });

  it('describe the calling key', async () => {
    const response = await client.getQueryApiKey();
    expect(response.result).toMatchObject({ apiKey: TRADER.key, readOnly: 0, secret: '', isMaster: false, userID: 100001 });
  });
});
