/**
 * The engine's control queue: Freeze and Unfreeze events routed from the bus to an SQS queue of the
 * shard, long-polled. A message is a wake-up, not the state: on each valid one the engine reads the
 * control state (consistently), so duplicates, reordering and a lost message change nothing, and the
 * periodic read covers a message that never comes.
 *
 * A valid message is deleted once the control state was read after it. A malformed one (not JSON, not
 * an EventBridge envelope, an unknown detail type, a detail its schema refuses) is logged with what is
 * wrong and left on the queue: after the queue's maxReceiveCount it lands in the dead-letter queue,
 * where an operator can read it. Nothing is dropped silently.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { parseEventDetail } from '../../core/events.js';
import type { Logger } from '../../ports/logger.js';

/** The EventBridge envelope as a rule's SQS target delivers it (the emulator's has no `account`). */
const EnvelopeSchema = z.looseObject({
  'detail-type': z.string(),
  source: z.string(),
  detail: z.unknown(),
});

export type ControlMessage = { readonly ok: true; readonly detailType: 'Freeze' | 'Unfreeze'; readonly version: number } | { readonly ok: false; readonly error: string };

/** Parses one message body: an EventBridge envelope holding a Freeze or Unfreeze detail. */
export function parseControlMessage(body: string | undefined): ControlMessage {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return { ok: false, error: 'the body is not JSON' };
  }
  const envelope = EnvelopeSchema.safeParse(json);
  if (!envelope.success) return { ok: false, error: `not an EventBridge event: ${envelope.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}` };
  const detailType = envelope.data['detail-type'];
  if (detailType !== 'Freeze' && detailType !== 'Unfreeze') return { ok: false, error: `unexpected detail-type ${JSON.stringify(detailType)}` };
  const parsed = parseEventDetail(detailType, envelope.data.detail);
  if (!parsed.ok) return { ok: false, error: parsed.errors.join('; ') };
  const { detail } = parsed.event as { detail: { freezeVersion: number } };
  return { ok: true, detailType, version: detail.freezeVersion };
}

export interface ControlQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly waitSeconds: number;
  /** Called for every batch with at least one valid message; resolves once the control state was read. */
  readonly onWake: (messages: readonly { detailType: 'Freeze' | 'Unfreeze'; version: number }[]) => Promise<void>;
  readonly logger: Logger;
  readonly sleep: (ms: number) => Promise<void>;
}

/** How long a received control message stays invisible to other receives, s. */
const RECEIVE_VISIBILITY_SECONDS = 2;
/** After a failed receive, the pause before the next one, ms (the periodic read covers the gap). */
const RECEIVE_RETRY_MS = 1_000;

export class ControlQueue {
  private readonly abort = new AbortController();
  /** Read through a method: the linter cannot see that stop() flips it while a request is awaited. */
  private stopped(): boolean {
    return this.abort.signal.aborted;
  }
  private loop: Promise<void> | undefined;
  received = 0;
  malformed = 0;

  constructor(private readonly options: ControlQueueOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    const { client, queueUrl, waitSeconds, logger } = this.options;
    while (!this.stopped()) {
      try {
        const answer = await client.send(
          // A short visibility: a long poll abandoned by a stopped process (its connection closed while
          // SQS still held it) may take a message with it; the message is visible again at once for the
          // live engine, instead of after the queue's 30 s. A wake-up seen twice costs one more read.
          new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: waitSeconds, MaxNumberOfMessages: 10, VisibilityTimeout: RECEIVE_VISIBILITY_SECONDS, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
          { abortSignal: this.abort.signal },
        );
        const messages = answer.Messages ?? [];
        const valid: { detailType: 'Freeze' | 'Unfreeze'; version: number }[] = [];
        const handles: string[] = [];
        for (const message of messages) {
          this.received += 1;
          const parsed = parseControlMessage(message.Body);
          if (!parsed.ok) {
            this.malformed += 1;
            logger.error('malformed control message left for the dead-letter queue', { messageId: message.MessageId, receiveCount: message.Attributes?.ApproximateReceiveCount, error: parsed.error });
            continue;
          }
          valid.push({ detailType: parsed.detailType, version: parsed.version });
          if (message.ReceiptHandle !== undefined) handles.push(message.ReceiptHandle);
        }
        if (valid.length === 0) continue;
        await this.options.onWake(valid);
        for (const handle of handles) await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handle }), { abortSignal: this.abort.signal });
      } catch (error) {
        if (this.stopped()) return;
        logger.warn('control queue receive failed; the periodic read of the control state covers it', { error: error instanceof Error ? error.message : 'unknown error' });
        await this.options.sleep(RECEIVE_RETRY_MS);
      }
    }
  }

  /** Ends the long poll at once. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
