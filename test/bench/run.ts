/**
 * `npm run bench`: throughput of the domain core on this machine. Figures are printed, never asserted.
 */
import { cpus, totalmem } from 'node:os';
import { dec } from '../../src/core/decimal.js';
import { formatPrice, parseLinearInstrument, priceToTicks, roundOrderQty } from '../../src/core/instrument.js';
import { type Order, type VenueOrderReport, createOrder, transition } from '../../src/core/order.js';
import { type TradeExecution, ExecutionLedger } from '../../src/core/position.js';
import { lots, ticks } from '../../src/core/units.js';
import { BTCUSDT_RAW } from '../support/instruments.js';

interface Result {
  readonly name: string;
  readonly operations: number;
  readonly seconds: number;
}

function measure(name: string, operations: number, body: (index: number) => void): Result {
  for (let index = 0; index < Math.min(operations, 10_000); index++) body(index); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let index = 0; index < operations; index++) body(index);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, operations, seconds };
}

const instrument = parseLinearInstrument(BTCUSDT_RAW);
const results: Result[] = [];

{
  // A venue report stream for many orders: New, a partial fill, Filled.
  const orders = new Map<number, Order>();
  const report = (index: number): VenueOrderReport => {
    const step = index % 3;
    const cum = step === 0 ? 0 : step === 1 ? 4 : 10;
    return {
      orderId: `o${Math.floor(index / 3)}`,
      status: step === 0 ? 'New' : step === 1 ? 'PartiallyFilled' : 'Filled',
      priceTicks: ticks(650_000),
      qtyLots: lots(10),
      cumExecLots: lots(cum),
      leavesLots: lots(10 - cum),
      updatedTime: index,
    };
  };
  results.push(
    measure('order state machine: venue reports applied', 1_500_000, (index) => {
      const key = Math.floor(index / 3) % 1024;
      if (index % 3 === 0) orders.set(key, createOrder({ orderLinkId: `l${key}`, symbol: 'BTCUSDT', side: 'Buy', priceTicks: ticks(650_000), qtyLots: lots(10), createdAt: index }));
      const result = transition(orders.get(key)!, { type: 'VenueReport', report: report(index) });
      if (result.ok) orders.set(key, result.order);
    }),
  );
}

{
  const ledger = new ExecutionLedger();
  const fee = dec('-0.0001625');
  const rate = dec('-0.000025');
  results.push(
    measure('position ledger: fills applied (exact decimals)', 300_000, (index) => {
      const fill: TradeExecution = {
        kind: 'trade',
        execId: `e${index}`,
        symbol: 'BTCUSDT',
        orderId: `o${index}`,
        orderLinkId: '',
        side: index % 2 === 0 ? 'Buy' : 'Sell',
        priceTicks: ticks(650_000 + (index % 50)),
        qtyLots: lots(1 + (index % 7)),
        fee,
        feeRate: rate,
        isMaker: true,
        execTime: index,
      };
      ledger.apply(fill);
    }),
  );
}

results.push(measure('instrument: venue price string to ticks', 300_000, (index) => priceToTicks(instrument, `${65000 + (index % 1000)}.${index % 10}`)));
results.push(measure('instrument: ticks to order price string', 1_000_000, (index) => formatPrice(instrument, ticks(650_000 + (index % 1000)))));
const desired = dec('0.0159');
results.push(measure('instrument: order size rounding (min notional)', 300_000, (index) => roundOrderQty(instrument, desired, ticks(650_000 + (index % 1000)))));

const cpu = cpus()[0]?.model ?? 'unknown cpu';
console.log(`machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${process.platform}/${process.arch}`);
for (const { name, operations, seconds } of results) {
  const perSecond = operations / seconds;
  console.log(`${name.padEnd(52)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} /s  ${((seconds / operations) * 1e9).toFixed(0).padStart(6)} ns/op`);
}
