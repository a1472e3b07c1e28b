/**
 * The order-entry stream (/v5/trade): auth, then order.create / amend / cancel and their batch forms,
 * answered in Bybit's shape (sim/reference/bybit-v5-websocket.md §6). Each op runs the same handler as its
 * REST endpoint and draws on the same per-UID quota, so codes, results and limits agree across the two.
 */
import { randomUUID } from 'node:crypto';
import { RET } from '../exchange/errors.js';
import { DEFAULT_RECV_WINDOW } from '../http/auth.js';
import type { UidLimits } from '../http/rate-limit.js';
import type { Route } from '../http/routes.js';
import { type RestFaults, limitHeadersOf, takeLimit } from '../http/server.js';
import { type KeyStore, canTrade } from '../venue/keys.js';
import { type WsClient, requestId } from './client.js';
import { checkAuthArgs } from './private.js';

const OP_PATHS: Readonly<Record<string, string>> = {
  'order.create': '/v5/order/create',
  'order.amend': '/v5/order/amend',
  'order.cancel': '/v5/order/cancel',
  'order.create-batch': '/v5/order/create-batch',
  'order.amend-batch': '/v5/order/amend-batch',
  'order.cancel-batch': '/v5/order/cancel-batch',
};

export class TradeGateway {
  private readonly routes: ReadonlyMap<string, Route>;

  constructor(
    routes: readonly Route[],
    private readonly limits: UidLimits,
    private readonly keys: KeyStore,
    private readonly clock: () => number,
    private readonly faults: RestFaults,
  ) {
    this.routes = new Map(routes.map((route) => [route.path, route]));
  }

  handle(client: WsClient, frame: Record<string, unknown>): void {
    const now = this.clock();
    const reqId = requestId(frame, 'reqId');
    const op = typeof frame.op === 'string' ? frame.op : '';
    const reply = (retCode: number, retMsg: string, extra: Record<string, unknown> = {}) =>
      client.send({ ...(reqId !== undefined && { reqId }), retCode, retMsg, op, ...extra, connId: client.connId });

    if (op === 'ping') {
      reply(0, 'OK', { op: 'pong', data: [String(now)] });
      return;
    }
    if (op === 'auth') {
      if (client.key) {
        // Bybit: a second auth on a trade socket gets 20001; the socket stays authenticated.
        reply(20001, 'Repeat auth');
        return;
      }
      const checked = checkAuthArgs(frame.args, this.keys, now);
      if (!checked.ok) {
        reply(checked.reason === 'sign' ? RET.signError : checked.reason === 'key' ? RET.invalidApiKey : RET.paramError, checked.reason === 'sign' ? 'Invalid sign' : checked.reason === 'key' ? 'API key is invalid.' : 'Params Error');
        return;
      }
      client.key = checked.key;
      reply(0, 'OK');
      return;
    }

    const path = OP_PATHS[op];
    const route = path === undefined ? undefined : this.routes.get(path);
    if (!route) {
      reply(10404, `op type is not found: ${op}`, { data: {}, retExtInfo: {} });
      return;
    }
    if (reqId !== undefined) {
      if (reqId.length > 36) {
        reply(RET.paramError, 'reqId is longer than 36 characters', { data: {}, retExtInfo: {} });
        return;
      }
      if (client.reqIds.has(reqId)) {
        reply(20006, 'reqId is duplicated', { data: {}, retExtInfo: {} });
        return;
      }
      client.reqIds.add(reqId);
    }
    // A key deleted or expired since the socket authenticated is invalid at once, as on REST.
    if (client.key && this.keys.lookup(client.key.apiKey, now).status !== 'ok') client.key = undefined;
    const key = client.key;
    if (!key) {
      reply(RET.permissionDenied, 'Request not authorized: send op auth first', { data: {}, retExtInfo: {} });
      return;
    }
    const header = (frame.header ?? {}) as Record<string, unknown>;
    const timestamp = Number(header['X-BAPI-TIMESTAMP']);
    const recvWindow = header['X-BAPI-RECV-WINDOW'] === undefined ? DEFAULT_RECV_WINDOW : Number(header['X-BAPI-RECV-WINDOW']);
    if (!Number.isFinite(timestamp) || !Number.isFinite(recvWindow) || timestamp < now - recvWindow || timestamp >= now + 1_000) {
      reply(RET.timestampError, `invalid request, please check your server timestamp or recv_window param. req_timestamp[${String(header['X-BAPI-TIMESTAMP'])}],server_timestamp[${now}],recv_window[${recvWindow}]`, { data: {}, retExtInfo: {} });
      return;
    }
    if (!canTrade(key)) {
      reply(RET.permissionDenied, 'Permission denied, please check your API key permissions.', { data: {}, retExtInfo: {} });
      return;
    }
    const args = frame.args;
    const params = Array.isArray(args) && args.length === 1 && typeof args[0] === 'object' && args[0] !== null ? (args[0] as Record<string, unknown>) : undefined;
    if (!params) {
      reply(RET.paramError, 'params error: args must hold exactly one request object', { data: {}, retExtInfo: {} });
      return;
    }
    const decision = takeLimit(this.limits, route, params, key.uid, now, this.faults);
    const header_ = { ...(decision && limitHeadersOf(decision)), Traceid: randomUUID().replaceAll('-', ''), Timenow: String(now) };
    if (decision?.admitted === 0) {
      reply(RET.tooManyVisits, 'Too many visits!', { data: {}, retExtInfo: {}, header: header_ });
      return;
    }
    const result = route.handle({ params, key, now, admitted: decision?.admitted ?? 1 });
    reply(result.retCode, result.retMsg, { data: result.result ?? {}, retExtInfo: result.retExtInfo ?? {}, header: header_ });
  }
}
