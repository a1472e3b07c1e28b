/**
 * Public market data the exchange does not keep itself: recent trades per symbol, for
 * /v5/market/recent-trade, tickers and the publicTrade topic.
 */
import type { PublicTrade } from '../exchange/exchange.js';

/** Bybit serves up to 1000 recent trades for linear (docs/v5/market/recent-trade.mdx). */
export const RECENT_TRADES = 1_000;

export class RecentTrades {
  private readonly bySymbol = new Map<string, PublicTrade[]>();

  add(trade: PublicTrade): void {
    let trades = this.bySymbol.get(trade.symbol);
    if (!trades) this.bySymbol.set(trade.symbol, (trades = []));
    trades.push(trade);
    if (trades.length > RECENT_TRADES) trades.splice(0, trades.length - RECENT_TRADES);
  }

  /** Newest first. */
  latest(symbol: string, limit: number): PublicTrade[] {
    const trades = this.bySymbol.get(symbol) ?? [];
    return trades.slice(-limit).reverse();
  }

  /** Trades at or after `since` (ms), oldest first. */
  since(symbol: string, since: number): PublicTrade[] {
    return (this.bySymbol.get(symbol) ?? []).filter((trade) => trade.time >= since);
  }
}
