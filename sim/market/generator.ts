/**
 * A market that moves, deterministic for a seed: the mid follows a random walk whose volatility switches
 * between regimes; a background ladder of resting liquidity (the `flow` account) follows the mid; and
 * taker orders arrive as a Poisson process, each an IOC that trades against the best prices, whoever rests
 * there, our quotes included. A ladder order that the mid moves through trades too, so a stale quote is
 * picked off as in a real market. The mark price is the mid.
 *
 * Model quantities (mid, volatility, arrival rates) are floats; every order it sends is in integer ticks
 * and lots, so the venue's accounting stays exact.
 */
import { dec } from '../../src/core/decimal.js';
import { type Instrument, clampPriceTicks } from '../../src/core/instrument.js';
import { type Lots, type Side, type Ticks, lots } from '../../src/core/units.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Random } from '../random.js';

export interface Regime {
  readonly name: string;
  /** Standard deviation of the mid's log return per square-root second, in basis points. */
  readonly volatilityBps: number;
  /** Mean time spent in the regime before switching, seconds. */
  readonly meanDurationSeconds: number;
  /** Taker orders per second while in the regime. */
  readonly takerRatePerSecond: number;
}

export interface GeneratorOptions {
  readonly symbol: string;
  /** Starting mid in ticks. */
  readonly initialMidTicks: number;
  readonly regimes: readonly Regime[];
  /** Ladder: levels per side, least distance of the first level from the mid, spacing of the price grid (ticks). */
  readonly levels: number;
  readonly firstLevelTicks: number;
  readonly levelSpacingTicks: number;
  /** Lots resting at each ladder level: uniform in [min, max]. */
  readonly levelLots: readonly [number, number];
  /** Lots of each taker order: uniform in [min, max]. */
  readonly takerLots: readonly [number, number];
  /** How far through the best price a taker's limit reaches, ticks. */
  readonly takerReachTicks: number;
  /** The account the ladder and takers trade for. */
  readonly accountId: string;
}

/** Calm is about 3% a day (BTC-like), volatile about 15%. */
export const DEFAULT_REGIMES: readonly Regime[] = [
  { name: 'calm', volatilityBps: 1, meanDurationSeconds: 120, takerRatePerSecond: 4 },
  { name: 'volatile', volatilityBps: 5, meanDurationSeconds: 30, takerRatePerSecond: 12 },
];

export function defaultGeneratorOptions(instrument: Instrument, initialMidTicks: number): GeneratorOptions {
  return {
    symbol: instrument.symbol,
    initialMidTicks,
    regimes: DEFAULT_REGIMES,
    levels: 50,
    firstLevelTicks: 2,
    levelSpacingTicks: 1,
    levelLots: [instrument.minQtyLots * 5, instrument.minQtyLots * 50],
    takerLots: [instrument.minQtyLots, instrument.minQtyLots * 20],
    takerReachTicks: 5,
    accountId: 'flow',
  };
}

export class MarketGenerator {
  private midTicks: number;
  private regimeIndex = 0;
  /** The ladder's resting orders by price. */
  private readonly ladder = { Buy: new Map<number, string>(), Sell: new Map<number, string>() };
  private timer: NodeJS.Timeout | undefined;
  private lastStepAt: number | undefined;
  /** Counters, for tests and the status line. */
  takerOrders = 0;
  regimeSwitches = 0;

  constructor(
    private readonly exchange: Exchange,
    private readonly instrument: Instrument,
    private readonly random: Random,
    private readonly options: GeneratorOptions,
  ) {
    if (options.regimes.length === 0) throw new Error('the generator needs at least one regime');
    this.midTicks = options.initialMidTicks;
    this.publishMark();
    this.refreshLadder();
  }

  get mid(): Ticks {
    return clampPriceTicks(this.instrument, Math.round(this.midTicks));
  }

  get regime(): Regime {
    return this.options.regimes[this.regimeIndex] ?? (this.options.regimes[0] as Regime);
  }

