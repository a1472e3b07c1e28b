/**
 * The private stream (order, execution, position and wallet topics, plus dcp.future so that Bybit's
 * disconnect-cancel counts this connection) and its REST backfill.
 *
 * Bybit does not replay private messages after a reconnect (sim/reference/bybit-v5-websocket.md §7), so
 * after every reconnect, and once at start, the stream is backfilled over REST: executions since the
 * newest one seen (with an overlap: the consumer applies each execId once) from /v5/execution/list, page
 * by page, then the open and recently closed orders from /v5/order/realtime, then the wallet from
 * /v5/account/wallet-balance (the wallet topic sends no snapshot on subscribe, §5.6). Until the backfill
 * is done the listener is told the stream is unsynced, and the engine does not trust its positions.
 *
 * A new trading key moves the stream to a new client make-before-break (replaceClient): the new socket is
 * authenticated and subscribed while the old one still delivers, then the old one is closed. Both deliver
 * meanwhile; the consumer applies each execId once, and an order report it already has changes nothing.
 */
import type { RestClientV5, WebsocketClient } from 'bybit-api';
import { closeForGood } from './close-socket.js';
import { type BybitExecution, BybitMessageError, type BybitOrder, type BybitPosition, type BybitWallet, parseExecution, parseOrder, parsePosition, parseWallet } from './messages.js';

export interface PrivateStreamListener {
  onOrder(order: BybitOrder): void;
  onExecution(execution: BybitExecution): void;
  /** The venue's position after a change: a cross-check of the positions built from executions. */
  onPosition(position: BybitPosition): void;
  /** The account's balances and margin after a change. */
  onWallet(wallet: BybitWallet): void;
  /** The stream may have missed messages (a reconnect): positions are not to be trusted yet. */
  onUnsynced(reason: string): void;
  /** Backfill done: everything up to now has been delivered at least once. */
  onSynced(executionsBackfilled: number): void;
  /** A message that failed validation; dropped, and counted by the caller. */
  onMalformed(detail: string): void;
}

export interface PrivateStreamOptions {
  readonly client: WebsocketClient;
  readonly rest: RestClientV5;
  readonly symbols: readonly string[];
  readonly clock: () => number;
  readonly listener: PrivateStreamListener;
  /** How far back the first backfill reaches, ms (Bybit serves at most 7 days). */
  readonly initialLookbackMs: number;
  /** Overlap with the newest execution seen, ms: clocks and ordering are not exact. */
  readonly overlapMs?: number;
}

/** dcp.future makes Bybit's disconnect-cancel count this connection (docs/v5/websocket/private/dcp.mdx). */
const TOPICS = ['order', 'execution', 'position', 'wallet', 'dcp.future'];

export class PrivateStreamError extends Error {
  override readonly name = 'PrivateStreamError';
}

export class PrivateStream {
  /** Per symbol: the newest execTime delivered, and the end of the last backfill that completed. */
  private readonly newestExecTime = new Map<string, number>();
  private readonly backfilledUntil = new Map<string, number>();
  private backfilling: Promise<void> | undefined;
  private resumeFrom: ReadonlyMap<string, number> = new Map();
  /** The connection in use: the options' one until a new key replaces it. */
  private client: WebsocketClient;

  constructor(private readonly options: PrivateStreamOptions) {
    this.client = options.client;
  }

  /** Where the first backfill of each symbol starts, as the stored state says (a restart); else initialLookbackMs back. */
  resumeAt(points: ReadonlyMap<string, number>): void {
    this.resumeFrom = points;
  }

  async start(): Promise<void> {
    this.listen(this.client);
    void this.client.subscribeV5(TOPICS, 'linear');
    await this.backfill();
  }

  /**
   * Moves the stream to `next` (a client with a new key), make-before-break: resolves once the new socket
   * is authenticated and subscribed, dcp.future included (so disconnect-cancel never finds us gone), and
   * the old client is closed. When the new socket is refused or not subscribed within `timeoutMs`, it is
   * closed, the old one stays in use, and this throws. No backfill here: the caller runs a quiet
   * backfill() once REST uses the new key too, to cover anything the old socket did not deliver (a revoked
   * key's socket goes silent).
   */
  async replaceClient(next: WebsocketClient, timeoutMs: number): Promise<void> {
    this.listen(next);
    try {
      await subscribed(next, timeoutMs);
    } catch (error) {
      next.removeAllListeners();
      closeForGood(next);
      throw error;
    }
    const previous = this.client;
    this.client = next;
    // Its listeners go first: a late message of the old socket is not delivered after the switch.
    previous.removeAllListeners();
    closeForGood(previous);
  }

