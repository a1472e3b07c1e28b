/**
 * The rotation on loopback, for the local stack (npm start) and the runbook's test: what `npm run secrets
 * -- --local` talks to. Three routes, JSON in and out:
 *   POST /invoke   an event for the rotation Lambda's handler (an operator action) → its answer
 *   POST /rotate   a rotation now, Secrets Manager's side played on the emulator (src/local/rotation-driver.ts)
 *   POST /put-key  {"value": "<secret JSON>"} stored as AWSCURRENT (the break-glass put)
 * A failure answers 500 with {"error": message}; the handler's messages never carry a secret.
 */
import type { Context } from 'aws-lambda';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SecretVersionsStore } from '../adapters/secrets/secret-versions.js';
import { BodyTooLarge, readBody } from '../control/api-server.js';
import { localContext } from './lambda-triggers.js';
import type { LocalRotationReport } from './rotation-driver.js';

export interface RotationServerOptions {
  readonly handler: (event: unknown, context: Context) => Promise<unknown>;
  readonly rotate: () => Promise<LocalRotationReport>;
  readonly secrets: SecretVersionsStore;
  readonly tradingSecretId: string;
  readonly functionName: string;
  readonly region: string;
  /** 0: a free port. */
  readonly port: number;
}

export interface RotationServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startRotationServer(options: RotationServerOptions): Promise<RotationServer> {
  const routes: Record<string, (body: unknown) => Promise<unknown>> = {
    '/invoke': (body) => options.handler(body, localContext(options.functionName, options.region, 60_000)),
    '/rotate': async () => {
      const report = await options.rotate();
      if (report.outcome !== 'finished') throw new Error(`rotation ${report.outcome} after ${report.attempts.toString()} attempt(s): ${report.error ?? 'no error reported'}`);
      return report;
    },
    '/put-key': async (body) => {
      const value = (body as { value?: unknown } | null)?.value;
      if (typeof value !== 'string') throw new Error('expected {"value": "<secret JSON>"}');
      return { versionId: await options.secrets.putCurrent(options.tradingSecretId, value) };
    },
  };
  const server = createServer((request, response) => {
    const answer = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const route = routes[request.url ?? ''];
    if (request.method !== 'POST' || !route) {
      answer(404, { error: `no route ${request.method ?? ''} ${request.url ?? ''}; POST /invoke, /rotate or /put-key` });
      return;
    }
    readBody(request)
      .then(async (raw) => {
        let body: unknown;
        try {
          body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
        } catch {
          answer(400, { error: 'the body is not JSON' });
          return;
        }
        answer(200, await route(body));
      })
      .catch((error: unknown) => {
        answer(error instanceof BodyTooLarge ? 413 : 500, { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port.toString()}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
