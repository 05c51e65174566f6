/**
 * Where CLI output goes. Commands write through a {@linkcode CliIo} so tests can capture it.
 *
 * @module
 */

import { streamWriter } from "../output.ts";

/** Output channels for one CLI run. */
export interface CliIo {
  /** Writes to standard output (results). */
  out(text: string): void;
  /** Writes to standard error (errors, diagnostics). */
  err(text: string): void;
}

/** The process's stdout and stderr, written synchronously. */
export const PROCESS_IO: CliIo = {
  out: streamWriter(Deno.stdout),
  err: streamWriter(Deno.stderr),
};
