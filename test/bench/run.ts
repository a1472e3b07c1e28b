/**
 * `npm run bench`: performance figures of this machine. Printed, never asserted in tests.
 * The engine loop runs first, so that the resident memory it reports is the engine's, not that of the
 * benchmarks before it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchBundles, formatBundles } from './bundles.js';
import { ensureMotoVenv, startMoto } from '../../src/local/moto.js';
import { createAwsClients, destroyAwsClients, provisionStage } from '../../src/local/provision.js';
import { benchCore } from './core.js';
import { benchDecision, formatLatency } from './engine.js';
import { benchMachineFloor } from './floor.js';
import { benchFreezeLatency, formatTrialLatency } from './freeze.js';
import { benchRotation } from './rotation.js';
import { type SoakResult, benchEngineCapacity, benchEngineLoop } from './loop.js';
import { formatResult, machineLine } from './measure.js';
import { benchMatching, benchReplay, benchRest } from './sim.js';

/** Runs a script in its own process to its end; resolves with what it printed. */
function runScript(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr = (output.stderr + chunk.toString('utf8')).slice(-4_000)));
  return new Promise((resolve) => child.on('exit', () => resolve(output)));
}

console.log(machineLine());
// The Lambda bundles' sizes and cold-start proxies need no emulator: alone with `npm run bench -- bundles`,
// else last.
if (process.argv.includes('bundles')) {
  for (const line of formatBundles(await benchBundles())) console.log(line);
  process.exit(0);
}
// The AWS emulator, for the runs with state and events on.
const motoServer = await ensureMotoVenv({ venvDir: fileURLToPath(new URL('../../.venv', import.meta.url)), log: (line) => console.error(`[moto] ${line}`) });
const moto = await startMoto({ motoServer });
const clients = createAwsClients({ endpoint: moto.endpoint, region: 'ap-southeast-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
// Freeze latency (the control plane, on the local stack): after the engine loop (whose memory figure is
// this process's), or alone with `npm run bench -- freeze`.
const freezeTrials = Number(process.env.MMRB_BENCH_FREEZE_TRIALS ?? '100');
const benchFreeze = async () => {
  for (const result of await benchFreezeLatency(clients, moto.endpoint, freezeTrials)) console.log(formatTrialLatency(result));
};
if (process.argv.includes('freeze')) {
  await benchFreeze();
  destroyAwsClients(clients);
  await moto.stop();
  process.exit(0);
}
// The trading key's rotation with the engine trading: after the freeze latency, or alone with `npm run bench -- rotation`.
const rotationTrials = Number(process.env.MMRB_BENCH_ROTATION_TRIALS ?? '10');
const benchKeyRotation = async () => {
  const result = await benchRotation(clients, moto.endpoint, rotationTrials);
  for (const latency of result.latencies) console.log(formatTrialLatency(latency));
  console.log(`${'key rotation: requests refused for their key / quoting gaps'.padEnd(58)} ${`${result.keyRefusals.toString()} / ${result.quotingGaps.toString()}`.padStart(12)}  (status sampled every 10 ms)`);
  for (const [reason, count] of result.gapReasons) console.log(`${'  blocker seen'.padEnd(58)} ${count.toString().padStart(12)}  ${reason}`);
};
if (process.argv.includes('rotation')) {
  await benchKeyRotation();
  destroyAwsClients(clients);
  await moto.stop();
  process.exit(0);
}
const { names } = await provisionStage(clients, `bench${Date.now().toString(36)}`);

const loop = await benchEngineLoop();
console.log(formatLatency(loop.latency));
console.log(formatLatency(loop.written));
console.log(`${'engine loop: frames that waited for the rate limiter (left out)'.padEnd(58)} ${String(loop.held).padStart(12)}`);
console.log(formatResult(loop.capacity));
console.log(`${'engine loop: time in the engine per book update (mean)'.padEnd(58)} ${loop.onBookUs.toFixed(1).padStart(12)} us`);
console.log(`${'engine loop: live book messages handled'.padEnd(58)} ${Math.round(loop.liveRate).toLocaleString('en-US').padStart(12)} /s  (p99 lag behind the venue ${loop.backlogP99Ms} ms)`);
console.log(`${'engine loop: resident memory (engine process)'.padEnd(58)} ${loop.rssMb.toFixed(0).padStart(12)} MB`);
// The same loop with state in DynamoDB and events on EventBridge (the emulator): written behind the loop.
const persisted = await benchEngineLoop(20_000, false, { clients, stage: names.stage });
console.log(formatLatency(persisted.latency));
console.log(formatLatency(persisted.written));
const writes = persisted.stateWrites;
if (writes) console.log(`${'engine loop (state and events on): items written'.padEnd(58)} ${String(writes.written.orders + writes.written.fills + writes.written.positions).padStart(12)}  (orders ${writes.written.orders}, fills ${writes.written.fills}, positions ${writes.written.positions}; events ${writes.written.events}; waiting at the end ${writes.pendingOrders + writes.pendingFills + writes.pendingEvents})`);
// An hour of live book messages, accelerated (about nine minutes here), with state and events on: memory over time.
const soakMs = Number(process.env.MMRB_BENCH_SOAK_MS ?? String(15 * 60_000));
// Not spawnSync: this process must keep reading the emulator's output meanwhile, or the emulator stalls.
const soakRun = await runScript(['test/bench/soak.ts', moto.endpoint, names.stage, String(soakMs)]);
const soakLine = /^SOAK (.*)$/m.exec(soakRun.stdout)?.[1];
if (soakLine) {
  const soak = JSON.parse(soakLine) as SoakResult;
  const rss = soak.rssMb;
  console.log(`${'engine soak: book messages (hours of live Bybit rate)'.padEnd(58)} ${soak.bookMessages.toLocaleString('en-US').padStart(12)}  (${soak.liveHours.toFixed(2)} h in ${soak.minutes.toFixed(1)} min; ${soak.ordersSent.toLocaleString('en-US')} order requests, ${soak.fills} fills)`);
  console.log(`${'engine soak: resident memory first / last / max'.padEnd(58)} ${`${(rss[0] ?? 0).toFixed(0)} / ${(rss[rss.length - 1] ?? 0).toFixed(0)} / ${Math.max(...rss).toFixed(0)}`.padStart(12)} MB  (second-half slope ${soak.slopeSecondHalfMbPerMin.toFixed(2)} MB/min)`);
} else console.log(`engine soak: failed\n${soakRun.stderr.slice(-2_000)}`);
await benchFreeze();
await benchKeyRotation();
destroyAwsClients(clients);
await moto.stop();
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
for (const line of formatBundles(await benchBundles())) console.log(line);
