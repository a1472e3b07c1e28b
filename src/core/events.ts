/**
 * Versioned schemas of the events the system puts on its EventBridge bus. Producers build the detail with
 * these types; consumers parse it with `parseEventDetail`, which names every bad field and refuses an
 * unknown schema version instead of guessing.
 *
 * Every detail carries `schemaVersion` and `eventId`, the idempotency key a consumer deduplicates on:
 *   Fill          fill:<execId>
 *   OrderUpdate   order:<orderLinkId>:<updatedTime>:<status>
 *   Freeze        freeze:<freezeVersion>
 *   Unfreeze      unfreeze:<freezeVersion>
 *   EngineHeartbeat  heartbeat:<shard>:<epoch>:<sentAt>
 *
 * docs/EVENTS.md describes the contract (sources, detail types, delivery, versioning).
 */
import * as z from 'zod';
import { isDecimalString } from './decimal.js';
import { SHARD_NAME, SHARD_NAME_RULE } from './identifiers.js';
import { VENUE_ORDER_STATUSES } from './order.js';

export const EVENT_SOURCES = {
  engine: 'mm-rebate-bot.engine',
  riskEvaluator: 'mm-rebate-bot.risk-evaluator',
  freezeApi: 'mm-rebate-bot.freeze-api',
} as const;
export type EventSource = (typeof EVENT_SOURCES)[keyof typeof EVENT_SOURCES];

export const DETAIL_TYPES = ['Fill', 'OrderUpdate', 'Freeze', 'Unfreeze', 'EngineHeartbeat'] as const;
export type DetailType = (typeof DETAIL_TYPES)[number];

const decimalString = z.string().refine(isDecimalString, { message: 'expected a decimal string such as "65000.10"' });
const nonNegativeDecimalString = decimalString.refine((value) => !value.startsWith('-'), { message: 'expected a non-negative decimal' });
const epochMs = z.number().int().nonnegative();
const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/, { message: 'expected an upper-case symbol such as BTCUSDT' });
/** Bybit: up to 36 characters of [A-Za-z0-9_-] (docs/v5/order/create-order.mdx). */
const orderLinkId = z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, { message: 'expected 1-36 characters of [A-Za-z0-9_-]' });
const shard = z.string().regex(SHARD_NAME, { message: SHARD_NAME_RULE });

export const FillEventV1Schema = z
  .strictObject({
    schemaVersion: z.literal(1),
    eventId: z.string(),
    shard,
    symbol,
    execId: z.string().min(1),
    orderId: z.string().min(1),
    orderLinkId: z.union([orderLinkId, z.literal('')]),
    side: z.enum(['Buy', 'Sell']),
    price: nonNegativeDecimalString,
    qty: nonNegativeDecimalString,
    /** Bybit execFee: positive is a fee paid, negative a rebate earned. */
    fee: decimalString,
    feeRate: decimalString,
    isMaker: z.boolean(),
    execTime: epochMs,
  })
  .refine((event) => event.eventId === `fill:${event.execId}`, { message: 'eventId must be fill:<execId>', path: ['eventId'] });
export type FillEventV1 = z.infer<typeof FillEventV1Schema>;

export const OrderUpdateEventV1Schema = z
  .strictObject({
    schemaVersion: z.literal(1),
    eventId: z.string(),
    shard,
    symbol,
    orderLinkId,
    orderId: z.string().min(1),
    side: z.enum(['Buy', 'Sell']),
    status: z.enum(VENUE_ORDER_STATUSES),
    price: nonNegativeDecimalString,
    qty: nonNegativeDecimalString,
    cumExecQty: nonNegativeDecimalString,
    leavesQty: nonNegativeDecimalString,
    updatedTime: epochMs,
    rejectReason: z.string().optional(),
    cancelType: z.string().optional(),
  })
  .refine((event) => event.eventId === `order:${event.orderLinkId}:${event.updatedTime}:${event.status}`, {
    message: 'eventId must be order:<orderLinkId>:<updatedTime>:<status>',
    path: ['eventId'],
  });
export type OrderUpdateEventV1 = z.infer<typeof OrderUpdateEventV1Schema>;

/** Why trading was frozen; the code is what alarms and dashboards group by. */
export const FREEZE_REASON_CODES = [
  'manual',
  'position-limit',
  'notional-limit',
  'daily-loss',
  'drawdown',
  'edge-collapse',
  'fill-rate-anomaly',
  'stale-engine',
  'venue-error',
  'lease-lost',
] as const;
export type FreezeReasonCode = (typeof FREEZE_REASON_CODES)[number];

const reasonText = z.string().trim().min(1, { message: 'a reason is required' }).max(500);
/** An IAM principal ARN for operators, or the name of the component that acted. */
const actor = z.string().min(1).max(2048);

