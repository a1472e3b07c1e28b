/**
 * Settings of the control-plane Lambdas (risk evaluator, freeze API), from one environment variable,
 * `MMRB_CONTROL_SETTINGS`, holding JSON (the CDK app and the local stack write it from the same engine
 * configuration). Validated with zod; a bad value stops the cold start with every problem named.
 */
import * as z from 'zod';
import type { EngineConfig } from '../config/config.js';
import { DEFAULT_EDGE_COLLAPSE_MIN_NOTIONAL } from '../config/schema.js';
import { SHARD_NAME, SHARD_NAME_RULE } from '../core/identifiers.js';

export const CONTROL_SETTINGS_ENV = 'MMRB_CONTROL_SETTINGS';

const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/, { message: 'expected an upper-case symbol such as BTCUSDT' });
const decimal = z.string().regex(/^\d+(\.\d+)?$/, { message: 'expected a non-negative decimal string such as "0.5"' });

/** Limits the risk evaluator checks per symbol (quote currency USDT; quantities in base coin). */
export const SymbolRiskLimitsSchema = z.strictObject({
  /** Largest absolute net position, in base coin. */
  maxPosition: decimal,
  /** Largest absolute position value at the last fill price, in USDT. */
  maxNotional: decimal,
  /** The day's (UTC) trading loss that freezes, in USDT, as a positive number. */
  maxDailyLoss: decimal,
  /** Loss from the PnL high-water mark that freezes, in USDT. */
  maxDrawdown: decimal,
  /** Realised edge (PnL with fees and rebates per traded notional) below this over a window freezes, in basis points (may be negative). */
  minEdgeBps: z.string().regex(/^-?\d+(\.\d+)?$/),
  /** Windows the edge is measured over, in minutes. */
  edgeWindowsMinutes: z.array(z.int().min(1).max(1440)).min(1).default([5, 60]),
  /** Less traded notional than this in a window and its edge is not judged (noise), in USDT. */
  minEdgeNotional: decimal.default(DEFAULT_EDGE_COLLAPSE_MIN_NOTIONAL),
  /** More fills than this in one minute is an anomaly (runaway quoting, a stuck loop). */
  maxFillsPerMinute: z.int().positive(),
});
export type SymbolRiskLimits = z.infer<typeof SymbolRiskLimitsSchema>;

export const ControlSettingsSchema = z.strictObject({
  /** Names every table, the bus and the secrets (src/resources/definitions.ts). */
  stage: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/),
  /** Each shard and the symbols its engine trades. */
  shards: z.record(z.string().regex(SHARD_NAME, { message: SHARD_NAME_RULE }), z.array(symbol).min(1)),
  venue: z.strictObject({
    restUrl: z.url({ protocol: /^https?$/ }),
    recvWindowMs: z.int().positive().default(5000),
    /** Secrets Manager id of the trading key (the watchdog and a hard stop cancel with it). */
    credentialsSecretId: z.string().min(1),
  }),
  /** A DynamoDB, EventBridge or venue request without an answer after this long fails, in ms. */
  requestTimeoutMs: z.int().positive().default(3000),
  risk: z.strictObject({
    limits: z.record(symbol, SymbolRiskLimitsSchema),
    /** An engine whose newest heartbeat is older than this is stale: freeze, and the watchdog cancels, in ms. */
    heartbeatStaleMs: z.int().positive().default(30_000),
    /** How long the pause lasts that a fill-rate anomaly causes, in ms (other breaches stop hard). */
    fillRatePauseMs: z.int().positive().default(300_000),
  }),
  /** The trading key's rotation (src/control/secret-rotation.ts, docs/SECURITY.md). */
  rotation: z
    .strictObject({
      /** Least time from the new key becoming current to revoking the old one, in ms: the Lambdas cache the key for 5 minutes. */
      revokeAfterMs: z.int().nonnegative().default(15 * 60_000),
      /** A rotation's key younger than this is never taken for a leftover (a rotation may be about to store it), in ms. */
      orphanMinAgeMs: z.int().nonnegative().default(10 * 60_000),
    })
    .prefault({}),
});
export type ControlSettings = z.infer<typeof ControlSettingsSchema>;

export class ControlSettingsError extends Error {
  override readonly name = 'ControlSettingsError';
}

/** Parses the settings from the environment; every bad field is named. */
export function controlSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ControlSettings {
  const raw = env[CONTROL_SETTINGS_ENV];
  if (raw === undefined || raw === '') throw new ControlSettingsError(`${CONTROL_SETTINGS_ENV} is not set`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ControlSettingsError(`${CONTROL_SETTINGS_ENV} is not valid JSON`);
  }
  const parsed = ControlSettingsSchema.safeParse(json);
  if (!parsed.success) {
    throw new ControlSettingsError(`${CONTROL_SETTINGS_ENV}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Every symbol of every shard. */
export function allSymbols(settings: ControlSettings): string[] {
  return [...new Set(Object.values(settings.shards).flat())].sort();
}

/** Defaults of the limits the engine configuration does not carry. */
const DEFAULT_MAX_FILLS_PER_MINUTE = 300;

/**
 * The control-plane settings for the shards of these engine configurations (one per shard, same stage):
 * each symbol's position and notional limits are the engine's own, the daily loss and drawdown limits its
 * `risk.maxDrawdown`, the edge floor its `risk.edgeCollapseBps` (judged once a window has traded
 * `risk.edgeCollapseMinNotional`). The CDK app and the local stack both
 * build the Lambdas' settings this way, so the evaluator checks the limits the engine was configured with.
 */
export function controlSettingsOf(
  configs: readonly EngineConfig[],
  overrides: { readonly restUrl?: string; readonly heartbeatStaleMs?: number; readonly rotation?: z.input<typeof ControlSettingsSchema>['rotation'] } = {},
): ControlSettings {
  const [first] = configs;
  if (!first) throw new ControlSettingsError('at least one engine configuration is needed');
  const shards: Record<string, string[]> = {};
  const limits: Record<string, z.input<typeof SymbolRiskLimitsSchema>> = {};
  for (const config of configs) {
    if (config.stage !== first.stage) throw new ControlSettingsError(`every shard must be of one stage: ${config.shard} is of ${config.stage}, not ${first.stage}`);
    shards[config.shard] = Object.entries(config.symbols)
      .filter(([, symbol]) => symbol.enabled)
      .map(([name]) => name)
      .sort();
    for (const [name, symbol] of Object.entries(config.symbols)) {
      limits[name] = {
        maxPosition: symbol.maxPosition,
        maxNotional: symbol.maxNotional,
        maxDailyLoss: config.risk.maxDrawdown,
        maxDrawdown: config.risk.maxDrawdown,
        minEdgeBps: config.risk.edgeCollapseBps,
        minEdgeNotional: config.risk.edgeCollapseMinNotional,
        maxFillsPerMinute: DEFAULT_MAX_FILLS_PER_MINUTE,
      };
    }
  }
  return ControlSettingsSchema.parse({
    stage: first.stage,
    shards,
    venue: { restUrl: overrides.restUrl ?? first.venue.restUrl, recvWindowMs: first.venue.recvWindowMs, credentialsSecretId: first.venue.credentialsSecretId },
    risk: {
      limits,
      // Several heartbeats: one late heartbeat is not a dead engine.
      heartbeatStaleMs: overrides.heartbeatStaleMs ?? Math.max(30_000, first.control.heartbeatIntervalMs * 6),
    },
    ...(overrides.rotation && { rotation: overrides.rotation }),
  });
}
