/**
 * `-k`, the same for every daemon: stop the daemons a CLI found on their control sockets. The
 * pid each reply names is checked against the kernel's record of who holds that socket's lock
 * (`verifySocketOwner`, lib/ipc) before any is signalled, so a fake socket cannot make netkit
 * signal an unrelated process; then SIGTERM, and a wait for each to be gone from /proc.
 *
 * @module
 */

import { delay } from "../async.ts";
import { NetkitError } from "../errors.ts";
import { verifySocketOwner } from "../ipc/mod.ts";

/** How long `-k` waits for the daemons to exit after SIGTERM. */
export const STOP_WAIT_MS = 5000;

/** A daemon to stop: its control socket and the pid it gave. */
export interface RunningDaemon {
  /** Its control socket. */
  path: string;
  /** The pid its reply named. */
  pid: number;
}

/** Whether process `pid` still runs (a zombie has finished). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Verifies every daemon's pid against its socket's lock, sends each SIGTERM and waits up to
 * {@linkcode STOP_WAIT_MS}, calling `stopped` for each one gone, in order. Throws before
 * signalling anyone when a pid does not hold its lock, and after the wait when one still runs.
 */
export async function stopDaemons<T extends RunningDaemon>(
  daemons: readonly T[],
  stopped: (daemon: T) => void,
): Promise<void> {
  for (const d of daemons) await verifySocketOwner(d.path, d.pid);
  for (const d of daemons) Deno.kill(d.pid, "SIGTERM");
  const deadline = performance.now() + STOP_WAIT_MS;
  let running = daemons.filter((d) => processAlive(d.pid));
  while (running.length > 0 && performance.now() < deadline) {
    await delay(50);
    running = running.filter((d) => processAlive(d.pid));
  }
  for (const d of daemons) if (!running.includes(d)) stopped(d);
  if (running.length > 0) {
    throw new NetkitError(
      `${running.map((d) => `pid ${d.pid}`).join(", ")} did not stop within ${
        STOP_WAIT_MS / 1000
      } s of SIGTERM; stop it with kill -9`,
    );
  }
}
