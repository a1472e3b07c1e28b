/**
 * The simulated venue behind the REST and WebSocket servers: one matching engine per symbol (price-time
 * priority), accounts with fee schedules, one-way positions and a USDT unified wallet that follow from
 * the fills. Deterministic for a given clock and sequence of calls; no I/O. Listeners receive every change
 * so the servers can push Bybit's private and public topics.
 */
import { type Decimal, ZERO, dec } from '../../src/core/decimal.js';
import { type Instrument, notional, orderViolations } from '../../src/core/instrument.js';
import type { VenueOrderStatus } from '../../src/core/order.js';
import { type Position, applyTrade, flatPosition } from '../../src/core/position.js';
import { type Lots, type Side, type Ticks, lots, sideSign } from '../../src/core/units.js';
import { OrderBook, type Resting } from './book.js';
import { type Outcome, RET, failure, success } from './errors.js';

export type OrderType = 'Limit' | 'Market';
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'PostOnly';

/** Bybit caps open (active) orders per symbol for perpetuals (docs/v5/order/create-order.mdx). */
export const MAX_OPEN_ORDERS_PER_SYMBOL = 500;
/** Bybit: orderLinkId is up to 36 characters of letters, digits, '-' and '_'. */
const ORDER_LINK_ID = /^[A-Za-z0-9_-]{1,36}$/;
/** How many closed orders and executions an account keeps for queries. */
const RETAINED_CLOSED_ORDERS = 5_000;
const RETAINED_EXECUTIONS = 20_000;

export interface SimOrder extends Resting {
  readonly orderId: string;
  readonly orderLinkId: string;
  readonly accountId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly timeInForce: TimeInForce;
  priceTicks: Ticks;
  qtyLots: Lots;
  leavesLots: Lots;
  cumExecLots: Lots;
  cumExecValue: Decimal;
  cumExecFee: Decimal;
  status: VenueOrderStatus;
  rejectReason: string;
  cancelType: string;
  readonly reduceOnly: boolean;
  readonly createdTime: number;
  updatedTime: number;
}

export interface SimExecution {
  readonly execId: string;
  readonly accountId: string;
  readonly symbol: string;
  readonly orderId: string;
  readonly orderLinkId: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly orderPriceTicks: Ticks;
  readonly orderQtyLots: Lots;
  readonly leavesLots: Lots;
  readonly execPriceTicks: Ticks;
  readonly execQtyLots: Lots;
  readonly execValue: Decimal;
  /** Positive: fee paid; negative: rebate earned (Bybit's sign). */
  readonly execFee: Decimal;
  readonly feeRate: Decimal;
  readonly isMaker: boolean;
  readonly execTime: number;
  readonly markPrice: Decimal;
  /** Lots of the position this execution closed. */
  readonly closedLots: Lots;
  readonly seq: number;
}

export interface PublicTrade {
  readonly symbol: string;
  readonly tradeId: string;
  /** Taker side. */
  readonly side: Side;
  readonly priceTicks: Ticks;
  readonly qtyLots: Lots;
  readonly time: number;
  readonly seq: number;
}

export interface AccountConfig {
  readonly accountId: string;
  readonly makerFeeRate: Decimal;
  readonly takerFeeRate: Decimal;
  readonly walletBalance: Decimal;
}

export interface SimPosition {
  readonly position: Position;
  /** Realised trading PnL minus fees plus rebates, as Bybit's cumRealisedPnl. */
  readonly cumRealisedPnl: Decimal;
  readonly updatedTime: number;
  readonly seq: number;
}

export interface ExchangeListener {
  order?(order: Readonly<SimOrder>): void;
  execution?(execution: SimExecution): void;
  position?(accountId: string, symbol: string): void;
  wallet?(accountId: string): void;
  publicTrade?(trade: PublicTrade): void;
  /** A price level's total changed (0: gone). */
  bookLevel?(symbol: string, side: Side, priceTicks: Ticks, totalLots: number): void;
}

