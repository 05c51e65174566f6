/**
 * How netkit starts itself again, for daemons that detach with `-d`: the compiled binary is its
 * own executable; the launcher says where it is in `NETKIT_EXE`. The parent runs the same
 * command line with `--detached-child` in a new session and waits until the child says it
 * serves (or fails, whose error becomes the parent's).
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import { redirectStdioToDevNull } from "../net/stdio.ts";
import type { CliIo } from "./io.ts";

/** The program to run to get another netkit, with the same runtime and permissions. */
export function selfExecutable(): string {
  if (Deno.build.standalone) return Deno.execPath();
  const exe = Deno.env.get("NETKIT_EXE");
  if (exe) return exe;
  throw new NetkitError(
    "Cannot start netkit again from here: run it as ./netkit (or the compiled binary) to use -d",
  );
}

/** The line a detached child writes once it serves, before it lets go of stderr. */
export const DETACHED_READY = "netkit: detached daemon ready";

/**
 * `-d` in the parent: runs `args` again plus `--detached-child` in a new session and returns once
 * the child serves; when the child fails first, its error is thrown with its exit code.
 */
export async function runDetached(io: CliIo, args: readonly string[]): Promise<void> {
  const child = new Deno.Command(selfExecutable(), {
    args: [...args, "--detached-child"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  // End of file comes when the child lets go of stderr (ready) or exits (failed).
  const text = await new Response(child.stderr).text();
  if (text.split("\n").includes(DETACHED_READY)) {
    child.unref();
    const before = text.slice(0, text.indexOf(DETACHED_READY));
    if (before) io.err(before);
    return;
  }
  const status = await child.status;
  io.err(text.replace(/^netkit: error: .*\n?/m, ""));
  const line = /^netkit: error: (.*)$/m.exec(text)?.[1];
  throw new NetkitError(
    line ?? `The detached daemon exited with code ${status.code} before serving`,
    {
      exitCode: status.code === 0 ? 1 : status.code,
    },
  );
}

/**
 * `-d` in the child, once it serves: tells the parent, then points every copy of the standard
 * streams at /dev/null so the parent sees end of file and the child no terminal.
 */
export function announceDetached(): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`${DETACHED_READY}\n`));
  redirectStdioToDevNull();
}
