import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type Decimal, dec } from '../../../src/core/decimal.js';
import type { FillEventV1 } from '../../../src/core/events.js';
import {
  EMPTY_SUMS,
  type ExposureLimits,
  type ExposureSums,
  type SymbolExposure,
  type SymbolLedger,
  addSums,
  evaluateExposure,
  fillSums,
  foldFills,
  freezeRequestOf,
  isNewerPrice,
  lastPriceOf,
  markedPnl,
  minuteOf,
  minutesToRead,
  utcDay,
  windowSums,
} from '../../../src/core/exposure.js';
import { fillEvent } from '../../support/fills.js';

/** 2030-01-02T03:04:30Z: half way through a minute. */
const NOW = Date.UTC(2030, 0, 2, 3, 4, 30);
const MINUTE = minuteOf(NOW);

function fill(execId: string, overrides: Partial<FillEventV1> = {}): FillEventV1 {
  return fillEvent(execId, NOW, overrides);
}

const LIMITS: ExposureLimits = {
  maxPosition: '1',
  maxNotional: '100000',
  maxDailyLoss: '500',
  maxDrawdown: '1000',
  minEdgeBps: '-5',
  edgeWindowsMinutes: [5, 60],
  minEdgeNotional: '1000',
  maxFillsPerMinute: 100,
};

const text = (sums: ExposureSums) => ({
  netQty: sums.netQty.toFixed(),
  cash: sums.cash.toFixed(),
  fees: sums.fees.toFixed(),
  fills: sums.fills,
  makerFills: sums.makerFills,
  notional: sums.notional.toFixed(),
});

const sums = (netQty: string, cash: string, fees: string, fills: number, notional: string): ExposureSums => ({
  netQty: dec(netQty),
  cash: dec(cash),
  fees: dec(fees),
  fills,
  makerFills: fills,
  notional: dec(notional),
});

/** An exposure with a mark, and the same sums for the day and in the current minute, unless told otherwise. */
function exposure(overrides: Partial<SymbolExposure> = {}): SymbolExposure {
  const total = overrides.total ?? EMPTY_SUMS;
  return {
    symbol: 'BTCUSDT',
    total,
    lastPrice: { price: dec('65000'), execTime: NOW, execId: 'e1' },
    peakPnl: undefined,
    day: total,
    minutes: new Map([[MINUTE, total]]),
    ...overrides,
  };
}

const codes = (evaluation: ReturnType<typeof evaluateExposure>) => evaluation.breaches.map((breach) => breach.code);

describe('contributions of a fill', () => {
  it('a buy adds quantity and pays its value; fees and rebates add signed', () => {
    expect(text(fillSums(fill('e1')))).toEqual({ netQty: '0.01', cash: '-650', fees: '-0.0325', fills: 1, makerFills: 1, notional: '650' });
  });

  it('a sell removes quantity and brings its value in; a taker fill is not a maker fill', () => {
    expect(text(fillSums(fill('e1', { side: 'Sell', price: '65000.5', qty: '0.002', fee: '0.0715', isMaker: false })))).toEqual({
      netQty: '-0.002',
      cash: '130.001',
      fees: '0.0715',
      fills: 1,
      makerFills: 0,
      notional: '130.001',
    });
  });

  it('adds sums exactly, with no binary float anywhere', () => {
    const added = addSums(sums('0.1', '0.2', '0.3', 1, '0.1'), sums('0.2', '0.1', '-0.3', 2, '0.2'));
    expect(text(added)).toEqual({ netQty: '0.3', cash: '0.3', fees: '0', fills: 3, makerFills: 3, notional: '0.3' });
  });

  it('marks PnL as cash plus the open quantity at the mark, less fees', () => {
    // Bought 0.01 at 65000 with a 0.0325 rebate, marked at 65100: +1 on the position, +0.0325 rebate.
    expect(markedPnl(fillSums(fill('e1')), dec('65100')).toFixed()).toBe('1.0325');
  });
});

describe('the last price', () => {
  const price = (execTime: number, execId: string) => ({ price: dec('1'), execTime, execId });

  it('is replaced only by a newer fill, ties broken by execId', () => {
    expect(isNewerPrice(price(5, 'a'), undefined)).toBe(true);
    expect(isNewerPrice(price(6, 'a'), price(5, 'b'))).toBe(true);
    expect(isNewerPrice(price(5, 'b'), price(5, 'a'))).toBe(true);
    expect(isNewerPrice(price(5, 'a'), price(5, 'b'))).toBe(false);
    expect(isNewerPrice(price(5, 'a'), price(5, 'a'))).toBe(false);
    expect(isNewerPrice(price(4, 'z'), price(5, 'a'))).toBe(false);
  });

  it('is the fill price, time and execId', () => {
    const last = lastPriceOf(fill('e9', { price: '64999.9', execTime: 7 }));
    expect({ price: last.price.toFixed(), execTime: last.execTime, execId: last.execId }).toEqual({ price: '64999.9', execTime: 7, execId: 'e9' });
  });
});

