/**
 * The engine's link to the control plane: it applies the control state (freezes) to the engine, writes
 * the engine's own freezes to it, and sends the heartbeat.
 *
 * - The control state is read (consistently) when the control queue wakes it, every `pollIntervalMs`
 *   as the fallback, and once before the engine starts, so an engine that starts frozen stays frozen.
 *   Reads are serialised; a read already waiting serves every wake-up that comes meanwhile.
 * - A pause lifts itself at its resume time: the last state read is looked at again every second.
 * - A freeze of the engine's own (edge collapse, drawdown) becomes a hard freeze of the shard's symbols in
 *   the control state, so operators see it and lift it like any other.
 * - The heartbeat goes to the control table (fenced by epoch: a newer generation's heartbeat there means
 *   this one lost the shard) and to the bus. It names the trading key in use (keyId), so the rotation
 *   knows when no engine uses an old key any more.
 */
import { type ControlState, INITIAL_CONTROL_STATE, controlEvent, decideFreeze, effectiveFreeze, isFreezeReasonCode, isSymbolFrozen } from '../core/control.js';
import type { EngineHeartbeatV1, FreezeReasonCode } from '../core/events.js';
import type { ControlView, Engine, EngineStatus } from '../engine/engine.js';
import type { ControlStore } from '../ports/control.js';
import type { Logger } from '../ports/logger.js';
import type { BusEvent, EventPublisher } from '../ports/state-store.js';

export interface HeartbeatWriter {
  put(heartbeat: EngineHeartbeatV1): Promise<'written' | 'stale'>;
}

export interface ControlLinkOptions {
  readonly engine: Engine;
  readonly shard: string;
  readonly epoch: number;
  readonly symbols: readonly string[];
  /** The keyId of the trading key in use, for the heartbeat: the rotation revokes an old key once no engine reports it. */
  readonly keyId?: () => string;
  readonly store: ControlStore;
  readonly heartbeats: HeartbeatWriter;
  readonly publisher: EventPublisher;
  readonly pollIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly clock: () => number;
  readonly logger: Logger;
  /** A newer generation's heartbeat is stored: this one lost the shard. */
  readonly onSuperseded: (detail: string) => void;
}

/** Tries of a self-freeze write before it is left to the next one (the engine is frozen locally meanwhile). */
const SELF_FREEZE_ATTEMPTS = 3;
const EXPIRY_CHECK_MS = 1_000;

export class ControlLink {
  private state: ControlState = INITIAL_CONTROL_STATE;
  private reading: Promise<void> | undefined;
  private readonly pending = { again: false };
  private readonly timers: NodeJS.Timeout[] = [];
  private lastView = '';
  reads = 0;

  constructor(private readonly options: ControlLinkOptions) {}

  /** The control state last read. */
  current(): ControlState {
    return this.state;
  }

  /** Whether a wake-up came during the last read (a method: the linter cannot see the flag flip across the await). */
  private readAgain(): boolean {
    return this.pending.again;
  }

  /** Reads the control state and applies it; concurrent calls share one read, and a call during a read gets another after it. */
  refresh(): Promise<void> {
    if (this.reading) {
      this.pending.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.pending.again = false;
          this.state = await this.options.store.read();
          this.reads += 1;
          this.apply();
        } while (this.readAgain());
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private view(now: number): ControlView {
    const frozenSymbols = this.options.symbols.filter((symbol) => isSymbolFrozen(this.state, symbol, now));
    const freeze = effectiveFreeze(this.state, now);
    return { version: this.state.version, frozenSymbols, reason: freeze && `${freeze.mode} ${freeze.reason.code}: ${freeze.reason.message} (${freeze.actor})` };
  }

  /** Applies the state to the engine when what it means here changed (a read, or a pause that ran out). */
  private apply(): void {
    const view = this.view(this.options.clock());
    const key = JSON.stringify(view);
    if (key === this.lastView) return;
    this.lastView = key;
    this.options.engine.applyControl(view);
  }

  start(): void {
    const { logger, pollIntervalMs, heartbeatIntervalMs } = this.options;
    this.timers.push(
      setInterval(() => {
        this.refresh().catch((error: unknown) => {
          logger.warn('reading the control state failed; trying again', { error: describe(error) });
        });
      }, pollIntervalMs),
      setInterval(() => {
        this.apply();
      }, EXPIRY_CHECK_MS),
      setInterval(() => {
        void this.beat();
      }, heartbeatIntervalMs),
    );
    void this.beat();
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }

  /** The heartbeat of now, from the engine's status. */
  heartbeat(status: EngineStatus, sentAt: number): EngineHeartbeatV1 {
    const { shard, epoch } = this.options;
    const keyId = this.options.keyId?.();
    return {
      schemaVersion: 1,
      eventId: `heartbeat:${shard}:${epoch}:${sentAt}`,
      shard,
      epoch,
      sentAt,
      phase: status.phase === 'created' ? 'starting' : status.phase,
      frozen: status.frozen !== undefined || status.control.frozenSymbols.length > 0,
      symbols: status.symbols.map((symbol) => ({
        symbol: symbol.symbol,
        quoting: symbol.quoting,
        blockers: symbol.blockers.slice(0, 20).map((blocker) => blocker.slice(0, 300)),
        openOrders: symbol.openOrders,
        position: symbol.position.toFixed(),
      })),
      ...(keyId !== undefined && { keyId }),
    };
  }

  /** Sends one heartbeat; failures are logged (the risk evaluator notices a missing one). */
  async beat(): Promise<void> {
    const { engine, heartbeats, publisher, logger, clock } = this.options;
    const sentAt = clock();
    const heartbeat = this.heartbeat(engine.status(), sentAt);
    try {
      if ((await heartbeats.put(heartbeat)) === 'stale') {
        this.options.onSuperseded('a newer generation\'s heartbeat is stored for this shard');
        return;
      }
      const event: BusEvent = { detailType: 'EngineHeartbeat', detail: heartbeat, time: sentAt };
      const refused = await publisher.publish([event]);
      if (refused.length > 0) logger.warn('the bus refused the heartbeat event');
    } catch (error) {
      logger.warn('heartbeat failed', { error: describe(error) });
    }
  }

  /** Writes the engine's own freeze as a hard freeze of the shard's symbols, with its event. */
  async selfFreeze(reason: string, detail: string): Promise<void> {
    const { store, publisher, logger, clock, shard, epoch, symbols } = this.options;
    const code: FreezeReasonCode = isFreezeReasonCode(reason) ? reason : 'edge-collapse';
    for (let attempt = 1; attempt <= SELF_FREEZE_ATTEMPTS; attempt++) {
      try {
        const state = await store.read();
        const decision = decideFreeze(state, { mode: 'hard', symbols, reason: { code, message: detail.slice(0, 500) }, actor: `engine:${shard}:${epoch}` }, clock());
        if (decision.kind !== 'change') {
          logger.info('self-freeze already covered by the control state', { why: decision.why });
          return;
        }
        const committed = await store.commit(decision.change);
        if (!committed.ok) continue;
        const event = controlEvent(decision.change);
        await publisher.publish([{ detailType: event.detailType, detail: event.detail, time: decision.change.at }]);
        logger.warn('self-freeze written to the control state', { version: decision.change.after.version, code });
        await this.refresh();
        return;
      } catch (error) {
        logger.warn('writing the self-freeze failed', { attempt, error: describe(error) });
      }
    }
    logger.error('the self-freeze could not be written to the control state; the engine stays frozen locally');
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
}
