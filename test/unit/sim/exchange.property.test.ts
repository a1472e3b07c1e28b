import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ZERO, dec, sum } from '../../../src/core/decimal.js';
import { realisedPnl, unrealisedPnl } from '../../../src/core/position.js';
import { lots, ticks } from '../../../src/core/units.js';
import { type TimeInForce, Exchange, isOpen } from '../../../sim/exchange/exchange.js';
import { BTCUSDT } from '../../support/instruments.js';

const ACCOUNTS = ['a', 'b', 'c'];
const INITIAL = dec('100000');

type Operation =
  | { kind: 'create'; account: number; side: 'Buy' | 'Sell'; price: number; qty: number; tif: TimeInForce | 'Market' }
  | { kind: 'cancel'; account: number; pick: number }
  | { kind: 'amend'; account: number; pick: number; price: number; qty: number };

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('create' as const), account: fc.nat(2), side: fc.constantFrom('Buy' as const, 'Sell' as const), price: fc.integer({ min: 649_990, max: 650_010 }), qty: fc.integer({ min: 1, max: 30 }), tif: fc.constantFrom<TimeInForce | 'Market'>('GTC', 'IOC', 'FOK', 'PostOnly', 'Market') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), account: fc.nat(2), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('amend' as const), account: fc.nat(2), pick: fc.nat(), price: fc.integer({ min: 649_990, max: 650_010 }), qty: fc.integer({ min: 1, max: 30 }) }) },
);

function checkInvariants(exchange: Exchange): void {
  const book = exchange.book('BTCUSDT');
  const bestBid = book.bestBid();
  const bestAsk = book.bestAsk();
  if (bestBid !== undefined && bestAsk !== undefined) expect(bestBid).toBeLessThan(bestAsk);

  const inBook = new Set<string>();
  for (const side of [book.bids, book.asks]) {
    for (const level of side.levelsBestFirst()) {
      expect(level.totalLots).toBe(level.orders.reduce((total, order) => total + order.leavesLots, 0));
      for (const order of level.orders) {
        expect(isOpen(order.status) && order.leavesLots > 0 && order.priceTicks === level.priceTicks).toBe(true);
        inBook.add(order.orderId);
      }
    }
  }
  const open = ACCOUNTS.flatMap((account) => exchange.openOrders(account));
  expect(new Set(open.map((order) => order.orderId))).toEqual(inBook);
  for (const order of open) expect(order.cumExecLots + order.leavesLots).toBe(order.qtyLots);

  const positions = ACCOUNTS.map((account) => exchange.position(account, 'BTCUSDT').position);
  expect(positions.reduce((total, position) => total + position.sizeLots, 0n)).toBe(0n);
  const mark = dec('65000.05');
  expect(sum(positions.map((position) => realisedPnl(position, BTCUSDT).plus(unrealisedPnl(position, BTCUSDT, mark)))).eq(ZERO)).toBe(true);
  for (const account of ACCOUNTS) {
    const fees = sum(exchange.executions(account).map((execution) => execution.execFee));
    const position = exchange.position(account, 'BTCUSDT');
    expect(exchange.walletBalance(account).minus(INITIAL).eq(realisedPnl(position.position, BTCUSDT).minus(fees))).toBe(true);
    expect(position.cumRealisedPnl.eq(realisedPnl(position.position, BTCUSDT).minus(fees))).toBe(true);
  }
}

describe('exchange under random order flow', () => {
  it('keeps the book uncrossed and consistent, positions zero-sum and wallets equal to PnL minus fees', () => {
    fc.assert(
      fc.property(fc.array(operationArb, { minLength: 1, maxLength: 80 }), (operations) => {
        let now = 0;
        const exchange = new Exchange({ instruments: [BTCUSDT], clock: () => (now += 1) });
        for (const accountId of ACCOUNTS) exchange.addAccount({ accountId, makerFeeRate: dec('-0.000025'), takerFeeRate: dec('0.00055'), walletBalance: INITIAL });
        for (const operation of operations) {
          const accountId = ACCOUNTS[operation.account]!;
          if (operation.kind === 'create') {
            const market = operation.tif === 'Market';
            exchange.createOrder(accountId, {
              symbol: 'BTCUSDT',
              side: operation.side,
              orderType: market ? 'Market' : 'Limit',
              qtyLots: lots(operation.qty),
              priceTicks: ticks(operation.price),
              timeInForce: market ? 'IOC' : (operation.tif as TimeInForce),
            });
          } else {
            const open = exchange.openOrders(accountId);
            const target = open[operation.pick % Math.max(open.length, 1)];
            if (!target) continue;
            if (operation.kind === 'cancel') expect(exchange.cancelOrder(accountId, 'BTCUSDT', { orderId: target.orderId }).ok).toBe(true);
            else exchange.amendOrder(accountId, { symbol: 'BTCUSDT', ref: { orderId: target.orderId }, priceTicks: ticks(operation.price), qtyLots: lots(target.cumExecLots + operation.qty) });
          }
          checkInvariants(exchange);
        }
      }),
      { numRuns: 150 },
    );
  });
});
