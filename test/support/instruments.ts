/** Instruments-info list items as Bybit documents them (docs/v5/market/instrument.mdx, linear example). */
import { type Instrument, parseLinearInstrument } from '../../src/core/instrument.js';

export const BTCUSDT_RAW = {
  symbol: 'BTCUSDT',
  contractType: 'LinearPerpetual',
  status: 'Trading',
  baseCoin: 'BTC',
  quoteCoin: 'USDT',
  launchTime: '1585526400000',
  deliveryTime: '0',
  deliveryFeeRate: '',
  priceScale: '2',
  leverageFilter: { minLeverage: '1', maxLeverage: '100.00', leverageStep: '0.01' },
  priceFilter: { minPrice: '0.10', maxPrice: '1999999.80', tickSize: '0.10' },
  lotSizeFilter: {
    maxOrderQty: '1190.000',
    minOrderQty: '0.001',
    qtyStep: '0.001',
    postOnlyMaxOrderQty: '1190.000',
    maxMktOrderQty: '500.000',
    minNotionalValue: '5',
  },
  unifiedMarginTrade: true,
  fundingInterval: 480,
  settleCoin: 'USDT',
  copyTrading: 'both',
  upperFundingRate: '0.00375',
  lowerFundingRate: '-0.00375',
  isPreListing: false,
  preListingInfo: null,
  riskParameters: { priceLimitRatioX: '0.01', priceLimitRatioY: '0.02' },
  symbolType: '',
} as const;

/** A low-priced contract with whole-number lots (docs example BIOUSDT). */
export const BIOUSDT_RAW = {
  ...BTCUSDT_RAW,
  symbol: 'BIOUSDT',
  baseCoin: 'BIO',
  priceScale: '4',
  priceFilter: { minPrice: '0.0001', maxPrice: '1999.9998', tickSize: '0.0001' },
  lotSizeFilter: { maxOrderQty: '70000', minOrderQty: '1', qtyStep: '1', postOnlyMaxOrderQty: '70000', maxMktOrderQty: '14000', minNotionalValue: '5' },
} as const;

export const BTCUSDT: Instrument = parseLinearInstrument(BTCUSDT_RAW);
export const BIOUSDT: Instrument = parseLinearInstrument(BIOUSDT_RAW);
