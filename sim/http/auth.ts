/**
 * Bybit v5 request authentication: X-BAPI-API-KEY, X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW and X-BAPI-SIGN,
 * where the signature is hex HMAC-SHA256, keyed by the API secret, of
 *   timestamp + apiKey + recvWindow + (GET: the raw query string | POST: the raw body)
 * checked against the bytes as received (never re-serialised). The timestamp must satisfy
 *   serverTime - recvWindow <= timestamp < serverTime + 1000.
 * Sources in sim/README.md.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, KeyStore } from '../venue/keys.js';
import { RET } from '../exchange/errors.js';

export const DEFAULT_RECV_WINDOW = 5_000;

export interface AuthHeaders {
  readonly apiKey: string | undefined;
  readonly timestamp: string | undefined;
  readonly sign: string | undefined;
  readonly recvWindow: string | undefined;
}

export type AuthOutcome =
  | { readonly ok: true; readonly key: ApiKeyRecord }
  | { readonly ok: false; readonly retCode: number; readonly retMsg: string; readonly missingHeaders?: true };

export function hmacHex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function safeEqualHex(expected: string, actual: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(actual, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Authenticates a private request. `payload` is the raw query string (GET) or raw body (POST);
 * `ip` is checked against the key's allow-list when it has one.
 */
export function authenticate(headers: AuthHeaders, payload: string, keys: KeyStore, serverTime: number, ip: string): AuthOutcome {
  const { apiKey, timestamp, sign } = headers;
  if (!apiKey || !timestamp || !sign) return { ok: false, missingHeaders: true, retCode: RET.paramError, retMsg: 'X-BAPI-API-KEY, X-BAPI-TIMESTAMP and X-BAPI-SIGN are required' };
  const found = keys.lookup(apiKey, serverTime);
  if (found.status !== 'ok') {
    return found.status === 'expired'
      ? { ok: false, retCode: RET.keyExpired, retMsg: 'Your api key has expired' }
      : { ok: false, retCode: RET.invalidApiKey, retMsg: 'API key is invalid.' };
  }
  const { key } = found;

  const recvWindow = headers.recvWindow === undefined || headers.recvWindow === '' ? DEFAULT_RECV_WINDOW : Number(headers.recvWindow);
  const requestTime = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isFinite(recvWindow) || recvWindow <= 0 || requestTime < serverTime - recvWindow || requestTime >= serverTime + 1_000) {
    return {
      ok: false,
      retCode: RET.timestampError,
      retMsg: `invalid request, please check your server timestamp or recv_window param. req_timestamp[${timestamp}],server_timestamp[${serverTime}],recv_window[${headers.recvWindow ?? DEFAULT_RECV_WINDOW}]`,
    };
  }

  const origin = `${timestamp}${apiKey}${headers.recvWindow ?? ''}${payload}`;
  if (!safeEqualHex(hmacHex(key.secret, origin), sign.toLowerCase())) {
    return { ok: false, retCode: RET.signError, retMsg: `error sign! origin_string[${origin}]` };
  }
  if (key.ips.length > 0 && !key.ips.includes('*') && !key.ips.includes(ip)) {
    return { ok: false, retCode: RET.unmatchedIp, retMsg: 'Unmatched IP, please check your API key\'s bound IP addresses.' };
  }
  return { ok: true, key };
}
