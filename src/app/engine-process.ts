/**
 * The engine process, composed: credentials from Secrets Manager, bybit-api clients for REST and the
 * three WebSockets, the adapters, the order router, the engine, the health server and the tick. The only
 * place that knows every layer; everything it builds is passed in, nothing is global.
 *
 * Start order matters: the private stream is subscribed and backfilled first (positions complete), then
 * the public book feed, then the engine arms disconnect-cancel and reconciles, and only then quotes.
 *
 * The trading key is read again every venue.credentialsCacheTtlMs, and at once when the venue refuses it;
 * a new one is swapped in while the engine trades (key-swap.ts), without a restart.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type RestClientV5, type WebsocketAPIClient, WebsocketClient } from 'bybit-api';
import { RestVenueAccount, loadInstruments } from '../adapters/bybit/account.js';
import { closeForGood } from '../adapters/bybit/close-socket.js';
import { MarketDataFeed } from '../adapters/bybit/market-data.js';
import { BybitMessageError, signedPositionLots, toExecution, toVenueOrderReport } from '../adapters/bybit/messages.js';
import { RestOrderEntry, WebSocketOrderEntry } from '../adapters/bybit/order-entry.js';
import { PrivateStream } from '../adapters/bybit/private-stream.js';
import { VenueQueryError, restStatusQuery } from '../adapters/bybit/queries.js';
import { DynamoStateStore } from '../adapters/dynamodb/state-store.js';
import { DynamoControlStore } from '../adapters/dynamodb/control-store.js';
import { DynamoHeartbeatStore } from '../adapters/dynamodb/heartbeat-store.js';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store.js';
import { ControlQueue } from '../adapters/sqs/control-queue.js';
import { EventBridgePublisher } from '../adapters/eventbridge/publisher.js';
import { type HealthServer, startHealthServer } from '../adapters/health/server.js';
import { createLogger } from '../adapters/logging/logger.js';
import { EngineMetrics, LatencySamples } from '../adapters/metrics/engine-metrics.js';
import { CredentialsProvider, type ResolvedBybitCredentials } from '../adapters/secrets/bybit-credentials.js';
import type { EngineConfig } from '../config/config.js';
import type { Decimal } from '../core/decimal.js';
import { type GridCodec, InstrumentError, gridCodec } from '../core/instrument.js';
import { RecordError } from '../core/records.js';
import { CircuitBreaker } from '../engine/breaker.js';
import { Engine, type EngineObserver, type StopReport } from '../engine/engine.js';
import { RequestLimiter } from '../engine/limiter.js';
import { OrderRouter } from '../engine/router.js';
import { OrderLinkIds } from '../engine/tracker.js';
import { WriteBehind } from '../engine/write-behind.js';
import type { Logger } from '../ports/logger.js';
import { engineControlQueueName, engineServiceName, resourceNames } from '../resources/definitions.js';
import { ControlLink } from './control-link.js';
import { LeaseKeeper } from './lease-keeper.js';
import { readStoredState } from './restore.js';
import { enabledSymbols, engineSettings } from './settings.js';
import { startBusyPoll } from './busy-poll.js';
import { KeySwapError, KeySwapper, checkTradingKey, keyedClients, swapClients } from './key-swap.js';
import { Swappable } from './swappable.js';

/** Where the trading key comes from: Secrets Manager in every deployment (secretsManagerCredentials). */
export interface CredentialsSource {
  get(): Promise<ResolvedBybitCredentials>;
  refresh(reason: string): Promise<ResolvedBybitCredentials>;
  /** Every key and secret served recently, for the logger to redact. */
  secretValues(): string[];
}

/** The configured trading-key secret, through the caching provider (TTL, refresh on an auth error). */
export function secretsManagerCredentials(config: EngineConfig, client: SecretsManagerClient, clock: () => number = Date.now): CredentialsSource {
  return new CredentialsProvider({ client, secretId: config.venue.credentialsSecretId, ttlMs: config.venue.credentialsCacheTtlMs, clock });
}

