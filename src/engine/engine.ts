/**
 * The quoting loop of one shard: book updates in, post-only quotes out, every order tracked to a final
 * state the venue confirmed.
 *
 * Single-threaded and event-driven. Inputs are method calls from the adapters (book updates and unsyncs,
 * order reports and executions of the private stream) and a periodic `tick()`; outputs go through the
 * order path (the router) and the venue account port. Nothing here awaits the venue on the hot path: a
 * book update computes the desired quotes and fires the requests, whose answers come back as events.
 *
 * One rule drives everything, `requote(symbol)`: compare what rests with what should rest and send the
 * difference. When the symbol may not quote (not running, frozen, book or private stream not synced, not
 * reconciled, an order whose fate is unknown, the breaker open), what should rest is nothing, so the same
 * step pulls the quotes. It runs on every book update, order report, execution and answer, so the state
 * converges whatever order events arrive in.
 *
 * Safety:
 * - an order whose fate is unknown (a lost answer the router could not settle, an operation without news
 *   for too long) is queried every tick until the venue says; meanwhile its symbol does not quote;
 * - a create not found at the venue is declared never to have landed only after Bybit's recv_window has
 *   expired it (`createExpiryMs`), never before;
 * - edge collapse or drawdown freezes the engine: it cancels everything over REST and says why;
 * - an open circuit breaker stops quoting and cancels everything over REST, once per episode;
 * - `stop()` sends nothing new, lets requests in flight finish, cancels everything and checks the venue
 *   lists no open order, within the stop timeout.
 */
import { type Decimal, dec } from '../core/decimal.js';
import { type EdgeLimits, type EdgeSnapshot, EdgeMonitor, exactMid } from '../core/edge.js';
import { type Instrument, formatPrice, formatQty } from '../core/instrument.js';
import { type Order, type VenueOrderReport, createOrder, isOrderOpen, isTerminalStatus, orderStatus } from '../core/order.js';
import { type Execution, type PnlBreakdown, type Position, pnlBreakdown } from '../core/position.js';
import { type FairValueMode, type QuoteParams, type QuoteTarget, type VolatilityState, adverseQuotes, fairValue, initialVolatility, planQuotes, quoteTargets, updateVolatility } from '../core/quoting.js';
import { type OrderRequest, type RiskLimits, type RiskReason, type RiskState, checkOrder } from '../core/risk.js';
import type { Lots, Side, Ticks } from '../core/units.js';
import type { LocalBook } from '../core/book.js';
import type { Logger } from '../ports/logger.js';
import type { AmendParams, CancelParams, CreateParams } from '../ports/order-entry.js';
import type { VenueAccount, VenueOpenOrder } from '../ports/venue-account.js';
import type { BreakerState } from './breaker.js';
import { reconcile } from './reconcile.js';
import type { RouterResult, StatusQuery } from './router.js';
import { type OrderLinkIds, OrderTracker, type TrackerListener } from './tracker.js';

export interface SymbolSetup {
  readonly instrument: Instrument;
  readonly quote: QuoteParams;
  readonly limits: RiskLimits;
  readonly fairValue: FairValueMode;
  readonly volatilityHalfLifeMs: number;
  readonly refreshToleranceTicks: number;
  readonly fastCancelTicks: number;
  readonly edge: EdgeLimits;
  readonly markoutHorizonsMs: readonly number[];
}

export interface EngineSettings {
  readonly symbols: ReadonlyMap<string, SymbolSetup>;
  /** Cancel open orders at the venue that this engine does not know (reconciliation). */
  readonly cancelUnknownOrders: boolean;
  readonly dcpWindowSeconds: number;
  readonly stopTimeoutMs: number;
  /** A create not found at the venue this long after it was sent can no longer land (Bybit's recv_window). */
  readonly createExpiryMs: number;
  /** An operation without news for this long is queried. */
  readonly stuckAfterMs: number;
  /** Closed orders are forgotten this long after their last report. */
  readonly retainClosedMs: number;
}

/** The order router's interface, as the engine uses it. */
export interface OrderPath {
  create(params: CreateParams): Promise<RouterResult>;
  amend(params: AmendParams): Promise<RouterResult>;
  cancel(params: CancelParams): Promise<RouterResult>;
  amendBatch(params: readonly AmendParams[]): Promise<RouterResult[]>;
  cancelBatch(params: readonly CancelParams[]): Promise<RouterResult[]>;
}

/**
 * What the engine sends, and on which book: for metrics, and for tests that check the engine from outside.
 * Reported just before the requests go to the router.
 */
export interface OrdersSentEvent {
  readonly kind: 'create' | 'amend' | 'cancel';
  readonly symbol: string;
  readonly orderLinkIds: readonly string[];
  readonly at: number;
  readonly bookSynced: boolean;
  /** The venue's timestamp of the last book message applied (ms), if any. */
  readonly bookVenueTs: number | undefined;
}

export interface EngineObserver {
  onOrdersSent?(event: OrdersSentEvent): void;
}

export interface EngineDeps {
  readonly settings: EngineSettings;
  readonly router: OrderPath;
  readonly breakerState: (now: number) => BreakerState;
  readonly query: StatusQuery;
  readonly account: VenueAccount;
  readonly ids: OrderLinkIds;
  /** Re-reads the private stream's executions over REST (before a position difference is believed). */
  readonly backfill: () => Promise<void>;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: Logger;
  readonly observer?: EngineObserver;
  /** Where state changes are written behind the loop (DynamoDB, EventBridge); none keeps state in memory only. */
  readonly journal?: EngineJournal;
  /**
   * Told when the engine freezes itself (edge collapse, drawdown), so that the freeze is written to the
   * control plane, where operators see it and lift it (applyControl then lifts it here too).
   */
  readonly onSelfFreeze?: (reason: string, detail: string) => void;
  /**
   * The shard's lease, as the engine checks it on every decision: why this generation may not trade now
   * (the lease is lost, or about to run out unrenewed: a process paused past its expiry must not send a
   * single order when it wakes, before its renewal timer has had a chance to notice).
   */
  readonly lease?: { blocker(now: number): string | undefined };
}

/** The control plane's freeze, as it applies to this engine's symbols now (src/core/control.ts). */
export interface ControlView {
  /** The control state's version; an older view than the last applied is ignored. */
  readonly version: number;
  /** This engine's symbols frozen now (a pause past its resume time is not). */
  readonly frozenSymbols: readonly string[];
  /** Why, for the blockers and the logs. */
  readonly reason: string | undefined;
}

/** The write-behind, as the engine sees it: it is told every change, and it may forbid quoting (lagging writes). */
export interface EngineJournal extends TrackerListener {
  /** Why the engine must not quote now, if it must not; cheap enough to ask on every book update. */
  blocker(now: number): string | undefined;
}

/** State read back from the store at start, before the private stream's first backfill. */
export interface RestoredState {
  readonly positions: readonly Position[];
  /** Executions the stored positions count already; the backfill delivers some of them again. */
  readonly appliedExecIds: Iterable<string>;
  readonly orders: readonly { readonly order: Order; readonly level: number | undefined }[];
  /** This shard's orders that traded (executions at the venue) but are not stored: their final state is asked for at start. */
  readonly unstoredTradedOrders?: readonly { readonly orderLinkId: string; readonly symbol: string; readonly side: Side }[];
  /** This shard's orders the venue reports closed that are not stored, with their final state. */
  readonly unstoredClosedOrders?: readonly VenueOpenOrder[];
}

/** An order report from the private stream or a query, with what the engine needs to place it. */
export type VenueOrderUpdate = VenueOpenOrder;

export type EnginePhase = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface FreezeState {
  readonly reason: string;
  readonly detail: string;
  readonly at: number;
}

export interface ReconciliationReport {
  readonly at: number;
  readonly findings: readonly string[];
  readonly cancelledUnknown: number;
  readonly adopted: number;
  readonly queried: number;
  readonly positionMismatchLots: bigint;
}

