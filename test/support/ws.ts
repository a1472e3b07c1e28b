/** Helpers for WebSocket conformance tests: a silent SDK logger, a raw socket, and waiting for events. */
import { WebSocket } from 'ws';

export const SILENT_LOGGER = { trace: () => undefined, info: () => undefined, error: () => undefined };

/** Resolves with the first value `take` accepts among `events`, recorded so far or arriving later. */
export async function waitFor<T>(events: unknown[], take: (event: unknown) => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const event of events) {
      const value = take(event);
      if (value !== undefined) return value;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms; saw ${events.length} events: ${JSON.stringify(events.slice(-5)).slice(0, 2_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface RawSocket {
  readonly messages: Record<string, unknown>[];
  /** The raw text of every frame, to check the JSON is compact. */
  readonly frames: string[];
  readonly send: (frame: unknown) => void;
  readonly next: (match: (message: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>;
  readonly close: () => void;
  readonly terminate: () => void;
}

export async function rawSocket(url: string): Promise<RawSocket> {
  const socket = new WebSocket(url);
  const messages: Record<string, unknown>[] = [];
  const frames: string[] = [];
  socket.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    frames.push(text);
    messages.push(JSON.parse(text) as Record<string, unknown>);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  return {
    messages,
    frames,
    send: (frame) => {
      socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    next: (match, timeoutMs) => waitFor(messages, (message) => (match(message as Record<string, unknown>) ? (message as Record<string, unknown>) : undefined), timeoutMs),
    close: () => {
      socket.close();
    },
    terminate: () => {
      socket.terminate();
    },
  };
}

/** A fake bybit-api client's WsStore as closeForGood reads it: no connection attempt under way. */
export const IDLE_WS_STORE = { getKeys: (): string[] => [], getConnectionInProgressPromise: (): undefined => undefined };
