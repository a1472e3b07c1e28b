/**
 * `npm run sim:record -- --seconds 5 --out sim/market/sample-btcusdt.jsonl`: records the public stream of a
 * simulator whose market generator runs (orderbook.50 and publicTrade of one symbol) into the replay
 * format. The shipped sample was made this way: a real Bybit capture cannot be made from here.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { startSimulator } from '../simulator.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, out: { type: 'string', default: 'recording.jsonl' }, symbol: { type: 'string', default: 'BTCUSDT' }, seed: { type: 'string', default: '1' } },
});
const seconds = Number(values.seconds);
if (!(seconds > 0 && seconds <= 3_600)) throw new Error(`--seconds must be in (0, 3600], got ${values.seconds}`);

const sim = await startSimulator({ seed: Number(values.seed), market: { autoStart: true, intervalMs: 20 } });
const socket = new WebSocket(sim.wsUrls.public);
const lines: string[] = [];
socket.on('message', (data: Buffer) => {
  const text = data.toString('utf8');
  if (text.includes('"topic"')) lines.push(text);
});
await new Promise<void>((resolve) => socket.once('open', () => resolve()));
socket.send(JSON.stringify({ op: 'subscribe', args: [`orderbook.50.${values.symbol}`, `publicTrade.${values.symbol}`] }));
await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
socket.close();
await sim.close();
await writeFile(values.out, `${lines.join('\n')}\n`);
console.log(`recorded ${lines.length} messages of ${values.symbol} in ${seconds} s to ${values.out}`);
