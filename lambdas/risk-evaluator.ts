/**
 * The risk evaluator Lambda (src/control/risk-evaluator.ts, docs/RISK.md): one handler for both of its
 * triggers, told apart by the event's shape:
 *   - an SQS batch of Fill events (queue risk-fills; the event source mapping must report batch item
 *     failures) → onFills, answering which records to deliver again;
 *   - an EventBridge Scheduled Event (every minute) → onSchedule at the event's time.
 * Anything else is refused with an error.
 *
 * Thin: middy with Powertools Logger (Lambda context on every line) and Metrics (EMF, namespace
 * MmRebateBot, service risk-evaluator). `createRiskEvaluatorHandler` builds it from clients passed in (the
 * local stack, the tests); `handler` builds it from the environment (MMRB_CONTROL_SETTINGS, AWS_REGION).
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, ScheduledEvent } from 'aws-lambda';
import { DynamoControlStore } from '../src/adapters/dynamodb/control-store.js';
import { DynamoExposureStore } from '../src/adapters/dynamodb/exposure-store.js';
import { DynamoHeartbeatStore } from '../src/adapters/dynamodb/heartbeat-store.js';
import { EventBridgePublisher } from '../src/adapters/eventbridge/publisher.js';
import { type RiskMetrics, RiskEvaluator, type ScheduleReport } from '../src/control/risk-evaluator.js';
import { type ControlSettings, controlSettingsFromEnv } from '../src/control/settings.js';
import { defaultSleep, portLogger, venueCancellerOf } from '../src/control/lambda-support.js';
import { EVENT_SOURCES } from '../src/core/events.js';
import type { VenueCanceller } from '../src/ports/control.js';
import type { Logger } from '../src/ports/logger.js';
import { METRICS_NAMESPACE, METRIC_SERVICES, resourceNames } from '../src/resources/definitions.js';

const SERVICE_NAME = METRIC_SERVICES.riskEvaluator;

export interface RiskEvaluatorClients {
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly secrets: SecretsManagerClient;
}

export interface RiskEvaluatorWiring {
  readonly settings: ControlSettings;
  readonly clients: RiskEvaluatorClients;
  readonly logger: Logger;
  readonly metrics: RiskMetrics;
  readonly clock?: () => number;
  /** The venue canceller; by default a RestVenueCanceller with the trading key of settings.venue. */
  readonly canceller?: VenueCanceller;
  readonly sleep?: (ms: number) => Promise<void>;
}


/** The evaluator on DynamoDB, EventBridge and the venue, with the stage's resource names. */
export function buildRiskEvaluator(wiring: RiskEvaluatorWiring): RiskEvaluator {
  const { settings, clients, logger } = wiring;
  const names = resourceNames(settings.stage);
  const requestTimeoutMs = settings.requestTimeoutMs;
  const sleep = wiring.sleep ?? defaultSleep;
  const canceller =
    wiring.canceller ??
    venueCancellerOf(settings, clients.secrets, logger, sleep);
  return new RiskEvaluator({
    exposure: new DynamoExposureStore({ client: clients.dynamodb, table: names.tables.control, requestTimeoutMs, ...(wiring.clock && { clock: wiring.clock }) }),
    control: new DynamoControlStore({ client: clients.dynamodb, tables: { control: names.tables.control, audit: names.tables.audit }, requestTimeoutMs }),
    heartbeats: new DynamoHeartbeatStore({ client: clients.dynamodb, table: names.tables.control, requestTimeoutMs }),
    publisher: new EventBridgePublisher({ client: clients.eventBridge, eventBusName: names.eventBus, requestTimeoutMs, source: EVENT_SOURCES.riskEvaluator }),
    canceller,
    clock: wiring.clock ?? Date.now,
    logger,
    metrics: wiring.metrics,
    settings,
    sleep,
  });
}

