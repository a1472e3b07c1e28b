import { describe, expect, it } from '@jest/globals';
import { SettingsError, enabledSymbols, engineSettings } from '../../../src/app/settings.js';
import { statusLines } from '../../../src/app/status-line.js';
import { EngineConfigSchema } from '../../../src/config/config.js';
import { dec } from '../../../src/core/decimal.js';
import type { EngineStatus } from '../../../src/engine/engine.js';
import { BTCUSDT, ETHUSDT } from '../../support/instruments.js';

const config = (symbols: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  EngineConfigSchema.parse({ shard: 's1', venue: { credentialsSecretId: 'x' }, symbols, ...extra });

describe('engine settings from the configuration', () => {
  const instruments = new Map([['BTCUSDT', BTCUSDT], ['ETHUSDT', ETHUSDT]]);
  const fees = new Map([['BTCUSDT', dec('-0.000025')], ['ETHUSDT', dec('0.0002')]]);

  it('turns sizes into whole lots (rounded down), fee rates into bps, and keeps only enabled symbols', () => {
    const settings = engineSettings(
      config(
        { BTCUSDT: { orderQty: '0.0025', maxPosition: '0.0209', maxNotional: '1500' }, ETHUSDT: { orderQty: '0.03', maxPosition: '0.3', maxNotional: '1200', enabled: false } },
        { risk: { maxOrderQtyMultiple: '2', markoutHorizonsMs: [5_000, 1_000] }, venue: { credentialsSecretId: 'x', recvWindowMs: 4_000 } },
      ),
      instruments,
      fees,
    );
    expect([...settings.symbols.keys()]).toEqual(['BTCUSDT']);
    const btc = settings.symbols.get('BTCUSDT')!;
    expect(btc.quote.orderLots).toBe(2); // 0.0025 at a 0.001 step
    expect(btc.quote.maxPositionLots).toBe(20);
    expect(btc.limits.maxOrderLots).toBe(5); // 0.005 = 2 x 0.0025
    expect(btc.quote.makerFeeBps).toBeCloseTo(-0.25, 12);
    expect(btc.limits.maxNotionalTickLots).toBe(15_000_000n); // 1500 USDT in tick-lots of 0.0001
    expect(btc.markoutHorizonsMs).toEqual([1_000, 5_000]);
    expect(settings.createExpiryMs).toBe(5_000);
  });

  it('refuses a size below one lot, naming the setting', () => {
    expect(() => engineSettings(config({ BTCUSDT: { orderQty: '0.0005', maxPosition: '0.02', maxNotional: '1500' } }), instruments, fees)).toThrow(
      new SettingsError('symbols.BTCUSDT.orderQty = 0.0005 is less than one lot (0.001) of BTCUSDT'),
    );
  });

  it('needs an instrument and a fee rate for every enabled symbol', () => {
    expect(() => engineSettings(config({ BTCUSDT: { orderQty: '0.002', maxPosition: '0.02', maxNotional: '1500' } }), new Map(), fees)).toThrow(SettingsError);
    expect(enabledSymbols(config({ ETHUSDT: { orderQty: '0.03', maxPosition: '0.3', maxNotional: '1' }, BTCUSDT: { orderQty: '0.002', maxPosition: '0.02', maxNotional: '1' } }))).toEqual(['BTCUSDT', 'ETHUSDT']);
  });
});

describe('status line', () => {
  const base = (overrides: Partial<EngineStatus> = {}): EngineStatus => ({
    phase: 'running',
    frozen: undefined,
    control: { version: 0, frozenSymbols: [], reason: undefined },
    fenced: undefined,
    privateStreamSynced: true,
    wallet: undefined,
    breaker: 'closed',
    unknownOrders: 0,
    symbols: [
      {
        symbol: 'BTCUSDT',
        quoting: true,
        blockers: [],
        bestBid: '65000.0',
        bestAsk: '65000.2',
        mid: dec('65000.1'),
        ourBid: '64999.0',
        ourAsk: '65001.2',
        openOrders: 2,
        position: dec('0.002'),
        untrackedPosition: dec('0'),
        fills: 3,
        makerShare: 1,
        pnl: { realised: dec('0.5'), unrealised: dec('-0.1'), feesPaid: dec('0'), rebatesEarned: dec('0.0125'), funding: dec('0'), net: dec('0.4125') },
        edge: { fills: 3, spreadCapture: dec('0.4'), rebates: dec('0.0125'), markoutBps: [undefined], netEdgeBps: undefined, netPnl: dec('0.4125'), peakNetPnl: dec('0.4125') },
        reconciliation: undefined,
      },
    ],
    counters: { sent: { create: 1, amend: 0, cancel: 0 }, riskRefusals: {}, venueRejections: {}, postOnlyRepriced: 0, illegalTransitions: {}, foreignOrders: 0, malformed: {} },
    ...overrides,
  });

  it('shows mid, our quotes, inventory, fills, PnL with rebates apart, and the state', () => {
    const [line] = statusLines(base(), new Date('2026-11-24T10:00:01Z'));
    expect(line).toContain('10:00:01');
    expect(line).toContain('mid 65000.1');
    expect(line).toContain('bid 64999.0');
    expect(line).toContain('ask 65001.2');
    expect(line).toContain('pos 0.002');
    expect(line).toContain('fills 3 (maker 100%)');
    expect(line).toContain('pnl net 0.4125 = trading 0.4000 + rebates 0.0125 - fees 0.0000');
    expect(line).toMatch(/quoting$/);
  });

  it('says why a symbol does not quote: frozen with its reason, or paused with its blockers; dashes for what is not known yet', () => {
    const [symbol] = base().symbols;
    if (!symbol) throw new Error('no symbol');
    const unknown = { ...symbol, quoting: false, blockers: ['book not synced', 'state writes behind: 12 items waiting'], mid: undefined, ourBid: undefined, ourAsk: undefined, makerShare: undefined, pnl: undefined };
    const [paused] = statusLines(base({ symbols: [unknown] }), new Date('2026-11-24T10:00:01Z'));
    expect(paused).toContain('mid -');
    expect(paused).toContain('bid -          ask -');
    expect(paused).toContain('(maker -)');
    expect(paused).toContain('pnl net - = trading - + rebates - - fees - + funding -');
    expect(paused).toMatch(/paused: book not synced; state writes behind: 12 items waiting$/);
    const [frozen] = statusLines(base({ frozen: { reason: 'manual', detail: 'operator: maintenance', at: 0 } }), new Date());
    expect(frozen).toMatch(/FROZEN \(manual: operator: maintenance\)$/);
  });

  it('adds the account line once the venue has reported the wallet', () => {
    expect(statusLines(base(), new Date())).toHaveLength(1);
    const wallet = { equity: '100012.5', walletBalance: '100000', availableBalance: '99000.25', initialMargin: '1012.25', maintenanceMargin: '50.1', maintenanceMarginRate: '0.0005', receivedAt: 0 };
    const lines = statusLines(base({ wallet }), new Date('2026-11-24T10:00:01Z'));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('10:00:01  account    equity 100012.5  available 99000.25  margin initial 1012.25 maintenance 50.1 (rate 0.0005)');
  });

  it('says why it is not quoting, and a freeze above all', () => {
    const paused = base();
    const symbol = { ...paused.symbols[0]!, quoting: false, blockers: ['book gap: update id 9 after 7'] };
    expect(statusLines({ ...paused, symbols: [symbol] }, new Date())[0]).toMatch(/paused: book gap: update id 9 after 7$/);
    const frozen = statusLines({ ...paused, symbols: [symbol], frozen: { reason: 'drawdown', detail: 'net PnL -600', at: 0 } }, new Date())[0];
    expect(frozen).toMatch(/FROZEN \(drawdown: net PnL -600\)$/);
  });
});
