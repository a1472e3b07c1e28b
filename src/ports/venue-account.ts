/**
 * Port: what the engine asks the venue besides sending orders. Reconciliation reads open orders and the
 * position; safety cancels everything and arms disconnect-cancel; quoting needs the maker fee rate.
 * src/adapters/bybit/account.ts implements it over bybit-api's REST client. Every method throws on a venue
 * error (never answers "nothing" for "could not ask"), so the caller retries instead of acting on a guess.
 */
import type { Decimal } from '../core/decimal.js';
import type { VenueOrderReport } from '../core/order.js';
import type { Side } from '../core/units.js';

export interface VenueOpenOrder {
  readonly orderLinkId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly report: VenueOrderReport;
}

export interface VenueAccount {
  /** Every open order of the symbol (all pages). */
  openOrders(symbol: string): Promise<VenueOpenOrder[]>;
  /** The signed position in lots (one-way mode): long > 0, short < 0, flat 0. */
  positionLots(symbol: string): Promise<bigint>;
  /** Cancels every open order of the symbol; resolves with how many the venue says it cancelled. */
  cancelAll(symbol: string): Promise<number>;
  /** Arms the venue's disconnect-cancel-all for derivatives with this window, in seconds. */
  armDisconnectCancel(windowSeconds: number): Promise<void>;
  /** The account's maker fee rate for the symbol, signed as Bybit signs it (negative: a rebate). */
  makerFeeRate(symbol: string): Promise<Decimal>;
}
