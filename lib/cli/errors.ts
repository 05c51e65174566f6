/**
 * How errors end a netkit command: {@linkcode UsageError} for bad command-line usage, and
 * {@linkcode exitCodeOf}, the one place that turns what went wrong into an exit code. The
 * layers below report what went wrong (`lib/errors.ts`); only `lib/cli` knows about exit codes.
 *
 * @module
 */

import { ExitCode, InvalidInputError, NetkitError } from "../errors.ts";

/**
 * Bad command-line usage (an option, an argument, their combination): invalid input found by
 * the command line itself, so it exits 2. `message` should name the offending option or value.
 */
export class UsageError extends InvalidInputError {
  /** `"UsageError"`, as stack traces and logs show it. */
  override name = "UsageError";
  /** Always {@linkcode ExitCode.USAGE}: the CLI chose it. */
  override readonly exitCode: number = ExitCode.USAGE;
}

/**
 * The exit code for `err` ending a command: 2 for input found invalid, by the command line
 * ({@linkcode UsageError}) or any layer below it ({@linkcode InvalidInputError}); a
 * {@linkcode NetkitError}'s own code (1 unless the CLI chose another); 1 for anything else.
 */
export function exitCodeOf(err: unknown): number {
  if (err instanceof InvalidInputError) return ExitCode.USAGE;
  if (err instanceof NetkitError) return err.exitCode;
  return ExitCode.RUNTIME;
}
