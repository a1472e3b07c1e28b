/** The simulator's documented test keys (sim/simulator.ts DEFAULT_KEYS), for bybit-api clients in tests. */
import { DEFAULT_KEYS } from '../../sim/simulator.js';

function keyOf(apiKey: string): { readonly key: string; readonly secret: string } {
  const found = DEFAULT_KEYS.find((spec) => spec.apiKey === apiKey);
  if (!found) throw new Error(`no default simulator key ${apiKey}`);
  return { key: found.apiKey, secret: found.secret };
}

export const TRADER = keyOf('SIMTRADERKEY0001');
export const READ_ONLY = keyOf('SIMREADONLYKEY01');
export const MASTER = keyOf('SIMMASTERKEY0001');
