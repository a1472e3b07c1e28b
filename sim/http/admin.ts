/**
 * The simulator's admin endpoint (not part of Bybit's API): read and set injected faults over loopback.
 *   GET  /sim/admin/faults          -> the current faults
 *   POST /sim/admin/faults {...}    -> merge the given fields, reply with the result
 *   POST /sim/admin/ws {"action":"drop"|"stall","endpoint"?:"public"|"private"|"trade","ms"?:n}
 *                                   -> close or stall WebSocket connections; replies with how many
 * Unknown fields and out-of-range values are refused with HTTP 400 naming the field.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';

export const FaultsUpdate = z.strictObject({
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  http5xxRate: z.number().min(0).max(1).optional(),
  rateLimitStorm: z.boolean().optional(),
  clockSkewMs: z.number().int().min(-3_600_000).max(3_600_000).optional(),
  bookGapOnce: z.boolean().optional(),
  wsDuplicateExecutionRate: z.number().min(0).max(1).optional(),
  wsExecutionDelayMs: z.number().int().min(0).max(60_000).optional(),
});

const Endpoint = z.enum(['public', 'private', 'trade']);
export const WsAction = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('drop'), endpoint: Endpoint.optional() }),
  z.strictObject({ action: z.literal('stall'), endpoint: Endpoint.optional(), ms: z.number().int().min(1).max(600_000) }),
]);

export interface AdminActions {
  drop(endpoint: z.infer<typeof Endpoint> | undefined): number;
  stall(endpoint: z.infer<typeof Endpoint> | undefined, ms: number): number;
}
export type FaultsUpdate = z.infer<typeof FaultsUpdate>;

export const ADMIN_PREFIX = '/sim/admin/';

export function handleAdmin(path: string, method: string, body: string, faults: Record<keyof FaultsUpdate, unknown>, actions: AdminActions | undefined, response: ServerResponse): void {
  const { status, value } = adminReply(path, method, body, faults, actions);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(value));
}

function adminReply(path: string, method: string, body: string, faults: Record<keyof FaultsUpdate, unknown>, actions: AdminActions | undefined): { status: number; value: unknown } {
  const isFaults = path === `${ADMIN_PREFIX}faults`;
  if (!isFaults && path !== `${ADMIN_PREFIX}ws`) return { status: 404, value: { error: `unknown admin path ${path}` } };
  if (method === 'GET' && isFaults) return { status: 200, value: faults };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { status: 400, value: { error: 'the body must be JSON' } };
  }
  if (!isFaults) {
    const action = WsAction.safeParse(parsed);
    if (!action.success) return { status: 400, value: { error: action.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`) } };
    if (!actions) return { status: 404, value: { error: 'no WebSocket gateway' } };
    const affected = action.data.action === 'drop' ? actions.drop(action.data.endpoint) : actions.stall(action.data.endpoint, action.data.ms);
    return { status: 200, value: { affected } };
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
