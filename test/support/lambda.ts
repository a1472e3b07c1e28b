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

/**
 * Runs `work` with the process's stdout captured (Powertools Metrics writes EMF there), into `lines`: given
 * by the caller, they keep what a work that throws printed (Powertools flushes on errors too).
 */
export async function capturingStdout<T>(work: () => Promise<T>, lines: string[] = []): Promise<{ result: T; lines: string[] }> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    lines.push(...text.split('\n').filter((line) => line.length > 0));
    return true;
  };
  try {
    return { result: await work(), lines };
  } finally {
    process.stdout.write = write;
  }
}

/** The sum of an EMF metric over the captured lines. */
export function emfTotal(lines: readonly string[], metric: string): number {
  let total = 0;
  for (const line of lines) {
    if (!line.includes('"_aws"')) continue;
    const value = (JSON.parse(line) as Record<string, unknown>)[metric];
    // A metric added several times in one flush is written as the list of its values.
    for (const one of Array.isArray(value) ? value : [value]) if (typeof one === 'number') total += one;
  }
  return total;
}
