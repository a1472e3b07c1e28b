/**
 * The REST endpoints of the simulated venue. Each route names its method and path, whether it needs an
 * authenticated key (and trade permission), its per-second limit per UID, and a handler that turns
 * validated parameters into Bybit's `result`. Sources for limits and shapes in sim/README.md.
 */
import type * as z from 'zod';
import { ZERO } from '../../src/core/decimal.js';
import { unrealisedPnl } from '../../src/core/position.js';
import { type Instrument, formatPrice, formatQty, notional } from '../../src/core/instrument.js';
import type { Lots } from '../../src/core/units.js';
import { type Outcome, RET, failure } from '../exchange/errors.js';
import { type Exchange, type SimOrder, isOpen } from '../exchange/exchange.js';
import type { ApiKeyRecord } from '../venue/keys.js';
import { executionJson, orderJson, positionJson } from '../venue/format.js';
import type { RecentTrades } from '../venue/market-data.js';
import * as P from './params.js';
import { expiryJson, ipsJson } from './key-routes.js';
import { fail, ok, okUser, parse } from './reply.js';
import { RATE_LIMITED, amendOne, cancelOne, createOne } from '../venue/orders.js';

export interface RouteContext {
  readonly params: Record<string, unknown>;
  readonly key: ApiKeyRecord | undefined;
  readonly now: number;
  /** Units the rate limiter admitted (batch routes: orders); the rest must fail with 10006. */
  readonly admitted: number;
}

export interface Reply {
  readonly retCode: number;
  readonly retMsg: string;
  readonly result: unknown;
  readonly retExtInfo?: unknown;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly access: 'public' | 'read' | 'trade';
  /** Requests (or batch orders) per second per UID; undefined: no per-UID limit. */
  readonly perSecond?: number;
  /** How many units a request consumes (batch: one per order). */
  readonly units?: (params: Record<string, unknown>) => number;
  handle(context: RouteContext): Reply;
}

export interface VenueState {
  readonly exchange: Exchange;
  readonly trades: RecentTrades;
  /** DCP windows per account, set by /v5/order/disconnected-cancel-all. */
  readonly dcp: Map<string, { product: string; timeWindow: number }>;
}

function accountOf(context: RouteContext): string {
  if (!context.key) throw new Error('private route without a key');
  return context.key.accountId;
}

/** A route whose parameters `schema` validates before `handle` sees them (otherwise 10001 naming the field). */
export function route<S extends z.ZodType>(spec: Omit<Route, 'handle'> & { readonly params: S; readonly handle: (params: z.output<S>, context: RouteContext) => Reply }): Route {
  const { params: schema, handle, ...rest } = spec;
  return {
    ...rest,
    handle: (context) => {
      const parsed = parse(schema, context.params);
      return parsed.ok ? handle(parsed.value, context) : fail(parsed);
    },
  };
}

type OrderOutcome = Outcome<{ orderId: string; orderLinkId: string }>;

/** A single-order trade endpoint: parameters, then the order operation for the key's account. */
function orderRoute<S extends z.ZodType>(path: string, schema: S, operation: (accountId: string, params: z.output<S>) => OrderOutcome): Route {
  return route({
    method: 'POST',
    path,
    access: 'trade',
    perSecond: 10,
    params: schema,
    handle: (params, context) => {
      const outcome = operation(accountOf(context), params);
      return outcome.ok ? ok(outcome.value) : fail(outcome);
    },
  });
}

/**
 * A batch endpoint: up to 20 items, each run like its single endpoint, with per-order results in
 * result.list and per-order codes in retExtInfo.list, in request order. Items past the rate limit fail
 * with 10006; quota is counted per order.
 */
