/**
 * Configuration problems, each named by the dotted path (or environment variable) it is about, collected
 * so that one run reports all of them instead of one per attempt.
 */
import type * as z from 'zod';
import { dottedPath } from './tree.js';

export interface ConfigProblem {
  /** Dotted path of the setting (`risk.maxOpenOrders`), the environment variable, or the file. */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(['invalid configuration:', ...problems.map((problem) => `  ${problem.path}: ${problem.message}`)].join('\n'));
  }
}

/**
 * Zod issues as problems at full dotted paths; an unknown key becomes `<section>.<key>: unknown key`.
 * The issues must come from a parse with `reportInput: true`, which is how a missing value is told apart.
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly string[] = []): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: dottedPath([...path, key]), message: 'unknown key' }));
    return [{ path: dottedPath(path), message: issueMessage(issue) }];
  });
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  if (issue.code === 'invalid_key') return `invalid key: ${issue.issues.map((inner) => inner.message).join('; ')}`;
  return issue.message;
}
