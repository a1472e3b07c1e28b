import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { dec } from '../../../src/core/decimal.js';
import { formatPrice, formatQty } from '../../../src/core/instrument.js';
import { type Lots, lots } from '../../../src/core/units.js';
import { Exchange, type SimExecution } from '../../../sim/exchange/exchange.js';
import { RecordedBook, RecordingError, ReplayDriver, checkRecording, isOrderbook, parseRecording } from '../../../sim/market/replay.js';
import { BTCUSDT } from '../../support/instruments.js';

const SAMPLE = new URL('../../../sim/market/sample-btcusdt.jsonl', import.meta.url);

describe('recordings', () => {
  it('parse the shipped sample: book snapshot first, deltas with consecutive update ids, and trades', async () => {
    const messages = parseRecording(await readFile(SAMPLE, 'utf8'));
    expect(messages.length).toBeGreaterThan(50);
    expect(messages[0]).toMatchObject({ topic: 'orderbook.50.BTCUSDT', type: 'snapshot' });
    expect(messages.some((message) => message.topic === 'publicTrade.BTCUSDT')).toBe(true);
    const book = new RecordedBook();
    for (const message of messages) if (isOrderbook(message)) book.apply(message);
    expect(book.gaps).toBe(0);
    expect(book.bids.size).toBe(50);
    expect(() => checkRecording(messages, new Map([['BTCUSDT', BTCUSDT]]))).not.toThrow();
  });

  it('name the line and field of a bad message', () => {
    const good = '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"65000.00","i":"x"}]}';
    expect(() => parseRecording(`${good}\n\nnot json`)).toThrow(new RecordingError('line 3: not JSON'));
    expect(() => parseRecording(good.replace('"Buy"', '"buy"'))).toThrow(/^line 1: /);
    expect(() => checkRecording(parseRecording(good.replace('65000.00', '65000.05')), new Map([['BTCUSDT', BTCUSDT]]))).toThrow(/message 1: .*not a multiple of tick/);
    expect(() => checkRecording(parseRecording(good), new Map())).toThrow(/unknown symbol BTCUSDT/);
  });

  it('count update-id gaps', () => {
    const book = new RecordedBook();
    const message = (type: 'snapshot' | 'delta', u: number) => ({ topic: 'orderbook.50.BTCUSDT', type, ts: u, data: { s: 'BTCUSDT', b: [['1.0', '1']] as [string, string][], a: [] as [string, string][], u, seq: u } });
    book.apply(message('snapshot', 10));
    book.apply(message('delta', 11));
    book.apply(message('delta', 13));
    expect(book.gaps).toBe(1);
  });
});

describe('ReplayDriver', () => {
  function venue() {
    let now = 0;
    const executions: SimExecution[] = [];
    const exchange = new Exchange({ instruments: [BTCUSDT], clock: () => (now += 1), listener: { execution: (execution) => executions.push(execution) } });
    exchange.addAccount({ accountId: 'flow', makerFeeRate: dec('0'), takerFeeRate: dec('0'), walletBalance: dec('1000000000') });
    exchange.addAccount({ accountId: 'mm', makerFeeRate: dec('-0.000025'), takerFeeRate: dec('0.00055'), walletBalance: dec('100000') });
    return { exchange, executions, driver: new ReplayDriver(exchange, BTCUSDT) };
  }

  it('makes the venue\'s book the recorded book', async () => {
    const messages = parseRecording(await readFile(SAMPLE, 'utf8'));
    const { exchange, driver } = venue();
    const recorded = new RecordedBook();
    for (const message of messages) {
      // Trades are replayed as takers against the recorded liquidity, which the next delta then restates.
      driver.apply(message);
      if (isOrderbook(message)) recorded.apply(message);
    }
    const book = exchange.book('BTCUSDT');
    const rows = (side: typeof book.bids) => side.snapshot(50).map(([price, size]) => [formatPrice(BTCUSDT, price), formatQty(BTCUSDT, size as Lots)]);
    expect(rows(book.bids)).toEqual([...recorded.bids].sort((a, b) => Number(b[0]) - Number(a[0])));
    expect(rows(book.asks)).toEqual([...recorded.asks].sort((a, b) => Number(a[0]) - Number(b[0])));
  });

  it('fills our quote when recorded trade volume reaches it in the queue', () => {
    const { exchange, executions, driver } = venue();
    driver.apply({ topic: 'orderbook.50.BTCUSDT', type: 'snapshot', ts: 1, data: { s: 'BTCUSDT', b: [['64999.0', '0.002']], a: [['65001.0', '0.002']], u: 1, seq: 1 } });
    // We join the bid behind the recorded 0.002.
    expect(exchange.createOrder('mm', { symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', timeInForce: 'PostOnly', qtyLots: lots(3), priceTicks: 649_990 as never }).ok).toBe(true);
    driver.apply({ topic: 'publicTrade.BTCUSDT', type: 'snapshot', ts: 2, data: [{ T: 2, s: 'BTCUSDT', S: 'Sell', v: '0.002', p: '64999.0', i: 'a' }] });
    expect(executions.filter((execution) => execution.accountId === 'mm')).toHaveLength(0);
    driver.apply({ topic: 'publicTrade.BTCUSDT', type: 'snapshot', ts: 3, data: [{ T: 3, s: 'BTCUSDT', S: 'Sell', v: '0.002', p: '64999.0', i: 'b' }] });
    expect(executions.find((execution) => execution.accountId === 'mm')).toMatchObject({ isMaker: true, execQtyLots: 2 });
  });
});
