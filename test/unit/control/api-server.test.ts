/** The loopback server: requests become API Gateway proxy events, answers go back as sent; and the Lambda module's own wiring from the environment. */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type FreezeApiServer, MAX_SOCKET_BODY_BYTES, startFreezeApiServer } from '../../../src/control/api-server.js';

const PRINCIPAL = 'arn:aws:iam::000000000000:user/local';
const servers: FreezeApiServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(answer: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>): Promise<FreezeApiServer> {
  const server = await startFreezeApiServer({ handler: answer, port: 0, principalArn: PRINCIPAL });
  servers.push(server);
  return server;
}

describe('startFreezeApiServer', () => {
  it('hands the handler a REST proxy event as the configured principal, and writes back its answer', async () => {
    const seen: APIGatewayProxyEvent[] = [];
    const server = await serve((event) => {
      seen.push(event);
      return Promise.resolve({ statusCode: 201, headers: { 'content-type': 'application/json' }, multiValueHeaders: { 'x-many': ['a', 'b'] }, body: '{"ok":true}' });
    });
    const answer = await fetch(`${server.url}/freeze?dry=1&dry=2&x=y`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-trace': 't1' }, body: '{"reason":"r"}' });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('x-many')).toBe('a, b');
    expect(await answer.json()).toEqual({ ok: true });
    const [event] = seen;
    expect(event).toMatchObject({
      httpMethod: 'POST',
      path: '/freeze',
      body: '{"reason":"r"}',
      isBase64Encoded: false,
      queryStringParameters: { dry: '2', x: 'y' },
      multiValueQueryStringParameters: { dry: ['1', '2'], x: ['y'] },
      requestContext: { stage: 'local', httpMethod: 'POST', identity: { userArn: PRINCIPAL, sourceIp: '127.0.0.1' } },
    });
    expect(event?.headers['x-trace']).toBe('t1');
    expect(event?.multiValueHeaders['x-trace']).toEqual(['t1']);
    expect(event?.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);

    await fetch(`${server.url}/status`);
    expect(seen[1]).toMatchObject({ httpMethod: 'GET', body: null, queryStringParameters: null });
  });

  it('decodes a base64 answer; a handler that throws is a 502 as API Gateway answers it', async () => {
    const base64 = await serve(() => Promise.resolve({ statusCode: 200, isBase64Encoded: true, body: Buffer.from('plain bytes').toString('base64') }));
    expect(await (await fetch(`${base64.url}/status`)).text()).toBe('plain bytes');
    const failing = await serve(() => Promise.reject(new Error('boom')));
    const answer = await fetch(`${failing.url}/status`);
    expect(answer.status).toBe(502);
    expect(await answer.json()).toEqual({ message: 'Internal server error' });
  });

  it('refuses a body over 1 MB before the handler sees it', async () => {
    let calls = 0;
    const server = await serve(() => {
      calls += 1;
      return Promise.resolve({ statusCode: 200, body: '{}' });
    });
    const answer = await fetch(`${server.url}/freeze`, { method: 'POST', body: 'x'.repeat(MAX_SOCKET_BODY_BYTES + 1) }).catch((error: unknown) => error);
    if (answer instanceof Response) expect(answer.status).toBe(413);
    else expect(String(answer)).toMatch(/fetch failed/);
    expect(calls).toBe(0);
  });

  it('says so when the port is taken', async () => {
    const first = await serve(() => Promise.resolve({ statusCode: 200, body: '{}' }));
    const port = Number(new URL(first.url).port);
    await expect(startFreezeApiServer({ handler: () => Promise.resolve({ statusCode: 200, body: '{}' }), port, principalArn: PRINCIPAL })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('the Lambda module', () => {
  it('builds its handler from MMRB_CONTROL_SETTINGS on the first call, and refuses bad settings', async () => {
    const saved = { ...process.env };
    try {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
      process.env.AWS_REGION = 'ap-southeast-1';
      const { handler, handlerFromEnvironment } = await import('../../../lambdas/freeze-api.js');
      expect(() => handlerFromEnvironment({ MMRB_CONTROL_SETTINGS: '{"stage":"x"}' })).toThrow(/MMRB_CONTROL_SETTINGS: shards/);
      process.env.MMRB_CONTROL_SETTINGS = JSON.stringify({
        stage: 'unit',
        shards: { a: ['BTCUSDT'] },
        venue: { restUrl: 'http://127.0.0.1:1', credentialsSecretId: 'mmrb/unit/trading-key' },
        risk: { limits: {} },
      });
      const event = { httpMethod: 'GET', path: '/nope', headers: {}, body: null, isBase64Encoded: false, requestContext: { identity: { userArn: PRINCIPAL } } } as unknown as APIGatewayProxyEvent;
      const context = { functionName: 'freeze-api', awsRequestId: 'r1', getRemainingTimeInMillis: () => 1_000 } as unknown as Parameters<typeof handler>[1];
      const answer = await handler(event, context);
      expect(answer).toMatchObject({ statusCode: 404, headers: { 'content-type': 'application/json' } });
    } finally {
      process.env = saved;
    }
  });
});
