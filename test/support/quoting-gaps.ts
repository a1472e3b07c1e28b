/**
 * What a quoting gap may be blamed on. A key swap or a rotation must not pull quotes; the simulator's moving
 * market does, for a moment, every so often, and the tests that watch the swap tell the two apart here.
 */

/**
 * Blockers of everyday trading on the simulator's market, which no key swap causes:
 *   - an amend or cancel that meets a fill of the venue's takers leaves its order's state to be confirmed by
 *     a query, for a moment (logged at debug). A request whose answer was lost (a socket closed under it)
 *     shows the same blocker, and is looked for in the logs instead (LOST_ANSWER);
 *   - the simulator's book on one side only, for a moment, while its own liquidity is replaced.
 */
const MARKET_BLOCKERS: readonly RegExp[] = [/^\w+: an order whose state is unknown$/, /^\w+: no two-sided book$/];

/** Whether a blocker, written `SYMBOL: reason`, is one of the market's rather than one a swap could cause. */
export function isMarketBlocker(blocker: string): boolean {
  return MARKET_BLOCKERS.some((pattern) => pattern.test(blocker));
}

/** The engine's warning for an order whose request went unanswered (not the routine race above). */
export const LOST_ANSWER = 'order state unknown; querying until the venue says';
