/**
 * `netkit relay`: the QUIC relay where gateways and clients meet, and `netkit relay status`,
 * which asks a running relay for its rooms, peers and counters over its status socket.
 *
 * @module
 */

import type { Command } from "commander";
import { z } from "zod";
import { errorMessage, NetkitError, UsageError } from "../errors.ts";
import { controlSocketPath, listControlSockets, request } from "../ipc/mod.ts";
import type { PeerStatus, Relay, RelayStatus } from "../l2/relay.ts";
import { currentNetnsId } from "../net/netns.ts";
import type { CliIo } from "./io.ts";
import { parseHostPort } from "./l2_options.ts";
import { plural } from "../text.ts";
import { parseIntegerOption } from "./options.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./program.ts";

interface RelayCliOptions {
  listen?: string;
  cert?: string;
  key?: string;
  devCert?: string;
  roomClients?: string;
  statusSocket?: string;
  bcastPps?: string;
  bcastBurst?: string;
  peerBandwidth?: string;
  malformedLimit?: string;
}

/** The status socket name of the relay on `port` in namespace `netnsId`. */
export function relaySocketName(netnsId: number, port: number): string {
  return `relay-ns${netnsId}-${port}`;
}

const StatusRequest = z.object({ cmd: z.literal("status") });

/** Adds `netkit relay` and `netkit relay status`. */
export function register(program: Command, io: CliIo): void {
  const relay = program.command("relay")
    .description("run the QUIC relay that joins gateways and clients in rooms")
    .option("--listen <addr:port>", "UDP address to listen on, e.g. 0.0.0.0:443 or [::]:443")
    .option("--cert <pem>", "the relay's certificate chain (PEM)")
    .option("--key <pem>", "the relay's private key (PEM)")
    .option(
      "--dev-cert <dir>",
      "use (or first write) a private CA and relay certificate in DIR; prints the pin",
    )
    .option("--room-clients <n>", "most clients per room", "32")
    .option(
      "--status-socket <path>",
      "status socket (default: /run/netkit/relay-ns<netns>-<port>.sock)",
    )
    .option(
      "--bcast-pps <n>",
      "broadcast/multicast frames per second per client (0: no limit)",
      "1000",
    )
    .option("--bcast-burst <n>", "burst of the broadcast limit", "200")
    .option("--peer-bandwidth <bytes>", "bytes per second per client (0: no limit)", "125000000")
    .option("--malformed-limit <n>", "malformed datagrams before a peer is disconnected", "20")
    .action(async (options: RelayCliOptions, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      if (g.json || g.pretty) {
        throw new UsageError("-j/--json and -p/--pretty apply to relay status");
      }
      if (options.listen === undefined) {
        throw new UsageError("Give the address with --listen ADDR:PORT");
      }
      const listen = parseHostPort(options.listen, "--listen");
      const limits = {
        roomClients: parseIntegerOption(options.roomClients!, "--room-clients", 1, 65000),
        bcastPps: parseIntegerOption(options.bcastPps!, "--bcast-pps", 0, 10_000_000),
        bcastBurst: parseIntegerOption(options.bcastBurst!, "--bcast-burst", 1, 10_000_000),
        peerBandwidth: parseIntegerOption(options.peerBandwidth!, "--peer-bandwidth", 0, 1e12),
        malformedLimit: parseIntegerOption(options.malformedLimit!, "--malformed-limit", 1, 1e6),
      };
      const identity = await serverIdentity(options, io);
      const { Relay: RelayServer } = await import("../l2/relay.ts");
      const { ControlServer } = await import("../ipc/mod.ts");
      const { untilSignal } = await import("./l2_options.ts");
      let server: Relay;
      try {
        server = RelayServer.start({ ...listen, ...identity, ...limits });
      } catch (err) {
        const text = errorMessage(err);
        throw new NetkitError(
          /KeyMismatch|keys may not be consistent/.test(text)
            ? `The key in "${options.key}" does not belong to the certificate in "${options.cert}"`
            : `Cannot listen on ${options.listen}: ${text}`,
        );
      }
      await using relayServer = server;
      await using _status = await ControlServer.listen({
        path: options.statusSocket ??
          controlSocketPath(relaySocketName(currentNetnsId(), relayServer.addr.port)),
        schema: StatusRequest,
        handle: () => relayServer.status(),
      });
      io.err(`netkit: relay listening on ${options.listen} (udp)\n`);
      await untilSignal(new Promise(() => {}));
    });

  relay.command("status")
    .description("show a running relay's rooms, peers and counters")
    .option("--status-socket <path>", "the relay's status socket (default: the only relay here)")
    .action(async (_options: unknown, command: Command) => {
      // optsWithGlobals: `relay` has --status-socket too, and takes it wherever it is given.
      const g = command.optsWithGlobals<GlobalOptions & { statusSocket?: string }>();
      const path = g.statusSocket ?? await findRelaySocket();
      const status = await request(path, { cmd: "status" }) as RelayStatus;
      printResult(io, g, status, () => formatRelayStatus(status));
    });
}