  /** Closes the connection in use (at stop). */
  close(): void {
    closeForGood(this.client);
  }

  private listen(client: WebsocketClient): void {
    const { listener } = this.options;
    client.on('update', (message: unknown) => {
      this.onMessage(message);
    });
    client.on('reconnected', () => {
      listener.onUnsynced('the private connection was re-established');
      // A failed backfill leaves the stream unsynced; the engine's reconciliation calls backfill() again.
      this.backfill().catch((error: unknown) => {
        listener.onUnsynced(`backfill failed: ${error instanceof Error ? error.message : 'unknown error'}`);
      });
    });
  }

  private onMessage(message: unknown): void {
    if (typeof message !== 'object' || message === null) return;
    const { topic, data } = message as { topic?: unknown; data?: unknown };
    if ((topic !== 'order' && topic !== 'execution' && topic !== 'position' && topic !== 'wallet') || !Array.isArray(data)) return;
    for (const item of data) this.deliver(topic, item);
  }

  private deliver(kind: 'order' | 'execution' | 'position' | 'wallet', item: unknown): void {
    const { listener } = this.options;
    try {
      if (kind === 'order') listener.onOrder(parseOrder(item));
      else if (kind === 'position') listener.onPosition(parsePosition(item));
      else if (kind === 'wallet') listener.onWallet(parseWallet(item));
      else {
        const execution = parseExecution(item);
        this.newestExecTime.set(execution.symbol, Math.max(this.newestExecTime.get(execution.symbol) ?? 0, execution.execTime));
        listener.onExecution(execution);
      }
    } catch (error) {
      if (!(error instanceof BybitMessageError)) throw error;
      listener.onMalformed(error.message);
    }
  }

  /**
   * Runs one backfill at a time; a reconnect during a backfill waits for it, then backfills again. A
   * `quiet` one does not tell onSynced: the stream was never unsynced (a key swap's overlap), and the
   * consumer has nothing to redo (the engine would reconcile, and hold back quotes while it does).
   */
  backfill(quiet = false): Promise<void> {
    const run = async (): Promise<void> => {
      let delivered = 0;
      const now = this.options.clock();
      for (const symbol of this.options.symbols) {
        delivered += await this.backfillExecutions(symbol, this.backfillStart(symbol, now), now);
        this.backfilledUntil.set(symbol, now);
        await this.backfillOrders(symbol);
      }
      await this.backfillWallet();
      if (!quiet) this.options.listener.onSynced(delivered);
    };
    const previous = this.backfilling ?? Promise.resolve();
    const next = previous.then(run, run);
    this.backfilling = next.finally(() => {
      if (this.backfilling === next) this.backfilling = undefined;
    });
    return next;
  }

  /**
   * Where a symbol's backfill starts. The first one reaches back to the stored state's resume point (or
   * initialLookbackMs), whatever the stream delivered meanwhile: a message of the new connection says
   * nothing of what the gap before it missed. Later ones start from where both the last backfill and the
   * stream got to, less an overlap (clocks and ordering are not exact; each execId is applied once).
   */
  private backfillStart(symbol: string, now: number): number {
    const until = this.backfilledUntil.get(symbol);
    if (until === undefined) return this.resumeFrom.get(symbol) ?? now - this.options.initialLookbackMs;
    return Math.max(until, this.newestExecTime.get(symbol) ?? 0) - (this.options.overlapMs ?? 5_000);
  }

  private async backfillExecutions(symbol: string, startTime: number, endTime: number): Promise<number> {
    const items = await this.executionPages(symbol, startTime, endTime);
    for (const item of items) this.deliver('execution', item);
    return items.length;
  }

