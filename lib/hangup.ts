/**
 * SIGHUP for every netkit daemon (lacp, mroute, relay, gateway, client): it never kills one.
 * The default action of SIGHUP is to end the process with no cleanup, leaving its control
 * socket and lock file behind; in Deno, registering a listener is what turns that default off.
 * What a daemon can reload on SIGHUP is its log file (logrotate renames it, then signals), so
 * that is reopened, and one line says what was done.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { reopenLogFile } from "./log.ts";

const log = getLogger(["netkit", "daemon"]);

function onHangup(): void {
  // After the reopen, so the line lands in the new file.
  const done = reopenLogFile();
  log.info("SIGHUP: {done}", { done });
}

/**
 * Handles SIGHUP as described above until disposed: `using _hangup = handleHangup();` around a
 * daemon's run.
 */
export function handleHangup(): Disposable {
  // A listener of its own, so that nested holders each remove only theirs.
  const listener = () => onHangup();
  Deno.addSignalListener("SIGHUP", listener);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", listener) };
}
