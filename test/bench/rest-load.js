// Load generator for the REST benchmark, run in a worker thread so that client and server each have a core.
// Signed create-then-cancel pairs over node:http keep-alive; reports what it sent and how long it took.
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, key, secret, total, inFlight } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
const target = new URL(url);

function post(path, body) {
  const json = JSON.stringify(body);
  const timestamp = String(Date.now());
  const sign = createHmac('sha256', secret).update(`${timestamp}${key}5000${json}`).digest('hex');
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: target.hostname,
        port: target.port,
        path,
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'X-BAPI-API-KEY': key, 'X-BAPI-TIMESTAMP': timestamp, 'X-BAPI-RECV-WINDOW': '5000', 'X-BAPI-SIGN': sign },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(json);
  });
}

let sent = 0;
let failed = 0;
async function worker() {
  while (sent < total) {
    sent += 2;
    const created = await post('/v5/order/create', { category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.001', price: `${60000 + (sent % 500)}.0`, timeInForce: 'PostOnly' });
    if (created.retCode !== 0) {
      failed += 1;
      continue;
    }
    const cancelled = await post('/v5/order/cancel', { category: 'linear', symbol: 'BTCUSDT', orderId: created.result.orderId });
    if (cancelled.retCode !== 0) failed += 1;
  }
}

const start = process.hrtime.bigint();
await Promise.all(Array.from({ length: inFlight }, worker));
parentPort.postMessage({ sent, failed, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
agent.destroy();