describe('time buckets', () => {
  it('names the UTC day and the minute since 1970', () => {
    expect(utcDay(Date.UTC(2030, 0, 2, 23, 59, 59, 999))).toBe('2030-01-02');
    expect(utcDay(Date.UTC(2030, 0, 3))).toBe('2030-01-03');
    expect(minuteOf(59_999)).toBe(0);
    expect(minuteOf(60_000)).toBe(1);
  });

  it('reads the longest edge window, and never fewer than the current and last minute', () => {
    const read = minutesToRead(LIMITS, NOW);
    expect(read).toHaveLength(60);
    expect(read[0]).toBe(MINUTE);
    expect(read[59]).toBe(MINUTE - 59);
    expect(minutesToRead({ ...LIMITS, edgeWindowsMinutes: [1] }, NOW)).toEqual([MINUTE, MINUTE - 1]);
  });

  it('sums the buckets of the last W minutes, the current one included', () => {
    const minutes = new Map([
      [MINUTE, sums('1', '0', '0', 1, '10')],
      [MINUTE - 4, sums('2', '0', '0', 1, '20')],
      [MINUTE - 5, sums('4', '0', '0', 1, '40')],
      [MINUTE + 1, sums('8', '0', '0', 1, '80')],
    ]);
    expect(text(windowSums(minutes, 5, NOW)).netQty).toBe('3');
    expect(text(windowSums(minutes, 6, NOW)).netQty).toBe('7');
    expect(text(windowSums(new Map(), 6, NOW))).toEqual(text(EMPTY_SUMS));
  });
});

