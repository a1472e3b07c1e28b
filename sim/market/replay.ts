/**
 * Replay of recorded public market data.
 *
 * Format (sim/README.md, "Replay"): JSON Lines, one Bybit public WebSocket message per line, exactly as
 * Bybit sends it: `orderbook.{depth}.{symbol}` snapshots and deltas, and `publicTrade.{symbol}`. Blank lines
 * are skipped. Timing comes from each message's `ts`.
 *
 * Two ways to use a recording:
 * - `RecordedBook` applies the order-book messages to a local book (snapshot resets it, size "0" deletes a
 *   level, `u` must follow on) - the fast path the replay benchmark measures.
 * - `ReplayDriver` makes the venue's market the recorded one: the `flow` account's resting size at each
 *   recorded level is set to the recorded size (so the venue's book is the recording plus our own orders),
 *   and each recorded trade becomes a `flow` IOC taker at the trade's price and size, which fills whatever
 *   rests ahead in the queue there, our quotes included.
 */
import * as z from 'zod';
import { isDecimalString } from '../../src/core/decimal.js';
import { type Instrument, priceToTicks, qtyToLots } from '../../src/core/instrument.js';
import type { Lots, Side, Ticks } from '../../src/core/units.js';
import type { Exchange } from '../exchange/exchange.js';

const level = z.tuple([z.string().refine(isDecimalString), z.string().refine(isDecimalString)]);
const OrderbookMessage = z.object({
  topic: z.string().regex(/^orderbook\.\d+\.[A-Z0-9]+$/),
  type: z.enum(['snapshot', 'delta']),
  ts: z.number().int(),
  data: z.object({ s: z.string(), b: z.array(level), a: z.array(level), u: z.number().int(), seq: z.number().int() }),
});
const TradeMessage = z.object({
  topic: z.string().regex(/^publicTrade\.[A-Z0-9]+$/),
  type: z.literal('snapshot'),
  ts: z.number().int(),
  data: z.array(z.object({ T: z.number().int(), s: z.string(), S: z.enum(['Buy', 'Sell']), v: z.string().refine(isDecimalString), p: z.string().refine(isDecimalString), i: z.string() })),
});
export const RecordedMessage = z.union([OrderbookMessage, TradeMessage]);
export type RecordedMessage = z.infer<typeof RecordedMessage>;
export type RecordedOrderbook = z.infer<typeof OrderbookMessage>;
export type RecordedTrades = z.infer<typeof TradeMessage>;

export class RecordingError extends Error {
  override readonly name = 'RecordingError';
}

/** Parses and validates one line (1-based `lineNumber` for errors); undefined for a blank line. */
export function parseRecordingLine(text: string, lineNumber: number): RecordedMessage | undefined {
  const line = text.trim();
  if (line === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new RecordingError(`line ${lineNumber}: not JSON`);
  }
  const parsed = RecordedMessage.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RecordingError(`line ${lineNumber}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'not a recorded public message'}`);
  }
  return parsed.data;
}

/** Parses and validates a whole recording; an error names the line and the field. */
export function parseRecording(text: string): RecordedMessage[] {
  const messages: RecordedMessage[] = [];
  text.split('\n').forEach((line, index) => {
    const message = parseRecordingLine(line, index + 1);
    if (message) messages.push(message);
  });
  return messages;
}

/**
 * Checks that every price and size of the recording fits the instrument (tick grid, qty step), so that a
 * bad recording fails at load time, naming the message, rather than halfway through a replay.
 */
export function checkRecording(messages: readonly RecordedMessage[], instruments: ReadonlyMap<string, Instrument>): void {
  messages.forEach((message, index) => {
    const symbol = message.topic.split('.').at(-1) ?? '';
    const instrument = instruments.get(symbol);
    if (!instrument) throw new RecordingError(`message ${index + 1}: unknown symbol ${symbol}`);
    try {
      if (isOrderbook(message)) {
        for (const [price, size] of [...message.data.b, ...message.data.a]) {
          priceToTicks(instrument, price);
          qtyToLots(instrument, size);
        }
      } else {
        for (const trade of message.data) {
          priceToTicks(instrument, trade.p);
          qtyToLots(instrument, trade.v);
        }
      }
    } catch (error) {
      throw new RecordingError(`message ${index + 1}: ${(error as Error).message}`);
    }
  });
}

export function isOrderbook(message: RecordedMessage): message is RecordedOrderbook {
  return message.topic.startsWith('orderbook.');
}

/**
 * A local order book rebuilt from recorded messages of one topic, keyed by the price strings as sent
 * (no arithmetic: a recording replays exactly). Reports gaps in `u`.
 */
export class RecordedBook {
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  lastU = 0;
  gaps = 0;

  apply(message: RecordedOrderbook): void {
    if (message.type === 'snapshot') {
      this.bids.clear();
      this.asks.clear();
    } else if (message.data.u !== this.lastU + 1) {
      this.gaps += 1;
    }
    this.lastU = message.data.u;
    setLevels(this.bids, message.data.b);
    setLevels(this.asks, message.data.a);
  }
}

function setLevels(side: Map<string, string>, rows: readonly (readonly [string, string])[]): void {
  for (const [price, size] of rows) {
    if (size === '0' || /^0(\.0+)?$/.test(size)) side.delete(price);
    else side.set(price, size);
  }
}

/** Drives an exchange's market from a recording (see the module comment). */
export class ReplayDriver {
  /** flow's resting order per recorded level. */
  private readonly resting = new Map<string, { readonly orderId: string; lots: number }>();
  /** The recorded size of every level ("Buy:ticks" -> lots), as the book messages state it. */
  private readonly recorded = new Map<string, number>();
  /** Price and size strings repeat all the time in a recording; convert each once. */
  private readonly ticksOf = memo((price: string) => priceToTicks(this.instrument, price));
  private readonly lotsOf = memo((size: string) => qtyToLots(this.instrument, size));

