/**
 * The whole engine loop over real sockets: the simulator runs in its own process with a fast-moving market
 * (so this process is the engine alone), and the engine quotes two symbols through bybit-api.
 *
 *   tick-to-order   from a public book message arriving at the engine's socket to the order frame
 *                   (create, amend or cancel) it caused, on the order-entry socket; every sample in an HDR
 *                   histogram (perf_hooks), p50/p99/p99.9. Two end points: the frame handed to the socket
 *                   (ws's send() called: everything the engine does), and send() returned (the write
 *                   system call done, which on loopback also runs the kernel's delivery to the venue's
 *                   process). When several messages arrive in one read, the engine quotes once on the
 *                   newest book, and each frame is timed from the oldest message it answers.
 *   CPU per message book messages per CPU-second of the engine process at the venue's live rate (about
 *                   100/s): everything the process does (public and private streams, answers, timers)
 *                   divided among the book messages; pessimistic, since code that runs 100 times a
 *                   second stays cold
 *   capacity        benchEngineCapacity: a feed process offers deltas at a fixed rate, and the engine's
 *                   lag behind the feed's timestamps shows whether it keeps up; tick-to-order is measured
 *                   there too, with the process kept busy by the feed
 *   backlog         how far behind the venue's timestamp each book message was handled, at the live rate
 *   memory          resident set of this process (the engine) at the end
 *
 * The sockets are bybit-api's (`ws` through isomorphic-ws); the class's prototype is wrapped here, and only
 * here, to take the timestamps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type CredentialsSource, startEngineProcess } from '../../src/app/engine-process.js';
import { loadConfig } from '../../src/config/config.js';
import type { Engine, EngineObserver } from '../../src/engine/engine.js';
import type { WriteBehindStatus } from '../../src/engine/write-behind.js';
import type { AwsClients } from '../../src/local/provision.js';
import { RequestLimiter } from '../../src/engine/limiter.js';
import { DEFAULT_KEYS } from '../../sim/simulator.js';
import type { LatencyResult } from './engine.js';
import type { Result } from './measure.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface WsLike {
  url: string;
  send: (this: WsLike, data: unknown, ...rest: unknown[]) => void;
  emit: (this: WsLike, event: string | symbol, ...args: unknown[]) => boolean;
}

export interface LoopResult {
  readonly latency: LatencyResult;
  readonly capacity: Result;
  readonly liveRate: number;
  readonly backlogP99Ms: number;
  readonly rssMb: number;
  readonly frames: number;
  /** The same frames, timed to send() returned (the write system call included). */
  readonly written: LatencyResult;
  /** Frames left out of both because their requests waited for the rate limiter. */
  readonly held: number;
  /** Mean time inside the engine's onBook per call, in microseconds. */
  readonly onBookUs: number;
  /** What the write-behind had done by the end, when the run persisted. */
  readonly stateWrites: WriteBehindStatus | undefined;
}

export interface SoakResult {
  readonly minutes: number;
  readonly bookMessages: number;
  /** The run's book messages in hours of Bybit's live push rate (orderbook.50 every 20 ms, two symbols). */
  readonly liveHours: number;
  readonly ordersSent: number;
  readonly fills: number;
  /** Resident memory sampled every 5 s after the warm-up, MB. */
  readonly rssMb: readonly number[];
  /** Least-squares slope of the second half of the samples, MB per minute. */
  readonly slopeSecondHalfMbPerMin: number;
  readonly stateWrites: WriteBehindStatus | undefined;
}

/** The soak's books move ten times as often as Bybit pushes them: an hour of messages in about six minutes. */
const SOAK_TIME_SCALE = 10;
/** Bybit pushes orderbook.50 of linear perpetuals every 20 ms: 50 messages a second per symbol at most. */
const LIVE_BOOK_MESSAGES_PER_SYMBOL_SECOND = 50;

/**
 * The engine over a long run, accelerated: the simulator's market moves every 2 ms and its books are
 * pushed ten times as often as Bybit's (every 2 ms for depth 50), the engine quotes two symbols with state
 * and events on, and its resident memory is sampled every 5 s, until it has handled `liveHours` of live
 * book messages (two symbols at Bybit's push rate: 360,000 an hour), which takes about nine minutes here,
 * or `maxDurationMs` has passed.
 */
