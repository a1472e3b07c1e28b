/**
 * `npm run bench`: performance figures of this machine. Printed, never asserted in tests.
 */
import { benchCore } from './core.js';
import { benchDecision, formatLatency } from './engine.js';
import { formatResult, machineLine } from './measure.js';
import { benchMatching, benchReplay, benchRest } from './sim.js';

console.log(machineLine());
for (const result of benchCore()) console.log(formatResult(result));
console.log(formatResult(benchMatching()));
console.log(formatResult(await benchRest()));
for (const result of await benchReplay()) console.log(formatResult(result));
const decision = benchDecision();
console.log(formatLatency(decision.latency));
console.log(formatResult(decision.throughput));