async function serverIdentity(
  options: RelayCliOptions,
  io: CliIo,
): Promise<{ cert: string; key: string }> {
  const certs = await import("../l2/certs.ts");
  if (options.devCert !== undefined) {
    if (options.cert !== undefined || options.key !== undefined) {
      throw new UsageError("--dev-cert replaces --cert and --key: give one or the other");
    }
    const dir = options.devCert;
    // Refuses a directory, key or certificate someone else could have planted.
    const dev = await certs.devCertIdentity(dir);
    io.out(
      `${dev.reused ? "using" : "wrote"} development certificates in ${dir}\n` +
        `pin: ${dev.pin} (SHA-256 ${dev.pinFingerprint})\n` +
        `server name: ${certs.DEV_SERVER_NAME}\n`,
    );
    return { cert: dev.cert, key: dev.key };
  }
  if (options.cert === undefined || options.key === undefined) {
    throw new UsageError("Give --cert and --key, or --dev-cert DIR for a development certificate");
  }
  return await certs.loadServerIdentity(options.cert, options.key);
}

async function findRelaySocket(): Promise<string> {
  const prefix = `relay-ns${currentNetnsId()}-`;
  const sockets = await listControlSockets(prefix);
  if (sockets.length === 0) {
    throw new NetkitError("No relay runs in this network namespace (or give --status-socket)");
  }
  if (sockets.length > 1) {
    throw new NetkitError(
      `Several relays run here: give --status-socket (one of ${sockets.join(", ")})`,
    );
  }
  return sockets[0]!;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60
    ? `${s}s`
    : s < 3600
    ? `${Math.floor(s / 60)}m${s % 60}s`
    : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function dropsText(drops: Record<string, number>): string {
  const entries = Object.entries(drops);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

/** The human form of `relay status`. */
export function formatRelayStatus(status: RelayStatus): string {
  const peers = status.rooms.reduce((n, r) => n + r.peers.length, 0);
  let text = `relay ${status.listen} up ${duration(status.uptime_ms)}, ${
    plural(status.rooms.length, "room")
  }, ${plural(peers, "peer")}\n`;
  for (const room of status.rooms) {
    text +=
      `\nroom ${room.room} id ${room.room_id} frame_max ${room.frame_max} tap_mtu ${room.tap_mtu}\n`;
    const rows: string[][] = [[
      "PEER",
      "ROLE",
      "MAC",
      "STATE",
      "REMOTE",
      "IN",
      "FWD",
      "OUT",
      "MALFORMED",
      "DROPS",
    ]];
    for (const p of room.peers as PeerStatus[]) {
      rows.push([
        String(p.peer_id),
        p.role,
        p.mac,
        p.state,
        p.remote ?? "-",
        String(p.datagrams_in),
        String(p.frames_forwarded),
        String(p.frames_out),
        String(p.malformed),
        dropsText(p.drops),
      ]);
    }
    text += formatTable(rows);
  }
  text += `\ndrops: ${dropsText(status.drops)}\nrejected: ${dropsText(status.rejected)}\n`;
  return text;
}
