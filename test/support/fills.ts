/** A Fill event (src/core/events.ts) for tests: a maker buy of 0.01 BTCUSDT at 65000 earning its rebate. */
import type { FillEventV1 } from '../../src/core/events.js';

export function fillEvent(execId: string, execTime: number, overrides: Partial<FillEventV1> = {}): FillEventV1 {
  return {
    schemaVersion: 1,
    eventId: `fill:${execId}`,
    shard: 'a',
    symbol: 'BTCUSDT',
    execId,
    orderId: `order-${execId}`,
    orderLinkId: '',
    side: 'Buy',
    price: '65000',
    qty: '0.01',
    fee: '-0.0325',
    feeRate: '-0.00005',
    isMaker: true,
    execTime,
    ...overrides,
  };
}
