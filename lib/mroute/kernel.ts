/**
 * The kernel's own view of multicast routing: its routes and VIFs as rtnetlink (and, for IPv6
 * VIFs, `/proc`) report them, whoever installed them. The socket that changes the tables is
 * `lib/net/mroute_socket.ts`; the structs it passes are in `lib/net/mroute_structs.ts`.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import { interfaceIndex } from "../net/interfaces.ts";
import { DEFAULT_TABLE, familyName, type IpFamily, resolveTable } from "../net/mroute_structs.ts";
import { RtnetlinkSocket } from "../net/rtnetlink.ts";
import {
  encodeGetMroutes,
  encodeGetVifTables,
  type KernelRoute,
  type KernelVif,
  netlinkDump,
  parseMroute,
  parseProcMifs,
  parseVifTable,
} from "./kernel_netlink.ts";

export type { KernelOif, KernelRoute, KernelVif } from "./kernel_netlink.ts";

/**
 * The routes of `table` (0: the default) as the kernel has them, resolved or not, from an
 * rtnetlink dump (works for every table, owned or not). Requires `--allow-ffi`.
 */
export function dumpKernelRoutes(family: IpFamily, table: number): KernelRoute[] {
  const id = resolveTable(family, table);
  using socket = RtnetlinkSocket.open();
  let routes: KernelRoute[] = [];
  netlinkDump(
    socket,
    (seq) => encodeGetMroutes(family, seq),
    `dump ${familyName(family)} multicast routes`,
    () => routes = [],
    (message) => {
      const dumped = parseMroute(message, family);
      if (dumped !== null && dumped.table === id) routes.push(dumped.route);
    },
  );
  return routes;
}

/**
 * The VIFs of `table` (0: the default) as the kernel has them, in VIF order.
 *
 * IPv4 comes from the rtnetlink `RTM_GETLINK` dump of family 128, which covers every table.
 * The kernel has no such dump for IPv6: its VIFs are read from `/proc/net/ip6_mr_vif` (by the
 * calling thread's namespace), which shows the default table only, by interface name (mapped to
 * an ifindex here; 0 when the name no longer resolves). Any other IPv6 table throws a
 * {@linkcode NetkitError}. Requires `--allow-ffi`, and `--allow-read=/proc` for IPv6.
 */
export function dumpKernelVifs(family: IpFamily, table: number): KernelVif[] {
  const id = resolveTable(family, table);
  if (family === 6) {
    if (id !== DEFAULT_TABLE[6]) {
      throw new NetkitError(
        `Cannot list the VIFs of IPv6 multicast table ${id}: the kernel reports IPv6 VIFs only for the default table (${
          DEFAULT_TABLE[6]
        })`,
      );
    }
    const text = Deno.readTextFileSync("/proc/thread-self/net/ip6_mr_vif");
    return parseProcMifs(text).map(({ name, ...mif }) => {
      let ifindex = 0;
      try {
        ifindex = interfaceIndex(name);
      } catch {
        // Renamed or gone since the kernel printed it.
      }
      return { ...mif, ifindex };
    });
  }
  using socket = RtnetlinkSocket.open();
  let vifs: KernelVif[] = [];
  netlinkDump(
    socket,
    encodeGetVifTables,
    "dump IPv4 multicast VIFs",
    () => vifs = [],
    (message) => {
      const dumped = parseVifTable(message);
      if (dumped !== null && dumped.table === id) vifs.push(...dumped.vifs);
    },
  );
  return vifs.sort((a, b) => a.vif - b.vif);
}
