/**
 * `netkit relay`: the QUIC relay where gateways and clients meet, and `netkit relay status`,
 * which asks a running relay for its rooms, peers and counters over its status socket.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import { absolute } from "../daemon/absolute_path.ts";
import { killDaemons, PidReply } from "../daemon/stop.ts";
import { errorMessage, NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import { listControlSockets } from "../ipc/run_dir.ts";
import type { PeerStatus, RelayStatus } from "../l2/relay.ts";
import {
  DEFAULT_ROOMS_FILE,
  RELAY_STATUS,
  relaySocketPrefix,
  RelayStatusReply,
  STATUS_REQUEST,
} from "../l2/relay_client.ts";
import type { RelayDaemon } from "../l2/relay_daemon.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import {
  addDaemonModeOptions,
  daemonMode,
  type DaemonModeOptions,
  detachDaemon,
  loadDaemonSide,
} from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { parseHostPort } from "./l2_options.ts";
import { durationText, plural, wrapText } from "../text.ts";
import { collect, parseIntegerOption } from "./options.ts";
import { logsNothing } from "./logging.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";

interface RelayCliOptions extends DaemonModeOptions {
  listen?: string;
  cert?: string;
  key?: string;
  devCert?: string;
  rooms: string;
  maxRooms?: string;
  maxConns?: string;
  maxConnsPerSource?: string;
  maxHandshakes?: string;
  maxHandshakesPerSource?: string;
  handshakeTimeout?: string;
  authFailures?: string;
  idleTimeout?: string;
  roomClients?: string;
  statusSocket?: string;
  bcastPps?: string;
  bcastBurst?: string;
  peerBandwidth?: string;
  malformedLimit?: string;
}

// The contract lives in lib/l2/relay_client.ts; this stays importable from here.
export { relaySocketName } from "../l2/relay_client.ts";

/** Adds `netkit relay` and `netkit relay status`. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const relay = program.command("relay")
    .description("run the QUIC relay that joins gateways and clients in rooms")
    .option("--listen <addr:port>", "UDP address to listen on, e.g. 0.0.0.0:443 or [::]:443")
    .option("--cert <pem>", "the relay's certificate chain (PEM)")
    .option("--key <pem>", "the relay's private key (PEM)")
    .option(
      "--dev-cert <dir>",
      "use (or first write) a private CA and relay certificate in DIR; prints the pin",
    )
    .option("--rooms <file>", "the rooms and their credentials", DEFAULT_ROOMS_FILE)
    .option("--max-rooms <n>", "most rooms in the rooms file", "1024")
    .option("--room-clients <n>", "most clients per room", "32")
    .option("--max-conns <n>", "most connections in total, handshakes included", "1024")
    .option("--max-conns-per-source <n>", "most connections per address (IPv6: per /64)", "16")
    .option("--max-handshakes <n>", "most handshakes under way in total", "64")
    .option("--max-handshakes-per-source <n>", "most handshakes under way per address", "8")
    .option("--handshake-timeout <ms>", "time for a connection to say hello", "5000")
    .option("--idle-timeout <ms>", "how soon a silent peer is taken for gone", "2000")
    .option(
      "--auth-failures <n>",
      "failed authentications per minute per address before it is refused",
      "10",
    )
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
    .option("--malformed-limit <n>", "malformed datagrams before a peer is disconnected", "20");
  addDaemonModeOptions(relay, "the relays in this namespace, or the one on --status-socket")
    .action(async (options: RelayCliOptions, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      if (g.json || g.pretty) {
        throw new UsageError("-j/--json and -p/--pretty apply to relay status");
      }
      const mode = daemonMode(options);
      if (mode === "kill") {
        return await killDaemons({
          name: "relay",
          paths: options.statusSocket === undefined
            ? listControlSockets(relaySocketPrefix(currentNetnsId()))
            : [options.statusSocket],
          ask: (path) => requestChecked(path, STATUS_REQUEST, PidReply, RELAY_STATUS),
          describe: (_status, path) => path,
          out: (text) => io.out(text),
        });
      }
      if (options.listen === undefined) {
        throw new UsageError("Give the address with --listen ADDR:PORT");
      }
      const listen = parseHostPort(options.listen, "--listen");
      const limits = {
        maxRooms: parseIntegerOption(options.maxRooms!, "--max-rooms", 1, 65535),
        roomClients: parseIntegerOption(options.roomClients!, "--room-clients", 1, 65000),
        maxConnections: parseIntegerOption(options.maxConns!, "--max-conns", 1, 1_000_000),
        maxConnectionsPerSource: parseIntegerOption(
          options.maxConnsPerSource!,
          "--max-conns-per-source",
          1,
          1_000_000,
        ),
        maxHandshakes: parseIntegerOption(options.maxHandshakes!, "--max-handshakes", 1, 100_000),
        maxHandshakesPerSource: parseIntegerOption(
          options.maxHandshakesPerSource!,
          "--max-handshakes-per-source",
          1,
          100_000,
        ),
        handshakeTimeoutMs: parseIntegerOption(
          options.handshakeTimeout!,
          "--handshake-timeout",
          100,
          60_000,
        ),
        authFailuresPerMinute: parseIntegerOption(options.authFailures!, "--auth-failures", 1, 1e6),
        idleTimeoutMs: parseIntegerOption(options.idleTimeout!, "--idle-timeout", 400, 600_000),
        bcastPps: parseIntegerOption(options.bcastPps!, "--bcast-pps", 0, 10_000_000),
        bcastBurst: parseIntegerOption(options.bcastBurst!, "--bcast-burst", 1, 10_000_000),
        peerBandwidth: parseIntegerOption(options.peerBandwidth!, "--peer-bandwidth", 0, 1e12),
        malformedLimit: parseIntegerOption(options.malformedLimit!, "--malformed-limit", 1, 1e6),
      };
      if (mode === "detach") return await detachDaemon(io, args, g, `relay-${listen.port}`);
      // Before the relay starts: a signal meanwhile stops it, never kills it.
      const { DaemonLoop, announceDetached } = await loadDaemonSide();
      using loop = new DaemonLoop();
      const identity = await serverIdentity(options, io);
      const { readRoomsFile } = await import("../l2/rooms_file.ts");
      const rooms = readRoomsFile(options.rooms);
      if (rooms.rooms.length === 0) {
        io.err(
          `netkit: no rooms in "${options.rooms}" yet: add one with ` +
            `netkit relay room add NAME --rooms ${options.rooms}\n`,
        );
      }
      const { RelayDaemon: Daemon } = await import("../l2/relay_daemon.ts");
      let daemon: RelayDaemon;
      try {
        daemon = await Daemon.start({
          ...listen,
          ...identity,
          ...limits,
          rooms,
          // Absolute: reread every second, from wherever the process is by then.
          roomsFile: absolute(options.rooms),
          // Absolute: removed at exit, from wherever the process is by then.
          ...(options.statusSocket === undefined
            ? {}
            : { statusSocket: absolute(options.statusSocket) }),
        });
      } catch (err) {
        if (err instanceof NetkitError) throw err;
        const text = errorMessage(err);
        throw new NetkitError(
          /KeyMismatch|keys may not be consistent/.test(text)
            ? `The key in "${options.key}" does not belong to the certificate in "${options.cert}"`
            : `Cannot listen on ${options.listen}: ${text}`,
        );
      }
      await using relay = daemon;
      io.err(`netkit: relay listening on ${options.listen} (udp)\n`);
      if (mode === "detached-child") announceDetached();
      await relay.run(loop);
    });

  registerRooms(relay, io);

  logsNothing(relay.command("status"))
    .description("show a running relay's rooms, peers and counters")
    .option("--status-socket <path>", "the relay's status socket (default: the only relay here)")
    .action(async (_options: unknown, command: Command) => {
      // optsWithGlobals: `relay` has --status-socket too, and takes it wherever it is given.
      const g = command.optsWithGlobals<GlobalOptions & { statusSocket?: string }>();
      const path = g.statusSocket ?? await findRelaySocket();
      const status = await requestChecked(path, STATUS_REQUEST, RelayStatusReply, RELAY_STATUS);
      printResult(io, g, status, () => formatRelayStatus(status));
    });
}

interface RoomCliOptions {
  output?: string;
}

/** The rooms file: `relay`'s `--rooms`, which commander takes wherever it is given. */
function roomsFileOf(command: Command): string {
  return command.optsWithGlobals<{ rooms: string }>().rooms;
}

