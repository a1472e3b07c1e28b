import { describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import {
  type FundingExecution,
  type TradeExecution,
  ExecutionLedger,
  PositionError,
  applyExecution,
  applyTrade,
  averageEntryPrice,
  flatPosition,
  pnlBreakdown,
  positionQty,
  realisedPnl,
  unrealisedPnl,
} from '../../../src/core/position.js';
import { type Side, lots, ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

let sequence = 0;
function trade(side: Side, price: string, qty: string, fee = '0', isMaker = true): TradeExecution {
  sequence += 1;
  return {
    kind: 'trade',
    execId: `e-${sequence}`,
    symbol: 'BTCUSDT',
    orderId: `o-${sequence}`,
    orderLinkId: `l-${sequence}`,
    side,
    priceTicks: ticks(Number(dec(price).div(BTCUSDT.tickSize).toFixed(0))),
    qtyLots: lots(Number(dec(qty).div(BTCUSDT.qtyStep).toFixed(0))),
    fee: dec(fee),
    feeRate: dec('0'),
    isMaker,
    execTime: 1_000 + sequence,
  };
}

function play(...trades: TradeExecution[]) {
  return trades.reduce(applyTrade, flatPosition('BTCUSDT'));
}

describe('linear perpetual position', () => {
  it('opens long and averages in', () => {
    const position = play(trade('Buy', '100.0', '1.000'), trade('Buy', '110.0', '1.000'));
    expect(positionQty(position, BTCUSDT).toFixed()).toBe('2');
    expect(averageEntryPrice(position, BTCUSDT)?.toFixed()).toBe('105');
    expect(realisedPnl(position, BTCUSDT).toFixed()).toBe('0');
    expect(unrealisedPnl(position, BTCUSDT, dec('120')).toFixed()).toBe('30');
  });

  it('realises PnL on a partial close of a long at the average cost', () => {
    const position = play(trade('Buy', '100.0', '1.000'), trade('Buy', '110.0', '1.000'), trade('Sell', '120.0', '0.500'));
    expect(positionQty(position, BTCUSDT).toFixed()).toBe('1.5');
    expect(realisedPnl(position, BTCUSDT).toFixed()).toBe('7.5');
    expect(averageEntryPrice(position, BTCUSDT)?.toFixed()).toBe('105');
  });

  it('handles shorts with the opposite sign', () => {
    const position = play(trade('Sell', '200.0', '2.000'), trade('Buy', '190.0', '1.000'));
    expect(positionQty(position, BTCUSDT).toFixed()).toBe('-1');
    expect(realisedPnl(position, BTCUSDT).toFixed()).toBe('10');
    expect(unrealisedPnl(position, BTCUSDT, dec('210')).toFixed()).toBe('-10');
  });

  it('flips through zero: closes the old side, opens the rest at the fill price', () => {
    const position = play(trade('Buy', '100.0', '1.000'), trade('Sell', '90.0', '3.000'));
    expect(positionQty(position, BTCUSDT).toFixed()).toBe('-2');
    expect(realisedPnl(position, BTCUSDT).toFixed()).toBe('-10');
    expect(averageEntryPrice(position, BTCUSDT)?.toFixed()).toBe('90');
    expect(unrealisedPnl(position, BTCUSDT, dec('80')).toFixed()).toBe('20');
  });

  it('is flat with zero cost after a round trip', () => {
    const position = play(trade('Buy', '100.0', '0.003'), trade('Sell', '100.1', '0.003'));
    expect(position.sizeLots).toBe(0n);
    expect(position.costTickLots).toBe(0n);
    expect(averageEntryPrice(position, BTCUSDT)).toBeUndefined();
    expect(realisedPnl(position, BTCUSDT).toFixed()).toBe('0.0003');
  });

  it('keeps cost exact when a close does not divide it evenly', () => {
    // Cost is 1000 + 2 * 1001 = 3002 tick-lots for 3 lots; closing 1 lot moves 3002 / 3 = 1000.67 out,
    // truncated to 1000, and the remainder stays in the open cost.
    const position = play(trade('Buy', '100.0', '0.001'), trade('Buy', '100.1', '0.002'), trade('Sell', '100.0', '0.001'));
    expect(position.costTickLots).toBe(2002n);
    expect(position.realisedTickLots).toBe(0n);
    const mark = dec('101');
    // Conservation: realised + unrealised = mark-to-market of all fills.
    const mtm = dec('0.001').times(mark.minus('100.0')).plus(dec('0.002').times(mark.minus('100.1'))).minus(dec('0.001').times(mark.minus('100.0')));
    expect(realisedPnl(position, BTCUSDT).plus(unrealisedPnl(position, BTCUSDT, mark)).eq(mtm)).toBe(true);
  });
});

describe('fees, rebates and funding', () => {
  it('keeps fees paid and rebates earned apart, as Bybit signs execFee', () => {
    // Bybit's documented rebate example: execFee -0.53875 at feeRate -0.00025 on 2155 of value.
    const position = play(trade('Buy', '2155.0', '1.000', '-0.53875000'), trade('Sell', '2155.0', '1.000', '1.293', false));
    expect(position.rebatesEarned.toFixed()).toBe('0.53875');
    expect(position.feesPaid.toFixed()).toBe('1.293');
    expect(position.makerLots).toBe(1000n);
    expect(position.takerLots).toBe(1000n);
    expect(position.tradeCount).toBe(2);
  });

  it('books funding apart without touching the size', () => {
    const paid: FundingExecution = { kind: 'funding', execId: 'f-1', symbol: 'BTCUSDT', fee: dec('0.12'), execTime: 5_000 };
    const received: FundingExecution = { kind: 'funding', execId: 'f-2', symbol: 'BTCUSDT', fee: dec('-0.05'), execTime: 6_000 };
    const position = [paid, received].reduce(applyExecution, play(trade('Buy', '100.0', '1.000')));
    expect(position.fundingPnl.toFixed()).toBe('-0.07');
    expect(positionQty(position, BTCUSDT).toFixed()).toBe('1');
    expect(position.lastExecTime).toBe(6_000);
  });

  it('breaks PnL down with the rebate separate and a net that adds up', () => {
    const position = play(trade('Buy', '100.0', '1.000', '-0.025'), trade('Sell', '100.2', '0.500', '-0.0125'));
    const breakdown = pnlBreakdown(position, BTCUSDT, dec('100.1'));
    expect(breakdown.realised.toFixed()).toBe('0.1');
    expect(breakdown.unrealised.toFixed()).toBe('0.05');
    expect(breakdown.rebatesEarned.toFixed()).toBe('0.0375');
    expect(breakdown.feesPaid.toFixed()).toBe('0');
    expect(breakdown.net.toFixed()).toBe('0.1875');
  });
});

describe('bad input', () => {
  it('refuses an execution of another symbol or of no quantity', () => {
    expect(() => applyTrade(flatPosition('ETHUSDT'), trade('Buy', '1.0', '1.000'))).toThrow(PositionError);
    expect(() => applyTrade(flatPosition('BTCUSDT'), { ...trade('Buy', '1.0', '1.000'), qtyLots: lots(0) })).toThrow(/no quantity/);
    expect(() =>
      applyExecution(flatPosition('ETHUSDT'), { kind: 'funding', execId: 'f', symbol: 'BTCUSDT', fee: dec('1'), execTime: 1 }),
    ).toThrow(/is for BTCUSDT/);
  });
});

describe('ExecutionLedger', () => {
  it('applies each execId once', () => {
    const ledger = new ExecutionLedger();
    const fill = trade('Buy', '100.0', '1.000', '-0.01');
    expect(ledger.apply(fill).applied).toBe(true);
    const again = ledger.apply({ ...fill });
    expect(again.applied).toBe(false);
    expect(positionQty(again.position, BTCUSDT).toFixed()).toBe('1');
    expect(ledger.position('BTCUSDT').rebatesEarned.toFixed()).toBe('0.01');
    expect(ledger.has(fill.execId)).toBe(true);
    expect(ledger.symbols()).toEqual(['BTCUSDT']);
    expect(ledger.position('ETHUSDT').sizeLots).toBe(0n);
  });

  it('does not mark an execution seen when applying it fails', () => {
    const ledger = new ExecutionLedger();
    const broken = { ...trade('Buy', '100.0', '1.000'), qtyLots: lots(0) };
    expect(() => ledger.apply(broken)).toThrow(PositionError);
    expect(ledger.has(broken.execId)).toBe(false);
  });
});
