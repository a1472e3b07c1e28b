/**
 * What operators watch and what pages them. Alarms go to one SNS topic (email subscriptions from the
 * settings; pagers subscribe to the topic): a freeze triggered by the risk evaluator, an engine whose
 * metrics stopped (its heartbeat), Lambda errors and throttles, any dead-letter queue holding a message,
 * API 5xx, a high venue rejection rate. The dashboard shows, per shard and symbol, PnL with rebates and
 * fees, position, fills and maker share, quote uptime, rejections, latency and the freeze state.
 *
 * Metric names and dimensions are the emitters' own (src/adapters/metrics/engine-metrics.ts, the Lambdas'
 * Powertools Metrics): namespace and service names come from src/resources/definitions.ts.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, METRIC_SERVICES, engineServiceName } from '../src/resources/definitions.js';
import type { ShardDeployment } from './settings.js';

export interface OperationsMonitoringProps {
  readonly stage: string;
  readonly shards: readonly ShardDeployment[];
  readonly functions: Readonly<Record<'riskEvaluator' | 'freezeApi' | 'secretRotation', lambda.IFunction>>;
  readonly apiStage: apigateway.Stage;
  /** Every dead-letter queue, by a name for the alarm. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  readonly alarmEmails: readonly string[];
}

/** Venue rejections above this share of the order requests, in %, over two 5-minute periods. */
export const REJECTION_RATE_ALARM_PERCENT = 10;
/** Fewer requests than this in a period and the rate is not judged (a handful of rejections at start-up). */
const REJECTION_RATE_MIN_REQUESTS = 20;
const MINUTE = Duration.minutes(1);

