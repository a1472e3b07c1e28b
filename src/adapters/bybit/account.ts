/**
 * The venue-account port (src/ports/venue-account.ts) over bybit-api's RestClientV5, for category=linear in
 * one-way mode, plus the instrument loader the engine starts from. Endpoints (bybit-exchange/docs):
 *   GET  /v5/market/instruments-info          docs/v5/market/instrument.mdx
 *   GET  /v5/order/realtime                   docs/v5/order/open-order.mdx
 *   GET  /v5/position/list                    docs/v5/position/position.mdx
 *   POST /v5/order/cancel-all                 docs/v5/order/cancel-all.mdx
 *   POST /v5/order/disconnected-cancel-all    docs/v5/order/dcp.mdx
 *   GET  /v5/account/fee-rate                 docs/v5/account/fee-rate.mdx
 * (shapes summarised in sim/reference/bybit-v5-rest.md §3.2, §4.4, §4.6, §5.1, §5.3, §5.4).
 *
 * A non-zero retCode, or anything bybit-api throws (HTTP errors, transport errors), becomes a
 * VenueQueryError; a malformed answer is a BybitMessageError naming the field. Neither ever carries the
 * thrown object: bybit-api's HTTP error holds the client options, API secret included.
 */
import type { RestClientV5 } from 'bybit-api';
import * as z from 'zod';
import { type Decimal, dec, isDecimalString } from '../../core/decimal.js';
import { type GridCodec, type Instrument, gridCodec, parseLinearInstrument } from '../../core/instrument.js';
import { isTerminalStatus } from '../../core/order.js';
import type { VenueAccount, VenueOpenOrder } from '../../ports/venue-account.js';
import { BybitMessageError, BybitPositionSchema, parseOrder, parseWith, signedPositionLots, toVenueOrderReport } from './messages.js';
import { VenueQueryError } from './queries.js';

/** Bybit's largest page for GET /v5/order/realtime (docs/v5/order/open-order.mdx: limit [1, 50]). */
const OPEN_ORDERS_PAGE = 50;

interface Envelope {
  readonly retCode: number;
  readonly retMsg: string;
}

/** What bybit-api threw, as text that is safe to log: only codes and messages, never the object. */
export function describeThrown(thrown: unknown): string {
  // On a failed request before any answer, bybit-api throws the bare message string.
  if (typeof thrown === 'string') return thrown.slice(0, 200);
  if (typeof thrown === 'object' && thrown !== null) {
    const { code, retCode, retMsg, message } = thrown as { code?: unknown; retCode?: unknown; retMsg?: unknown; message?: unknown };
    // With throwExceptions set, bybit-api rejects with the venue's envelope.
    if (typeof retCode === 'number') return `${retCode} ${typeof retMsg === 'string' ? retMsg : ''}`.trim();
    const text = typeof message === 'string' ? message.slice(0, 200) : '';
    if (typeof code === 'number') return `HTTP ${code} ${text}`.trim();
    if (typeof code === 'string') return `${code} ${text}`.trim();
    if (text !== '') return text;
  }
  return 'transport error';
}

/** Runs one request; resolves only with a retCode 0 answer. `what` names the request in errors. */
async function venueCall<T extends Envelope>(what: string, work: () => Promise<T>): Promise<T> {
  let response: T;
  try {
    response = await work();
  } catch (thrown) {
    throw new VenueQueryError(`${what} failed: ${describeThrown(thrown)}`);
  }
  if (response.retCode !== 0) throw new VenueQueryError(`${what} failed: ${response.retCode} ${response.retMsg}`);
  return response;
}

const decimalString = z.string().refine(isDecimalString, { message: 'expected a decimal string' });

/** One page of GET /v5/order/realtime: the orders are parsed one by one by parseOrder. */
const OrderPageSchema = z.looseObject({ list: z.array(z.unknown()), nextPageCursor: z.string().optional() });

const PositionListSchema = z.looseObject({ list: z.array(BybitPositionSchema) });

const FeeRateListSchema = z.looseObject({ list: z.array(z.looseObject({ symbol: z.string(), makerFeeRate: decimalString })) });

const CancelAllSchema = z.looseObject({ list: z.array(z.unknown()), success: z.string().optional() });

/**
 * The rules of each symbol, one GET /v5/market/instruments-info call per symbol. Bybit answers an unknown
 * symbol (or one not in status Trading, the linear default filter) with an empty list, so that is an error
 * here rather than a missing entry.
 */
export async function loadInstruments(client: RestClientV5, symbols: readonly string[]): Promise<Map<string, Instrument>> {
  const instruments = new Map<string, Instrument>();
  for (const symbol of symbols) {
    const what = `instruments-info ${symbol}`;
    const response = await venueCall(what, () => client.getInstrumentsInfo({ category: 'linear', symbol }));
    const { list } = parseWith(z.looseObject({ list: z.array(z.unknown()) }), response.result, what);
    const [raw] = list;
    if (raw === undefined) throw new VenueQueryError(`unknown linear symbol ${symbol}: instruments-info returned no instrument`);
    const instrument = parseLinearInstrument(raw);
    if (instrument.symbol !== symbol) throw new VenueQueryError(`${what}: the venue answered with ${instrument.symbol}`);
    instruments.set(symbol, instrument);
  }
  return instruments;
}

export class RestVenueAccount implements VenueAccount {
  private readonly codecs: ReadonlyMap<string, GridCodec>;

  constructor(
    private readonly client: RestClientV5,
    instruments: ReadonlyMap<string, Instrument>,
  ) {
    this.codecs = new Map([...instruments].map(([symbol, instrument]) => [symbol, gridCodec(instrument)]));
  }

