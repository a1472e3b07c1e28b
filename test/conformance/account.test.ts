/**
 * The venue-account adapter (src/adapters/bybit/account.ts) driven through the unmodified bybit-api
 * RestClientV5 against the simulator over HTTP: instruments, open orders across pages, the signed position,
 * cancel-all, disconnect-cancel and the maker fee, and how venue errors surface (without the API secret).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { RestVenueAccount, loadInstruments } from '../../src/adapters/bybit/account.js';
import { BybitMessageError } from '../../src/adapters/bybit/messages.js';
import { VenueQueryError } from '../../src/adapters/bybit/queries.js';
import { ZERO, dec } from '../../src/core/decimal.js';
import { type Instrument, formatPrice, formatQty, priceToTicks, qtyToLots } from '../../src/core/instrument.js';
import { type Lots, type Side, lots, ticks } from '../../src/core/units.js';
import { DEFAULT_KEYS, type Simulator, startSimulator } from '../../sim/simulator.js';
import { BIOUSDT, BTCUSDT } from '../support/instruments.js';
import { READ_ONLY, TRADER } from '../support/sim.js';
import { rejectionOf } from '../support/rejection.js';

const SYMBOL = 'BTCUSDT';
/** The simulator's account behind the TRADER key, whose orders and position the adapter sees. */
const TRADER_ACCOUNT = DEFAULT_KEYS.find((spec) => spec.apiKey === TRADER.key)!.accountId;
/** The simulator's own taker/maker flow account: the other side of the trader's fills. */
const FLOW = 'flow';

let sim: Simulator;
let client: RestClientV5;
let instruments: Map<string, Instrument>;
let account: RestVenueAccount;
let sequence = 0;
const link = () => `acct-${process.pid}-${(sequence += 1)}`;

beforeAll(async () => {
  // A high rate-limit tier: these tests place dozens of orders within a second.
  sim = await startSimulator({ seed: 23, rateLimitScale: 100 });
  client = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  instruments = await loadInstruments(client, [SYMBOL]);
  account = new RestVenueAccount(client, instruments);
});

afterEach(async () => {
  Object.assign(sim.faults, { latencyMs: 0, http5xxRate: 0, rateLimitStorm: false });
  await client.cancelAllOrders({ category: 'linear', symbol: SYMBOL });
  sim.exchange.cancelAll(FLOW, SYMBOL);
  flatten();
});

afterAll(async () => {
  await sim.close();
});

/** The trader's signed position as the simulator holds it, in lots. */
function venuePositionLots(): bigint {
  return sim.exchange.position(TRADER_ACCOUNT, SYMBOL).position.sizeLots;
}

/** Rests a flow order on the book for the trader to take. */
function restFlow(side: Side, priceTicks: number, qtyLots: number): void {
  const outcome = sim.exchange.createOrder(FLOW, { symbol: SYMBOL, side, orderType: 'Limit', timeInForce: 'GTC', qtyLots: lots(qtyLots), priceTicks: ticks(priceTicks) });
  expect(outcome.ok).toBe(true);
}

/** Closes whatever position a test left, so that each test starts flat. */
function flatten(): void {
  const size = venuePositionLots();
  if (size === 0n) return;
  const priceTicks = priceToTicks(BTCUSDT, '65000.0');
  const qtyLots = Number(size < 0n ? -size : size);
  const closing: Side = size > 0n ? 'Sell' : 'Buy';
  restFlow(closing === 'Sell' ? 'Buy' : 'Sell', priceTicks, qtyLots);
  const outcome = sim.exchange.createOrder(TRADER_ACCOUNT, { symbol: SYMBOL, side: closing, orderType: 'Limit', timeInForce: 'IOC', qtyLots: lots(qtyLots), priceTicks });
  expect(outcome.ok).toBe(true);
  expect(venuePositionLots()).toBe(0n);
}

/** The trader takes `qty` at `price` from a flow order resting there, over REST. */
async function take(side: Side, price: string, qty: string): Promise<void> {
  restFlow(side === 'Buy' ? 'Sell' : 'Buy', priceToTicks(BTCUSDT, price), qtyToLots(BTCUSDT, qty));
  const taken = await client.submitOrder({ category: 'linear', symbol: SYMBOL, side, orderType: 'Limit', qty, price, timeInForce: 'IOC', orderLinkId: link() });
  expect(taken.retCode).toBe(0);
}

