/**
 * Starts the simulated Bybit v5 venue on loopback: the exchange, its accounts and API keys, and the REST
 * server. Tests start it in-process on a free port; `npm run sim` runs it standalone.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Decimal, dec, roundedMultiple } from '../src/core/decimal.js';
import { parseLinearInstrument } from '../src/core/instrument.js';
import { DEFAULT_INSTRUMENTS_RAW } from './config/instruments.js';
import { Exchange } from './exchange/exchange.js';
import { buildKeyRoutes, randomCredentials } from './http/key-routes.js';
import { IpLimiter, UidLimits } from './http/rate-limit.js';
import { type VenueState, buildRoutes } from './http/routes.js';
import { NO_REST_FAULTS, type RestFaults, createRestListener } from './http/server.js';
import { MarketGenerator, defaultGeneratorOptions } from './market/generator.js';
import { type RecordedMessage, ReplayDriver, checkRecording, playRecording } from './market/replay.js';
import { seededRandom } from './random.js';
import type { Endpoint } from './ws/client.js';
import { WsGateway } from './ws/gateway.js';
import { type PrivateFaults, PrivateFeed } from './ws/private.js';
import { type PublicFaults, PublicFeed } from './ws/public.js';
import { TradeGateway } from './ws/trade.js';
import { KeyStore, type Permissions, TRADING_PERMISSIONS } from './venue/keys.js';
import { RecentTrades } from './venue/market-data.js';

export interface SimAccountSpec {
  readonly accountId: string;
  readonly uid: number;
  readonly makerFeeRate: string;
  readonly takerFeeRate: string;
  readonly walletBalance: string;
}

export interface SimKeySpec {
  readonly apiKey: string;
  readonly secret: string;
  readonly accountId: string;
  readonly readOnly?: boolean;
  readonly permissions?: Permissions;
  readonly ips?: readonly string[];
  readonly isMaster?: boolean;
  readonly note?: string;
}

/** The market-making account trades with a maker rebate, as a market-maker tier does. */
export const DEFAULT_ACCOUNTS: readonly SimAccountSpec[] = [
  { accountId: 'master', uid: 100000, makerFeeRate: '0.0002', takerFeeRate: '0.00055', walletBalance: '0' },
  { accountId: 'mm', uid: 100001, makerFeeRate: '-0.000025', takerFeeRate: '0.00055', walletBalance: '100000' },
  { accountId: 'flow', uid: 100002, makerFeeRate: '0.0002', takerFeeRate: '0.00055', walletBalance: '100000000' },
];

/** Test keys; printed by `npm run sim`. Never real credentials. */
export const DEFAULT_KEYS: readonly SimKeySpec[] = [
  { apiKey: 'SIMTRADERKEY0001', secret: 'sim-trader-secret-0001', accountId: 'mm', note: 'trading key of the mm sub-account' },
  { apiKey: 'SIMREADONLYKEY01', secret: 'sim-readonly-secret-01', accountId: 'mm', readOnly: true, note: 'read-only key of the mm sub-account' },
  { apiKey: 'SIMMASTERKEY0001', secret: 'sim-master-secret-0001', accountId: 'master', isMaster: true, note: 'master key (key management)' },
];

export interface SimulatorOptions {
  readonly host?: string;
  readonly port?: number;
  readonly seed?: number;
  readonly instruments?: readonly Readonly<Record<string, unknown>>[];
  readonly accounts?: readonly SimAccountSpec[];
  readonly keys?: readonly SimKeySpec[];
  /** Wall clock, ms. The venue's clock is this plus the clock-skew fault. */
  readonly clock?: () => number;
  /** Per-IP limit: Bybit's 600 requests in 5 s and a 10-minute ban, unless a test shortens them. */
  readonly ipLimit?: { readonly limit: number; readonly windowMs: number; readonly banMs: number };
  /**
   * Multiplies every per-UID endpoint limit. 1 is Bybit's default tier; Bybit raises limits for VIP and
   * PRO accounts (docs/v5/rate-limit), which a larger scale models (benchmarks use it).
   */
  readonly rateLimitScale?: number;
  /**
   * Pushes the order books this many times more often than Bybit does (1: Bybit's intervals, e.g. 20 ms
   * for depth 50). An accelerated run for benchmarks: an hour of book messages in a fraction of it.
   */
  readonly bookPushSpeedup?: number;
  readonly onError?: (error: unknown) => void;
  /**
   * The moving market (sim/market/generator.ts), one generator per instrument. Off by default, so tests see
   * a quiet book unless they ask; `autoStart` steps it in real time, otherwise tests call step().
   */
  readonly market?: { readonly autoStart: boolean; readonly intervalMs?: number; readonly initialMids?: Readonly<Record<string, string>> };
  /**
   * Replays a recording (sim/market/replay.ts) as the market of its symbols, instead of the generator.
   * `speed` 1 is real time; the recording is checked against the instruments before anything starts.
   */
  readonly replay?: { readonly messages: readonly RecordedMessage[]; readonly speed?: number; readonly loop?: boolean };
}