export interface SymbolStatus {
  readonly symbol: string;
  readonly quoting: boolean;
  readonly blockers: readonly string[];
  readonly bestBid: string | undefined;
  readonly bestAsk: string | undefined;
  readonly mid: Decimal | undefined;
  readonly ourBid: string | undefined;
  readonly ourAsk: string | undefined;
  readonly openOrders: number;
  readonly position: Decimal;
  /** Position the venue holds beyond what this engine's executions explain (taken at reconciliation). */
  readonly untrackedPosition: Decimal;
  readonly fills: number;
  readonly makerShare: number | undefined;
  readonly pnl: PnlBreakdown | undefined;
  readonly edge: EdgeSnapshot;
  readonly reconciliation: ReconciliationReport | undefined;
}

/**
 * The account as the venue last reported it (wallet stream, or the wallet read of each backfill): decimals
 * as the venue wrote them, in the settle coin. For operators; the engine's own limits are per symbol.
 */
export interface WalletStatus {
  readonly equity: string;
  readonly walletBalance: string;
  readonly availableBalance: string;
  readonly initialMargin: string;
  readonly maintenanceMargin: string;
  /** Maintenance margin over margin balance: Bybit liquidates the account at 1 (100%). */
  readonly maintenanceMarginRate: string;
  /** When the engine received it (its clock). */
  readonly receivedAt: number;
}

export interface EngineStatus {
  readonly phase: EnginePhase;
  readonly frozen: FreezeState | undefined;
  /** The control plane's freeze as applied: its version and the symbols it freezes here. */
  readonly control: { readonly version: number; readonly frozenSymbols: readonly string[]; readonly reason: string | undefined };
  /** Why this generation may no longer trade (it lost the shard's lease), if so. */
  readonly fenced: string | undefined;
  readonly privateStreamSynced: boolean;
  readonly wallet: WalletStatus | undefined;
  readonly breaker: BreakerState;
  readonly unknownOrders: number;
  readonly symbols: readonly SymbolStatus[];
  readonly counters: {
    readonly sent: Readonly<Record<'create' | 'amend' | 'cancel', number>>;
    readonly riskRefusals: Readonly<Partial<Record<RiskReason, number>>>;
    readonly venueRejections: Readonly<Record<string, number>>;
    readonly postOnlyRepriced: number;
    readonly illegalTransitions: Readonly<Record<string, number>>;
    readonly foreignOrders: number;
    readonly malformed: Readonly<Record<string, number>>;
  };
}

export interface StopReport {
  readonly clean: boolean;
  readonly remainingOpenOrders: number;
  readonly elapsedMs: number;
}

interface SymbolState {
  readonly symbol: string;
  readonly setup: SymbolSetup;
  readonly edge: EdgeMonitor;
  book: LocalBook | undefined;
  bookSynced: boolean;
  bookIssue: string;
  volatility: VolatilityState;
  fair: number | undefined;
  reconciled: boolean;
  report: ReconciliationReport | undefined;
  positionOffsetLots: bigint;
  /** The venue's position as its position stream last said, and since when ours has differed from it. */
  venuePositionLots: bigint | undefined;
  positionDiffersSince: number | undefined;
}

interface UnknownOrder {
  readonly symbol: string;
  /** When a request for it was last sent: a create cannot land after createExpiryMs from then. */
  readonly lastSentAt: number;
}

/** Bybit's reason for cancelling a post-only order that would have taken liquidity: re-price, not an error. */
const POST_ONLY_CANCEL = 'EC_PostOnlyWillTakeLiquidity';
/** Bybit: order does not exist, or is too late to amend or cancel (it finished). */
const ORDER_GONE = new Set([110001, 110008, 170213]);
const MAX_QUERIES_PER_TICK = 20;
/** Unstored traded orders asked for at a start, at most (each is one status query). */
const MAX_UNSTORED_QUERIES = 50;
/** Tries of each final-state query on stop, and the pause before the next (times the attempt), ms. */
const FINAL_QUERY_ATTEMPTS = 3;
const FINAL_QUERY_RETRY_MS = 200;
const UNSTORED_QUERY_GAP_MS = 100;
const REFUSED_CREATE_HOLD_MS = 1_000;
const BACKFILL_RETRY_AFTER_MS = 2_000;
const POSITION_GRACE_MS = 3_000;
/** On stop, how long the order stream has to report the cancellations before they are queried. */
const FINAL_REPORTS_WAIT_MS = 1_000;

export class Engine {
  readonly tracker: OrderTracker;
  private phase: EnginePhase = 'created';
  private frozen: FreezeState | undefined;
  /** The control version applied when the engine froze itself: a later version lifting every freeze lifts this one too. */
  private frozenAtControlVersion = 0;
  private control: { version: number; frozen: ReadonlySet<string>; reason: string | undefined } = { version: -1, frozen: new Set(), reason: undefined };
  /** Set once the lease is lost: nothing account-wide is sent any more, since another generation may own the orders. */
  private fenced: string | undefined;
  private privateSynced = false;
  private wallet: WalletStatus | undefined;
  private readonly symbols = new Map<string, SymbolState>();
  private readonly unknown = new Map<string, UnknownOrder>();
  /** When each order's last request went out: an operation without news for too long is queried. */
  private readonly lastActionAt = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Send times of creates and amends, for the orders-per-second budget. */
  private readonly sentTimes: number[] = [];
  private readonly sent = { create: 0, amend: 0, cancel: 0 };
  private readonly riskRefusals = new Map<RiskReason, number>();
  private readonly venueRejections = new Map<string, number>();
  private readonly malformed = new Map<string, number>();
  private postOnlyRepriced = 0;
  private foreignOrders = 0;
  /** Symbols whose cancel-all over REST is owed (a freeze, an open breaker) and not yet done. */
  private readonly cancelAllOwed = new Set<string>();
  /** Symbols with a requote due on the next turn of the event loop. */
  private readonly requoteScheduled = new Set<string>();
  /** Slots that wait before a new order (see held()). */
  private readonly holds = new Map<string, { sameBookU: number | undefined; until: number }>();
  /** Orders with a request inside the router: not stuck, however long the router takes. */
  private readonly busy = new Map<string, number>();
  private breakerEpisode = false;
  private reconciling: Promise<void> | undefined;
  private backfilling: Promise<void> | undefined;
  /** Since when the private stream is unsynced (undefined while synced). */
  private privateUnsyncedAt: number | undefined;
  private querying: Promise<void> | undefined;
  private stopping: Promise<StopReport> | undefined;
  /** Orders of earlier generations known only from their executions, to be stored with their final state. */
  private unstoredTraded: readonly { readonly orderLinkId: string; readonly symbol: string; readonly side: Side }[] = [];