interface Placed {
  readonly orderLinkId: string;
  readonly side: Side;
  readonly price: string;
  readonly qty: string;
}

/**
 * Places `count` post-only orders far from any price the tests trade at (bids below, a few asks above),
 * with sizes of 1 to 3 lots, in batches of 20 (Bybit's linear batch size).
 */
async function placeResting(count: number): Promise<Placed[]> {
  const placed: Placed[] = Array.from({ length: count }, (_, index) => {
    const side: Side = index % 5 === 4 ? 'Sell' : 'Buy';
    const priceTicks = side === 'Buy' ? priceToTicks(BTCUSDT, '40000.0') + index : priceToTicks(BTCUSDT, '90000.0') + index;
    return { orderLinkId: link(), side, price: formatPrice(BTCUSDT, ticks(priceTicks)), qty: formatQty(BTCUSDT, lots(1 + (index % 3))) };
  });
  for (let start = 0; start < placed.length; start += 20) {
    const batch = placed.slice(start, start + 20).map((order) => ({ symbol: SYMBOL, orderType: 'Limit' as const, timeInForce: 'PostOnly' as const, ...order }));
    const response = await client.batchSubmitOrders('linear', batch);
    expect(response.retCode).toBe(0);
    expect(response.retExtInfo.list.every((item) => item.code === 0)).toBe(true);
  }
  return placed;
}


/** The error is a VenueQueryError and nothing reachable from it spells the secret. */
function expectSafeVenueError(error: Error, secret: string): void {
  expect(error).toBeInstanceOf(VenueQueryError);
  expect(error.message).not.toContain(secret);
  expect(String(error.stack)).not.toContain(secret);
  expect(JSON.stringify(error)).not.toContain(secret);
  expect(error.cause).toBeUndefined();
}

describe('loadInstruments', () => {
  it('reads each symbol\'s rules from instruments-info', async () => {
    const loaded = await loadInstruments(client, ['BTCUSDT', 'BIOUSDT']);
    expect([...loaded.keys()]).toEqual(['BTCUSDT', 'BIOUSDT']);
    expect(loaded.get('BTCUSDT')).toEqual(BTCUSDT);
    expect(loaded.get('BIOUSDT')).toEqual(BIOUSDT);
  });

  it('refuses an unknown symbol with a VenueQueryError naming it', async () => {
    const error = await rejectionOf(loadInstruments(client, ['BTCUSDT', 'NOSUCHUSDT']), Error);
    expect(error).toBeInstanceOf(VenueQueryError);
    expect(error.message).toContain('NOSUCHUSDT');
  });

  it('turns a non-zero retCode into a VenueQueryError naming the symbol', async () => {
    // Bybit's symbols are uppercase; the venue refuses this one as a parameter error.
    const error = await rejectionOf(loadInstruments(client, ['btcusdt']), Error);
    expect(error).toBeInstanceOf(VenueQueryError);
    expect(error.message).toMatch(/^instruments-info btcusdt failed: 10001 /);
  });
});

