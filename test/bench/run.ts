/**
 * `npm run bench`: performance figures of this machine. Printed, never asserted in tests.
 * The engine loop runs first, so that the resident memory it reports is the engine's, not that of the
 * benchmarks before it.
 */
import { benchCore } from './core.js';
import { benchDecision, formatLatency } from './engine.js';
import { benchMachineFloor } from './floor.js';
import { benchEngineCapacity, benchEngineLoop } from './loop.js';
import { formatResult, machineLine } from './measure.js';
import { benchMatching, benchReplay, benchRest } from './sim.js';

console.log(machineLine());
const loop = await benchEngineLoop();
console.log(formatLatency(loop.latency));
console.log(formatLatency(loop.written));
console.log(`${'engine loop: frames that waited for the rate limiter (left out)'.padEnd(58)} ${String(loop.held).padStart(12)}`);
console.log(formatResult(loop.capacity));
console.log(`${'engine loop: time in the engine per book update (mean)'.padEnd(58)} ${loop.onBookUs.toFixed(1).padStart(12)} us`);
console.log(`${'engine loop: live book messages handled'.padEnd(58)} ${Math.round(loop.liveRate).toLocaleString('en-US').padStart(12)} /s  (p99 lag behind the venue ${loop.backlogP99Ms} ms)`);
console.log(`${'engine loop: resident memory (engine process)'.padEnd(58)} ${loop.rssMb.toFixed(0).padStart(12)} MB`);
// The same loop with the engine's event loop kept turning (engine.busyPoll): the latency tail without wake-ups.
const polled = await benchEngineLoop(20_000, true);
console.log(formatLatency(polled.latency));
console.log(formatLatency(polled.written));
// What any Node program pays on this machine between a book message and an order frame (no engine at all).
const floor = await benchMachineFloor();
console.log(formatLatency(floor.handed));
console.log(formatLatency(floor.written));
// Book updates one engine sustains: the highest offered rate it handles with a p99 lag under 50 ms.
let sustained = 0;
for (const offered of [20_000, 50_000, 60_000, 70_000]) {
  const capacity = await benchEngineCapacity(offered);
  const keepsUp = capacity.lagP99Ms < 50;
  if (keepsUp) sustained = Math.max(sustained, capacity.handledPerSecond);
  console.log(`${`engine capacity: ${offered.toLocaleString('en-US')}/s offered`.padEnd(58)} ${Math.round(capacity.handledPerSecond).toLocaleString('en-US').padStart(12)} /s handled, p99 lag ${capacity.lagP99Ms} ms${keepsUp ? '' : ' (falling behind)'}`);
  console.log(`${formatLatency(capacity.latency)}; ${capacity.held} frames waited for the rate limiter (left out)`);
}
console.log(`${'engine capacity: book updates per second sustained'.padEnd(58)} ${Math.round(sustained).toLocaleString('en-US').padStart(12)} /s  (p99 lag under 50 ms)`);
for (const result of benchCore()) console.log(formatResult(result));
console.log(formatResult(benchMatching()));
console.log(formatResult(await benchRest()));
for (const result of await benchReplay()) console.log(formatResult(result));
const decision = benchDecision();
console.log(formatLatency(decision.latency));
console.log(formatResult(decision.throughput));
