/**
 * Fakes for driving the Engine in unit tests: a manual clock with sleeps that wake only when the clock
 * reaches them, a scripted order path that records every call and can hold answers, a venue account, a
 * status query, a recording logger, and a real LocalBook of BTCUSDT fed with the venue's strings.
 *
 * Settings come from a configuration parsed by EngineConfigSchema and turned into engine settings by
 * src/app/settings.ts, as the process does.
 */
import { engineSettings } from '../../../src/app/settings.js';
import { type EngineConfig, EngineConfigSchema } from '../../../src/config/config.js';
import { LocalBook } from '../../../src/core/book.js';
import { type Decimal, dec } from '../../../src/core/decimal.js';
import { formatPrice, formatQty, gridCodec } from '../../../src/core/instrument.js';
import { type Order, type VenueOrderReport, isOrderOpen } from '../../../src/core/order.js';
import type { FundingExecution, TradeExecution } from '../../../src/core/position.js';
import { type QuoteTarget, initialVolatility, quoteTargets } from '../../../src/core/quoting.js';
import { type Lots, type Side, type Ticks, lots, ticks } from '../../../src/core/units.js';
import type { BreakerState } from '../../../src/engine/breaker.js';
import { Engine, type EngineJournal, type EngineObserver, type EngineSettings, type OrderPath, type OrdersSentEvent, type SymbolSetup, type VenueOrderUpdate } from '../../../src/engine/engine.js';
import type { RouterResult, StatusQuery } from '../../../src/engine/router.js';
import { OrderLinkIds } from '../../../src/engine/tracker.js';
import type { LogFields, LogLevel, Logger } from '../../../src/ports/logger.js';
import type { AmendParams, CancelParams, CreateParams } from '../../../src/ports/order-entry.js';
import type { VenueAccount, VenueOpenOrder } from '../../../src/ports/venue-account.js';
import { BTCUSDT } from '../../support/instruments.js';

export const SYMBOL = 'BTCUSDT';
export const SHARD = 't1';
export const EPOCH = 7;
export const START = 1_700_000_000_000;
export const INSTRUMENT = BTCUSDT;
export const CODEC = gridCodec(BTCUSDT);

/** Lets every promise callback queued so far (and those they queue) run. */
export async function flush(rounds = 3): Promise<void> {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------- configuration

export interface ConfigOverrides {
  readonly symbol?: Readonly<Record<string, unknown>>;
  readonly risk?: Readonly<Record<string, unknown>>;
  readonly engine?: Readonly<Record<string, unknown>>;
  readonly venue?: Readonly<Record<string, unknown>>;
  readonly router?: Readonly<Record<string, unknown>>;
}

/**
 * A one-symbol configuration with deterministic quotes: plain mid, no volatility term, a 1 bp half-spread
 * (minEdgeBps 1 with a zero maker fee), 2 levels 1 bp apart, 2 lots a quote, 20 lots of position limit.
 */
export function testConfig(overrides: ConfigOverrides = {}): EngineConfig {
  return EngineConfigSchema.parse({
    shard: SHARD,
    venue: { credentialsSecretId: 'test/trading-key', dcpWindowSeconds: 15, recvWindowMs: 5_000, ...overrides.venue },
    symbols: {
      [SYMBOL]: {
        orderQty: '0.002',
        maxPosition: '0.02',
        maxNotional: '10000',
        levels: 2,
        levelSpacingBps: '1',
        minEdgeBps: '1',
        volatilitySpreadMultiplier: '0',
        inventorySkewBps: '2',
        fairValue: 'mid',
        refreshToleranceTicks: 2,
        fastCancelTicks: 3,
        ...overrides.symbol,
      },
    },
    risk: { ordersPerSecond: 100, maxDrawdown: '500', ...overrides.risk },
    router: { requestTimeoutMs: 2_000, ...overrides.router },
    engine: { healthPort: 0, stopTimeoutMs: 2_000, cancelUnknownOrders: true, ...overrides.engine },
  });
}

// ---------------------------------------------------------------- time

/** A clock that moves only when told; sleeps wake when it reaches them. */
export class ManualClock {
  now = START;
  private timers: { at: number; resolve: () => void }[] = [];

  readonly clock = (): number => this.now;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.now + ms, resolve });
    });

  advance(ms: number): void {
    this.now += ms;
    this.wakeDue();
  }

  get sleepers(): number {
    return this.timers.length;
  }

  /** Moves the clock to the earliest sleep and wakes it (and any other due); false when nobody sleeps. */
  runNextTimer(): boolean {
    if (this.timers.length === 0) return false;
    this.now = Math.max(this.now, Math.min(...this.timers.map((timer) => timer.at)));
    this.wakeDue();
    return true;
  }

  private wakeDue(): void {
    const due = this.timers.filter((timer) => timer.at <= this.now);
    this.timers = this.timers.filter((timer) => timer.at > this.now);
    for (const timer of due) timer.resolve();
  }
}

