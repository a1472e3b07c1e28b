/**
 * Rebate-first PnL and the edge monitor.
 *
 * Each fill's result is split, exactly, into
 *   spread capture   sign x (mid at the fill - fill price) x qty   (what quoting away from the mid earned)
 *   fee or rebate    -execFee                                      (the maker rebate is positive)
 *   inventory PnL    sign x (mid now - mid at the fill) x qty      (what holding the position did since)
 * where sign is +1 for a buy and -1 for a sell. Spread capture plus inventory PnL is the fill's trading PnL
 * at the current mid, so over all fills: trading PnL = spread capture + inventory PnL, and the net adds
 * fees, rebates and funding (kept by positions.ts).
 *
 * Markouts: the inventory PnL of a fill at fixed horizons after it (1 s, 5 s, 30 s by default), taken at the
 * first mid observed at or after the horizon. The net edge of a fill at the longest horizon is spread
 * capture + rebate + markout: when its sum over the last N fills, in bps of their notional, falls below
 * the threshold, quoting is losing money net of the rebate and the engine freezes. A drawdown of the net
 * PnL from its peak beyond a limit freezes too.
 *
 * Mids are exact: (best bid + best ask) / 2 from integer ticks, so every figure here is a Decimal.
 */
import { type Decimal, ZERO, dec } from './decimal.js';
import { type Instrument, lotsToQty, notional } from './instrument.js';
import type { Lots, Side, Ticks } from './units.js';
import { sideSign } from './units.js';

const HALF = dec('0.5');
const BPS = dec('10000');

/** The mid of a book in the instrument's price, exactly: (bid + ask) / 2. */
export function exactMid(instrument: Instrument, bestBid: Ticks, bestAsk: Ticks): Decimal {
  // Halving is a multiplication by 0.5: exact, and far cheaper than a division.
  return dec(BigInt(bestBid + bestAsk)).times(instrument.tickSize).times(HALF);
}

export interface EdgeFill {
  readonly execId: string;
  readonly side: Side;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  /** Bybit's execFee: positive paid, negative rebate. */
  readonly fee: Decimal;
  /** Exact mid when the fill happened. */
  readonly midAtFill: Decimal;
  readonly time: number;
}

export interface FillBreakdown {
  readonly spreadCapture: Decimal;
  readonly rebate: Decimal;
  readonly notional: Decimal;
}

export function breakdownOf(instrument: Instrument, fill: EdgeFill): FillBreakdown {
  const qty = lotsToQty(instrument, fill.qtyLots);
  const price = dec(BigInt(fill.priceTicks)).times(instrument.tickSize);
  const sign = dec(BigInt(sideSign(fill.side)));
  return { spreadCapture: sign.times(fill.midAtFill.minus(price)).times(qty), rebate: fill.fee.neg(), notional: notional(instrument, fill.priceTicks, fill.qtyLots) };
}

/** Inventory PnL of a fill from its mid to `mid`. */
export function inventoryPnl(instrument: Instrument, fill: EdgeFill, mid: Decimal): Decimal {
  return dec(BigInt(sideSign(fill.side))).times(mid.minus(fill.midAtFill)).times(lotsToQty(instrument, fill.qtyLots));
}

export interface EdgeLimits {
  /** Freeze when the net edge over the window, in bps of notional, is below this. */
  readonly edgeCollapseBps: Decimal;
  /** Fills (with their longest markout known) the edge is measured over; no decision before it is full. */
  readonly windowFills: number;
  /** Freeze when net PnL falls this far below its peak (settle coin). */
  readonly maxDrawdown: Decimal;
}

export type EdgeVerdict = { readonly freeze: false } | { readonly freeze: true; readonly reason: 'edge-collapse' | 'drawdown'; readonly detail: string };

interface TrackedFill {
  readonly fill: EdgeFill;
  readonly breakdown: FillBreakdown;
  /** Markout per horizon (same order as the horizons), undefined until its time has come. */
  readonly markouts: (Decimal | undefined)[];
}

export interface EdgeSnapshot {
  readonly fills: number;
  readonly spreadCapture: Decimal;
  readonly rebates: Decimal;
  /** Average markout per horizon over the window, bps of notional (undefined: none known yet). */
  readonly markoutBps: readonly (Decimal | undefined)[];
  /** Net edge over the window at the longest horizon, bps of notional. */
  readonly netEdgeBps: Decimal | undefined;
  readonly netPnl: Decimal;
  readonly peakNetPnl: Decimal;
}

/**
 * Tracks fills and their markouts for one symbol. Deterministic, no I/O: the engine feeds it fills, mids
 * with their times, and its net PnL. Memory is bounded by the window and the longest horizon.
 */
