/**
 * What the risk evaluator knows of each symbol's exposure, built from Fill events alone, and the rules
 * that freeze trading on it (docs/RISK.md). Pure; src/adapters/dynamodb/exposure-store.ts keeps the sums
 * in the control table and src/control/risk-evaluator.ts acts on the breaches.
 *
 * Fill events arrive at least once and in any order, so the model is additive: a fill contributes fixed
 * amounts to sums (per symbol, per symbol and UTC day, per symbol and minute), and a sum of contributions
 * does not depend on their order. Each fill is counted once by its execId. The only figures that are not
 * sums are the last price (the price of the fill with the greatest execTime, ties broken by execId, so it
 * is the same whatever order fills came in) and the PnL high-water mark (as observed by the evaluations).
 *
 * Money and quantities are exact decimals (src/core/decimal.ts); quote currency USDT, quantities in base coin.
 */
import type { FreezeMode, FreezeRequest } from './control.js';
import { type Decimal, ZERO, dec } from './decimal.js';
import type { FillEventV1, FreezeReasonCode } from './events.js';

/** Additive figures of a set of fills. */
export interface ExposureSums {
  /** Signed base quantity: buys add, sells subtract. */
  readonly netQty: Decimal;
  /** Signed quote flow: a sell brings qty × price in, a buy pays it out. */
  readonly cash: Decimal;
  /** Sum of Bybit's execFee: positive a fee paid, negative a rebate earned. */
  readonly fees: Decimal;
  readonly fills: number;
  readonly makerFills: number;
  /** Traded value, qty × price, always positive. */
  readonly notional: Decimal;
}

export const EMPTY_SUMS: ExposureSums = { netQty: ZERO, cash: ZERO, fees: ZERO, fills: 0, makerFills: 0, notional: ZERO };

/** One fill's contribution to every sum it belongs to. */
export function fillSums(fill: FillEventV1): ExposureSums {
  const qty = dec(fill.qty);
  const notional = qty.times(dec(fill.price));
  const buy = fill.side === 'Buy';
  return {
    netQty: buy ? qty : qty.neg(),
    cash: buy ? notional.neg() : notional,
    fees: dec(fill.fee),
    fills: 1,
    makerFills: fill.isMaker ? 1 : 0,
    notional,
  };
}

export function addSums(a: ExposureSums, b: ExposureSums): ExposureSums {
  return {
    netQty: a.netQty.plus(b.netQty),
    cash: a.cash.plus(b.cash),
    fees: a.fees.plus(b.fees),
    fills: a.fills + b.fills,
    makerFills: a.makerFills + b.makerFills,
    notional: a.notional.plus(b.notional),
  };
}

/** PnL of the sums with the open quantity marked at `mark`: cash + netQty × mark − fees. */
export function markedPnl(sums: ExposureSums, mark: Decimal): Decimal {
  return sums.cash.plus(sums.netQty.times(mark)).minus(sums.fees);
}

/** The mark: the price of the newest fill. */
export interface LastPrice {
  readonly price: Decimal;
  readonly execTime: number;
  /** Breaks a tie of execTime, so two fills of the same millisecond give the same mark in either order. */
  readonly execId: string;
}

export function lastPriceOf(fill: FillEventV1): LastPrice {
  return { price: dec(fill.price), execTime: fill.execTime, execId: fill.execId };
}

/** Whether `candidate` replaces `current` as the mark (the store's conditional update says the same). */
export function isNewerPrice(candidate: LastPrice, current: LastPrice | undefined): boolean {
  if (!current) return true;
  return candidate.execTime > current.execTime || (candidate.execTime === current.execTime && candidate.execId > current.execId);
}

const MINUTE_MS = 60_000;

/** The UTC day of a time, yyyy-mm-dd. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The minute bucket of a time: whole minutes since 1970. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** The limits of one symbol, as configured (src/control/settings.ts SymbolRiskLimits). */
export interface ExposureLimits {
  readonly maxPosition: string;
  readonly maxNotional: string;
  readonly maxDailyLoss: string;
  readonly maxDrawdown: string;
  readonly minEdgeBps: string;
  readonly edgeWindowsMinutes: readonly number[];
  readonly minEdgeNotional: string;
  readonly maxFillsPerMinute: number;
}