export async function benchEngineSoak(maxDurationMs: number, persistence: BenchPersistence, liveHours = 1): Promise<SoakResult> {
  const { child, config, aws } = await liveVenue({ busyPoll: false, persistence, shard: 'soak', timeScale: SOAK_TIME_SCALE });
  const probe = new TickToOrderProbe();
  const engine = await startEngineProcess({ config, credentials: traderCredentials(), logSink: () => undefined, observer: probe.observer, ...(aws && { aws }) });
  probe.watch(engine.engine);
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const started = Date.now();
  const messagesBefore = probe.messages;
  const rssMb: number[] = [];
  const target = liveHours * LIVE_BOOK_MESSAGES_PER_SYMBOL_SECOND * 2 * 3_600;
  while (Date.now() - started < maxDurationMs && probe.messages - messagesBefore < target) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    rssMb.push(process.memoryUsage().rss / 2 ** 20);
  }
  const status = engine.engine.status();
  const stateWrites = engine.journal?.status();
  const bookMessages = probe.messages - messagesBefore;
  await engine.stop('bench over');
  probe.close();
  child.kill('SIGTERM');
  const half = rssMb.slice(Math.floor(rssMb.length / 2));
  return {
    minutes: (Date.now() - started) / 60_000,
    bookMessages,
    liveHours: bookMessages / (LIVE_BOOK_MESSAGES_PER_SYMBOL_SECOND * 2 * 3_600),
    ordersSent: status.counters.sent.create + status.counters.sent.amend + status.counters.sent.cancel,
    fills: status.symbols.reduce((total, symbol) => total + symbol.fills, 0),
    rssMb,
    slopeSecondHalfMbPerMin: slopePerMinute(half, 5_000),
    stateWrites,
  };
}

/** Least-squares slope of samples taken every `intervalMs`, per minute. */
function slopePerMinute(samples: readonly number[], intervalMs: number): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((_, index) => (index * intervalMs) / 60_000);
  const meanX = xs.reduce((a, b) => a + b, 0) / xs.length;
  const meanY = samples.reduce((a, b) => a + b, 0) / samples.length;
  let numerator = 0;
  let denominator = 0;
  samples.forEach((y, index) => {
    const dx = (xs[index] ?? 0) - meanX;
    numerator += dx * (y - meanY);
    denominator += dx * dx;
  });
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * Wraps the prototype of the WebSocket class bybit-api uses (through isomorphic-ws): `onPublic` hears each
 * public message as it arrives, `onOrderFrame` each order-entry frame, stamped before and after send().
 * Returns the function that undoes it.
 */
function hookSockets(onPublic: (data: unknown, at: bigint) => void, onOrderFrame: (frame: string, handedAt: bigint, writtenAt: bigint) => void): () => void {
  const WebSocket = createRequire(createRequire(import.meta.url).resolve('bybit-api'))('isomorphic-ws') as { prototype: WsLike };
  const proto = WebSocket.prototype;
  const originalEmit = proto.emit;
  const originalSend = proto.send;
  proto.emit = function (this: WsLike, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && this.url.includes('/public/')) onPublic(args[0], process.hrtime.bigint());
    return originalEmit.call(this, event, ...args);
  };
  proto.send = function (this: WsLike, data: unknown, ...rest: unknown[]): void {
    const handedAt = process.hrtime.bigint();
    originalSend.call(this, data, ...rest);
    if (typeof data === 'string' && data.includes('orderLinkId')) onOrderFrame(data, handedAt, process.hrtime.bigint());
  };
  return () => {
    proto.emit = originalEmit;
    proto.send = originalSend;
  };
}

/**
 * Wraps the router's limiter (its prototype, here only): `onWait` hears each time a request must wait for
 * room under the venue's rate limits.
 */
