/**
 * Records of orders, fills and positions: what is written reads back to the same domain state, exactly;
 * the events built from them pass the bus's schemas; a corrupt item is refused with its field named.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { dec } from '../../../src/core/decimal.js';
import { parseEventDetail } from '../../../src/core/events.js';
import { type Order, createOrder } from '../../../src/core/order.js';
import { type TradeExecution, ExecutionLedger } from '../../../src/core/position.js';
import {
  OrderRecordSchema,
  PositionRecordSchema,
  RecordError,
  fillEvent,
  fillRecord,
  orderFromRecord,
  orderRecord,
  orderUpdateEvent,
  parseRecord,
  positionFromRecord,
  positionRecord,
} from '../../../src/core/records.js';
import type { Lots, Ticks } from '../../../src/core/units.js';
import { BTCUSDT } from '../../support/instruments.js';

const meta = { shard: 's1', epoch: 4, revision: 2, now: 1_700_000_000_000 };

function trade(execId: string, side: 'Buy' | 'Sell', priceTicks: number, qtyLots: number, fee: string): TradeExecution {
  return { kind: 'trade', execId, symbol: 'BTCUSDT', orderId: `o-${execId}`, orderLinkId: `s1-4-${execId}`, side, priceTicks: priceTicks as Ticks, qtyLots: qtyLots as Lots, fee: dec(fee), feeRate: dec('-0.0001'), isMaker: true, execTime: 1_700_000_000_000 };
}

describe('records', () => {
  it('an order reads back as it was, less the operation in flight', () => {
    const order: Order = {
      ...createOrder({ orderLinkId: 's1-4-1', symbol: 'BTCUSDT', side: 'Sell', priceTicks: 650_010 as Ticks, qtyLots: 3 as Lots, createdAt: 5 }),
      orderId: 'o1',
      venue: { orderId: 'o1', status: 'PartiallyFilled', priceTicks: 650_010 as Ticks, qtyLots: 3 as Lots, cumExecLots: 1 as Lots, leavesLots: 2 as Lots, updatedTime: 9, rejectReason: 'EC_NoError' },
      pending: { kind: 'cancel' },
    };
    const record = orderRecord(order, BTCUSDT, { ...meta, level: 1 });
    expect(record).toMatchObject({ status: 'PendingCancel', price: '65001.00', qty: '0.003', openShard: 's1', pendingEventId: 'order:s1-4-1:9:PartiallyFilled' });
    const back = orderFromRecord(parseRecord(OrderRecordSchema, 'order', JSON.parse(JSON.stringify(record))));
    expect(back).toEqual({ order: { intent: order.intent, orderId: 'o1', venue: order.venue }, level: 1 });

    const event = orderUpdateEvent(record, BTCUSDT);
    expect(parseEventDetail('OrderUpdate', event)).toMatchObject({ ok: true });
    expect(event).toMatchObject({ cumExecQty: '0.001', leavesQty: '0.002', rejectReason: 'EC_NoError' });
    // Not acknowledged yet: nothing to announce, and no level.
    const sent = orderRecord(createOrder({ ...order.intent }), BTCUSDT, { ...meta, level: undefined });
    expect(sent.pendingEventId).toBeUndefined();
    expect(orderUpdateEvent(sent, BTCUSDT)).toBeUndefined();
    expect(orderFromRecord(sent).level).toBeUndefined();
  });

  it('a position reads back exactly, whatever its fills (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ side: fc.constantFrom<'Buy' | 'Sell'>('Buy', 'Sell'), price: fc.integer({ min: 1, max: 10_000_000 }), qty: fc.integer({ min: 1, max: 1_000_000 }), fee: fc.integer({ min: -1_000_000, max: 1_000_000 }) }), { maxLength: 30 }), (fills) => {
        const ledger = new ExecutionLedger();
        let position = ledger.position('BTCUSDT');
        fills.forEach((fill, index) => {
          position = ledger.apply(trade(`e${index}`, fill.side, fill.price, fill.qty, dec(String(fill.fee)).times(dec('0.00000001')).toFixed())).position;
        });
        const record = positionRecord(position, BTCUSDT, { ...meta, execCount: fills.length });
        const back = positionFromRecord(parseRecord(PositionRecordSchema, 'position', JSON.parse(JSON.stringify(record))));
        expect(back.execCount).toBe(fills.length);
        expect({ ...back.position, feesPaid: back.position.feesPaid.toFixed(), rebatesEarned: back.position.rebatesEarned.toFixed(), fundingPnl: back.position.fundingPnl.toFixed() }).toEqual({
          ...position,
          feesPaid: position.feesPaid.toFixed(),
          rebatesEarned: position.rebatesEarned.toFixed(),
          fundingPnl: position.fundingPnl.toFixed(),
        });
      }),
      { numRuns: 200 },
    );
  });

  it('a fill record makes a valid Fill event; funding is kept but not announced', () => {
    const record = fillRecord(trade('x1', 'Buy', 650_000, 2, '-0.0013'), BTCUSDT, { shard: 's1', now: 1_000_000 });
    expect(record).toMatchObject({ price: '65000.00', qty: '0.002', fee: '-0.0013', pendingEventId: 'fill:x1', expiresAt: 1_000 + 400 * 86_400 });
    expect(parseEventDetail('Fill', fillEvent(record))).toMatchObject({ ok: true, event: { detail: { execId: 'x1', price: '65000.00' } } });
    const funding = fillRecord({ kind: 'funding', execId: 'f1', symbol: 'BTCUSDT', fee: dec('0.5'), execTime: 3 }, BTCUSDT, { shard: 's1', now: 1 });
    expect(funding).toMatchObject({ kind: 'funding', side: '', fee: '0.5' });
    expect(funding.pendingEventId).toBeUndefined();
    expect(() => fillEvent(funding)).toThrow(RecordError);
  });

  it('a corrupt item is refused with every bad field named', () => {
    expect(() => parseRecord(PositionRecordSchema, 'position', { shard: 's1', symbol: 'BTCUSDT', sizeLots: '1.5' })).toThrow(/^corrupt position: sizeLots: expected an integer string; costTickLots: /);
    expect(() => parseRecord(OrderRecordSchema, 'order', 'not an item')).toThrow(RecordError);
  });
});
