import { beforeEach, describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type Lots, type Ticks, lots, ticks } from '../../../src/core/units.js';
import { type CreateOrderInput, type SimExecution, type SimOrder, Exchange, MAX_OPEN_ORDERS_PER_SYMBOL } from '../../../sim/exchange/exchange.js';
import { BTCUSDT } from '../../support/instruments.js';

const MAKER = 'maker';
const TAKER = 'taker';
let now = 1_700_000_000_000;
let exchange: Exchange;
let orderEvents: { orderId: string; status: string; rejectReason: string; cancelType: string; cumExecLots: number }[];
let executions: SimExecution[];

beforeEach(() => {
  orderEvents = [];
  executions = [];
  exchange = new Exchange({
    instruments: [BTCUSDT],
    clock: () => (now += 1),
    listener: {
      order: (order: Readonly<SimOrder>) => orderEvents.push({ orderId: order.orderId, status: order.status, rejectReason: order.rejectReason, cancelType: order.cancelType, cumExecLots: order.cumExecLots }),
      execution: (execution) => executions.push(execution),
    },
  });
  exchange.addAccount({ accountId: MAKER, makerFeeRate: dec('-0.00025'), takerFeeRate: dec('0.00055'), walletBalance: dec('10000') });
  exchange.addAccount({ accountId: TAKER, makerFeeRate: dec('0.0002'), takerFeeRate: dec('0.00055'), walletBalance: dec('10000') });
});

const price = (value: string): Ticks => ticks(Number(dec(value).div(BTCUSDT.tickSize).toFixed(0)));
const qty = (value: string): Lots => lots(Number(dec(value).div(BTCUSDT.qtyStep).toFixed(0)));

function place(accountId: string, input: Partial<CreateOrderInput> & Pick<CreateOrderInput, 'side'>) {
  const result = exchange.createOrder(accountId, { symbol: 'BTCUSDT', orderType: 'Limit', qtyLots: qty('0.010'), priceTicks: price('65000.0'), timeInForce: 'PostOnly', ...input });
  if (!result.ok) throw new Error(`${result.retCode} ${result.retMsg}`);
  return exchange.findOrder(accountId, { orderId: result.value.orderId })!;
}

