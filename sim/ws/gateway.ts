/**
 * Accepts WebSocket upgrades on the simulator's HTTP server and routes each connection by path:
 *   /v5/public/linear -> PublicFeed, /v5/private -> PrivateFeed, /v5/trade -> TradeGateway.
 * Query strings (Bybit's max_active_time) are accepted and ignored. Faults: drop connections, or stall
 * them (nothing is sent to them) for a while.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Endpoint, WsClient, parseFrame } from './client.js';
import type { PrivateFeed } from './private.js';
import type { PublicFeed } from './public.js';
import type { TradeGateway } from './trade.js';

export const WS_PATHS: Readonly<Record<string, Endpoint>> = { '/v5/public/linear': 'public', '/v5/private': 'private', '/v5/trade': 'trade' };

export class WsGateway {
  private readonly server = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<WsClient>();

  constructor(
    httpServer: Server,
    private readonly feeds: { readonly publicFeed: PublicFeed; readonly privateFeed: PrivateFeed; readonly trade: TradeGateway },
    private readonly clock: () => number,
  ) {
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (request.url ?? '').split('?')[0] ?? '';
      const endpoint = WS_PATHS[path];
      if (!endpoint) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      this.server.handleUpgrade(request, socket, head, (socket_) => {
        this.accept(endpoint, socket_);
      });
    });
  }

  private accept(endpoint: Endpoint, socket: WebSocket): void {
    const client = new WsClient(endpoint, socket, this.clock);
    this.clients.add(client);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const frame = parseFrame(data.toString('utf8'));
      if (!frame) {
        client.send({ success: false, ret_msg: 'Failed to decode incoming data', conn_id: client.connId, req_id: '', op: '' });
        return;
      }
      this.dispatch(client, frame);
    });
    socket.on('close', () => {
      this.clients.delete(client);
      if (endpoint === 'public') this.feeds.publicFeed.remove(client);
      if (endpoint === 'private') this.feeds.privateFeed.remove(client);
    });
    socket.on('error', () => {
      socket.terminate();
    });
  }

  private dispatch(client: WsClient, frame: Record<string, unknown>): void {
    if (client.endpoint === 'trade') {
      this.feeds.trade.handle(client, frame);
      return;
    }
    if (client.endpoint === 'private') {
      this.feeds.privateFeed.handle(client, frame);
      return;
    }
    const reqId = typeof frame.req_id === 'string' ? frame.req_id : '';
    const ack = (op: string, success: boolean, retMsg: string) => client.send({ success, ret_msg: retMsg, conn_id: client.connId, req_id: reqId, op });
    const topics = Array.isArray(frame.args) ? frame.args.filter((topic): topic is string => typeof topic === 'string') : [];
    switch (frame.op) {
      case 'ping':
        // Bybit's public linear pong says op "ping" and ret_msg "pong".
        ack('ping', true, 'pong');
        return;
      case 'subscribe': {
        const result = this.feeds.publicFeed.subscribe(client, topics);
        ack('subscribe', result.ok, result.ok ? '' : result.message);
        return;
      }
      case 'unsubscribe':
        this.feeds.publicFeed.unsubscribe(client, topics);
        ack('unsubscribe', true, '');
        return;
      default:
        ack(typeof frame.op === 'string' ? frame.op : '', false, 'error:invalid op');
    }
  }

  /** Fault: closes every connection of an endpoint (or all) abruptly. Returns how many. */
  drop(endpoint?: Endpoint): number {
    let count = 0;
    for (const client of this.clients) {
      if (endpoint !== undefined && client.endpoint !== endpoint) continue;
      client.socket.terminate();
      count += 1;
    }
    return count;
  }

  /** Fault: sends nothing to the endpoint's connections for `ms`. Returns how many. */
  stall(endpoint: Endpoint | undefined, ms: number): number {
    let count = 0;
    for (const client of this.clients) {
      if (endpoint !== undefined && client.endpoint !== endpoint) continue;
      client.stalledUntil = this.clock() + ms;
      count += 1;
    }
    return count;
  }

  close(): void {
    for (const client of this.clients) client.socket.terminate();
    this.server.close();
  }
}
