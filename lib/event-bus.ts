/**
 * The custom event bus (fills, order updates, freezes, heartbeats: docs/EVENTS.md) with an archive of
 * everything put on it, so that an incident can be replayed into a rule's queue.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import type { RuleDefinition } from '../src/resources/definitions.js';

export interface EventBusWithArchiveProps {
  readonly eventBusName: string;
  readonly archiveDays: number;
}

export class EventBusWithArchive extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;

  constructor(scope: Construct, id: string, props: EventBusWithArchiveProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.eventBusName });
    this.bus.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.archive = this.bus.archive('Archive', {
      archiveName: `${props.eventBusName}-archive`,
      description: `Every event put on ${props.eventBusName}, for replays`,
      // Every event of this account (all of them: only this project's code can put on the bus).
      eventPattern: { account: [Stack.of(this).account] },
      retention: Duration.days(props.archiveDays),
    });
  }
}

/** A rule's event pattern (EventBridge's JSON keys, as the definitions hold it) as the CDK takes it. */
export function eventPatternOf(rule: RuleDefinition): events.EventPattern {
  return { source: [...(rule.pattern.source ?? [])], detailType: [...(rule.pattern['detail-type'] ?? [])] };
}
