import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type Decimal, dec, sum } from '../../../src/core/decimal.js';
import { type TradeExecution, ExecutionLedger, applyTrade, flatPosition, positionQty, realisedPnl, unrealisedPnl } from '../../../src/core/position.js';
import { lots, sideSign, ticks } from '../../../src/core/units.js';
import { ticksToPrice } from '../../../src/core/instrument.js';
import { BTCUSDT } from '../../support/instruments.js';

const feeArb = fc.integer({ min: -100_000, max: 100_000 }).map((units) => dec(BigInt(units)).div(dec(10n ** 8n)));

const tradeArb = (index: number): fc.Arbitrary<TradeExecution> =>
  fc.record({
    side: fc.constantFrom('Buy' as const, 'Sell' as const),
    priceTicks: fc.integer({ min: 1, max: 2_000_000 }),
    qtyLots: fc.integer({ min: 1, max: 5_000 }),
    fee: feeArb,
    isMaker: fc.boolean(),
  }).map((fields) => ({
    kind: 'trade' as const,
    execId: `exec-${index}`,
    symbol: 'BTCUSDT',
    orderId: `order-${index}`,
    orderLinkId: '',
    side: fields.side,
    priceTicks: ticks(fields.priceTicks),
    qtyLots: lots(fields.qtyLots),
    fee: fields.fee,
    feeRate: dec('0'),
    isMaker: fields.isMaker,
    execTime: index,
  }));

const tradesArb = fc.integer({ min: 0, max: 40 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => tradeArb(index))));
const markArb = fc.integer({ min: 1, max: 400_000_000 }).map((cents) => dec(BigInt(cents)).div(dec('100')));

function signedQty(trade: TradeExecution): Decimal {
  return dec(BigInt(sideSign(trade.side) * trade.qtyLots)).times(BTCUSDT.qtyStep);
}

describe('position properties', () => {
  it('size is the signed sum of fills; realised + unrealised is the mark-to-market of the fills', () => {
    fc.assert(
      fc.property(tradesArb, markArb, (trades, mark) => {
        const position = trades.reduce(applyTrade, flatPosition('BTCUSDT'));
        expect(positionQty(position, BTCUSDT).eq(sum(trades.map(signedQty)))).toBe(true);
        const markToMarket = sum(trades.map((trade) => signedQty(trade).times(mark.minus(ticksToPrice(BTCUSDT, trade.priceTicks)))));
        expect(realisedPnl(position, BTCUSDT).plus(unrealisedPnl(position, BTCUSDT, mark)).eq(markToMarket)).toBe(true);
        // The open cost always has the sign of the position, and is zero when flat.
        expect(position.costTickLots === 0n || position.costTickLots > 0n === position.sizeLots > 0n).toBe(true);
        if (position.sizeLots === 0n) expect(position.costTickLots).toBe(0n);
      }),
      { numRuns: 300 },
    );
  });

  it('fees paid minus rebates earned is the sum of execFee; maker plus taker volume is the traded volume', () => {
    fc.assert(
      fc.property(tradesArb, (trades) => {
        const position = trades.reduce(applyTrade, flatPosition('BTCUSDT'));
        expect(position.feesPaid.minus(position.rebatesEarned).eq(sum(trades.map((trade) => trade.fee)))).toBe(true);
        expect(position.feesPaid.gte(dec('0')) && position.rebatesEarned.gte(dec('0'))).toBe(true);
        expect(position.makerLots + position.takerLots).toBe(trades.reduce((total, trade) => total + BigInt(trade.qtyLots), 0n));
      }),
      { numRuns: 200 },
    );
  });

  it('a ledger fed duplicates ends where the unique fills end', () => {
    fc.assert(
      fc.property(tradesArb, fc.array(fc.nat(), { maxLength: 20 }), (trades, duplicates) => {
        fc.pre(trades.length > 0);
        const ledger = new ExecutionLedger();
        const withDuplicates = [...trades];
        for (const index of duplicates) withDuplicates.splice(index % (withDuplicates.length + 1), 0, trades[index % trades.length]!);
        // Keep first occurrences in their original order so the unique sequence is the same.
        const seen = new Set<string>();
        const firstOccurrences = withDuplicates.filter((trade) => !seen.has(trade.execId) && seen.add(trade.execId));
        let appliedCount = 0;
        for (const trade of withDuplicates) if (ledger.apply(trade).applied) appliedCount += 1;
        expect(appliedCount).toBe(trades.length);
        expect(ledger.position('BTCUSDT')).toEqual(firstOccurrences.reduce(applyTrade, flatPosition('BTCUSDT')));
      }),
      { numRuns: 200 },
    );
  });
});
