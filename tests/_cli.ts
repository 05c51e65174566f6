/**
 * Running netkit's CLI in tests: in-process (`cli`), as the tests of its commands do, or as the
 * built `./netkit` executable (`netkit`), as a user would.
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

const decoder = new TextDecoder();

/** Runs the built `./netkit` (launcher or compiled binary) to completion with `env` added. */
export function netkit(
  args: string[],
  env: Record<string, string> = {},
): { code: number; out: string; err: string } {
  const out = new Deno.Command("./netkit", { args, env, stdout: "piped", stderr: "piped" })
    .outputSync();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}