  constructor(private readonly deps: EngineDeps) {
    this.tracker = new OrderTracker(deps.journal);
    for (const [symbol, setup] of deps.settings.symbols) {
      this.symbols.set(symbol, {
        symbol,
        setup,
        edge: new EdgeMonitor(setup.instrument, setup.markoutHorizonsMs, setup.edge),
        book: undefined,
        bookSynced: false,
        bookIssue: 'no order book yet',
        volatility: initialVolatility(),
        fair: undefined,
        reconciled: false,
        report: undefined,
        positionOffsetLots: 0n,
        venuePositionLots: undefined,
        positionDiffersSince: undefined,
      });
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Carries on from the stored state (a restart): positions with the executions they count, and the orders
   * stored as open. Reconciliation then checks every one of them with the venue, as after any start.
   */
  restore(state: RestoredState): void {
    if (this.phase !== 'created' || this.privateSynced) throw new Error('restore before the private stream and the engine start');
    const appliedExecIds = [...state.appliedExecIds];
    this.tracker.restorePositions(state.positions.filter((position) => this.symbols.has(position.symbol)), appliedExecIds);
    let orders = 0;
    for (const { order, level } of state.orders) {
      const setup = this.symbols.get(order.intent.symbol)?.setup;
      if (!setup) continue;
      const slot = level !== undefined && level < setup.quote.levels ? { symbol: order.intent.symbol, side: order.intent.side, level } : undefined;
      this.tracker.restore(order, slot);
      orders += 1;
    }
    const closed = (state.unstoredClosedOrders ?? []).filter((entry) => this.symbols.has(entry.symbol));
    for (const entry of closed) {
      const symbolState = this.symbols.get(entry.symbol);
      if (symbolState) this.recordEarlierOrder(symbolState, entry);
    }
    // Those known closed need no question.
    this.unstoredTraded = (state.unstoredTradedOrders ?? []).filter((entry) => this.symbols.has(entry.symbol) && !this.tracker.get(entry.orderLinkId));
    this.deps.logger.info('restored the stored state', { positions: state.positions.length, orders, executionsCounted: appliedExecIds.length, unstoredTradedOrders: this.unstoredTraded.length, unstoredClosedOrders: closed.length });
  }

  /**
   * Arms disconnect-cancel, reconciles every symbol with the venue, then quotes. The private stream must
   * have delivered its first backfill (onPrivateSynced) so that positions are complete.
   */
  async start(): Promise<void> {
    if (this.phase !== 'created') throw new Error(`the engine cannot start from ${this.phase}`);
    if (!this.privateSynced) throw new Error('start the private stream (and its backfill) before the engine');
    this.phase = 'starting';
    // Retried: right after another generation's start, the endpoint's quota (5 a second) may be spent.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.account.armDisconnectCancel(this.deps.settings.dcpWindowSeconds);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        this.deps.logger.warn('arming disconnect-cancel failed; retrying', { attempt, error: describe(error) });
        await this.deps.sleep(250 * 2 ** attempt);
      }
    }
    this.deps.logger.info('disconnect-cancel armed', { windowSeconds: this.deps.settings.dcpWindowSeconds });
    await this.reconcileAll();
    // stop() may have been called while reconciling.
    if ((this.phase as EnginePhase) !== 'starting') return;
    this.phase = 'running';
    // In the background, paced: it completes the stored history and has no bearing on what may trade.
    const recording = this.recordUnstoredTraded();
    this.inFlight.add(recording);
    void recording.finally(() => this.inFlight.delete(recording));
    this.deps.logger.info('quoting', { symbols: [...this.symbols.keys()] });
    for (const state of this.symbols.values()) this.requote(state);
  }

  /**
   * Orders an earlier generation sent and never stored, which traded and closed before this one watched:
   * each is asked for once (a bounded number per start), so the journal stores it with its final state.
   * One that is still open was reconciliation's to decide; one the venue no longer answers for is logged.
   */
  private async recordUnstoredTraded(): Promise<void> {
    const { query, logger } = this.deps;
    const wanted = this.unstoredTraded.slice(0, MAX_UNSTORED_QUERIES);
    if (this.unstoredTraded.length > wanted.length) logger.warn('more unstored traded orders than are asked for at a start; the rest stay unstored', { left: this.unstoredTraded.length - wanted.length });
    this.unstoredTraded = [];
    for (const { orderLinkId, symbol, side } of wanted) {
      // Paced well within the venue's per-endpoint limits, which the quoting shares.
      await this.deps.sleep(UNSTORED_QUERY_GAP_MS);
      if (this.phase !== 'running') return;
      const state = this.symbols.get(symbol);
      if (!state || this.tracker.get(orderLinkId)) continue;
      try {
        const report = await query(symbol, orderLinkId);
        if (report && isTerminalStatus(report.status)) this.recordEarlierOrder(state, { orderLinkId, symbol, side, report });
        else if (!report) logger.warn('an unstored order that traded is unknown to the venue', { symbol, orderLinkId });
      } catch (error) {
        logger.warn('asking for an unstored order that traded failed; it stays unstored', { symbol, orderLinkId, error: describe(error) });
      }
    }
  }

  /** Stops quoting, cancels everything and waits for the venue to list no open order, within the stop timeout. */
  stop(reason: string): Promise<StopReport> {
    this.stopping ??= this.stopNow(reason);
    return this.stopping;
  }

  private async stopNow(reason: string): Promise<StopReport> {
    const { clock, account, sleep, logger, settings } = this.deps;
    const startedAt = clock();
    const deadline = startedAt + settings.stopTimeoutMs;
    this.phase = 'stopping';
    logger.info('stopping', { reason, openOrders: this.totalOpenOrders(), stopTimeoutMs: settings.stopTimeoutMs });
    // Answers in flight settle first, so a create cannot land after the cancel-all; bounded by half the budget.
    const settleBy = startedAt + settings.stopTimeoutMs / 2;
    while (this.inFlight.size > 0 && clock() < settleBy) await sleep(20);
    let remaining = Number.NaN;
    if (this.fenced !== undefined) {
      // Another generation holds the shard: a cancel-all would cancel its orders too. Only our own go,
      // one by one through the router (requote cancels what rests while stopping).
      while (clock() < deadline) {
        for (const state of this.symbols.values()) this.requote(state);
        remaining = this.totalOpenOrders();
        if (remaining === 0) break;
        await sleep(50);
      }
      this.phase = 'stopped';
      const report: StopReport = { clean: remaining === 0, remainingOpenOrders: remaining, elapsedMs: clock() - startedAt };
      logger.warn('stopped after losing the lease: own orders cancelled one by one, no cancel-all', { ...report });
      return report;
    }
    while (clock() < deadline) {
      try {
        // Counted only from a pass the venue answered in full: a failed pass proves nothing.
        let open = 0;
        for (const symbol of this.symbols.keys()) {
          await account.cancelAll(symbol);
          open += (await account.openOrders(symbol)).length;
        }
        remaining = open;
        if (remaining === 0) break;
      } catch (error) {
        logger.warn('cancel-all on stop failed; retrying', { error: describe(error) });
      }
      await sleep(Math.min(250, Math.max(0, deadline - clock())));
    }
    if (remaining === 0) {
      await this.settleFinalStates(deadline);
      // A fill just before the cancel-all may have its execution message still on the way when the
      // connections close: read the executions once more, so that what is kept ends complete.
      try {
        await this.deps.backfill();
      } catch (error) {
        logger.warn('the last execution backfill on stop failed; the next start backfills from the stored state', { error: describe(error) });
      }
    }
    this.phase = 'stopped';
    const report: StopReport = { clean: remaining === 0, remainingOpenOrders: Number.isNaN(remaining) ? -1 : remaining, elapsedMs: clock() - startedAt };
    if (report.clean) logger.info('stopped: no open orders at the venue', { ...report });
    else logger.error('stopped with orders possibly open at the venue; disconnect-cancel will remove them', { ...report });
    return report;
  }

  /**
   * The venue lists nothing open: each order still open here learns its final state, from the order
   * stream (a moment behind the cancel-all's answer) or else from a status query, so that what is kept
   * (the journal) ends with the venue's final word rather than a stale "open".
   */
  private async settleFinalStates(deadline: number): Promise<void> {
    const { clock, sleep, query, logger } = this.deps;
    const streamBy = Math.min(deadline, clock() + FINAL_REPORTS_WAIT_MS);
    while (this.totalOpenOrders() > 0 && clock() < streamBy) await sleep(20);
    for (const symbol of this.symbols.keys()) {
      for (const order of this.tracker.openOrders(symbol).slice(0, MAX_QUERIES_PER_TICK)) {
        // A refused query (the endpoint's quota spent, on a busy stop) is tried again while time allows.
        for (let attempt = 1; attempt <= FINAL_QUERY_ATTEMPTS; attempt++) {
          if (clock() >= deadline) return;
          try {
            const report = await query(symbol, order.intent.orderLinkId);
            if (report) this.tracker.onVenueReport(order.intent.orderLinkId, report);
            break;
          } catch (error) {
            logger.debug('final-state query failed on stop', { orderLinkId: order.intent.orderLinkId, attempt, error: describe(error) });
            if (attempt < FINAL_QUERY_ATTEMPTS) await sleep(Math.min(FINAL_QUERY_RETRY_MS * attempt, Math.max(0, deadline - clock())));
          }
        }
      }
    }
  }