// ---------------------------------------------------------------- the order path

export type Operation = 'create' | 'amend' | 'cancel';
export type Method = Operation | 'amendBatch' | 'cancelBatch';
export type OrderParams = CreateParams | AmendParams | CancelParams;
/** What the router answers for one item: a result, an error (the whole call rejects), or hold the call. */
export type Answer = RouterResult | Error | 'hold';

export interface RouterCall {
  readonly method: Method;
  readonly operation: Operation;
  readonly items: readonly OrderParams[];
  settled: boolean;
  /** Answers a held call; items without a result given get their scripted or default answer. */
  release(results?: readonly (RouterResult | undefined)[]): void;
}

export const accepted = (orderId: string): RouterResult => ({ kind: 'accepted', orderId });
export const rejected = (retCode: number, retMsg = `code ${retCode}`): RouterResult => ({ kind: 'rejected', retCode, retMsg });
export const unresolved = (reason = 'status unknown after 3 queries'): RouterResult => ({ kind: 'unresolved', reason });
export const blocked = (reason = 'the circuit breaker is open'): RouterResult => ({ kind: 'blocked', reason });
export const resolved = (report: VenueOrderReport | undefined): RouterResult => ({ kind: 'resolved', report });

export function orderIdOf(orderLinkId: string): string {
  return `o-${orderLinkId}`;
}

/** Records every call; answers from per-operation scripts (FIFO, per item), else accepted. */
export class FakeRouter implements OrderPath {
  readonly calls: RouterCall[] = [];
  /** Hold every call until released. */
  hold = false;
  private readonly scripts: Record<Operation, Answer[]> = { create: [], amend: [], cancel: [] };
  /** Answers by orderLinkId, used before the scripts (kept until replaced). */
  readonly byId = new Map<string, Answer>();
  /** One-shot answers by orderLinkId: used for the next request of that order only. */
  readonly onceById = new Map<string, Answer>();

  script(operation: Operation, ...answers: Answer[]): void {
    this.scripts[operation].push(...answers);
  }

  create(params: CreateParams): Promise<RouterResult> {
    return this.enqueue('create', 'create', [params]).then(first);
  }

  amend(params: AmendParams): Promise<RouterResult> {
    return this.enqueue('amend', 'amend', [params]).then(first);
  }

  cancel(params: CancelParams): Promise<RouterResult> {
    return this.enqueue('cancel', 'cancel', [params]).then(first);
  }

  amendBatch(params: readonly AmendParams[]): Promise<RouterResult[]> {
    return this.enqueue('amendBatch', 'amend', params);
  }

  cancelBatch(params: readonly CancelParams[]): Promise<RouterResult[]> {
    return this.enqueue('cancelBatch', 'cancel', params);
  }

  private enqueue(method: Method, operation: Operation, items: readonly OrderParams[]): Promise<RouterResult[]> {
    const answers = items.map((item) => {
      const once = this.onceById.get(item.orderLinkId);
      this.onceById.delete(item.orderLinkId);
      return once ?? this.byId.get(item.orderLinkId) ?? this.scripts[operation].shift() ?? accepted(orderIdOf(item.orderLinkId));
    });
    return new Promise<RouterResult[]>((resolve, reject) => {
      const call: RouterCall = {
        method,
        operation,
        items,
        settled: false,
        release: (results) => {
          if (call.settled) return;
          call.settled = true;
          const error = answers.find((answer): answer is Error => answer instanceof Error);
          if (error && !results) {
            reject(error);
            return;
          }
          resolve(items.map((item, index) => {
            const given = results?.[index];
            if (given) return given;
            const answer = answers[index];
            return answer === undefined || answer === 'hold' || answer instanceof Error ? accepted(orderIdOf(item.orderLinkId)) : answer;
          }));
        },
      };
      this.calls.push(call);
      if (!this.hold && !answers.includes('hold')) call.release();
    });
  }