export interface CreateOrderInput {
  readonly symbol: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly qtyLots: Lots;
  /** Required for Limit; ignored for Market. */
  readonly priceTicks?: Ticks;
  readonly timeInForce?: TimeInForce;
  readonly orderLinkId?: string;
  readonly reduceOnly?: boolean;
}

export type OrderRef = { readonly orderId: string } | { readonly orderLinkId: string };

export interface AmendOrderInput {
  readonly symbol: string;
  readonly ref: OrderRef;
  readonly qtyLots?: Lots;
  readonly priceTicks?: Ticks;
}

export interface OrderAck {
  readonly orderId: string;
  readonly orderLinkId: string;
}

class Account {
  readonly orders = new Map<string, SimOrder>();
  readonly byLinkId = new Map<string, SimOrder>();
  /** Open (resting) orders per symbol: the 500 cap and open-order queries. */
  readonly open = new Map<string, Map<string, SimOrder>>();
  readonly closedOrders: SimOrder[] = [];
  readonly executions: SimExecution[] = [];
  readonly positions = new Map<string, SimPosition>();
  /** Initial balance plus realised PnL minus fees plus rebates. */
  walletBalance: Decimal;

  constructor(readonly config: AccountConfig) {
    this.walletBalance = config.walletBalance;
  }
}

interface Market {
  readonly instrument: Instrument;
  readonly book: OrderBook<SimOrder>;
  markPrice: Decimal;
  lastPriceTicks: Ticks | undefined;
  seq: number;
}

export interface ExchangeOptions {
  readonly instruments: readonly Instrument[];
  /** ms since epoch. */
  readonly clock: () => number;
  readonly listener?: ExchangeListener;
  /** Prefix that keeps ids of separate simulator runs apart; hex. */
  readonly idPrefix?: string;
}

const NO_ERROR = 'EC_NoError';
/** big.js rounding mode 1: half away from zero. */
const ROUND_HALF_UP = 1;
const NO_CANCEL = 'UNKNOWN';

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

export class Exchange {
  private readonly markets = new Map<string, Market>();
  private readonly accounts = new Map<string, Account>();
  private readonly clock: () => number;
  private readonly idPrefix: string;
  private nextId = 0;
  /** Fills booked so far; tells request() whether a request traded. */
  private fillCount = 0;
  listener: ExchangeListener;

  constructor(options: ExchangeOptions) {
    for (const instrument of options.instruments) {
      this.markets.set(instrument.symbol, { instrument, book: new OrderBook<SimOrder>(), markPrice: ZERO, lastPriceTicks: undefined, seq: 0 });
    }
    this.clock = options.clock;
    this.listener = options.listener ?? {};
    this.idPrefix = (options.idPrefix ?? '00000000').padStart(8, '0').slice(0, 8);
  }

  /** A UUID-shaped id, unique within this exchange and deterministic. */
  private newId(): string {
    this.nextId += 1;
    return `${this.idPrefix}-0000-4000-8000-${hex(this.nextId, 12)}`;
  }

  // ---- configuration ----

  addAccount(config: AccountConfig): void {
    if (this.accounts.has(config.accountId)) throw new Error(`account ${config.accountId} exists`);
    this.accounts.set(config.accountId, new Account(config));
  }

  hasAccount(accountId: string): boolean {
    return this.accounts.has(accountId);
  }

  instrument(symbol: string): Instrument | undefined {
    return this.markets.get(symbol)?.instrument;
  }

  instruments(): Instrument[] {
    return [...this.markets.values()].map((market) => market.instrument);
  }

  setMarkPrice(symbol: string, markPrice: Decimal): void {
    this.market(symbol).markPrice = markPrice;
  }

  private market(symbol: string): Market {
    const market = this.markets.get(symbol);
    if (!market) throw new Error(`unknown symbol ${symbol}`);
    return market;
  }