/** Starting mids of the default instruments when the market generator runs. */
export const DEFAULT_MIDS: Readonly<Record<string, string>> = { BTCUSDT: '65000', ETHUSDT: '3500', BIOUSDT: '0.25' };

export interface SimulatorFaults extends RestFaults, PublicFaults, PrivateFaults {
  /** Added to the venue's clock, ms (positive: the venue runs ahead). */
  clockSkewMs: number;
}

export interface Simulator {
  readonly restUrl: string;
  /** WebSocket URLs: public linear, private, and order entry. */
  readonly wsUrls: { readonly public: string; readonly private: string; readonly trade: string };
  /** WebSocket faults that act at once: close connections, or send nothing to them for a while. */
  readonly ws: { drop(endpoint?: Endpoint): number; stall(endpoint: Endpoint | undefined, ms: number): number };
  readonly exchange: Exchange;
  readonly keys: KeyStore;
  readonly faults: SimulatorFaults;
  readonly accounts: ReadonlyMap<string, SimAccountSpec>;
  /** Market generators by symbol (empty unless `market` was given). */
  readonly markets: ReadonlyMap<string, MarketGenerator>;
  /** Requests refused because a client overran its own quota (not by the storm fault), by path, and IP bans imposed. */
  limitStats(): { readonly uidRefusals: Readonly<Record<string, number>>; readonly ipBans: number };
  /** The venue's current time (ms), including any clock skew. */
  now(): number;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const wallClock = options.clock ?? Date.now;
  const faults: SimulatorFaults = { ...NO_REST_FAULTS, clockSkewMs: 0, bookGapOnce: false, wsDuplicateExecutionRate: 0, wsExecutionDelayMs: 0 };
  const random = seededRandom(options.seed ?? 1);
  const now = () => wallClock() + faults.clockSkewMs;
  const rawInstruments = options.instruments ?? DEFAULT_INSTRUMENTS_RAW;
  const instruments = rawInstruments.map((raw) => parseLinearInstrument(raw));
  const trades = new RecentTrades();
  const exchange = new Exchange({ instruments, clock: now });
  const accounts = new Map<string, SimAccountSpec>();
  for (const account of options.accounts ?? DEFAULT_ACCOUNTS) {
    const rate = (value: string): Decimal => dec(value);
    exchange.addAccount({ accountId: account.accountId, makerFeeRate: rate(account.makerFeeRate), takerFeeRate: rate(account.takerFeeRate), walletBalance: dec(account.walletBalance) });
    accounts.set(account.accountId, account);
  }
  const keys = new KeyStore();
  const createdAt = now();
  for (const spec of options.keys ?? DEFAULT_KEYS) {
    const account = accounts.get(spec.accountId);
    if (!account) throw new Error(`key ${spec.apiKey} names unknown account ${spec.accountId}`);
    const master = [...accounts.values()].find((candidate) => candidate.accountId === 'master');
    keys.add({
      apiKey: spec.apiKey,
      secret: spec.secret,
      accountId: spec.accountId,
      uid: account.uid,
      note: spec.note ?? '',
      readOnly: spec.readOnly ?? false,
      permissions: spec.permissions ?? TRADING_PERMISSIONS,
      ips: spec.ips ?? [],
      isMaster: spec.isMaster ?? false,
      parentUid: spec.isMaster ? 0 : (master?.uid ?? 0),
      createdAt,
    });
  }

