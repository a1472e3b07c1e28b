/**
 * Secrets Manager's side of a rotation, played on the emulator, for the local stack and the tests: moto
 * cannot run our Lambda (it needs Docker, and even then it runs the steps once, synchronously, ignoring
 * their errors: docs/TESTING.md). So this does what AWS does:
 *   - a rotation still under way (AWSPENDING on another version than AWSCURRENT) blocks a new one and is
 *     attempted again under its own token ("A previous rotation isn't complete. That rotation will be
 *     reattempted.");
 *   - otherwise RotateSecret on the emulator creates the token's AWSPENDING version without a value, as AWS
 *     does before it calls the function;
 *   - the four steps are invoked in order, and when one fails the whole rotation is attempted again with the
 *     same token, a few times ("Secrets Manager retries the entire rotation process multiple times").
 * The function the emulator is told about is a placeholder (its Lambda runs no code here); the steps go to
 * the handler passed in, the deployed one.
 */
import { randomUUID } from 'node:crypto';
import { CreateRoleCommand, EntityAlreadyExistsException, type IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, GetFunctionCommand, type LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { RotateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STAGES, SecretVersionsStore, versionWith } from '../adapters/secrets/secret-versions.js';
import { ROTATION_STEPS, type RotationEvent, RotationError } from '../control/secret-rotation.js';

export interface RotationFunctionOptions {
  readonly lambda: LambdaClient;
  /** The emulator's IAM: a function needs a role Lambda may assume. */
  readonly iam: IAMClient;
  /** The emulator's endpoint (its Lambda is switched to the backend that runs nothing). */
  readonly motoEndpoint: string;
  readonly functionName: string;
}

/** Registers the rotation function with the emulator, once; returns its ARN. */
export async function ensureRotationFunction(options: RotationFunctionOptions): Promise<string> {
  const config = await fetch(new URL('/moto-api/config', options.motoEndpoint), { method: 'POST', body: JSON.stringify({ lambda: { use_docker: false } }) });
  if (!config.ok) throw new Error(`the emulator refused its Lambda configuration: HTTP ${config.status.toString()}`);
  try {
    const existing = await options.lambda.send(new GetFunctionCommand({ FunctionName: options.functionName }));
    if (existing.Configuration?.FunctionArn !== undefined) return existing.Configuration.FunctionArn;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const roleName = `${options.functionName}-role`;
  let roleArn: string | undefined;
  try {
    const role = await options.iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      }),
    );
    roleArn = role.Role?.Arn;
  } catch (error) {
    if (!(error instanceof EntityAlreadyExistsException)) throw error;
  }
  roleArn ??= `arn:aws:iam::123456789012:role/${roleName}`;
  const created = await options.lambda.send(
    new CreateFunctionCommand({
      FunctionName: options.functionName,
      Runtime: 'nodejs22.x',
      Role: roleArn,
      Handler: 'index.handler',
      // A placeholder: the emulator only needs a function to exist; the steps run in this process.
      Code: { ZipFile: EMPTY_ZIP },
    }),
  );
  if (created.FunctionArn === undefined) throw new Error(`the emulator created ${options.functionName} without an ARN`);
  return created.FunctionArn;
}

/** A zip archive with no entries (the end-of-central-directory record alone). */
const EMPTY_ZIP = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);

export interface LocalRotationOptions {
  readonly secrets: SecretsManagerClient;
  readonly secretId: string;
  readonly functionArn: string;
  /** The rotation function's handler, given each step's event. */
  readonly invoke: (event: RotationEvent) => Promise<unknown>;
  /** Attempts of the whole rotation under one token. */
  readonly attempts: number;
  readonly retryDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told of every step's outcome (tests, the CLI's progress). */
  readonly onStep?: (step: RotationEvent['Step'], attempt: number, error: unknown) => void;
  readonly requestTimeoutMs?: number;
}

export interface LocalRotationReport {
  readonly token: string;
  /** finished: the new key is AWSCURRENT; rolled-back: the function gave it up; failed: every attempt failed. */
  readonly outcome: 'finished' | 'rolled-back' | 'failed';
  /** A rotation left under way was attempted again instead of starting a new one. */
  readonly resumed: boolean;
  readonly attempts: number;
  readonly error?: string;
}

export async function rotateLocally(options: LocalRotationOptions): Promise<LocalRotationReport> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const store = new SecretVersionsStore({ client: options.secrets, requestTimeoutMs: options.requestTimeoutMs ?? 5_000 });
  const versions = await store.describe(options.secretId);
  const pending = versionWith(versions, STAGES.pending);
  const resumed = pending !== undefined && pending !== versionWith(versions, STAGES.current);
  let token: string;
  if (resumed) {
    token = pending;
  } else {
    token = randomUUID();
    await options.secrets.send(
      new RotateSecretCommand({ SecretId: options.secretId, ClientRequestToken: token, RotationLambdaARN: options.functionArn, RotationRules: { AutomaticallyAfterDays: 90 } }),
    );
  }
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    try {
      for (const step of ROTATION_STEPS) {
        try {
          await options.invoke({ Step: step, SecretId: versions.arn, ClientRequestToken: token });
        } catch (error) {
          options.onStep?.(step, attempt, error);
          throw error;
        }
        options.onStep?.(step, attempt, undefined);
      }
      return { token, outcome: 'finished', resumed, attempts: attempt };
    } catch (error) {
      lastError = error;
      if (error instanceof RotationError && error.rolledBack) return { token, outcome: 'rolled-back', resumed, attempts: attempt, error: error.message };
      if (attempt < options.attempts) await sleep(options.retryDelayMs);
    }
  }
  return { token, outcome: 'failed', resumed, attempts: options.attempts, error: lastError instanceof Error ? lastError.message : String(lastError) };
}