  /**
   * Freezes quoting and cancels everything over REST (edge collapse, drawdown). The freeze is handed to
   * the control plane (onSelfFreeze), where only an operator lifts it.
   */
  freeze(reason: string, detail: string): void {
    if (this.frozen) return;
    this.frozen = { reason, detail, at: this.deps.clock() };
    this.frozenAtControlVersion = this.control.version;
    this.deps.logger.error('frozen: quoting stopped, cancelling everything', { reason, detail });
    for (const symbol of this.symbols.keys()) this.cancelAllOwed.add(symbol);
    this.settleOwedCancelAlls();
    this.deps.onSelfFreeze?.(reason, detail);
  }

  /**
   * Applies the control plane's freeze: newly frozen symbols stop quoting and are cancelled over REST;
   * newly unfrozen ones are reconciled with the venue before they quote again. A view older than the one
   * applied (a slow read overtaken by a newer one) changes nothing.
   */
  applyControl(view: ControlView): void {
    if (view.version < this.control.version) return;
    const before = this.control.frozen;
    const after = new Set(view.frozenSymbols.filter((symbol) => this.symbols.has(symbol)));
    this.control = { version: view.version, frozen: after, reason: view.reason };
    const { logger } = this.deps;
    for (const symbol of after) {
      if (before.has(symbol)) continue;
      logger.error('frozen by the control plane: quoting stopped, cancelling everything', { symbol, version: view.version, reason: view.reason });
      this.cancelAllOwed.add(symbol);
    }
    this.settleOwedCancelAlls();
    for (const symbol of before) {
      const state = this.symbols.get(symbol);
      if (after.has(symbol) || !state) continue;
      logger.warn('unfrozen by the control plane: reconciling, then quoting', { symbol, version: view.version });
      state.reconciled = false;
    }
    // The self-freeze went to the control plane; a later version that freezes nothing here lifted it.
    if (this.frozen && after.size === 0 && view.version > this.frozenAtControlVersion) this.unfreeze(`control version ${view.version}`);
    for (const state of this.symbols.values()) this.requote(state);
  }

  /**
   * The shard's lease is lost (a renewal refused, or it ran out): another generation may be trading. Quoting
   * stops and this generation's own orders are cancelled one by one; nothing account-wide is sent again.
   */
  fence(detail: string): void {
    if (this.fenced !== undefined) return;
    this.fenced = detail;
    this.cancelAllOwed.clear();
    this.deps.logger.error('lease lost: quoting stopped, cancelling our own orders', { detail, openOrders: this.totalOpenOrders() });
    for (const state of this.symbols.values()) this.requote(state);
  }

  unfreeze(by: string): void {
    if (!this.frozen) return;
    this.deps.logger.warn('unfrozen', { by, was: this.frozen });
    this.frozen = undefined;
    for (const state of this.symbols.values()) {
      // The drawdown that froze it is acknowledged: measured again from here, or the next tick re-freezes.
      state.edge.resetPeak();
      this.requote(state);
    }
  }

  // ---------------------------------------------------------------- market data

  onBook(symbol: string, book: LocalBook, receivedAt: number): void {
    const state = this.symbols.get(symbol);
    if (!state) return;
    state.book = book;
    state.bookSynced = true;
    const fair = fairValue(book, state.setup.fairValue);
    state.fair = fair;
    if (fair !== undefined) {
      state.volatility = updateVolatility(state.volatility, fair, receivedAt, state.setup.volatilityHalfLifeMs);
      if (state.edge.awaitingMarkouts) {
        const mid = this.mid(state);
        if (mid) state.edge.observeMid(receivedAt, mid);
      }
    }
    this.requote(state);
  }

  onBookUnsynced(symbol: string, reason: string, detail: string): void {
    const state = this.symbols.get(symbol);
    if (!state) return;
    state.bookSynced = false;
    state.bookIssue = `book ${reason}: ${detail}`;
    this.deps.logger.warn('order book untrusted; pulling quotes', { symbol, reason, detail });
    this.requote(state);
  }

  // ---------------------------------------------------------------- private stream

  onOrderUpdate(update: VenueOrderUpdate): void {
    const state = this.symbols.get(update.symbol);
    if (!state) return;
    const outcome = this.tracker.onVenueReport(update.orderLinkId, update.report);
    if (outcome.kind === 'foreign') {
      this.onForeignOrder(state, update);
      return;
    }
    if (outcome.kind === 'illegal') {
      this.markUnknown(update.orderLinkId, update.symbol, `report refused by the state machine: ${outcome.error.message}`);
      this.requote(state);
      return;
    }
    if (outcome.kind === 'applied' && update.report.status === 'Cancelled' && update.report.rejectReason === POST_ONLY_CANCEL) {
      // The price would have taken liquidity: re-price on the next book, not on this one.
      this.postOnlyRepriced += 1;
      this.hold(update.orderLinkId, true, 0);
    }
    // A final report settles an unknown order as well as a query would.
    if (isTerminalStatus(update.report.status) && this.unknown.delete(update.orderLinkId)) this.lastActionAt.delete(update.orderLinkId);
    this.requote(state);
  }

  onExecution(execution: Execution): void {
    const state = this.symbols.get(execution.symbol);
    if (!state) return;
    const { applied, position } = this.tracker.onExecution(execution);
    if (!applied) return;
    this.comparePosition(state);
    if (execution.kind === 'trade') {
      const now = this.deps.clock();
      const mid = this.mid(state) ?? dec(BigInt(execution.priceTicks)).times(state.setup.instrument.tickSize);
      state.edge.recordFill({ execId: execution.execId, side: execution.side, priceTicks: execution.priceTicks, qtyLots: execution.qtyLots, fee: execution.fee, midAtFill: mid, time: now });
      state.edge.observeNetPnl(pnlBreakdown(position, state.setup.instrument, mid).net);
      this.checkEdge(state);
    }
    this.requote(state);
  }

  /**
   * The venue's position stream: a cross-check. The position and execution messages travel apart, so a
   * difference is believed only if it lasts (POSITION_GRACE_MS); then the symbol is reconciled again.
   */
  /** The account's balances and margin changed (they do not move the engine's positions or limits). */
  onWallet(wallet: Omit<WalletStatus, 'receivedAt'>): void {
    this.wallet = { ...wallet, receivedAt: this.deps.clock() };
  }

  onVenuePosition(symbol: string, venueLots: bigint): void {
    const state = this.symbols.get(symbol);
    if (!state) return;
    state.venuePositionLots = venueLots;
    this.comparePosition(state);
  }

  private comparePosition(state: SymbolState): void {
    if (state.venuePositionLots === undefined || state.venuePositionLots === this.positionLots(state)) state.positionDiffersSince = undefined;
    else state.positionDiffersSince ??= this.deps.clock();
  }

  /** The private stream may have missed messages: positions are untrusted until it is backfilled. */
  onPrivateUnsynced(reason: string): void {
    this.privateSynced = false;
    this.privateUnsyncedAt ??= this.deps.clock();
    this.deps.logger.warn('private stream unsynced; pulling quotes until reconciled', { reason });
    for (const state of this.symbols.values()) {
      state.reconciled = false;
      this.requote(state);
    }
  }

  onPrivateSynced(executionsBackfilled: number): void {
    this.privateSynced = true;
    this.privateUnsyncedAt = undefined;
    this.deps.logger.info('private stream synced', { executionsBackfilled });
    if (this.phase === 'running') void this.reconcileAll();
  }

  onMalformed(source: string, detail: string): void {
    this.malformed.set(source, (this.malformed.get(source) ?? 0) + 1);
    this.deps.logger.warn('malformed venue message dropped', { source, detail });
  }

  // ---------------------------------------------------------------- the periodic tick

