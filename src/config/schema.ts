/**
 * The engine's configuration schema: every setting, its unit, its default and its bounds, in one place.
 * Objects are strict, so a misspelt key is an error rather than a silently ignored setting.
 *
 * Fractional settings (quantities, notionals, basis points) are decimal strings validated with
 * `isDecimalString` and kept as strings: they reach `dec()` exact, never through a JS float. Every numeric
 * setting is an integer (milliseconds, counts, ticks, ports).
 *
 * Only the *id* of the venue credentials' secret is configured, never the secret itself, which is why the
 * effective configuration can be printed (`--print-config`) and logged safely.
 */
import { SHARD_NAME, SHARD_NAME_RULE } from '../core/identifiers.js';
import * as z from 'zod';
import { type Decimal, ZERO, dec, isDecimalString } from '../core/decimal.js';

type DecimalSign = 'any' | 'nonNegative' | 'positive';

const DECIMAL_MESSAGE = 'expected a decimal string such as "0.25" (quoted, so it stays exact)';
const SIGN_RULES: Readonly<Record<Exclude<DecimalSign, 'any'>, { test: (value: Decimal) => boolean; message: string }>> = {
  nonNegative: { test: (value) => value.gte(ZERO), message: 'expected a decimal >= 0' },
  positive: { test: (value) => value.gt(ZERO), message: 'expected a decimal > 0' },
};

/** A decimal string with an optional sign rule; the sign is checked exactly, with Decimal comparison. */
/** The risk evaluator's default for a window's traded notional before its edge is judged, in USDT. */
export const DEFAULT_EDGE_COLLAPSE_MIN_NOTIONAL = '25000';

function decimalString(sign: DecimalSign): z.ZodString {
  // abort: the sign rule would call dec() on a string that is not a decimal.
  const format = z.string({ error: DECIMAL_MESSAGE }).refine(isDecimalString, { message: DECIMAL_MESSAGE, abort: true });
  if (sign === 'any') return format;
  const rule = SIGN_RULES[sign];
  return format.refine((value) => rule.test(dec(value)), { message: rule.message });
}

const positiveInt = (): z.ZodNumber => z.int().positive();
const nonNegativeInt = (): z.ZodNumber => z.int().nonnegative();

/** Same rule as resourceNames() in src/resources/definitions.ts, so a bad stage fails here, by name. */
const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,30}$/;

const httpUrl = (fallback: string): z.ZodDefault<z.ZodURL> => z.url({ protocol: /^https?$/ }).default(fallback);
const wsUrl = (fallback: string): z.ZodDefault<z.ZodURL> => z.url({ protocol: /^wss?$/ }).default(fallback);

/** Per-symbol settings before cross-field checks; `symbolDefaults` in the file is the partial of this. */
const SymbolFieldsSchema = z.strictObject({
  /** Whether the engine quotes this symbol at all; false keeps it configured but idle. */
  enabled: z.boolean().default(true),
  /** Size of each quote, in base-coin contracts (e.g. BTC); rounded down to the lot size. */
  orderQty: decimalString('positive'),
  /** Quote levels per side, count. */
  levels: z.int().min(1).max(5).default(1),
  /** Distance between consecutive levels, in basis points of fair value. */
  levelSpacingBps: decimalString('nonNegative').default('1'),
  /** Minimum expected edge per fill including the maker rebate, in basis points; below it the side is pulled. */
  minEdgeBps: decimalString('any').default('0.5'),
  /** Half-life of the exponentially weighted volatility estimate, in milliseconds. */
  volatilityHalfLifeMs: positiveInt().default(30_000),
  /** Half-spread added per unit of estimated volatility, dimensionless multiplier. */
  volatilitySpreadMultiplier: decimalString('nonNegative').default('1.5'),
  /** Reservation-price shift per unit of inventory fraction (position / maxPosition), in basis points. */
  inventorySkewBps: decimalString('nonNegative').default('2'),
  /** Largest absolute position, in base-coin contracts; quotes that could exceed it are not sent. */
  maxPosition: decimalString('positive'),
  /** Largest absolute position value, in quote currency (USDT). */
  maxNotional: decimalString('positive'),
  /** A resting quote within this many ticks of its target is left alone instead of amended, in ticks. */
  refreshToleranceTicks: nonNegativeInt().default(2),
  /** Fair value moving this many ticks through a quote cancels it at once, in ticks. */
  fastCancelTicks: positiveInt().default(3),
  /** Pre-trade risk refuses orders priced further than this from fair value, in basis points. */
  priceBandBps: decimalString('positive').default('50'),
  /** How fair value is derived from the top of book: plain mid or size-weighted microprice. */
  fairValue: z.enum(['mid', 'microprice']).default('microprice'),
  /** A book with no update for this long is stale and quotes are pulled, in milliseconds. */
  staleBookMs: positiveInt().default(2000),
});