  /** Advances the market by `dtMs`: regime, mid, mark, ladder, then the takers that arrived. */
  step(dtMs: number): void {
    const seconds = dtMs / 1_000;
    if (this.random() < 1 - Math.exp(-seconds / this.regime.meanDurationSeconds)) {
      this.regimeIndex = (this.regimeIndex + 1 + Math.floor(this.random() * (this.options.regimes.length - 1))) % this.options.regimes.length;
      this.regimeSwitches += 1;
    }
    const sigma = (this.regime.volatilityBps / 10_000) * Math.sqrt(seconds);
    this.midTicks = Math.max(this.instrument.minPriceTicks + this.options.levels * this.options.levelSpacingTicks, this.midTicks * Math.exp(sigma * this.gaussian()));
    this.publishMark();
    this.refreshLadder();
    const arrivals = this.poisson(this.regime.takerRatePerSecond * seconds);
    for (let index = 0; index < arrivals; index++) this.taker();
  }

  /** Steps in real time every `intervalMs` until stop(). */
  start(intervalMs = 100, clock: () => number = Date.now): void {
    this.stop();
    this.lastStepAt = clock();
    this.timer = setInterval(() => {
      const now = clock();
      this.step(now - (this.lastStepAt ?? now));
      this.lastStepAt = now;
    }, intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private publishMark(): void {
    this.exchange.setMarkPrice(this.options.symbol, dec(BigInt(this.mid)).times(this.instrument.tickSize));
  }

  /** Keeps `levels` orders per side at the target prices around the mid; moves only what changed. */
  private refreshLadder(): void {
    const mid = this.mid;
    const spacing = this.options.levelSpacingTicks;
    for (const side of ['Buy', 'Sell'] as const) {
      // Levels sit on a fixed grid (multiples of the spacing), so a move of the mid changes only the levels
      // at the edges of the ladder, as in a real book, rather than re-pricing every level.
      const inner = side === 'Buy' ? mid - this.options.firstLevelTicks : mid + this.options.firstLevelTicks;
      const first = side === 'Buy' ? Math.floor(inner / spacing) * spacing : Math.ceil(inner / spacing) * spacing;
      const step = side === 'Buy' ? -spacing : spacing;
      const targets = new Set<number>();
      for (let level = 0; level < this.options.levels; level++) targets.add(clampPriceTicks(this.instrument, first + level * step));
      const resting = this.ladder[side];
      for (const [price, orderId] of resting) {
        const order = this.exchange.findOrder(this.options.accountId, { orderId });
        const stillOpen = order !== undefined && (order.status === 'New' || order.status === 'PartiallyFilled');
        if (stillOpen && targets.has(price)) continue;
        if (stillOpen) this.exchange.cancelOrder(this.options.accountId, this.options.symbol, { orderId });
        resting.delete(price);
      }
      for (const price of targets) {
        if (resting.has(price)) continue;
        const outcome = this.exchange.createOrder(this.options.accountId, {
          symbol: this.options.symbol,
          side,
          orderType: 'Limit',
          timeInForce: 'GTC',
          qtyLots: this.uniformLots(this.options.levelLots),
          priceTicks: price as Ticks,
        });
        // A ladder order that crossed traded at once (the mid moved through resting quotes); keep it if it rests.
        if (outcome.ok) {
          const order = this.exchange.findOrder(this.options.accountId, { orderId: outcome.value.orderId });
          if (order && (order.status === 'New' || order.status === 'PartiallyFilled')) resting.set(price, outcome.value.orderId);
        }
      }
    }
  }

  private taker(): void {
    const side: Side = this.random() < 0.5 ? 'Buy' : 'Sell';
    const book = this.exchange.book(this.options.symbol);
    const best = side === 'Buy' ? book.bestAsk() : book.bestBid();
    if (best === undefined) return;
    const reach = side === 'Buy' ? this.options.takerReachTicks : -this.options.takerReachTicks;
    this.exchange.createOrder(this.options.accountId, {
      symbol: this.options.symbol,
      side,
      orderType: 'Limit',
      timeInForce: 'IOC',
      qtyLots: this.uniformLots(this.options.takerLots),
      priceTicks: clampPriceTicks(this.instrument, best + reach),
    });
    this.takerOrders += 1;
  }

  private uniformLots([min, max]: readonly [number, number]): Lots {
    return lots(min + Math.floor(this.random() * (max - min + 1)));
  }

  /** Standard normal draw (Box-Muller). */
  private gaussian(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Poisson draw with mean `lambda` (Knuth; lambda is small per step). */
  private poisson(lambda: number): number {
    const limit = Math.exp(-lambda);
    let count = 0;
    let product = this.random();
    while (product > limit) {
      count += 1;
      product *= this.random();
    }
    return count;
  }
}