describe('openOrders', () => {
  it('returns every open order of the symbol across pages, in ticks and lots', async () => {
    const placed = await placeResting(55);
    // More than one page of 50: the venue hands out a cursor after the first.
    const firstPage = await client.getActiveOrders({ category: 'linear', symbol: SYMBOL, limit: 50 });
    expect(firstPage.result.list).toHaveLength(50);
    expect(firstPage.result.nextPageCursor).not.toBe('');

    const open = await account.openOrders(SYMBOL);
    expect(open).toHaveLength(placed.length);
    expect(new Set(open.map((order) => order.report.orderId)).size).toBe(placed.length);
    const byLink = new Map(open.map((order) => [order.orderLinkId, order]));
    for (const order of placed) {
      const qtyLots: Lots = qtyToLots(BTCUSDT, order.qty);
      expect(byLink.get(order.orderLinkId)).toEqual({
        orderLinkId: order.orderLinkId,
        symbol: SYMBOL,
        side: order.side,
        report: expect.objectContaining({ status: 'New', priceTicks: priceToTicks(BTCUSDT, order.price), qtyLots, leavesLots: qtyLots, cumExecLots: 0 }),
      });
    }
  });

  it('reports a partly filled order with its filled and remaining lots', async () => {
    const orderLinkId = link();
    const price = '64000.0';
    const qty = '0.003';
    await client.submitOrder({ category: 'linear', symbol: SYMBOL, side: 'Buy', orderType: 'Limit', qty, price, timeInForce: 'PostOnly', orderLinkId });
    const filled = lots(1);
    const outcome = sim.exchange.createOrder(FLOW, { symbol: SYMBOL, side: 'Sell', orderType: 'Limit', timeInForce: 'IOC', qtyLots: filled, priceTicks: priceToTicks(BTCUSDT, price) });
    expect(outcome.ok).toBe(true);

    const [order] = await account.openOrders(SYMBOL);
    expect(order?.orderLinkId).toBe(orderLinkId);
    expect(order?.report).toMatchObject({ status: 'PartiallyFilled', qtyLots: qtyToLots(BTCUSDT, qty), cumExecLots: filled, leavesLots: qtyToLots(BTCUSDT, qty) - filled });
  });

  it('is empty when nothing rests', async () => {
    expect(await account.openOrders(SYMBOL)).toEqual([]);
  });

  it('refuses a symbol it has no instrument for', async () => {
    const error = await rejectionOf(account.openOrders('ETHUSDT'), Error);
    expect(error).toBeInstanceOf(VenueQueryError);
    expect(error.message).toContain('ETHUSDT');
  });
});

describe('positionLots', () => {
  it('is 0 when flat', async () => {
    expect(await account.positionLots(SYMBOL)).toBe(0n);
  });

  it('is signed: long after buying, short after selling through, 0 when closed', async () => {
    const buy = '0.003';
    await take('Buy', '65000.0', buy);
    const long = BigInt(qtyToLots(BTCUSDT, buy));
    expect(await account.positionLots(SYMBOL)).toBe(long);
    expect(long).toBeGreaterThan(0n);

    const sell = '0.005';
    await take('Sell', '64990.0', sell);
    const short = long - BigInt(qtyToLots(BTCUSDT, sell));
    expect(await account.positionLots(SYMBOL)).toBe(short);
    expect(short).toBeLessThan(0n);

    await take('Buy', '65010.0', formatQty(BTCUSDT, lots(Number(-short))));
    expect(await account.positionLots(SYMBOL)).toBe(0n);
    expect(venuePositionLots()).toBe(0n);
  });
});

describe('cancelAll', () => {
  it('cancels every open order of the symbol and says how many', async () => {
    const placed = await placeResting(7);
    expect(await account.cancelAll(SYMBOL)).toBe(placed.length);
    expect(await account.openOrders(SYMBOL)).toEqual([]);
    expect(await account.cancelAll(SYMBOL)).toBe(0);
  });
});

describe('armDisconnectCancel', () => {
  it('sets the derivatives window', async () => {
    const windowSeconds = 15;
    await account.armDisconnectCancel(windowSeconds);
    const info = await client.getDCPInfo();
    expect(info.result.dcpInfos).toContainEqual({ product: 'DERIVATIVES', dcpStatus: 'ON', timeWindow: String(windowSeconds) });
  });

  it('refuses a window outside [3, 300] seconds with a VenueQueryError', async () => {
    const error = await rejectionOf(account.armDisconnectCancel(1), Error);
    expect(error).toBeInstanceOf(VenueQueryError);
    expect(error.message).toMatch(/^order\.disconnected-cancel-all failed: 10001 /);
  });
});

describe('makerFeeRate', () => {
  it('is the account\'s configured maker rate, a rebate, exactly', async () => {
    const configured = sim.accounts.get(TRADER_ACCOUNT)!.makerFeeRate;
    const rate = await account.makerFeeRate(SYMBOL);
    expect(rate.eq(dec(configured))).toBe(true);
    expect(rate.lt(ZERO)).toBe(true);
  });
});