  /** Housekeeping, once a second or so: unknown orders, owed cancel-alls, breaker, edge, reconciliation. */
  tick(): void {
    const now = this.deps.clock();
    if (this.phase === 'stopped') return;
    const breaker = this.deps.breakerState(now);
    if (breaker === 'open' && !this.breakerEpisode) {
      this.breakerEpisode = true;
      this.deps.logger.error('circuit breaker open: quoting stopped, cancelling everything over REST');
      for (const symbol of this.symbols.keys()) this.cancelAllOwed.add(symbol);
    } else if (breaker !== 'open') this.breakerEpisode = false; // half-open quotes again: a re-open is a new episode
    this.settleOwedCancelAlls();
    this.findStuckOrders(now);
    this.scheduleQueries();
    if (this.phase === 'running' && this.privateSynced && [...this.symbols.values()].some((state) => !state.reconciled)) void this.reconcileAll();
    this.retryBackfill(now);
    for (const state of this.symbols.values()) {
      if (state.positionDiffersSince !== undefined && now - state.positionDiffersSince > POSITION_GRACE_MS && state.reconciled) {
        this.deps.logger.warn('position differs from the venue\'s position stream; reconciling', { symbol: state.symbol, venueLots: state.venuePositionLots, ourLots: this.positionLots(state) });
        state.positionDiffersSince = undefined;
        state.reconciled = false;
      }
      const mid = this.mid(state);
      if (mid) {
        state.edge.observeNetPnl(pnlBreakdown(this.tracker.position(state.symbol), state.setup.instrument, mid).net);
        this.checkEdge(state);
      }
      this.requote(state);
    }
    this.tracker.prune(now - this.deps.settings.retainClosedMs);
    for (const orderLinkId of this.lastActionAt.keys()) {
      const order = this.tracker.get(orderLinkId);
      if (!order || !isOrderOpen(order)) this.lastActionAt.delete(orderLinkId);
    }
  }

  /**
   * A backfill that failed (the venue refusing or erroring just after a reconnect) leaves the private
   * stream unsynced, and nothing else would try again: after a grace period each tick asks for another.
   */
  private retryBackfill(now: number): void {
    if (this.phase !== 'running' || this.privateSynced || this.backfilling) return;
    if (this.privateUnsyncedAt === undefined || now - this.privateUnsyncedAt < BACKFILL_RETRY_AFTER_MS) return;
    this.privateUnsyncedAt = now;
    this.backfilling = Promise.resolve()
      .then(() => this.deps.backfill())
      .catch((error: unknown) => {
        this.deps.logger.warn('private-stream backfill failed; trying again', { error: describe(error) });
      })
      .finally(() => {
        this.backfilling = undefined;
      });
  }

  // ---------------------------------------------------------------- the quoting rule

  /** Why the symbol may not quote now; empty when it may. */
  blockers(state: SymbolState, now: number): string[] {
    const reasons: string[] = [];
    if (this.phase !== 'running') reasons.push(`engine ${this.phase}`);
    if (this.frozen) reasons.push(`frozen (${this.frozen.reason})`);
    if (this.control.frozen.has(state.symbol)) reasons.push(`frozen by the control plane (version ${this.control.version}: ${this.control.reason ?? 'no reason given'})`);
    const lease = this.leaseIssue(now);
    if (lease !== undefined) reasons.push(lease);
    if (!this.privateSynced) reasons.push('private stream not synced');
    if (!state.reconciled) reasons.push('not reconciled');
    if (!state.bookSynced) reasons.push(state.bookIssue);
    else if (state.fair === undefined) reasons.push('no two-sided book');
    if (this.unknownOf(state.symbol) > 0) reasons.push('an order whose state is unknown');
    if (this.deps.breakerState(now) === 'open') reasons.push('circuit breaker open');
    const stateWrites = this.deps.journal?.blocker(now);
    if (stateWrites !== undefined) reasons.push(stateWrites);
    return reasons;
  }

  private requote(state: SymbolState): void {
    // While starting, reconciliation owns the orders (adopted ones must not be pulled before quoting begins).
    if (this.phase === 'created' || this.phase === 'starting' || this.phase === 'stopped') return;
    const now = this.deps.clock();
    // With the breaker open nothing goes through the router; the cancel-all over REST takes care of it.
    if (this.deps.breakerState(now) === 'open') return;
    const { tracker } = this;
    const cancels = new Map<string, Order>();
    for (const order of tracker.surplusOrders(state.symbol)) if (this.cancellable(order)) cancels.set(order.intent.orderLinkId, order);
    const blocked = this.blockers(state, now).length > 0;
    const book = state.book;
    const fair = state.fair;
    if (blocked || !book || fair === undefined) {
      for (const order of tracker.openOrders(state.symbol)) if (this.cancellable(order)) cancels.set(order.intent.orderLinkId, order);
      this.sendCancels(state, [...cancels.values()]);
      return;
    }

    const { setup } = state;
    const resting = tracker.restingQuotes(state.symbol);
    const adverse = new Set(adverseQuotes(resting, fair, setup.fastCancelTicks).map((quote) => quote.orderLinkId));
    const positionLots = this.positionLots(state);
    const targets = quoteTargets({ instrument: setup.instrument, fair, volatility: state.volatility, positionLots: Number(positionLots), bestBid: book.bestBid(), bestAsk: book.bestAsk(), params: setup.quote });
    const plan = planQuotes(targets, resting.filter((quote) => !adverse.has(quote.orderLinkId)), setup.refreshToleranceTicks);
    for (const orderLinkId of [...adverse, ...plan.cancel.map((quote) => quote.orderLinkId)]) {
      const order = tracker.get(orderLinkId);
      if (order && this.cancellable(order)) cancels.set(orderLinkId, order);
    }
    this.sendCancels(state, [...cancels.values()]);

    // The mark for the price band: the mid, as bid + ask ticks (twice the mid, exact).
    const bestBid = book.bestBid();
    const bestAsk = book.bestAsk();
    const markTwiceTicks = bestBid === undefined || bestAsk === undefined ? undefined : bestBid + bestAsk;
    const amends: { order: Order; target: QuoteTarget }[] = [];
    for (const { quote, target } of plan.amend) {
      const order = tracker.get(quote.orderLinkId);
      // Only an order the venue has confirmed can be amended (the state machine says so too).
      if (!order?.venue || cancels.has(quote.orderLinkId)) continue;
      if (this.allowed(state, markTwiceTicks, now, { side: target.side, priceTicks: target.priceTicks, qtyLots: target.qtyLots, replacesLots: quote.qtyLots, level: target.level })) {
        amends.push({ order, target });
        this.noteSent(now);
      }
    }
    this.sendAmends(state, amends);

    const occupied = tracker.occupiedSlots(state.symbol);
    for (const target of plan.place) {
      if (occupied.has(`${target.side}:${target.level}`) || this.held(state, target, now)) continue;
      if (this.allowed(state, markTwiceTicks, now, target)) this.sendCreate(state, target, now);
    }
  }

  /**
   * An order a cancel may be sent for now: open, acknowledged (a cancel must not race its create), not
   * already being cancelled, and not one whose fate is being established (the venue said it is gone).
   */
  private cancellable(order: Order): boolean {
    return isOrderOpen(order) && orderStatus(order) !== 'PendingCancel' && (order.orderId !== undefined || order.venue !== undefined) && !this.unknown.has(order.intent.orderLinkId);
  }

  /** Whether a slot waits: after a post-only refusal for the next book, after a refused create for a while. */
  private held(state: SymbolState, slot: { side: Side; level: number }, now: number): boolean {
    const key = `${state.symbol}:${slot.side}:${slot.level}`;
    const hold = this.holds.get(key);
    if (!hold) return false;
    if ((hold.sameBookU !== undefined && state.book?.lastU === hold.sameBookU) || now < hold.until) return true;
    this.holds.delete(key);
    return false;
  }

  private hold(orderLinkId: string, sameBook: boolean, forMs: number): void {
    const slot = this.tracker.slotOf(orderLinkId);
    if (!slot) return;
    const book = this.symbols.get(slot.symbol)?.book;
    this.holds.set(`${slot.symbol}:${slot.side}:${slot.level}`, { sameBookU: sameBook ? book?.lastU : undefined, until: this.deps.clock() + forMs });
  }

  private allowed(state: SymbolState, markTwiceTicks: number | undefined, now: number, order: OrderRequest): boolean {
    const decision = checkOrder(state.setup.instrument, state.setup.limits, this.riskState(state, markTwiceTicks, now), order);
    if (decision.ok) return true;
    this.riskRefusals.set(decision.reason, (this.riskRefusals.get(decision.reason) ?? 0) + 1);
    return false;
  }

