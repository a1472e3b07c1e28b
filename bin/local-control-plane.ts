/**
 * The control plane of the local stack (npm start, the bench), in process, on the emulator: the risk evaluator Lambda fed by
 * its SQS queue (the bus's fills rule routes to it) and by a schedule, and the freeze API Lambda served
 * on loopback in the API Gateway event shape. The handlers are the deployed ones
 * (lambdas/risk-evaluator.ts, lambdas/freeze-api.ts), built on the emulator's clients.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createFreezeApiHandler } from '../lambdas/freeze-api.js';
import { createRiskEvaluatorHandler } from '../lambdas/risk-evaluator.js';
import { createSecretRotationHandler } from '../lambdas/secret-rotation.js';
import { SecretVersionsStore } from '../src/adapters/secrets/secret-versions.js';
import type { KeyAdmin } from '../src/control/secret-rotation.js';
import { ensureRotationFunction, rotateLocally } from '../src/local/rotation-driver.js';
import { type RotationServer, startRotationServer } from '../src/local/rotation-server.js';
import { type FreezeApiServer, startFreezeApiServer } from '../src/control/api-server.js';
import type { ControlSettings } from '../src/control/settings.js';
import type { Logger } from '../src/ports/logger.js';
import { type LambdaHandler, type Trigger, localContext, startSchedule, startSqsEventSource } from '../src/local/lambda-triggers.js';
import type { AwsClients, ProvisionedStage } from '../src/local/provision.js';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export interface LocalControlPlaneOptions {
  readonly clients: AwsClients;
  readonly stage: ProvisionedStage;
  readonly settings: ControlSettings;
  readonly region: string;
  /** Port of the freeze API on 127.0.0.1 (0: a free one). */
  readonly apiPort: number;
  /** Who the local operator is, as API Gateway's IAM authoriser would say. */
  readonly principalArn: string;
  /** Interval of the risk evaluator's schedule, ms (a minute in AWS; shorter locally). */
  readonly scheduleIntervalMs: number;
  /** Lambda log level (their JSON lines go to stdout). */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Where trigger problems are reported. */
  readonly logger: Logger;
  /** The trading key's rotation: its loopback server (npm run secrets -- --local) and its revocation schedule. */
  readonly rotation: {
    /** The emulator's endpoint (the rotation function is registered with its Lambda). */
    readonly motoEndpoint: string;
    /** Port of the rotation server on 127.0.0.1 (0: a free one). */
    readonly port: number;
    /** Interval of the superseded-key revocation, ms (5 minutes in AWS). */
    readonly revokeIntervalMs: number;
    /** Bybit's key management; by default bybit-api on the settings' venue (tests wrap it to inject faults). */
    readonly keys?: KeyAdmin;
  };
}

export interface LocalControlPlane {
  readonly apiUrl: string;
  readonly rotationUrl: string;
  stop(): Promise<void>;
}

export async function startLocalControlPlane(options: LocalControlPlaneOptions): Promise<LocalControlPlane> {
  // The Lambdas' EMF metric lines mean something to CloudWatch only; locally they would bury everything else.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const { clients, stage, settings, region } = options;
  const lambdaLogger = (serviceName: string) => new PowertoolsLogger({ serviceName, logLevel: options.logLevel, persistentKeys: { stage: settings.stage } });
  // Metrics' own notices ("no application metrics to publish" on a quiet run) are not news here.
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...data: unknown[]) => { options.logger.error('metrics', { detail: data }); } };
  const lambdaMetrics = (serviceName: string) => new Metrics({ namespace: 'MmRebateBot', serviceName, defaultDimensions: { stage: settings.stage }, logger: quiet });
  const riskHandler = createRiskEvaluatorHandler({ settings, clients, logger: lambdaLogger('risk-evaluator'), metrics: lambdaMetrics('risk-evaluator') });
  const functionName = `mmrb-${settings.stage}-risk-evaluator`;
  const triggers: Trigger[] = [
    startSqsEventSource({
      client: clients.sqs,
      queueUrl: stage.queueUrls.riskFills,
      queueArn: stage.queueArns.riskFills,
      region,
      functionName,
      handler: riskHandler as LambdaHandler<SQSEvent, SQSBatchResponse>,
      batchSize: 10,
      waitSeconds: 1,
      logger: options.logger,
    }),
    startSchedule({
      intervalMs: options.scheduleIntervalMs,
      region,
      ruleArn: `arn:aws:events:${region}:000000000000:rule/mmrb-${settings.stage}-risk-schedule`,
      functionName,
      handler: riskHandler,
      logger: options.logger,
    }),
  ];
  let server: FreezeApiServer;
  try {
    server = await startFreezeApiServer({
      handler: createFreezeApiHandler({ settings, clients, logger: lambdaLogger('freeze-api'), metrics: lambdaMetrics('freeze-api') }),
      port: options.apiPort,
      principalArn: options.principalArn,
    });
  } catch (error) {
    for (const trigger of triggers) await trigger.stop();
    throw error;
  }
  const rotationFunction = `mmrb-${settings.stage}-secret-rotation`;
  const rotationHandler = createSecretRotationHandler({
    settings,
    clients,
    logger: lambdaLogger('secret-rotation'),
    metrics: lambdaMetrics('secret-rotation'),
    ...(options.rotation.keys && { keys: options.rotation.keys }),
  });
  triggers.push(
    startSchedule({
      intervalMs: options.rotation.revokeIntervalMs,
      region,
      ruleArn: `arn:aws:events:${region}:000000000000:rule/mmrb-${settings.stage}-revoke-superseded-keys`,
      functionName: rotationFunction,
      handler: rotationHandler,
      logger: options.logger,
    }),
  );
  let rotationServer: RotationServer;
  try {
    const functionArn = await ensureRotationFunction({ lambda: clients.lambda, iam: clients.iam, motoEndpoint: options.rotation.motoEndpoint, functionName: rotationFunction });
    rotationServer = await startRotationServer({
      handler: rotationHandler,
      rotate: () =>
        rotateLocally({
          secrets: clients.secrets,
          secretId: settings.venue.credentialsSecretId,
          functionArn,
          invoke: (event) => rotationHandler(event, localContext(rotationFunction, region, 60_000)),
          attempts: 3,
          retryDelayMs: 1_000,
        }),
      secrets: new SecretVersionsStore({ client: clients.secrets, requestTimeoutMs: settings.requestTimeoutMs }),
      tradingSecretId: settings.venue.credentialsSecretId,
      functionName: rotationFunction,
      region,
      port: options.rotation.port,
    });
  } catch (error) {
    await server.close();
    for (const trigger of triggers) await trigger.stop();
    throw error;
  }
  return {
    apiUrl: server.url,
    rotationUrl: rotationServer.url,
    stop: async () => {
      await rotationServer.close();
      await server.close();
      for (const trigger of triggers) await trigger.stop();
    },
  };
}
