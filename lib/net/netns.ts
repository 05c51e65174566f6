/**
 * Network namespaces by name, as `ip netns` manages them under `/run/netns/`: entering one, or
 * running code in one. Names and ids without entering are `netns_names.ts`.
 *
 * @module
 */

import { cString } from "../../ffi/c_string.ts";
import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, NetkitOsError } from "../errors.ts";
import { NETNS_DIR, validateNetnsName } from "./netns_names.ts";

// Names and ids need no native library; they are also here for the code that enters namespaces.
export { currentNetnsId, NETNS_DIR, netnsId, validateNetnsName } from "./netns_names.ts";

let entered: string | null = null;

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