function batchRoute<S extends z.ZodType>(
  path: string,
  item: S,
  each: (accountId: string, item: z.output<S>) => OrderOutcome,
  describe: (item: z.output<S>, outcome: OrderOutcome, now: number) => Record<string, string>,
): Route {
  return route({
    method: 'POST',
    path,
    access: 'trade',
    perSecond: 10,
    units: (params) => (Array.isArray(params.request) ? params.request.length : 1),
    params: P.BatchParams(item),
    handle: (parsed, context) => {
      const items = parsed.request as z.output<S>[];
      const outcomes = items.map((entry, index) => (index < context.admitted ? each(accountOf(context), entry) : RATE_LIMITED));
      return ok(
        { list: items.map((entry, index) => describe(entry, outcomes[index] ?? RATE_LIMITED, context.now)) },
        { list: outcomes.map((outcome) => (outcome.ok ? { code: 0, msg: 'OK' } : { code: outcome.retCode, msg: outcome.retMsg })) },
      );
    },
  });
}

/** Result row of an amend or cancel batch item. */
function describeRef(item: { symbol: string; orderId?: string | undefined; orderLinkId?: string | undefined }, outcome: OrderOutcome): Record<string, string> {
  return {
    category: 'linear',
    symbol: item.symbol,
    orderId: outcome.ok ? outcome.value.orderId : (item.orderId ?? ''),
    orderLinkId: outcome.ok ? outcome.value.orderLinkId : (item.orderLinkId ?? ''),
  };
}

function page<T>(items: readonly T[], limit: number, cursor: string | undefined): { items: T[]; nextPageCursor: string } {
  const start = cursor ? Number(cursor) || 0 : 0;
  const slice = items.slice(start, start + limit);
  return { items: slice, nextPageCursor: start + limit < items.length ? String(start + limit) : '' };
}

function orderMatches(order: SimOrder, params: { symbol?: string | undefined; orderId?: string | undefined; orderLinkId?: string | undefined }): boolean {
  return (
    (params.symbol === undefined || order.symbol === params.symbol) &&
    (params.orderId === undefined || order.orderId === params.orderId) &&
    (params.orderLinkId === undefined || order.orderLinkId === params.orderLinkId)
  );
}

function instrumentOf(state: VenueState, symbol: string): Instrument {
  const instrument = state.exchange.instrument(symbol);
  if (!instrument) throw new Error(`unknown symbol ${symbol}`);
  return instrument;
}

function instrumentJson(instrument: Instrument, raw: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  return raw ?? { symbol: instrument.symbol };
}