describe('rules', () => {
  it('finds nothing within every limit, and records the first positive PnL as the peak', () => {
    // Long 0.5 bought at 64990, marked at 65000: +5, plus a 1.625 rebate.
    const total = sums('0.5', '-32495', '-1.625', 1, '32495');
    const evaluation = evaluateExposure(exposure({ total }), LIMITS, NOW, 60_000);
    expect(evaluation.breaches).toEqual([]);
    expect(evaluation.pnl?.toFixed()).toBe('6.625');
    expect(evaluation.newPeakPnl?.toFixed()).toBe('6.625');
  });

  it('position limit: the absolute net quantity, long or short, names the figures', () => {
    const short = sums('-1.5', '97500', '0', 1, '97500');
    const evaluation = evaluateExposure(exposure({ total: short }), LIMITS, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['position-limit']);
    expect(evaluation.breaches[0]).toEqual({ code: 'position-limit', mode: 'hard', message: 'BTCUSDT position -1.5 exceeds maxPosition 1' });
    // Exactly at the limit is within it.
    expect(codes(evaluateExposure(exposure({ total: sums('1', '-65000', '0', 1, '65000') }), LIMITS, NOW, 60_000))).toEqual([]);
  });

  it('without a last price, only the rules that need no mark are checked', () => {
    const total = sums('-2', '0', '0', 101, '0');
    const evaluation = evaluateExposure(exposure({ total, lastPrice: undefined }), { ...LIMITS, maxNotional: '0', maxDailyLoss: '0', maxDrawdown: '0' }, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['position-limit', 'fill-rate-anomaly']);
    expect(evaluation.pnl).toBeUndefined();
    expect(evaluation.newPeakPnl).toBeUndefined();
  });

  it('notional limit: the position valued at the last price', () => {
    const total = sums('0.8', '-52000', '0', 1, '52000');
    expect(codes(evaluateExposure(exposure({ total }), { ...LIMITS, maxNotional: '52000' }, NOW, 60_000))).toEqual([]);
    const price = { price: dec('65001'), execTime: NOW, execId: 'e2' };
    const evaluation = evaluateExposure(exposure({ total, lastPrice: price }), { ...LIMITS, maxNotional: '52000' }, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['notional-limit']);
    expect(evaluation.breaches[0]?.message).toBe('BTCUSDT position value 52000.8 USDT (0.8 at 65001) exceeds maxNotional 52000');
  });

  it("daily loss: the day's fills marked at the last price, not the carried position", () => {
    // Over all time the symbol is well up; today it bought 0.1 at 70000 and the mark is 65000: -500, plus 1 fee.
    const total = sums('0.1', '10000', '0', 5, '50000');
    const day = sums('0.1', '-7000', '1', 1, '7000');
    const evaluation = evaluateExposure(exposure({ total, day, peakPnl: dec('20000') }), { ...LIMITS, maxDrawdown: '100000' }, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['daily-loss']);
    expect(evaluation.breaches[0]?.message).toBe("BTCUSDT today's trading PnL -501 USDT (fills of 2030-01-02 marked at 65000) is below -maxDailyLoss 500");
    // A loss of exactly the limit is within it.
    const atLimit = sums('0.1', '-7000', '0', 1, '7000');
    expect(codes(evaluateExposure(exposure({ total, day: atLimit, peakPnl: dec('20000') }), { ...LIMITS, maxDrawdown: '100000' }, NOW, 60_000))).toEqual([]);
  });

  it('drawdown: from the stored peak, which a lower PnL does not move', () => {
    const total = sums('0', '-200', '0', 2, '0');
    const day = EMPTY_SUMS;
    const evaluation = evaluateExposure(exposure({ total, day, peakPnl: dec('900') }), LIMITS, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['drawdown']);
    expect(evaluation.breaches[0]?.message).toBe('BTCUSDT drawdown 1100 USDT (PnL -200 from a peak of 900) exceeds maxDrawdown 1000');
    expect(evaluation.newPeakPnl).toBeUndefined();
  });

  it('drawdown: the start (PnL 0) is the peak before any higher one is stored', () => {
    const total = sums('0', '-1000.01', '0', 2, '0');
    const evaluation = evaluateExposure(exposure({ total, day: EMPTY_SUMS }), LIMITS, NOW, 60_000);
    expect(codes(evaluation)).toEqual(['drawdown']);
    expect(evaluation.newPeakPnl).toBeUndefined();
  });

  it('drawdown: a new peak is measured from at once', () => {
    const total = sums('0', '50', '0', 2, '0');
    const evaluation = evaluateExposure(exposure({ total, day: EMPTY_SUMS, peakPnl: dec('10') }), LIMITS, NOW, 60_000);
    expect(codes(evaluation)).toEqual([]);
    expect(evaluation.newPeakPnl?.toFixed()).toBe('50');
  });

  describe('edge collapse', () => {
    const limits = { ...LIMITS, maxDrawdown: '100000', maxDailyLoss: '100000', minEdgeBps: '0.5', edgeWindowsMinutes: [5], minEdgeNotional: '1000' };

    it('judges a window with enough notional: PnL per notional in bps below the minimum', () => {
      // Round trip of 0.1 bought at 65000 and sold at 64999.9 (-0.01), fees +0.13: -0.14 on 12999.99 traded.
      const window = sums('0', '-0.01', '0.13', 2, '12999.99');
      const evaluation = evaluateExposure(exposure({ total: window }), limits, NOW, 60_000);
      expect(codes(evaluation)).toEqual(['edge-collapse']);
      expect(evaluation.breaches[0]?.message).toBe('BTCUSDT edge -0.11 bps over the last 5 min (PnL -0.14 on 12999.99 USDT traded) is below minEdgeBps 0.5');
    });

    it('passes an edge at or above the minimum', () => {
      // +0.65 on 13000: exactly 0.5 bps.
      const window = sums('0', '0.65', '0', 2, '13000');
      expect(codes(evaluateExposure(exposure({ total: window }), limits, NOW, 60_000))).toEqual([]);
    });

    it('leaves a window with less notional than minEdgeNotional unjudged', () => {
      const window = sums('0', '-50', '0', 2, '999.99');
      expect(codes(evaluateExposure(exposure({ total: window }), limits, NOW, 60_000))).toEqual([]);
    });

    it('leaves an empty window unjudged even when minEdgeNotional is 0', () => {
      expect(codes(evaluateExposure(exposure({ minutes: new Map() }), { ...limits, minEdgeNotional: '0' }, NOW, 60_000))).toEqual([]);
    });

    it('judges each window on its own minutes, marking open quantity at the last price', () => {
      // 10 minutes ago: bought 0.1 at 65100 (mark 65000: -10 on 6510). Now: nothing in the last 5 minutes.
      const old = sums('0.1', '-6510', '0', 1, '6510');
      const minutes = new Map([[MINUTE - 10, old]]);
      const both = { ...limits, edgeWindowsMinutes: [5, 15] };
      const evaluation = evaluateExposure(exposure({ total: old, day: old, minutes }), both, NOW, 60_000);
      expect(codes(evaluation)).toEqual(['edge-collapse']);
      expect(evaluation.breaches[0]?.message).toContain('over the last 15 min');
    });
  });

  describe('fill rate', () => {
    const busy = sums('0', '0', '0', 101, '0');

    it('pauses on too many fills in the current minute, until now + the pause', () => {
      const evaluation = evaluateExposure(exposure({ minutes: new Map([[MINUTE, busy]]) }), LIMITS, NOW, 300_000);
      expect(evaluation.breaches).toEqual([{ code: 'fill-rate-anomaly', mode: 'pause', message: 'BTCUSDT 101 fills in this minute exceed maxFillsPerMinute 100', resumeAt: NOW + 300_000 }]);
    });

    it('pauses on too many in the last complete minute, once even if both minutes are busy', () => {
      expect(evaluateExposure(exposure({ minutes: new Map([[MINUTE - 1, busy]]) }), LIMITS, NOW, 1).breaches[0]?.message).toContain('in the last minute');
      expect(codes(evaluateExposure(exposure({ minutes: new Map([[MINUTE, busy], [MINUTE - 1, busy]]) }), LIMITS, NOW, 1))).toEqual(['fill-rate-anomaly']);
    });

    it('ignores older minutes and a count at the limit', () => {
      expect(codes(evaluateExposure(exposure({ minutes: new Map([[MINUTE - 2, busy]]) }), LIMITS, NOW, 1))).toEqual([]);
      expect(codes(evaluateExposure(exposure({ minutes: new Map([[MINUTE, sums('0', '0', '0', 100, '0')]]) }), LIMITS, NOW, 1))).toEqual([]);
    });
  });
});

