/**
 * One human line per symbol from the engine's status, for `npm start` and operators tailing a task:
 * mid, our bid and ask, inventory, fills and maker share, PnL with rebates apart, and whether it quotes
 * (or why not); then one line for the account (equity, available balance, margin) once the venue has
 * reported it. Pure.
 */
import type { EngineStatus } from '../engine/engine.js';

const pad = (text: string, width: number) => text.padEnd(width);

export function statusLines(status: EngineStatus, now: Date): string[] {
  const time = now.toISOString().slice(11, 19);
  const lines = status.symbols.map((symbol) => {
    const pnl = symbol.pnl;
    const trading = pnl ? pnl.realised.plus(pnl.unrealised) : undefined;
    const money = (value: { toFixed(places: number): string } | undefined) => (value === undefined ? '-' : value.toFixed(4));
    const state = status.frozen ? `FROZEN (${status.frozen.reason}: ${status.frozen.detail})` : symbol.quoting ? 'quoting' : `paused: ${symbol.blockers.join('; ')}`;
    return [
      time,
      pad(symbol.symbol, 9),
      `mid ${pad(symbol.mid?.toFixed() ?? '-', 10)}`,
      `bid ${pad(symbol.ourBid ?? '-', 10)} ask ${pad(symbol.ourAsk ?? '-', 10)}`,
      `pos ${pad(symbol.position.toFixed(), 8)}`,
      `fills ${String(symbol.fills)} (maker ${symbol.makerShare === undefined ? '-' : `${(symbol.makerShare * 100).toFixed(0)}%`})`,
      `pnl net ${money(pnl?.net)} = trading ${money(trading)} + rebates ${money(pnl?.rebatesEarned)} - fees ${money(pnl?.feesPaid)} + funding ${money(pnl?.funding)}`,
      state,
    ].join('  ');
  });
  const { wallet } = status;
  if (wallet) {
    lines.push(
      [time, pad('account', 9), `equity ${wallet.equity}`, `available ${wallet.availableBalance}`, `margin initial ${wallet.initialMargin} maintenance ${wallet.maintenanceMargin} (rate ${wallet.maintenanceMarginRate})`].join('  '),
    );
  }
  return lines;
}
