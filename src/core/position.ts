/**
 * Fills and positions of a linear perpetual (one-way mode), kept exact.
 *
 * A position holds its signed size in lots and the signed cost of its open part in tick-lots (price ticks
 * times lots, an integer). Closing a part moves that part's share of the cost out; the share is rounded to
 * a whole tick-lot and the remainder stays in the open cost, so cost is conserved exactly and
 *
 *   realised + unrealised(mark) == sum over fills of signed qty * (mark - fill price)
 *
 * holds to the last unit, through flips and partial closes. Fees, rebates and funding are kept apart from
 * trading PnL, as Bybit reports them: execFee > 0 is a fee paid, execFee < 0 a maker rebate earned.
 */
import { type Decimal, ZERO, dec } from './decimal.js';
import type { Instrument } from './instrument.js';
import { type Lots, type Side, type Ticks, sideSign } from './units.js';

export interface TradeExecution {
  readonly kind: 'trade';
  readonly execId: string;
  readonly symbol: string;
  readonly orderId: string;
  /** Empty when the order had none (not one of ours). */
  readonly orderLinkId: string;
  readonly side: Side;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  /** Bybit execFee: positive is a fee paid, negative a rebate earned. */
  readonly fee: Decimal;
  readonly feeRate: Decimal;
  readonly isMaker: boolean;
  /** execTime, ms since epoch. */
  readonly execTime: number;
}

/** A funding settlement (Bybit execType Funding): no change of size; execFee > 0 means we paid. */
export interface FundingExecution {
  readonly kind: 'funding';
  readonly execId: string;
  readonly symbol: string;
  readonly fee: Decimal;
  readonly execTime: number;
}

export type Execution = TradeExecution | FundingExecution;

export interface Position {
  readonly symbol: string;
  /** Signed: long > 0, short < 0. */
  readonly sizeLots: bigint;
  /** Signed cost of the open part, in tick-lots; same sign as sizeLots, zero when flat. */
  readonly costTickLots: bigint;
  readonly realisedTickLots: bigint;
  /** Sum of positive execFee, in the settle coin. */
  readonly feesPaid: Decimal;
  /** Sum of -execFee over negative execFee (maker rebates), in the settle coin. */
  readonly rebatesEarned: Decimal;
  /** Funding received minus funding paid. */
  readonly fundingPnl: Decimal;
  readonly makerLots: bigint;
  readonly takerLots: bigint;
  readonly tradeCount: number;
  /** execTime of the newest execution applied; 0 before any. */
  readonly lastExecTime: number;
}

export function flatPosition(symbol: string): Position {
  return {
    symbol,
    sizeLots: 0n,
    costTickLots: 0n,
    realisedTickLots: 0n,
    feesPaid: ZERO,
    rebatesEarned: ZERO,
    fundingPnl: ZERO,
    makerLots: 0n,
    takerLots: 0n,
    tradeCount: 0,
    lastExecTime: 0,
  };
}