/**
 * `netkit relay room ...`: the operator's rooms and credentials, edited in the rooms file. A
 * running relay rereads the file within a second: a revoked credential ends its session.
 * Credentials are printed once (or written to a new 0600 file with -o) and never stored.
 */
function registerRooms(relay: Command, io: CliIo): void {
  const room = relay.command("room")
    .description("create, list, revoke and rotate rooms and their credentials");
  const withOutput = (command: Command) =>
    command.option("-o, --output <file>", "write the credential to a new 0600 file");

  withOutput(room.command("add <room>"))
    .description("create a room; prints its gateway credential")
    .option("--tap-mtu <bytes>", "the room's TAP MTU (frames are 14 bytes more)")
    .option("--no-address-guard", "let clients claim any IP address in ARP and NDP")
    .action(async (
      code: string,
      options: RoomCliOptions & {
        tapMtu?: string;
        addressGuard: boolean;
      },
      command: Command,
    ) => {
      const rooms = await import("../l2/rooms_file.ts");
      const tapMtu = options.tapMtu === undefined
        ? undefined
        : parseIntegerOption(options.tapMtu, "--tap-mtu", rooms.MIN_TAP_MTU, rooms.MAX_TAP_MTU);
      await issue(
        io,
        options.output,
        `room ${code}, gateway`,
        (deliver) =>
          rooms.editRoomsFile(roomsFileOf(command), async (config) =>
            await deliver(
              await rooms.addRoom(config, code, {
                ...(tapMtu === undefined ? {} : { tapMtu }),
                addressGuard: options.addressGuard,
              }),
            )),
      );
    });

  room.command("del <room>")
    .description("remove a room; its peers are disconnected")
    .action(async (code: string, _options: unknown, command: Command) => {
      const rooms = await import("../l2/rooms_file.ts");
      await rooms.editRoomsFile(roomsFileOf(command), (config) => {
        rooms.removeRoom(config, code);
        return Promise.resolve();
      });
    });

  withOutput(room.command("add-client <room> <name>"))
    .description("give a client of the room a credential of its own; prints it")
    .option(
      "--address <ip>",
      "an address the client may claim without a DHCP lease (repeatable)",
      collect,
    )
    .action(async (
      code: string,
      name: string,
      options: RoomCliOptions & {
        address?: string[];
      },
      command: Command,
    ) => {
      const rooms = await import("../l2/rooms_file.ts");
      await issue(
        io,
        options.output,
        `room ${code}, client ${name}`,
        (deliver) =>
          rooms.editRoomsFile(
            roomsFileOf(command),
            async (config) =>
              await deliver(await rooms.addClient(config, code, name, options.address ?? [])),
          ),
      );
    });

  room.command("del-client <room> <name>")
    .description("revoke a client's credential; its session ends")
    .action(async (code: string, name: string, _options: unknown, command: Command) => {
      const rooms = await import("../l2/rooms_file.ts");
      await rooms.editRoomsFile(roomsFileOf(command), (config) => {
        rooms.removeClient(config, code, name);
        return Promise.resolve();
      });
    });

  withOutput(room.command("rotate <room> [name]"))
    .description("give the gateway (or client NAME) a new credential; the old one stops working")
    .action(async (
      code: string,
      name: string | undefined,
      options: RoomCliOptions,
      command: Command,
    ) => {
      const rooms = await import("../l2/rooms_file.ts");
      await issue(
        io,
        options.output,
        `room ${code}, ${name ?? "gateway"}`,
        (deliver) =>
          rooms.editRoomsFile(
            roomsFileOf(command),
            async (config) => await deliver(await rooms.rotateCredential(config, code, name)),
          ),
      );
    });

  room.command("list")
    .description("show the rooms and their credentials (names only, never secrets)")
    .action(async (_options: unknown, command: Command) => {
      const g = command.optsWithGlobals<GlobalOptions>();
      const { readRoomsFile } = await import("../l2/rooms_file.ts");
      const config = readRoomsFile(roomsFileOf(command));
      const list = config.rooms.map((r) => ({
        room: r.room,
        tap_mtu: r.tap_mtu,
        address_guard: r.address_guard,
        credentials: r.credentials.map((c) => ({
          name: c.name,
          role: c.role,
          addresses: c.addresses,
          created: c.created,
        })),
      }));
      printResult(io, g, list, () => {
        const rows = [["ROOM", "TAP_MTU", "GUARD", "CREDENTIAL", "ROLE", "ADDRESSES", "CREATED"]];
        for (const r of list) {
          for (const c of r.credentials) {
            rows.push([
              r.room,
              String(r.tap_mtu),
              r.address_guard ? "on" : "off",
              c.name,
              c.role,
              c.addresses.join(",") || "-",
              c.created,
            ]);
          }
        }
        return list.length === 0 ? "no rooms\n" : formatTable(rows);
      });
    });
}

