/**
 * The trading-key swap's own rules (src/app/key-swap.ts), with bybit-api's clients replaced by fakes: the
 * swapper reports a new keyId only once its swap completed, keeps the old key on a failure and says why
 * without a secret, serialises swaps; the venue checks refuse what cannot trade; the client swap readies
 * every new client before switching and closes them all when one fails. The whole against the simulator is
 * test/integration/engine-key-swap.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { RestClientV5, WebsocketAPIClient, WebsocketClient } from 'bybit-api';
import type { PrivateStream } from '../../../src/adapters/bybit/private-stream.js';
import type { ResolvedBybitCredentials } from '../../../src/adapters/secrets/bybit-credentials.js';
import { ControlLink, type ControlLinkOptions } from '../../../src/app/control-link.js';
import { type KeyedClients, KeySwapError, KeySwapper, checkTradingKey, swapClients, tradeSocketReady } from '../../../src/app/key-swap.js';
import { Swappable } from '../../../src/app/swappable.js';
import type { LogFields, Logger } from '../../../src/ports/logger.js';
import { EngineHarness } from '../engine/engine-harness.js';
import { rejectionOf } from '../../support/rejection.js';
import { IDLE_WS_STORE } from '../../support/ws.js';

const OLD: ResolvedBybitCredentials = { apiKey: 'OLDKEY0001', apiSecret: 'old-secret-value', keyId: '101', versionId: 'v1' };
const NEW: ResolvedBybitCredentials = { apiKey: 'NEWKEY0002', apiSecret: 'new-secret-value', keyId: '102', versionId: 'v2' };
const OTHER: ResolvedBybitCredentials = { apiKey: 'NEWKEY0003', apiSecret: 'third-secret-value', keyId: '103', versionId: 'v3' };

/** The uid of the account the engine trades, as query-api reports it. */
const ACCOUNT_UID = 100001;

const tick = () => new Promise((resolve) => setImmediate(resolve));

function recordingLogger(): { logger: Logger; lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    lines.push({ level, message, ...(fields && { fields }) });
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** A swap that waits until released, and fails for the keys told to. */
function gatedSwap(failFor: readonly string[] = []) {
  const started: string[] = [];
  const gates: (() => void)[] = [];
  const swap = async (credentials: ResolvedBybitCredentials): Promise<void> => {
    started.push(credentials.keyId);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failFor.includes(credentials.keyId)) throw new KeySwapError(`the venue refused the new key: 10003 API key is invalid.`);
  };
  const release = async () => {
    await tick();
    gates.shift()?.();
    await tick();
  };
  return { swap, started, release };
}

