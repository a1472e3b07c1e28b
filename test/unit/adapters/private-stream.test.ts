/**
 * The private stream's move to a new key's client (PrivateStream.replaceClient), with bybit-api's client
 * replaced by an emitter: make-before-break (both deliver until the new one is subscribed, then the old one
 * is closed and silenced), and a refused or silent new client closed with the old one kept. The stream
 * against the simulator's real sockets is in test/conformance/private-stream.test.ts and
 * test/integration/engine-key-swap.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { RestClientV5, WebsocketClient } from 'bybit-api';
import { PrivateStream, PrivateStreamError } from '../../../src/adapters/bybit/private-stream.js';
import { IDLE_WS_STORE } from '../../support/ws.js';

/** Answers a subscribe as scripted: accepted (auth, then the ack), refused, or not at all. */
class FakePrivateClient extends EventEmitter {
  readonly subscribed: string[][] = [];
  closed = 0;

  constructor(private readonly answer: (client: FakePrivateClient) => void = acceptSubscribe) {
    super();
  }

  subscribeV5(topics: string[]): Promise<unknown>[] {
    this.subscribed.push(topics);
    setImmediate(() => {
      this.answer(this);
    });
    return [];
  }

  closeAll(): void {
    this.closed += 1;
  }

  getWsStore(): typeof IDLE_WS_STORE {
    return IDLE_WS_STORE;
  }
}

function acceptSubscribe(client: FakePrivateClient): void {
  client.emit('authenticated', { op: 'auth', success: true });
  client.emit('response', { op: 'subscribe', success: true, req_id: 'order,execution,position,wallet,dcp.future' });
}

const EMPTY_PAGE = { retCode: 0, retMsg: 'OK', result: { list: [], nextPageCursor: '' } };
const rest = {
  getExecutionList: () => Promise.resolve(EMPTY_PAGE),
  getActiveOrders: () => Promise.resolve(EMPTY_PAGE),
  getWalletBalance: () => Promise.resolve({ retCode: 0, retMsg: 'OK', result: { list: [] } }),
} as unknown as RestClientV5;

function setup(first = new FakePrivateClient()) {
  const heard: string[] = [];
  const stream = new PrivateStream({
    client: first as unknown as WebsocketClient,
    rest,
    symbols: ['BTCUSDT'],
    clock: () => 1_700_000_000_000,
    initialLookbackMs: 60_000,
    listener: {
      onOrder: () => heard.push('order'),
      onExecution: () => heard.push('execution'),
      onPosition: () => heard.push('position'),
      onWallet: () => heard.push('wallet'),
      onUnsynced: (reason) => heard.push(`unsynced: ${reason}`),
      onSynced: (count) => heard.push(`synced: ${count}`),
      // A malformed order is the cheapest message to tell which socket delivered.
      onMalformed: () => heard.push('message'),
    },
  });
  const message = { topic: 'order', data: [{}] };
  return { stream, heard, first, message };
}

const asClient = (client: FakePrivateClient) => client as unknown as WebsocketClient;

describe('PrivateStream.replaceClient', () => {
  it('subscribes the new client while the old one delivers, then closes and silences the old one', async () => {
    const { stream, heard, first, message } = setup();
    await stream.start();
    expect(heard).toEqual(['synced: 0']);
    heard.length = 0;

    let ack: (() => void) | undefined;
    const next = new FakePrivateClient((client) => {
      client.emit('authenticated', { op: 'auth', success: true });
      ack = () => client.emit('response', { op: 'subscribe', success: true });
    });
    const replaced = stream.replaceClient(asClient(next), 5_000);
    await new Promise((resolve) => setImmediate(resolve));
    // The overlap: both deliver.
    first.emit('update', message);
    next.emit('update', message);
    expect(heard).toEqual(['message', 'message']);
    expect(first.closed).toBe(0);
    // An unrelated reply is no acknowledgement.
    next.emit('response', { op: 'pong' });
    next.emit('response', { op: 'subscribe', success: false });
    ack?.();
    await replaced;
    expect(next.subscribed).toEqual([['order', 'execution', 'position', 'wallet', 'dcp.future']]);
    expect(first.closed).toBe(1);
    expect(first.listenerCount('update')).toBe(0);
    first.emit('update', message);
    next.emit('update', message);
    expect(heard).toEqual(['message', 'message', 'message']);
    // Its waiting is over: nothing of it is left on the new client but the stream's own listeners.
    expect(next.listenerCount('response')).toBe(0);
    expect(next.listenerCount('exception')).toBe(0);

    // A reconnect of the new client is handled as the first one's was.
    next.emit('reconnected', {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard.slice(3)).toEqual(['unsynced: the private connection was re-established', 'synced: 0']);

    stream.close();
    expect(next.closed).toBe(1);
  });

  it('closes a new client that is refused, and keeps the old one in use', async () => {
    const { stream, heard, first, message } = setup();
    await stream.start();
    heard.length = 0;
    const refusals: [string, Record<string, unknown>][] = [
      ['the private socket refused auth: API key is invalid.', { op: 'auth', success: false, ret_msg: 'API key is invalid.' }],
      ['the private socket refused subscribe: Request not authorized', { op: 'subscribe', success: false, ret_msg: 'Request not authorized' }],
      ['the private socket refused auth: no reason given', { op: 'auth', success: false }],
    ];
    for (const [expected, frame] of refusals) {
      const next = new FakePrivateClient((client) => {
        // A transport error of the new socket says nothing yet.
        client.emit('exception', { wsKey: 'v5Private' });
        client.emit('exception', null);
        client.emit('exception', frame);
      });
      const error = await stream.replaceClient(asClient(next), 5_000).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(PrivateStreamError);
      expect((error as Error).message).toBe(expected);
      expect(next.closed).toBe(1);
      expect(next.listenerCount('update')).toBe(0);
    }
    expect(first.closed).toBe(0);
    first.emit('update', message);
    expect(heard).toEqual(['message']);
  });

  it('gives up on a new client not subscribed in time', async () => {
    const { stream, first } = setup();
    await stream.start();
    const silent = new FakePrivateClient(() => undefined);
    await expect(stream.replaceClient(asClient(silent), 30)).rejects.toThrow('the private socket was not authenticated and subscribed within 30 ms');
    expect(silent.closed).toBe(1);
    expect(first.closed).toBe(0);
  });
});

describe('PrivateStream.backfill', () => {
  it('tells onSynced, unless asked to be quiet (the stream never was unsynced)', async () => {
    const { stream, heard } = setup();
    await stream.backfill(true);
    expect(heard).toEqual([]);
    await stream.backfill();
    expect(heard).toEqual(['synced: 0']);
  });
});
