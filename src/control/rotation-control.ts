/**
 * Where `npm run secrets` reaches the rotation (src/control/secrets-cli.ts): on AWS, the stage's rotation
 * Lambda (Invoke) and Secrets Manager (RotateSecret, and the break-glass put); locally, the local stack's
 * rotation server (src/local/rotation-server.ts) over loopback HTTP.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretVersionsStore } from '../adapters/secrets/secret-versions.js';
import { resourceNames } from '../resources/definitions.js';
import type { RotationControl } from './secrets-cli.js';

export function awsRotationControl(target: { readonly stage: string; readonly region: string | undefined }): RotationControl {
  const config = target.region === undefined ? {} : { region: target.region };
  const lambda = new LambdaClient(config);
  const secrets = new SecretsManagerClient(config);
  const names = resourceNames(target.stage);
  const functionName = `mmrb-${target.stage}-secret-rotation`;
  return {
    invoke: async (action) => {
      const answer = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(action)) }));
      const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : 'null';
      const body: unknown = JSON.parse(text);
      if (answer.FunctionError !== undefined) {
        const failure = body as { errorType?: string; errorMessage?: string } | null;
        throw new Error(`${functionName} failed: ${failure?.errorType ?? answer.FunctionError}: ${failure?.errorMessage ?? text}`);
      }
      return body;
    },
    // Secrets Manager invokes the function for the four steps, asynchronously; status shows the progress.
    rotate: async () => {
      const answer = await secrets.send(new RotateSecretCommand({ SecretId: names.secrets.tradingKey }));
      return { started: true, secret: answer.Name, versionId: answer.VersionId };
    },
    putCurrent: (value) => new SecretVersionsStore({ client: secrets, requestTimeoutMs: 10_000 }).putCurrent(names.secrets.tradingKey, value),
  };
}

export function httpRotationControl(url: string, fetchImpl: typeof fetch = fetch): RotationControl {
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const response = await fetchImpl(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${url}${path} answered HTTP ${response.status.toString()} with something not JSON`);
    }
    if (!response.ok) throw new Error((parsed as { error?: string }).error ?? `HTTP ${response.status.toString()}`);
    return parsed;
  };
  return {
    invoke: (action) => post('/invoke', action),
    rotate: () => post('/rotate', {}),
    putCurrent: async (value) => ((await post('/put-key', { value })) as { versionId: string }).versionId,
  };
}
