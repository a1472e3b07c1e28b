/**
 * The project's AWS resources as plain data: table keys and indexes, the event bus, queues and secrets,
 * and how each is named per stage. The CDK stacks (lib/), the local stack (npm start) and the tests all
 * build from these definitions, so a key or index is defined once.
 */

export type AttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** Logical id; also the last part of the physical name. */
  readonly id: TableId;
  readonly purpose: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly GlobalIndexDefinition[];
  /** Attribute holding an epoch-seconds expiry; AWS deletes expired items (moto never does). */
  readonly timeToLiveAttribute?: string;
}

export type TableId = 'orders' | 'positions' | 'fills' | 'control' | 'audit';

export const TABLES: Readonly<Record<TableId, TableDefinition>> = {
  orders: {
    id: 'orders',
    purpose: 'Every order the engine sent, keyed by orderLinkId; open orders of a shard, and owed events, through sparse indexes.',
    partitionKey: { name: 'orderLinkId', type: 'S' },
    globalIndexes: [
      // `openShard` is set only while the order is open, so the index holds open orders alone.
      { indexName: 'open-by-shard', partitionKey: { name: 'openShard', type: 'S' }, sortKey: { name: 'orderLinkId', type: 'S' } },
      // The outbox: `eventPending` is set while the order's update event is owed to the bus.
      { indexName: 'events-pending', partitionKey: { name: 'eventPending', type: 'S' }, sortKey: { name: 'orderLinkId', type: 'S' } },
    ],
  },
  positions: {
    id: 'positions',
    purpose: 'Position, PnL, fees and rebates per shard and symbol, versioned for conditional writes.',
    partitionKey: { name: 'shard', type: 'S' },
    sortKey: { name: 'symbol', type: 'S' },
    globalIndexes: [],
  },
  fills: {
    id: 'fills',
    purpose: 'Every execution once, keyed by execId (the idempotency key); by symbol and time for backfill and risk.',
    partitionKey: { name: 'execId', type: 'S' },
    globalIndexes: [
      { indexName: 'by-symbol-time', partitionKey: { name: 'symbol', type: 'S' }, sortKey: { name: 'execTime', type: 'N' } },
      // The outbox: `eventPending` is set while the fill's event is owed to the bus.
      { indexName: 'events-pending', partitionKey: { name: 'eventPending', type: 'S' }, sortKey: { name: 'execId', type: 'S' } },
    ],
    timeToLiveAttribute: 'expiresAt',
  },
  control: {
    id: 'control',
    purpose: 'Control state (freeze), per-shard leases and heartbeats, and the risk evaluator\'s exposure and seen-fill markers; one item per key.',
    partitionKey: { name: 'pk', type: 'S' },
    globalIndexes: [],
    // Seen-fill markers and minute buckets expire (epoch seconds); the lease's own `expiresAt` is in ms,
    // which TTL reads as a date thousands of years ahead, so leases are never removed by it.
    timeToLiveAttribute: 'expiresAt',
  },
  audit: {
    id: 'audit',
    purpose: 'Append-only audit trail of operator and risk actions, by scope and time.',
    partitionKey: { name: 'scope', type: 'S' },
    sortKey: { name: 'at', type: 'S' },
    globalIndexes: [],
  },
};

export type QueueId = 'riskFills' | 'riskFillsDlq' | 'engineControl' | 'engineControlDlq' | 'undeliveredEvents' | 'failedInvocations';

export interface QueueDefinition {
  readonly id: QueueId;
  readonly purpose: string;
  /** The queue that receives messages this one gives up on. */
  readonly deadLetterQueue?: QueueId;
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds: number;
}

export const QUEUES: Readonly<Record<QueueId, QueueDefinition>> = {
  riskFills: {
    id: 'riskFills',
    purpose: 'Fill events for the risk evaluator, in batches.',
    deadLetterQueue: 'riskFillsDlq',
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 60,
  },
  riskFillsDlq: { id: 'riskFillsDlq', purpose: 'Fill events the risk evaluator could not process.', visibilityTimeoutSeconds: 60 },
  engineControl: {
    id: 'engineControl',
    // One per shard (engineControlQueueName): a message is consumed once, and every shard's engine needs every freeze.
    purpose: 'Freeze and unfreeze events the engine long-polls; this is the name stem of the one queue per shard.',
    deadLetterQueue: 'engineControlDlq',
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 30,
  },
  engineControlDlq: { id: 'engineControlDlq', purpose: 'Control events the engine could not process.', visibilityTimeoutSeconds: 30 },
  undeliveredEvents: { id: 'undeliveredEvents', purpose: 'Events a rule could not deliver to its queue after its retries (the rules\' dead-letter queue).', visibilityTimeoutSeconds: 30 },
  failedInvocations: { id: 'failedInvocations', purpose: 'Scheduled risk-evaluator runs that failed after Lambda\'s own retries (its on-failure destination).', visibilityTimeoutSeconds: 30 },
};

