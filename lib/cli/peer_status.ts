/**
 * `netkit gateway status` and `netkit client status`: the status socket a running gateway or
 * client serves (as the relay does: lib/ipc, one instance per socket), how the subcommands find
 * it, and the text form of what it answers.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import { absolute } from "../daemon/absolute_path.ts";
import { killDaemons } from "../daemon/stop.ts";
import { NetkitError } from "../errors.ts";
import type { ControlServer } from "../ipc/control_server.ts";
import { controlSocketPath, listControlSockets } from "../ipc/run_dir.ts";
import {
  clientSocketName,
  counterInfo,
  gatewaySocketName,
  type PeerDaemonStatus,
  type PeerRole,
  peerSocketPrefix,
  peerStatusContext,
  PeerStatusReply,
} from "../l2/peer_client.ts";
import { STATUS_REQUEST } from "../l2/relay_client.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import { durationText, wrapText } from "../text.ts";
import type { CliIo } from "./io.ts";
import { logsNothing } from "./logging.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";

export type { PeerRole };

/** Where the socket goes when `--status-socket` is not given. */
const SOCKET_HELP = {
  gateway: "/run/netkit/gateway-ns<netns>-<iface>.sock",
  client: "/run/netkit/client-ns<netns>-<tap>.sock",
} as const;

/** The `--status-socket` option of the daemon command itself. */
export function addStatusSocketOption(command: Command, role: PeerRole): Command {
  return command.option(
    "--status-socket <path>",
    `status socket (default: ${SOCKET_HELP[role]})`,
  );
}

/**
 * The status socket of the `role` daemon on `resource` (its LAN interface or TAP) in this
 * namespace: `option` when given, else in the run directory (`NETKIT_RUN_DIR`, `/run/netkit`).
 */
export function peerSocketPath(role: PeerRole, resource: string, option?: string): string {
  // Absolute: a detached daemon removes it at exit, from `/`.
  if (option !== undefined) return absolute(option);
  const id = currentNetnsId();
  return controlSocketPath(
    role === "gateway" ? gatewaySocketName(id, resource) : clientSocketName(id, resource),
  );
}

/**
 * Serves `status()` on `path`, holding the socket's instance lock: a second daemon on the same
 * interface or TAP is refused here, before it contacts the relay (where it would take the first
 * one's place). Until `status()` has something (the daemon is still joining), a request gets an
 * error that says so.
 */
export async function listenPeerStatus(
  path: string,
  role: PeerRole,
  status: () => PeerDaemonStatus | null,
): Promise<ControlServer> {
  // Loaded here: the server side (LogTape, libnetkit) is the daemon's, not `status`'s.
  const { listenStatus } = await import("../l2/status_server.ts");
  return await listenStatus(path, () => {
    const current = status();
    if (current === null) throw new NetkitError(`The ${role} is still joining the relay`);
    return current;
  });
}

/**
 * `netkit gateway -k` and `netkit client -k`: stops the `role` daemon on the status socket
 * `option` (`--status-socket`) or on `resource` (its LAN interface or TAP) when either is
 * given, else every one in this namespace.
 */
export async function killPeers(
  io: CliIo,
  role: PeerRole,
  resource: string | undefined,
  option: string | undefined,
): Promise<void> {
  await killDaemons({
    name: role,
    paths: resource === undefined && option === undefined
      ? listControlSockets(peerSocketPrefix(role, currentNetnsId()))
      : [peerSocketPath(role, resource ?? "", option)],
    ask: (socket) =>
      requestChecked(socket, STATUS_REQUEST, PeerStatusReply, peerStatusContext(role)),
    describe: (status) => status.interface,
    out: (text) => io.out(text),
  });
}

/** Adds `status` under the `role` command. */
export function registerPeerStatus(command: Command, role: PeerRole, io: CliIo): void {
  logsNothing(command.command("status"))
    .description(`show a running ${role}'s counters, drops and session (-j JSON)`)
    .option(
      "--status-socket <path>",
      `the ${role}'s status socket (default: the only ${role} in this namespace)`,
    )
    .action(async (_options: unknown, sub: Command) => {
      // optsWithGlobals: the daemon command has --status-socket too, and takes it before status.
      const g = sub.optsWithGlobals<GlobalOptions & { statusSocket?: string }>();
      const path = g.statusSocket ?? await findPeerSocket(role);
      const status = await requestChecked(
        path,
        STATUS_REQUEST,
        PeerStatusReply,
        peerStatusContext(role),
      );
      printResult(io, g, status, () => formatPeerStatus(status));
    });
}

async function findPeerSocket(role: PeerRole): Promise<string> {
  const sockets = await listControlSockets(peerSocketPrefix(role, currentNetnsId()));
  if (sockets.length === 0) {
    throw new NetkitError(`No ${role} runs in this network namespace (or give --status-socket)`);
  }
  if (sockets.length > 1) {
    throw new NetkitError(
      `Several ${role}s run here: give --status-socket (one of ${sockets.join(", ")})`,
    );
  }
  return sockets[0]!;
}

/** `a=1 b=2`, or `-` when there is nothing. */
function countsText(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(" ");
}

/**
 * A table of `counts` with a label row and a unit row, and the legend of its columns (every
 * key, known or not, gets a column: new counters show up by themselves).
 */
function countersTable(counts: Record<string, number>): { table: string; legend: string[] } {
  const keys = Object.keys(counts);
  const infos = keys.map(counterInfo);
  const table = formatTable([
    infos.map((i) => i.label),
    infos.map((i) => i.unit),
    keys.map((k) => String(counts[k])),
  ]);
  return { table, legend: infos.map((i) => `${i.label} (${i.unit}): ${i.meaning}`) };
}

/** The human form of `gateway status` and `client status`. */
export function formatPeerStatus(status: PeerDaemonStatus): string {
  const s = status.session;
  const where = status.role === "gateway" ? "LAN interface" : "TAP";
  let text = `${status.role} on ${where} ${status.interface} (${status.mac}), pid ${status.pid}, ` +
    `netkit ${status.version}\n`;
  text += `session: ${s.state}, relay ${s.relay}, room ${s.room}`;
  if (s.state === "connected") {
    text += `, peer ${s.peer_id}, frames up to ${s.frame_max} bytes, connected ${
      durationText(s.connected_ms ?? 0)
    }`;
  }
  if (status.role === "client") {
    text += `, gateway ${s.gateway_present ? "present" : "absent (the LAN is unreachable)"}`;
  }
  text += "\n\n";
  const own = countersTable(status.counters);
  const session = countersTable(s.counters);
  text += own.table + "\n" + session.table + "\n";
  text += `drops (frames, by reason): ${countsText(status.drops)}\n`;
  text += wrapText(
    `legend: ${[...own.legend, ...session.legend].join("; ")}; drops: frames not sent on, ` +
      "by reason, counted where they were dropped.",
    100,
  ) + "\n";
  return text;
}
