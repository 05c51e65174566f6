/**
 * `netkit gateway`: puts the LAN behind `--iface` into a relay room, and `netkit gateway
 * status`, which asks a running gateway for its counters over its status socket.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requirePrivilege } from "../doctor/privileges.ts";
import { NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import type { Gateway } from "../l2/gateway.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import {
  addDaemonModeOptions,
  daemonMode,
  type DaemonModeOptions,
  detachDaemon,
  loadDaemonSide,
} from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { addPeerOptions, parsePeerOptions, type PeerCliOptions } from "./l2_options.ts";
import { parseIntegerOption } from "./options.ts";
import {
  addStatusSocketOption,
  killPeers,
  listenPeerStatus,
  peerSocketPath,
  registerPeerStatus,
} from "./peer_status.ts";
import type { GlobalOptions } from "./global_options.ts";

interface GatewayCliOptions extends PeerCliOptions, DaemonModeOptions {
  iface?: string;
  interface?: string;
  camRefresh?: string;
  clampMss?: boolean;
  statusSocket?: string;
}

/** Adds `netkit gateway` and `netkit gateway status`. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const command = addPeerOptions(
    program.command("gateway").description(
      "bridge a wired LAN interface into a relay room (AF_PACKET ⇄ QUIC)",
    ),
  )
    .option("--iface <name>", "the LAN interface (Ethernet, with carrier)")
    .option("--interface <name>", "same as --iface")
    .option("--cam-refresh <seconds>", "CAM-refresh period (default: the relay's, 60 s)")
    .option("--clamp-mss", "rewrite the MSS of TCP SYNs to fit the room's MTU");
  addDaemonModeOptions(
    addStatusSocketOption(command, "gateway"),
    "the gateways in this namespace, or the one on --iface or --status-socket",
  )
    .action(async (options: GatewayCliOptions, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      if (g.json || g.pretty) {
        throw new UsageError("-j/--json and -p/--pretty apply to gateway status");
      }
      const mode = daemonMode(options);
      const iface = options.iface ?? options.interface;
      if (iface !== undefined) validateInterfaceName(iface);
      if (mode === "kill") return await killPeers(io, "gateway", iface, options.statusSocket);
      if (iface === undefined) throw new UsageError("Give the LAN interface with --iface");
      const peer = await parsePeerOptions(options);
      const camRefreshMs = options.camRefresh === undefined
        ? undefined
        : parseIntegerOption(options.camRefresh, "--cam-refresh", 1, 3600) * 1000;
      // Before the status socket, so the missing capability is what an unprivileged user hears.
      requirePrivilege("CAP_NET_RAW", "netkit gateway", `for its packet socket on "${iface}"`);
      if (mode === "detach") return await detachDaemon(io, args, g, `gateway-${iface}`);
      // Before anything starts: a signal meanwhile stops the gateway, never kills it.
      const { DaemonLoop, announceDetached } = await loadDaemonSide();
      using loop = new DaemonLoop();
      const { Gateway } = await import("../l2/gateway.ts");
      const { gatewayStatus } = await import("../l2/peer_status.ts");
      let gateway: Gateway | null = null;
      // Before the relay hears of us: a second gateway on this interface stops here.
      await using _status = await listenPeerStatus(
        peerSocketPath("gateway", iface, options.statusSocket),
        "gateway",
        () => gateway === null ? null : gatewayStatus(gateway),
      );
      gateway = await Gateway.start({
        ...peer,
        iface,
        ...(camRefreshMs === undefined ? {} : { camRefreshMs }),
        clampMss: options.clampMss === true,
      });
      // The relay's `relay status` shows them too.
      gateway.session.ownerCounters = gateway.counters;
      if (mode === "detached-child") announceDetached();
      let refused: string | null = null;
      gateway.session.ended.then((reason) => refused = reason);
      const signal = await loop.until(Promise.race([gateway.done, gateway.session.ended]));
      await gateway.close(signal === null ? "error" : "signal", `caught ${signal ?? "an error"}`);
      const c = gateway.counters;
      const s = gateway.session.counters;
      io.err(
        `netkit: gateway stopped: ${c.lanToRelay} frames LAN→relay, ${c.relayToLan} relay→LAN, ` +
          `${c.gsoFrames} merged frames cut into ${c.gsoSegments}, ` +
          `${c.camRefreshes} CAM refreshes, ${s.reconnects} reconnects, drops ${
            JSON.stringify(gateway.session.drops.toJSON())
          }\n`,
      );
      if (refused !== null) throw new NetkitError(refused);
    });
  registerPeerStatus(command, "gateway", io);
}