/** Minute buckets the rules read at `now`, newest first: the longest edge window, and at least the current and last minute. */
export function minutesToRead(limits: ExposureLimits, now: number): number[] {
  const current = minuteOf(now);
  const count = Math.max(2, ...limits.edgeWindowsMinutes);
  return Array.from({ length: count }, (_, index) => current - index);
}

/** What the store holds for one symbol, read at `now`. */
export interface SymbolExposure {
  readonly symbol: string;
  readonly total: ExposureSums;
  readonly lastPrice: LastPrice | undefined;
  /** The highest PnL stored so far; absent before any was higher than zero (the start). */
  readonly peakPnl: Decimal | undefined;
  /** The sums of the UTC day of `now`. */
  readonly day: ExposureSums;
  /** Minute buckets by minuteOf; a minute without fills may be missing. */
  readonly minutes: ReadonlyMap<number, ExposureSums>;
}

export interface Breach {
  readonly code: FreezeReasonCode;
  readonly mode: FreezeMode;
  readonly message: string;
  /** For a pause: when it lifts itself. */
  readonly resumeAt?: number;
}

export interface ExposureEvaluation {
  readonly symbol: string;
  /** Total PnL marked at the last price; undefined without a last price. */
  readonly pnl: Decimal | undefined;
  /** A new high-water mark to store (higher than the stored one), if this evaluation saw one. */
  readonly newPeakPnl: Decimal | undefined;
  readonly breaches: readonly Breach[];
}

const BPS = dec('10000');
const fmt = (value: Decimal): string => value.toFixed();
const bps = (value: Decimal): string => value.toFixed(2);

/** The sums of the minute buckets of the last `windowMinutes` minutes at `now` (the current minute included). */
export function windowSums(minutes: ReadonlyMap<number, ExposureSums>, windowMinutes: number, now: number): ExposureSums {
  const current = minuteOf(now);
  let total = EMPTY_SUMS;
  for (let minute = current - windowMinutes + 1; minute <= current; minute++) {
    const bucket = minutes.get(minute);
    if (bucket) total = addSums(total, bucket);
  }
  return total;
}

/**
 * Every rule on one symbol's exposure at `now`. A fill-rate anomaly pauses for `fillRatePauseMs`; every
 * other breach stops hard. Rules that need a mark are skipped until a last price is stored.
 */
export function evaluateExposure(exposure: SymbolExposure, limits: ExposureLimits, now: number, fillRatePauseMs: number): ExposureEvaluation {
  const { symbol, total, lastPrice } = exposure;
  const breaches: Breach[] = [];
  const hard = (code: FreezeReasonCode, message: string): void => {
    breaches.push({ code, mode: 'hard', message: `${symbol} ${message}` });
  };

  const position = total.netQty.abs();
  const maxPosition = dec(limits.maxPosition);
  if (position.gt(maxPosition)) hard('position-limit', `position ${fmt(total.netQty)} exceeds maxPosition ${fmt(maxPosition)}`);

  let pnl: Decimal | undefined;
  let newPeakPnl: Decimal | undefined;
  if (lastPrice) {
    const mark = lastPrice.price;
    const positionNotional = position.times(mark);
    const maxNotional = dec(limits.maxNotional);
    if (positionNotional.gt(maxNotional)) hard('notional-limit', `position value ${fmt(positionNotional)} USDT (${fmt(total.netQty)} at ${fmt(mark)}) exceeds maxNotional ${fmt(maxNotional)}`);

    const dayPnl = markedPnl(exposure.day, mark);
    const maxDailyLoss = dec(limits.maxDailyLoss);
    if (dayPnl.lt(maxDailyLoss.neg())) hard('daily-loss', `today's trading PnL ${fmt(dayPnl)} USDT (fills of ${utcDay(now)} marked at ${fmt(mark)}) is below -maxDailyLoss ${fmt(maxDailyLoss)}`);

    pnl = markedPnl(total, mark);
    const storedPeak = exposure.peakPnl ?? ZERO;
    if (pnl.gt(storedPeak)) newPeakPnl = pnl;
    const peak = newPeakPnl ?? storedPeak;
    const drawdown = peak.minus(pnl);
    const maxDrawdown = dec(limits.maxDrawdown);
    if (drawdown.gt(maxDrawdown)) hard('drawdown', `drawdown ${fmt(drawdown)} USDT (PnL ${fmt(pnl)} from a peak of ${fmt(peak)}) exceeds maxDrawdown ${fmt(maxDrawdown)}`);

    const minEdgeBps = dec(limits.minEdgeBps);
    const minEdgeNotional = dec(limits.minEdgeNotional);
    for (const windowMinutes of limits.edgeWindowsMinutes) {
      const window = windowSums(exposure.minutes, windowMinutes, now);
      // Too little traded and the edge is noise; nothing traded and it is undefined.
      if (window.notional.lt(minEdgeNotional) || window.notional.eq(ZERO)) continue;
      const windowPnl = markedPnl(window, mark);
      const edge = windowPnl.div(window.notional).times(BPS);
      if (edge.lt(minEdgeBps)) {
        hard('edge-collapse', `edge ${bps(edge)} bps over the last ${windowMinutes} min (PnL ${fmt(windowPnl)} on ${fmt(window.notional)} USDT traded) is below minEdgeBps ${fmt(minEdgeBps)}`);
      }
    }
  }

  const current = minuteOf(now);
  for (const [minute, label] of [[current, 'this minute'], [current - 1, 'the last minute']] as const) {
    const fills = exposure.minutes.get(minute)?.fills ?? 0;
    if (fills > limits.maxFillsPerMinute) {
      breaches.push({ code: 'fill-rate-anomaly', mode: 'pause', message: `${symbol} ${fills} fills in ${label} exceed maxFillsPerMinute ${limits.maxFillsPerMinute}`, resumeAt: now + fillRatePauseMs });
      break;
    }
  }
  return { symbol, pnl, newPeakPnl, breaches };
}

