/**
 * The simulator's admin endpoint (not part of Bybit's API): read and set injected faults over loopback.
 *   GET  /sim/admin/faults          -> the current faults
 *   POST /sim/admin/faults {...}    -> merge the given fields, reply with the result
 * Unknown fields and out-of-range values are refused with HTTP 400 naming the field.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

export const FaultsUpdate = z.strictObject({
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  http5xxRate: z.number().min(0).max(1).optional(),
  rateLimitStorm: z.boolean().optional(),
  clockSkewMs: z.number().int().min(-3_600_000).max(3_600_000).optional(),
});
export type FaultsUpdate = z.infer<typeof FaultsUpdate>;

export const ADMIN_PREFIX = '/sim/admin/';

export function handleAdmin(path: string, method: string, body: string, faults: Record<keyof FaultsUpdate, unknown>, response: ServerResponse): void {
  const { status, value } = adminReply(path, method, body, faults);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(value));
}

function adminReply(path: string, method: string, body: string, faults: Record<keyof FaultsUpdate, unknown>): { status: number; value: unknown } {
  if (path !== `${ADMIN_PREFIX}faults`) return { status: 404, value: { error: `unknown admin path ${path}` } };
  if (method === 'GET') return { status: 200, value: faults };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { status: 400, value: { error: 'the body must be JSON' } };
  }
  const update = FaultsUpdate.safeParse(parsed);
  if (!update.success) return { status: 400, value: { error: update.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`) } };
  Object.assign(faults, update.data);
  return { status: 200, value: faults };
}

/** Admin requests are accepted from loopback only. */
export function isLoopback(request: IncomingMessage): boolean {
  const address = request.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
