/**
 * What the engine keeps in DynamoDB and announces on EventBridge, as plain records built from the domain
 * (pure: no I/O, no clock). The store adapter writes these records as items; on a restart it reads them
 * back through the zod schemas below, which name every bad field instead of restoring a corrupt state.
 *
 * Integers that may pass 2^53 (position cost and realised PnL in tick-lots) are kept as decimal strings of
 * an integer, and money as exact decimal strings: nothing goes through a binary float.
 *
 * Writes are fenced by (epoch, revision): the epoch of the engine generation that wrote the item, and a
 * revision that grows with each change within that generation. An item is only ever replaced by a newer
 * generation, or by a higher revision of the same one, so a stale writer can never overwrite newer state.
 */
import * as z from 'zod';
import { type Decimal, dec, isDecimalString } from './decimal.js';
import type { FillEventV1, OrderUpdateEventV1 } from './events.js';
import { type Instrument, formatPrice, formatQty } from './instrument.js';
import { type Order, type OrderStatus, VENUE_ORDER_STATUSES, type VenueOrderReport, isOrderOpen, orderStatus } from './order.js';
import { type Execution, type Position, realisedPnl } from './position.js';
import type { Lots, Ticks } from './units.js';

const side = z.enum(['Buy', 'Sell']);
const count = z.int().nonnegative();
const decimal = z.string().refine(isDecimalString, { message: 'expected a decimal string' });
const integerString = z.string().regex(/^-?\d+$/, { message: 'expected an integer string' });

const VenueReportSchema = z.strictObject({
  orderId: z.string().min(1),
  status: z.enum(VENUE_ORDER_STATUSES),
  priceTicks: count,
  qtyLots: count,
  cumExecLots: count,
  leavesLots: count,
  updatedTime: count,
  rejectReason: z.string().optional(),
  cancelType: z.string().optional(),
});

/** An order, as the orders table keeps it (one item per orderLinkId). */
export const OrderRecordSchema = z.strictObject({
  orderLinkId: z.string().min(1),
  shard: z.string().min(1),
  symbol: z.string().min(1),
  side,
  priceTicks: count,
  qtyLots: count,
  createdAt: count,
  /** The quote level the order holds, or -1 for none (an order found at the venue that nothing quotes with). */
  level: z.int().min(-1),
  status: z.string(),
  /** The venue's newest report; absent while the create is on its way. */
  venue: VenueReportSchema.optional(),
  localRejection: z.string().optional(),
  /** The order as an operator reads it: price and quantity in the instrument's units. */
  price: decimal,
  qty: decimal,
  epoch: count,
  revision: count,
  updatedAt: count,
  /** Set to the shard while the order is open: the sparse index of open orders. */
  openShard: z.string().optional(),
  /** Set to the shard while an order-update event is owed: the outbox index. */
  eventPending: z.string().optional(),
  pendingEventId: z.string().optional(),
});
export type OrderRecord = z.infer<typeof OrderRecordSchema>;

/** One execution, as the fills table keeps it (one item per execId, written once). */
export const FillRecordSchema = z.strictObject({
  execId: z.string().min(1),
  shard: z.string().min(1),
  symbol: z.string().min(1),
  kind: z.enum(['trade', 'funding']),
  orderId: z.string(),
  orderLinkId: z.string(),
  side: z.union([side, z.literal('')]),
  priceTicks: count,
  qtyLots: count,
  price: decimal,
  qty: decimal,
  fee: decimal,
  feeRate: decimal,
  isMaker: z.boolean(),
  execTime: count,
  recordedAt: count,
  /** Epoch seconds after which DynamoDB may delete the item (the table's TTL). */
  expiresAt: count,
  eventPending: z.string().optional(),
  pendingEventId: z.string().optional(),
});
export type FillRecord = z.infer<typeof FillRecordSchema>;

/** A position with its PnL figures, as the positions table keeps it (one item per shard and symbol). */
export const PositionRecordSchema = z.strictObject({
  shard: z.string().min(1),
  symbol: z.string().min(1),
  sizeLots: integerString,
  costTickLots: integerString,
  realisedTickLots: integerString,
  feesPaid: decimal,
  rebatesEarned: decimal,
  fundingPnl: decimal,
  makerLots: integerString,
  takerLots: integerString,
  tradeCount: count,
  lastExecTime: count,
  /** Executions applied to this position, over every generation: its revision. */
  execCount: count,
  epoch: count,
  revision: count,
  updatedAt: count,
  /** For operators and dashboards: the same figures in the instrument's units. */
  position: decimal,
  realisedPnl: decimal,
  netRealised: decimal,
});
export type PositionRecord = z.infer<typeof PositionRecordSchema>;

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