export interface EngineProcessOptions {
  readonly config: EngineConfig;
  readonly credentials: CredentialsSource;
  /** Where log lines go (stdout by default). */
  readonly logSink?: (line: string) => void;
  readonly clock?: () => number;
  /**
   * The orderLinkId epoch of this generation: by default deciseconds since 1970, so two generations (a
   * restart) never share one; the lease's epoch will take its place.
   */
  readonly epoch?: number;
  /** Told of every request the engine sends (metrics, tests). */
  readonly observer?: EngineObserver;
  /**
   * Where state and events go (config.persistence.enabled): the stage's tables and bus, named by config.stage.
   * With persistence the engine also holds the shard's lease and follows the control state; with an SQS
   * client it long-polls its control queue too (without one, it reads the control state every
   * control.pollIntervalMs only).
   */
  readonly aws?: { readonly dynamodb: DynamoDBClient; readonly eventBridge: EventBridgeClient; readonly sqs?: SQSClient };
  /** Ends a standby's wait for the lease (a stop requested before this process ever traded). */
  readonly signal?: AbortSignal;
  /** This process's name as the lease's owner; host, pid and a random part by default. */
  readonly owner?: string;
  /** Called once when the lease is lost (another generation may trade): the process should stop. */
  readonly onLeaseLost?: (detail: string) => void;
}

export interface ProcessStopReport extends StopReport {
  /** Items of state the journal could not write by the stop's deadline (logged with their content). */
  readonly unwrittenState: number;
}

export interface EngineProcess {
  readonly engine: Engine;
  /** The write-behind of state and events, when persistence is enabled. */
  readonly journal: WriteBehind | undefined;
  /** The link to the control plane, when persistence is enabled. */
  readonly control: ControlLink | undefined;
  /** The lease's epoch this generation trades under (its orderLinkIds carry it). */
  readonly epoch: number;
  readonly logger: Logger;
  readonly healthUrl: string;
  /** The keyId of the trading key the venue clients use now (a new key's once its swap has completed). */
  keyId(): string;
  /** Graceful stop: the engine cancels everything and waits, then the connections close. */
  stop(reason: string): Promise<ProcessStopReport>;
}

/** Order books are read 50 deep: enough for the micro-price and the fast-cancel checks, light to keep. */
const BOOK_DEPTH = 50;
/** Bybit's default per-UID limit for create, amend and cancel on linear, per second, until headers say otherwise. */
const DEFAULT_ORDERS_PER_SECOND = 10;
/** Added to the venue's rate-limit windows: arrival jitter on loopback measured in ms; a WAN needs no less. */
const RATE_WINDOW_MARGIN_MS = 100;
/** Tries of each start-up read (instruments, fee rates) before the start fails. */
const STARTUP_ATTEMPTS = 5;
/** How far back the first execution backfill reaches (Bybit keeps executions queryable for 7 days per request window). */
const INITIAL_LOOKBACK_MS = 7 * 24 * 3_600_000;
/** Reach of the look for unstored orders before the previous generation's last heartbeat, beyond two intervals, ms. */
const ALIVE_MARGIN_MS = 30_000;
/** On stop, how long the write-behind may take to write what is queued (within main.ts's exit deadline), ms. */
const FLUSH_ON_STOP_MS = 4_000;
/** Least time between two scheduled reads of the trading key: a TTL of 0 (no cache) must not spin, ms. */
const MIN_KEY_REFRESH_MS = 1_000;
/** How long a new key's sockets may take to be authenticated and subscribed before its swap fails, ms. */
const KEY_SWAP_READY_MS = 10_000;

/** bybit-api's logger interface, routed into ours (which redacts secrets) at debug and warn. */
function sdkLogger(logger: Logger) {
  return {
    trace: () => undefined,
    info: (...params: unknown[]) => {
      logger.debug('bybit-api', { detail: params });
    },
    error: (...params: unknown[]) => {
      logger.warn('bybit-api', { detail: params });
    },
  };
}