export const SymbolSettingsSchema = SymbolFieldsSchema.refine((settings) => dec(settings.orderQty).lte(dec(settings.maxPosition)), {
  message: 'orderQty must not exceed maxPosition',
  path: ['orderQty'],
});
export type SymbolSettings = z.output<typeof SymbolSettingsSchema>;

/** `symbolDefaults` in the file: any per-symbol setting, filled in under each symbol's own settings. */
export const SymbolDefaultsSchema = SymbolFieldsSchema.partial();

// No prefault: the section has a required setting, so a missing venue is reported as such.
const VenueSchema = z.strictObject({
  /** Bybit v5 REST base URL. */
  restUrl: httpUrl('https://api.bybit.com'),
  /** Public WebSocket for linear perpetuals (order book, trades). */
  wsPublicUrl: wsUrl('wss://stream.bybit.com/v5/public/linear'),
  /** Private WebSocket (order, execution, position, wallet, dcp streams). */
  wsPrivateUrl: wsUrl('wss://stream.bybit.com/v5/private'),
  /** Order-entry WebSocket. */
  wsTradeUrl: wsUrl('wss://stream.bybit.com/v5/trade'),
  /** recv_window sent with signed requests: how stale a request the venue still accepts, in milliseconds. */
  recvWindowMs: positiveInt().default(5000),
  /** Secrets Manager id (name or ARN) of the trading key; the key itself is never in the configuration. */
  credentialsSecretId: z.string().min(1),
  /** How often the engine re-reads its key (a rotation is picked up within this), in ms: one GetSecretValue a minute costs nothing. */
  credentialsCacheTtlMs: nonNegativeInt().default(60_000),
  /** Disconnect-cancel-all window: the venue cancels our orders this long after losing us, in seconds (Bybit: 3..300). */
  dcpWindowSeconds: z.int().min(3).max(300).default(10),
  /** Bybit's per-IP request limit per 5 seconds, shared by every task behind one NAT IP, in requests. */
  ipRequestBudgetPer5s: positiveInt().default(600),
  /** Tasks sharing that IP; each task keeps to its share of the budget, count. */
  tasksSharingIp: z.int().min(1).default(1),
});

const RiskSchema = z
  .strictObject({
    /** Open orders allowed across the shard, count. */
    maxOpenOrders: positiveInt().default(50),
    /** Order requests (new, amend, cancel) allowed per second, across the shard; the last two per symbol (at most half) only for level-0 quotes. */
    ordersPerSecond: positiveInt().default(8),
    /** Fat-finger check: an order may be at most this multiple of the symbol's orderQty, dimensionless. */
    maxOrderQtyMultiple: decimalString('positive').default('5'),
    /** Quoting stops when the rolling markout edge falls below this, in basis points. */
    edgeCollapseBps: decimalString('any').default('-1'),
    /** Fills in the rolling window the edge is measured over, count. */
    edgeWindowFills: positiveInt().default(200),
    /** Horizons at which each fill is marked out against fair value, in milliseconds. */
    markoutHorizonsMs: z.array(positiveInt()).min(1).default([1000, 5000, 30_000]),
    /** Loss from the PnL high-water mark that freezes trading, in quote currency (USDT). */
    maxDrawdown: decimalString('positive').default('500'),
    /**
     * Notional a window of the risk evaluator must have traded before its edge is judged against
     * edgeCollapseBps, in USDT: less is noise, as a few fills and the inventory's mark-to-market decide it.
     */
    edgeCollapseMinNotional: decimalString('nonNegative').default(DEFAULT_EDGE_COLLAPSE_MIN_NOTIONAL),
  })
  .prefault({});