  /** Releases every held call with its scripted or default answers. */
  releaseAll(): void {
    for (const call of this.calls) call.release();
  }

  items(operation: Operation): OrderParams[] {
    return this.calls.filter((call) => call.operation === operation).flatMap((call) => [...call.items]);
  }

  creates(): CreateParams[] {
    return this.items('create') as CreateParams[];
  }

  amends(): AmendParams[] {
    return this.items('amend');
  }

  cancels(): CancelParams[] {
    return this.items('cancel');
  }

  methods(): Method[] {
    return this.calls.map((call) => call.method);
  }
}

function first(results: readonly RouterResult[]): RouterResult {
  const [result] = results;
  if (!result) throw new Error('fake router: no result');
  return result;
}

// ---------------------------------------------------------------- the venue account

/** Deferred: a promise settled from outside. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class FakeAccount implements VenueAccount {
  readonly open = new Map<string, VenueOpenOrder[]>();
  readonly positions = new Map<string, bigint>();
  readonly calls = { openOrders: [] as string[], positionLots: [] as string[], cancelAll: [] as string[], armDisconnectCancel: [] as number[], makerFeeRate: [] as string[] };
  /** Every call in order, by method name. */
  readonly sequence: string[] = [];
  /** How many of the next calls throw. */
  readonly failures = { openOrders: 0, cancelAll: 0, positionLots: 0 };
  /** What a failing call rejects with (an Error unless set). */
  failureValue: unknown = undefined;
  /** Whether cancel-all empties the list of open orders (a venue that cancels). */
  cancelAllClears = true;
  /** Held openOrders answers: each call waits for the next gate, if any. */
  readonly openOrdersGates: Deferred<void>[] = [];

  openOrders(symbol: string): Promise<VenueOpenOrder[]> {
    this.calls.openOrders.push(symbol);
    this.sequence.push('openOrders');
    const answer = (): Promise<VenueOpenOrder[]> => {
      if (this.failures.openOrders > 0) {
        this.failures.openOrders -= 1;
        return Promise.reject(new Error('openOrders: venue unavailable'));
      }
      return Promise.resolve([...(this.open.get(symbol) ?? [])]);
    };
    const gate = this.openOrdersGates.shift();
    return gate ? gate.promise.then(answer) : answer();
  }

  positionLots(symbol: string): Promise<bigint> {
    this.calls.positionLots.push(symbol);
    this.sequence.push('positionLots');
    if (this.failures.positionLots > 0) {
      this.failures.positionLots -= 1;
      return Promise.reject(new Error('positionLots: venue unavailable'));
    }
    return Promise.resolve(this.positions.get(symbol) ?? 0n);
  }

  cancelAll(symbol: string): Promise<number> {
    this.calls.cancelAll.push(symbol);
    this.sequence.push('cancelAll');
    if (this.failures.cancelAll > 0) {
      this.failures.cancelAll -= 1;
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a client library may reject with anything
      return Promise.reject(this.failureValue ?? new Error('cancelAll: venue unavailable'));
    }
    const count = this.open.get(symbol)?.length ?? 0;
    if (this.cancelAllClears) this.open.set(symbol, []);
    return Promise.resolve(count);
  }

  armDisconnectCancel(windowSeconds: number): Promise<void> {
    this.calls.armDisconnectCancel.push(windowSeconds);
    this.sequence.push('armDisconnectCancel');
    return Promise.resolve();
  }

  makerFeeRate(symbol: string): Promise<Decimal> {
    this.calls.makerFeeRate.push(symbol);
    return Promise.resolve(dec('0'));
  }
}

// ---------------------------------------------------------------- status queries and logs

