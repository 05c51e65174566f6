/**
 * Runs netkit's CLI in-process, as the tests of its commands do.
 *
 * @module
 */

import type { CliIo } from "../lib/cli/io.ts";
import { run } from "../lib/cli/program.ts";

/** Runs the CLI with `args` and returns its exit code and what it printed. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => out += t, err: (t) => err += t };
  const code = await run(args, io);
  return { code, out, err };
}
