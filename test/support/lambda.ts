/** What tests of the Lambda handlers share: a Lambda context, Powertools instances that capture or stay quiet. */
import { type LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { randomBytes } from 'node:crypto';

/** The context Lambda passes a handler (without the deprecated callbacks, which nothing calls). */
export function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:ap-southeast-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomBytes(8).toString('hex'),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
  } as Context;
}

/** A logger for Powertools' own notices that says nothing. */
export const quietLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Powertools Metrics whose own warnings stay quiet (its EMF lines still go to stdout). */
export function quietMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: 'MmRebateBot', serviceName, logger: quietLogger });
}

/** Powertools Logger writing its lines to an array (as printed: after formatting and redaction). */
export class CapturedLogger extends PowertoolsLogger {
  readonly lines: Record<string, unknown>[] = [];
  protected override printLog(_level: number, log: LogItem): void {
    log.prepareForPrint();
    this.lines.push(log.getAttributes());
  }

  /** Every captured line as one JSON text, for scanning. */
  text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }
}
