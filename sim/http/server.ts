/**
 * The REST front of the simulated venue. Order of checks, as Bybit answers them:
 *   per-IP limit (HTTP 403) -> route (HTTP 404) -> parameters -> authentication (HTTP 401 when the
 *   X-BAPI headers are missing, else HTTP 200 with 10002/10003/10004/10010/33004) -> permission (10005)
 *   -> per-UID endpoint limit (10006) -> the endpoint.
 * Business errors are HTTP 200 with a non-zero retCode. Sources in sim/README.md.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { RET } from '../exchange/errors.js';
import type { KeyStore } from '../venue/keys.js';
import { canTrade } from '../venue/keys.js';
import { ADMIN_PREFIX, type AdminActions, handleAdmin, isLoopback } from './admin.js';
import { authenticate } from './auth.js';
import type { IpLimiter, UidLimits, WindowDecision } from './rate-limit.js';
import type { Reply, Route } from './routes.js';

/** Faults the REST front can be told to inject (see sim/README.md, fault injection). */
export interface RestFaults {
  /** Added before answering, ms. */
  latencyMs: number;
  /** Probability of answering HTTP 503 instead of handling the request. */
  http5xxRate: number;
  /** While set, every per-UID limited request is refused with 10006 (a rate-limit storm). */
  rateLimitStorm: boolean;
}

export const NO_REST_FAULTS: RestFaults = { latencyMs: 0, http5xxRate: 0, rateLimitStorm: false };

/** The route's per-UID limit decision (a rate-limit storm refuses everything limited); undefined if unlimited. */
export function takeLimit(limits: UidLimits, route: Route, params: Record<string, unknown>, uid: number, now: number, faults: RestFaults): WindowDecision | undefined {
  const limit = limits.limitOf(route.path);
  if (limit === undefined) return undefined;
  if (faults.rateLimitStorm) return { admitted: 0, limit, remaining: 0, resetAt: now + 1_000 };
  return limits.take(route.path, uid, route.units?.(params) ?? 1, now);
}

export function limitHeadersOf(decision: WindowDecision): Record<string, string> {
  return { 'X-Bapi-Limit': String(decision.limit), 'X-Bapi-Limit-Status': String(decision.remaining), 'X-Bapi-Limit-Reset-Timestamp': String(decision.resetAt) };
}

export interface RestServerOptions {
  readonly routes: readonly Route[];
  readonly limits: UidLimits;
  readonly keys: KeyStore;
  /** The venue's clock, ms (skewed by the clock-skew fault). */
  readonly serverTime: () => number;
  readonly ipLimiter: IpLimiter;
  readonly faults: RestFaults;
  /** Seeded source for fault decisions. */
  readonly random: () => number;
  /** Called with any error a handler throws (the client gets 10016). */
  readonly onError?: (error: unknown) => void;
  /** The fault settings the admin endpoint reads and changes (a superset of `faults`). */
  readonly adminFaults?: Record<string, unknown>;
  readonly adminActions?: AdminActions;
}

const MAX_BODY_BYTES = 1 << 20;

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
  });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function createRestListener(options: RestServerOptions): RequestListener {
  const byRoute = new Map(options.routes.map((route) => [`${route.method} ${route.path}`, route]));

  const send = (response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    const write = () => {
      response.writeHead(status, { 'Content-Type': status === 200 ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8', ...headers });
      response.end(body);
    };
    if (options.faults.latencyMs > 0) setTimeout(write, options.faults.latencyMs);
    else write();
  };

  const reply = (response: ServerResponse, now: number, body: Reply, headers: Record<string, string> = {}): void => {
    // A reply without a result (DCP) is just retCode and retMsg, as Bybit sends it.
    const envelope =
      body.result === undefined
        ? { retCode: body.retCode, retMsg: body.retMsg }
        : { retCode: body.retCode, retMsg: body.retMsg, result: body.result, retExtInfo: body.retExtInfo ?? {}, time: now };
    send(response, 200, JSON.stringify(envelope), { Ret_code: String(body.retCode), Traceid: randomUUID().replaceAll('-', ''), Timenow: String(now), ...headers });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const now = options.serverTime();
    const ip = request.socket.remoteAddress ?? 'unknown';
    if (!options.ipLimiter.check(ip, now).allowed) {
      send(response, 403, 'access too frequent');
      return;
    }
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
    if (request.method !== 'GET' && request.method !== 'POST') {
      send(response, 400, 'Bad request: use GET or POST');
      return;
    }
    if (path.startsWith(ADMIN_PREFIX) && options.adminFaults) {
      if (!isLoopback(request)) {
        send(response, 403, 'admin endpoint is loopback only');
        return;
      }
      handleAdmin(path, request.method, (await readBody(request)) ?? '', options.adminFaults, options.adminActions, response);
      return;
    }
    const route = byRoute.get(`${request.method} ${path}`);
    if (!route) {
      send(response, 404, 'Cannot find path');
      return;
    }
    const body = await readBody(request);
    if (body === undefined) {
      send(response, 413, 'request body too large');
      return;
    }
    if (request.method === 'GET' && body.length > 0) {
      // Bybit: a GET with a JSON body is forbidden.
      send(response, 403, 'GET request with a body');
      return;
    }
    if (options.faults.http5xxRate > 0 && options.random() < options.faults.http5xxRate) {
      send(response, 503, 'Service Unavailable (injected)');
      return;
    }

    let params: Record<string, unknown>;
    if (request.method === 'GET') params = Object.fromEntries(new URLSearchParams(rawQuery));
    else {
      try {
        const parsed: unknown = body === '' ? {} : JSON.parse(body);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        params = parsed as Record<string, unknown>;
      } catch {
        reply(response, now, { retCode: RET.paramError, retMsg: 'params error: the request body must be a JSON object', result: {} });
        return;
      }
    }

    let key;
    if (route.access !== 'public') {
      const auth = authenticate(
        { apiKey: header(request, 'x-bapi-api-key'), timestamp: header(request, 'x-bapi-timestamp'), sign: header(request, 'x-bapi-sign'), recvWindow: header(request, 'x-bapi-recv-window') },
        request.method === 'GET' ? rawQuery : body,
        options.keys,
        now,
        ip,
      );
      if (!auth.ok) {
        if (auth.missingHeaders) send(response, 401, '');
        else reply(response, now, { retCode: auth.retCode, retMsg: auth.retMsg, result: {} });
        return;
      }
      key = auth.key;
      if (route.access === 'trade' && !canTrade(key)) {
        reply(response, now, { retCode: RET.permissionDenied, retMsg: 'Permission denied, please check your API key permissions.', result: {} });
        return;
      }
    }

    let admitted = 1;
    let limitHeaders: Record<string, string> = {};
    const decision = key ? takeLimit(options.limits, route, params, key.uid, now, options.faults) : undefined;
    if (decision) {
      limitHeaders = limitHeadersOf(decision);
      if (decision.admitted === 0) {
        reply(response, now, { retCode: RET.tooManyVisits, retMsg: 'Too many visits!', result: {} }, limitHeaders);
        return;
      }
      admitted = decision.admitted;
    }

    try {
      reply(response, now, route.handle({ params, key, now, admitted }), limitHeaders);
    } catch (error) {
      options.onError?.(error);
      reply(response, now, { retCode: RET.serverError, retMsg: 'Server error.', result: {} }, limitHeaders);
    }
  };

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.onError?.(error);
      if (!response.headersSent) send(response, 500, 'internal error');
    });
  };
}