  private account(accountId: string): Account {
    const account = this.accounts.get(accountId);
    if (!account) throw new Error(`unknown account ${accountId}`);
    return account;
  }

  // ---- queries ----

  book(symbol: string): OrderBook<SimOrder> {
    return this.market(symbol).book;
  }

  marketState(symbol: string): { readonly markPrice: Decimal; readonly lastPriceTicks: Ticks | undefined; readonly seq: number } {
    return this.market(symbol);
  }

  findOrder(accountId: string, ref: OrderRef): SimOrder | undefined {
    const account = this.account(accountId);
    return 'orderId' in ref ? account.orders.get(ref.orderId) : account.byLinkId.get(ref.orderLinkId);
  }

  /** Open orders, oldest first; of one symbol or all. */
  openOrders(accountId: string, symbol?: string): SimOrder[] {
    const open = this.account(accountId).open;
    const groups = symbol === undefined ? [...open.values()] : [open.get(symbol) ?? new Map<string, SimOrder>()];
    return groups.flatMap((group) => [...group.values()]).sort((a, b) => a.createdTime - b.createdTime);
  }

  /** Closed orders, newest first. */
  closedOrders(accountId: string): readonly SimOrder[] {
    return this.account(accountId).closedOrders.slice().reverse();
  }

  /** Executions, newest first. */
  executions(accountId: string): readonly SimExecution[] {
    return this.account(accountId).executions.slice().reverse();
  }

  position(accountId: string, symbol: string): SimPosition {
    return this.account(accountId).positions.get(symbol) ?? { position: flatPosition(symbol), cumRealisedPnl: ZERO, updatedTime: 0, seq: 0 };
  }

  positions(accountId: string): SimPosition[] {
    return [...this.account(accountId).positions.values()];
  }

  walletBalance(accountId: string): Decimal {
    return this.account(accountId).walletBalance;
  }

  feeRates(accountId: string): { readonly makerFeeRate: Decimal; readonly takerFeeRate: Decimal } {
    return this.account(accountId).config;
  }

  // ---- trading ----

  createOrder(accountId: string, input: CreateOrderInput): Outcome<OrderAck> {
    return this.request(accountId, input.symbol, () => this.place(accountId, input));
  }

  amendOrder(accountId: string, input: AmendOrderInput): Outcome<OrderAck> {
    return this.request(accountId, input.symbol, () => this.amend(accountId, input));
  }

  cancelOrder(accountId: string, symbol: string, ref: OrderRef, cancelType = 'CancelByUser'): Outcome<OrderAck> {
    return this.request(accountId, symbol, () => this.cancel(accountId, symbol, ref, cancelType));
  }

  /**
   * Runs one client request. Bybit pushes the position on every create, amend and cancel, changed or not,
   * and the wallet moves when the request traded.
   */
  private request(accountId: string, symbol: string, work: () => Outcome<OrderAck>): Outcome<OrderAck> {
    const fillsBefore = this.fillCount;
    const outcome = work();
    if (!outcome.ok || !this.markets.has(symbol)) return outcome;
    this.listener.position?.(accountId, symbol);
    if (this.fillCount > fillsBefore) this.listener.wallet?.(accountId);
    return outcome;
  }

