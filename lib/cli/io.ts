/**
 * Where CLI output goes. Commands write through a {@linkcode CliIo} so tests can capture it.
 *
 * @module
 */

/** Output channels for one CLI run. */
export interface CliIo {
  /** Writes to standard output (results). */
  out(text: string): void;
  /** Writes to standard error (errors, diagnostics). */
  err(text: string): void;
}

const encoder = new TextEncoder();

/** The process's stdout and stderr, written synchronously. */
export const PROCESS_IO: CliIo = {
  out(text) {
    Deno.stdout.writeSync(encoder.encode(text));
  },
  err(text) {
    Deno.stderr.writeSync(encoder.encode(text));
  },
};