export class FakeQuery {
  readonly calls: { symbol: string; orderLinkId: string }[] = [];
  /** The answer per orderLinkId: a report, undefined (no such order), or an error to throw. Default undefined. */
  readonly answers = new Map<string, VenueOrderReport | Error | undefined>();

  readonly query: StatusQuery = (symbol, orderLinkId) => {
    this.calls.push({ symbol, orderLinkId });
    const answer = this.answers.get(orderLinkId);
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };

  callsFor(orderLinkId: string): number {
    return this.calls.filter((call) => call.orderLinkId === orderLinkId).length;
  }
}

export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'error', message, fields });
  }
  has(level: LogLevel, message: string | RegExp): boolean {
    return this.entries.some((entry) => entry.level === level && (typeof message === 'string' ? entry.message === message : message.test(entry.message)));
  }
}

// ---------------------------------------------------------------- the harness

export interface BookOptions {
  readonly bidSize?: string;
  readonly askSize?: string;
  /** Levels per side below the touch. */
  readonly depth?: number;
}

export interface HarnessOptions {
  /** Give the engine an observer recording what it sends (default true); false: no observer at all. */
  readonly observer?: boolean | EngineObserver;
  /** Where the engine writes its changes behind the loop (none by default). */
  readonly journal?: EngineJournal;
  /** Told when the engine freezes itself. */
  readonly onSelfFreeze?: (reason: string, detail: string) => void;
}

export interface TradeOptions {
  readonly execId: string;
  readonly side: Side;
  readonly priceTicks: number;
  readonly qtyLots: number;
  readonly fee?: string;
  readonly isMaker?: boolean;
  readonly orderLinkId?: string;
}

export class EngineHarness {
  readonly time = new ManualClock();
  readonly router = new FakeRouter();
  readonly account = new FakeAccount();
  readonly query = new FakeQuery();
  readonly logger = new RecordingLogger();
  readonly ids = new OrderLinkIds(SHARD, EPOCH);
  readonly config: EngineConfig;
  readonly settings: EngineSettings;
  readonly setup: SymbolSetup;
  readonly book = new LocalBook(SYMBOL, CODEC);
  readonly engine: Engine;
  breaker: BreakerState = 'closed';
  backfills = 0;
  /** What the engine reported sending, through its observer. */
  readonly sentEvents: OrdersSentEvent[] = [];
  /** Runs inside backfill(): the private stream re-delivering executions. */
  onBackfill: () => void = () => undefined;
  private updateId = 0;
  private lastReportTime = 0;

  constructor(overrides: ConfigOverrides = {}, options: HarnessOptions = {}) {
    this.config = testConfig(overrides);
    this.settings = engineSettings(this.config, new Map([[SYMBOL, BTCUSDT]]), new Map([[SYMBOL, dec('0')]]));
    const setup = this.settings.symbols.get(SYMBOL);
    if (!setup) throw new Error('no setup for the symbol');
    this.setup = setup;
    this.engine = new Engine({
      settings: this.settings,
      router: this.router,
      breakerState: () => this.breaker,
      query: this.query.query,
      account: this.account,
      ids: this.ids,
      backfill: () => {
        this.backfills += 1;
        this.onBackfill();
        return Promise.resolve();
      },
      clock: this.time.clock,
      sleep: this.time.sleep,
      logger: this.logger,
      ...observerOption(options.observer ?? true, this.sentEvents),
      ...(options.journal && { journal: options.journal }),
      ...(options.onSelfFreeze && { onSelfFreeze: options.onSelfFreeze }),
    });
  }