describe('KeySwapper', () => {
  it('swaps to a new key, and reports its keyId only once the swap has completed', async () => {
    const { logger, lines } = recordingLogger();
    const { swap, started, release } = gatedSwap();
    let now = 1_000;
    const swapper = new KeySwapper({ inUse: OLD, swap, logger, clock: () => now });
    expect(swapper.keyId()).toBe('101');
    await swapper.offer(OLD);
    expect(started).toEqual([]);

    const done = swapper.offer(NEW);
    await tick();
    expect(started).toEqual(['102']);
    expect(swapper.keyId()).toBe('101');
    now += 40;
    await release();
    await done;
    expect(swapper.keyId()).toBe('102');
    expect(swapper.isInUse(NEW)).toBe(true);
    expect(lines).toEqual([{ level: 'info', message: 'credentials swapped', fields: { keyId: '102', previousKeyId: '101', tookMs: 40 } }]);
    expect(swapper.takeFigures()).toEqual({ swapped: 1, failed: 0 });
    expect(swapper.takeFigures()).toEqual({ swapped: 0, failed: 0 });
  });

  it('follows a new id of the key in use without swapping, and gives the logger the key in use to redact', async () => {
    const { logger, lines } = recordingLogger();
    const { swap, started, release } = gatedSwap();
    const swapper = new KeySwapper({ inUse: OLD, swap, logger, clock: Date.now });
    expect(swapper.secretValues()).toEqual([OLD.apiKey, OLD.apiSecret]);
    await swapper.offer({ ...OLD, keyId: '101-relabelled' });
    expect(started).toEqual([]);
    expect(swapper.keyId()).toBe('101-relabelled');
    expect(lines).toEqual([{ level: 'info', message: 'credentials relabelled', fields: { keyId: '101-relabelled', previousKeyId: '101' } }]);
    const done = swapper.offer(NEW);
    await release();
    await done;
    expect(swapper.secretValues()).toEqual([NEW.apiKey, NEW.apiSecret]);
  });

  it('takes the same key with another secret for a new key', () => {
    const swapper = new KeySwapper({ inUse: OLD, swap: () => Promise.resolve(), logger: recordingLogger().logger, clock: Date.now });
    expect(swapper.isInUse({ ...OLD, versionId: 'v9' })).toBe(true);
    expect(swapper.isInUse({ ...OLD, apiSecret: 'corrected-secret' })).toBe(false);
  });

  it('keeps the key in use when a swap fails, says why with keyIds only, and tries again at the next offer', async () => {
    const { logger, lines } = recordingLogger();
    const { swap, started, release } = gatedSwap(['102']);
    const swapper = new KeySwapper({ inUse: OLD, swap, logger, clock: Date.now });
    const failed = swapper.offer(NEW);
    await release();
    await expect(failed).resolves.toBeUndefined();
    expect(swapper.keyId()).toBe('101');
    expect(lines).toEqual([
      {
        level: 'error',
        message: 'credentials swap failed; still trading on the key in use, trying again at the next refresh',
        fields: { keyId: '102', keyInUse: '101', error: 'the venue refused the new key: 10003 API key is invalid.' },
      },
    ]);
    const text = JSON.stringify(lines);
    for (const secret of [OLD.apiKey, OLD.apiSecret, NEW.apiKey, NEW.apiSecret]) expect(text).not.toContain(secret);

    const again = swapper.offer(NEW);
    await release();
    await again;
    expect(started).toEqual(['102', '102']);
    expect(swapper.takeFigures()).toEqual({ swapped: 0, failed: 2 });
  });

  it('says "unknown error" for a failure that is no Error, rather than printing it', async () => {
    const { logger, lines } = recordingLogger();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a client library may reject with anything
    const swapper = new KeySwapper({ inUse: OLD, swap: () => Promise.reject(new Map([['secret', NEW.apiSecret]])), logger, clock: Date.now });
    await swapper.offer(NEW);
    expect(lines[0]?.fields?.error).toBe('unknown error');
    expect(JSON.stringify(lines)).not.toContain(NEW.apiSecret);
  });

  it('runs one swap at a time: keys offered meanwhile are coalesced, the latest winning', async () => {
    const { swap, started, release } = gatedSwap();
    const swapper = new KeySwapper({ inUse: OLD, swap, logger: recordingLogger().logger, clock: Date.now });
    const first = swapper.offer(NEW);
    await tick();
    const second = swapper.offer(OLD);
    const third = swapper.offer(OTHER);
    await release();
    await first;
    expect(swapper.keyId()).toBe('102');
    await release();
    await Promise.all([second, third]);
    expect(started).toEqual(['102', '103']);
    expect(swapper.keyId()).toBe('103');
  });

  it('starts no swap once closed, and close waits for the one under way', async () => {
    const { swap, started, release } = gatedSwap();
    const swapper = new KeySwapper({ inUse: OLD, swap, logger: recordingLogger().logger, clock: Date.now });
    const running = swapper.offer(NEW);
    await tick();
    const queued = swapper.offer(OTHER);
    let closed = false;
    const closing = swapper.close().then(() => {
      closed = true;
    });
    await tick();
    expect(closed).toBe(false);
    await release();
    await Promise.all([running, queued, closing]);
    expect(closed).toBe(true);
    await swapper.offer(OTHER);
    expect(started).toEqual(['102']);
    expect(swapper.keyId()).toBe('102');
  });
});