function hookLimiter(onWait: () => void): () => void {
  const proto = RequestLimiter.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'waitMs')?.value as RequestLimiter['waitMs'];
  proto.waitMs = function (this: RequestLimiter, ...args: Parameters<RequestLimiter['waitMs']>): number {
    const wait = original.apply(this, args);
    if (wait > 0) onWait();
    return wait;
  };
  return () => {
    proto.waitMs = original;
  };
}

/** The symbol of a public order-book message (its topic comes first), from the raw frame. */
function topicSymbol(data: unknown): string | undefined {
  const head = Buffer.isBuffer(data) ? data.toString('latin1', 0, 64) : typeof data === 'string' ? data.slice(0, 64) : '';
  return /"topic":"orderbook\.\d+\.([A-Z0-9]+)"/.exec(head)?.[1];
}

/** The simulator's trader key, served as the engine's credentials (no Secrets Manager in a benchmark). */
function traderCredentials(): CredentialsSource {
  const trader = DEFAULT_KEYS.find((key) => key.apiKey === 'SIMTRADERKEY0001');
  if (!trader) throw new Error('no trader key in the simulator');
  const value = { apiKey: trader.apiKey, apiSecret: trader.secret, keyId: 'bench', versionId: 'bench' };
  return { get: () => Promise.resolve(value), refresh: () => Promise.resolve(value), secretValues: () => [trader.apiKey, trader.secret] };
}

