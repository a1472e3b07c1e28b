/**
 * Busy polling for the engine's event loop (`engine.busyPoll`): a callback re-queued with setImmediate
 * keeps the loop turning, so it polls for I/O without blocking instead of sleeping in the kernel between
 * messages. A message then arrives to a thread whose code and data are still in the CPU's caches, and to
 * a vCPU that need not be woken; timers and I/O are served on every turn as before. The cost is one vCPU
 * at 100% (size the task, and read its CPU metric, accordingly).
 */
export interface BusyPoll {
  /** Turns of the loop so far. */
  readonly turns: number;
  stop(): void;
}

export function startBusyPoll(): BusyPoll {
  const state = { turns: 0, running: true };
  const turn = (): void => {
    if (!state.running) return;
    state.turns += 1;
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
