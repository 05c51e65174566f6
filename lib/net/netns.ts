/**
 * Network namespaces by name, as `ip netns` manages them under `/run/netns/`.
 *
 * @module
 */

import { cString } from "../../ffi/c_string.ts";
import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, NetkitOsError, UsageError } from "../errors.ts";

/** Where `ip netns add NAME` creates its bind mounts. */
export const NETNS_DIR = "/run/netns";

let entered: string | null = null;

/** Throws a {@linkcode UsageError} unless `name` is a valid `ip netns` name. */
export function validateNetnsName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.length > 255) {
    throw new UsageError(`Invalid network namespace name "${name}"`);
  }
}

/**
 * Moves netkit into network namespace `name`. Call it first thing: it changes the namespace of
 * the JS thread, which is where netkit (and Deno's own networking) opens sockets, so sockets
 * opened before stay in the old namespace. Only one namespace per process.
 * Requires `--allow-ffi` and CAP_SYS_ADMIN.
 */
export function enterNetns(name: string): void {
  validateNetnsName(name);
  if (entered === name) return;
  if (entered !== null) {
    throw new NetkitError(`Already in network namespace "${entered}", cannot also enter "${name}"`);
  }
  const rc = nk.nk_netns_enter(cString(`${NETNS_DIR}/${name}`));
  if (rc === -Errno.ENOENT) {
    throw new NetkitError(
      `Network namespace "${name}" does not exist (no ${NETNS_DIR}/${name}); create it with "ip netns add ${name}"`,
    );
  }
  if (rc < 0) throw new NetkitOsError(`enter network namespace "${name}"`, -rc);
  entered = name;
}

/**
 * Runs `fn` with the JS thread in network namespace `name`, then returns to the namespace it
 * was in. Sockets opened by `fn` stay in `name`; that is the point: a test or a lab can hold
 * sockets in several namespaces at once. `fn` must be synchronous, since any other code that
 * ran in between would run in the wrong namespace. Requires `--allow-ffi` and CAP_SYS_ADMIN.
 */
export function runInNetns<T>(name: string, fn: () => T): T {
  validateNetnsName(name);
  return runAway(() => {
    const rc = nk.nk_netns_enter(cString(`${NETNS_DIR}/${name}`));
    if (rc < 0) throw new NetkitOsError(`enter network namespace "${name}"`, -rc);
  }, fn);
}

/**
 * Runs `fn` with the JS thread in a new, empty network namespace (only a `lo` that is down),
 * then returns to the namespace it was in. The namespace is gone once `fn`'s sockets are closed,
 * which makes it the place for probes that must not disturb the real one (kernel tables created
 * there die with it). Same rules as {@linkcode runInNetns}. Requires `--allow-ffi` and
 * CAP_SYS_ADMIN.
 */
export function runInNewNetns<T>(fn: () => T): T {
  return runAway(() => {
    const rc = nk.nk_netns_unshare();
    if (rc < 0) throw new NetkitOsError("create a network namespace", -rc);
  }, fn);
}

/** Leaves the current namespace with `leave`, runs `fn`, and always comes back. */
function runAway<T>(leave: () => void, fn: () => T): T {
  const home = nk.nk_netns_current();
  if (home < 0) throw new NetkitOsError("open current network namespace", -home);
  try {
    leave();
    let outcome: { value: T } | { error: unknown };
    try {
      outcome = { value: fn() };
    } catch (error) {
      outcome = { error };
    }
    const back = nk.nk_netns_set(home);
    // Carrying on in the wrong namespace would misdirect every later socket.
    if (back < 0) throw new NetkitOsError("return to the original network namespace", -back);
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  } finally {
    nk.nk_close(home);
  }
}

/**
 * The inode identifying the JS thread's network namespace (as in `net:[4026531840]`).
 * Requires `--allow-read=/proc`.
 */
export function currentNetnsId(): number {
  return Deno.statSync("/proc/thread-self/ns/net").ino ?? 0;
}

/** The inode identifying network namespace `name`. Requires `--allow-read=/run/netns`. */
export function netnsId(name: string): number {
  validateNetnsName(name);
  try {
    return Deno.statSync(`${NETNS_DIR}/${name}`).ino ?? 0;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NetkitError(`Network namespace "${name}" does not exist (no ${NETNS_DIR}/${name})`);
    }
    throw err;
  }
}