/** Starts a script of this folder in its own process and waits for the line `match` finds. */
async function startScript(args: readonly string[], match: RegExp): Promise<{ child: ChildProcess; found: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const found = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const hit = match.exec(text)?.[1];
      if (hit) resolve(hit);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${String(code)}`)));
  });
  return { child, found };
}

/**
 * Tick-to-order, as the engine sees it: which book message each order frame answers, and how long after
 * its arrival the frame was handed to the socket and written. A request that had to wait for room under
 * the venue's rate limits is queued by policy, not slowed by the engine: such frames are counted apart
 * (`held`) and left out of the histograms. Also counts the book messages and the time spent in onBook.
 */
class TickToOrderProbe {
  messages = 0;
  /** Frames whose requests waited for the rate limiter. */
  held = 0;
  onBookNs = 0n;
  onBookCalls = 0;
  /** How far behind the venue's timestamp the book was when an order was sent, in ms. */
  readonly lags: number[] = [];
  // Node's HDR histograms (perf_hooks), in nanoseconds.
  handed = createHistogram();
  written = createHistogram();
  // Per symbol, the arrival of the oldest book message the engine has not quoted on yet.
  private readonly unanswered = new Map<string, bigint>();
  // While the engine quotes on a symbol's book: the arrival that book answers.
  private answering: bigint | undefined;
  private readonly causedBy = new Map<string, bigint>();
  // The orders just reported sent: the router runs for them next, synchronously up to its first wait.
  private sending: readonly string[] = [];
  private readonly waited = new Set<string>();
  private readonly unhooks: (() => void)[];

  readonly observer: EngineObserver = {
    onOrdersSent: (event) => {
      this.sending = event.orderLinkIds;
      if (this.answering === undefined) return;
      for (const orderLinkId of event.orderLinkIds) this.causedBy.set(orderLinkId, this.answering);
      if (event.bookVenueTs !== undefined) this.lags.push(Date.now() - event.bookVenueTs);
    },
  };

  constructor() {
    const sockets = hookSockets(
      (data, at) => {
        this.messages += 1;
        const symbol = topicSymbol(data);
        if (symbol !== undefined && !this.unanswered.has(symbol)) this.unanswered.set(symbol, at);
      },
      (frame, handedAt, writtenAt) => {
        for (const match of frame.matchAll(/"orderLinkId":"([^"]+)"/g)) {
          const orderLinkId = match[1] ?? '';
          const cause = this.causedBy.get(orderLinkId);
          if (cause === undefined) continue;
          this.causedBy.delete(orderLinkId);
          if (this.waited.delete(orderLinkId)) {
            this.held += 1;
            continue;
          }
          this.handed.record(handedAt - cause);
          this.written.record(writtenAt - cause);
        }
      },
    );
    const limiter = hookLimiter(() => {
      for (const orderLinkId of this.sending) this.waited.add(orderLinkId);
    });
    this.unhooks = [sockets, limiter];
  }

  /** Wraps the engine's onBook: the orders it sends answer the symbol's oldest unanswered message. */
  watch(engine: Engine): void {
    const onBook = engine.onBook.bind(engine);
    engine.onBook = (symbol, book, receivedAt) => {
      this.answering = this.unanswered.get(symbol);
      this.unanswered.delete(symbol);
      const started = process.hrtime.bigint();
      onBook(symbol, book, receivedAt);
      this.onBookNs += process.hrtime.bigint() - started;
      this.onBookCalls += 1;
      this.answering = undefined;
      this.sending = [];
    };
  }

  reset(): void {
    this.handed = createHistogram();
    this.written = createHistogram();
    this.messages = 0;
    this.held = 0;
    this.lags.length = 0;
    this.onBookNs = 0n;
    this.onBookCalls = 0;
  }

  latency(name: string, which: 'handed' | 'written', seconds: number): LatencyResult {
    const histogram = this[which];
    return { name, samples: histogram.count, p50Ns: histogram.percentile(50), p99Ns: histogram.percentile(99), p999Ns: histogram.percentile(99.9), perSecond: histogram.count / seconds };
  }

  close(): void {
    for (const unhook of this.unhooks) unhook();
  }
}

export interface CapacityResult {
  readonly offeredPerSecond: number;
  readonly handledPerSecond: number;
  readonly lagP99Ms: number;
  /** Tick-to-order (frame handed to the socket) while the feed keeps the process busy. */
  readonly latency: LatencyResult;
  /** Frames left out of it because their requests waited for the rate limiter. */
  readonly held: number;
}

/**
 * Book updates one engine sustains: a feed process offers BTCUSDT deltas at a fixed rate on the public
 * socket (orders still go to the simulator), and the engine's lag behind the feed's timestamps shows
 * whether it keeps up. Quoting as configured for production: refresh tolerance 2 ticks.
 */
export async function benchEngineCapacity(offeredPerSecond: number, durationMs = 6_000): Promise<CapacityResult> {
  const { child: venue, found: restUrl } = await startScript(['sim/main.ts', '--port', '0', '--seed', '3', '--rate-limit-scale', '100'], /REST\s+(http:\/\/\S+)/);
  const { child: feed, found: port } = await startScript(['test/bench/firehose.ts', '--rate', String(offeredPerSecond), '--mid-ticks', '650000'], /PORT (\d+)/);
  const wsBase = restUrl.replace('http://', 'ws://');
  const { config } = loadConfig({
    fileText: JSON.stringify({
      shard: 'cap',
      venue: { restUrl, wsPublicUrl: `ws://127.0.0.1:${port}/v5/public/linear`, wsPrivateUrl: `${wsBase}/v5/private`, wsTradeUrl: `${wsBase}/v5/trade`, credentialsSecretId: 'unused' },
      symbols: { BTCUSDT: { orderQty: '0.002', maxPosition: '0.05', maxNotional: '5000', levels: 2 } },
      risk: { ordersPerSecond: 150, maxOpenOrders: 40 },
      engine: { healthPort: 0 },
      persistence: { enabled: false },
    }),
    env: {},
  });
  const probe = new TickToOrderProbe();
  const engine = await startEngineProcess({ config, credentials: traderCredentials(), logSink: () => undefined, observer: probe.observer });
  probe.watch(engine.engine);
  // How far behind the feed the book is each time the engine quotes on it.
  const lag = createHistogram();
  const onBook = engine.engine.onBook.bind(engine.engine);
  engine.engine.onBook = (symbol, book, receivedAt) => {
    onBook(symbol, book, receivedAt);
    lag.record(Math.max(1, Date.now() - book.lastTs));
  };
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  probe.reset();
  lag.reset();
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const seconds = (Date.now() - started) / 1_000;
  const result = {
    offeredPerSecond,
    handledPerSecond: probe.messages / seconds,
    lagP99Ms: lag.percentile(99),
    latency: probe.latency(`engine busy (${offeredPerSecond.toLocaleString('en-US')}/s feed): book message to frame handed`, 'handed', seconds),
    held: probe.held,
  };
  await engine.stop('bench over');
  probe.close();
  feed.kill('SIGTERM');
  venue.kill('SIGTERM');
  return result;
}