  private place(accountId: string, input: CreateOrderInput): Outcome<OrderAck> {
    const account = this.account(accountId);
    const market = this.markets.get(input.symbol);
    if (!market) return failure(RET.paramError, `params error: symbol invalid`);
    const { instrument } = market;
    const timeInForce: TimeInForce = input.orderType === 'Market' ? 'IOC' : (input.timeInForce ?? 'GTC');
    const orderLinkId = input.orderLinkId ?? '';

    if (orderLinkId !== '' && !ORDER_LINK_ID.test(orderLinkId)) return failure(RET.paramError, 'params error: orderLinkId invalid');
    if (orderLinkId !== '' && account.byLinkId.has(orderLinkId)) return failure(RET.duplicateOrderLinkId, 'OrderLinkedID is duplicate');
    const limitTicks = input.orderType === 'Limit' ? input.priceTicks : undefined;
    if (input.orderType === 'Limit' && limitTicks === undefined) return failure(RET.paramError, 'params error: price is required for a limit order');
    if (input.orderType === 'Market' && input.timeInForce === 'PostOnly') return failure(RET.paramError, 'params error: market order cannot be post-only');
    if ((account.open.get(input.symbol)?.size ?? 0) >= MAX_OPEN_ORDERS_PER_SYMBOL) {
      return failure(RET.tooManyOpenOrders, `Not allowed to have more than ${MAX_OPEN_ORDERS_PER_SYMBOL} active orders.`);
    }

    const book = market.book;
    const referenceTicks = limitTicks ?? book.oppositeOf(input.side).best()?.priceTicks ?? instrument.minPriceTicks;
    const violations = orderViolations(instrument, referenceTicks, input.qtyLots);
    const qtyMax = input.orderType === 'Market' ? instrument.maxMarketQtyLots : instrument.maxQtyLots;
    if (input.qtyLots > qtyMax) return failure(RET.paramError, 'The number of contracts exceeds maximum limit allowed');
    if (violations.includes('qty-below-min')) return failure(RET.paramError, 'The number of contracts exceeds minimum limit allowed');
    if (violations.includes('price-below-min') || violations.includes('price-above-max')) return failure(RET.priceOutOfRange, 'Order price is out of permissible range');
    if (violations.includes('notional-below-min')) return failure(RET.notionalBelowMin, `Order does not meet minimum order value ${instrument.minNotional.toFixed()}${instrument.settleCoin}`);

    let qtyLots = input.qtyLots;
    if (input.reduceOnly) {
      const size = this.position(accountId, input.symbol).position.sizeLots;
      if (size === 0n) return failure(RET.qtyTruncatedToZero, 'current position is zero, cannot fix reduce-only order qty');
      if ((size > 0n) === (input.side === 'Buy')) return failure(RET.qtyTruncatedToZero, 'reduce-only order has same side with current position');
      qtyLots = lots(Math.min(qtyLots, Number(size < 0n ? -size : size)));
    }

    const now = this.clock();
    const order: SimOrder = {
      orderId: this.newId(),
      orderLinkId,
      accountId,
      symbol: input.symbol,
      side: input.side,
      orderType: input.orderType,
      timeInForce,
      priceTicks: limitTicks ?? (0 as Ticks),
      qtyLots,
      leavesLots: qtyLots,
      cumExecLots: lots(0),
      cumExecValue: ZERO,
      cumExecFee: ZERO,
      status: 'New',
      rejectReason: NO_ERROR,
      cancelType: NO_CANCEL,
      reduceOnly: input.reduceOnly ?? false,
      createdTime: now,
      updatedTime: now,
    };
    account.orders.set(order.orderId, order);
    if (orderLinkId !== '') account.byLinkId.set(orderLinkId, order);

    const limit = limitTicks;
    const opposite = book.oppositeOf(order.side);
    if (timeInForce === 'PostOnly' && opposite.crossedBy(order.priceTicks)) {
      // Bybit acknowledges, then cancels a crossing post-only order on linear contracts.
      this.close(account, order, 'Cancelled', { rejectReason: 'EC_PostOnlyWillTakeLiquidity' });
      return success({ orderId: order.orderId, orderLinkId });
    }
    if (timeInForce === 'FOK' && opposite.availableTo(limit, order.leavesLots) < order.leavesLots) {
      this.close(account, order, 'Cancelled', { rejectReason: 'EC_NoEnoughQtyToFill' });
      return success({ orderId: order.orderId, orderLinkId });
    }

    this.match(market, order, limit);
    if (order.leavesLots > 0) {
      if (timeInForce === 'GTC' || timeInForce === 'PostOnly') this.rest(account, market, order);
      else this.close(account, order, 'Cancelled', { rejectReason: 'EC_NoImmediateQtyToFill' });
    } else {
      this.close(account, order, 'Filled', {});
    }
    return success({ orderId: order.orderId, orderLinkId });
  }