export class PositionError extends Error {
  override readonly name = 'PositionError';
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

function signOf(value: bigint): bigint {
  return value > 0n ? 1n : value < 0n ? -1n : 0n;
}

function applyFee(position: Position, fee: Decimal): Pick<Position, 'feesPaid' | 'rebatesEarned'> {
  if (fee.gt(ZERO)) return { feesPaid: position.feesPaid.plus(fee), rebatesEarned: position.rebatesEarned };
  return { feesPaid: position.feesPaid, rebatesEarned: position.rebatesEarned.minus(fee) };
}

/** The position after one trade. Pure; does not check for duplicates (ExecutionLedger does). */
export function applyTrade(position: Position, trade: TradeExecution): Position {
  if (trade.symbol !== position.symbol) throw new PositionError(`execution ${trade.execId} is for ${trade.symbol}, position is ${position.symbol}`);
  if (trade.qtyLots <= 0) throw new PositionError(`execution ${trade.execId} has no quantity`);
  const signedQty = BigInt(sideSign(trade.side)) * BigInt(trade.qtyLots);
  const price = BigInt(trade.priceTicks);
  let { sizeLots, costTickLots, realisedTickLots } = position;

  if (sizeLots === 0n || signOf(sizeLots) === signOf(signedQty)) {
    sizeLots += signedQty;
    costTickLots += signedQty * price;
  } else {
    const closeLots = abs(signedQty) < abs(sizeLots) ? abs(signedQty) : abs(sizeLots);
    // BigInt division truncates towards zero; what is not moved out stays in the open cost.
    const closedCost = (costTickLots * closeLots) / abs(sizeLots);
    realisedTickLots += signOf(sizeLots) * closeLots * price - closedCost;
    costTickLots -= closedCost;
    sizeLots += signedQty;
    // Flipped through zero: the whole old cost was closed above; the rest of the fill opens the new side.
    if (signOf(sizeLots) === signOf(signedQty)) costTickLots = sizeLots * price;
  }

  return {
    ...position,
    ...applyFee(position, trade.fee),
    sizeLots,
    costTickLots,
    realisedTickLots,
    makerLots: position.makerLots + (trade.isMaker ? BigInt(trade.qtyLots) : 0n),
    takerLots: position.takerLots + (trade.isMaker ? 0n : BigInt(trade.qtyLots)),
    tradeCount: position.tradeCount + 1,
    lastExecTime: Math.max(position.lastExecTime, trade.execTime),
  };
}

export function applyFunding(position: Position, funding: FundingExecution): Position {
  if (funding.symbol !== position.symbol) throw new PositionError(`execution ${funding.execId} is for ${funding.symbol}, position is ${position.symbol}`);
  return {
    ...position,
    fundingPnl: position.fundingPnl.minus(funding.fee),
    lastExecTime: Math.max(position.lastExecTime, funding.execTime),
  };
}

export function applyExecution(position: Position, execution: Execution): Position {
  return execution.kind === 'trade' ? applyTrade(position, execution) : applyFunding(position, execution);
}

// ---- valuation, in the settle coin ----

export function positionQty(position: Position, instrument: Instrument): Decimal {
  return dec(position.sizeLots).times(instrument.qtyStep);
}

export function realisedPnl(position: Position, instrument: Instrument): Decimal {
  return dec(position.realisedTickLots).times(instrument.tickLotValue);
}

/** Mark-to-market of the open part at `markPrice` (any decimal: Bybit's mark price need not be on the tick grid). */
export function unrealisedPnl(position: Position, instrument: Instrument, markPrice: Decimal): Decimal {
  return positionQty(position, instrument).times(markPrice).minus(dec(position.costTickLots).times(instrument.tickLotValue));
}

/** Average entry price of the open part; undefined when flat. Rounded to 30 decimals by division. */
export function averageEntryPrice(position: Position, instrument: Instrument): Decimal | undefined {
  if (position.sizeLots === 0n) return undefined;
  return dec(position.costTickLots).times(instrument.tickSize).div(dec(position.sizeLots));
}

/** Rebate-first PnL breakdown: trading PnL, fees, rebates and funding kept apart, and their net. */
export interface PnlBreakdown {
  readonly realised: Decimal;
  readonly unrealised: Decimal;
  readonly feesPaid: Decimal;
  readonly rebatesEarned: Decimal;
  readonly funding: Decimal;
  readonly net: Decimal;
}

export function pnlBreakdown(position: Position, instrument: Instrument, markPrice: Decimal): PnlBreakdown {
  const realised = realisedPnl(position, instrument);
  const unrealised = unrealisedPnl(position, instrument, markPrice);
  return {
    realised,
    unrealised,
    feesPaid: position.feesPaid,
    rebatesEarned: position.rebatesEarned,
    funding: position.fundingPnl,
    net: realised.plus(unrealised).minus(position.feesPaid).plus(position.rebatesEarned).plus(position.fundingPnl),
  };
}

/**
 * Positions of one account, with every execution applied exactly once by execId. Deterministic and free
 * of I/O; the only state beyond the positions is the set of execIds seen. That set grows with the fills of
 * a process's life (tens of bytes each); durable, bounded de-duplication across restarts belongs to the
 * fills table, keyed by execId.
 */
export class ExecutionLedger {
  private readonly positions = new Map<string, Position>();
  private readonly seenExecIds = new Set<string>();

  /** Applies the execution unless its execId was applied before. */
  apply(execution: Execution): { readonly applied: boolean; readonly position: Position } {
    const current = this.position(execution.symbol);
    if (this.seenExecIds.has(execution.execId)) return { applied: false, position: current };
    const next = applyExecution(current, execution);
    this.seenExecIds.add(execution.execId);
    this.positions.set(execution.symbol, next);
    return { applied: true, position: next };
  }

  has(execId: string): boolean {
    return this.seenExecIds.has(execId);
  }

  /**
   * Carries on from a stored position (a restart): `appliedExecIds` are executions it already counts, which
   * a backfill will deliver again. Only before the symbol's first execution of this life.
   */
  restore(positions: readonly Position[], appliedExecIds: Iterable<string>): void {
    for (const position of positions) {
      if (this.positions.has(position.symbol)) throw new PositionError(`position of ${position.symbol} is already in use; restore it before any execution`);
      this.positions.set(position.symbol, position);
    }
    for (const execId of appliedExecIds) this.seenExecIds.add(execId);
  }

  position(symbol: string): Position {
    return this.positions.get(symbol) ?? flatPosition(symbol);
  }

  symbols(): string[] {
    return [...this.positions.keys()];
  }
}
