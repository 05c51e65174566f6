/**
 * netkit's error types. Every module may import this one (it sits beside `ffi/` at the bottom
 * of the layers). Messages follow the house style: sentence case, no trailing period, values
 * quoted, and what to do when there is something to do.
 *
 * @module
 */

import { errnoMessage, errnoName } from "../ffi/errno.ts";

/**
 * Process exit codes, as iproute2 users expect: 1 for runtime failures, 2 for usage errors;
 * 141 (128 + SIGPIPE) when whoever read our output stopped reading.
 */
export const ExitCode = { OK: 0, RUNTIME: 1, USAGE: 2, BROKEN_PIPE: 141 } as const;

/** Options for {@linkcode NetkitError}. */
export interface NetkitErrorOptions {
  /**
   * Process exit code when this error ends the program (default {@linkcode ExitCode.RUNTIME}).
   * Only `lib/cli` chooses one; it maps {@linkcode InvalidInputError} to 2 itself.
   */
  exitCode?: number;
  /** The error that caused this one. */
  cause?: unknown;
}

/** A failure the user should see as one line, with the exit code it implies. */
export class NetkitError extends Error {
  /** `"NetkitError"`, as stack traces and logs show it. */
  override name = "NetkitError";
  /** Exit code for the process when this error ends it; see `exitCodeOf` in `lib/cli/errors.ts`. */
  readonly exitCode: number;

  /** Creates an error with a user-facing `message`. */
  constructor(message: string, options: NetkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.RUNTIME;
  }
}

/**
 * Input netkit refuses before acting on it: a name, value, rule or file that is not valid. It
 * says nothing about exit codes: `lib/cli/errors.ts` decides what it means for the process
 * (exit 2, as for bad command-line usage), whatever layer found the problem. `message` names
 * the offending value and what is expected.
 */
export class InvalidInputError extends NetkitError {
  /** `"InvalidInputError"`, as stack traces and logs show it. */
  override name = "InvalidInputError";

  /** Creates the error; `message` names the offending value and what would be valid. */
  constructor(message: string, options: Omit<NetkitErrorOptions, "exitCode"> = {}) {
    super(message, options);
  }
}

/** A system call that failed: carries the operation and the errno, e.g. `ENODEV`. */
export class NetkitOsError extends NetkitError {
  /** `"NetkitOsError"`, as stack traces and logs show it. */
  override name = "NetkitOsError";
  /** What netkit was doing, e.g. `open packet socket on "eth9"`. */
  readonly op: string;
  /** The positive errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `"ENODEV"`. */
  readonly code: string;

  /** Creates the error for operation `op` failing with positive `errno`. */
  constructor(op: string, errno: number) {
    super(`${op}: ${errnoName(errno)} (${errnoMessage(errno)})`);
    this.op = op;
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/**
 * Turns a libnetkit return value into a result: `rc >= 0` is returned, `-errno` is thrown as a
 * {@linkcode NetkitOsError} for operation `op`.
 */
export function unwrap(rc: number, op: string): number {
  if (rc < 0) throw new NetkitOsError(op, -rc);
  return rc;
}

/** The message of anything thrown, for one-line reports. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