describe('checkTradingKey', () => {
  const rest = (answer: () => Promise<unknown>) => ({ getQueryApiKey: answer }) as unknown as Pick<RestClientV5, 'getQueryApiKey'>;

  it('passes a key the venue accepts and that may trade, with the uid of its account', async () => {
    await expect(checkTradingKey(rest(() => Promise.resolve({ retCode: 0, retMsg: 'OK', result: { readOnly: 0, userID: 100001 } })))).resolves.toEqual({ uid: 100001 });
  });

  it('refuses a key the venue refuses, without the signed string Bybit quotes back', async () => {
    const answer = { retCode: 10004, retMsg: `error sign! origin_string[1700000000000${NEW.apiKey}5000]`, result: {} };
    const error = await checkTradingKey(rest(() => Promise.resolve(answer))).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(KeySwapError);
    expect((error as Error).message).toBe('the venue refused the new key: 10004 error sign! origin_string');
    await expect(checkTradingKey(rest(() => Promise.resolve({ retCode: 10003, retMsg: undefined, result: {} })))).rejects.toThrow(/^the venue refused the new key: 10003 $/);
  });

  it('refuses a read-only key', async () => {
    await expect(checkTradingKey(rest(() => Promise.resolve({ retCode: 0, retMsg: 'OK', result: { readOnly: 1 } })))).rejects.toThrow('the new key is read-only');
  });

  it('says the check failed when no answer came, or the venue said not now, as a transient failure (a refusal is not)', async () => {
    const lost = await rejectionOf(checkTradingKey(rest(() => Promise.reject(new Error('socket hang up')))), KeySwapError);
    expect({ message: lost.message, transient: lost.transient }).toEqual({ message: 'the new key could not be checked: query-api failed: socket hang up', transient: true });
    const refused = await rejectionOf(checkTradingKey(rest(() => Promise.resolve({ retCode: 10003, retMsg: 'API key is invalid.', result: {} })), 'the trading key'), KeySwapError);
    expect({ message: refused.message, transient: refused.transient }).toEqual({ message: 'the venue refused the trading key: 10003 API key is invalid.', transient: false });
    const busy = await rejectionOf(checkTradingKey(rest(() => Promise.resolve({ retCode: 10006, retMsg: 'Too many visits!', result: {} }))), KeySwapError);
    expect(busy.transient).toBe(true);
  });
});

/** bybit-api's WebsocketClient as the trade socket and the private stream use it: an emitter that answers as told. */
class FakeSocket extends EventEmitter {
  closed = 0;
  connectResult: Promise<unknown> = Promise.resolve(undefined);
  onConnect: (socket: FakeSocket) => void = () => undefined;

  connectWSAPI(): Promise<unknown> {
    setImmediate(() => {
      this.onConnect(this);
    });
    return this.connectResult;
  }

  closeAll(): void {
    this.closed += 1;
  }

  getWsStore(): typeof IDLE_WS_STORE {
    return IDLE_WS_STORE;
  }
}

function tradeClient(socket: FakeSocket, request: () => Promise<unknown> = () => Promise.resolve()): WebsocketAPIClient {
  return { getWSClient: () => socket, submitNewOrder: request } as unknown as WebsocketAPIClient;
}

describe('tradeSocketReady', () => {
  it('resolves on an accepted auth, whatever the second auth of bybit-api gets', async () => {
    const socket = new FakeSocket();
    socket.onConnect = (s) => {
      s.emit('authenticated', { op: 'auth', retCode: 0, retMsg: 'OK' });
      s.emit('authenticated', { op: 'auth', retCode: 20001, retMsg: 'Repeat auth' });
    };
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).resolves.toBeUndefined();
    expect(socket.listenerCount('authenticated')).toBe(0);
    // Bybit's private-socket shape of a success (no retCode) is a success too.
    socket.onConnect = (s) => s.emit('authenticated', { op: 'auth', success: true });
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).resolves.toBeUndefined();
  });

  it('rejects when the first auth reply carries a refusal code, which bybit-api takes for a success', async () => {
    const socket = new FakeSocket();
    socket.onConnect = (s) => s.emit('authenticated', { op: 'auth', retCode: 10003, retMsg: 'API key is invalid.' });
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).rejects.toThrow('the order-entry socket refused the new key: 10003 API key is invalid.');
    socket.onConnect = (s) => s.emit('authenticated', { op: 'auth', retCode: '10003' });
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).rejects.toThrow('the order-entry socket refused the new key: no retCode ');
  });

  it('rejects on a failed auth, ignores other exceptions, and gives up after the timeout', async () => {
    const socket = new FakeSocket();
    socket.onConnect = (s) => s.emit('exception', { op: 'auth', success: false, ret_msg: 'Invalid sign' });
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).rejects.toThrow('the order-entry socket refused the new key: Invalid sign');
    socket.onConnect = (s) => s.emit('exception', { op: 'auth', success: false, retMsg: 'API key is invalid.' });
    await expect(tradeSocketReady(tradeClient(socket), 1_000)).rejects.toThrow('the order-entry socket refused the new key: API key is invalid.');

    // A transport error is no answer: the timeout decides, and a connect that rejects changes nothing.
    socket.onConnect = (s) => {
      s.emit('exception', { wsKey: 'v5PrivateTrade' });
      s.emit('exception', 'not an object');
    };
    socket.connectResult = Promise.reject(new Error('disconnected'));
    await expect(tradeSocketReady(tradeClient(socket), 30)).rejects.toThrow('the order-entry socket was not authenticated within 30 ms');
    expect(socket.listenerCount('exception')).toBe(0);
  });
});