  const state: VenueState = { exchange, trades, dcp: new Map() };
  const rawBySymbol = new Map(rawInstruments.map((raw) => [String(raw.symbol), raw]));
  const ipLimit = options.ipLimit ?? { limit: 600, windowMs: 5_000, banMs: 10 * 60_000 };
  const scale = options.rateLimitScale ?? 1;
  const masterUid = [...accounts.values()].find((account) => account.accountId === 'master')?.uid;
  const keyRoutes = buildKeyRoutes({
    keys,
    uidOf: (accountId) => accounts.get(accountId)?.uid ?? 0,
    accountOfUid: (uid) => [...accounts.values()].find((account) => account.uid === uid)?.accountId,
    // Every account but the master (and the venue's own flow account) is a sub-account of the master.
    parentOf: (uid) => ([...accounts.values()].some((account) => account.uid === uid && account.accountId !== 'master' && account.accountId !== 'flow') ? masterUid : undefined),
    clock: now,
    newCredentials: randomCredentials,
  });
  const routes = [...buildRoutes(state, rawBySymbol), ...keyRoutes].map((route) => (route.perSecond === undefined ? route : { ...route, perSecond: route.perSecond * scale }));
  const limits = new UidLimits(routes.flatMap((route) => (route.perSecond === undefined ? [] : [[route.path, route.perSecond] as const])));
  const ipLimiter = new IpLimiter(ipLimit.limit, ipLimit.windowMs, ipLimit.banMs);
  const listener = createRestListener({
    routes,
    limits,
    keys,
    serverTime: now,
    ipLimiter,
    faults,
    adminFaults: faults as unknown as Record<string, unknown>,
    adminActions: {
      drop: (endpoint) => gateway.drop(endpoint),
      stall: (endpoint, ms) => gateway.stall(endpoint, ms),
    },
    random,
    ...(options.onError && { onError: options.onError }),
  });
  const server: Server = createServer({ keepAlive: true }, listener);
  const uidOf = (accountId: string): number => accounts.get(accountId)?.uid ?? 0;
  const publicFeed = new PublicFeed(state, now, faults, options.bookPushSpeedup ?? 1);
  const privateFeed = new PrivateFeed(state, keys, now, faults, random, uidOf);
  const gateway = new WsGateway(server, { publicFeed, privateFeed, trade: new TradeGateway(routes, limits, keys, now, faults) }, now);
  exchange.listener = {
    order: (order) => {
      privateFeed.order(order);
    },
    execution: (execution) => {
      privateFeed.execution(execution);
    },
    position: (accountId, symbol) => {
      privateFeed.position(accountId, symbol);
    },
    wallet: (accountId) => {
      privateFeed.wallet(accountId);
    },
    publicTrade: (trade) => {
      trades.add(trade);
      publicFeed.trade(trade);
    },
    bookLevel: (symbol) => {
      publicFeed.bookChanged(symbol);
    },
  };
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const markets = new Map<string, MarketGenerator>();
  if (options.market) {
    const mids = options.market.initialMids ?? DEFAULT_MIDS;
    instruments.forEach((instrument, index) => {
      const mid = mids[instrument.symbol];
      if (mid === undefined) return;
      const midTicks = Number(roundedMultiple(dec(mid), instrument.tickSize, 'down'));
      // Each generator draws from its own stream so that adding a symbol does not change the others.
      const generator = new MarketGenerator(exchange, instrument, seededRandom((options.seed ?? 1) * 7_919 + index + 1), defaultGeneratorOptions(instrument, midTicks));
      if (options.market?.autoStart) generator.start(options.market.intervalMs ?? 100, now);
      markets.set(instrument.symbol, generator);
    });
  }
  let stopReplay: (() => void) | undefined;
  if (options.replay) {
    const bySymbol = new Map(instruments.map((instrument) => [instrument.symbol, instrument]));
    checkRecording(options.replay.messages, bySymbol);
    const drivers = new Map([...bySymbol].map(([symbol, instrument]) => [symbol, new ReplayDriver(exchange, instrument)]));
    stopReplay = playRecording(options.replay.messages, (message) => drivers.get(message.topic.split('.').at(-1) ?? '')?.apply(message), {
      speed: options.replay.speed ?? 1,
      loop: options.replay.loop ?? false,
    });
  }
  const wsBase = `ws://${host}:${port}`;
  return {
    restUrl: `http://${host}:${port}`,
    wsUrls: { public: `${wsBase}/v5/public/linear`, private: `${wsBase}/v5/private`, trade: `${wsBase}/v5/trade` },
    ws: { drop: (endpoint) => gateway.drop(endpoint), stall: (endpoint, ms) => gateway.stall(endpoint, ms) },
    exchange,
    keys,
    faults,
    accounts,
    markets,
    limitStats: () => ({ uidRefusals: Object.fromEntries(limits.refusals), ipBans: ipLimiter.bansImposed }),
    now,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const generator of markets.values()) generator.stop();
        stopReplay?.();
        publicFeed.close();
        privateFeed.close();
        gateway.close();
        server.closeAllConnections();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}
