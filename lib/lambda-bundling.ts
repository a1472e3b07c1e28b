/**
 * How every Lambda is bundled, in one place: the CDK's NodejsFunction (lib/) and the bundle benchmark
 * (`npm run bench -- bundles`) both read these settings, so the bundle measured is the bundle deployed.
 *
 * ESM, because @middy/core is ESM-only; the banner gives CommonJS dependencies the `require` they expect.
 * The AWS SDK is bundled rather than taken from the runtime: the function runs the client versions the
 * tests ran, and the bundle carries only the commands it uses.
 */
import { fileURLToPath } from 'node:url';

export type LambdaId = 'riskEvaluator' | 'freezeApi' | 'secretRotation';

export interface LambdaEntry {
  readonly id: LambdaId;
  /** Entry file, relative to the repository root. */
  readonly entry: string;
  /** The handler export in the entry file. */
  readonly handler: string;
}

export const LAMBDA_ENTRIES: Readonly<Record<LambdaId, LambdaEntry>> = {
  riskEvaluator: { id: 'riskEvaluator', entry: 'lambdas/risk-evaluator.ts', handler: 'handler' },
  freezeApi: { id: 'freezeApi', entry: 'lambdas/freeze-api.ts', handler: 'handler' },
  secretRotation: { id: 'secretRotation', entry: 'lambdas/secret-rotation.ts', handler: 'handler' },
};

export const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The settings both NodejsFunction and the benchmark's esbuild call are built from. */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  /** Node 22 everywhere: the Lambda runtime is nodejs22.x. */
  target: 'node22',
  minify: true,
  sourceMap: true,
  /** Sources are not embedded in the map: the stack traces need line numbers, not the source text. */
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: "import { createRequire as __mmrbCreateRequire } from 'node:module'; const require = __mmrbCreateRequire(import.meta.url);",
  externalModules: [] as string[],
} as const;
