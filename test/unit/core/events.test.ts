import { describe, expect, it } from '@jest/globals';
import { type EngineHeartbeatV1, type FillEventV1, type FreezeEventV1, type OrderUpdateEventV1, type UnfreezeEventV1, parseEventDetail } from '../../../src/core/events.js';

const fill: FillEventV1 = {
  schemaVersion: 1,
  eventId: 'fill:exec-123',
  shard: 'shard-a',
  symbol: 'BTCUSDT',
  execId: 'exec-123',
  orderId: 'oid-1',
  orderLinkId: 'shard-a-e1-000001',
  side: 'Buy',
  price: '65000.10',
  qty: '0.010',
  fee: '-0.0162500',
  feeRate: '-0.000025',
  isMaker: true,
  execTime: 1_700_000_000_000,
};

const orderUpdate: OrderUpdateEventV1 = {
  schemaVersion: 1,
  eventId: 'order:shard-a-e1-000001:1700000000001:Cancelled',
  shard: 'shard-a',
  symbol: 'BTCUSDT',
  orderLinkId: 'shard-a-e1-000001',
  orderId: 'oid-1',
  side: 'Sell',
  status: 'Cancelled',
  price: '65010.00',
  qty: '0.010',
  cumExecQty: '0',
  leavesQty: '0',
  updatedTime: 1_700_000_000_001,
  rejectReason: 'EC_PostOnlyWillTakeLiquidity',
};

const freeze: FreezeEventV1 = {
  schemaVersion: 1,
  eventId: 'freeze:7',
  freezeVersion: 7,
  symbols: [],
  reason: { code: 'edge-collapse', message: 'net edge -0.4 bps over 5 min' },
  actor: 'arn:aws:sts::123456789012:assumed-role/operator/alice',
  frozenAt: 1_700_000_000_000,
};

const unfreeze: UnfreezeEventV1 = {
  schemaVersion: 1,
  eventId: 'unfreeze:7',
  freezeVersion: 7,
  reason: { message: 'spreads back to normal' },
  actor: 'arn:aws:sts::123456789012:assumed-role/operator/bob',
  unfrozenAt: 1_700_000_100_000,
};

const heartbeat: EngineHeartbeatV1 = {
  schemaVersion: 1,
  eventId: 'heartbeat:shard-a:18000000000:1800000000000',
  shard: 'shard-a',
  epoch: 18_000_000_000,
  sentAt: 1_800_000_000_000,
  phase: 'running',
  frozen: false,
  symbols: [{ symbol: 'BTCUSDT', quoting: false, blockers: ['book stale: no update for 2000 ms'], openOrders: 0, position: '-0.004' }],
};

describe('parseEventDetail', () => {
  it.each([
    ['Fill', fill],
    ['OrderUpdate', orderUpdate],
    ['Freeze', freeze],
    ['Unfreeze', unfreeze],
    ['EngineHeartbeat', heartbeat],
  ])('accepts a valid %s and returns it typed', (detailType, detail) => {
    const result = parseEventDetail(detailType, JSON.parse(JSON.stringify(detail)));
    expect(result).toEqual({ ok: true, event: { detailType, detail } });
  });

  it('refuses a heartbeat whose eventId is not its shard, epoch and time, or whose position is not a decimal', () => {
    expect(parseEventDetail('EngineHeartbeat', { ...heartbeat, eventId: 'heartbeat:shard-a:1:1' })).toEqual({ ok: false, errors: ['eventId: eventId must be heartbeat:<shard>:<epoch>:<sentAt>'] });
    const bad = parseEventDetail('EngineHeartbeat', { ...heartbeat, symbols: [{ ...heartbeat.symbols[0], position: 1.5 }] });
    expect(bad).toMatchObject({ ok: false, errors: [expect.stringMatching(/^symbols\.0\.position: /)] });
  });

  it('takes the heartbeat\'s keyId as optional: 1 to 64 characters when given', () => {
    const withKey = { ...heartbeat, keyId: '104712' };
    expect(parseEventDetail('EngineHeartbeat', withKey)).toEqual({ ok: true, event: { detailType: 'EngineHeartbeat', detail: withKey } });
    expect(parseEventDetail('EngineHeartbeat', { ...heartbeat, keyId: '' })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^keyId: /)] });
    expect(parseEventDetail('EngineHeartbeat', { ...heartbeat, keyId: 'k'.repeat(65) })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^keyId: /)] });
  });

  it('names every bad field', () => {
    const result = parseEventDetail('Fill', { ...fill, price: '65,000.1', qty: 0.01, side: 'buy', extra: true });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors.some((error) => error.startsWith('price: expected a decimal string'))).toBe(true);
    expect(errors.some((error) => error.startsWith('qty:'))).toBe(true);
    expect(errors.some((error) => error.startsWith('side:'))).toBe(true);
    expect(errors.some((error) => error.includes('extra'))).toBe(true);
  });

  it('insists the idempotency key is derived from the event', () => {
    const result = parseEventDetail('Fill', { ...fill, eventId: 'fill:another' });
    expect(result).toEqual({ ok: false, errors: ['eventId: eventId must be fill:<execId>'] });
    expect(parseEventDetail('Freeze', { ...freeze, eventId: 'freeze:8' }).ok).toBe(false);
    expect(parseEventDetail('Unfreeze', { ...unfreeze, eventId: 'unfreeze:6' }).ok).toBe(false);
    expect(parseEventDetail('OrderUpdate', { ...orderUpdate, eventId: 'order:x:1:New' }).ok).toBe(false);
  });

  it('refuses unknown detail types and schema versions rather than guessing', () => {
    expect(parseEventDetail('Trade', fill)).toEqual({ ok: false, errors: ['unknown detail-type "Trade"'] });
    expect(parseEventDetail('Fill', { ...fill, schemaVersion: 2 })).toEqual({ ok: false, errors: ['schemaVersion: unsupported 2 for Fill'] });
    expect(parseEventDetail('Fill', null)).toEqual({ ok: false, errors: ['schemaVersion: unsupported undefined for Fill'] });
    expect(parseEventDetail('Fill', 'garbage').ok).toBe(false);
  });

  it('validates freeze reasons and operator input limits', () => {
    expect(parseEventDetail('Freeze', { ...freeze, reason: { code: 'because', message: 'x' } }).ok).toBe(false);
    expect(parseEventDetail('Freeze', { ...freeze, reason: { code: 'manual', message: '   ' } }).ok).toBe(false);
    expect(parseEventDetail('Freeze', { ...freeze, reason: { code: 'manual', message: 'x'.repeat(501) } }).ok).toBe(false);
    expect(parseEventDetail('Freeze', { ...freeze, symbols: ['btcusdt'] }).ok).toBe(false);
    expect(parseEventDetail('Freeze', { ...freeze, freezeVersion: 0, eventId: 'freeze:0' }).ok).toBe(false);
  });

  it('refuses orderLinkIds Bybit would refuse', () => {
    const tooLong = 'a'.repeat(37);
    expect(parseEventDetail('OrderUpdate', { ...orderUpdate, orderLinkId: tooLong, eventId: `order:${tooLong}:1700000000001:Cancelled` }).ok).toBe(false);
    expect(parseEventDetail('OrderUpdate', { ...orderUpdate, orderLinkId: 'a b', eventId: 'order:a b:1700000000001:Cancelled' }).ok).toBe(false);
  });
});