/** Parses an item read back from the store; every bad field is named. */
export function parseRecord<T>(schema: z.ZodType<T>, what: string, item: unknown): T {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  throw new RecordError(`corrupt ${what}: ${problems}`);
}

/** Days a fill stays in the table after it was recorded (the table's TTL deletes it then). */
export const FILL_RETENTION_DAYS = 400;

export function orderRecord(order: Order, instrument: Instrument, meta: { shard: string; level: number | undefined; epoch: number; revision: number; now: number }): OrderRecord {
  const status: OrderStatus = orderStatus(order);
  const venue = order.venue;
  const open = isOrderOpen(order);
  const eventId = venue ? orderEventId(order.intent.orderLinkId, venue) : undefined;
  return {
    orderLinkId: order.intent.orderLinkId,
    shard: meta.shard,
    symbol: order.intent.symbol,
    side: order.intent.side,
    priceTicks: order.intent.priceTicks,
    qtyLots: order.intent.qtyLots,
    createdAt: order.intent.createdAt,
    level: meta.level ?? -1,
    status,
    ...(venue && { venue: withoutUndefined(venue) }),
    ...(order.localRejection !== undefined && { localRejection: order.localRejection }),
    price: formatPrice(instrument, venue?.priceTicks ?? order.intent.priceTicks),
    qty: formatQty(instrument, venue?.qtyLots ?? order.intent.qtyLots),
    epoch: meta.epoch,
    revision: meta.revision,
    updatedAt: meta.now,
    ...(open && { openShard: meta.shard }),
    ...(eventId !== undefined && { eventPending: meta.shard, pendingEventId: eventId }),
  };
}

/** The order as it was written; what the engine had in flight (a cancel, an amend) is not kept. */
export function orderFromRecord(record: OrderRecord): { order: Order; level: number | undefined } {
  const intent = { orderLinkId: record.orderLinkId, symbol: record.symbol, side: record.side, priceTicks: record.priceTicks as Ticks, qtyLots: record.qtyLots as Lots, createdAt: record.createdAt };
  const stored = record.venue;
  const venue: VenueOrderReport | undefined = stored && {
    orderId: stored.orderId,
    status: stored.status,
    priceTicks: stored.priceTicks as Ticks,
    qtyLots: stored.qtyLots as Lots,
    cumExecLots: stored.cumExecLots as Lots,
    leavesLots: stored.leavesLots as Lots,
    updatedTime: stored.updatedTime,
    ...(stored.rejectReason !== undefined && { rejectReason: stored.rejectReason }),
    ...(stored.cancelType !== undefined && { cancelType: stored.cancelType }),
  };
  const order: Order = {
    intent,
    ...(venue && { venue, orderId: venue.orderId }),
    ...(record.localRejection !== undefined && { localRejection: record.localRejection }),
  };
  return { order, level: record.level >= 0 ? record.level : undefined };
}

export function orderEventId(orderLinkId: string, venue: Pick<VenueOrderReport, 'updatedTime' | 'status'>): string {
  return `order:${orderLinkId}:${venue.updatedTime}:${venue.status}`;
}

export function fillRecord(execution: Execution, instrument: Instrument, meta: { shard: string; now: number }): FillRecord {
  const trade = execution.kind === 'trade' ? execution : undefined;
  return {
    execId: execution.execId,
    shard: meta.shard,
    symbol: execution.symbol,
    kind: execution.kind,
    orderId: trade?.orderId ?? '',
    orderLinkId: trade?.orderLinkId ?? '',
    side: trade?.side ?? '',
    priceTicks: trade?.priceTicks ?? 0,
    qtyLots: trade?.qtyLots ?? 0,
    price: trade ? formatPrice(instrument, trade.priceTicks) : '0',
    qty: trade ? formatQty(instrument, trade.qtyLots) : '0',
    fee: execution.fee.toFixed(),
    feeRate: trade ? trade.feeRate.toFixed() : '0',
    isMaker: trade?.isMaker ?? false,
    execTime: execution.execTime,
    recordedAt: meta.now,
    expiresAt: Math.floor(meta.now / 1000) + FILL_RETENTION_DAYS * 86_400,
    // Funding is not a fill: the bus carries trades only.
    ...(trade && { eventPending: meta.shard, pendingEventId: `fill:${execution.execId}` }),
  };
}

