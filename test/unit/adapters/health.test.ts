import { afterEach, describe, expect, it } from '@jest/globals';
import { dec } from '../../../src/core/decimal.js';
import { type HealthServer, type HealthSource, startHealthServer, statusJson } from '../../../src/adapters/health/server.js';

let server: HealthServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(source: HealthSource): Promise<string> {
  server = await startHealthServer({ port: 0, host: '127.0.0.1', source });
  return server.url;
}

describe('health endpoints', () => {
  it('report liveness, readiness with reasons, and the status document', async () => {
    let ready = false;
    const url = await serve({
      live: () => true,
      ready: () => ({ ready, reasons: ready ? [] : ['private stream not synced', 'reconciliation pending'] }),
      status: () => ({ position: 12n, pnl: dec('1.25'), frozen: false }),
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const notReady = await fetch(`${url}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reasons: ['private stream not synced', 'reconciliation pending'] });
    ready = true;
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect(await (await fetch(`${url}/status`)).json()).toEqual({ position: '12', pnl: '1.25', frozen: false });
  });

  it('say stopped, refuse other methods and paths, and turn a failing status into 500', async () => {
    const url = await serve({
      live: () => false,
      ready: () => ({ ready: false, reasons: [] }),
      status: () => {
        throw new Error('status broke');
      },
    });
    expect((await fetch(`${url}/health`)).status).toBe(503);
    expect((await fetch(`${url}/health`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const broken = await fetch(`${url}/status`);
    expect(broken.status).toBe(500);
    expect(await broken.json()).toEqual({ error: 'status broke' });
  });

  it('answer 500 for a status document that cannot be written, and keep serving', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const url = await serve({ live: () => true, ready: () => ({ ready: true, reasons: [] }), status: () => cyclic });
    expect((await fetch(`${url}/status`)).status).toBe(500);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('write decimals, bigints and maps as JSON', () => {
    expect(statusJson({ a: 1n, b: dec('0.10'), c: new Map([['x', 1]]) })).toBe('{"a":"1","b":"0.1","c":{"x":1}}');
  });
});
