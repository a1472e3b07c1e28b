/**
 * The simulator's order operations (behind REST and the order-entry WebSocket alike): venue strings are
 * turned into ticks and lots, and what Bybit refuses as a parameter error is refused here the same way,
 * before the exchange sees it.
 */
import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { RET } from '../../../sim/exchange/errors.js';
import { Exchange } from '../../../sim/exchange/exchange.js';
import { amendOne, createOne } from '../../../sim/venue/orders.js';
import { BTCUSDT } from '../../support/instruments.js';

function venue() {
  const exchange = new Exchange({ instruments: [BTCUSDT], clock: () => 1 });
  exchange.addAccount({ accountId: 'a', makerFeeRate: dec('-0.00025'), takerFeeRate: dec('0.00055'), walletBalance: dec('10000') });
  return { exchange };
}

const order = { category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.010', price: '65000.0', timeInForce: 'PostOnly', orderLinkId: 'ops-1' } as const;

describe('order operations', () => {
  it.each([
    ['an unknown symbol', { ...order, symbol: 'DOGEUSDT' }, 'params error: symbol invalid'],
    ['a quantity off the qtyStep', { ...order, qty: '0.0105' }, 'params error: qty must be a multiple of qtyStep 0.001'],
    ['a price off the tickSize', { ...order, price: '65000.05' }, 'params error: price must be a multiple of tickSize 0.1'],
    ['a limit order without a price', { ...order, price: undefined }, 'params error: price is required for a limit order'],
  ])('refuses to create with %s as a parameter error', (_case, params, message) => {
    expect(createOne(venue(), 'a', params as never)).toEqual({ ok: false, retCode: RET.paramError, retMsg: message });
  });

  it('creates a limit order from venue strings', () => {
    const state = venue();
    const created = createOne(state, 'a', order);
    expect(created.ok).toBe(true);
    expect(state.exchange.findOrder('a', { orderLinkId: 'ops-1' })).toMatchObject({ priceTicks: 650_000, qtyLots: 10 });
  });

  it.each([
    ['an unknown symbol', { symbol: 'DOGEUSDT', orderLinkId: 'ops-1', price: '65000.0' }, 'params error: symbol invalid'],
    ['a quantity off the qtyStep', { symbol: 'BTCUSDT', orderLinkId: 'ops-1', qty: '0.0105' }, 'params error: qty must be a multiple of qtyStep 0.001'],
    ['a price off the tickSize', { symbol: 'BTCUSDT', orderLinkId: 'ops-1', price: '64999.95' }, 'params error: price must be a multiple of tickSize 0.1'],
  ])('refuses to amend with %s as a parameter error', (_case, params, message) => {
    const state = venue();
    createOne(state, 'a', order);
    expect(amendOne(state, 'a', params as never)).toEqual({ ok: false, retCode: RET.paramError, retMsg: message });
    expect(state.exchange.findOrder('a', { orderLinkId: 'ops-1' })).toMatchObject({ priceTicks: 650_000, qtyLots: 10 });
  });

  it('amends the price and the quantity from venue strings, by orderId when both ids are given', () => {
    const state = venue();
    const created = createOne(state, 'a', order);
    if (!created.ok) throw new Error(created.retMsg);
    expect(amendOne(state, 'a', { symbol: 'BTCUSDT', orderId: created.value.orderId, orderLinkId: 'not-this-one', price: '64999.9', qty: '0.020' }).ok).toBe(true);
    expect(state.exchange.findOrder('a', { orderLinkId: 'ops-1' })).toMatchObject({ priceTicks: 649_999, qtyLots: 20 });
  });
});