export function buildRoutes(state: VenueState, rawInstruments: ReadonlyMap<string, Readonly<Record<string, unknown>>>): Route[] {
  const { exchange } = state;
  const orderList = (accountId: string, orders: readonly SimOrder[]) => orders.map((order) => orderJson(order, instrumentOf(state, order.symbol)));

  return [
    // ---- market (public) ----
    {
      method: 'GET',
      path: '/v5/market/time',
      access: 'public',
      handle: ({ now }) => ok({ timeSecond: String(Math.floor(now / 1000)), timeNano: `${now}000000` }),
    },
    route({
      method: 'GET',
      path: '/v5/market/instruments-info',
      access: 'public',
      params: P.InstrumentsParams,
      handle: (params) => {
        const list = exchange
          .instruments()
          .filter((instrument) => params.symbol === undefined || instrument.symbol === params.symbol)
          .map((instrument) => instrumentJson(instrument, rawInstruments.get(instrument.symbol)));
        return ok({ category: 'linear', list, nextPageCursor: '' });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/market/orderbook',
      access: 'public',
      params: P.OrderbookParams,
      handle: (params, context) => {
        const instrument = exchange.instrument(params.symbol);
        if (!instrument) return fail(failure(RET.paramError, 'params error: symbol invalid'));
        const book = exchange.book(instrument.symbol);
        const depth = params.limit ?? 25;
        const rows = (side: typeof book.bids) => side.snapshot(depth).map(([price, size]) => [formatPrice(instrument, price), formatQty(instrument, size as Lots)]);
        const market = exchange.marketState(instrument.symbol);
        return ok({ s: instrument.symbol, b: rows(book.bids), a: rows(book.asks), ts: context.now, u: market.seq, seq: market.seq, cts: context.now });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/market/tickers',
      access: 'public',
      params: P.TickersParams,
      handle: (params, context) => {
        const list = exchange
          .instruments()
          .filter((instrument) => params.symbol === undefined || instrument.symbol === params.symbol)
          .map((instrument) => tickerJson(state, instrument, context.now));
        return ok({ category: 'linear', list });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/market/recent-trade',
      access: 'public',
      params: P.RecentTradeParams,
      handle: (params) => {
        const instrument = exchange.instrument(params.symbol);
        if (!instrument) return fail(failure(RET.paramError, 'params error: symbol invalid'));
        const list = state.trades.latest(instrument.symbol, params.limit ?? 500).map((trade) => ({
          execId: trade.tradeId,
          symbol: trade.symbol,
          price: formatPrice(instrument, trade.priceTicks),
          size: formatQty(instrument, trade.qtyLots),
          side: trade.side,
          time: String(trade.time),
          isBlockTrade: false,
          isRPITrade: false,
          seq: String(trade.seq),
        }));
        return ok({ category: 'linear', list });
      },
    }),

    // ---- trade ----
    orderRoute('/v5/order/create', P.CreateOrderParams, (accountId, params) => createOne(state, accountId, params)),
    orderRoute('/v5/order/amend', P.AmendOrderParams, (accountId, params) => amendOne(state, accountId, params)),
    orderRoute('/v5/order/cancel', P.CancelOrderParams, (accountId, params) => cancelOne(state, accountId, params)),
    route({
      method: 'POST',
      path: '/v5/order/cancel-all',
      access: 'trade',
      perSecond: 10,
      params: P.CancelAllParams,
      handle: (params, context) => {
        const accountId = accountOf(context);
        const symbol = params.symbol;
        if (symbol !== undefined && !exchange.instrument(symbol)) return fail(failure(RET.paramError, 'params error: symbol invalid'));
        const list = exchange.cancelAll(accountId, symbol);
        return ok({ list, success: '1' });
      },
    }),
    batchRoute('/v5/order/create-batch', P.BatchCreateItem, (accountId, item) => createOne(state, accountId, { ...item, category: 'linear' }), (item, outcome, now) => ({
      category: 'linear',
      symbol: item.symbol,
      orderId: outcome.ok ? outcome.value.orderId : '',
      orderLinkId: outcome.ok ? outcome.value.orderLinkId : (item.orderLinkId ?? ''),
      createAt: outcome.ok ? String(now) : '',
    })),
    batchRoute('/v5/order/amend-batch', P.BatchAmendItem, (accountId, item) => amendOne(state, accountId, item), describeRef),
    batchRoute('/v5/order/cancel-batch', P.BatchCancelItem, (accountId, item) => cancelOne(state, accountId, item), describeRef),
    route({
      method: 'GET',
      path: '/v5/order/realtime',
      access: 'read',
      perSecond: 50,
      params: P.OrderQueryParams,
      handle: (params, context) => {
        const accountId = accountOf(context);
        const query = params;
        // openOnly=0 (default): open orders; with orderId/orderLinkId, a recently closed order too.
        // openOnly=1: recent closed orders (Bybit keeps the last 500).
        let orders: SimOrder[];
        if (query.openOnly === '1') orders = exchange.closedOrders(accountId).slice(0, 500).filter((order) => orderMatches(order, query));
        else if (query.orderId !== undefined || query.orderLinkId !== undefined) {
          const found = exchange.findOrder(accountId, query.orderId !== undefined ? { orderId: query.orderId } : { orderLinkId: query.orderLinkId ?? '' });
          orders = found && orderMatches(found, query) ? [found] : [];
        } else orders = exchange.openOrders(accountId, query.symbol).reverse();
        const { items, nextPageCursor } = page(orders, query.limit ?? 20, query.cursor);
        return ok({ category: 'linear', list: orderList(accountId, items), nextPageCursor });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/order/history',
      access: 'read',
      perSecond: 50,
      params: P.OrderQueryParams,
      handle: (params, context) => {
        const accountId = accountOf(context);
        // The 7-day window of the reference (§4.7): none given is the last 7 days; one given spans 7 days
        // from it. Applied to the order's creation time.
        const week = 7 * 24 * 3_600_000;
        const endTime = params.endTime ?? (params.startTime !== undefined ? params.startTime + week : context.now);
        const startTime = params.startTime ?? endTime - week;
        const orders = exchange
          .closedOrders(accountId)
          .filter((order) => orderMatches(order, params) && !isOpen(order.status) && order.createdTime >= startTime && order.createdTime <= endTime);
        const { items, nextPageCursor } = page(orders, params.limit ?? 20, params.cursor);
        return ok({ category: 'linear', list: orderList(accountId, items), nextPageCursor });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/execution/list',
      access: 'read',
      perSecond: 50,
      params: P.ExecutionQueryParams,
      handle: (params, context) => {
        const query = params;
        // Bybit's default window is the last 7 days.
        const endTime = query.endTime ?? context.now;
        const startTime = query.startTime ?? endTime - 7 * 24 * 3_600_000;
        const executions = exchange
          .executions(accountOf(context))
          .filter(
            (execution) =>
              (query.symbol === undefined || execution.symbol === query.symbol) &&
              (query.orderId === undefined || execution.orderId === query.orderId) &&
              (query.orderLinkId === undefined || execution.orderLinkId === query.orderLinkId) &&
              (query.execType === undefined || query.execType === 'Trade') &&
              execution.execTime >= startTime &&
              execution.execTime <= endTime,
          );
        const { items, nextPageCursor } = page(executions, query.limit ?? 50, query.cursor);
        return ok({ category: 'linear', list: items.map((execution) => executionJson(execution, instrumentOf(state, execution.symbol))), nextPageCursor });
      },
    }),

    // ---- position and account ----
    route({
      method: 'GET',
      path: '/v5/position/list',
      access: 'read',
      perSecond: 50,
      params: P.PositionQueryParams,
      handle: (params, context) => {
        const accountId = accountOf(context);
        const { symbol } = params;
        let held;
        if (symbol !== undefined) {
          // With a symbol Bybit returns the row even when flat.
          if (!exchange.instrument(symbol)) return fail(failure(RET.paramError, 'params error: symbol invalid'));
          held = [exchange.position(accountId, symbol)];
        } else held = exchange.positions(accountId).filter((position) => position.position.sizeLots !== 0n);
        const list = held.map((position) => positionJson(exchange, position, instrumentOf(state, position.position.symbol)));
        return ok({ category: 'linear', list, nextPageCursor: '' });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/account/wallet-balance',
      access: 'read',
      perSecond: 50,
      params: P.WalletQueryParams,
      handle: (params, context) => {
        return ok({ list: [walletJson(state, accountOf(context))] });
      },
    }),
    route({
      method: 'GET',
      path: '/v5/account/fee-rate',
      access: 'read',
      perSecond: 5,
      params: P.FeeRateParams,
      handle: (params, context) => {
        const rates = exchange.feeRates(accountOf(context));
        const list = exchange
          .instruments()
          .filter((instrument) => params.symbol === undefined || instrument.symbol === params.symbol)
          .map((instrument) => ({ symbol: instrument.symbol, baseCoin: '', takerFeeRate: rates.takerFeeRate.toFixed(), makerFeeRate: rates.makerFeeRate.toFixed() }));
        return ok({ list });
      },
    }),
    route({
      method: 'POST',
      path: '/v5/order/disconnected-cancel-all',
      access: 'trade',
      perSecond: 5,
      params: P.DcpParams,
      handle: (params, context) => {
        state.dcp.set(accountOf(context), { product: params.product ?? 'OPTIONS', timeWindow: params.timeWindow });
        // Bybit's reply carries no result.
        return { retCode: 0, retMsg: 'success', result: undefined };
      },
    }),
    {
      method: 'GET',
      path: '/v5/account/query-dcp-info',
      access: 'read',
      perSecond: 5,
      handle: (context) => {
        const setting = state.dcp.get(accountOf(context));
        const dcpInfos = setting ? [{ product: setting.product, dcpStatus: 'ON', timeWindow: String(setting.timeWindow) }] : [];
        return ok({ dcpInfos });
      },
    },
    {
      method: 'GET',
      path: '/v5/user/query-api',
      access: 'read',
      perSecond: 10,
      handle: (context) => {
        const key = context.key;
        if (!key) throw new Error('private route without a key');
        return okUser({
          id: String(key.id),
          note: key.note,
          apiKey: key.apiKey,
          readOnly: key.readOnly ? 1 : 0,
          secret: '',
          permissions: key.permissions,
          ips: ipsJson(key),
          type: 1,
          // IP-bound keys do not expire: Bybit reports deadlineDay -2 and the epoch (reference §6.4, §9 row 21).
          ...expiryJson(key, context.now),
          createdAt: new Date(key.createdAt).toISOString(),
          unified: 0,
          uta: 1,
          userID: key.uid,
          inviterID: 0,
          vipLevel: 'No VIP',
          mktMakerLevel: '0',
          affiliateID: 0,
          rsaPublicKey: '',
          isMaster: key.isMaster,
          parentUid: String(key.parentUid),
          kycLevel: 'LEVEL_DEFAULT',
          kycRegion: '',
        });
      },
    },
  ];
}

export function walletJson(state: VenueState, accountId: string): Record<string, unknown> {
  const { exchange } = state;
  const balance = exchange.walletBalance(accountId);
  let unrealised = ZERO;
  for (const held of exchange.positions(accountId)) {
    const mark = exchange.marketState(held.position.symbol).markPrice;
    const instrument = instrumentOf(state, held.position.symbol);
    if (held.position.sizeLots !== 0n && mark.gt(ZERO)) unrealised = unrealised.plus(unrealisedPnl(held.position, instrument, mark));
  }
  const equity = balance.plus(unrealised);
  const cumRealised = exchange.positions(accountId).reduce((total, held) => total.plus(held.cumRealisedPnl), ZERO);
  return {
    accountType: 'UNIFIED',
    accountIMRate: '0',
    accountMMRate: '0',
    accountLTV: '0',
    totalEquity: equity.toFixed(),
    totalWalletBalance: balance.toFixed(),
    totalMarginBalance: equity.toFixed(),
    totalAvailableBalance: equity.toFixed(),
    totalPerpUPL: unrealised.toFixed(),
    totalInitialMargin: '0',
    totalMaintenanceMargin: '0',
    coin: [
      {
        coin: 'USDT',
        equity: equity.toFixed(),
        usdValue: equity.toFixed(),
        walletBalance: balance.toFixed(),
        locked: '0',
        borrowAmount: '0',
        accruedInterest: '0',
        totalOrderIM: '0',
        totalPositionIM: '0',
        totalPositionMM: '0',
        unrealisedPnl: unrealised.toFixed(),
        cumRealisedPnl: cumRealised.toFixed(),
        bonus: '0',
        marginCollateral: true,
        collateralSwitch: true,
        spotBorrow: '0',
      },
    ],
  };
}

/** Linear ticker fields the simulator can derive: prices, top of book and 24 h volume from its trades. */
export function tickerJson(state: VenueState, instrument: Instrument, now: number): Record<string, string> {
  const { exchange } = state;
  const book = exchange.book(instrument.symbol);
  const market = exchange.marketState(instrument.symbol);
  const bid = book.bids.best();
  const ask = book.asks.best();
  const recent = state.trades.since(instrument.symbol, now - 24 * 3_600_000);
  const volume = recent.reduce((total, trade) => total + trade.qtyLots, 0);
  const turnover = recent.reduce((total, trade) => total.plus(notional(instrument, trade.priceTicks, trade.qtyLots)), ZERO);
  return {
    symbol: instrument.symbol,
    lastPrice: market.lastPriceTicks === undefined ? '' : formatPrice(instrument, market.lastPriceTicks),
    markPrice: market.markPrice.toFixed(),
    indexPrice: market.markPrice.toFixed(),
    bid1Price: bid ? formatPrice(instrument, bid.priceTicks) : '',
    bid1Size: bid ? formatQty(instrument, bid.totalLots as Lots) : '',
    ask1Price: ask ? formatPrice(instrument, ask.priceTicks) : '',
    ask1Size: ask ? formatQty(instrument, ask.totalLots as Lots) : '',
    volume24h: formatQty(instrument, volume as Lots),
    turnover24h: turnover.toFixed(),
    fundingRate: '0',
    nextFundingTime: '0',
  };
}