  constructor(
    private readonly exchange: Exchange,
    private readonly instrument: Instrument,
    private readonly accountId = 'flow',
  ) {}

  apply(message: RecordedMessage): void {
    if (isOrderbook(message)) this.applyBook(message);
    else this.applyTrades(message);
  }

  private applyBook(message: RecordedOrderbook): void {
    const changes: { side: Side; priceTicks: Ticks; lots: number }[] = [];
    const target = new Map<string, number>();
    for (const [side, rows] of [['Buy', message.data.b], ['Sell', message.data.a]] as const) {
      for (const [price, size] of rows) {
        const priceTicks = this.ticksOf(price);
        const lots_ = this.lotsOf(size);
        changes.push({ side, priceTicks, lots: lots_ });
        target.set(`${side}:${priceTicks}`, lots_);
      }
    }
    if (message.type === 'snapshot') this.recorded.clear();
    for (const [key, lots_] of target) {
      if (lots_ === 0) this.recorded.delete(key);
      else this.recorded.set(key, lots_);
    }
    if (message.type === 'snapshot') {
      // Levels missing from a snapshot are gone.
      for (const key of this.resting.keys()) {
        if (!target.has(key)) {
          const [side, price] = key.split(':');
          changes.push({ side: side as Side, priceTicks: Number(price) as Ticks, lots: 0 });
        }
      }
    }
    // Shrink before growing, so the flow's own orders never cross each other mid-update.
    changes.sort((a, b) => Number(a.lots > this.current(a)) - Number(b.lots > this.current(b)));
    for (const change of changes) this.setLevel(change.side, change.priceTicks, change.lots);
  }

  private current(change: { side: Side; priceTicks: Ticks }): number {
    return this.resting.get(`${change.side}:${change.priceTicks}`)?.lots ?? 0;
  }

  private setLevel(side: Side, priceTicks: Ticks, targetLots: number): void {
    const key = `${side}:${priceTicks}`;
    const existing = this.resting.get(key);
    const order = existing ? this.exchange.findOrder(this.accountId, { orderId: existing.orderId }) : undefined;
    const open = order !== undefined && (order.status === 'New' || order.status === 'PartiallyFilled');
    if (existing && open && order.leavesLots === targetLots) return;
    if (existing && open) {
      if (targetLots === 0) this.exchange.cancelOrder(this.accountId, this.instrument.symbol, { orderId: existing.orderId });
      else this.exchange.amendOrder(this.accountId, { symbol: this.instrument.symbol, ref: { orderId: existing.orderId }, qtyLots: (order.cumExecLots + targetLots) as Lots });
      if (targetLots === 0) this.resting.delete(key);
      else existing.lots = targetLots;
      return;
    }
    this.resting.delete(key);
    if (targetLots === 0) return;
    const outcome = this.exchange.createOrder(this.accountId, { symbol: this.instrument.symbol, side, orderType: 'Limit', timeInForce: 'GTC', qtyLots: targetLots as Lots, priceTicks });
    if (outcome.ok) this.resting.set(key, { orderId: outcome.value.orderId, lots: targetLots });
  }

  /**
   * A recorded trade trades against the queue at its price (ours included, in time priority). The book
   * messages already account for the liquidity it took from the market, so the flow's levels it consumed
   * are restored to their recorded sizes afterwards: only our quotes are really consumed.
   */
  private applyTrades(message: RecordedTrades): void {
    for (const trade of message.data) {
      const priceTicks = this.ticksOf(trade.p);
      this.exchange.createOrder(this.accountId, {
        symbol: this.instrument.symbol,
        side: trade.S,
        orderType: 'Limit',
        timeInForce: 'IOC',
        qtyLots: this.lotsOf(trade.v),
        priceTicks,
      });
      const makerSide: Side = trade.S === 'Buy' ? 'Sell' : 'Buy';
      for (const [key, lots_] of this.recorded) {
        const [side, price] = key.split(':');
        const levelTicks = Number(price);
        const crossed = makerSide === 'Sell' ? levelTicks <= priceTicks : levelTicks >= priceTicks;
        if (side === makerSide && crossed) this.setLevel(makerSide, levelTicks as Ticks, lots_);
      }
    }
  }
}

/** A bounded memo of a pure string conversion (cleared when large: a long replay visits many prices). */
function memo<T>(convert: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      if (cache.size > 100_000) cache.clear();
      value = convert(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * Plays a recording into a driver in (scaled) real time: message i is applied when `ts - ts0` (divided by
 * `speed`) has elapsed. Returns a stop function.
 */
export function playRecording(messages: readonly RecordedMessage[], apply: (message: RecordedMessage) => void, options: { speed: number; loop: boolean }): () => void {
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const first = messages[0]?.ts ?? 0;
  let startedAt = Date.now();
  const next = (): void => {
    if (stopped) return;
    const elapsed = (Date.now() - startedAt) * options.speed;
    while (index < messages.length && (messages[index]?.ts ?? 0) - first <= elapsed) {
      const message = messages[index];
      if (message) apply(message);
      index += 1;
    }
    if (index >= messages.length) {
      if (!options.loop || messages.length === 0) return;
      index = 0;
      startedAt = Date.now();
    }
    const due = ((messages[index]?.ts ?? first) - first) / options.speed - (Date.now() - startedAt);
    timer = setTimeout(next, Math.max(0, Math.min(due, 1_000)));
  };
  next();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
