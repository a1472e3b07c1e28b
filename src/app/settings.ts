/**
 * From the configuration (decimal strings in the venue's units) to the engine's settings (integer lots
 * and ticks, exact decimals), given each symbol's instrument and the account's maker fee rate. Pure.
 *
 * Sizes are rounded down to the lot: an order is never bigger than configured, and a position limit never
 * looser. A size that rounds to nothing is a configuration error naming the setting.
 */
import type { EngineConfig } from '../config/config.js';
import { type Decimal, dec, roundedMultiple } from '../core/decimal.js';
import type { Instrument } from '../core/instrument.js';
import { lots } from '../core/units.js';
import { riskLimits } from '../core/risk.js';
import type { EngineSettings, SymbolSetup } from '../engine/engine.js';

const BPS = dec('10000');

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function lotsOf(instrument: Instrument, qty: Decimal, path: string): number {
  const count = roundedMultiple(qty, instrument.qtyStep, 'down');
  if (count <= 0n) throw new SettingsError(`${path} = ${qty.toFixed()} is less than one lot (${instrument.qtyStep.toFixed()}) of ${instrument.symbol}`);
  return Number(count);
}

/** Model parameters (spreads in bps) are floats by design: they shape quotes, they are not money. */
function modelNumber(value: string): number {
  return Number(value);
}

export function symbolSetup(config: EngineConfig, symbol: string, instrument: Instrument, makerFeeRate: Decimal): SymbolSetup {
  const settings = config.symbols[symbol];
  if (!settings) throw new SettingsError(`no settings for ${symbol}`);
  const path = `symbols.${symbol}`;
  const orderLots = lotsOf(instrument, dec(settings.orderQty), `${path}.orderQty`);
  const maxPositionLots = lotsOf(instrument, dec(settings.maxPosition), `${path}.maxPosition`);
  const maxOrderLots = lotsOf(instrument, dec(settings.orderQty).times(dec(config.risk.maxOrderQtyMultiple)), `${path}.orderQty x risk.maxOrderQtyMultiple`);
  return {
    instrument,
    quote: {
      levels: settings.levels,
      levelSpacingBps: modelNumber(settings.levelSpacingBps),
      minEdgeBps: modelNumber(settings.minEdgeBps),
      makerFeeBps: modelNumber(makerFeeRate.times(BPS).toFixed()),
      volatilitySpreadMultiplier: modelNumber(settings.volatilitySpreadMultiplier),
      inventorySkewBps: modelNumber(settings.inventorySkewBps),
      orderLots: lots(orderLots),
      maxPositionLots,
    },
    limits: riskLimits(instrument, {
      maxPositionLots,
      maxNotional: dec(settings.maxNotional),
      maxOpenOrders: config.risk.maxOpenOrders,
      maxOrderLots,
      priceBandBps: dec(settings.priceBandBps),
      ordersPerSecond: config.risk.ordersPerSecond,
    }),
    fairValue: settings.fairValue,
    volatilityHalfLifeMs: settings.volatilityHalfLifeMs,
    refreshToleranceTicks: settings.refreshToleranceTicks,
    fastCancelTicks: settings.fastCancelTicks,
    edge: { edgeCollapseBps: dec(config.risk.edgeCollapseBps), windowFills: config.risk.edgeWindowFills, maxDrawdown: dec(config.risk.maxDrawdown) },
    markoutHorizonsMs: [...config.risk.markoutHorizonsMs].sort((a, b) => a - b),
  };
}

/** The symbols this shard quotes: the enabled ones. */
export function enabledSymbols(config: EngineConfig): string[] {
  return Object.entries(config.symbols)
    .filter(([, settings]) => settings.enabled)
    .map(([symbol]) => symbol)
    .sort();
}

export function engineSettings(config: EngineConfig, instruments: ReadonlyMap<string, Instrument>, makerFeeRates: ReadonlyMap<string, Decimal>): EngineSettings {
  const symbols = new Map<string, SymbolSetup>();
  for (const symbol of enabledSymbols(config)) {
    const instrument = instruments.get(symbol);
    const fee = makerFeeRates.get(symbol);
    if (!instrument || !fee) throw new SettingsError(`no instrument or fee rate for ${symbol}`);
    symbols.set(symbol, symbolSetup(config, symbol, instrument, fee));
  }
  return {
    symbols,
    cancelUnknownOrders: config.engine.cancelUnknownOrders,
    dcpWindowSeconds: config.venue.dcpWindowSeconds,
    stopTimeoutMs: config.engine.stopTimeoutMs,
    // recv_window bounds how late the venue still accepts a request; a second more covers clock skew.
    createExpiryMs: config.venue.recvWindowMs + 1_000,
    stuckAfterMs: Math.max(5_000, 2 * config.router.requestTimeoutMs),
    retainClosedMs: 60_000,
  };
}