  private riskState(state: SymbolState, markTwiceTicks: number | undefined, now: number): RiskState {
    const exposure = this.tracker.exposure(state.symbol);
    return {
      frozen: this.frozen !== undefined,
      positionLots: Number(this.positionLots(state)),
      restingBuyLots: exposure.buyLots,
      restingSellLots: exposure.sellLots,
      openOrders: this.totalOpenOrders(),
      sentLastSecond: this.sentInLastSecond(now),
      // Room for every symbol's level-0 bid and ask, but never more than half the budget.
      touchReserve: Math.min(2 * this.symbols.size, Math.floor(state.setup.limits.ordersPerSecond / 2)),
      markTwiceTicks,
      ownBestBid: exposure.bestBid,
      ownBestAsk: exposure.bestAsk,
    };
  }

  // ---------------------------------------------------------------- sending

  private sendCreate(state: SymbolState, target: QuoteTarget, now: number): void {
    const { instrument } = state.setup;
    const orderLinkId = this.deps.ids.next();
    this.tracker.register(createOrder({ orderLinkId, symbol: state.symbol, side: target.side, priceTicks: target.priceTicks, qtyLots: target.qtyLots, createdAt: now }), { symbol: state.symbol, side: target.side, level: target.level });
    this.noteSent(now);
    this.sent.create += 1;
    this.observe('create', state, [orderLinkId], now);
    this.lastActionAt.set(orderLinkId, now);
    const request = this.deps.router.create({ symbol: state.symbol, side: target.side, qty: formatQty(instrument, target.qtyLots), price: formatPrice(instrument, target.priceTicks), orderLinkId });
    this.track(request.then((result) => {
      this.onCreateResult(state, orderLinkId, result);
    }), [orderLinkId], state.symbol);
  }

  private sendAmends(state: SymbolState, amends: readonly { order: Order; target: QuoteTarget }[]): void {
    if (amends.length === 0) return;
    const { instrument } = state.setup;
    const now = this.deps.clock();
    const params: AmendParams[] = [];
    const ids: string[] = [];
    for (const { order, target } of amends) {
      // Bybit's amend qty is the order's new total: what has filled plus what should rest.
      const totalLots = ((order.venue?.cumExecLots ?? 0) + target.qtyLots) as Lots;
      const result = this.tracker.apply(order.intent.orderLinkId, { type: 'AmendRequested', priceTicks: target.priceTicks, qtyLots: totalLots });
      if (result.kind !== 'applied') continue;
      ids.push(order.intent.orderLinkId);
      this.lastActionAt.set(order.intent.orderLinkId, now);
      params.push({ symbol: state.symbol, orderLinkId: order.intent.orderLinkId, price: formatPrice(instrument, target.priceTicks), qty: formatQty(instrument, totalLots) });
    }
    if (params.length === 0) return;
    const { router } = this.deps;
    this.sendChanges(state, 'amend', ids, now, () => (params.length === 1 && params[0] ? router.amend(params[0]).then((result) => [result]) : router.amendBatch(params)));
  }

  private sendCancels(state: SymbolState, orders: readonly Order[]): void {
    if (orders.length === 0) return;
    const now = this.deps.clock();
    const ids: string[] = [];
    for (const order of orders) {
      const result = this.tracker.apply(order.intent.orderLinkId, { type: 'CancelRequested' });
      if (result.kind !== 'applied') continue;
      ids.push(order.intent.orderLinkId);
      this.lastActionAt.set(order.intent.orderLinkId, now);
    }
    if (ids.length === 0) return;
    const { router } = this.deps;
    const params = ids.map((orderLinkId) => ({ symbol: state.symbol, orderLinkId }));
    this.sendChanges(state, 'cancel', ids, now, () => (params.length === 1 && params[0] ? router.cancel(params[0]).then((result) => [result]) : router.cancelBatch(params)));
  }

  /** Counts and reports amends or cancels (one request, or a batch), sends them, and handles their answers. */
  private sendChanges(state: SymbolState, kind: 'amend' | 'cancel', ids: readonly string[], now: number, send: () => Promise<RouterResult[]>): void {
    this.sent[kind] += ids.length;
    // Reported before the router runs, as for creates: an observer sees the order of events as it was.
    this.observe(kind, state, ids, now);
    this.track(send().then((results) => {
      results.forEach((result, index) => {
        const orderLinkId = ids[index];
        if (orderLinkId !== undefined) this.onChangeResult(state, orderLinkId, kind, result);
      });
      this.afterAnswers(state, results);
    }), ids, state.symbol);
  }

  private observe(kind: OrdersSentEvent['kind'], state: SymbolState, orderLinkIds: readonly string[], at: number): void {
    this.deps.observer?.onOrdersSent?.({ kind, symbol: state.symbol, orderLinkIds, at, bookSynced: state.bookSynced && (state.book?.isSynced ?? false), bookVenueTs: state.book?.lastTs });
  }

  /**
   * After answers, the quotes are revisited once, on the next turn of the event loop: answers arriving
   * together are coalesced, and a chain of immediate answers cannot starve timers and sockets. Answers
   * that sent nothing ("blocked": the breaker lets one probe through) change nothing to revisit; the next
   * book update or tick does, so a half-open breaker cannot turn the engine into a busy loop.
   */
  private afterAnswers(state: SymbolState, results: readonly RouterResult[]): void {
    if (results.some((result) => result.kind !== 'blocked')) this.scheduleRequote(state);
  }

  private scheduleRequote(state: SymbolState): void {
    if (this.requoteScheduled.has(state.symbol)) return;
    this.requoteScheduled.add(state.symbol);
    setImmediate(() => {
      this.requoteScheduled.delete(state.symbol);
      this.requote(state);
    });
  }