/** The Freeze reason message's limit (src/core/events.ts). */
const MAX_REASON_LENGTH = 500;

/**
 * One freeze request for a symbol's breaches: a hard stop if any breach is hard (reason: the first hard
 * breach), otherwise a pause until the latest resume time; the message names every breach.
 */
export function freezeRequestOf(symbol: string, breaches: readonly Breach[], actor: string): FreezeRequest | undefined {
  const ordered = [...breaches.filter((breach) => breach.mode === 'hard'), ...breaches.filter((breach) => breach.mode === 'pause')];
  const first = ordered[0];
  if (!first) return undefined;
  const joined = ordered.map((breach) => breach.message).join('; ');
  const message = joined.length > MAX_REASON_LENGTH ? `${joined.slice(0, MAX_REASON_LENGTH - 1)}…` : joined;
  const reason = { code: first.code, message };
  if (first.mode === 'hard') return { mode: 'hard', symbols: [symbol], reason, actor };
  return { mode: 'pause', symbols: [symbol], reason, actor, resumeAt: Math.max(...ordered.map((breach) => breach.resumeAt ?? 0)) };
}

// ---------------------------------------------------------------- the model in memory

/** Everything the store keeps of one symbol, as the fills make it. */
export interface SymbolLedger {
  readonly total: ExposureSums;
  readonly lastPrice: LastPrice | undefined;
  readonly days: ReadonlyMap<string, ExposureSums>;
  readonly minutes: ReadonlyMap<number, ExposureSums>;
}

/**
 * The exposure a set of fill events makes, each counted once by execId: the reference model of the store
 * (it applies the same contributions one fill at a time), and what the property tests check order and
 * duplicate independence on.
 */
export function foldFills(fills: Iterable<FillEventV1>): Map<string, SymbolLedger> {
  const seen = new Set<string>();
  const ledgers = new Map<string, { total: ExposureSums; lastPrice: LastPrice | undefined; days: Map<string, ExposureSums>; minutes: Map<number, ExposureSums> }>();
  for (const fill of fills) {
    if (seen.has(fill.execId)) continue;
    seen.add(fill.execId);
    let ledger = ledgers.get(fill.symbol);
    if (!ledger) {
      ledger = { total: EMPTY_SUMS, lastPrice: undefined, days: new Map(), minutes: new Map() };
      ledgers.set(fill.symbol, ledger);
    }
    const sums = fillSums(fill);
    ledger.total = addSums(ledger.total, sums);
    const day = utcDay(fill.execTime);
    ledger.days.set(day, addSums(ledger.days.get(day) ?? EMPTY_SUMS, sums));
    const minute = minuteOf(fill.execTime);
    ledger.minutes.set(minute, addSums(ledger.minutes.get(minute) ?? EMPTY_SUMS, sums));
    const price = lastPriceOf(fill);
    if (isNewerPrice(price, ledger.lastPrice)) ledger.lastPrice = price;
  }
  return ledgers;
}