const RouterSchema = z
  .strictObject({
    /** A venue request without an answer after this long counts as failed, in milliseconds. */
    requestTimeoutMs: positiveInt().default(2000),
    /** Retries of a failed idempotent request, count. */
    maxRetries: nonNegativeInt().default(3),
    /** First retry delay, doubled per retry, in milliseconds. */
    backoffBaseMs: positiveInt().default(100),
    /** Ceiling of the retry delay, in milliseconds. */
    backoffMaxMs: positiveInt().default(2000),
    /** Consecutive failures that open the circuit breaker, count. */
    breakerFailures: positiveInt().default(5),
    /** How long an open breaker refuses requests before trying one, in milliseconds. */
    breakerCooldownMs: positiveInt().default(10_000),
    /** Share of each venue rate limit left unused, as a margin for requests that arrive late and together, in percent. */
    rateLimitHeadroomPercent: z.int().min(0).max(50).default(20),
    /** Send orders over the trade WebSocket, with REST as fallback; false uses REST only. */
    preferWebSocket: z.boolean().default(true),
  })
  .refine((router) => router.backoffMaxMs >= router.backoffBaseMs, { message: 'backoffMaxMs must be >= backoffBaseMs', path: ['backoffMaxMs'] })
  .prefault({});

const EngineSchema = z
  .strictObject({
    /** Port of the health and status HTTP server; 0 picks a free one (tests). */
    healthPort: z.int().min(0).max(65_535).default(8080),
    /** On stop, how long to wait for cancels to be confirmed before exiting anyway, in milliseconds. */
    stopTimeoutMs: positiveInt().default(20_000),
    /** Interval of the status line and heartbeat, in milliseconds. */
    statusIntervalMs: positiveInt().default(1000),
    /** Log lines below this level are not written. */
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    /** Interval of the CloudWatch metrics (EMF lines on stdout), in milliseconds; 60000 matches standard resolution. */
    metricsIntervalMs: positiveInt().default(60_000),
    /** Cancel venue orders that this engine does not know (e.g. left by a crashed predecessor). */
    cancelUnknownOrders: z.boolean().default(true),
    /**
     * Keep the event loop turning instead of sleeping between messages: a book message then finds the code
     * and data still in the CPU's caches, which cuts the latency tail, at the price of one vCPU kept busy.
     */
    busyPoll: z.boolean().default(false),
  })
  .prefault({});

const PersistenceSchema = z
  .strictObject({
    /** Keep orders, positions and fills in DynamoDB and publish events on EventBridge; false keeps state in memory only (tests, dry runs). */
    enabled: z.boolean().default(true),
    /** Pause between rounds of state writes while nothing fails, in milliseconds. */
    flushIntervalMs: positiveInt().default(100),
    /** Quoting stops while the oldest unwritten change is older than this, in milliseconds. */
    stopQuotingLagMs: positiveInt().default(5_000),
    /** Quoting stops while more changes than this wait to be written, count. */
    maxPendingItems: positiveInt().default(5_000),
    /** A DynamoDB or EventBridge request without an answer after this long fails and is retried, in milliseconds. */
    requestTimeoutMs: positiveInt().default(3_000),
    /** First retry delay of a failed write, doubled per failure, in milliseconds. */
    backoffBaseMs: positiveInt().default(100),
    /** Ceiling of the retry delay, in milliseconds. */
    backoffMaxMs: positiveInt().default(5_000),
    /** After this many failed attempts, a change's content is logged (it is still retried), count. */
    logAfterAttempts: positiveInt().default(5),
    /**
     * At a restart, executions this long before the newest stored one are checked against the store, so a
     * fill applied out of order just before a crash is neither lost nor counted twice, in milliseconds.
     */
    restoreOverlapMs: positiveInt().max(7 * 24 * 3_600_000).default(3_600_000),
  })
  .refine((persistence) => persistence.backoffMaxMs >= persistence.backoffBaseMs, { message: 'backoffMaxMs must be >= backoffBaseMs', path: ['backoffMaxMs'] })
  .prefault({});

