/**
 * Busy polling for the engine's event loop (`engine.busyPoll`): a callback re-queued with setImmediate
 * keeps the loop turning, so it polls for I/O without blocking instead of sleeping in the kernel between
 * messages. A message then arrives to a thread whose code and data are still in the CPU's caches, and to
 * a vCPU that need not be woken; timers and I/O are served on every turn as before. The cost is one vCPU
 * at 100% (size the task, and read its CPU metric, accordingly).
 *
 * Each turn also spins in place for a few microseconds: every setImmediate allocates, and a loop turning a
 * million times a second fills the young generation every few tens of milliseconds, whose collections
 * then land on messages. Spinning ~10 µs a turn makes them ten times rarer, for at most that much delay.
 */
export interface BusyPoll {
  /** Turns of the loop so far. */
  readonly turns: number;
  stop(): void;
}

/** How long each turn spins in place, in milliseconds. */
const SPIN_MS = 0.01;

/** Written by the spin so that the compiler cannot drop it. */
let spinSink = 0;

function spin(iterations: number): void {
  for (let index = 0; index < iterations; index++) spinSink = (spinSink + index) | 0;
}

/** Iterations of `spin` that take about SPIN_MS on this machine, measured once the spin is compiled. */
function calibrate(): number {
  for (let round = 0; round < 50; round++) spin(100_000);
  const iterations = 1_000_000;
  const started = performance.now();
  spin(iterations);
  const took = Math.max(performance.now() - started, 1e-3);
  return Math.max(1, Math.round((iterations * SPIN_MS) / took));
}

export function startBusyPoll(): BusyPoll {
  const state = { turns: 0, running: true };
  const iterations = calibrate();
  const turn = (): void => {
    if (!state.running) return;
    state.turns += 1;
    spin(iterations);
    setImmediate(turn);
  };
  setImmediate(turn);
  return {
    get turns() {
      return state.turns;
    },
    stop() {
      state.running = false;
    },
  };
}
