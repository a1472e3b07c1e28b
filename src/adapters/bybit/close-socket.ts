/**
 * Closing a bybit-api WebSocket client for good. Its closeAll() closes the sockets that exist, but a
 * connect() under way (it awaits its URL before it creates the socket) creates its socket afterwards, and
 * that socket, on any drop, reconnects for the life of the process. A start that fails early, or a key
 * swap given up, closes clients whose connect may be under way, so every close goes here: an attempt under
 * way is closed as it completes, and any later (re)connection of the client is closed as it shows. One gap
 * remains, in bybit-api: an order-entry socket closed before its auth can stay open until the venue drops
 * it; it is never reconnected.
 */
import type { WebsocketClient } from 'bybit-api';

/** Closes every connection of `client`, one still being opened included, and stops any later reconnect. */
export function closeForGood(client: WebsocketClient): void {
  const store = client.getWsStore();
  for (const wsKey of store.getKeys()) {
    // Settles once the attempt's socket is open: it is closed at once.
    store.getConnectionInProgressPromise(wsKey)?.promise?.then(
      () => client.close(wsKey, true),
      () => undefined,
    );
  }
  // A connect that had not yet registered its connection opens later as a fresh one ('open'); one that
  // dropped without our close reconnects ('reconnect', 'reconnected'): each is closed as it shows.
  client.on('open', ({ wsKey }) => client.close(wsKey, true));
  client.on('reconnect', ({ wsKey }) => client.close(wsKey, true));
  client.on('reconnected', ({ wsKey }) => client.close(wsKey, true));
  client.closeAll(true);
}