/**
 * Makes a credential with `make` and hands it out: printed, or written to `output`, a new file
 * created (O_CREAT|O_EXCL: never through a planted symlink, mode 0600) before anything is
 * changed. `make` calls `deliver` with the credential before it saves the rooms file, and
 * `deliver` writes the whole file and syncs it first: a bad path or a full disk leaves the rooms
 * as they were, and a saved credential is never one nobody holds.
 */
async function issue(
  io: CliIo,
  output: string | undefined,
  what: string,
  make: (deliver: (credential: string) => Promise<string>) => Promise<string>,
): Promise<void> {
  if (output === undefined) {
    io.out(`${await make((credential) => Promise.resolve(credential))}\n`);
    io.err(`netkit: credential for ${what}; it is shown only now: keep it in a 0600 file\n`);
    return;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(output, { write: true, createNew: true, mode: 0o600 });
  } catch (err) {
    throw new NetkitError(
      `Cannot create "${output}" for the credential: ${errorMessage(err)} (give a new file)`,
    );
  }
  using _file = file;
  try {
    await make(async (credential) => {
      const bytes = new TextEncoder().encode(`${credential}\n`);
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
      await file.syncData();
      return credential;
    });
  } catch (err) {
    await Deno.remove(output).catch(() => {});
    throw err;
  }
  io.err(`netkit: credential for ${what} written to ${output}\n`);
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
  const sockets = await listControlSockets(relaySocketPrefix(currentNetnsId()));
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

function dropsText(drops: Record<string, number>): string {
  const entries = Object.entries(drops);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

/** The peers' columns that `stats` carries, in the order they are shown. */
const REPORTED_COLUMNS = [
  "frames_to_relay",
  "bytes_to_relay",
  "frames_from_relay",
  "bytes_from_relay",
  "datagrams_in",
  "malformed",
  "seq_gaps",
] as const;

const RELAY_LEGEND = "CONNECTED: since the peer joined or resumed; HOLD: how long the relay " +
  "still keeps an away peer's place for a resume; IN: datagrams and bytes received from the " +
  "peer; FWD: its frames the relay forwarded; OUT: datagrams and bytes sent to it; MALFORMED: " +
  "its datagrams that failed the checks; DROPS: its frames the relay did not forward, by reason. " +
  "A drop is charged to the peer that sent the frame: peer_away or congested on a row means " +
  "that peer's frames found their receiver away or busy.";

const REPORTED_LEGEND = "The peers' own counters, as each reports them: AGE of the report; " +
  "FRESH yes when it answered this request, no when it did not within the wait (an older " +
  "netkit, or a slow path: its last periodic report, every 10 s); TO/FROM RELAY: frames and " +
  "bytes it sent to and received from the relay; IN: datagrams from the relay; MALFORMED: " +
  "datagrams from the relay it refused; SEQ GAPS: datagrams from the relay lost on the way; " +
  "DROPS: frames it dropped, by reason; COUNTERS: the gateway's or client's own (netkit " +
  "gateway status and netkit client status name them).";

/** The table of the relay's counters of each peer, with a unit row. */
function peersTable(peers: readonly PeerStatus[]): string {
  const rows: string[][] = [
    [
      "PEER",
      "CREDENTIAL",
      "ROLE",
      "MAC",
      "STATE",
      "REMOTE",
      "CONNECTED",
      "HOLD",
      "IN",
      "IN",
      "FWD",
      "OUT",
      "OUT",
      "MALFORMED",
      "DROPS",
    ],
    [
      "",
      "",
      "",
      "",
      "",
      "",
      "time",
      "time left",
      "datagrams",
      "bytes",
      "frames",
      "frames",
      "bytes",
      "datagrams",
      "frames",
    ],
  ];
  for (const p of peers) {
    rows.push([
      String(p.peer_id),
      p.credential,
      p.role,
      p.mac,
      p.state,
      p.remote ?? "-",
      p.state === "active" ? durationText(p.connected_ms) : "-",
      p.hold_remaining_ms === null ? "-" : durationText(p.hold_remaining_ms),
      String(p.datagrams_in),
      String(p.bytes_in),
      String(p.frames_forwarded),
      String(p.frames_out),
      String(p.bytes_out),
      String(p.malformed),
      dropsText(p.drops),
    ]);
  }
  return formatTable(rows);
}

/** The table of the counters each peer reported itself, with a unit row. */
function reportedTable(peers: readonly PeerStatus[]): string {
  const rows: string[][] = [
    [
      "PEER",
      "AGE",
      "FRESH",
      "TO RELAY",
      "TO RELAY",
      "FROM RELAY",
      "FROM RELAY",
      "IN",
      "MALFORMED",
      "SEQ GAPS",
      "DROPS",
      "COUNTERS",
    ],
    [
      "",
      "time",
      "",
      "frames",
      "bytes",
      "frames",
      "bytes",
      "datagrams",
      "datagrams",
      "count",
      "frames",
      "",
    ],
  ];
  for (const p of peers) {
    const r = p.reported;
    const number = (key: string) => typeof r?.[key] === "number" ? String(r[key]) : "-";
    const counts = (key: string) => {
      const value = r?.[key];
      return typeof value === "object" && value !== null
        ? dropsText(value as Record<string, number>)
        : "-";
    };
    rows.push([
      String(p.peer_id),
      p.reported_age_ms === null ? "-" : durationText(p.reported_age_ms),
      p.reported_fresh ? "yes" : "no",
      ...REPORTED_COLUMNS.map(number),
      counts("dropped"),
      counts("counters"),
    ]);
  }
  return formatTable(rows);
}

/** The human form of `relay status`. */
export function formatRelayStatus(status: RelayStatus): string {
  const peers = status.rooms.reduce((n, r) => n + r.peers.length, 0);
  let text = `relay ${status.listen} up ${durationText(status.uptime_ms)}, ${
    plural(status.rooms.length, "room")
  }, ${plural(peers, "peer")}\n`;
  for (const room of status.rooms) {
    text +=
      `\nroom ${room.room} id ${room.room_id} frame_max ${room.frame_max} tap_mtu ${room.tap_mtu}` +
      ` clients ${room.clients} address_guard ${room.address_guard ? "on" : "off"}` +
      ` bindings ${
        dropsText(Object.fromEntries(Object.entries(room.bindings).filter(([, n]) => n > 0)))
      }\n`;
    if (room.peers.length === 0) continue;
    text += peersTable(room.peers) + "\n" + reportedTable(room.peers);
  }
  if (peers > 0) {
    text += `\n${wrapText(`legend: ${RELAY_LEGEND}`, 100)}\n${
      wrapText(`legend: ${REPORTED_LEGEND}`, 100)
    }\n`;
  }
  const l = status.limits;
  text += `\ndrops (frames, charged to the sender): ${dropsText(status.drops)}\n` +
    `control messages ignored: ${dropsText(status.control_ignored)}\n` +
    `rejected: ${dropsText(status.rejected)}\n` +
    `auth failures: ${status.auth_failures}\nrefused before handshake: ${
      dropsText(status.refused)
    }\n` +
    `connections ${status.connections}/${l.max_connections} (per source ${l.max_connections_per_source}), ` +
    `handshakes ${status.handshakes}/${l.max_handshakes} (per source ${l.max_handshakes_per_source}, ` +
    `timeout ${l.handshake_timeout_ms} ms), sources ${status.sources}, ` +
    `auth failures per source ${l.auth_failures_per_minute}/min, idle timeout ${l.idle_timeout_ms} ms, ` +
    `rooms ${status.rooms.length}/${l.max_rooms}, ` +
    `clients per room ${l.room_clients}\n` +
    `per client: broadcast ${rate(l.bcast_pps, "frames/s")} (burst ${l.bcast_burst} frames), ` +
    `bandwidth ${rate(l.peer_bandwidth, "bytes/s")}; per peer: control ` +
    `${l.control_messages_per_second} messages/s; away peers held ${
      durationText(l.resume_window_ms)
    }; fresh counters waited for ${l.stats_wait_ms} ms\n`;
  if (status.rooms_file !== null) {
    text += `rooms file ${status.rooms_file.path}, read ${
      durationText(status.rooms_file.loaded_ms)
    } ago${status.rooms_file.error === null ? "" : `; not reread: ${status.rooms_file.error}`}\n`;
  }
  return text;
}

/** A limit in `unit`, 0 meaning none. */
function rate(value: number, unit: string): string {
  return value === 0 ? "unlimited" : `${value} ${unit}`;
}
