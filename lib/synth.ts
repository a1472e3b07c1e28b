/** Helpers of the app's synthesis: its context from cdk.json, and what the synthesis reported. */
import type { cx_api } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';

/** The `context` of a cdk.json file (what the CDK CLI would pass). */
export function cdkJsonContext(file: string): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

export interface Finding {
  readonly level: 'error' | 'warning';
  readonly path: string;
  readonly message: string;
}

/** Every stack of the assembly, those of its stages (nested assemblies) included. */
export function stacksOf(assembly: cx_api.CloudAssembly): cx_api.CloudFormationStackArtifact[] {
  return [...assembly.stacks, ...assembly.nestedAssemblies.flatMap((nested) => stacksOf(nested.nestedAssembly))];
}

/** Errors and warnings of every stack (cdk-nag's findings among them). */
export function findingsOf(assembly: cx_api.CloudAssembly): Finding[] {
  return stacksOf(assembly).flatMap((stack) =>
    stack.messages.flatMap((message): Finding[] => {
      // The level enum's values are these strings (its type moved packages; the values did not).
      const raw: string = message.level;
      const level = raw === 'error' ? 'error' : raw === 'warning' ? 'warning' : undefined;
      const data: unknown = message.entry.data;
      return level === undefined ? [] : [{ level, path: message.id, message: typeof data === 'string' ? data : JSON.stringify(data) }];
    }),
  );
}