export const FreezeEventV1Schema = z
  .strictObject({
    schemaVersion: z.literal(1),
    eventId: z.string(),
    /** Monotonic version of the control state this freeze created. */
    freezeVersion: z.number().int().positive(),
    /** Symbols frozen; empty means every symbol. */
    symbols: z.array(symbol).max(200),
    reason: z.strictObject({ code: z.enum(FREEZE_REASON_CODES), message: reasonText }),
    actor,
    frozenAt: epochMs,
  })
  .refine((event) => event.eventId === `freeze:${event.freezeVersion}`, { message: 'eventId must be freeze:<freezeVersion>', path: ['eventId'] });
export type FreezeEventV1 = z.infer<typeof FreezeEventV1Schema>;

export const UnfreezeEventV1Schema = z
  .strictObject({
    schemaVersion: z.literal(1),
    eventId: z.string(),
    /** The freeze version this unfreeze lifted. */
    freezeVersion: z.number().int().positive(),
    reason: z.strictObject({ message: reasonText }),
    actor,
    unfrozenAt: epochMs,
  })
  .refine((event) => event.eventId === `unfreeze:${event.freezeVersion}`, {
    message: 'eventId must be unfreeze:<freezeVersion>',
    path: ['eventId'],
  });
export type UnfreezeEventV1 = z.infer<typeof UnfreezeEventV1Schema>;

/**
 * The engine is alive and says how it stands, every few seconds: the risk evaluator's stale-engine check
 * (and its watchdog) reads the newest one per shard.
 */
export const EngineHeartbeatV1Schema = z
  .strictObject({
    schemaVersion: z.literal(1),
    eventId: z.string(),
    shard,
    /** The generation's epoch (its lease's fencing token). */
    epoch: z.number().int().nonnegative(),
    sentAt: epochMs,
    phase: z.enum(['starting', 'running', 'stopping', 'stopped']),
    frozen: z.boolean(),
    /**
     * The trading key the engine's venue clients use now (Bybit's key id or a fingerprint, never the key):
     * the rotation revokes an old key only once no live engine reports it. Optional, added to version 1.
     */
    keyId: z.string().min(1).max(64).optional(),
    symbols: z
      .array(
        z.strictObject({
          symbol,
          quoting: z.boolean(),
          /** Why it does not quote, if it does not. */
          blockers: z.array(z.string().max(300)).max(20),
          openOrders: z.number().int().nonnegative(),
          position: decimalString,
        }),
      )
      .max(200),
  })
  .refine((event) => event.eventId === `heartbeat:${event.shard}:${event.epoch}:${event.sentAt}`, {
    message: 'eventId must be heartbeat:<shard>:<epoch>:<sentAt>',
    path: ['eventId'],
  });
export type EngineHeartbeatV1 = z.infer<typeof EngineHeartbeatV1Schema>;

/** Schemas by detail type and version. A new version is added here; old ones stay parseable. */
const SCHEMAS = {
  Fill: { 1: FillEventV1Schema },
  OrderUpdate: { 1: OrderUpdateEventV1Schema },
  Freeze: { 1: FreezeEventV1Schema },
  Unfreeze: { 1: UnfreezeEventV1Schema },
  EngineHeartbeat: { 1: EngineHeartbeatV1Schema },
} as const satisfies Record<DetailType, Record<number, z.ZodType>>;

export type EventDetail =
  | { readonly detailType: 'Fill'; readonly detail: FillEventV1 }
  | { readonly detailType: 'OrderUpdate'; readonly detail: OrderUpdateEventV1 }
  | { readonly detailType: 'Freeze'; readonly detail: FreezeEventV1 }
  | { readonly detailType: 'Unfreeze'; readonly detail: UnfreezeEventV1 }
  | { readonly detailType: 'EngineHeartbeat'; readonly detail: EngineHeartbeatV1 };

export type ParseEventResult = { readonly ok: true; readonly event: EventDetail } | { readonly ok: false; readonly errors: readonly string[] };

function isDetailType(value: string): value is DetailType {
  return (DETAIL_TYPES as readonly string[]).includes(value);
}

/** Validates an event detail of the given detail-type; every problem is reported as "path: message". */
export function parseEventDetail(detailType: string, detail: unknown): ParseEventResult {
  if (!isDetailType(detailType)) return { ok: false, errors: [`unknown detail-type ${JSON.stringify(detailType)}`] };
  const version = typeof detail === 'object' && detail !== null ? (detail as Record<string, unknown>).schemaVersion : undefined;
  const versions: Record<number, z.ZodType> = SCHEMAS[detailType];
  const schema = typeof version === 'number' ? versions[version] : undefined;
  if (!schema) return { ok: false, errors: [`schemaVersion: unsupported ${JSON.stringify(version)} for ${detailType}`] };
  const parsed = schema.safeParse(detail);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`) };
  }
  return { ok: true, event: { detailType, detail: parsed.data } as EventDetail };
}
