/**
 * The simulator's default instruments as Bybit's GET /v5/market/instruments-info returns them (category
 * linear). BTCUSDT and BIOUSDT are the examples in bybit-exchange/docs docs/v5/market/instrument.mdx;
 * ETHUSDT follows the same shape with illustrative values.
 */
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

export const ETHUSDT_RAW = {
  ...BTCUSDT_RAW,
  symbol: 'ETHUSDT',
  baseCoin: 'ETH',
  priceFilter: { minPrice: '0.01', maxPrice: '199999.98', tickSize: '0.01' },
  lotSizeFilter: { maxOrderQty: '7240.00', minOrderQty: '0.01', qtyStep: '0.01', postOnlyMaxOrderQty: '7240.00', maxMktOrderQty: '3620.00', minNotionalValue: '5' },
} as const;

export const DEFAULT_INSTRUMENTS_RAW = [BTCUSDT_RAW, ETHUSDT_RAW, BIOUSDT_RAW] as const;