export async function startEngineProcess(options: EngineProcessOptions): Promise<EngineProcess> {
  const { config } = options;
  const clock = options.clock ?? Date.now;
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const symbols = enabledSymbols(config);
  const provider = options.credentials;
  const credentials = await provider.get();
  /** Set once the private stream exists: until then an auth error only refreshes the cached key. */
  const keys: { swapper?: KeySwapper } = {};
  const persistence = config.persistence;
  if (persistence.enabled && !options.aws) throw new Error('persistence is enabled (persistence.enabled) but no DynamoDB and EventBridge clients were given');
  const aws = persistence.enabled ? options.aws : undefined;
  const names = resourceNames(config.stage);
  const loggerBase = {
    serviceName: engineServiceName(config.shard),
    // The key in use too: the provider remembers the last few keys it served, which need not include it.
    secrets: () => [...provider.secretValues(), ...(keys.swapper?.secretValues() ?? [credentials.apiKey, credentials.apiSecret])],
    level: config.engine.logLevel,
    persistentKeys: { shard: config.shard, stage: config.stage },
    ...(options.logSink && { sink: options.logSink }),
  };
  // The single-writer lease comes before anything touches the venue: a standby only waits.
  let epoch = options.epoch ?? Math.floor(clock() / 100);
  let leaseKeeper: LeaseKeeper | undefined;
  // Until the engine exists, a loss is only remembered (the engine is fenced as soon as it is built).
  const leaseLoss: { detail: string | undefined; onLost: (detail: string) => void } = {
    detail: undefined,
    onLost: (detail) => {
      leaseLoss.detail ??= detail;
    },
  };
  if (aws) {
    leaseKeeper = new LeaseKeeper({
      store: new DynamoLeaseStore({ client: aws.dynamodb, table: names.tables.control, requestTimeoutMs: persistence.requestTimeoutMs }),
      shard: config.shard,
      owner: options.owner ?? `${hostname()}/${process.pid.toString()}/${randomUUID().slice(0, 8)}`,
      ttlMs: config.lease.ttlMs,
      renewIntervalMs: config.lease.renewIntervalMs,
      standbyRetryMs: config.lease.standbyRetryMs,
      clock,
      sleep,
      logger: createLogger(loggerBase),
    });
    epoch = (await leaseKeeper.acquire(options.signal)).epoch;
    // Renewed from now on: the start (restore, backfill, reconciliation) may take longer than the lease.
    leaseKeeper.startRenewing((detail) => {
      leaseLoss.onLost(detail);
    });
  }
  const logger = createLogger({
    ...loggerBase,
    // The prefix of every orderLinkId this generation sends: its log lines, orders, items and events share it.
    correlationId: `${config.shard}-${epoch.toString(36)}`,
  });
  logger.info('starting', { shard: config.shard, stage: config.stage, symbols, keyId: credentials.keyId, restUrl: config.venue.restUrl });

  const sdk = sdkLogger(logger);
  // Every holder of a keyed client gets a stand-in, so that a new key's clients replace these in place.
  const venueEndpoints = { restUrl: config.venue.restUrl, wsPrivateUrl: config.venue.wsPrivateUrl, wsTradeUrl: config.venue.wsTradeUrl, recvWindowMs: config.venue.recvWindowMs };
  const initialClients = keyedClients(credentials, venueEndpoints, sdk);
  const restClient = new Swappable<RestClientV5>(initialClients.rest);
  const tradeClient = new Swappable<WebsocketAPIClient>(initialClients.trade);
  const rest = restClient.proxy;
  // Start-up reads are retried: a restart right after another generation's start can find the account's
  // per-second quota of an endpoint spent (fee-rate allows 5 a second), which is "not now", not "no".
  const startupRead = async <T>(what: string, read: () => Promise<T>, retryable: (error: unknown) => boolean = (error) => error instanceof VenueQueryError): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!retryable(error) || !(error instanceof Error) || attempt >= STARTUP_ATTEMPTS) throw error;
        logger.warn('start-up read failed; retrying', { what, attempt, error: error.message });
        await sleep(250 * 2 ** attempt);
      }
    }
  };
  // Before the engine exists a failed read ends the start: the lease goes at once, so a good restart need not wait out its TTL.
  const { accountUid, instruments, venueAccount, feeRates } = await (async () => {
    try {
      // The key first: refused or read-only, nothing else is worth trying; its account is the one every later key must be of.
      const { uid } = await startupRead('the trading key', () => checkTradingKey(rest, 'the trading key'), (error) => error instanceof KeySwapError && error.transient);
      const loaded = await startupRead('instruments', () => loadInstruments(rest, symbols));
      const rates = new Map<string, Decimal>();
      const account = new RestVenueAccount(rest, loaded);
      for (const symbol of symbols) rates.set(symbol, await startupRead(`fee rate of ${symbol}`, () => account.makerFeeRate(symbol)));
      return { accountUid: uid, instruments: loaded, venueAccount: account, feeRates: rates };
    } catch (error) {
      await leaseKeeper?.release();
      throw error;
    }
  })();
  const settings = engineSettings(config, instruments, feeRates);
  const codecs = new Map<string, GridCodec>([...instruments].map(([symbol, instrument]) => [symbol, gridCodec(instrument)]));

  const publicSocket = new WebsocketClient({ wsUrl: config.venue.wsPublicUrl }, sdk);

  const { router: routerConfig } = config;
  if (routerConfig.preferWebSocket) {
    // Connected now rather than on the first order, which would otherwise wait for the handshake.
    initialClients.trade.getWSClient().connectWSAPI().catch((error: unknown) => {
      logger.warn('order-entry WebSocket not connected yet; REST carries orders until it is', { error: error instanceof Error ? error.message : 'unknown' });
    });
  }
  const restEntry = new RestOrderEntry(rest, routerConfig.requestTimeoutMs);
  const breaker = new CircuitBreaker({ failureThreshold: routerConfig.breakerFailures, cooldownMs: routerConfig.breakerCooldownMs });
  const query = restStatusQuery(rest, codecs);
  const router = new OrderRouter({
    primary: routerConfig.preferWebSocket ? new WebSocketOrderEntry(tradeClient.proxy, routerConfig.requestTimeoutMs) : restEntry,
    fallback: restEntry,
    query,
    limiter: new RequestLimiter({ defaultPerSecond: DEFAULT_ORDERS_PER_SECOND, ipBudget: config.venue.ipRequestBudgetPer5s, ipWindowMs: 5_000, tasksSharingIp: config.venue.tasksSharingIp, headroomPercent: routerConfig.rateLimitHeadroomPercent, windowMarginMs: RATE_WINDOW_MARGIN_MS }),
    breaker,
    backoff: { baseMs: routerConfig.backoffBaseMs, maxMs: routerConfig.backoffMaxMs, maxRetries: routerConfig.maxRetries },
    clock,
    sleep,
    random: Math.random,
    refreshCredentials: async () => {
      const fresh = await provider.refresh('the venue refused the key');
      const swapper = keys.swapper;
      if (!swapper) return;
      if (swapper.isInUse(fresh)) {
        logger.warn('the venue refused the trading key, and Secrets Manager serves no other', { keyId: fresh.keyId });
        return;
      }
      // The request is retried once the swap is done, on the new key's clients.
      await swapper.offer(fresh);
    },
    statusQueryAttempts: 3,
    // The quoting rule asks the lease before it decides; this asks again as each request leaves.
    ...(leaseKeeper && { quoteGate: leaseKeeper.blocker.bind(leaseKeeper) }),
  });

  let journal: WriteBehind | undefined;
  let store: DynamoStateStore | undefined;
  let publisher: EventBridgePublisher | undefined;
  if (aws) {
    store = new DynamoStateStore({ client: aws.dynamodb, tables: names.tables, requestTimeoutMs: persistence.requestTimeoutMs });
    publisher = new EventBridgePublisher({ client: aws.eventBridge, eventBusName: names.eventBus, requestTimeoutMs: persistence.requestTimeoutMs });
    journal = new WriteBehind({
      store,
      publisher,
      shard: config.shard,
      epoch,
      instruments,
      settings: persistence,
      clock,
      sleep,
      random: Math.random,
      logger,
    });
  }

  const metrics = new EngineMetrics({ serviceName: engineServiceName(config.shard), shard: config.shard, stage: config.stage, sink: options.logSink ?? ((line) => process.stdout.write(`${line}\n`)), logger });
  const tickToOrder = new LatencySamples();
  /** When the book update being handled arrived (performance.now()), while it is handled. */
  const bookStartedAt: { at: number | undefined } = { at: undefined };

  const streams: { private?: PrivateStream } = {};
  const ids = new OrderLinkIds(config.shard, epoch);
  const links: { control?: ControlLink } = {};
  const engine = new Engine({
    settings,
    router,
    breakerState: (now) => breaker.state(now),
    query,
    account: venueAccount,
    ids,
    backfill: () => streams.private?.backfill() ?? Promise.resolve(),
    clock,
    sleep,
    logger,
    observer: {
      onOrdersSent: (event) => {
        // Sent while a book update is being handled: the time from that update to the hand-off to the router.
        if (bookStartedAt.at !== undefined) tickToOrder.add((performance.now() - bookStartedAt.at) * 1_000);
        options.observer?.onOrdersSent?.(event);
      },
    },
    ...(journal && { journal }),
    ...(leaseKeeper && { lease: leaseKeeper }),
    onSelfFreeze: (reason, detail) => {
      void links.control?.selfFreeze(reason, detail);
    },
  });

  const convert = (source: string, work: () => void): void => {
    try {
      work();
    } catch (error) {
      if (!(error instanceof BybitMessageError || error instanceof InstrumentError)) throw error;
      engine.onMalformed(source, error.message);
    }
  };
  const privateStream = new PrivateStream({
    client: initialClients.private,
    rest,
    symbols: [...instruments.keys()],
    clock,
    initialLookbackMs: INITIAL_LOOKBACK_MS,
    listener: {
      onOrder: (order) => {
        const codec = codecs.get(order.symbol);
        if (!codec) return;
        convert('order', () => {
          engine.onOrderUpdate({ orderLinkId: order.orderLinkId, symbol: order.symbol, side: order.side, report: toVenueOrderReport(order, codec) });
        });
      },
      onExecution: (execution) => {
        const instrument = instruments.get(execution.symbol);
        const codec = codecs.get(execution.symbol);
        if (!instrument || !codec) return;
        convert('execution', () => {
          engine.onExecution(toExecution(execution, instrument, codec));
        });
      },
      onPosition: (position) => {
        const codec = codecs.get(position.symbol);
        if (!codec) return;
        convert('position', () => {
          engine.onVenuePosition(position.symbol, signedPositionLots(position, codec));
        });
      },
      onWallet: (wallet) => {
        engine.onWallet({
          equity: wallet.totalEquity,
          walletBalance: wallet.totalWalletBalance,
          availableBalance: wallet.totalAvailableBalance,
          initialMargin: wallet.totalInitialMargin,
          maintenanceMargin: wallet.totalMaintenanceMargin,
          maintenanceMarginRate: wallet.accountMMRate,
        });
      },
      onUnsynced: (reason) => {
        engine.onPrivateUnsynced(reason);
      },
      onSynced: (count) => {
        engine.onPrivateSynced(count);
      },
      onMalformed: (detail) => {
        engine.onMalformed('private stream', detail);
      },
    },
  });
  streams.private = privateStream;

  const keySwapper = new KeySwapper({
    inUse: credentials,
    logger,
    clock,
    swap: swapClients({
      build: (next) => keyedClients(next, venueEndpoints, sdk),
      rest: restClient,
      trade: tradeClient,
      stream: privateStream,
      accountUid,
      tradeSocket: routerConfig.preferWebSocket,
      readyTimeoutMs: KEY_SWAP_READY_MS,
      drainTimeoutMs: routerConfig.requestTimeoutMs,
      onBackfillFailed: (reason) => {
        engine.onPrivateUnsynced(reason);
      },
    }),
  });
  keys.swapper = keySwapper;
  // Read on schedule too, so a rotation is taken before the old key is revoked. Secrets Manager failing
  // is no error here: the provider serves the cached key, which the venue still accepts.
  const keyRefresh: { timer?: NodeJS.Timeout; stopped: boolean } = { stopped: false };
  const scheduleKeyRefresh = (): void => {
    if (keyRefresh.stopped) return;
    keyRefresh.timer = setTimeout(() => {
      void provider
        .get()
        .then(
          (fresh) => keySwapper.offer(fresh),
          (error: unknown) => {
            logger.warn('reading the trading key failed; trading on the key in use', { keyId: keySwapper.keyId(), error: error instanceof Error ? error.message.slice(0, 300) : 'unknown error' });
          },
        )
        .finally(scheduleKeyRefresh);
    }, Math.max(MIN_KEY_REFRESH_MS, config.venue.credentialsCacheTtlMs));
  };
  const closeSockets = (): void => {
    closeForGood(publicSocket);
    privateStream.close();
    closeForGood(tradeClient.get().getWSClient());
  };

  // The control plane: freezes in, the engine's own freezes and its heartbeat out.
  let controlQueue: ControlQueue | undefined;
  /** Looks the shard's control queue up: inside the start's try below, so that a missing queue ends the start with everything released. */
  let openControlQueue: (() => Promise<ControlQueue>) | undefined;
  const lostLease = { detail: undefined as string | undefined };
  const onLost = (detail: string): void => {
    if (lostLease.detail !== undefined) return;
    lostLease.detail = detail;
    engine.fence(detail);
    options.onLeaseLost?.(detail);
  };
  if (leaseLoss.detail !== undefined) onLost(leaseLoss.detail);
  leaseLoss.onLost = onLost;
  if (aws && publisher) {
    const control = new ControlLink({
      engine,
      shard: config.shard,
      epoch,
      symbols,
      keyId: () => keySwapper.keyId(),
      store: new DynamoControlStore({ client: aws.dynamodb, tables: names.tables, requestTimeoutMs: persistence.requestTimeoutMs }),
      heartbeats: new DynamoHeartbeatStore({ client: aws.dynamodb, table: names.tables.control, requestTimeoutMs: persistence.requestTimeoutMs }),
      publisher,
      pollIntervalMs: config.control.pollIntervalMs,
      heartbeatIntervalMs: config.control.heartbeatIntervalMs,
      clock,
      logger,
      onSuperseded: onLost,
    });
    links.control = control;
    if (aws.sqs) {
      const queueName = engineControlQueueName(config.stage, config.shard);
      const sqs = aws.sqs;
      openControlQueue = async () => {
        const queueUrl = await startupRead(`the control queue ${queueName}`, async () => (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl, () => false);
        if (queueUrl === undefined) throw new Error(`the control queue ${queueName} has no URL`);
        return new ControlQueue({
          client: sqs,
          queueUrl,
          waitSeconds: config.control.queueWaitSeconds,
          logger,
          sleep,
          onWake: () => control.refresh(),
        });
      };
    } else {
      logger.warn('no SQS client: the control state is read every control.pollIntervalMs only', { pollIntervalMs: config.control.pollIntervalMs });
    }
  }

  const marketData = new MarketDataFeed({
    client: publicSocket,
    codecs,
    depth: BOOK_DEPTH,
    staleAfterMs: new Map(symbols.map((symbol) => [symbol, config.symbols[symbol]?.staleBookMs ?? 2_000])),
    clock,
    listener: {
      onBook: (symbol, book, receivedAt) => {
        bookStartedAt.at = performance.now();
        try {
          engine.onBook(symbol, book, receivedAt);
        } finally {
          bookStartedAt.at = undefined;
        }
      },
      onUnsynced: (symbol, reason, detail) => {
        engine.onBookUnsynced(symbol, reason, detail);
      },
    },
  });
  try {
    if (openControlQueue) controlQueue = await openControlQueue();
    if (journal && store && aws) {
      const storedState = store;
      const heartbeats = new DynamoHeartbeatStore({ client: aws.dynamodb, table: names.tables.control, requestTimeoutMs: persistence.requestTimeoutMs });
      const restored = await startupRead('the stored state', async () => {
        // The generation before, if it did not say it stopped: orders it may have left unstored are looked for.
        const previous = (await heartbeats.read([config.shard])).get(config.shard);
        return readStoredState({
          store: storedState,
          shard: config.shard,
          epoch,
          symbols,
          overlapMs: persistence.restoreOverlapMs,
          now: clock(),
          executions: (symbol, start, end) => privateStream.recentExecutions(symbol, start, end),
          isOurs: (orderLinkId) => ids.isOurs(orderLinkId),
          lastSeenAlive: previous && previous.phase !== 'stopped' ? previous.sentAt : undefined,
          aliveMarginMs: 2 * config.control.heartbeatIntervalMs + ALIVE_MARGIN_MS,
          closedOrders: (symbol, start, end) => venueAccount.closedOrders(symbol, start, end),
          logger,
        });
      },
        // A corrupt item needs a person, not another try; a slow or throttled table is "not now".
        (error) => !(error instanceof RecordError),
      );
      engine.restore(restored.state);
      journal.seed(restored.seed);
      privateStream.resumeAt(restored.resumeFrom);
      journal.start();
    }
    await privateStream.start();
    marketData.start();
    // Read before quoting: an engine that starts while frozen stays frozen.
    const control = links.control;
    if (control) await startupRead('the control state', () => control.refresh(), (error) => !(error instanceof RecordError));
    await engine.start();
  } catch (error) {
    // Nothing may be left running: the caller exits or retries.
    marketData.stop();
    await keySwapper.close();
    closeSockets();
    await journal?.stop(clock() + FLUSH_ON_STOP_MS);
    await leaseKeeper?.release();
    throw error;
  }
  links.control?.start();
  controlQueue?.start();
  const health: HealthServer = await startHealthServer({
    port: config.engine.healthPort,
    source: { live: () => engine.live(), ready: () => engine.ready(), status: () => ({ ...engine.status(), stateWrites: journal?.status(), keyId: keySwapper.keyId() }) },
  });
  scheduleKeyRefresh();
  const ticker = setInterval(() => {
    engine.tick();
  }, Math.min(1_000, config.engine.statusIntervalMs));

  const flushMetrics = (): void => {
    metrics.flush(engine.status(), journal?.status(), router.takeFigures(), tickToOrder.drain(), keySwapper.takeFigures());
  };
  const metricsTimer = setInterval(flushMetrics, config.engine.metricsIntervalMs);

  const busyPoll = config.engine.busyPoll ? startBusyPoll() : undefined;
  let stopped: Promise<ProcessStopReport> | undefined;
  const stop = (reason: string): Promise<ProcessStopReport> => {
    stopped ??= (async () => {
      const report = await engine.stop(reason);
      await controlQueue?.stop();
      links.control?.stop();
      // The cancels' final reports are in the queues by now: written before the process goes.
      const unwrittenState = (await journal?.stop(clock() + FLUSH_ON_STOP_MS))?.unwritten ?? 0;
      // The last heartbeat says "stopped", so the watchdog does not take a clean stop for a dead engine.
      if (lostLease.detail === undefined) await links.control?.beat();
      await leaseKeeper?.release();
      busyPoll?.stop();
      clearInterval(ticker);
      clearInterval(metricsTimer);
      flushMetrics();
      marketData.stop();
      // A swap under way finishes first, so that the sockets closed are the ones in use.
      keyRefresh.stopped = true;
      clearTimeout(keyRefresh.timer);
      await keySwapper.close();
      closeSockets();
      await health.close();
      // State left unwritten (logged with its content) makes the stop unclean, whatever the venue says.
      return { ...report, clean: report.clean && unwrittenState === 0, unwrittenState };
    })();
    return stopped;
  };
  return { engine, journal, control: links.control, epoch, logger, healthUrl: health.url, keyId: () => keySwapper.keyId(), stop };
}