describe('resting and matching', () => {
  it('rests a post-only quote and shows it in the book', () => {
    const order = place(MAKER, { side: 'Buy', orderLinkId: 'q-1' });
    expect(order.status).toBe('New');
    expect(exchange.book('BTCUSDT').bids.snapshot(5)).toEqual([[price('65000.0'), 10]]);
    expect(exchange.openOrders(MAKER).map((open) => open.orderLinkId)).toEqual(['q-1']);
    expect(orderEvents.at(-1)).toMatchObject({ status: 'New' });
  });

  it('fills a resting quote from a taker, with the maker rebate and the taker fee signed as Bybit signs them', () => {
    const bid = place(MAKER, { side: 'Buy' });
    const taker = place(TAKER, { side: 'Sell', timeInForce: 'IOC', priceTicks: price('64990.0'), qtyLots: qty('0.004') });
    expect(taker.status).toBe('Filled');
    expect(bid.status).toBe('PartiallyFilled');
    expect(bid.cumExecLots).toBe(4);
    const [makerFill, takerFill] = executions;
    expect(makerFill).toMatchObject({ accountId: MAKER, isMaker: true, execPriceTicks: price('65000.0'), execQtyLots: 4 });
    expect(makerFill!.execValue.toFixed()).toBe('260');
    expect(makerFill!.execFee.toFixed()).toBe('-0.065');
    expect(makerFill!.feeRate.toFixed()).toBe('-0.00025');
    expect(takerFill).toMatchObject({ accountId: TAKER, isMaker: false });
    expect(takerFill!.execFee.toFixed()).toBe('0.143');
    expect(makerFill!.execId).not.toBe(takerFill!.execId);
    expect(exchange.position(MAKER, 'BTCUSDT').position.sizeLots).toBe(4n);
    expect(exchange.position(TAKER, 'BTCUSDT').position.sizeLots).toBe(-4n);
    expect(exchange.walletBalance(MAKER).toFixed()).toBe('10000.065');
    expect(exchange.walletBalance(TAKER).toFixed()).toBe('9999.857');
    expect(exchange.book('BTCUSDT').bids.snapshot(1)).toEqual([[price('65000.0'), 6]]);
  });

  it('matches in price-time priority and walks levels', () => {
    const first = place(MAKER, { side: 'Sell', priceTicks: price('65001.0'), orderLinkId: 'first' });
    const second = place(MAKER, { side: 'Sell', priceTicks: price('65001.0'), orderLinkId: 'second' });
    const better = place(MAKER, { side: 'Sell', priceTicks: price('65000.5'), orderLinkId: 'better' });
    place(TAKER, { side: 'Buy', timeInForce: 'GTC', priceTicks: price('65001.0'), qtyLots: qty('0.015') });
    expect(better.status).toBe('Filled');
    expect(first.cumExecLots).toBe(5);
    expect(second.cumExecLots).toBe(0);
    expect(executions.filter((execution) => execution.isMaker).map((execution) => execution.orderLinkId)).toEqual(['better', 'first']);
  });

  it('rests the remainder of a GTC taker and cancels the remainder of an IOC', () => {
    place(MAKER, { side: 'Sell', qtyLots: qty('0.002') });
    const gtc = place(TAKER, { side: 'Buy', timeInForce: 'GTC', qtyLots: qty('0.005') });
    expect(gtc.status).toBe('PartiallyFilled');
    expect(exchange.book('BTCUSDT').bids.snapshot(1)).toEqual([[price('65000.0'), 3]]);
    place(MAKER, { side: 'Buy', priceTicks: price('64000.0') });
    const ioc = place(TAKER, { side: 'Sell', timeInForce: 'IOC', priceTicks: price('64999.0'), qtyLots: qty('0.010') });
    expect(ioc.status).toBe('Cancelled');
    expect(ioc.cumExecLots).toBe(3);
    expect(ioc).toMatchObject({ rejectReason: 'EC_NoImmediateQtyToFill', cancelType: 'UNKNOWN' });
  });

  it('fills or kills a FOK order as a whole', () => {
    place(MAKER, { side: 'Sell', qtyLots: qty('0.005') });
    const killed = place(TAKER, { side: 'Buy', timeInForce: 'FOK', qtyLots: qty('0.006') });
    expect(killed.status).toBe('Cancelled');
    expect(killed.cumExecLots).toBe(0);
    expect(killed.rejectReason).toBe('EC_NoEnoughQtyToFill');
    const filled = place(TAKER, { side: 'Buy', timeInForce: 'FOK', qtyLots: qty('0.005') });
    expect(filled.status).toBe('Filled');
  });

  it('walks the book with a market order', () => {
    place(MAKER, { side: 'Sell', priceTicks: price('65000.0'), qtyLots: qty('0.002') });
    place(MAKER, { side: 'Sell', priceTicks: price('65010.0'), qtyLots: qty('0.002') });
    const market = place(TAKER, { side: 'Buy', orderType: 'Market', timeInForce: 'IOC', qtyLots: qty('0.003') });
    expect(market.status).toBe('Filled');
    expect(market.timeInForce).toBe('IOC');
    expect(market.cumExecValue.toFixed()).toBe('195.01');
  });
});

