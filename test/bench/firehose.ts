/**
 * A public order-book feed at a chosen rate, for the engine's capacity benchmark: Bybit's v5 public
 * protocol (subscribe, snapshot, then deltas with consecutive update ids) for one symbol, as fast as
 * `--rate` messages per second allows, each delta moving ten levels a side around a drifting mid.
 * Runs in its own process so that it does not share the engine's thread. The rate is kept against the
 * clock (timers fire late, so a fixed share per timer would offer less than asked), and the level lists
 * come from a pool made at start, so that the feed spends its time sending rather than formatting.
 *
 *   tsx test/bench/firehose.ts --symbol BTCUSDT --mid-ticks 650000 --rate 20000
 * Prints `PORT <n>` once listening.
 */
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({ options: { symbol: { type: 'string', default: 'BTCUSDT' }, 'mid-ticks': { type: 'string', default: '650000' }, rate: { type: 'string', default: '20000' } } });
const symbol = values.symbol;
const rate = Number(values.rate);
let mid = Number(values['mid-ticks']);
const TICK = 0.1;
const topic = `orderbook.50.${symbol}`;
const price = (ticks: number) => (ticks * TICK).toFixed(1);
const level = (ticks: number, lots: number): [string, string] => [price(ticks), (lots / 1000).toFixed(3)];

/** Pre-serialised delta bodies around a mid: `[bids, asks]` JSON fragments, for each mid offset in -8..8. */
const POOL_SPAN = 8;
function levelPool(center: number): Map<number, string[]> {
  const pool = new Map<number, string[]>();
  for (let offset = -POOL_SPAN; offset <= POOL_SPAN; offset++) {
    const at = center + offset;
    pool.set(
      offset,
      Array.from({ length: 64 }, () => {
        const b = Array.from({ length: 10 }, (_, k) => level(at - 1 - k, 50 + Math.floor(Math.random() * 100)));
        const a = Array.from({ length: 10 }, (_, k) => level(at + 1 + k, 50 + Math.floor(Math.random() * 100)));
        // Levels beyond the touch that the mid moved through are removed (size 0), as Bybit's deltas do.
        b.push(level(at + 1, 0));
        a.push(level(at - 1, 0));
        return `"b":${JSON.stringify(b)},"a":${JSON.stringify(a)}`;
      }),
    );
  }
  return pool;
}
const center = mid;
const pool = levelPool(center);

const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
server.on('listening', () => {
  const address = server.address();
  console.log(`PORT ${typeof address === 'object' && address !== null ? address.port : 0}`);
});
server.on('connection', (socket) => {
  let u = 0;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  const send = (type: 'snapshot' | 'delta', b: [string, string][], a: [string, string][]) => {
    u += 1;
    seq += 1;
    socket.send(JSON.stringify({ topic, type, ts: Date.now(), data: { s: symbol, b, a, u, seq }, cts: Date.now() }));
  };
  let startedAt = 0;
  let sent = 0;
  const pump = () => {
    // Catches up with the clock, unless the socket is backed up (the receiver is behind).
    const due = Math.floor(((performance.now() - startedAt) * rate) / 1_000);
    while (sent < due && socket.bufferedAmount < 1 << 20) {
      sent += 1;
      if (Math.random() < 0.05) mid = Math.min(center + POOL_SPAN, Math.max(center - POOL_SPAN, mid + (Math.random() < 0.5 ? -1 : 1)));
      const bodies = pool.get(mid - center) ?? [];
      u += 1;
      seq += 1;
      const now = Date.now();
      socket.send(`{"topic":"${topic}","type":"delta","ts":${now},"data":{"s":"${symbol}",${bodies[sent % bodies.length] ?? ''},"u":${u},"seq":${seq}},"cts":${now}}`);
    }
  };
  socket.on('message', (raw: Buffer) => {
    const message = JSON.parse(raw.toString('utf8')) as { op?: string; req_id?: string; args?: string[] };
    if (message.op === 'ping') {
      socket.send(JSON.stringify({ success: true, ret_msg: 'pong', conn_id: 'firehose', op: 'ping' }));
      return;
    }
    if (message.op === 'subscribe' && message.args?.includes(topic)) {
      socket.send(JSON.stringify({ success: true, ret_msg: '', conn_id: 'firehose', req_id: message.req_id, op: 'subscribe' }));
      send('snapshot', Array.from({ length: 50 }, (_, k) => level(mid - 1 - k, 100)), Array.from({ length: 50 }, (_, k) => level(mid + 1 + k, 100)));
      if (timer === undefined) {
        startedAt = performance.now();
        timer = setInterval(pump, 1);
      }
    } else if (message.op === 'unsubscribe') {
      socket.send(JSON.stringify({ success: true, ret_msg: '', conn_id: 'firehose', req_id: message.req_id, op: 'unsubscribe' }));
    }
  });
  socket.on('close', () => {
    clearInterval(timer);
  });
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