export class EdgeMonitor {
  private readonly pending: TrackedFill[] = [];
  private readonly window: TrackedFill[] = [];
  private spreadCaptureTotal = ZERO;
  private rebateTotal = ZERO;
  private fillCount = 0;
  private netPnl = ZERO;
  private peakNetPnl = ZERO;

  constructor(
    private readonly instrument: Instrument,
    /** Markout horizons in ms, ascending. */
    private readonly horizonsMs: readonly number[],
    private readonly limits: EdgeLimits,
  ) {
    if (horizonsMs.length === 0) throw new Error('at least one markout horizon is needed');
  }

  recordFill(fill: EdgeFill): FillBreakdown {
    const breakdown = breakdownOf(this.instrument, fill);
    this.spreadCaptureTotal = this.spreadCaptureTotal.plus(breakdown.spreadCapture);
    this.rebateTotal = this.rebateTotal.plus(breakdown.rebate);
    this.fillCount += 1;
    this.pending.push({ fill, breakdown, markouts: this.horizonsMs.map(() => undefined) });
    return breakdown;
  }

  /** Whether some fill still waits for a markout (otherwise a mid changes nothing and need not be computed). */
  get awaitingMarkouts(): boolean {
    return this.pending.length > 0;
  }

  /** A mid observed at `time`: settles every markout whose horizon has passed. */
  observeMid(time: number, mid: Decimal): void {
    const longest = this.horizonsMs.length - 1;
    while (this.pending.length > 0) {
      const tracked = this.pending[0];
      if (!tracked) break;
      this.horizonsMs.forEach((horizon, index) => {
        if (tracked.markouts[index] === undefined && time >= tracked.fill.time + horizon) tracked.markouts[index] = inventoryPnl(this.instrument, tracked.fill, mid);
      });
      // Fills are recorded in time order, so the oldest settles first.
      if (tracked.markouts[longest] === undefined) break;
      this.pending.shift();
      this.window.push(tracked);
      if (this.window.length > this.limits.windowFills) this.window.shift();
    }
  }

  /** The net PnL (trading + rebates - fees + funding) now, for the drawdown rule. */
  observeNetPnl(netPnl: Decimal): void {
    this.netPnl = netPnl;
    if (netPnl.gt(this.peakNetPnl)) this.peakNetPnl = netPnl;
  }

  private sumBps(pick: (tracked: TrackedFill) => Decimal | undefined): Decimal | undefined {
    let total = ZERO;
    let base = ZERO;
    for (const tracked of this.window) {
      const value = pick(tracked);
      if (value === undefined) continue;
      total = total.plus(value);
      base = base.plus(tracked.breakdown.notional);
    }
    return base.eq(ZERO) ? undefined : total.times(BPS).div(base);
  }

  snapshot(): EdgeSnapshot {
    const longest = this.horizonsMs.length - 1;
    return {
      fills: this.fillCount,
      spreadCapture: this.spreadCaptureTotal,
      rebates: this.rebateTotal,
      markoutBps: this.horizonsMs.map((_, index) => this.sumBps((tracked) => tracked.markouts[index])),
      netEdgeBps: this.sumBps((tracked) => {
        const markout = tracked.markouts[longest];
        return markout === undefined ? undefined : tracked.breakdown.spreadCapture.plus(tracked.breakdown.rebate).plus(markout);
      }),
      netPnl: this.netPnl,
      peakNetPnl: this.peakNetPnl,
    };
  }

  /** Measures the drawdown from the current net PnL again (an operator unfroze after a drawdown freeze). */
  resetPeak(): void {
    this.peakNetPnl = this.netPnl;
  }

  /** Whether to freeze, and why. */
  evaluate(): EdgeVerdict {
    const drawdown = this.peakNetPnl.minus(this.netPnl);
    if (drawdown.gt(this.limits.maxDrawdown)) {
      return { freeze: true, reason: 'drawdown', detail: `net PnL ${this.netPnl.toFixed()} is ${drawdown.toFixed()} below its peak ${this.peakNetPnl.toFixed()} (limit ${this.limits.maxDrawdown.toFixed()})` };
    }
    if (this.window.length < this.limits.windowFills) return { freeze: false };
    const edge = this.snapshot().netEdgeBps;
    if (edge !== undefined && edge.lt(this.limits.edgeCollapseBps)) {
      return { freeze: true, reason: 'edge-collapse', detail: `net edge ${edge.toFixed(2)} bps over the last ${this.window.length} fills is below ${this.limits.edgeCollapseBps.toFixed()} bps` };
    }
    return { freeze: false };
  }
}
