/**
 * Events to the project's EventBridge bus (port: src/ports/state-store.ts): up to 10 entries per PutEvents,
 * and the indexes of the entries the bus refused, so that only those are sent again. The detail is the
 * JSON of a schema from src/core/events.ts; its eventId is what consumers deduplicate on.
 */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCES, type EventSource } from '../../core/events.js';
import type { BusEvent, EventPublisher } from '../../ports/state-store.js';

export interface EventBridgePublisherOptions {
  readonly client: EventBridgeClient;
  readonly eventBusName: string;
  readonly requestTimeoutMs: number;
  /** The events' `source`: the engine unless said otherwise (the Lambdas name themselves). */
  readonly source?: EventSource;
}

/** PutEvents takes at most 10 entries. */
export const MAX_EVENTS_PER_PUT = 10;
/** PutEvents takes at most 256 KiB per request; one entry must stay well below it. */
const MAX_ENTRY_BYTES = 64 * 1024;

export class EventTooLargeError extends Error {
  override readonly name = 'EventTooLargeError';
}

export class EventBridgePublisher implements EventPublisher {
  constructor(private readonly options: EventBridgePublisherOptions) {}

  async publish(events: readonly BusEvent[]): Promise<readonly number[]> {
    if (events.length === 0) return [];
    if (events.length > MAX_EVENTS_PER_PUT) throw new RangeError(`publish takes at most ${MAX_EVENTS_PER_PUT} events, got ${events.length}`);
    const entries = events.map((event) => {
      const detail = JSON.stringify(event.detail);
      if (detail.length > MAX_ENTRY_BYTES) throw new EventTooLargeError(`event ${event.detail.eventId} is ${detail.length} bytes`);
      return { EventBusName: this.options.eventBusName, Source: this.options.source ?? EVENT_SOURCES.engine, DetailType: event.detailType, Detail: detail, Time: new Date(event.time) };
    });
    const answer = await this.options.client.send(new PutEventsCommand({ Entries: entries }), { abortSignal: AbortSignal.timeout(this.options.requestTimeoutMs) });
    if (!answer.FailedEntryCount) return [];
    // The answer's entries are in the order of the request's: an entry with an ErrorCode was not put.
    const failed: number[] = [];
    (answer.Entries ?? []).forEach((entry, index) => {
      if (entry.ErrorCode !== undefined || entry.EventId === undefined) failed.push(index);
    });
    return failed;
  }
}
