/**
 * SIGHUP for every netkit daemon (lacp, mroute, relay, gateway, client): it never kills one.
 * The default action of SIGHUP is to end the process with no cleanup, leaving its control
 * socket and lock file behind; in Deno, registering a listener is what turns that default off.
 * On SIGHUP the log file is reopened (logrotate renames it, then signals) and the daemon's own
 * `reload()` runs (the relay rereads its rooms file, mroute its state file); one line says what
 * was done.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage } from "../errors.ts";
import { reopenLogFile } from "../log.ts";

const log = getLogger(["netkit", "daemon"]);

/**
 * What a daemon reloads on SIGHUP besides its log file: returns what was done, in words ("reread
 * rooms file /etc/netkit/rooms.json: 3 rooms"). A throw is logged and the daemon goes on with
 * what it had.
 */
export type ReloadHook = () => string | Promise<string>;

async function onHangup(reload: ReloadHook | undefined): Promise<void> {
  // After the reopen, so the line lands in the new file.
  const done = [reopenLogFile()];
  if (reload !== undefined) {
    try {
      done.push(await reload());
    } catch (err) {
      done.push(`reload failed, kept what was loaded: ${errorMessage(err)}`);
    }
  }
  log.info("SIGHUP: {done}", { done: done.join("; ") });
}

/**
 * Handles SIGHUP as described above until disposed: `using _hangup = handleHangup(reload);`
 * around a daemon's run (the daemon loop of lib/daemon/loop.ts does this for every daemon).
 */
export function handleHangup(reload?: ReloadHook): Disposable {
  // A listener of its own, so that nested holders each remove only theirs.
  const listener = () => void onHangup(reload);
  Deno.addSignalListener("SIGHUP", listener);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", listener) };
}
