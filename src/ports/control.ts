/**
 * Ports of the control plane: where the control state lives (src/adapters/dynamodb/control-store.ts) and
 * how trading is stopped at the venue without the engine (src/adapters/bybit/venue-canceller.ts).
 */
import type { AuditItem, ControlChange, ControlState } from '../core/control.js';

export type CommitOutcome = { readonly ok: true } | { readonly ok: false; readonly current: ControlState };

export interface ControlStore {
  /** The control state, read consistently (the initial state when none was ever written). */
  read(): Promise<ControlState>;
  /**
   * Stores `change.after` and its audit record in one transaction, only if the stored version is still
   * `change.before.version`; otherwise nothing is written and the current state is returned.
   */
  commit(change: ControlChange): Promise<CommitOutcome>;
  /** The newest audit records, newest first. */
  history(limit: number): Promise<AuditItem[]>;
}

/** What a cancel at the venue achieved, per symbol. */
export interface VenueCancelReport {
  readonly symbol: string;
  readonly ok: boolean;
  /** Orders the venue said it cancelled. */
  readonly cancelled: number;
  readonly error?: string;
}

/** Cancels every open order of the account at the venue, per symbol, with a key of its own (the watchdog). */
export interface VenueCanceller {
  cancelAll(symbols: readonly string[]): Promise<VenueCancelReport[]>;
}