const LeaseSchema = z
  .strictObject({
    /** How long a taken or renewed lease lasts; a standby takes over this long after the holder's last renewal, in milliseconds. */
    ttlMs: positiveInt().min(1_000).default(15_000),
    /** How often the holder renews, in milliseconds; a third of ttlMs leaves two renewals to fail before the lease is lost. */
    renewIntervalMs: positiveInt().default(5_000),
    /** How often a standby tries to take the lease, in milliseconds. */
    standbyRetryMs: positiveInt().default(2_000),
  })
  .refine((lease) => lease.renewIntervalMs * 2 < lease.ttlMs, { message: 'renewIntervalMs must be under half of ttlMs', path: ['renewIntervalMs'] })
  .prefault({});

const ControlSchema = z
  .strictObject({
    /** Long-poll wait of the engine's control queue, in seconds (SQS allows 0..20). */
    queueWaitSeconds: z.int().min(0).max(20).default(20),
    /** The control state is read this often even without a message (the fallback), in milliseconds. */
    pollIntervalMs: positiveInt().default(5_000),
    /** Interval of the engine heartbeat (control table and bus), in milliseconds; the risk evaluator's stale limit must be several of these. */
    heartbeatIntervalMs: positiveInt().default(5_000),
  })
  .prefault({});

const engineShape = {
  /** This task's shard of symbols; it prefixes every orderLinkId (36 characters in all), hence at most 20. */
  shard: z.string().regex(SHARD_NAME, { message: SHARD_NAME_RULE }),
  /** Deployment stage; resources are named mmrb-<stage>-<id>. */
  stage: z.string().regex(STAGE_PATTERN, { message: `expected a stage matching ${STAGE_PATTERN.source}` }).default('local'),
  /** AWS region of the resources (Bybit's servers are in ap-southeast-1). */
  region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d+$/, { message: 'expected an AWS region such as ap-southeast-1' }).default('ap-southeast-1'),
  venue: VenueSchema,
  /** Settings of each symbol this shard quotes, by Bybit symbol. */
  symbols: z
    .record(z.string().regex(SYMBOL_PATTERN, { message: 'expected an upper-case symbol such as BTCUSDT' }), SymbolSettingsSchema)
    .refine((symbols) => Object.keys(symbols).length > 0, { message: 'expected at least one symbol' }),
  risk: RiskSchema,
  router: RouterSchema,
  engine: EngineSchema,
  persistence: PersistenceSchema,
  /** The single-writer lease of the shard (needs persistence: it lives in the control table). */
  lease: LeaseSchema,
  /** Freeze and unfreeze from the control plane, and the heartbeat (need persistence). */
  control: ControlSchema,
};

/** The effective configuration, after defaults, file, environment and symbolDefaults are merged. */
export const EngineConfigSchema = z.strictObject(engineShape);
export type EngineConfig = z.output<typeof EngineConfigSchema>;

/** What the file and the environment may set: the engine configuration plus `symbolDefaults`. */
export const ConfigDocumentSchema = z.strictObject({ ...engineShape, symbolDefaults: SymbolDefaultsSchema.optional() });
