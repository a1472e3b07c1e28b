/**
 * Status queries over REST for the router and for reconciliation. By orderLinkId, /v5/order/realtime
 * answers open and recently closed orders (it ignores openOnly when an id is given, and keeps the last 500
 * closed ones); older orders are found in /v5/order/history. A venue error throws, so that the caller
 * retries rather than mistaking it for "no such order".
 */
import type { RestClientV5 } from 'bybit-api';
import type { GridCodec } from '../../core/instrument.js';
import type { VenueOrderReport } from '../../core/order.js';
import { parseOrder, toVenueOrderReport } from './messages.js';

export class VenueQueryError extends Error {
  override readonly name = 'VenueQueryError';
}

function listOf(response: { retCode: number; retMsg: string; result: { list?: unknown } }, what: string): unknown[] {
  if (response.retCode !== 0) throw new VenueQueryError(`${what} failed: ${response.retCode} ${response.retMsg}`);
  return Array.isArray(response.result.list) ? response.result.list : [];
}

export function restStatusQuery(client: RestClientV5, codecs: ReadonlyMap<string, GridCodec>) {
  return async (symbol: string, orderLinkId: string): Promise<VenueOrderReport | undefined> => {
    const codec = codecs.get(symbol);
    if (!codec) throw new VenueQueryError(`no instrument for ${symbol}`);
    const recent = listOf(await client.getActiveOrders({ category: 'linear', symbol, orderLinkId }), 'order.realtime');
    const older = recent.length > 0 ? recent : listOf(await client.getHistoricOrders({ category: 'linear', symbol, orderLinkId }), 'order.history');
    const found = older[0];
    return found === undefined ? undefined : toVenueOrderReport(parseOrder(found), codec);
  };
}