  /**
   * The execIds of the symbol's executions in [startTime, endTime] (all pages): at a restart, the store is
   * asked which of them its positions count already. Malformed items are reported, and skipped.
   */
  async recentExecutions(symbol: string, startTime: number, endTime: number): Promise<{ execId: string; orderLinkId: string; side: 'Buy' | 'Sell' | '' }[]> {
    const ids: { execId: string; orderLinkId: string; side: 'Buy' | 'Sell' | '' }[] = [];
    for (const item of await this.executionPages(symbol, startTime, endTime)) {
      try {
        const execution = parseExecution(item);
        ids.push({ execId: execution.execId, orderLinkId: execution.orderLinkId, side: execution.side });
      } catch (error) {
        if (!(error instanceof BybitMessageError)) throw error;
        this.options.listener.onMalformed(error.message);
      }
    }
    return ids;
  }

  /** Executions of /v5/execution/list, oldest first. */
  private async executionPages(symbol: string, startTime: number, endTime: number): Promise<unknown[]> {
    let cursor: string | undefined;
    const pages: unknown[][] = [];
    do {
      const response = await this.options.rest.getExecutionList({ category: 'linear', symbol, startTime, endTime, limit: 100, ...(cursor && { cursor }) });
      if (response.retCode !== 0) throw new Error(`execution backfill for ${symbol} failed: ${response.retCode} ${response.retMsg}`);
      pages.push(response.result.list);
      cursor = response.result.nextPageCursor || undefined;
    } while (cursor);
    // Pages and lists are newest first; oldest first is the order the stream would have delivered.
    return pages.flat().reverse();
  }

  /**
   * Open orders, and the recently closed ones (Bybit keeps the last 500): an order that finished while the
   * connection was down must reach its final state too. What the consumer already knows changes nothing.
   */
  private async backfillOrders(symbol: string): Promise<void> {
    await this.backfillOrderList(symbol, 0);
    await this.backfillOrderList(symbol, 1);
  }

  private async backfillWallet(): Promise<void> {
    const response = await this.options.rest.getWalletBalance({ accountType: 'UNIFIED' });
    if (response.retCode !== 0) throw new Error(`wallet read failed: ${response.retCode} ${response.retMsg}`);
    for (const item of response.result.list) this.deliver('wallet', item);
  }

  private async backfillOrderList(symbol: string, openOnly: 0 | 1): Promise<void> {
    let cursor: string | undefined;
    do {
      const response = await this.options.rest.getActiveOrders({ category: 'linear', symbol, openOnly, limit: 50, ...(cursor && { cursor }) });
      if (response.retCode !== 0) throw new Error(`order backfill for ${symbol} failed: ${response.retCode} ${response.retMsg}`);
      for (const item of response.result.list) this.deliver('order', item);
      cursor = response.result.nextPageCursor || undefined;
    } while (cursor);
  }
}

/**
 * Subscribes the stream's topics on `client` and resolves on the venue's subscribe acknowledgement, which
 * comes only after a successful auth (bybit-api holds private topics back until then). A refused auth or
 * subscribe rejects at once (bybit-api would otherwise wait for ever: it never settles a failed auth).
 */
function subscribed(client: WebsocketClient, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      client.off('response', onResponse);
      client.off('exception', onException);
      if (error) reject(error);
      else resolve();
    };
    const onResponse = (event: unknown): void => {
      if (isAck(event, 'subscribe') && event.success === true) finish();
    };
    const onException = (event: unknown): void => {
      // Only the venue's refusal text: no frame of ours, which would carry the key.
      if (isAck(event, 'auth') || isAck(event, 'subscribe')) finish(new PrivateStreamError(`the private socket refused ${event.op}: ${typeof event.ret_msg === 'string' ? event.ret_msg.slice(0, 200) : 'no reason given'}`));
    };
    const timer = setTimeout(() => {
      finish(new PrivateStreamError(`the private socket was not authenticated and subscribed within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('response', onResponse);
    client.on('exception', onException);
    void client.subscribeV5(TOPICS, 'linear');
  });
}

function isAck(event: unknown, op: string): event is { op: string; success?: unknown; ret_msg?: unknown } {
  return typeof event === 'object' && event !== null && (event as { op?: unknown }).op === op;
}