  private amend(accountId: string, input: AmendOrderInput): Outcome<OrderAck> {
    const account = this.account(accountId);
    const market = this.markets.get(input.symbol);
    if (!market) return failure(RET.paramError, 'params error: symbol invalid');
    const order = this.findOrder(accountId, input.ref);
    if (!order || order.symbol !== input.symbol) return failure(RET.orderNotExists, 'Order does not exist');
    if (!isOpen(order.status)) return failure(RET.orderNotExists, 'order not exists or too late to replace');
    const priceTicks = input.priceTicks ?? order.priceTicks;
    const qtyLots = input.qtyLots ?? order.qtyLots;
    if (priceTicks === order.priceTicks && qtyLots === order.qtyLots) return failure(RET.paramError, 'The order remains unchanged as the parameters entered match the existing ones.');
    if (qtyLots <= order.cumExecLots) return failure(RET.amendQtyNotAboveFilled, 'The modified contract quantity cannot be less than or equal to the filled quantity.');
    const violations = orderViolations(market.instrument, priceTicks, lots(qtyLots - order.cumExecLots));
    if (violations.includes('price-below-min') || violations.includes('price-above-max')) return failure(RET.priceOutOfRange, 'Order price is out of permissible range');
    if (qtyLots > market.instrument.maxQtyLots) return failure(RET.paramError, 'The number of contracts exceeds maximum limit allowed');

    const book = market.book;
    const side = book.sideOf(order.side);
    const newLeaves = qtyLots - order.cumExecLots;
    const keepsPriority = priceTicks === order.priceTicks && newLeaves <= order.leavesLots;
    const now = this.clock();
    if (order.timeInForce === 'PostOnly' && priceTicks !== order.priceTicks && book.oppositeOf(order.side).crossedBy(priceTicks)) {
      // A post-only order may not be amended into a taking price: it is cancelled like a crossing create.
      side.remove(order);
      this.emitLevel(market, order.side, order.priceTicks);
      order.updatedTime = now;
      this.close(account, order, 'Cancelled', { rejectReason: 'EC_PostOnlyWillTakeLiquidity' });
      return success({ orderId: order.orderId, orderLinkId: order.orderLinkId });
    }
    if (keepsPriority) {
      side.reduce(order, order.leavesLots - newLeaves);
      order.qtyLots = lots(qtyLots);
      order.updatedTime = now;
      this.emitLevel(market, order.side, order.priceTicks);
      this.emitOrder(order);
      return success({ orderId: order.orderId, orderLinkId: order.orderLinkId });
    }
    // A new price, or more size: the order goes to the back of the queue at its (new) price.
    side.remove(order);
    this.emitLevel(market, order.side, order.priceTicks);
    order.priceTicks = priceTicks;
    order.qtyLots = lots(qtyLots);
    order.leavesLots = lots(newLeaves);
    order.updatedTime = now;
    this.match(market, order, priceTicks);
    if (order.leavesLots > 0) this.rest(account, market, order);
    else this.close(account, order, 'Filled', {});
    return success({ orderId: order.orderId, orderLinkId: order.orderLinkId });
  }

  private cancel(accountId: string, symbol: string, ref: OrderRef, cancelType: string): Outcome<OrderAck> {
    const account = this.account(accountId);
    const market = this.markets.get(symbol);
    if (!market) return failure(RET.paramError, 'params error: symbol invalid');
    const order = this.findOrder(accountId, ref);
    if (!order || order.symbol !== symbol) return failure(RET.orderNotExists, 'Order does not exist');
    if (!isOpen(order.status)) return failure(RET.orderNotExists, 'order not exists or too late to cancel');
    this.cancelResting(account, market, order, cancelType);
    return success({ orderId: order.orderId, orderLinkId: order.orderLinkId });
  }

