/**
 * The engine's health endpoints, for the container health check and for operators:
 *   GET /health  liveness: 200 while the process loop runs, else 503
 *   GET /ready   200 when connected and reconciled, else 503 with the reasons
 *   GET /status  200 with the engine's status as JSON (decimals and bigints as strings)
 * Anything else is 404 (405 for a method other than GET). It answers from what the engine last knew and
 * never waits on the venue, so a health check cannot hang on a stuck dependency.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSource {
  live(): boolean;
  ready(): { readonly ready: boolean; readonly reasons: readonly string[] };
  status(): unknown;
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

/** JSON for status documents: bigints and objects with a decimal toFixed (big.js) become strings. */
export function statusJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner === 'bigint') return inner.toString();
    if (inner instanceof Map) return Object.fromEntries(inner as Map<string, unknown>) as Record<string, unknown>;
    return inner;
  });
}

/** The answer to one request. Serialising happens here too, so that a bad status document is a 500, not a crash. */
function answer(method: string, path: string, source: HealthSource): { status: number; body: string } {
  const json = (status: number, body: unknown) => ({ status, body: statusJson(body) });
  if (method !== 'GET') return json(405, { error: 'use GET' });
  try {
    if (path === '/health') return source.live() ? json(200, { status: 'ok' }) : json(503, { status: 'stopped' });
    if (path === '/ready') {
      const { ready, reasons } = source.ready();
      return json(ready ? 200 : 503, { ready, reasons });
    }
    if (path === '/status') return json(200, source.status());
    return json(404, { error: `no such endpoint ${path}` });
  } catch (error) {
    return json(500, { error: error instanceof Error ? error.message : 'status failed' });
  }
}

export async function startHealthServer(options: { readonly port: number; readonly host?: string; readonly source: HealthSource }): Promise<HealthServer> {
  const { source } = options;
  const server: Server = createServer((request, response) => {
    const { status, body } = answer(request.method ?? '', (request.url ?? '/').split('?')[0] ?? '/', source);
    response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    response.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}
