/**
 * `npm run sim`: the simulated Bybit v5 venue, standalone on loopback.
 *   npm run sim -- --port 8085 --seed 42 [--market-interval-ms 100] [--rate-limit-scale 1] [--time-scale 1]
 * A shorter market interval moves the book more often (benchmarks); a rate-limit scale above 1 models a
 * higher Bybit account tier; a time scale above 1 pushes the order books that many times more often than
 * Bybit does (an accelerated run: an hour of book messages in a fraction of it).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_KEYS, startSimulator } from './simulator.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, seed: { type: 'string', default: '1' }, 'market-interval-ms': { type: 'string', default: '100' }, 'rate-limit-scale': { type: 'string', default: '1' }, 'time-scale': { type: 'string', default: '1' } },
});
const port = Number(values.port);
const seed = Number(values.seed);
const intervalMs = Number(values['market-interval-ms']);
const rateLimitScale = Number(values['rate-limit-scale']);
const timeScale = Number(values['time-scale']);
if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new Error(`--market-interval-ms must be a positive integer, got ${values['market-interval-ms']}`);
if (!Number.isInteger(rateLimitScale) || rateLimitScale < 1) throw new Error(`--rate-limit-scale must be a positive integer, got ${values['rate-limit-scale']}`);
if (!Number.isInteger(timeScale) || timeScale < 1) throw new Error(`--time-scale must be a positive integer, got ${values['time-scale']}`);
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be 0-65535, got ${values.port}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

const sim = await startSimulator({
  port,
  seed,
  market: { autoStart: true, intervalMs },
  rateLimitScale,
  bookPushSpeedup: timeScale,
  onError: (error) => {
    console.error('handler error:', error);
  },
});
console.log(`Bybit v5 simulator (seed ${seed})`);
console.log(`REST        ${sim.restUrl}`);
console.log(`admin       ${sim.restUrl}/sim/admin/faults  (GET, POST JSON; loopback only)`);
console.log(`WebSocket   ${sim.wsUrls.public}\n            ${sim.wsUrls.private}\n            ${sim.wsUrls.trade}`);
console.log(`market      moving (seeded): ${[...sim.markets.keys()].join(', ')}`);
console.log('test keys (never real credentials):');
for (const key of DEFAULT_KEYS) console.log(`  ${key.apiKey}  ${key.secret}  account=${key.accountId}${key.readOnly ? ' read-only' : ''}${key.isMaster ? ' master' : ''}`);
const stop = () => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
