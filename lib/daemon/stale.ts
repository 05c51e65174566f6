/**
 * Files a killed daemon leaves behind. A daemon whose socket has a fixed name (mroute, relay,
 * gateway, client) clears its predecessor's at start: the lock is free, the socket refuses
 * connections, so `InstanceLock.acquire` removes it. A daemon whose socket is named by its pid
 * (lacp: several run side by side) never meets its predecessor's name again, so it sweeps
 * them: each `<prefix><pid>.sock` and `.lock` whose pid is gone is removed, through the same
 * lock, which proves nobody serves it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage } from "../errors.ts";
import { InstanceLock, runDir, SOCKET_SUFFIX } from "../ipc/mod.ts";
import { processAlive } from "./stop.ts";

const log = getLogger(["netkit", "daemon"]);

/**
 * Removes the control sockets and lock files `<dir>/<prefix><pid>.sock[.lock]` of processes
 * that are gone. Returns how many sockets were cleared.
 */
export async function removeStalePidSockets(prefix: string, dir = runDir()): Promise<number> {
  const pids = new Set<number>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith(prefix)) continue;
      const rest = entry.name.slice(prefix.length);
      const m = /^([0-9]{1,10})\.sock(?:\.lock)?$/.exec(rest);
      if (m !== null && !processAlive(Number(m[1]))) pids.add(Number(m[1]));
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  let cleared = 0;
  for (const pid of pids) {
    const path = `${dir}/${prefix}${pid}${SOCKET_SUFFIX}`;
    try {
      // Taking the lock proves no one serves the path; acquiring clears a refusing socket and
      // releasing removes the lock file.
      const lock = await InstanceLock.acquire(path);
      await lock.release();
      cleared++;
      log.info("Removed {path} and its lock, left by pid {pid}, which is gone", {
        path,
        pid,
      });
    } catch (err) {
      log.debug("Left {path} alone: {error}", { path, error: errorMessage(err) });
    }
  }
  return cleared;
}
