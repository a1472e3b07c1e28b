/** Throughput of the venue simulator: matching in process, and signed REST requests over loopback. */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { dec } from '../../src/core/decimal.js';
import { parseLinearInstrument } from '../../src/core/instrument.js';
import { lots, ticks } from '../../src/core/units.js';
import { BTCUSDT_RAW } from '../../sim/config/instruments.js';
import { Exchange } from '../../sim/exchange/exchange.js';
import { RecordedBook, ReplayDriver, isOrderbook, parseRecording, parseRecordingLine } from '../../sim/market/replay.js';
import { startSimulator } from '../../sim/simulator.js';
import { type Result, measure } from './measure.js';

/**
 * Orders through the matching engine: makers quote around a mid, one taker in four crosses and fills;
 * makers are cancelled as the book fills up. Counts every create and cancel as an order operation.
 */
export function benchMatching(): Result {
  let now = 0;
  const exchange = new Exchange({ instruments: [parseLinearInstrument(BTCUSDT_RAW)], clock: () => (now += 1) });
  for (const accountId of ['maker', 'taker']) exchange.addAccount({ accountId, makerFeeRate: dec('-0.000025'), takerFeeRate: dec('0.00055'), walletBalance: dec('1000000000') });
  const resting: string[] = [];
  return measure('sim matching engine: order operations in process', 1_000_000, (index) => {
    if (index % 4 === 3) {
      const side = index % 8 === 3 ? 'Buy' : 'Sell';
      exchange.createOrder('taker', { symbol: 'BTCUSDT', side, orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(3), priceTicks: ticks(side === 'Buy' ? 650_010 : 649_990) });
      return;
    }
    if (resting.length > 400) {
      const orderId = resting.shift();
      if (orderId) exchange.cancelOrder('maker', 'BTCUSDT', { orderId });
      return;
    }
    const side = index % 2 === 0 ? 'Buy' : 'Sell';
    const offset = 1 + (index % 10);
    const outcome = exchange.createOrder('maker', { symbol: 'BTCUSDT', side, orderType: 'Limit', timeInForce: 'PostOnly', qtyLots: lots(2), priceTicks: ticks(side === 'Buy' ? 650_000 - offset : 650_000 + offset) });
    if (outcome.ok) resting.push(outcome.value.orderId);
  });
}

/**
 * Signed POST /v5/order/create then /v5/order/cancel pairs over loopback HTTP keep-alive, 64 in flight,
 * from a lean client in a worker thread (client and server each get one of the two cores). Limits are
 * scaled as for a high tier so that requests are served rather than refused.
 */
export async function benchRest(total = 40_000, inFlight = 64): Promise<Result> {
  const sim = await startSimulator({ rateLimitScale: 10_000, ipLimit: { limit: 10_000_000, windowMs: 5_000, banMs: 1 } });
  try {
    const worker = new Worker(new URL('./rest-load.js', import.meta.url), {
      workerData: { url: sim.restUrl, key: 'SIMTRADERKEY0001', secret: 'sim-trader-secret-0001', total, inFlight },
    });
    const report = await new Promise<{ sent: number; failed: number; seconds: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (report.failed > 0) throw new Error(`${report.failed} REST requests failed during the benchmark`);
    return { name: `sim REST: signed requests over loopback (${inFlight} in flight)`, operations: report.sent, seconds: report.seconds };
  } finally {
    await sim.close();
  }
}

/**
 * Replay: a recording is loaded once (parsed and validated, line by line) and then replayed from memory.
 * Reported: the load rate, the replay rate into a local order book, and the replay rate driven into the
 * matching engine (the venue's market during a replayed run).
 */
export async function benchReplay(): Promise<Result[]> {
  const text = await readFile(new URL('../../sim/market/sample-btcusdt.jsonl', import.meta.url), 'utf8');
  const lines = text.trim().split('\n');
  const averageBytes = Math.round(text.length / lines.length);
  const load = measure(`sim replay: load (parse + validate, ${averageBytes} B/msg)`, 200_000, (index) => {
    parseRecordingLine(lines[index % lines.length] ?? '', index + 1);
  });
  const sample = parseRecording(text);
  const levelsPerMessage = sample.reduce((total, message) => total + (isOrderbook(message) ? message.data.b.length + message.data.a.length : message.data.length), 0) / sample.length;
  const book = new RecordedBook();
  const replay = measure(`sim replay: into a local book (${levelsPerMessage.toFixed(0)} levels/msg)`, 1_000_000, (index) => {
    const message = sample[index % sample.length];
    if (message && isOrderbook(message)) book.apply(message);
  });

  const instrument = parseLinearInstrument(BTCUSDT_RAW);
  let now = 0;
  const exchange = new Exchange({ instruments: [instrument], clock: () => (now += 1) });
  exchange.addAccount({ accountId: 'flow', makerFeeRate: dec('0'), takerFeeRate: dec('0'), walletBalance: dec('1000000000') });
  const driver = new ReplayDriver(exchange, instrument);
  const driven = measure('sim replay: driven into the matching engine', 20_000, (index) => {
    const message = sample[index % sample.length];
    if (message) driver.apply(message);
  });
  return [{ ...load, unit: 'msg' }, { ...replay, unit: 'msg' }, { ...driven, unit: 'msg' }];
}