describe('swapClients', () => {
  interface Fakes {
    readonly steps: string[];
    readonly next: KeyedClients;
    readonly nextPrivate: FakeSocket;
    readonly nextTrade: FakeSocket;
    readonly oldTrade: FakeSocket;
    readonly rest: Swappable<RestClientV5>;
    readonly trade: Swappable<WebsocketAPIClient>;
    readonly unsynced: string[];
    readonly swap: (credentials: ResolvedBybitCredentials) => Promise<void>;
  }

  function fakes(options: { queryApiKey?: unknown; replace?: () => Promise<void>; backfill?: () => Promise<void>; tradeSocket?: boolean; oldRequest?: () => Promise<unknown> } = {}): Fakes {
    const steps: string[] = [];
    const nextPrivate = new FakeSocket();
    const nextTrade = new FakeSocket();
    nextTrade.onConnect = (s) => {
      steps.push('trade socket authenticated');
      s.emit('authenticated', { op: 'auth', retCode: 0 });
    };
    const oldTrade = new FakeSocket();
    const nextRest = {
      getQueryApiKey: () => {
        steps.push('key checked');
        return Promise.resolve(options.queryApiKey ?? { retCode: 0, retMsg: 'OK', result: { readOnly: 0, userID: ACCOUNT_UID } });
      },
    } as unknown as RestClientV5;
    const next: KeyedClients = { rest: nextRest, private: nextPrivate as unknown as WebsocketClient, trade: tradeClient(nextTrade) };
    const rest = new Swappable({ name: 'old rest' } as unknown as RestClientV5);
    const trade = new Swappable(tradeClient(oldTrade, options.oldRequest));
    const stream = {
      replaceClient: async (client: WebsocketClient, timeoutMs: number) => {
        expect(client).toBe(next.private);
        expect(timeoutMs).toBe(500);
        steps.push('private stream replaced');
        await (options.replace ?? (() => Promise.resolve()))();
      },
      backfill: async (quiet: boolean) => {
        steps.push(`backfilled${quiet ? ' quietly' : ''} with ${rest.get() === nextRest ? 'the new' : 'the old'} REST client`);
        await (options.backfill ?? (() => Promise.resolve()))();
      },
    } as unknown as PrivateStream;
    const unsynced: string[] = [];
    const swap = swapClients({
      build: (credentials) => {
        steps.push(`built for ${credentials.keyId}`);
        return next;
      },
      rest,
      trade,
      stream,
      accountUid: ACCOUNT_UID,
      tradeSocket: options.tradeSocket ?? true,
      readyTimeoutMs: 500,
      drainTimeoutMs: 50,
      onBackfillFailed: (reason) => unsynced.push(reason),
    });
    return { steps, next, nextPrivate, nextTrade, oldTrade, rest, trade, unsynced, swap };
  }

  it('readies every new client before switching, then closes the old order-entry socket and backfills with the new key', async () => {
    const f = fakes();
    await f.swap(NEW);
    expect(f.steps).toEqual(['built for 102', 'key checked', 'trade socket authenticated', 'private stream replaced', 'backfilled quietly with the new REST client']);
    expect(f.rest.get()).toBe(f.next.rest);
    expect(f.trade.get()).toBe(f.next.trade);
    expect(f.oldTrade.closed).toBe(1);
    expect(f.nextTrade.closed + f.nextPrivate.closed).toBe(0);
    expect(f.unsynced).toEqual([]);
  });

  it('closes the old order-entry socket once its requests in flight have settled, or once the router has given up on them', async () => {
    let answer: (() => void) | undefined;
    const answered = fakes({ oldRequest: () => new Promise<void>((resolve) => (answer = resolve)) });
    const inFlight = answered.trade.proxy.submitNewOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001' });
    const swapping = answered.swap(NEW);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered.trade.get()).toBe(answered.next.trade);
    expect(answered.oldTrade.closed).toBe(0);
    answer?.();
    await inFlight;
    await swapping;
    expect(answered.oldTrade.closed).toBe(1);

    // An answer that never comes: closed after the drain timeout (50 ms here).
    const lost = fakes({ oldRequest: () => new Promise<void>(() => undefined) });
    void lost.trade.proxy.submitNewOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001' });
    await lost.swap(NEW);
    expect(lost.oldTrade.closed).toBe(1);
  });

  it('leaves the order-entry socket unconnected when orders go over REST', async () => {
    const f = fakes({ tradeSocket: false });
    await f.swap(NEW);
    expect(f.steps).toEqual(['built for 102', 'key checked', 'private stream replaced', 'backfilled quietly with the new REST client']);
  });

  it('closes every new client and switches nothing when one cannot be used', async () => {
    const refused = fakes({ queryApiKey: { retCode: 10003, retMsg: 'API key is invalid.', result: {} } });
    await expect(refused.swap(NEW)).rejects.toThrow('the venue refused the new key: 10003 API key is invalid.');
    expect(refused.steps).toEqual(['built for 102', 'key checked']);

    // A key the venue accepts, of another account (the master's, pasted by mistake): its orders would land there.
    const elsewhere = fakes({ queryApiKey: { retCode: 0, retMsg: 'OK', result: { readOnly: 0, userID: ACCOUNT_UID + 1 } } });
    await expect(elsewhere.swap(NEW)).rejects.toThrow(`the new key is of account ${ACCOUNT_UID + 1}, not of account ${ACCOUNT_UID}, which this engine trades`);
    expect(elsewhere.steps).toEqual(['built for 102', 'key checked']);

    const noPrivate = fakes({ replace: () => Promise.reject(new Error('the private socket refused auth: API key is invalid.')) });
    await expect(noPrivate.swap(NEW)).rejects.toThrow('the private socket refused auth');
    for (const f of [refused, elsewhere, noPrivate]) {
      expect(f.rest.get()).not.toBe(f.next.rest);
      expect(f.trade.get()).not.toBe(f.next.trade);
      expect(f.nextPrivate.closed).toBe(1);
      expect(f.nextTrade.closed).toBe(1);
      expect(f.oldTrade.closed).toBe(0);
    }
  });

  it('reports a failed backfill after the switch as unsynced, and completes the swap', async () => {
    const failing = fakes({ backfill: () => Promise.reject(new Error('execution backfill for BTCUSDT failed: 10006 Too many visits!')) });
    await failing.swap(NEW);
    expect(failing.trade.get()).toBe(failing.next.trade);
    expect(failing.unsynced).toEqual(['backfill after the key swap failed: execution backfill for BTCUSDT failed: 10006 Too many visits!']);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a client library may reject with anything
    const odd = fakes({ backfill: () => Promise.reject(new Map()) });
    await odd.swap(NEW);
    expect(odd.unsynced).toEqual(['backfill after the key swap failed: unknown error']);
  });
});

describe('the heartbeat', () => {
  it('names the key in use when told it, and nothing otherwise', async () => {
    const h = new EngineHarness();
    await h.quoting();
    const options = { engine: h.engine, shard: 't1', epoch: 7, symbols: ['BTCUSDT'] } as unknown as ControlLinkOptions;
    let keyId = '101';
    const withKey = new ControlLink({ ...options, keyId: () => keyId });
    expect(withKey.heartbeat(h.engine.status(), 1_000)).toMatchObject({ eventId: 'heartbeat:t1:7:1000', keyId: '101' });
    keyId = '102';
    expect(withKey.heartbeat(h.engine.status(), 2_000).keyId).toBe('102');
    expect(new ControlLink(options).heartbeat(h.engine.status(), 1_000)).not.toHaveProperty('keyId');
  });
});
