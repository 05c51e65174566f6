/**
 * Network namespaces by name, as `ip netns` manages them under `/run/netns/`, without entering
 * one: name checks and namespace ids (inode numbers), from the file system alone, so the command
 * line and the daemons' contracts use them without loading libnetkit. Entering a namespace is
 * `netns.ts`.
 *
 * @module
 */

import { InvalidInputError, NetkitError } from "../errors.ts";

/** Where `ip netns add NAME` creates its bind mounts. */
export const NETNS_DIR = "/run/netns";

/** Throws an {@linkcode InvalidInputError} unless `name` is a valid `ip netns` name. */
export function validateNetnsName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.length > 255) {
    throw new InvalidInputError(`Invalid network namespace name "${name}"`);
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
