/**
 * Where netkit daemons put their control sockets: `/run/netkit/` unless `NETKIT_RUN_DIR`
 * names another directory (tests, unprivileged labs).
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/** The run directory used when `NETKIT_RUN_DIR` is unset or empty. */
export const DEFAULT_RUN_DIR = "/run/netkit";

/** The file name suffix of every control socket. */
export const SOCKET_SUFFIX = ".sock";

/**
 * The directory holding control sockets: `NETKIT_RUN_DIR` when set and not empty, else
 * `/run/netkit`, without a trailing slash. Reads the environment with `--allow-env`; without
 * that permission the default is used.
 */
export function runDir(): string {
  let dir: string | undefined;
  try {
    dir = Deno.env.get("NETKIT_RUN_DIR");
  } catch (err) {
    // An unprivileged caller simply gets the default location.
    if (!(err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)) {
      throw err;
    }
  }
  if (dir === undefined || dir === "") return DEFAULT_RUN_DIR;
  const trimmed = dir.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

function checkName(what: string, name: string, allowEmpty: boolean): void {
  if (!allowEmpty && name === "") {
    throw new InvalidInputError(
      `The control socket ${what} is empty; give a name such as "lacp-bond0"`,
    );
  }
  if (name.includes("/") || name.startsWith(".") || name.includes("\0")) {
    throw new InvalidInputError(
      `Invalid control socket ${what} "${name}": it must not contain "/" or NUL or start with "."`,
    );
  }
}

function joinDir(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * The path of the control socket called `name` (without the `.sock` suffix) in the run
 * directory, e.g. `controlSocketPath("lacp-bond0")` is `/run/netkit/lacp-bond0.sock`.
 * Throws an {@linkcode InvalidInputError} for an empty name, one containing "/" or NUL, or one
 * starting with "." (which could escape the run directory or hide the socket). Reads
 * `NETKIT_RUN_DIR` with `--allow-env`.
 */
export function controlSocketPath(name: string): string {
  checkName("name", name, false);
  return joinDir(runDir(), name + SOCKET_SUFFIX);
}

/**
 * The sorted paths of the control sockets in `dir` (default {@linkcode runDir}) whose file name
 * starts with `prefix` and ends with `.sock`, e.g. every LACP daemon with prefix `"lacp-"`.
 * A missing directory yields an empty list. Requires `--allow-read` on the directory.
 */
export async function listControlSockets(
  prefix: string,
  dir: string = runDir(),
): Promise<string[]> {
  checkName("prefix", prefix, true);
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) continue;
      if (entry.name.startsWith(prefix) && entry.name.endsWith(SOCKET_SUFFIX)) {
        names.push(entry.name);
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  // Code-unit order, independent of the locale, so output is stable everywhere.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => joinDir(dir, name));
}