  /** Keeps a request's promise for stop(); a bug in a handler makes its orders unknown, never forgotten. */
  private track(work: Promise<void>, orderLinkIds: readonly string[], symbol: string): void {
    for (const orderLinkId of orderLinkIds) this.busy.set(orderLinkId, (this.busy.get(orderLinkId) ?? 0) + 1);
    const tracked = work
      .catch((error: unknown) => {
        this.deps.logger.error('handling a venue answer failed; querying the orders', { orderLinkIds, error: describe(error) });
        for (const orderLinkId of orderLinkIds) this.unknown.set(orderLinkId, { symbol, lastSentAt: this.deps.clock() });
      })
      .finally(() => {
        for (const orderLinkId of orderLinkIds) {
          const count = (this.busy.get(orderLinkId) ?? 1) - 1;
          if (count > 0) this.busy.set(orderLinkId, count);
          else this.busy.delete(orderLinkId);
        }
      });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  // ---------------------------------------------------------------- answers

  private onCreateResult(state: SymbolState, orderLinkId: string, result: RouterResult): void {
    switch (result.kind) {
      case 'accepted':
        this.tracker.apply(orderLinkId, { type: 'CreateAcked', orderId: result.orderId });
        break;
      case 'rejected':
        this.countRejection(result.retCode);
        this.tracker.apply(orderLinkId, { type: 'CreateRejected', reason: `${result.retCode} ${result.retMsg}` });
        // The same request would be refused again at once: the slot waits rather than burning the budget.
        this.hold(orderLinkId, false, REFUSED_CREATE_HOLD_MS);
        break;
      case 'blocked':
        this.tracker.apply(orderLinkId, { type: 'CreateRejected', reason: result.reason });
        break;
      case 'resolved':
        // Not found right after a lost answer proves nothing yet: the create may still be on its way.
        if (result.report) this.tracker.onVenueReport(orderLinkId, result.report);
        else this.markUnknown(orderLinkId, state.symbol);
        break;
      case 'unresolved':
        this.markUnknown(orderLinkId, state.symbol, result.reason);
        break;
    }
    this.afterAnswers(state, [result]);
  }

  /** The answer to an amend or a cancel of one order. */
  private onChangeResult(state: SymbolState, orderLinkId: string, kind: 'amend' | 'cancel', result: RouterResult): void {
    switch (result.kind) {
      case 'accepted':
        return; // the order stream confirms the new price and size, or the cancellation, which clears the pending operation
      case 'rejected':
        this.countRejection(result.retCode);
        this.failPending(orderLinkId, kind, `${result.retCode} ${result.retMsg}`);
        // "Not found" or "finished" for an order we hold open: its final report is on its way; make sure.
        if (ORDER_GONE.has(result.retCode)) this.markUnknown(orderLinkId, state.symbol, `${result.retCode} ${result.retMsg}`, true);
        return;
      case 'blocked':
        this.failPending(orderLinkId, kind, result.reason);
        return;
      case 'resolved':
        this.applyResolved(state, orderLinkId, result.report);
        return;
      case 'unresolved':
        this.markUnknown(orderLinkId, state.symbol, result.reason);
        return;
    }
  }

  /** A status query answered for an order with an operation in flight. */
  private applyResolved(state: SymbolState, orderLinkId: string, report: VenueOrderReport | undefined): void {
    if (!report) {
      this.markUnknown(orderLinkId, state.symbol);
      return;
    }
    this.tracker.onVenueReport(orderLinkId, report);
    const order = this.tracker.get(orderLinkId);
    if (!order || !isOrderOpen(order)) return;
    // The venue shows the order open and unchanged: the request did not take effect; the next requote decides.
    if (order.pending) this.failPending(orderLinkId, order.pending.kind, 'the venue shows it did not take effect');
  }

  private failPending(orderLinkId: string, kind: 'amend' | 'cancel', reason: string): void {
    const order = this.tracker.get(orderLinkId);
    if (order?.pending?.kind !== kind) return;
    this.tracker.apply(orderLinkId, { type: kind === 'amend' ? 'AmendFailed' : 'CancelFailed', reason });
  }

  private countRejection(retCode: number): void {
    const key = String(retCode);
    this.venueRejections.set(key, (this.venueRejections.get(key) ?? 0) + 1);
  }

  /**
   * Queries the order until the venue says what became of it; meanwhile its symbol does not quote. `routine`
   * marks the everyday race of a cancel or amend with a fill (the venue says "gone"): logged at debug.
   */
  private markUnknown(orderLinkId: string, symbol: string, reason?: string, routine = false): void {
    if (!this.unknown.has(orderLinkId)) {
      const fields = { orderLinkId, symbol, reason };
      if (routine) this.deps.logger.debug('order finished while a request was on its way; confirming its final state', fields);
      else this.deps.logger.warn('order state unknown; querying until the venue says', fields);
    }
    this.unknown.set(orderLinkId, { symbol, lastSentAt: this.deps.clock() });
    this.scheduleQueries();
  }

  /** Runs the status queries of unknown orders, one batch at a time, now rather than at the next tick. */
  private scheduleQueries(): void {
    if (this.unknown.size === 0 || this.querying) return;
    this.querying = this.queryUnknown().finally(() => {
      this.querying = undefined;
    });
  }

  // ---------------------------------------------------------------- unknown orders

  private unknownOf(symbol: string): number {
    let count = 0;
    for (const entry of this.unknown.values()) if (entry.symbol === symbol) count += 1;
    return count;
  }

  /** Orders with a request and no news for too long: their fate is asked for. */
  private findStuckOrders(now: number): void {
    for (const [orderLinkId, sentAt] of this.lastActionAt) {
      if (now - sentAt < this.deps.settings.stuckAfterMs || this.unknown.has(orderLinkId) || this.busy.has(orderLinkId)) continue;
      const order = this.tracker.get(orderLinkId);
      if (!order || !isOrderOpen(order)) continue;
      const status = orderStatus(order);
      if (status === 'PendingNew' || status === 'PendingCancel' || status === 'PendingAmend') this.unknown.set(orderLinkId, { symbol: order.intent.symbol, lastSentAt: sentAt });
    }
  }

  private async queryUnknown(): Promise<void> {
    const { query, clock, settings, logger } = this.deps;
    for (const [orderLinkId, entry] of [...this.unknown].slice(0, MAX_QUERIES_PER_TICK)) {
      let report: VenueOrderReport | undefined;
      try {
        report = await query(entry.symbol, orderLinkId);
      } catch (error) {
        logger.debug('status query failed; will ask again', { orderLinkId, error: describe(error) });
        continue;
      }
      const order = this.tracker.get(orderLinkId);
      if (!order) {
        this.unknown.delete(orderLinkId);
        continue;
      }
      if (report) {
        this.tracker.onVenueReport(orderLinkId, report);
        const after = this.tracker.get(orderLinkId);
        if (after?.pending) this.failPending(orderLinkId, after.pending.kind, 'settled by a status query');
        this.unknown.delete(orderLinkId);
        this.lastActionAt.delete(orderLinkId);
        logger.info('order state established', { orderLinkId, status: report.status });
      } else if (!order.venue && order.orderId === undefined && clock() - entry.lastSentAt > settings.createExpiryMs) {
        // Past recv_window the venue refuses the request even if it arrives now: it never landed.
        this.tracker.apply(orderLinkId, { type: 'CreateRejected', reason: 'not at the venue after the request expired' });
        this.unknown.delete(orderLinkId);
        logger.info('order never reached the venue', { orderLinkId });
      } else if (order.venue && isTerminalStatus(order.venue.status)) {
        this.unknown.delete(orderLinkId);
      }
      const state = this.symbols.get(entry.symbol);
      if (state) this.scheduleRequote(state);
    }
  }

  // ---------------------------------------------------------------- reconciliation

  private reconcileAll(): Promise<void> {
    this.reconciling ??= (async () => {
      for (const state of this.symbols.values()) {
        try {
          await this.reconcileSymbol(state);
        } catch (error) {
          state.reconciled = false;
          this.deps.logger.error('reconciliation failed; retrying on the next tick', { symbol: state.symbol, error: describe(error) });
        }
      }
    })().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  private async reconcileSymbol(state: SymbolState): Promise<void> {
    const { account, ids, settings, logger, clock } = this.deps;
    const { symbol } = state;
    const venueOpen = await account.openOrders(symbol);
    let venuePosition = await account.positionLots(symbol);
    let plan = reconcile({ symbol, venueOpen, local: this.tracker.ordersOf(symbol), venuePositionLots: venuePosition, localPositionLots: this.positionLots(state), isOurs: (id) => ids.isOurs(id), cancelUnknownOrders: settings.cancelUnknownOrders });
    if (plan.positionMismatchLots !== 0n) {
      // A fill may have landed between the backfill and the position read: read both again before believing it.
      await this.deps.backfill();
      venuePosition = await account.positionLots(symbol);
      plan = { ...plan, positionMismatchLots: venuePosition - this.positionLots(state) };
    }
    for (const entry of plan.apply) this.tracker.onVenueReport(entry.orderLinkId, entry.report);
    for (const entry of plan.adopt) this.adopt(state, entry);
    for (const orderLinkId of plan.query) this.unknown.set(orderLinkId, { symbol, lastSentAt: this.tracker.get(orderLinkId)?.intent.createdAt ?? clock() });
    let cancelledUnknown = 0;
    if (plan.cancel.length > 0) {
      for (const entry of plan.cancel) this.recordEarlierOrder(state, entry);
      cancelledUnknown = await account.cancelAll(symbol);
      const cancelled = new Set(plan.cancel.map((entry) => entry.report.orderId));
      const stillOpen = (await account.openOrders(symbol)).filter((entry) => cancelled.has(entry.report.orderId));
      if (stillOpen.length > 0) throw new Error(`${stillOpen.length} unknown orders still open after cancel-all`);
    }
    state.positionOffsetLots += plan.positionMismatchLots;
    state.venuePositionLots = venuePosition;
    state.positionDiffersSince = undefined;
    state.report = { at: clock(), findings: plan.findings, cancelledUnknown, adopted: plan.adopt.length, queried: plan.query.length, positionMismatchLots: plan.positionMismatchLots };
    state.reconciled = true;
    logger.info('reconciled with the venue', { symbol, ...state.report, positionLots: this.positionLots(state) });
    this.requote(state);
  }

  /** An order of an earlier generation of this shard, kept: it takes a free slot of its side, or is surplus. */
  private adopt(state: SymbolState, entry: VenueOpenOrder): void {
    const occupied = this.tracker.occupiedSlots(state.symbol);
    let level = 0;
    while (level < state.setup.quote.levels && occupied.has(`${entry.side}:${level}`)) level += 1;
    const order = createOrder({ orderLinkId: entry.orderLinkId, symbol: state.symbol, side: entry.side, priceTicks: entry.report.priceTicks, qtyLots: entry.report.qtyLots, createdAt: entry.report.updatedTime });
    this.tracker.register(order, level < state.setup.quote.levels ? { symbol: state.symbol, side: entry.side, level } : undefined);
    this.tracker.onVenueReport(entry.orderLinkId, entry.report);
  }

  /**
   * An order an earlier generation of this shard sent and never recorded (killed before its write): tracked
   * with no slot, so that its final state is kept with the rest. Nothing quotes with it.
   */
  private recordEarlierOrder(state: SymbolState, entry: VenueOpenOrder): void {
    if (this.tracker.get(entry.orderLinkId) || !this.deps.ids.isOurs(entry.orderLinkId)) return;
    this.tracker.registerEarlier(createOrder({ orderLinkId: entry.orderLinkId, symbol: state.symbol, side: entry.side, priceTicks: entry.report.priceTicks, qtyLots: entry.report.qtyLots, createdAt: entry.report.updatedTime }), entry.report);
  }

  private onForeignOrder(state: SymbolState, update: VenueOrderUpdate): void {
    if (isTerminalStatus(update.report.status)) {
      this.recordEarlierOrder(state, update);
      return;
    }
    // Before quoting begins, reconciliation decides about every order it finds (and reports it).
    if (this.phase !== 'running') return;
    this.foreignOrders += 1;
    // Only ours from an earlier generation can be named by orderLinkId for sure; the rest waits for the next reconciliation.
    if (!this.deps.settings.cancelUnknownOrders || update.orderLinkId === '') {
      this.deps.logger.warn('open order unknown to this engine', { symbol: state.symbol, orderLinkId: update.orderLinkId, orderId: update.report.orderId });
      return;
    }
    this.adopt(state, update);
    this.deps.logger.warn('cancelling an open order unknown to this engine', { symbol: state.symbol, orderLinkId: update.orderLinkId });
    const order = this.tracker.get(update.orderLinkId);
    if (order && this.cancellable(order)) this.sendCancels(state, [order]);
  }

  // ---------------------------------------------------------------- cancel everything over REST

  /** Why this generation may not trade now for want of the lease, if so. */
  private leaseIssue(now: number): string | undefined {
    if (this.fenced !== undefined) return `lease lost (${this.fenced})`;
    return this.deps.lease?.blocker(now);
  }

  private settleOwedCancelAlls(): void {
    if (this.leaseIssue(this.deps.clock()) !== undefined) {
      this.cancelAllOwed.clear();
      return;
    }
    for (const symbol of [...this.cancelAllOwed]) {
      this.cancelAllOwed.delete(symbol);
      const work = this.deps.account.cancelAll(symbol).then(
        (cancelled) => {
          this.deps.logger.info('cancelled everything', { symbol, cancelled });
        },
        (error: unknown) => {
          this.cancelAllOwed.add(symbol);
          this.deps.logger.error('cancel-all failed; retrying on the next tick', { symbol, error: describe(error) });
        },
      );
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }
  }

  // ---------------------------------------------------------------- edge

  private checkEdge(state: SymbolState): void {
    const verdict = state.edge.evaluate();
    if (verdict.freeze) this.freeze(verdict.reason, `${state.symbol}: ${verdict.detail}`);
  }

  // ---------------------------------------------------------------- figures

  private mid(state: SymbolState): Decimal | undefined {
    const bid = state.book?.bestBid();
    const ask = state.book?.bestAsk();
    return bid === undefined || ask === undefined ? undefined : exactMid(state.setup.instrument, bid, ask);
  }

  /** The position quoting and risk use: the executions seen, plus what reconciliation found beyond them. */
  private positionLots(state: SymbolState): bigint {
    return this.tracker.position(state.symbol).sizeLots + state.positionOffsetLots;
  }

  private totalOpenOrders(): number {
    let count = 0;
    for (const symbol of this.symbols.keys()) count += this.tracker.openOrders(symbol).length;
    return count;
  }

  private noteSent(now: number): void {
    this.sentTimes.push(now);
  }

  private sentInLastSecond(now: number): number {
    let expired = 0;
    while (expired < this.sentTimes.length && (this.sentTimes[expired] ?? now) <= now - 1_000) expired += 1;
    if (expired > 0) this.sentTimes.splice(0, expired);
    return this.sentTimes.length;
  }

  // ---------------------------------------------------------------- health and status

  live(): boolean {
    return this.phase !== 'stopped';
  }

  ready(): { ready: boolean; reasons: string[] } {
    const now = this.deps.clock();
    const reasons: string[] = [];
    if (this.phase !== 'running') reasons.push(`engine ${this.phase}`);
    if (!this.privateSynced) reasons.push('private stream not synced');
    for (const state of this.symbols.values()) {
      if (!state.reconciled) reasons.push(`${state.symbol}: not reconciled`);
      if (!state.bookSynced) reasons.push(`${state.symbol}: ${state.bookIssue}`);
    }
    if (this.deps.breakerState(now) === 'open') reasons.push('circuit breaker open');
    return { ready: reasons.length === 0, reasons };
  }

  status(): EngineStatus {
    const now = this.deps.clock();
    return {
      phase: this.phase,
      frozen: this.frozen,
      control: { version: this.control.version, frozenSymbols: [...this.control.frozen], reason: this.control.reason },
      fenced: this.fenced,
      privateStreamSynced: this.privateSynced,
      wallet: this.wallet,
      breaker: this.deps.breakerState(now),
      unknownOrders: this.unknown.size,
      symbols: [...this.symbols.values()].map((state) => this.symbolStatus(state, now)),
      counters: {
        sent: { ...this.sent },
        riskRefusals: Object.fromEntries(this.riskRefusals),
        venueRejections: Object.fromEntries(this.venueRejections),
        postOnlyRepriced: this.postOnlyRepriced,
        illegalTransitions: Object.fromEntries(this.tracker.illegalTransitions),
        foreignOrders: this.foreignOrders,
        malformed: Object.fromEntries(this.malformed),
      },
    };
  }

  private symbolStatus(state: SymbolState, now: number): SymbolStatus {
    const { instrument } = state.setup;
    const position = this.tracker.position(state.symbol);
    const exposure = this.tracker.exposure(state.symbol);
    const mid = this.mid(state);
    const bestBid = state.book?.bestBid();
    const bestAsk = state.book?.bestAsk();
    const blockers = this.blockers(state, now);
    const tradedLots = position.makerLots + position.takerLots;
    const price = (value: Ticks | undefined) => (value === undefined ? undefined : formatPrice(instrument, value));
    return {
      symbol: state.symbol,
      quoting: blockers.length === 0,
      blockers,
      bestBid: price(bestBid),
      bestAsk: price(bestAsk),
      mid,
      ourBid: price(exposure.bestBid),
      ourAsk: price(exposure.bestAsk),
      openOrders: exposure.openCount,
      position: dec(this.positionLots(state)).times(instrument.qtyStep),
      untrackedPosition: dec(state.positionOffsetLots).times(instrument.qtyStep),
      fills: position.tradeCount,
      makerShare: tradedLots === 0n ? undefined : Number(position.makerLots) / Number(tradedLots),
      pnl: mid ? pnlBreakdown(position, instrument, mid) : undefined,
      edge: state.edge.snapshot(),
      reconciliation: state.report,
    };
  }
}

/** An order a cancel may be sent for now: open, acknowledged (a cancel must not race its create), not already being cancelled. */

function describe(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
}