  /** Cancels every open order of the account, optionally of one symbol. */
  cancelAll(accountId: string, symbol?: string, cancelType = 'CancelByUser'): OrderAck[] {
    const account = this.account(accountId);
    const cancelled: OrderAck[] = [];
    for (const order of this.openOrders(accountId, symbol)) {
      this.cancelResting(account, this.market(order.symbol), order, cancelType);
      cancelled.push({ orderId: order.orderId, orderLinkId: order.orderLinkId });
    }
    return cancelled;
  }

  private cancelResting(account: Account, market: Market, order: SimOrder, cancelType: string): void {
    market.book.sideOf(order.side).remove(order);
    this.emitLevel(market, order.side, order.priceTicks);
    this.close(account, order, 'Cancelled', { cancelType, rejectReason: cancelType === 'CancelByUser' ? 'EC_PerCancelRequest' : NO_ERROR });
  }

  // ---- matching ----

  private rest(account: Account, market: Market, order: SimOrder): void {
    market.book.sideOf(order.side).add(order);
    let open = account.open.get(order.symbol);
    if (!open) account.open.set(order.symbol, (open = new Map<string, SimOrder>()));
    open.set(order.orderId, order);
    this.emitLevel(market, order.side, order.priceTicks);
    this.emitOrder(order);
  }

  private close(account: Account, order: SimOrder, status: VenueOrderStatus, details: { rejectReason?: string; cancelType?: string }): void {
    order.status = status;
    if (details.rejectReason) order.rejectReason = details.rejectReason;
    if (details.cancelType) order.cancelType = details.cancelType;
    order.leavesLots = lots(0);
    order.updatedTime = this.clock();
    account.open.get(order.symbol)?.delete(order.orderId);
    account.closedOrders.push(order);
    for (const dropped of trimOldest(account.closedOrders, RETAINED_CLOSED_ORDERS)) {
      account.orders.delete(dropped.orderId);
      if (dropped.orderLinkId !== '' && account.byLinkId.get(dropped.orderLinkId) === dropped) account.byLinkId.delete(dropped.orderLinkId);
    }
    this.emitOrder(order);
  }

  /** Trades `taker` against the opposite side up to `limit` (none for market orders). */
  private match(market: Market, taker: SimOrder, limit: Ticks | undefined): void {
    const opposite = market.book.oppositeOf(taker.side);
    const touched = new Set<string>();
    while (taker.leavesLots > 0) {
      const level = opposite.best();
      const maker = level?.orders[0];
      if (!level || !maker || (limit !== undefined && !opposite.crossedBy(limit))) break;
      const tradeLots = lots(Math.min(taker.leavesLots, maker.leavesLots));
      const priceTicks = level.priceTicks;
      opposite.reduce(maker, tradeLots);
      taker.leavesLots = lots(taker.leavesLots - tradeLots);
      market.seq += 1;
      const now = this.clock();
      market.lastPriceTicks = priceTicks;
      this.fill(market, maker, priceTicks, tradeLots, true, now);
      this.fill(market, taker, priceTicks, tradeLots, false, now);
      touched.add(maker.accountId);
      this.listener.publicTrade?.({ symbol: market.instrument.symbol, tradeId: this.newId(), side: taker.side, priceTicks, qtyLots: tradeLots, time: now, seq: market.seq });
      this.emitLevel(market, maker.side, priceTicks);
      if (maker.leavesLots === 0) this.close(this.account(maker.accountId), maker, 'Filled', {});
      else {
        maker.status = 'PartiallyFilled';
        this.emitOrder(maker);
      }
    }
    if (taker.cumExecLots > 0 && taker.leavesLots > 0) taker.status = 'PartiallyFilled';
    touched.delete(taker.accountId);
    for (const accountId of touched) {
      this.listener.position?.(accountId, market.instrument.symbol);
      this.listener.wallet?.(accountId);
    }
  }