  // -------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    this.engine.onPrivateSynced(0);
    await this.engine.start();
    await flush();
  }

  /** Started, with a two-sided book and the initial quotes confirmed New by the order stream. */
  async quoting(bid = 650_000, ask = 650_010): Promise<void> {
    await this.start();
    this.setBook(bid, ask);
    await flush();
    this.confirmNew();
    await flush();
  }

  /** Runs a promise to its end, waking sleeps one at a time; throws if it cannot progress. */
  async settle<T>(promise: Promise<T>, maxSteps = 10_000): Promise<T> {
    const outcome: { settled?: { ok: true; value: T } | { ok: false; error: unknown } } = {};
    promise.then(
      (value) => {
        outcome.settled = { ok: true, value };
      },
      (error: unknown) => {
        outcome.settled = { ok: false, error };
      },
    );
    // Read through a function: the callbacks set it while this loop awaits.
    const current = () => outcome.settled;
    for (let step = 0; step < maxSteps && !current(); step++) {
      await flush();
      if (!current() && !this.time.runNextTimer()) throw new Error('the promise waits for nothing the harness can wake');
    }
    const settled = current();
    if (!settled) throw new Error('the promise did not settle');
    if (!settled.ok) throw settled.error instanceof Error ? settled.error : new Error('rejected');
    return settled.value;
  }

  // -------------------------------------------------------------- market data

  /** A snapshot with the touch at these ticks, and `depth` levels behind each. */
  setBook(bidTicks: number, askTicks: number, options: BookOptions = {}): void {
    const depth = options.depth ?? 3;
    const row = (price: number, size: string): [string, string] => [formatPrice(BTCUSDT, ticks(price)), size];
    const bids = Array.from({ length: depth + 1 }, (_, index) => row(bidTicks - index, index === 0 ? (options.bidSize ?? '1.000') : '0.500'));
    const asks = Array.from({ length: depth + 1 }, (_, index) => row(askTicks + index, index === 0 ? (options.askSize ?? '1.000') : '0.500'));
    this.updateId += 1;
    const result = this.book.applySnapshot(bids, asks, this.updateId, this.updateId, this.time.now);
    if (!result.ok) throw new Error(`bad test book: ${result.reason}`);
    this.engine.onBook(SYMBOL, this.book, this.time.now);
  }

  /** A delta in the venue's strings (price, size; size 0 deletes the level). */
  delta(bids: readonly (readonly [string, string])[], asks: readonly (readonly [string, string])[]): void {
    this.updateId += 1;
    const result = this.book.applyDelta(bids, asks, this.updateId, this.updateId, this.time.now);
    if (!result.ok) throw new Error(`bad test delta: ${result.reason}`);
    this.engine.onBook(SYMBOL, this.book, this.time.now);
  }

  /** Fair value (mid) in ticks of the current book. */
  fair(): number {
    const bid = this.book.bestBid();
    const ask = this.book.bestAsk();
    if (bid === undefined || ask === undefined) throw new Error('one-sided book');
    return (bid + ask) / 2;
  }

  /** What the strategy wants on the current book, from src/core/quoting.ts (the oracle). */
  targets(positionLots = 0): QuoteTarget[] {
    return quoteTargets({ instrument: BTCUSDT, fair: this.fair(), volatility: initialVolatility(), positionLots, bestBid: this.book.bestBid(), bestAsk: this.book.bestAsk(), params: this.setup.quote });
  }

  // -------------------------------------------------------------- orders

  open(): Order[] {
    return this.engine.tracker.openOrders(SYMBOL);
  }

  order(orderLinkId: string): Order {
    const order = this.engine.tracker.get(orderLinkId);
    if (!order) throw new Error(`no order ${orderLinkId}`);
    return order;
  }

  /** The open order in a slot (`Buy:0`), if any. */
  inSlot(slot: string): Order | undefined {
    return this.open().find((order) => {
      const held = this.engine.tracker.slotOf(order.intent.orderLinkId);
      return held !== undefined && `${held.side}:${held.level}` === slot;
    });
  }

  idInSlot(slot: string): string {
    const order = this.inSlot(slot);
    if (!order) throw new Error(`nothing in ${slot}`);
    return order.intent.orderLinkId;
  }

  /** The create params of the latest create for a slot. */
  createsFor(side: Side, level: number): CreateParams[] {
    return this.router.creates().filter((params) => {
      const slot = this.engine.tracker.slotOf(params.orderLinkId);
      return slot?.side === side && slot.level === level;
    });
  }

  /** A venue report of a known order: its current one (or what was sent), with these changes, newer than any before. */
  report(orderLinkId: string, changes: Partial<VenueOrderReport> = {}): VenueOrderUpdate {
    const order = this.order(orderLinkId);
    this.lastReportTime = Math.max(this.lastReportTime + 1, this.time.now);
    const base: VenueOrderReport = order.venue ?? {
      orderId: order.orderId ?? orderIdOf(orderLinkId),
      status: 'New',
      priceTicks: order.intent.priceTicks,
      qtyLots: order.intent.qtyLots,
      cumExecLots: lots(0),
      leavesLots: order.intent.qtyLots,
      updatedTime: 0,
    };
    return { orderLinkId, symbol: SYMBOL, side: order.intent.side, report: { ...base, updatedTime: this.lastReportTime, ...changes } };
  }

  emit(orderLinkId: string, changes: Partial<VenueOrderReport> = {}): void {
    this.engine.onOrderUpdate(this.report(orderLinkId, changes));
  }

  /** The order stream reports New for every open order the venue has not reported yet. */
  confirmNew(): number {
    let count = 0;
    for (const order of this.open()) {
      if (order.venue || order.localRejection !== undefined) continue;
      this.emit(order.intent.orderLinkId, { status: 'New' });
      count += 1;
    }
    return count;
  }

  /** The order stream confirms every pending amend (new price and total qty). */
  confirmAmends(): number {
    let count = 0;
    for (const order of this.open()) {
      if (order.pending?.kind !== 'amend') continue;
      const { priceTicks, qtyLots } = order.pending;
      const cumExec = order.venue?.cumExecLots ?? 0;
      this.emit(order.intent.orderLinkId, { status: cumExec > 0 ? 'PartiallyFilled' : 'New', priceTicks, qtyLots, leavesLots: lots(qtyLots - cumExec) });
      count += 1;
    }
    return count;
  }

  /** The order stream reports Cancelled for every order with a cancel in flight (or every open one). */
  confirmCancels(all = false): number {
    let count = 0;
    for (const order of this.open()) {
      if (!all && order.pending?.kind !== 'cancel') continue;
      if (!order.venue && order.orderId === undefined) continue;
      this.emit(order.intent.orderLinkId, { status: 'Cancelled', leavesLots: lots(0) });
      count += 1;
    }
    return count;
  }

  /** A venue open order, as the account lists it and the order stream reports it. */
  venueOrder(orderLinkId: string, side: Side, priceTicks: number, qtyLots = 2, orderId = `v-${orderLinkId}`): VenueOpenOrder {
    return {
      orderLinkId,
      symbol: SYMBOL,
      side,
      report: { orderId, status: 'New', priceTicks: ticks(priceTicks), qtyLots: lots(qtyLots), cumExecLots: lots(0), leavesLots: lots(qtyLots), updatedTime: this.time.now },
    };
  }

  // -------------------------------------------------------------- executions

  trade(options: TradeOptions): TradeExecution {
    return {
      kind: 'trade',
      execId: options.execId,
      symbol: SYMBOL,
      orderId: options.orderLinkId ? orderIdOf(options.orderLinkId) : 'o-unknown',
      orderLinkId: options.orderLinkId ?? '',
      side: options.side,
      priceTicks: ticks(options.priceTicks),
      qtyLots: lots(options.qtyLots),
      fee: dec(options.fee ?? '0'),
      feeRate: dec('0'),
      isMaker: options.isMaker ?? true,
      execTime: this.time.now,
    };
  }

  funding(execId: string, fee: string): FundingExecution {
    return { kind: 'funding', execId, symbol: SYMBOL, fee: dec(fee), execTime: this.time.now };
  }

  // -------------------------------------------------------------- figures

  ticksOf(price: string): Ticks {
    return CODEC.priceToTicks(price);
  }

  lotsOf(qty: string): Lots {
    return CODEC.qtyToLots(qty);
  }

  qtyString(qtyLots: number): string {
    return formatQty(BTCUSDT, lots(qtyLots));
  }

  symbolStatus(): ReturnType<Engine['status']>['symbols'][number] {
    const [status] = this.engine.status().symbols;
    if (!status) throw new Error('no symbol status');
    return status;
  }

  openCount(): number {
    return this.open().filter(isOrderOpen).length;
  }
}

function observerOption(option: boolean | EngineObserver, events: OrdersSentEvent[]): { observer?: EngineObserver } {
  if (option === false) return {};
  if (option === true) {
    return {
      observer: {
        onOrdersSent: (event) => {
          events.push(event);
        },
      },
    };
  }
  return { observer: option };
}
