/**
 * The trading key, swapped while the engine runs: no restart, no cancel, no quote pulled.
 *
 * bybit-api's clients copy the key at construction and have no setter, so a new key means new clients.
 * Every holder reaches them through a stand-in (swappable.ts) or, for the private stream, through
 * PrivateStream.replaceClient. A swap to a key Secrets Manager serves (scheduled read, or after the venue
 * refused the key in use) goes:
 *   1. the new key is checked over REST (query-api): refused, read-only, or of another account than the
 *      one the engine trades, it stops here;
 *   2. the new order-entry socket is connected and its auth accepted (when orders go over it);
 *   3. the private stream moves make-before-break: the new socket authenticated and subscribed (dcp.future
 *      too, so disconnect-cancel never finds us gone), then the old one closed;
 *   4. REST and order entry switch to the new clients; the old order-entry socket is closed once its
 *      requests in flight have settled (or the router has given up on them);
 *   5. the private stream is backfilled over REST with the new key: a revoked key's socket goes silent, and
 *      anything it missed arrives here (each execId is applied once).
 * Only then does the keyId in use (heartbeat, status) change. A failure in 1 to 3 closes the new clients,
 * leaves the old ones in use, is logged (keyIds only), and is tried again at the next refresh. Swaps run
 * one at a time; keys offered during one are coalesced into the next, the latest winning.
 */
import { RestClientV5, WebsocketAPIClient, WebsocketClient } from 'bybit-api';
import { describeThrown } from '../adapters/bybit/account.js';
import { closeForGood } from '../adapters/bybit/close-socket.js';
import type { PrivateStream } from '../adapters/bybit/private-stream.js';
import { classifyRetCode } from '../engine/retry.js';
import type { ResolvedBybitCredentials } from '../adapters/secrets/bybit-credentials.js';
import type { Logger } from '../ports/logger.js';
import { LatestOnly, type Swappable } from './swappable.js';

/** The bybit-api clients that carry the key (the public book socket carries none). */
export interface KeyedClients {
  readonly rest: RestClientV5;
  /** The private stream's socket. */
  readonly private: WebsocketClient;
  /** The order-entry socket; connected only when orders go over it. */
  readonly trade: WebsocketAPIClient;
}

export interface KeyedEndpoints {
  readonly restUrl: string;
  readonly wsPrivateUrl: string;
  readonly wsTradeUrl: string;
  readonly recvWindowMs: number;
}

type SdkLogger = ConstructorParameters<typeof WebsocketClient>[1];

/** Builds the clients of one key; nothing connects yet. */
export function keyedClients(credentials: ResolvedBybitCredentials, venue: KeyedEndpoints, sdk: SdkLogger): KeyedClients {
  const auth = { key: credentials.apiKey, secret: credentials.apiSecret };
  return {
    rest: new RestClientV5({ ...auth, baseUrl: venue.restUrl, recv_window: venue.recvWindowMs, parseAPIRateLimits: true }),
    private: new WebsocketClient({ ...auth, wsUrl: venue.wsPrivateUrl }, sdk),
    trade: new WebsocketAPIClient({ ...auth, wsUrl: venue.wsTradeUrl, attachEventListeners: false }, sdk),
  };
}

export class KeySwapError extends Error {
  override readonly name = 'KeySwapError';

  /** `transient`: the venue could not be asked (network) or said "not now" (rate limit, busy), rather than no. */
  constructor(
    message: string,
    readonly transient = false,
  ) {
    super(message);
  }
}

/** The venue's text, short, and cut before a bracket: Bybit's 10004 quotes the signed string, key included. */
function venueText(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\[.*$/s, '').slice(0, 120) : '';
}

/**
 * Asks the venue about a key (GET /v5/user/query-api, any key may): the uid of the account it trades, or a
 * KeySwapError unless it is accepted and may trade. `which` names the key in the error.
 */
