/**
 * `-k`, the same for every daemon: stop the daemons a CLI found on their control sockets. The
 * pid each reply names is checked against the kernel's record of who holds that socket's lock
 * (`verifySocketOwner`, lib/ipc) before any is signalled, so a fake socket cannot make netkit
 * signal an unrelated process; then SIGTERM, and a wait for each to be gone from /proc.
 *
 * @module
 */

import { z } from "zod";
import { delay } from "../async.ts";
import { NetkitError } from "../errors.ts";
import type { Schema } from "../zod_exact.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";

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
  // Loaded here, not above: the lock's module loads libnetkit, which `-s` never needs.
  const { verifySocketOwner } = await import("../ipc/instance_lock.ts");
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

/**
 * What `-k` reads of a status reply that says nothing else it needs: the daemon's pid, which
 * every daemon's status reply carries (mroute's SHOW, the relay's status, ...). Built on first
 * use (`z.lazy`), like the contracts' schemas: `-s` never needs it.
 */
export const PidReply: Schema<{ pid: number }> = z.lazy(() =>
  z.looseObject({
    pid: z.number().int().positive(),
  })
);

/** A daemon that answered on its control socket, with what it answered. */
export interface AnsweringDaemon<S> {
  /** Its control socket. */
  path: string;
  /** Its reply, checked against the contract's schema. */
  status: S;
}

/**
 * Asks the daemon on each of `paths` with `ask` (a checked request), in order. A socket with no
 * daemon behind it (left by a killed one; the next daemon to start there removes it) is
 * skipped, as is one `ask` answers null for (not one the caller wants).
 */
export async function askDaemons<S>(
  paths: readonly string[],
  ask: (path: string) => Promise<S | null>,
): Promise<AnsweringDaemon<S>[]> {
  const found: AnsweringDaemon<S>[] = [];
  for (const path of paths) {
    let status: S | null;
    try {
      status = await ask(path);
    } catch (err) {
      if (err instanceof DaemonUnreachableError) continue;
      throw err;
    }
    if (status !== null) found.push({ path, status });
  }
  return found;
}

/** What `-k` of one daemon command needs to know. */
export interface KillOptions<S extends { pid: number }> {
  /** The daemon's name in what is printed: `relay` gives `Stopped netkit relay daemon PID`. */
  name: string;
  /** The control sockets of the daemons to stop (all of this namespace's, or the one asked for). */
  paths: readonly string[] | Promise<readonly string[]>;
  /** Its status request on one socket, the reply checked (null: not one to stop). */
  ask: (path: string) => Promise<S | null>;
  /** What tells the daemon apart, in brackets after its pid: its interfaces, its socket. */
  describe: (status: S, path: string) => string;
  /** Where the result lines go (standard output). */
  out: (text: string) => void;
}

/**
 * `-k` of every daemon command: asks each daemon on `paths` for its status, stops them all with
 * {@linkcode stopDaemons} (so only a pid that holds its socket's lock is signalled) and prints
 * one line per daemon stopped (by pid), or that none runs.
 */
export async function killDaemons<S extends { pid: number }>(
  options: KillOptions<S>,
): Promise<void> {
  const daemons = (await askDaemons(await options.paths, options.ask))
    .sort((a, b) => a.status.pid - b.status.pid);
  if (daemons.length === 0) {
    options.out(`No netkit ${options.name} daemon is running in this network namespace\n`);
    return;
  }
  // The pid comes from a reply, which a fake socket can make anything: stopDaemons checks each
  // against the kernel's record of who holds the socket's lock before any is signalled.
  await stopDaemons(
    daemons.map((d) => ({ path: d.path, pid: d.status.pid, status: d.status })),
    ({ path, status }) =>
      options.out(
        `Stopped netkit ${options.name} daemon ${status.pid} (${options.describe(status, path)})\n`,
      ),
  );
}
