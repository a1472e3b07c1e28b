/**
 * Bybit v5 JSON shapes of orders, executions, positions and the wallet, shared by the REST endpoints and
 * the private WebSocket topics. All numbers are strings, as Bybit sends them. Field lists follow
 * docs/v5/order/open-order.mdx, docs/v5/order/execution.mdx, docs/v5/position/position.mdx and
 * docs/v5/account/wallet-balance.mdx (see sim/README.md).
 */
import { type Decimal, ZERO } from '../../src/core/decimal.js';
import { type Instrument, formatPrice, formatQty, lotsToQty, ticksToPrice } from '../../src/core/instrument.js';
import { averageEntryPrice, unrealisedPnl } from '../../src/core/position.js';
import type { Exchange, SimExecution, SimOrder, SimPosition } from '../exchange/exchange.js';

const plain = (value: Decimal): string => value.toFixed();

/** Volume-weighted price of what has filled; "0" before any fill. */
function averagePrice(order: SimOrder, instrument: Instrument): string {
  if (order.cumExecLots === 0) return '0';
  return order.cumExecValue.div(lotsToQty(instrument, order.cumExecLots)).round(8).toFixed();
}

export interface OrderJson {
  readonly [field: string]: string | number | boolean;
}

export function orderJson(order: SimOrder, instrument: Instrument): OrderJson {
  const leavesQty = lotsToQty(instrument, order.leavesLots);
  const price = order.orderType === 'Market' ? ZERO : ticksToPrice(instrument, order.priceTicks);
  return {
    orderId: order.orderId,
    orderLinkId: order.orderLinkId,
    blockTradeId: '',
    symbol: order.symbol,
    price: order.orderType === 'Market' ? '0' : formatPrice(instrument, order.priceTicks),
    qty: formatQty(instrument, order.qtyLots),
    side: order.side,
    isLeverage: '',
    positionIdx: 0,
    orderStatus: order.status,
    createType: 'CreateByUser',
    cancelType: order.cancelType,
    rejectReason: order.rejectReason,
    avgPrice: averagePrice(order, instrument),
    leavesQty: leavesQty.toFixed(instrument.qtyDecimals),
    leavesValue: plain(leavesQty.times(price)),
    cumExecQty: formatQty(instrument, order.cumExecLots),
    cumExecValue: plain(order.cumExecValue),
    cumExecFee: plain(order.cumExecFee),
    cumFeeDetail: '',
    timeInForce: order.timeInForce,
    orderType: order.orderType,
    stopOrderType: '',
    orderIv: '',
    marketUnit: '',
    triggerPrice: '',
    takeProfit: '',
    stopLoss: '',
    tpslMode: '',
    ocoTriggerBy: '',
    tpLimitPrice: '',
    slLimitPrice: '',
    tpTriggerBy: '',
    slTriggerBy: '',
    triggerDirection: 0,
    triggerBy: '',
    lastPriceOnCreated: '',
    reduceOnly: order.reduceOnly,
    closeOnTrigger: false,
    placeType: '',
    smpType: 'None',
    smpGroup: 0,
    smpOrderId: '',
    createdTime: String(order.createdTime),
    updatedTime: String(order.updatedTime),
  };
}

export function executionJson(execution: SimExecution, instrument: Instrument): Record<string, string | boolean | number> {
  return {
    symbol: execution.symbol,
    orderId: execution.orderId,
    orderLinkId: execution.orderLinkId,
    side: execution.side,
    orderPrice: execution.orderType === 'Market' ? '0' : formatPrice(instrument, execution.orderPriceTicks),
    orderQty: formatQty(instrument, execution.orderQtyLots),
    leavesQty: formatQty(instrument, execution.leavesLots),
    createType: 'CreateByUser',
    orderType: execution.orderType,
    stopOrderType: '',
    execFee: execution.execFee.toFixed(8),
    execFeeV2: '',
    execId: execution.execId,
    execPrice: formatPrice(instrument, execution.execPriceTicks),
    execQty: formatQty(instrument, execution.execQtyLots),
    execType: 'Trade',
    execValue: plain(execution.execValue),
    execTime: String(execution.execTime),
    feeCurrency: instrument.settleCoin,
    isMaker: execution.isMaker,
    feeRate: plain(execution.feeRate),
    tradeIv: '',
    markIv: '',
    markPrice: plain(execution.markPrice),
    indexPrice: '',
    underlyingPrice: '',
    blockTradeId: '',
    closedSize: formatQty(instrument, execution.closedLots),
    seq: execution.seq,
    extraFees: '',
  };
}

export function positionJson(exchange: Exchange, held: SimPosition, instrument: Instrument): Record<string, string | number | boolean> {
  const { position } = held;
  const size = position.sizeLots < 0n ? -position.sizeLots : position.sizeLots;
  const markPrice = exchange.marketState(instrument.symbol).markPrice;
  const entry = averageEntryPrice(position, instrument);
  const sizeQty = lotsToQty(instrument, size);
  return {
    positionIdx: 0,
    riskId: 1,
    riskLimitValue: '2000000',
    symbol: instrument.symbol,
    side: position.sizeLots > 0n ? 'Buy' : position.sizeLots < 0n ? 'Sell' : '',
    size: sizeQty.toFixed(instrument.qtyDecimals),
    avgPrice: entry ? entry.round(8).toFixed() : '0',
    positionValue: plain(entry ? sizeQty.times(entry).round(8) : ZERO),
    tradeMode: 0,
    autoAddMargin: 0,
    positionStatus: 'Normal',
    leverage: '10',
    markPrice: plain(markPrice),
    liqPrice: '',
    bustPrice: '',
    positionIM: '0',
    positionMM: '0',
    positionBalance: '0',
    takeProfit: '0',
    stopLoss: '0',
    trailingStop: '0',
    sessionAvgPrice: '',
    delta: '',
    gamma: '',
    vega: '',
    theta: '',
    unrealisedPnl: plain(markPrice.gt(ZERO) ? unrealisedPnl(position, instrument, markPrice).round(8) : ZERO),
    curRealisedPnl: plain(held.cumRealisedPnl),
    cumRealisedPnl: plain(held.cumRealisedPnl),
    adlRankIndicator: 0,
    createdTime: String(held.updatedTime),
    updatedTime: String(held.updatedTime),
    seq: held.seq,
    isReduceOnly: false,
    mmrSysUpdatedTime: '',
    leverageSysUpdatedTime: '',
  };
}
