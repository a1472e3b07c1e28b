/**
 * Reconciliation at start and after reconnects: the venue's open orders and position against the
 * engine's. The venue wins, and the engine never invents a final state:
 *
 *   open at the venue, unknown here      cancel it (configurable), or adopt it when it is ours (our
 *                                        orderLinkId prefix: a previous generation of this shard sent it)
 *   open here, not open at the venue     query it until its fate is known; until then its symbol does not
 *                                        quote (the list of open orders may simply lag)
 *   open in both                         apply the venue's report
 *   position differs                     take the venue's, and report the difference
 *
 * Pure: it returns the decisions and a report; the engine carries them out.
 */
import { type Order, type VenueOrderReport, isOrderOpen } from '../core/order.js';

export interface VenueOpenOrder {
  readonly orderLinkId: string;
  readonly report: VenueOrderReport;
}

export interface ReconcileInput<T extends VenueOpenOrder = VenueOpenOrder> {
  readonly symbol: string;
  /** The venue's open orders of the symbol. */
  readonly venueOpen: readonly T[];
  /** The engine's orders of the symbol, open or not. */
  readonly local: readonly Order[];
  /** The venue's signed position in lots, and the engine's. */
  readonly venuePositionLots: bigint;
  readonly localPositionLots: bigint;
  /** Whether an orderLinkId was minted by this shard (any generation). */
  readonly isOurs: (orderLinkId: string) => boolean;
  readonly cancelUnknownOrders: boolean;
}

export interface ReconcilePlan<T extends VenueOpenOrder = VenueOpenOrder> {
  /** Venue reports to apply to orders both sides know. */
  readonly apply: readonly T[];
  /** Orders to cancel at the venue by orderLinkId (unknown to us, and policy says cancel). */
  readonly cancel: readonly T[];
  /** Our orders from an earlier generation to track (policy says keep). */
  readonly adopt: readonly T[];
  /** Orders open here that the venue does not list as open: query each until known. */
  readonly query: readonly string[];
  /** Foreign open orders left alone (not ours, and policy says keep). */
  readonly ignore: readonly T[];
  readonly positionMismatchLots: bigint;
  /** The symbol may quote only when nothing is left to establish. */
  readonly canQuote: boolean;
  readonly findings: readonly string[];
}

export function reconcile<T extends VenueOpenOrder>(input: ReconcileInput<T>): ReconcilePlan<T> {
  const localById = new Map(input.local.map((order) => [order.intent.orderLinkId, order]));
  const venueIds = new Set(input.venueOpen.map((entry) => entry.orderLinkId));
  const apply: T[] = [];
  const cancel: T[] = [];
  const adopt: T[] = [];
  const ignore: T[] = [];
  const findings: string[] = [];

  for (const entry of input.venueOpen) {
    if (localById.has(entry.orderLinkId)) apply.push(entry);
    else if (input.cancelUnknownOrders) {
      cancel.push(entry);
      findings.push(`${input.symbol}: cancelling unknown open order ${entry.orderLinkId || entry.report.orderId}`);
    } else if (input.isOurs(entry.orderLinkId)) {
      adopt.push(entry);
      findings.push(`${input.symbol}: adopting our earlier order ${entry.orderLinkId}`);
    } else {
      ignore.push(entry);
      findings.push(`${input.symbol}: leaving a foreign open order ${entry.orderLinkId || entry.report.orderId}`);
    }
  }

  const query = input.local.filter((order) => isOrderOpen(order) && !venueIds.has(order.intent.orderLinkId)).map((order) => order.intent.orderLinkId);
  for (const orderLinkId of query) findings.push(`${input.symbol}: ${orderLinkId} is open here but not at the venue; querying its fate`);

  const positionMismatchLots = input.venuePositionLots - input.localPositionLots;
  if (positionMismatchLots !== 0n) findings.push(`${input.symbol}: position differs by ${positionMismatchLots} lots (venue ${input.venuePositionLots}, here ${input.localPositionLots}); the venue's is taken`);

  return { apply, cancel, adopt, query, ignore, positionMismatchLots, canQuote: query.length === 0 && cancel.length === 0, findings };
}