/** Counters on Powertools Metrics: plain ones are flushed with the invocation, dimensioned ones at once. */
export function powertoolsRiskMetrics(metrics: Metrics): RiskMetrics {
  return {
    count: (name, value, dimensions) => {
      if (!dimensions) {
        metrics.addMetric(name, MetricUnit.Count, value);
        return;
      }
      const single = metrics.singleMetric();
      for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
      single.addMetric(name, MetricUnit.Count, value);
    },
  };
}

export type RiskEvaluatorEvent = SQSEvent | ScheduledEvent;
export type RiskEvaluatorResult = SQSBatchResponse | ScheduleReport;

export class UnsupportedEventError extends Error {
  override readonly name = 'UnsupportedEventError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isSqsEvent(event: unknown): event is SQSEvent {
  if (!isRecord(event) || !Array.isArray(event.Records)) return false;
  const records: unknown[] = event.Records;
  return records.length > 0 && records.every((record) => isRecord(record) && record.eventSource === 'aws:sqs');
}

export function isScheduledEvent(event: unknown): event is ScheduledEvent {
  return isRecord(event) && event['detail-type'] === 'Scheduled Event' && event.source === 'aws.events';
}

export interface RiskEvaluatorHandlerDeps {
  readonly settings: ControlSettings;
  readonly clients: RiskEvaluatorClients;
  /** Powertools instances; by default the service's own. */
  readonly logger?: PowertoolsLogger;
  readonly metrics?: Metrics;
  readonly clock?: () => number;
  readonly canceller?: VenueCanceller;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The Lambda handler on the given clients. */
export function createRiskEvaluatorHandler(deps: RiskEvaluatorHandlerDeps) {
  const logger = deps.logger ?? new PowertoolsLogger({ serviceName: SERVICE_NAME, persistentKeys: { stage: deps.settings.stage } });
  const metrics = deps.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { stage: deps.settings.stage } });
  const clock = deps.clock ?? Date.now;
  const evaluator = buildRiskEvaluator({
    settings: deps.settings,
    clients: deps.clients,
    logger: portLogger(logger),
    metrics: powertoolsRiskMetrics(metrics),
    clock,
    ...(deps.canceller && { canceller: deps.canceller }),
    ...(deps.sleep && { sleep: deps.sleep }),
  });
  return middy<unknown, RiskEvaluatorResult>(async (event: unknown): Promise<RiskEvaluatorResult> => {
    if (isSqsEvent(event)) return evaluator.onFills(event.Records);
    if (isScheduledEvent(event)) {
      const time = Date.parse(event.time);
      return evaluator.onSchedule(Number.isNaN(time) ? clock() : time);
    }
    const shape = isRecord(event) ? `an object with keys ${Object.keys(event).slice(0, 10).join(', ')}` : typeof event;
    throw new UnsupportedEventError(`the risk evaluator takes an SQS batch of Fill events or an EventBridge Scheduled Event, not ${shape}`);
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}

/** The handler on the Lambda's own environment: settings from MMRB_CONTROL_SETTINGS, clients in AWS_REGION. */
export function handlerFromEnvironment(env: Readonly<Record<string, string | undefined>>): ReturnType<typeof createRiskEvaluatorHandler> {
  const settings = controlSettingsFromEnv(env);
  const region = env.AWS_REGION;
  const config = region === undefined ? {} : { region };
  return createRiskEvaluatorHandler({
    settings,
    clients: { dynamodb: new DynamoDBClient(config), eventBridge: new EventBridgeClient(config), secrets: new SecretsManagerClient(config) },
  });
}

// Built during the Lambda's init (a bad setting stops the cold start); elsewhere (tests importing this
// module) on the first call.
let lambdaHandler = process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? undefined : handlerFromEnvironment(process.env);

export const handler = (event: unknown, context: Context): Promise<RiskEvaluatorResult> => {
  lambdaHandler ??= handlerFromEnvironment(process.env);
  return lambdaHandler(event, context);
};
