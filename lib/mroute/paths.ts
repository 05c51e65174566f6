/**
 * Where a multicast routing daemon is found and keeps its state. Kept apart from the daemon so
 * that clients (the CLI, labs, tests) do not load the daemon to find it.
 *
 * @module
 */

/** The control socket name of the daemon for namespace `netnsId` and `table` (0: default). */
export function mrouteSocketName(netnsId: number, table: number): string {
  return `mroute-ns${netnsId}${table === 0 ? "" : `-t${table}`}`;
}

/** The default state file for namespace `netns` (null: the current one) and `table`. */
export function defaultStatePath(netns: string | null, table: number): string {
  return `/var/lib/netkit/mroute${netns === null ? "" : `-${netns}`}${
    table === 0 ? "" : `-t${table}`
  }.json`;
}