describe('venue errors', () => {
  it('a read-only key cancelling: VenueQueryError with the retCode, no secret', async () => {
    const readOnly = new RestVenueAccount(new RestClientV5({ ...READ_ONLY, baseUrl: sim.restUrl }), instruments);
    const error = await rejectionOf(readOnly.cancelAll(SYMBOL), Error);
    expectSafeVenueError(error, READ_ONLY.secret);
    expect(error.message).toMatch(/^order\.cancel-all failed: 10005 /);
  });

  it('a rate-limit storm: every method throws instead of answering "nothing"', async () => {
    sim.faults.rateLimitStorm = true;
    const calls: [string, () => Promise<unknown>][] = [
      ['order.realtime', () => account.openOrders(SYMBOL)],
      ['position.list', () => account.positionLots(SYMBOL)],
      ['order.cancel-all', () => account.cancelAll(SYMBOL)],
      ['order.disconnected-cancel-all', () => account.armDisconnectCancel(10)],
      ['account.fee-rate', () => account.makerFeeRate(SYMBOL)],
    ];
    for (const [what, call] of calls) {
      const error = await rejectionOf(call(), Error);
      expectSafeVenueError(error, TRADER.secret);
      expect(error.message.startsWith(`${what} failed: 10006 `)).toBe(true);
    }
  });

  it('an HTTP error, which bybit-api throws with the client options: the secret stays out', async () => {
    sim.faults.http5xxRate = 1;
    // What bybit-api throws here carries requestOptions, secret included; the adapter keeps only the status.
    const thrown: unknown = await client.getPositionInfo({ category: 'linear', symbol: SYMBOL }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(JSON.stringify(thrown)).toContain(TRADER.secret);

    const error = await rejectionOf(account.positionLots(SYMBOL), Error);
    expectSafeVenueError(error, TRADER.secret);
    expect(error.message).toMatch(/^position\.list failed: HTTP 503/);
  });
});

describe('malformed answers (a stubbed client: the simulator never sends them)', () => {
  const answering = (result: unknown) => ({ retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: 0 });
  const stubbed = (methods: Record<string, () => Promise<unknown>>) => new RestVenueAccount(methods as unknown as RestClientV5, instruments);
  const row = { symbol: SYMBOL, positionIdx: 0, side: 'Buy', size: '0.002' };

  it('a position row with an unknown side or a hedge-mode index is refused, naming the field', async () => {
    const badSide = stubbed({ getPositionInfo: () => Promise.resolve(answering({ list: [{ ...row, side: 'Long' }] })) });
    const sideError = await rejectionOf(badSide.positionLots(SYMBOL), Error);
    expect(sideError).toBeInstanceOf(BybitMessageError);
    expect(sideError.message).toMatch(/side/);

    const hedge = stubbed({ getPositionInfo: () => Promise.resolve(answering({ list: [{ ...row, positionIdx: 1 }] })) });
    expect((await rejectionOf(hedge.positionLots(SYMBOL), Error)).message).toMatch(/positionIdx/);

    const sizeWithoutSide = stubbed({ getPositionInfo: () => Promise.resolve(answering({ list: [{ ...row, side: '' }] })) });
    expect(await rejectionOf(sizeWithoutSide.positionLots(SYMBOL), Error)).toBeInstanceOf(BybitMessageError);

    const noRow = stubbed({ getPositionInfo: () => Promise.resolve(answering({ list: [] })) });
    expect(await rejectionOf(noRow.positionLots(SYMBOL), Error)).toBeInstanceOf(BybitMessageError);
  });

  it('a page cursor that repeats is refused rather than followed for ever', async () => {
    const looping = stubbed({ getActiveOrders: () => Promise.resolve(answering({ list: [], nextPageCursor: 'same' })) });
    const error = await rejectionOf(looping.openOrders(SYMBOL), Error);
    expect(error).toBeInstanceOf(VenueQueryError);
    expect(error.message).toMatch(/cursor/);
  });

  it('a malformed fee rate is refused', async () => {
    const bad = stubbed({ getFeeRate: () => Promise.resolve(answering({ list: [{ symbol: SYMBOL, makerFeeRate: '-2.5e-5' }] })) });
    expect(await rejectionOf(bad.makerFeeRate(SYMBOL), Error)).toBeInstanceOf(BybitMessageError);
  });
});