describe('post-only', () => {
  it('acknowledges a crossing post-only order, then cancels it with EC_PostOnlyWillTakeLiquidity', () => {
    place(MAKER, { side: 'Sell', priceTicks: price('65000.0') });
    const result = exchange.createOrder(TAKER, { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qtyLots: qty('0.001'), priceTicks: price('65000.0'), timeInForce: 'PostOnly' });
    expect(result.ok).toBe(true);
    const order = exchange.findOrder(TAKER, { orderId: result.ok ? result.value.orderId : '' })!;
    expect(order).toMatchObject({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity', cumExecLots: 0 });
    expect(executions).toHaveLength(0);
    expect(orderEvents.at(-1)).toMatchObject({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity' });
  });

  it('cancels a post-only order amended into a crossing price', () => {
    place(MAKER, { side: 'Sell', priceTicks: price('65010.0') });
    const bid = place(TAKER, { side: 'Buy', priceTicks: price('65000.0') });
    const result = exchange.amendOrder(TAKER, { symbol: 'BTCUSDT', ref: { orderId: bid.orderId }, priceTicks: price('65010.0') });
    expect(result.ok).toBe(true);
    expect(bid).toMatchObject({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity' });
    expect(exchange.book('BTCUSDT').bids.depth).toBe(0);
  });
});

describe('amend', () => {
  it('keeps queue priority when only the size goes down', () => {
    const first = place(MAKER, { side: 'Sell', orderLinkId: 'a' });
    place(MAKER, { side: 'Sell', orderLinkId: 'b' });
    expect(exchange.amendOrder(MAKER, { symbol: 'BTCUSDT', ref: { orderLinkId: 'a' }, qtyLots: qty('0.005') }).ok).toBe(true);
    expect(first.qtyLots).toBe(5);
    place(TAKER, { side: 'Buy', timeInForce: 'IOC', qtyLots: qty('0.001') });
    expect(executions[0]!.orderLinkId).toBe('a');
  });

  it.each([
    ['a new price', { priceTicks: price('65000.0') }, price('65000.0')],
    ['more size', { qtyLots: qty('0.020') }, price('65000.5')],
  ])('loses queue priority with %s', (_what, change, restingAt) => {
    place(MAKER, { side: 'Sell', priceTicks: price('65000.5'), orderLinkId: 'a' });
    place(MAKER, { side: 'Sell', priceTicks: price('65000.0'), orderLinkId: 'b' });
    place(MAKER, { side: 'Sell', priceTicks: price('65000.5'), orderLinkId: 'c' });
    expect(exchange.amendOrder(MAKER, { symbol: 'BTCUSDT', ref: { orderLinkId: 'a' }, ...change }).ok).toBe(true);
    const level = exchange.book('BTCUSDT').asks.level(restingAt)!;
    expect(level.orders.at(-1)!.orderLinkId).toBe('a');
  });

  it('trades a GTC order amended through the spread', () => {
    place(MAKER, { side: 'Sell', priceTicks: price('65010.0'), qtyLots: qty('0.002') });
    const bid = place(TAKER, { side: 'Buy', timeInForce: 'GTC', priceTicks: price('65000.0'), qtyLots: qty('0.005') });
    expect(exchange.amendOrder(TAKER, { symbol: 'BTCUSDT', ref: { orderId: bid.orderId }, priceTicks: price('65010.0') }).ok).toBe(true);
    expect(bid.status).toBe('PartiallyFilled');
    expect(bid.cumExecLots).toBe(2);
    expect(exchange.book('BTCUSDT').bids.snapshot(1)).toEqual([[price('65010.0'), 3]]);
  });

  it('refuses an amend that changes nothing, goes below the filled size, or targets a closed order', () => {
    const order = place(MAKER, { side: 'Buy' });
    expect(exchange.amendOrder(MAKER, { symbol: 'BTCUSDT', ref: { orderId: order.orderId }, priceTicks: order.priceTicks })).toMatchObject({ ok: false, retCode: 10001 });
    place(TAKER, { side: 'Sell', timeInForce: 'IOC', qtyLots: qty('0.004') });
    expect(exchange.amendOrder(MAKER, { symbol: 'BTCUSDT', ref: { orderId: order.orderId }, qtyLots: qty('0.004') })).toMatchObject({ ok: false, retCode: 110064 });
    exchange.cancelOrder(MAKER, 'BTCUSDT', { orderId: order.orderId });
    expect(exchange.amendOrder(MAKER, { symbol: 'BTCUSDT', ref: { orderId: order.orderId }, qtyLots: qty('0.020') })).toMatchObject({ ok: false, retCode: 110001 });
    expect(exchange.amendOrder(MAKER, { symbol: 'ETHUSDT', ref: { orderId: order.orderId }, qtyLots: qty('0.020') })).toMatchObject({ ok: false, retCode: 10001 });
  });
});

describe('cancel', () => {
  it('cancels by orderId or orderLinkId with cancelType CancelByUser', () => {
    const order = place(MAKER, { side: 'Buy', orderLinkId: 'x' });
    expect(exchange.cancelOrder(MAKER, 'BTCUSDT', { orderLinkId: 'x' })).toEqual({ ok: true, value: { orderId: order.orderId, orderLinkId: 'x' } });
    expect(order).toMatchObject({ status: 'Cancelled', cancelType: 'CancelByUser', rejectReason: 'EC_PerCancelRequest' });
    expect(exchange.book('BTCUSDT').bids.depth).toBe(0);
    expect(exchange.cancelOrder(MAKER, 'BTCUSDT', { orderLinkId: 'x' })).toEqual({ ok: false, retCode: 110001, retMsg: 'order not exists or too late to cancel' });
    expect(exchange.cancelOrder(MAKER, 'BTCUSDT', { orderId: 'nope' })).toEqual({ ok: false, retCode: 110001, retMsg: 'Order does not exist' });
  });

  it('keeps what filled on a cancelled order (derivatives report Cancelled with an executed quantity)', () => {
    const order = place(MAKER, { side: 'Buy' });
    place(TAKER, { side: 'Sell', timeInForce: 'IOC', qtyLots: qty('0.003') });
    exchange.cancelOrder(MAKER, 'BTCUSDT', { orderId: order.orderId });
    expect(order).toMatchObject({ status: 'Cancelled', cumExecLots: 3, leavesLots: 0 });
  });

  it('cancels all open orders of a symbol with the given cancel type', () => {
    place(MAKER, { side: 'Buy', priceTicks: price('64990.0') });
    place(MAKER, { side: 'Sell', priceTicks: price('65010.0') });
    const cancelled = exchange.cancelAll(MAKER, 'BTCUSDT', 'CancelByDCP');
    expect(cancelled).toHaveLength(2);
    expect(exchange.openOrders(MAKER)).toEqual([]);
    expect(orderEvents.slice(-2).map((event) => event.cancelType)).toEqual(['CancelByDCP', 'CancelByDCP']);
    expect(exchange.closedOrders(MAKER)).toHaveLength(2);
  });
});

describe('validation', () => {
  const create = (overrides: Partial<CreateOrderInput>) =>
    exchange.createOrder(MAKER, { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qtyLots: qty('0.010'), priceTicks: price('65000.0'), timeInForce: 'PostOnly', ...overrides });

  it('refuses a duplicate or malformed orderLinkId with Bybit\'s codes', () => {
    expect(create({ orderLinkId: 'dup' }).ok).toBe(true);
    expect(create({ orderLinkId: 'dup' })).toEqual({ ok: false, retCode: 110072, retMsg: 'OrderLinkedID is duplicate' });
    expect(create({ orderLinkId: 'x'.repeat(37) })).toMatchObject({ ok: false, retCode: 10001 });
    expect(create({ orderLinkId: 'a b' })).toMatchObject({ ok: false, retCode: 10001 });
  });

  it('refuses sizes, prices and notionals outside the instrument rules', () => {
    expect(create({ qtyLots: lots(0) })).toMatchObject({ ok: false, retCode: 10001 });
    expect(create({ qtyLots: lots(BTCUSDT.maxQtyLots + 1) })).toMatchObject({ ok: false, retCode: 10001 });
    expect(create({ priceTicks: ticks(BTCUSDT.maxPriceTicks + 1) })).toMatchObject({ ok: false, retCode: 110003 });
    expect(create({ priceTicks: price('1000.0'), qtyLots: qty('0.001') })).toMatchObject({ ok: false, retCode: 110094 });
    expect(create({ symbol: 'NOPEUSDT' })).toMatchObject({ ok: false, retCode: 10001 });
    expect(create({ priceTicks: undefined as unknown as Ticks })).toMatchObject({ ok: false, retCode: 10001 });
    expect(create({ orderType: 'Market' })).toMatchObject({ ok: false, retCode: 10001 });
  });

  it(`caps open orders at ${MAX_OPEN_ORDERS_PER_SYMBOL} per symbol`, () => {
    for (let index = 0; index < MAX_OPEN_ORDERS_PER_SYMBOL; index++) expect(create({ priceTicks: ticks(600_000 + index) }).ok).toBe(true);
    expect(create({ priceTicks: ticks(500_000) })).toMatchObject({ ok: false, retCode: 110020 });
    exchange.cancelOrder(MAKER, 'BTCUSDT', { orderId: exchange.openOrders(MAKER)[0]!.orderId });
    expect(create({ priceTicks: ticks(500_000) }).ok).toBe(true);
  });

  it('accepts reduce-only orders only against a position, capped to its size', () => {
    expect(create({ reduceOnly: true, side: 'Sell' })).toMatchObject({ ok: false, retCode: 110017 });
    place(MAKER, { side: 'Sell', qtyLots: qty('0.003') });
    place(TAKER, { side: 'Buy', timeInForce: 'IOC', qtyLots: qty('0.003') });
    expect(exchange.createOrder(TAKER, { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qtyLots: qty('0.010'), priceTicks: price('60000.0'), reduceOnly: true })).toMatchObject({ ok: false, retCode: 110017 });
    const reduce = exchange.createOrder(TAKER, { symbol: 'BTCUSDT', side: 'Sell', orderType: 'Limit', qtyLots: qty('0.010'), priceTicks: price('70000.0'), reduceOnly: true });
    expect(reduce.ok && exchange.findOrder(TAKER, { orderId: reduce.value.orderId })!.qtyLots).toBe(3);
  });
});