describe('freeze requests', () => {
  const hard = (code: 'position-limit' | 'drawdown', message: string) => ({ code, mode: 'hard' as const, message });
  const pause = (resumeAt: number) => ({ code: 'fill-rate-anomaly' as const, mode: 'pause' as const, message: `busy until ${resumeAt}`, resumeAt });

  it('asks nothing without a breach', () => {
    expect(freezeRequestOf('BTCUSDT', [], 'risk-evaluator')).toBeUndefined();
  });

  it('stops hard if any breach is hard, for the first hard reason, naming every breach', () => {
    expect(freezeRequestOf('BTCUSDT', [pause(5), hard('drawdown', 'dd'), hard('position-limit', 'pos')], 'risk-evaluator')).toEqual({
      mode: 'hard',
      symbols: ['BTCUSDT'],
      reason: { code: 'drawdown', message: 'dd; pos; busy until 5' },
      actor: 'risk-evaluator',
    });
  });

  it('pauses until the latest resume time when every breach is a pause', () => {
    expect(freezeRequestOf('ETHUSDT', [pause(5), pause(9)], 'risk-evaluator')).toEqual({
      mode: 'pause',
      symbols: ['ETHUSDT'],
      reason: { code: 'fill-rate-anomaly', message: 'busy until 5; busy until 9' },
      actor: 'risk-evaluator',
      resumeAt: 9,
    });
    const noTime = { code: 'fill-rate-anomaly' as const, mode: 'pause' as const, message: 'x' };
    expect(freezeRequestOf('ETHUSDT', [noTime], 'a')?.resumeAt).toBe(0);
  });

  it('cuts a message longer than an event reason may be', () => {
    const request = freezeRequestOf('BTCUSDT', [hard('drawdown', 'x'.repeat(300)), hard('position-limit', 'y'.repeat(300))], 'risk-evaluator');
    expect(request?.reason.message).toHaveLength(500);
    expect(request?.reason.message.endsWith('…')).toBe(true);
  });
});