export class OperationsMonitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly stage: string;

  constructor(scope: Construct, id: string, props: OperationsMonitoringProps) {
    super(scope, id);
    const { stage } = props;
    this.stage = stage;
    this.topic = new sns.Topic(this, 'Alarms', { topicName: `mmrb-${stage}-alarms`, displayName: `MM rebate bot ${stage} alarms`, enforceSSL: true });
    for (const email of props.alarmEmails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    const engineMetric = (shard: string, metricName: string, statistic: string, extra: Readonly<Record<string, string>> = {}, period = MINUTE) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: engineServiceName(shard), stage, shard, ...extra }, statistic, period });
    const lambdaMetric = (service: string, metricName: string) => new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service, stage }, statistic: 'Sum', period: MINUTE });

    // ---------------------------------------------------------------- alarms
    this.alarm('FreezeTriggered', `A ${stage} freeze was triggered by the risk evaluator: trading is stopped (GET /status says why)`, lambdaMetric(METRIC_SERVICES.riskEvaluator, 'Freezes'), {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const { shard, config } of props.shards) {
      // The engine writes its metrics every metricsIntervalMs; three periods without any is a dead or hung engine.
      const period = Duration.seconds(Math.max(60, Math.ceil(config.engine.metricsIntervalMs / 60_000) * 60));
      this.alarm(`EngineHeartbeatMissing-${shard}`, `The ${stage} engine of shard ${shard} has sent no metrics for three periods (dead, hung or not running)`, engineMetric(shard, 'Heartbeat', 'SampleCount', {}, period), {
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
      const fiveMinutes = Duration.minutes(5);
      const rate = new cloudwatch.MathExpression({
        expression: `IF((sent + amended + cancelled) >= ${REJECTION_RATE_MIN_REQUESTS}, 100 * rejected / (sent + amended + cancelled), 0)`,
        usingMetrics: {
          rejected: engineMetric(shard, 'VenueRejectionsTotal', 'Sum', {}, fiveMinutes),
          sent: engineMetric(shard, 'QuotesSent', 'Sum', {}, fiveMinutes),
          amended: engineMetric(shard, 'AmendsSent', 'Sum', {}, fiveMinutes),
          cancelled: engineMetric(shard, 'CancelsSent', 'Sum', {}, fiveMinutes),
        },
        label: 'venue rejections, % of order requests',
        period: fiveMinutes,
      });
      this.alarm(`HighRejectionRate-${shard}`, `The venue rejects more than ${REJECTION_RATE_ALARM_PERCENT} % of shard ${shard}'s order requests (${stage})`, rate, {
        threshold: REJECTION_RATE_ALARM_PERCENT,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    // The rotation's old key is kept while an engine still reports it; an hour of that is an engine that does not switch.
    this.alarm('OldTradingKeyStillLive', `A ${stage} trading key a rotation replaced is still live after an hour: an engine has not switched to the new key (npm run secrets -- status)`, lambdaMetric(METRIC_SERVICES.secretRotation, 'KeysAwaitingRevocation'), {
      threshold: 1,
      evaluationPeriods: 60,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      const options = { threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
      this.alarm(`LambdaErrors-${name}`, `The ${stage} ${name} Lambda failed`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), options);
      this.alarm(`LambdaThrottles-${name}`, `The ${stage} ${name} Lambda was throttled`, fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }), options);
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(`DeadLettersWaiting-${name}`, `The ${stage} dead-letter queue ${name} holds a message: something was not processed (inspect, then redrive)`, queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), {
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.alarm('FreezeApi5xx', `The ${stage} freeze API answered with a server error`, props.apiStage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }), {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // ---------------------------------------------------------------- dashboard
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `mmrb-${stage}`, defaultInterval: Duration.hours(6) });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: `# MM rebate bot: ${stage}\nAlarms go to SNS topic \`mmrb-${stage}-alarms\`. Freeze or unfreeze: \`npm run ops -- status\` (docs/FREEZE_API.md).`, width: 24, height: 2 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
    for (const { shard, config } of props.shards) {
      const symbols = Object.entries(config.symbols)
        .filter(([, symbol]) => symbol.enabled)
        .map(([name]) => name);
      const perSymbol = (metricName: string, statistic: string, label: (symbol: string) => string = (symbol) => symbol) => symbols.map((symbol) => engineMetric(shard, metricName, statistic, { symbol }).with({ label: label(symbol) }));
      this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## Shard ${shard}: ${symbols.join(', ')}`, width: 24, height: 1 }));
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'PnL with fees and rebates (USDT)',
          left: [...perSymbol('NetPnl', 'Average', (symbol) => `${symbol} net`), ...perSymbol('RebatesEarned', 'Average', (symbol) => `${symbol} rebates`), ...perSymbol('FeesPaid', 'Average', (symbol) => `${symbol} fees`)],
          width: 8,
        }),
        new cloudwatch.GraphWidget({ title: 'Position (base coin)', left: perSymbol('Position', 'Average'), width: 8 }),
        new cloudwatch.GraphWidget({ title: 'Fills and maker share (%)', left: perSymbol('Fills', 'Sum', (symbol) => `${symbol} fills`), right: perSymbol('MakerShare', 'Average', (symbol) => `${symbol} maker %`), width: 8 }),
      );
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Quote uptime (%)',
          // Quoting is 1 or 0 at each flush: its average over a period is the share of it spent quoting.
          left: symbols.map((symbol, index) => new cloudwatch.MathExpression({ expression: `100 * quoting${index}`, usingMetrics: { [`quoting${index}`]: engineMetric(shard, 'Quoting', 'Average', { symbol }) }, label: symbol, period: MINUTE })),
          leftYAxis: { min: 0, max: 100 },
          width: 6,
        }),
        new cloudwatch.GraphWidget({ title: 'Order requests and venue rejections', left: [engineMetric(shard, 'QuotesSent', 'Sum'), engineMetric(shard, 'AmendsSent', 'Sum'), engineMetric(shard, 'CancelsSent', 'Sum')], right: [engineMetric(shard, 'VenueRejectionsTotal', 'Sum')], width: 6 }),
        new cloudwatch.GraphWidget({ title: 'Latency: book update to order (µs), venue request (ms)', left: [engineMetric(shard, 'TickToOrderP50', 'Average'), engineMetric(shard, 'TickToOrderP99', 'Maximum')], right: [engineMetric(shard, 'VenueRequestP99', 'Maximum')], width: 6 }),
        new cloudwatch.GraphWidget({ title: 'Freeze state (1 = frozen) and state-write lag (ms)', left: [engineMetric(shard, 'Frozen', 'Maximum')], right: [engineMetric(shard, 'StateWritesLagMs', 'Maximum')], leftYAxis: { min: 0, max: 1 }, width: 6 }),
      );
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Risk evaluator', left: [lambdaMetric(METRIC_SERVICES.riskEvaluator, 'FillsApplied'), lambdaMetric(METRIC_SERVICES.riskEvaluator, 'Freezes'), lambdaMetric(METRIC_SERVICES.riskEvaluator, 'StaleShards')], right: [props.functions.riskEvaluator.metricErrors()], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Freeze API', left: [props.apiStage.metricCount(), props.apiStage.metricClientError(), props.apiStage.metricServerError()], right: [props.apiStage.metricLatency({ statistic: 'p99' })], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Dead-letter queues', left: Object.entries(props.deadLetterQueues).map(([name, queue]) => queue.metricApproximateNumberOfMessagesVisible({ label: name, statistic: 'Maximum' })), width: 8 }),
    );
  }

  private alarm(id: string, description: string, metric: cloudwatch.Metric | cloudwatch.MathExpression, options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription' | 'alarmName'>): void {
    const alarm = metric.createAlarm(this, id, { ...options, alarmName: `mmrb-${this.stage}-${id}`, alarmDescription: description });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
