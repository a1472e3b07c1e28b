/** What the operators' command lines (`npm run ops`, `npm run secrets`) share: options, usage errors and --help. */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** An argument list that does not make a command; its message says what is wrong. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOutput {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/**
 * The command `parse` makes of the arguments, or the exit code once the usage is printed: 0 when help was
 * asked for (`parse` gave undefined), 2 after a usage error (named above the usage). Other errors propagate.
 */
export function commandOrExit<T>(parse: () => T | undefined, usage: string, io: CliOutput): { readonly command: T } | { readonly exitCode: number } {
  let command: T | undefined;
  try {
    command = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`error: ${error.message}\n\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (command === undefined) {
    io.stdout(`${usage}\n`);
    return { exitCode: 0 };
  }
  return { command };
}

/** The options and positionals of an argument list (strict: an unknown option is a UsageError). */
export function parseOptions<const T extends ParseArgsOptionsConfig>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