export async function checkTradingKey(rest: Pick<RestClientV5, 'getQueryApiKey'>, which = 'the new key'): Promise<{ readonly uid: number }> {
  let answer: Awaited<ReturnType<RestClientV5['getQueryApiKey']>>;
  try {
    answer = await rest.getQueryApiKey();
  } catch (thrown) {
    throw new KeySwapError(`${which} could not be checked: query-api failed: ${describeThrown(thrown)}`, true);
  }
  // "Not now" (rate limit, venue busy) is no verdict on the key.
  if (answer.retCode !== 0) throw new KeySwapError(`the venue refused ${which}: ${answer.retCode} ${venueText(answer.retMsg)}`, classifyRetCode(answer.retCode) === 'retryable');
  if (answer.result.readOnly !== 0) throw new KeySwapError(`${which} is read-only`);
  return { uid: answer.result.userID };
}

/**
 * Connects the order-entry socket and resolves once the venue accepted its auth. bybit-api takes any auth
 * reply without `success: false` for a success, and the trade socket refuses with a retCode only, so the
 * first auth reply's retCode decides here (bybit-api's second auth gets a harmless "repeat auth" 20001).
 */
export function tradeSocketReady(client: WebsocketAPIClient, timeoutMs: number): Promise<void> {
  const socket = client.getWSClient();
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('authenticated', onAuthenticated);
      socket.off('exception', onException);
      if (error) reject(error);
      else resolve();
    };
    const onAuthenticated = (event: unknown): void => {
      const { retCode, retMsg } = fields(event);
      if (retCode === undefined || retCode === 0) finish();
      else finish(new KeySwapError(`the order-entry socket refused the new key: ${typeof retCode === 'number' ? retCode : 'no retCode'} ${venueText(retMsg)}`));
    };
    const onException = (event: unknown): void => {
      const { op, retMsg, ret_msg } = fields(event);
      if (op === 'auth') finish(new KeySwapError(`the order-entry socket refused the new key: ${venueText(retMsg ?? ret_msg)}`));
    };
    const timer = setTimeout(() => {
      finish(new KeySwapError(`the order-entry socket was not authenticated within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('authenticated', onAuthenticated);
    socket.on('exception', onException);
    // Settles when authenticated, or rejects when closed: the listeners above have decided by then.
    socket.connectWSAPI().catch(() => undefined);
  });
}

function fields(event: unknown): { retCode?: unknown; retMsg?: unknown; ret_msg?: unknown; op?: unknown } {
  return typeof event === 'object' && event !== null ? event : {};
}

export interface ClientSwapOptions {
  readonly build: (credentials: ResolvedBybitCredentials) => KeyedClients;
  readonly rest: Swappable<RestClientV5>;
  readonly trade: Swappable<WebsocketAPIClient>;
  readonly stream: PrivateStream;
  /**
   * The uid of the account the engine trades (its first key's, checked at start): a key of another account
   * (the master's, another sub-account's, pasted by mistake) is refused, as its orders would land elsewhere.
   */
  readonly accountUid: number;
  /** Orders go over the order-entry socket (router.preferWebSocket): the new one is connected before the switch. */
  readonly tradeSocket: boolean;
  /** How long a new socket may take to be authenticated (and subscribed). */
  readonly readyTimeoutMs: number;
  /** How long the old order-entry socket's requests may take to settle; the router gives up on them after its request timeout anyway. */
  readonly drainTimeoutMs: number;
  /** The backfill after the switch failed: the stream may have missed messages. */
  readonly onBackfillFailed: (reason: string) => void;
}

/** Steps 1 to 5 above, for KeySwapper: throws, with the old clients still in use, when the new ones cannot be used. */
export function swapClients(options: ClientSwapOptions): (credentials: ResolvedBybitCredentials) => Promise<void> {
  return async (credentials) => {
    const next = options.build(credentials);
    try {
      const { uid } = await checkTradingKey(next.rest);
      if (uid !== options.accountUid) throw new KeySwapError(`the new key is of account ${uid}, not of account ${options.accountUid}, which this engine trades`);
      if (options.tradeSocket) await tradeSocketReady(next.trade, options.readyTimeoutMs);
      // Last: once it succeeds, the private stream is on the new key already.
      await options.stream.replaceClient(next.private, options.readyTimeoutMs);
    } catch (error) {
      closeForGood(next.private);
      closeForGood(next.trade.getWSClient());
      throw error;
    }
    // REST holds no connection of its own: the old client is simply dropped.
    options.rest.swap(next.rest);
    const previousTrade = options.trade.swap(next.trade);
    await options.trade.drained(previousTrade, options.drainTimeoutMs);
    closeForGood(previousTrade.getWSClient());
    // Quiet: the stream stayed in sync throughout, so the engine has nothing to reconcile.
    await options.stream.backfill(true).catch((error: unknown) => {
      options.onBackfillFailed(`backfill after the key swap failed: ${error instanceof Error ? error.message.slice(0, 300) : 'unknown error'}`);
    });
  };
}

export interface KeySwapperOptions {
  /** The key the clients in place were built with. */
  readonly inUse: ResolvedBybitCredentials;
  /** Puts clients with the given key in place; throws, with the old clients still in place, when it cannot. */
  readonly swap: (credentials: ResolvedBybitCredentials) => Promise<void>;
  readonly logger: Logger;
  readonly clock: () => number;
}

/** Swaps since the figures were last taken (metrics). */
export interface KeySwapFigures {
  readonly swapped: number;
  readonly failed: number;
}

export class KeySwapper {
  private inUse: ResolvedBybitCredentials;
  private readonly runs: LatestOnly<ResolvedBybitCredentials>;
  private closed = false;
  private figures = { swapped: 0, failed: 0 };

  constructor(private readonly options: KeySwapperOptions) {
    this.inUse = options.inUse;
    this.runs = new LatestOnly((credentials) => this.run(credentials));
  }

  /** The keyId of the clients in use: a new key's only once its swap has completed. */
  keyId(): string {
    return this.inUse.keyId;
  }

  /** Whether these are the key and secret in use. */
  isInUse(credentials: ResolvedBybitCredentials): boolean {
    return credentials.apiKey === this.inUse.apiKey && credentials.apiSecret === this.inUse.apiSecret;
  }

  /** The key and secret in use, for the logger to redact however many keys the provider has served since. */
  secretValues(): string[] {
    return [this.inUse.apiKey, this.inUse.apiSecret];
  }

  /**
   * Swaps to these credentials if they are not the ones in use. Resolves once that swap has completed or
   * failed (a failure is logged and counted, never thrown: the next offer tries again).
   */
  offer(credentials: ResolvedBybitCredentials): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.runs.submit(credentials);
  }

  /** No swap starts after this; resolves once the one under way, if any, has finished. */
  close(): Promise<void> {
    this.closed = true;
    return this.runs.idle();
  }

  /** The figures since the last call, and a fresh start. */
  takeFigures(): KeySwapFigures {
    const figures = this.figures;
    this.figures = { swapped: 0, failed: 0 };
    return figures;
  }

  private async run(next: ResolvedBybitCredentials): Promise<void> {
    if (this.closed) return;
    const previous = this.inUse;
    if (this.isInUse(next)) {
      // The same key under another id (a secret rewritten by hand): nothing to swap, but the id reported follows.
      if (next.keyId !== previous.keyId) {
        this.inUse = next;
        this.options.logger.info('credentials relabelled', { keyId: next.keyId, previousKeyId: previous.keyId });
      }
      return;
    }
    const startedAt = this.options.clock();
    try {
      await this.options.swap(next);
    } catch (error) {
      this.figures.failed += 1;
      // keyIds and the reason only: never a key, a secret, or an object that may hold them.
      this.options.logger.error('credentials swap failed; still trading on the key in use, trying again at the next refresh', {
        keyId: next.keyId,
        keyInUse: previous.keyId,
        error: error instanceof Error ? error.message.slice(0, 300) : 'unknown error',
      });
      return;
    }
    this.inUse = next;
    this.figures.swapped += 1;
    this.options.logger.info('credentials swapped', { keyId: next.keyId, previousKeyId: previous.keyId, tookMs: this.options.clock() - startedAt });
  }
}
