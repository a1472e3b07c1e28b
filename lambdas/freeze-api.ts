/**
 * The freeze API Lambda (src/control/freeze-api.ts, docs/FREEZE_API.md), behind API Gateway (REST API,
 * proxy integration, IAM authorisation).
 *
 * Thin: middy with Powertools Logger (Lambda context on every line) and Metrics (EMF, namespace
 * MmRebateBot, service freeze-api, one counter per action). `createFreezeApiHandler` builds it from clients
 * passed in (the local stack, the tests); `handler` builds it from the environment (MMRB_CONTROL_SETTINGS,
 * AWS_REGION) once per container.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DynamoControlStore } from '../src/adapters/dynamodb/control-store.js';
import { DynamoHeartbeatStore } from '../src/adapters/dynamodb/heartbeat-store.js';
import { DynamoStateStore } from '../src/adapters/dynamodb/state-store.js';
import { EventBridgePublisher } from '../src/adapters/eventbridge/publisher.js';
import { FreezeApi, type FreezeApiMetrics } from '../src/control/freeze-api.js';
import { type ControlSettings, controlSettingsFromEnv } from '../src/control/settings.js';
import { defaultSleep, portLogger, venueCancellerOf } from '../src/control/lambda-support.js';
import { EVENT_SOURCES } from '../src/core/events.js';
import type { ControlStore, VenueCanceller } from '../src/ports/control.js';
import type { Logger } from '../src/ports/logger.js';
import { METRICS_NAMESPACE, METRIC_SERVICES, resourceNames } from '../src/resources/definitions.js';

const SERVICE_NAME = METRIC_SERVICES.freezeApi;

export interface FreezeApiClients {
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly secrets: SecretsManagerClient;
}

export interface FreezeApiHandlerDeps {
  readonly settings: ControlSettings;
  readonly clients: FreezeApiClients;
  /** Powertools instances; by default the service's own. */
  readonly logger?: PowertoolsLogger;
  readonly metrics?: Metrics;
  readonly clock?: () => number;
  /** The venue canceller; by default a RestVenueCanceller with the trading key of settings.venue. */
  readonly canceller?: VenueCanceller;
  /** The control store; by default the stage's DynamoDB tables (a test may wrap it to interleave requests). */
  readonly control?: ControlStore;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type FreezeApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;


function powertoolsMetrics(metrics: Metrics): FreezeApiMetrics {
  return { count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value) };
}

/** The service on DynamoDB, EventBridge and the venue, with the stage's resource names. */
export function buildFreezeApi(deps: FreezeApiHandlerDeps, logger: Logger, metrics: FreezeApiMetrics): FreezeApi {
  const { settings, clients } = deps;
  const names = resourceNames(settings.stage);
  const requestTimeoutMs = settings.requestTimeoutMs;
  const sleep = deps.sleep ?? defaultSleep;
  const canceller =
    deps.canceller ??
    venueCancellerOf(settings, clients.secrets, logger, sleep);
  return new FreezeApi({
    control: deps.control ?? new DynamoControlStore({ client: clients.dynamodb, tables: { control: names.tables.control, audit: names.tables.audit }, requestTimeoutMs }),
    heartbeats: new DynamoHeartbeatStore({ client: clients.dynamodb, table: names.tables.control, requestTimeoutMs }),
    shardState: new DynamoStateStore({ client: clients.dynamodb, tables: names.tables, requestTimeoutMs }),
    publisher: new EventBridgePublisher({ client: clients.eventBridge, eventBusName: names.eventBus, requestTimeoutMs, source: EVENT_SOURCES.freezeApi }),
    canceller,
    clock: deps.clock ?? Date.now,
    logger,
    metrics,
    settings,
    sleep,
  });
}

/** The Lambda handler on the given clients. */
export function createFreezeApiHandler(deps: FreezeApiHandlerDeps): FreezeApiHandler {
  const logger = deps.logger ?? new PowertoolsLogger({ serviceName: SERVICE_NAME, persistentKeys: { stage: deps.settings.stage } });
  const metrics = deps.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { stage: deps.settings.stage } });
  const api = buildFreezeApi(deps, portLogger(logger), powertoolsMetrics(metrics));
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>((event: APIGatewayProxyEvent) => api.handle(event))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}

/** The handler on the Lambda's own environment: settings from MMRB_CONTROL_SETTINGS, clients in AWS_REGION. */
export function handlerFromEnvironment(env: Readonly<Record<string, string | undefined>>): FreezeApiHandler {
  const settings = controlSettingsFromEnv(env);
  const region = env.AWS_REGION;
  const config = region === undefined ? {} : { region };
  return createFreezeApiHandler({
    settings,
    clients: { dynamodb: new DynamoDBClient(config), eventBridge: new EventBridgeClient(config), secrets: new SecretsManagerClient(config) },
  });
}

// Built during the Lambda's init (a bad setting stops the cold start); elsewhere (a test importing this
// module for the factory) on the first call, so importing it needs no environment.
let lambdaHandler = process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? undefined : handlerFromEnvironment(process.env);

export const handler: FreezeApiHandler = (event, context) => {
  lambdaHandler ??= handlerFromEnvironment(process.env);
  return lambdaHandler(event, context);
};
