/** Throughput of the domain core. */
import { dec } from '../../src/core/decimal.js';
import { formatPrice, parseLinearInstrument, priceToTicks, roundOrderQty } from '../../src/core/instrument.js';
import { type Order, type VenueOrderReport, createOrder, transition } from '../../src/core/order.js';
import { type TradeExecution, ExecutionLedger } from '../../src/core/position.js';
import { lots, ticks } from '../../src/core/units.js';
import { BTCUSDT_RAW } from '../support/instruments.js';

import { type Result, measure } from './measure.js';

export function benchCore(): Result[] {
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

  return results;
}
