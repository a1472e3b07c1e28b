import { describe, expect, it } from '@jest/globals';
import { BybitMessageError, parseExecution, parseOrder, parseOrderbookMessage, toExecution, toVenueOrderReport } from '../../../src/adapters/bybit/messages.js';
import { gridCodec } from '../../../src/core/instrument.js';
import { BTCUSDT } from '../../support/instruments.js';

const codec = gridCodec(BTCUSDT);

// Trimmed from Bybit's documented examples (docs/v5/order/open-order.mdx, docs/v5/websocket/private/execution.mdx).
const order = {
  orderId: 'fd4300ae-7847-404e-b947-b46980a4d140',
  orderLinkId: 'test-000005',
  symbol: 'BTCUSDT',
  price: '65000.00',
  qty: '0.010',
  side: 'Buy',
  orderStatus: 'PartiallyFilled',
  cancelType: 'UNKNOWN',
  rejectReason: 'EC_NoError',
  avgPrice: '65000',
  leavesQty: '0.006',
  cumExecQty: '0.004',
  timeInForce: 'PostOnly',
  orderType: 'Limit',
  createdTime: '1684738540559',
  updatedTime: '1684738540561',
  cumFeeDetail: { USDT: '-0.0065' },
};

const execution = {
  category: 'linear',
  symbol: 'BTCUSDT',
  execFee: '-0.00650000',
  execId: '7e2ae69c-4edf-5800-a352-893d52b446aa',
  execPrice: '65000.00',
  execQty: '0.004',
  execType: 'Trade',
  execValue: '260',
  feeRate: '-0.000025',
  isMaker: true,
  orderId: 'fd4300ae-7847-404e-b947-b46980a4d140',
  orderLinkId: 'test-000005',
  side: 'Buy',
  execTime: '1684738540561',
  seq: 4688002127,
};

describe('Bybit messages', () => {
  it('turn an order into the state machine\'s report', () => {
    expect(toVenueOrderReport(parseOrder(order), codec)).toEqual({
      orderId: order.orderId,
      status: 'PartiallyFilled',
      priceTicks: 650_000,
      qtyLots: 10,
      cumExecLots: 4,
      leavesLots: 6,
      updatedTime: 1_684_738_540_561,
      rejectReason: 'EC_NoError',
      cancelType: 'UNKNOWN',
    });
  });

  it('turn an execution into a trade with the fee signed as Bybit signs it', () => {
    const trade = toExecution(parseExecution(execution), BTCUSDT, codec);
    expect(trade).toMatchObject({ kind: 'trade', side: 'Buy', priceTicks: 650_000, qtyLots: 4, isMaker: true, execTime: 1_684_738_540_561 });
    expect(trade.kind === 'trade' && trade.fee.toFixed()).toBe('-0.0065');
  });

  it('turn a funding settlement into funding, with no side needed', () => {
    const funding = toExecution(parseExecution({ ...execution, execType: 'Funding', side: '', execFee: '0.12' }), BTCUSDT, codec);
    expect(funding).toMatchObject({ kind: 'funding', execId: execution.execId });
  });

  it('name the fields that are missing or malformed', () => {
    expect(() => parseOrder({ ...order, orderStatus: 'Open' })).toThrow(new BybitMessageError('malformed order: orderStatus: Invalid option: expected one of "New"|"PartiallyFilled"|"Untriggered"|"Triggered"|"Rejected"|"PartiallyFilledCanceled"|"Filled"|"Cancelled"|"Deactivated"'));
    expect(() => parseOrder({ ...order, price: 65000 })).toThrow(/malformed order: price:/);
    expect(() => parseExecution({ ...execution, execQty: undefined })).toThrow(/malformed execution: execQty:/);
    expect(() => parseExecution({ ...execution, isMaker: 'true' })).toThrow(/isMaker/);
    expect(() => parseOrderbookMessage({ topic: 'orderbook.50.BTCUSDT', type: 'delta', ts: 1, data: { s: 'BTCUSDT', b: [['1', '2', '3']], a: [], u: 1, seq: 1 } })).toThrow(/data\.b: expected a list of \[price, size\] string pairs/);
    expect(() => parseOrderbookMessage({ topic: 'orderbook.50.BTCUSDT', type: 'delta', ts: 1, data: { s: 'BTCUSDT', b: [], a: [[1, '2']], u: 1, seq: 1 } })).toThrow(/data\.a: expected a list/);
    expect(() => parseOrderbookMessage({ topic: 'orderbook.50.BTCUSDT', type: 'delta', ts: 1, data: { s: 'BTCUSDT', b: {}, a: [], u: 1, seq: 1 } })).toThrow(/data\.b: expected a list/);
    expect(() => parseOrder(null)).toThrow(BybitMessageError);
  });

  it('refuse an execution of another instrument, an empty side on a trade, and off-grid values', () => {
    expect(() => toExecution(parseExecution({ ...execution, symbol: 'ETHUSDT' }), BTCUSDT, codec)).toThrow(/is for ETHUSDT, not BTCUSDT/);
    expect(() => toExecution(parseExecution({ ...execution, side: '' }), BTCUSDT, codec)).toThrow(/side is empty/);
    expect(() => toVenueOrderReport(parseOrder({ ...order, price: '65000.05' }), codec)).toThrow(/off the grid/);
  });
});
