/**
 * The whole engine loop over real sockets: the simulator runs in its own process with a fast-moving market
 * (so this process is the engine alone), and the engine quotes two symbols through bybit-api.
 *
 *   tick-to-order   from a public book message arriving at the engine's socket to the order frame
 *                   (create or amend) written to the order-entry socket, for every frame a book message
 *                   caused; every sample in an HDR histogram (perf_hooks), p50/p99/p99.9
 *   CPU per message book messages per CPU-second at the venue's live rate (about 100/s): messages / CPU
 *                   time spent handling them (parse, book, strategy, risk, router, frame written);
 *                   pessimistic, since code that runs 100 times a second stays cold
 *   capacity        benchEngineCapacity: a feed process offers deltas at a fixed rate, and the engine's
 *                   lag behind the feed's timestamps shows whether it keeps up
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
  /** Mean time inside the engine's onBook per book update, in microseconds. */
  readonly onBookUs: number;
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

export interface CapacityResult {
  readonly offeredPerSecond: number;
  readonly handledPerSecond: number;
  readonly lagP99Ms: number;
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
    }),
    env: {},
  });
  const engine = await startEngineProcess({ config, credentials: traderCredentials(), logSink: () => undefined });
  const lag = createHistogram();
  let handled = 0;
  const onBook = engine.engine.onBook.bind(engine.engine);
  engine.engine.onBook = (symbol, book, receivedAt) => {
    onBook(symbol, book, receivedAt);
    handled += 1;
    lag.record(Math.max(1, Date.now() - book.lastTs));
  };
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  handled = 0;
  lag.reset();
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const seconds = (Date.now() - started) / 1_000;
  const result = { offeredPerSecond, handledPerSecond: handled / seconds, lagP99Ms: lag.percentile(99) };
  await engine.stop('bench over');
  feed.kill('SIGTERM');
  venue.kill('SIGTERM');
  return result;
}

export async function benchEngineLoop(durationMs = 20_000): Promise<LoopResult> {
  const { child, found: restUrl } = await startScript(['sim/main.ts', '--port', '0', '--seed', '3', '--market-interval-ms', '2', '--rate-limit-scale', '100'], /REST\s+(http:\/\/\S+)/);
  const wsBase = restUrl.replace('http://', 'ws://');
  const credentials = traderCredentials();
  const { config } = loadConfig({
    fileText: JSON.stringify({
      shard: 'bench',
      venue: { restUrl, wsPublicUrl: `${wsBase}/v5/public/linear`, wsPrivateUrl: `${wsBase}/v5/private`, wsTradeUrl: `${wsBase}/v5/trade`, credentialsSecretId: 'unused' },
      symbolDefaults: { levels: 2, refreshToleranceTicks: 2, fastCancelTicks: 1 },
      symbols: { BTCUSDT: { orderQty: '0.002', maxPosition: '0.05', maxNotional: '5000' }, ETHUSDT: { orderQty: '0.03', maxPosition: '0.6', maxNotional: '5000' } },
      // A higher account tier (the simulator runs at 100x): the budget is what the venue allows.
      risk: { ordersPerSecond: 150, maxOpenOrders: 40 },
      engine: { healthPort: 0 },
    }),
    env: {},
  });

  // The WebSocket class bybit-api uses (through isomorphic-ws): stamp each message as it arrives, and each
  // order frame as it is written.
  const WebSocket = createRequire(createRequire(import.meta.url).resolve('bybit-api'))('isomorphic-ws') as { prototype: WsLike };
  const proto = WebSocket.prototype;
  const originalEmit = proto.emit;
  const originalSend = proto.send;
  let arrivedAt: bigint | undefined;
  let handlingNs = 0n;
  let messages = 0;
  const lags: number[] = [];
  const causedBy = new Map<string, bigint>();
  // Node's HDR histogram (perf_hooks), in nanoseconds.
  let histogram = createHistogram();
  proto.emit = function (this: WsLike, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'message' || !this.url.includes('/public/')) return originalEmit.call(this, event, ...args);
    const started = process.hrtime.bigint();
    arrivedAt = started;
    try {
      return originalEmit.call(this, event, ...args);
    } finally {
      arrivedAt = undefined;
      handlingNs += process.hrtime.bigint() - started;
      messages += 1;
    }
  };
  proto.send = function (this: WsLike, data: unknown, ...rest: unknown[]): void {
    originalSend.call(this, data, ...rest);
    if (typeof data !== 'string' || !data.includes('orderLinkId')) return;
    const written = process.hrtime.bigint();
    for (const match of data.matchAll(/"orderLinkId":"([^"]+)"/g)) {
      const cause = match[1] === undefined ? undefined : causedBy.get(match[1]);
      if (cause === undefined) continue;
      histogram.record(written - cause);
      if (match[1] !== undefined) causedBy.delete(match[1]);
    }
  };

  const engine = await startEngineProcess({
    config,
    credentials,
    logSink: () => undefined,
    observer: {
      onOrdersSent: (event) => {
        if (event.kind === 'cancel' || arrivedAt === undefined) return;
        for (const orderLinkId of event.orderLinkIds) causedBy.set(orderLinkId, arrivedAt);
        if (event.bookVenueTs !== undefined) lags.push(Date.now() - event.bookVenueTs);
      },
    },
  });
  // The engine's own share of handling a message (strategy, risk, router, adapters, up to the socket write).
  const onBook = engine.engine.onBook.bind(engine.engine);
  let onBookNs = 0n;
  let onBookCalls = 0;
  engine.engine.onBook = (symbol, book, receivedAt) => {
    const t = process.hrtime.bigint();
    onBook(symbol, book, receivedAt);
    onBookNs += process.hrtime.bigint() - t;
    onBookCalls += 1;
  };
  // Warm up, then measure from a clean slate.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  histogram = createHistogram();
  messages = 0;
  handlingNs = 0n;
  lags.length = 0;
  onBookNs = 0n;
  onBookCalls = 0;
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  const seconds = (Date.now() - started) / 1_000;
  const liveMessages = messages;

  const rssMb = process.memoryUsage().rss / 2 ** 20;
  await engine.stop('bench over');
  proto.emit = originalEmit;
  proto.send = originalSend;
  child.kill('SIGTERM');

  const count = histogram.count;
  lags.sort((a, b) => a - b);
  return {
    latency: { name: 'engine loop: book message in to order frame out', samples: count, p50Ns: histogram.percentile(50), p99Ns: histogram.percentile(99), p999Ns: histogram.percentile(99.9), perSecond: count / seconds },
    capacity: { name: 'engine loop: book messages per CPU-second at the live rate', operations: liveMessages, seconds: Number(handlingNs) / 1e9 },
    liveRate: liveMessages / seconds,
    backlogP99Ms: lags[Math.floor(lags.length * 0.99)] ?? 0,
    rssMb,
    frames: count,
    onBookUs: Number(onBookNs) / 1_000 / Math.max(1, onBookCalls),
  };
}