describe('the model of the store', () => {
  it('counts each execId once, per symbol, day and minute, and marks at the newest fill', () => {
    const late = Date.UTC(2030, 0, 2, 23, 59, 59);
    const ledgers = foldFills([
      fill('e1', { execTime: late - 60_000, price: '100', qty: '1', fee: '0' }),
      fill('e2', { execTime: late, price: '110', qty: '2', side: 'Sell', fee: '0.1', isMaker: false }),
      fill('e1', { execTime: late - 60_000, price: '100', qty: '1', fee: '0' }),
      fill('e3', { execTime: late + 1000, price: '105', qty: '1', fee: '0' }),
      fill('x1', { symbol: 'ETHUSDT', price: '3500', qty: '1', fee: '0' }),
      // An older fill after a newer one does not move the mark back.
      fill('e0', { execTime: late - 120_000, price: '90', qty: '1', fee: '0' }),
    ]);
    const btc = ledgers.get('BTCUSDT');
    expect(text(btc?.total ?? EMPTY_SUMS)).toEqual({ netQty: '1', cash: '-75', fees: '0.1', fills: 4, makerFills: 3, notional: '515' });
    expect(btc?.lastPrice?.execId).toBe('e3');
    expect([...(btc?.days.keys() ?? [])].sort()).toEqual(['2030-01-02', '2030-01-03']);
    expect(text(btc?.days.get('2030-01-03') ?? EMPTY_SUMS).fills).toBe(1);
    expect(text(btc?.minutes.get(minuteOf(late)) ?? EMPTY_SUMS).fills).toBe(1);
    expect(btc?.minutes.size).toBe(4);
    expect(text(ledgers.get('ETHUSDT')?.total ?? EMPTY_SUMS).netQty).toBe('1');
  });

  const fillArb = (index: number): fc.Arbitrary<FillEventV1> =>
    fc
      .record({
        symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
        side: fc.constantFrom('Buy' as const, 'Sell' as const),
        priceCents: fc.integer({ min: 1, max: 10_000_000 }),
        qtyThousandths: fc.integer({ min: 1, max: 5_000 }),
        feeMicros: fc.integer({ min: -100_000, max: 100_000 }),
        isMaker: fc.boolean(),
        // A few minutes and a day boundary; equal times are likely, so ties of the mark are exercised.
        execTime: fc.integer({ min: Date.UTC(2030, 0, 2, 23, 58), max: Date.UTC(2030, 0, 3, 0, 2) }).map((ms) => ms - (ms % 20_000)),
      })
      .map((fields) => {
        const decimal = (units: number, scale: bigint): string => dec(BigInt(units)).div(dec(scale)).toFixed();
        return fill(`e${index}`, {
          symbol: fields.symbol,
          side: fields.side,
          price: decimal(fields.priceCents, 100n),
          qty: decimal(fields.qtyThousandths, 1000n),
          fee: decimal(fields.feeMicros, 1_000_000n),
          isMaker: fields.isMaker,
          execTime: fields.execTime,
        });
      });

  const snapshot = (ledgers: Map<string, SymbolLedger>) =>
    Object.fromEntries(
      [...ledgers].map(([symbol, ledger]) => [
        symbol,
        {
          total: text(ledger.total),
          last: ledger.lastPrice && { price: ledger.lastPrice.price.toFixed(), execId: ledger.lastPrice.execId },
          days: Object.fromEntries([...ledger.days].map(([day, value]) => [day, text(value)])),
          minutes: Object.fromEntries([...ledger.minutes].map(([minute, value]) => [minute, text(value)])),
        },
      ]),
    );

  it('gives the same exposure whatever the order of the fills and however often each comes', () => {
    const setArb = fc.integer({ min: 0, max: 25 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => fillArb(index))));
    fc.assert(
      fc.property(
        setArb.chain((fills) =>
          fc.tuple(
            fc.constant(fills),
            // Every fill at least once, some several times, in any order.
            fc.shuffledSubarray(fills, { minLength: 0, maxLength: fills.length }).chain((again) => fc.shuffledSubarray([...fills, ...again, ...again], { minLength: fills.length + 2 * again.length })),
          ),
        ),
        ([fills, delivered]) => {
          expect(snapshot(foldFills(delivered))).toEqual(snapshot(foldFills(fills)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('marks the exact PnL of the fills, whatever their order', () => {
    const setArb = fc.integer({ min: 1, max: 20 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => fillArb(index))));
    fc.assert(
      fc.property(setArb, fc.integer({ min: 1, max: 10_000_000 }), (fills, markCents) => {
        const mark: Decimal = dec(BigInt(markCents)).div(dec('100'));
        for (const [symbol, ledger] of foldFills([...fills].reverse())) {
          const own = fills.filter((candidate) => candidate.symbol === symbol);
          let expected = dec('0');
          for (const one of own) {
            const signed = one.side === 'Buy' ? dec(one.qty) : dec(one.qty).neg();
            expected = expected.plus(signed.times(mark.minus(dec(one.price)))).minus(dec(one.fee));
          }
          expect(markedPnl(ledger.total, mark).toFixed()).toBe(expected.toFixed());
        }
      }),
      { numRuns: 100 },
    );
  });
});
