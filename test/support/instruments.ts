/** Instruments parsed from the simulator's documented examples. */
import { type Instrument, parseLinearInstrument } from '../../src/core/instrument.js';
import { BIOUSDT_RAW, BTCUSDT_RAW, ETHUSDT_RAW } from '../../sim/config/instruments.js';

export { BIOUSDT_RAW, BTCUSDT_RAW, ETHUSDT_RAW };
export const BTCUSDT: Instrument = parseLinearInstrument(BTCUSDT_RAW);
export const BIOUSDT: Instrument = parseLinearInstrument(BIOUSDT_RAW);
export const ETHUSDT: Instrument = parseLinearInstrument(ETHUSDT_RAW);
