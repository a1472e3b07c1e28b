/**
 * The freeze API on loopback, for the local stack and tests: a node:http server that turns each request
 * into the API Gateway REST proxy event (v1) the Lambda receives, as the principal configured here (locally
 * nobody signs; on AWS, API Gateway's IAM authorisation names the caller), and writes back the handler's
 * answer. Bodies over 1 MB are refused at the socket; the handler's own 413 (4 KiB) is the real limit.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface FreezeApiServerOptions {
  readonly handler: ProxyHandler;
  /** 0: a free port. */
  readonly port: number;
  /** Loopback only, by default 127.0.0.1. */
  readonly host?: string;
  /** The IAM principal ARN every request is made as (requestContext.identity.userArn). */
  readonly principalArn: string;
}

export interface FreezeApiServer {
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

/** Bodies larger than this are refused before the handler sees them. */
export const MAX_SOCKET_BODY_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SOCKET_BODY_BYTES) {
        // Stop reading; the caller answers 413 and then closes the connection.
        request.removeAllListeners('data');
        request.pause();
        reject(new BodyTooLarge(`more than ${MAX_SOCKET_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** The proxy event API Gateway would send for this request (REST API, proxy integration, stage `local`). */
export function proxyEventOf(input: { method: string; url: string; rawHeaders: readonly string[]; body: Buffer; principalArn: string; sourceIp: string }): APIGatewayProxyEvent {
  const url = new URL(input.url, 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let index = 0; index + 1 < input.rawHeaders.length; index += 2) {
    const name = input.rawHeaders[index] ?? '';
    const value = input.rawHeaders[index + 1] ?? '';
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiValueQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiValueQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const now = Date.now();
  const requestId = randomUUID();
  return {
    resource: url.pathname,
    path: url.pathname,
    httpMethod: input.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: input.body.length === 0 ? null : input.body.toString('utf8'),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: input.method,
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: url.pathname,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: input.sourceIp,
        user: null,
        userAgent: headers['user-agent'] ?? headers['User-Agent'] ?? null,
        userArn: input.principalArn,
      },
    },
  };
}

/** A Lambda context for a local invocation. */
function localContext(requestId: string): Context {
  const deadline = Date.now() + 30_000;
  // done, fail and succeed are the long-deprecated callback API; nothing here calls them.
  const context: Omit<Context, 'done' | 'fail' | 'succeed'> = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'freeze-api-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:freeze-api-local',
    memoryLimitInMB: '256',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/freeze-api-local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  return context as Context;
}

function writeJson(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, { 'content-type': 'application/json', connection: 'close' });
  response.end(JSON.stringify(body));
}

/** Serves the handler on loopback; resolves once it listens. */
export async function startFreezeApiServer(options: FreezeApiServerOptions): Promise<FreezeApiServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(request);
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          response.once('finish', () => request.destroy());
          writeJson(response, 413, { message: `Request Too Long: ${error.message}` });
        } else {
          response.destroy();
        }
        return;
      }
      const event = proxyEventOf({ method: request.method ?? 'GET', url: request.url ?? '/', rawHeaders: request.rawHeaders, body, principalArn: options.principalArn, sourceIp: request.socket.remoteAddress ?? '127.0.0.1' });
      let result: APIGatewayProxyResult;
      try {
        result = await options.handler(event, localContext(event.requestContext.requestId));
      } catch {
        // What API Gateway answers when the integration fails.
        writeJson(response, 502, { message: 'Internal server error' });
        return;
      }
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
      response.writeHead(result.statusCode, headers);
      response.end(result.isBase64Encoded === true ? Buffer.from(result.body, 'base64') : result.body);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