export function positionRecord(position: Position, instrument: Instrument, meta: { shard: string; execCount: number; epoch: number; revision: number; now: number }): PositionRecord {
  // Realised figures need no mark; unrealised PnL moves with every tick and is the engine's to report.
  const realised = realisedPnl(position, instrument);
  const netRealised = realised.minus(position.feesPaid).plus(position.rebatesEarned).plus(position.fundingPnl);
  return {
    shard: meta.shard,
    symbol: position.symbol,
    sizeLots: position.sizeLots.toString(),
    costTickLots: position.costTickLots.toString(),
    realisedTickLots: position.realisedTickLots.toString(),
    feesPaid: position.feesPaid.toFixed(),
    rebatesEarned: position.rebatesEarned.toFixed(),
    fundingPnl: position.fundingPnl.toFixed(),
    makerLots: position.makerLots.toString(),
    takerLots: position.takerLots.toString(),
    tradeCount: position.tradeCount,
    lastExecTime: position.lastExecTime,
    execCount: meta.execCount,
    epoch: meta.epoch,
    revision: meta.revision,
    updatedAt: meta.now,
    position: dec(position.sizeLots).times(instrument.qtyStep).toFixed(),
    realisedPnl: realised.toFixed(),
    netRealised: netRealised.toFixed(),
  };
}

export function positionFromRecord(record: PositionRecord): { position: Position; execCount: number } {
  const decimalOf = (value: string): Decimal => dec(value);
  return {
    position: {
      symbol: record.symbol,
      sizeLots: BigInt(record.sizeLots),
      costTickLots: BigInt(record.costTickLots),
      realisedTickLots: BigInt(record.realisedTickLots),
      feesPaid: decimalOf(record.feesPaid),
      rebatesEarned: decimalOf(record.rebatesEarned),
      fundingPnl: decimalOf(record.fundingPnl),
      makerLots: BigInt(record.makerLots),
      takerLots: BigInt(record.takerLots),
      tradeCount: record.tradeCount,
      lastExecTime: record.lastExecTime,
    },
    execCount: record.execCount,
  };
}

/** The Fill event of a trade, built from its record (what the outbox republishes after a restart). */
export function fillEvent(record: FillRecord): FillEventV1 {
  if (record.kind !== 'trade' || record.side === '') throw new RecordError(`execution ${record.execId} is not a trade`);
  return {
    schemaVersion: 1,
    eventId: `fill:${record.execId}`,
    shard: record.shard,
    symbol: record.symbol,
    execId: record.execId,
    orderId: record.orderId,
    orderLinkId: record.orderLinkId,
    side: record.side,
    price: record.price,
    qty: record.qty,
    fee: record.fee,
    feeRate: record.feeRate,
    isMaker: record.isMaker,
    execTime: record.execTime,
  };
}

/** The OrderUpdate event of the venue state an order record holds; none while the venue has not reported. */
export function orderUpdateEvent(record: OrderRecord, instrument: Instrument): OrderUpdateEventV1 | undefined {
  const venue = record.venue;
  if (!venue) return undefined;
  return {
    schemaVersion: 1,
    eventId: orderEventId(record.orderLinkId, venue),
    shard: record.shard,
    symbol: record.symbol,
    orderLinkId: record.orderLinkId,
    orderId: venue.orderId,
    side: record.side,
    status: venue.status,
    price: formatPrice(instrument, venue.priceTicks as Ticks),
    qty: formatQty(instrument, venue.qtyLots as Lots),
    cumExecQty: formatQty(instrument, venue.cumExecLots as Lots),
    leavesQty: formatQty(instrument, venue.leavesLots as Lots),
    updatedTime: venue.updatedTime,
    ...(venue.rejectReason !== undefined && venue.rejectReason !== '' && { rejectReason: venue.rejectReason }),
    ...(venue.cancelType !== undefined && venue.cancelType !== '' && { cancelType: venue.cancelType }),
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