  /** Books one side of a trade: execution, order totals, position and wallet. */
  private fill(market: Market, order: SimOrder, priceTicks: Ticks, qtyLots: Lots, isMaker: boolean, now: number): void {
    const account = this.account(order.accountId);
    const { instrument } = market;
    const execValue = notional(instrument, priceTicks, qtyLots);
    const feeRate = isMaker ? account.config.makerFeeRate : account.config.takerFeeRate;
    // Bybit reports execFee with 8 decimals; the wallet moves by the reported amount.
    const execFee = execValue.times(feeRate).round(8, ROUND_HALF_UP);
    this.fillCount += 1;
    order.cumExecLots = lots(order.cumExecLots + qtyLots);
    order.cumExecValue = order.cumExecValue.plus(execValue);
    order.cumExecFee = order.cumExecFee.plus(execFee);
    order.updatedTime = now;

    const before = this.position(order.accountId, order.symbol);
    const execId = this.newId();
    const position = applyTrade(before.position, {
      kind: 'trade',
      execId,
      symbol: order.symbol,
      orderId: order.orderId,
      orderLinkId: order.orderLinkId,
      side: order.side,
      priceTicks,
      qtyLots,
      fee: execFee,
      feeRate,
      isMaker,
      execTime: now,
    });
    const realisedTickLots = position.realisedTickLots - before.position.realisedTickLots;
    // What the wallet gains: realised PnL (only when the fill closed something) less the fee.
    const walletDelta = realisedTickLots === 0n ? execFee.neg() : dec(realisedTickLots).times(instrument.tickLotValue).minus(execFee);
    const closedLots = sideSign(order.side) * Number(before.position.sizeLots) < 0 ? Math.min(qtyLots, Math.abs(Number(before.position.sizeLots))) : 0;
    account.positions.set(order.symbol, {
      position,
      cumRealisedPnl: before.cumRealisedPnl.plus(walletDelta),
      updatedTime: now,
      seq: market.seq,
    });
    account.walletBalance = account.walletBalance.plus(walletDelta);

    const execution: SimExecution = {
      execId,
      accountId: order.accountId,
      symbol: order.symbol,
      orderId: order.orderId,
      orderLinkId: order.orderLinkId,
      side: order.side,
      orderType: order.orderType,
      orderPriceTicks: order.priceTicks,
      orderQtyLots: order.qtyLots,
      leavesLots: order.leavesLots,
      execPriceTicks: priceTicks,
      execQtyLots: qtyLots,
      execValue,
      execFee,
      feeRate,
      isMaker,
      execTime: now,
      markPrice: market.markPrice,
      closedLots: lots(closedLots),
      seq: market.seq,
    };
    account.executions.push(execution);
    trimOldest(account.executions, RETAINED_EXECUTIONS);
    this.listener.execution?.(execution);
  }

  private emitOrder(order: SimOrder): void {
    this.listener.order?.(order);
  }

  private emitLevel(market: Market, side: Side, priceTicks: Ticks): void {
    if (!this.listener.bookLevel) return;
    const level = market.book.sideOf(side).level(priceTicks);
    this.listener.bookLevel(market.instrument.symbol, side, priceTicks, level?.totalLots ?? 0);
  }
}

/**
 * Keeps at least the newest `capacity` items: once the array is a quarter over, the oldest are removed in
 * one splice, so retention costs O(1) per item instead of a shift per push. Returns what was removed.
 */
function trimOldest<T>(items: T[], capacity: number): T[] {
  return items.length > capacity + (capacity >> 2) ? items.splice(0, items.length - capacity) : [];
}

export function isOpen(status: VenueOrderStatus): boolean {
  return status === 'New' || status === 'PartiallyFilled' || status === 'Untriggered';
}