  private codecOf(symbol: string): GridCodec {
    const codec = this.codecs.get(symbol);
    if (!codec) throw new VenueQueryError(`no instrument for ${symbol}`);
    return codec;
  }

  async openOrders(symbol: string): Promise<VenueOpenOrder[]> {
    const codec = this.codecOf(symbol);
    // Orders created or closed between two page requests can shift the pages, so one order may be seen
    // twice; the first sighting is kept (reconciliation repeats, and the order stream corrects the rest).
    const byOrderId = new Map<string, VenueOpenOrder>();
    const seenCursors = new Set<string>();
    let cursor: string | undefined;
    do {
      const request = { category: 'linear' as const, symbol, openOnly: 0 as const, limit: OPEN_ORDERS_PAGE, ...(cursor !== undefined && { cursor }) };
      const response = await venueCall('order.realtime', () => this.client.getActiveOrders(request));
      const page = parseWith(OrderPageSchema, response.result, 'order.realtime page');
      for (const raw of page.list) {
        const order = parseOrder(raw);
        if (order.symbol !== symbol) throw new VenueQueryError(`order.realtime for ${symbol} returned order ${order.orderId} of ${order.symbol}`);
        // openOnly=0 asks for open orders only; a closed one slipping through must not look live.
        if (isTerminalStatus(order.orderStatus) || byOrderId.has(order.orderId)) continue;
        byOrderId.set(order.orderId, { orderLinkId: order.orderLinkId, symbol: order.symbol, side: order.side, report: toVenueOrderReport(order, codec) });
      }
      cursor = page.nextPageCursor === undefined || page.nextPageCursor === '' ? undefined : page.nextPageCursor;
      // A cursor seen before would loop for ever; answering a partial list would hide orders.
      if (cursor !== undefined && seenCursors.has(cursor)) throw new VenueQueryError(`order.realtime for ${symbol}: the page cursor repeated`);
      if (cursor !== undefined) seenCursors.add(cursor);
    } while (cursor !== undefined);
    return [...byOrderId.values()];
  }

  /**
   * The symbol's closed orders created in [startTime, endTime] (GET /v5/order/history, at most 7 days;
   * Bybit keeps fully cancelled ones for 24 hours), every page.
   */
  async closedOrders(symbol: string, startTime: number, endTime: number): Promise<VenueOpenOrder[]> {
    const codec = this.codecOf(symbol);
    const found = new Map<string, VenueOpenOrder>();
    const seenCursors = new Set<string>();
    let cursor: string | undefined;
    do {
      const request = { category: 'linear' as const, symbol, startTime, endTime, limit: OPEN_ORDERS_PAGE, ...(cursor !== undefined && { cursor }) };
      const response = await venueCall('order.history', () => this.client.getHistoricOrders(request));
      const page = parseWith(OrderPageSchema, response.result, 'order.history page');
      for (const raw of page.list) {
        const order = parseOrder(raw);
        if (order.symbol !== symbol || !isTerminalStatus(order.orderStatus)) continue;
        found.set(order.orderId, { orderLinkId: order.orderLinkId, symbol, side: order.side, report: toVenueOrderReport(order, codec) });
      }
      cursor = page.nextPageCursor === undefined || page.nextPageCursor === '' ? undefined : page.nextPageCursor;
      if (cursor !== undefined && seenCursors.has(cursor)) throw new VenueQueryError(`order.history for ${symbol}: the page cursor repeated`);
      if (cursor !== undefined) seenCursors.add(cursor);
    } while (cursor !== undefined);
    return [...found.values()];
  }

  async positionLots(symbol: string): Promise<bigint> {
    const codec = this.codecOf(symbol);
    const response = await venueCall('position.list', () => this.client.getPositionInfo({ category: 'linear', symbol }));
    const { list } = parseWith(PositionListSchema, response.result, 'position.list');
    const rows = list.filter((row) => row.symbol === symbol);
    // With a symbol Bybit returns the row even when flat, and one row in one-way mode: anything else is
    // not an answer we can read a position from.
    const [row] = rows;
    if (row === undefined || rows.length > 1) throw new BybitMessageError(`malformed position.list: expected one row for ${symbol}, got ${rows.length}`);
    return signedPositionLots(row, codec);
  }

  // cancelAll and makerFeeRate need no instrument rules, so a symbol outside the map is left to the venue:
  // a safety cancel must not be refused for want of local configuration.
  async cancelAll(symbol: string): Promise<number> {
    const response = await venueCall('order.cancel-all', () => this.client.cancelAllOrders({ category: 'linear', symbol }));
    const result = parseWith(CancelAllSchema, response.result, 'order.cancel-all');
    // `success` ("1" or "0") was added to the docs in 2024; older answers omit it.
    if (result.success === '0') throw new VenueQueryError(`order.cancel-all failed: the venue answered success "0"`);
    return result.list.length;
  }

  async armDisconnectCancel(windowSeconds: number): Promise<void> {
    // The venue checks the window ([3, 300] s, docs/v5/order/dcp.mdx) and answers 10001 outside it.
    // `product` defaults to OPTIONS, so DERIVATIVES must be named for linear perpetuals.
    await venueCall('order.disconnected-cancel-all', () => this.client.setDisconnectCancelAllWindowV2({ product: 'DERIVATIVES', timeWindow: windowSeconds }));
  }

  async makerFeeRate(symbol: string): Promise<Decimal> {
    const response = await venueCall('account.fee-rate', () => this.client.getFeeRate({ category: 'linear', symbol }));
    const { list } = parseWith(FeeRateListSchema, response.result, 'account.fee-rate');
    const entry = list.find((item) => item.symbol === symbol);
    if (!entry) throw new BybitMessageError(`malformed account.fee-rate: no entry for ${symbol}`);
    return dec(entry.makerFeeRate);
  }
}
