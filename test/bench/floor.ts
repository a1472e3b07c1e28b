/**
 * The machine's floor for tick-to-order: the least any Node program can do between a book message and an
 * order frame, measured the way the engine loop is (test/bench/loop.ts). A feed process sends an
 * order-book delta like the simulator's every 10 ms (100 messages a second, the live rate); this process
 * parses it, builds an order frame from it and sends it to a sink process. No bybit-api, no book, no
 * strategy: whatever the engine loop measures above these figures is the engine's.
 *
 *   handed    message event to the frame built (JSON.parse and JSON.stringify only)
 *   written   message event to send() done (the loopback write included, with its wake-up of the sink)
 *
 * Run as a script with `feed` or `sink`, it is one of the two other processes (it prints `PORT <n>`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import type { LatencyResult } from './engine.js';

const self = fileURLToPath(import.meta.url);

function serve(onConnection: (socket: WebSocket) => void): void {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('listening', () => {
    const address = server.address();
    console.log(`PORT ${typeof address === 'object' && address !== null ? address.port : 0}`);
  });
  server.on('connection', onConnection);
  process.on('SIGTERM', () => process.exit(0));
}

function startRole(role: 'feed' | 'sink'): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, role], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const port = /PORT (\d+)/.exec(text)?.[1];
      if (port) resolve({ child, port: Number(port) });
    });
    child.once('exit', (code) => reject(new Error(`floor ${role} exited with ${String(code)}`)));
  });
}

export async function benchMachineFloor(durationMs = 12_000): Promise<{ handed: LatencyResult; written: LatencyResult }> {
  const sink = await startRole('sink');
  const feed = await startRole('feed');
  const out = new WebSocket(`ws://127.0.0.1:${sink.port}`);
  await new Promise((resolve) => out.once('open', resolve));
  const handed = createHistogram();
  const written = createHistogram();
  let messages = 0;
  const input = new WebSocket(`ws://127.0.0.1:${feed.port}`);
  input.on('message', (data: Buffer) => {
    const arrived = process.hrtime.bigint();
    const message = JSON.parse(data.toString('utf8')) as { data: { b: [string, string][]; u: number } };
    const best = message.data.b[0] ?? ['0', '0'];
    const frame = JSON.stringify({
      reqId: String(message.data.u),
      header: { 'X-BAPI-TIMESTAMP': String(Date.now()), 'X-BAPI-RECV-WINDOW': '5000' },
      op: 'order.amend-batch',
      args: [{ category: 'linear', request: [{ symbol: 'BTCUSDT', orderLinkId: `floor-${message.data.u}`, price: best[0], qty: '0.002' }] }],
    });
    const built = process.hrtime.bigint();
    out.send(frame);
    const sent = process.hrtime.bigint();
    // The first 2 s warm up.
    if (++messages <= 200) return;
    handed.record(built - arrived || 1n);
    written.record(sent - arrived);
  });
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  input.close();
  out.close();
  feed.child.kill('SIGTERM');
  sink.child.kill('SIGTERM');
  const seconds = durationMs / 1_000;
  const result = (name: string, histogram: typeof handed): LatencyResult => ({ name, samples: histogram.count, p50Ns: histogram.percentile(50), p99Ns: histogram.percentile(99), p999Ns: histogram.percentile(99.9), perSecond: histogram.count / seconds });
  return { handed: result('machine floor: message in to frame built', handed), written: result('machine floor: message in to frame written (send done)', written) };
}

const role = process.argv[2];
if (role === 'feed') {
  const rows = JSON.stringify(Array.from({ length: 20 }, (_, index) => [(65_000 + index / 10).toFixed(1), '1.234']));
  serve((socket) => {
    let u = 0;
    const timer = setInterval(() => {
      u += 1;
      socket.send(`{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":${Date.now()},"data":{"s":"BTCUSDT","b":${rows},"a":${rows},"u":${u},"seq":${u}},"cts":${Date.now()}}`);
    }, 10);
    socket.on('close', () => {
      clearInterval(timer);
    });
  });
} else if (role === 'sink') {
  serve((socket) => socket.on('message', () => undefined));
}