export type SecretId = 'tradingKey' | 'keyAdmin';

export interface SecretDefinition {
  readonly id: SecretId;
  readonly purpose: string;
}

export const SECRETS: Readonly<Record<SecretId, SecretDefinition>> = {
  tradingKey: { id: 'tradingKey', purpose: 'Bybit API key and secret the engine trades with (rotated).' },
  keyAdmin: { id: 'keyAdmin', purpose: 'Bybit API key allowed to create and delete trading keys (used by rotation only).' },
};

export const PROJECT_PREFIX = 'mmrb';

const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

export class ResourceNameError extends Error {
  override readonly name = 'ResourceNameError';
}

export interface ResourceNames {
  readonly stage: string;
  readonly tables: Readonly<Record<TableId, string>>;
  readonly eventBus: string;
  readonly queues: Readonly<Record<QueueId, string>>;
  readonly secrets: Readonly<Record<SecretId, string>>;
}

const kebab = (id: string): string => id.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** Physical names of every resource of a stage (dev, prod, local, or a test's own stage). */
export function resourceNames(stage: string): ResourceNames {
  if (!STAGE_PATTERN.test(stage)) throw new ResourceNameError(`stage must match ${STAGE_PATTERN.source}, got ${JSON.stringify(stage)}`);
  const name = (id: string): string => `${PROJECT_PREFIX}-${stage}-${kebab(id)}`;
  const mapIds = <K extends string>(ids: readonly K[], toName: (id: K) => string): Record<K, string> =>
    Object.fromEntries(ids.map((id) => [id, toName(id)])) as Record<K, string>;
  return {
    stage,
    tables: mapIds(Object.keys(TABLES) as TableId[], name),
    eventBus: name('bus'),
    queues: mapIds(Object.keys(QUEUES) as QueueId[], name),
    secrets: mapIds(Object.keys(SECRETS) as SecretId[], (id) => `${PROJECT_PREFIX}/${stage}/${kebab(id)}`),
  };
}

/** The control queue of one shard's engine: `mmrb-<stage>-engine-control-<shard>`. */
export function engineControlQueueName(stage: string, shard: string): string {
  return `${resourceNames(stage).queues.engineControl}-${shard}`;
}

export type RuleId = 'fillsToRisk' | 'controlToEngine';

export interface RuleDefinition {
  readonly id: RuleId;
  readonly purpose: string;
  /** The event pattern (EventBridge JSON); sources and detail types as in src/core/events.ts. */
  readonly pattern: Readonly<Record<string, readonly string[]>>;
  /** The queue it delivers to; for controlToEngine, each shard's own queue. */
  readonly target: QueueId;
}

export const RULES: Readonly<Record<RuleId, RuleDefinition>> = {
  fillsToRisk: {
    id: 'fillsToRisk',
    purpose: 'Fill events to the risk evaluator\'s queue.',
    pattern: { source: ['mm-rebate-bot.engine'], 'detail-type': ['Fill'] },
    target: 'riskFills',
  },
  controlToEngine: {
    id: 'controlToEngine',
    purpose: 'Freeze and unfreeze events to each shard engine\'s control queue.',
    pattern: { source: ['mm-rebate-bot.risk-evaluator', 'mm-rebate-bot.freeze-api', 'mm-rebate-bot.engine'], 'detail-type': ['Freeze', 'Unfreeze'] },
    target: 'engineControl',
  },
};

/** The rule's name; controlToEngine has one per shard. */
export function ruleName(stage: string, id: RuleId, shard?: string): string {
  const base = `${PROJECT_PREFIX}-${stage}-${kebab(id)}`;
  return shard === undefined ? base : `${base}-${shard}`;
}

/** CloudWatch metrics (embedded metric format): one namespace; the `service` dimension names who emitted. */
export const METRICS_NAMESPACE = 'MmRebateBot';

export const METRIC_SERVICES = {
  riskEvaluator: 'risk-evaluator',
  freezeApi: 'freeze-api',
  secretRotation: 'secret-rotation',
} as const;

/** The engine's service name (logs and metrics) for one shard. */
export function engineServiceName(shard: string): string {
  return `${PROJECT_PREFIX}-engine-${shard}`;
}
