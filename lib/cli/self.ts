/**
 * How netkit starts itself again (a daemon detaching with `-d`): the compiled binary is its own
 * executable; the launcher says where it is in `NETKIT_EXE`.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";

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
