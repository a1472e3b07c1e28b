/**
 * One WebSocket connection to the simulated venue, whichever endpoint it came in on. Messages are sent
 * as compact JSON (bybit-api recognises pongs by substring). A stalled connection (fault) silently drops
 * what would be sent to it until the stall ends, as a frozen network path would.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ApiKeyRecord } from '../venue/keys.js';

export type Endpoint = 'public' | 'private' | 'trade';

export class WsClient {
  readonly connId = randomUUID();
  key: ApiKeyRecord | undefined;
  /** Subscribed topics, by the name the client used. */
  readonly topics = new Set<string>();
  /** reqIds seen on an order-entry socket (a repeat gets 20006). */
  readonly reqIds = new Set<string>();
  stalledUntil = 0;

  constructor(
    readonly endpoint: Endpoint,
    readonly socket: WebSocket,
    private readonly clock: () => number,
  ) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  send(message: unknown): void {
    if (!this.open || this.clock() < this.stalledUntil) return;
    this.socket.send(JSON.stringify(message));
  }
}

/** Parses a client frame; undefined when it is not a JSON object. */
export function parseFrame(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The request id a client sent, as a string ('' when none). */
export function requestId(frame: Record<string, unknown>, field: 'req_id' | 'reqId'): string | undefined {
  const value = frame[field];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}