/** Where state and events go when a bench run persists: the emulator's clients and a provisioned stage. */
export interface BenchPersistence {
  readonly clients: AwsClients;
  readonly stage: string;
}

/** The simulator with a fast market (2 ms) in its own process, and the engine's configuration for it. */
async function liveVenue(options: { busyPoll: boolean; persistence: BenchPersistence | undefined; shard: string; timeScale?: number }) {
  const { child, found: restUrl } = await startScript(['sim/main.ts', '--port', '0', '--seed', '3', '--market-interval-ms', '2', '--rate-limit-scale', '100', '--time-scale', String(options.timeScale ?? 1)], /REST\s+(http:\/\/\S+)/);
  const wsBase = restUrl.replace('http://', 'ws://');
  const { config } = loadConfig({
    fileText: JSON.stringify({
      shard: options.shard,
      stage: options.persistence?.stage ?? 'local',
      venue: { restUrl, wsPublicUrl: `${wsBase}/v5/public/linear`, wsPrivateUrl: `${wsBase}/v5/private`, wsTradeUrl: `${wsBase}/v5/trade`, credentialsSecretId: 'unused' },
      symbolDefaults: { levels: 2, refreshToleranceTicks: 2, fastCancelTicks: 1 },
      symbols: { BTCUSDT: { orderQty: '0.002', maxPosition: '0.05', maxNotional: '5000' }, ETHUSDT: { orderQty: '0.03', maxPosition: '0.6', maxNotional: '5000' } },
      // A higher account tier (the simulator runs at 100x): the budget is what the venue allows.
      risk: { ordersPerSecond: 150, maxOpenOrders: 40 },
      engine: { healthPort: 0, busyPoll: options.busyPoll },
      persistence: { enabled: options.persistence !== undefined },
    }),
    env: {},
  });
  const aws = options.persistence && { dynamodb: options.persistence.clients.dynamodb, eventBridge: options.persistence.clients.eventBridge };
  return { child, config, aws };
}

/**
 * The live loop; with `busyPoll`, the engine keeps its event loop turning (engine.busyPoll); with
 * `persistence`, it keeps its state in DynamoDB and publishes its events (the emulator's).
 */
export async function benchEngineLoop(durationMs = 20_000, busyPoll = false, persistence?: BenchPersistence): Promise<LoopResult> {
  const { child, config, aws } = await liveVenue({ busyPoll, persistence, shard: persistence ? 'benchp' : 'bench' });
  const probe = new TickToOrderProbe();
  const engine = await startEngineProcess({ config, credentials: traderCredentials(), logSink: () => undefined, observer: probe.observer, ...(aws && { aws }) });
  probe.watch(engine.engine);
  const mode = busyPoll ? ' (busy poll)' : persistence ? ' (state and events on)' : '';
  // Warm up, then measure from a clean slate.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  probe.reset();
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (Date.now() - started) / 1_000;
  const { messages, lags, held } = probe;
  const latency = probe.latency(`engine loop${mode}: book message to order frame handed`, 'handed', seconds);
  const written = probe.latency(`engine loop${mode}: book message to order frame written`, 'written', seconds);
  const onBookUs = Number(probe.onBookNs) / 1_000 / Math.max(1, probe.onBookCalls);
  lags.sort((x, y) => x - y);
  const backlogP99Ms = lags[Math.floor(lags.length * 0.99)] ?? 0;

  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const stateWrites = engine.journal?.status();
  await engine.stop('bench over');
  probe.close();
  child.kill('SIGTERM');
  return {
    stateWrites,
    latency,
    written,
    held,
    capacity: { name: 'engine loop: book messages per CPU-second at the live rate', operations: messages, seconds: (cpu.user + cpu.system) / 1e6 },
    liveRate: messages / seconds,
    backlogP99Ms,
    rssMb,
    frames: latency.samples,
    onBookUs,
  };
}
