/**
 * `netkit client`: a TAP device that is a port of a relay room's LAN, and `netkit client
 * status`, which asks a running client for its counters over its status socket.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import type { Client } from "../l2/client.ts";
import { DEFAULT_TAP, stableClientMac } from "../l2/client_mac.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import { isMulticastMac, parseMac } from "../packet/mac.ts";
import {
  addDaemonModeOptions,
  daemonMode,
  type DaemonModeOptions,
  detachDaemon,
  loadDaemonSide,
} from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { addPeerOptions, parsePeerOptions, type PeerCliOptions } from "./l2_options.ts";
import {
  addStatusSocketOption,
  killPeers,
  listenPeerStatus,
  peerSocketPath,
  registerPeerStatus,
} from "./peer_status.ts";
import type { GlobalOptions } from "./global_options.ts";

interface ClientCliOptions extends PeerCliOptions, DaemonModeOptions {
  tap: string;
  mac?: string;
  statusSocket?: string;
}

function parseClientMac(value: string): Uint8Array {
  let mac: Uint8Array;
  try {
    mac = parseMac(value);
  } catch {
    throw new UsageError(
      `Invalid value "${value}" for --mac: expected a MAC like 02:00:00:00:00:01`,
    );
  }
  if (isMulticastMac(mac) || mac.every((b) => b === 0)) {
    throw new UsageError(`Invalid value "${value}" for --mac: a client MAC must be unicast`);
  }
  return mac;
}

/** Adds `netkit client` and `netkit client status`. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const command = addPeerOptions(
    program.command("client").description("join a relay room through a TAP device"),
  )
    .option("--tap <name>", "TAP device to create or attach", DEFAULT_TAP)
    .option(
      "--mac <mac>",
      "the TAP's MAC (default: derived once, then kept in /var/lib/netkit/)",
    );
  addDaemonModeOptions(
    addStatusSocketOption(command, "client"),
    "the clients in this namespace, or the one on --tap or --status-socket",
  )
    .action(async (options: ClientCliOptions, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      if (g.json || g.pretty) {
        throw new UsageError("-j/--json and -p/--pretty apply to client status");
      }
      const mode = daemonMode(options);
      validateInterfaceName(options.tap);
      if (mode === "kill") {
        // --tap has a default: only a TAP given on the command line picks one client.
        const tap = command.getOptionValueSource("tap") === "cli" ? options.tap : undefined;
        return await killPeers(io, "client", tap, options.statusSocket);
      }
      const given = options.mac === undefined ? undefined : parseClientMac(options.mac);
      const peer = await parsePeerOptions(options);
      if (mode === "detach") return await detachDaemon(io, args, g, `client-${options.tap}`);
      // Before anything starts: a signal meanwhile stops the client, never kills it.
      const { DaemonLoop, announceDetached } = await loadDaemonSide();
      using loop = new DaemonLoop();
      const mac = given ?? await stableClientMac(options.tap);
      const { Client: ClientDaemon } = await import("../l2/client.ts");
      const { clientStatus } = await import("../l2/peer_status.ts");
      let client: Client | null = null;
      // Before the relay hears of us: a second client on this TAP stops here.
      await using _status = await listenPeerStatus(
        peerSocketPath("client", options.tap, options.statusSocket),
        "client",
        () => client === null ? null : clientStatus(client),
      );
      client = await ClientDaemon.start({ ...peer, tap: options.tap, mac });
      // The relay's `relay status` shows them too.
      client.session.ownerCounters = client.counters;
      if (mode === "detached-child") announceDetached();
      let refused: string | null = null;
      client.session.ended.then((reason) => refused = reason);
      const signal = await loop.until(Promise.race([client.done, client.session.ended]));
      await client.close(signal === null ? "error" : "signal", `caught ${signal ?? "an error"}`);
      const c = client.counters;
      io.err(
        `netkit: client stopped: ${c.tapToRelay} frames TAP→relay, ${c.relayToTap} relay→TAP, ` +
          `${c.gsoFrames} merged frames cut into ${c.gsoSegments}, ` +
          `${client.session.counters.reconnects} reconnects, drops ${
            JSON.stringify(client.session.drops.toJSON())
          }\n`,
      );
      if (refused !== null) throw new NetkitError(refused);
    });
  registerPeerStatus(command, "client", io);
}
