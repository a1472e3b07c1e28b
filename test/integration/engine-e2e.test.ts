/**
 * The engine end to end: credentials from Secrets Manager (the emulator), the real bybit-api clients
 * against the simulator with a moving market. It quotes post-only on both sides, the simulator's taker
 * flow fills it, and after a graceful stop its positions, fees, rebates and trading PnL equal what the
 * venue reports, to the last unit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RestClientV5 } from 'bybit-api';
import { type EngineProcess, secretsManagerCredentials, startEngineProcess } from '../../src/app/engine-process.js';
import { type Decimal, ZERO, dec } from '../../src/core/decimal.js';
import { realisedPnl, unrealisedPnl } from '../../src/core/position.js';
import { type Simulator, startSimulator } from '../../sim/simulator.js';
import { useProvisionedStage } from '../support/aws.js';
import { eventually, storeTraderKey, testConfig, venueExecutions, venueOpenOrders, venueOrderHistory } from '../support/engine.js';
import { BTCUSDT, ETHUSDT } from '../support/instruments.js';
import { TRADER } from '../support/sim.js';

const aws = useProvisionedStage();
let sim: Simulator;
let rest: RestClientV5;
let engine: EngineProcess | undefined;
const logs: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 5, market: { autoStart: true } });
  rest = new RestClientV5({ ...TRADER, baseUrl: sim.restUrl });
  await storeTraderKey(aws.clients.secrets, aws.stage.names.secrets.tradingKey);
});

afterAll(async () => {
  await engine?.stop('test over');
  await sim.close();
});

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'] as const;
const INSTRUMENTS = { BTCUSDT, ETHUSDT };

describe('engine on the simulator', () => {
  it('quotes post-only on both sides, is filled by taker flow, and matches the venue to the unit', async () => {
    const config = testConfig(sim, aws.stage.names.secrets.tradingKey, 'e2e');
    engine = await startEngineProcess({ config, credentials: secretsManagerCredentials(config, aws.clients.secrets), logSink: (line) => logs.push(line) });
    const running = engine;

    // Ready once connected and reconciled; quoting both sides of both books.
    await eventually('ready', () => (running.engine.ready().ready ? true : undefined));
    await eventually('two-sided quotes', () => {
      const symbols = running.engine.status().symbols;
      return symbols.every((symbol) => symbol.ourBid !== undefined && symbol.ourAsk !== undefined) ? true : undefined;
    });
    // Filled on both sides of BTCUSDT by the simulator's takers.
    await eventually(
      'fills on both sides',
      async () => {
        const sides = new Set((await venueExecutions(rest, 'BTCUSDT')).map((execution) => execution.side));
        return sides.has('Buy') && sides.has('Sell') ? true : undefined;
      },
      40_000,
    );

    const report = await running.stop('test');
    expect(report.clean).toBe(true);
    for (const symbol of SYMBOLS) expect(await venueOpenOrders(rest, symbol)).toEqual([]);

    for (const symbol of SYMBOLS) {
      const executions = await venueExecutions(rest, symbol);
      const orders = await venueOrderHistory(rest, symbol);
      // Every order the engine sent was post-only, and so every fill was a maker fill.
      expect(orders.length).toBeGreaterThan(0);
      for (const order of orders) {
        expect(order.timeInForce).toBe('PostOnly');
        expect(order.orderLinkId).toMatch(/^e2e-[0-9a-z]+-[0-9a-z]+$/);
      }
      expect(new Set(orders.map((order) => order.orderLinkId)).size).toBe(orders.length);
      for (const execution of executions) expect(execution.isMaker).toBe(true);

      const position = running.engine.tracker.position(symbol);
      const setup = INSTRUMENTS[symbol];
      // Size: the venue's position and the sum of its executions.
      const venuePosition = (await rest.getPositionInfo({ category: 'linear', symbol })).result.list[0];
      const signedVenueQty = venuePosition && venuePosition.side !== '' ? dec(venuePosition.size).times(dec(venuePosition.side === 'Buy' ? '1' : '-1')) : ZERO;
      expect(dec(position.sizeLots).times(setup.qtyStep).toFixed()).toBe(signedVenueQty.toFixed());
      // Fees and rebates: the sum of the venue's execFee, exactly.
      const venueFees = executions.reduce((total: Decimal, execution) => total.plus(dec(execution.execFee)), ZERO);
      expect(position.feesPaid.minus(position.rebatesEarned).toFixed()).toBe(venueFees.toFixed());
      expect(position.rebatesEarned.gt(ZERO)).toBe(executions.length > 0);
      expect(position.tradeCount).toBe(executions.length);
      // Trading PnL at any mark: realised + unrealised equals the mark-to-market of the venue's fills.
      const mark = dec('3000.5');
      const venueTrading = executions.reduce((total: Decimal, execution) => {
        const sign = dec(execution.side === 'Buy' ? '1' : '-1');
        return total.plus(sign.times(dec(execution.execQty)).times(mark.minus(dec(execution.execPrice))));
      }, ZERO);
      expect(realisedPnl(position, setup).plus(unrealisedPnl(position, setup, mark)).toFixed()).toBe(venueTrading.toFixed());
    }

    // Nothing secret was logged, and no error either.
    const joined = logs.join('\n');
    expect(joined).not.toContain(TRADER.secret);
    expect(logs.filter((line) => line.includes('"level":"ERROR"'))).toEqual([]);
    // The venue's position stream never disagreed with the positions built from executions for long.
    expect(logs.filter((line) => line.includes('position differs'))).toEqual([]);
  }, 90_000);
});
