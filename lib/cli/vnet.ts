/**
 * `netkit vnet`: a userspace virtual router for VMs and containers on TAP devices. `vnet daemon`
 * runs it (one per namespace); `vnet nic add|del`, `vnet show` and `vnet monitor` talk to it
 * over its control socket. `netkit vnet --tap NAME --mac ... --ipv4 ...` serves one NIC in the
 * foreground, with no state file and no control socket unless `--socket` names one.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import type { Schema } from "../zod_exact.ts";
import { absolute } from "../daemon/absolute_path.ts";
import { killDaemons, PidReply } from "../daemon/stop.ts";
import { NetkitError } from "../errors.ts";
import { UsageError } from "./errors.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import { MTU_RANGE, type NicSpec, RA_INTERVAL_RANGE, resolveNic } from "../vnet/config.ts";
import type { NicCounters } from "../vnet/dataplane.ts";
import {
  defaultStatePath,
  MessageReply,
  MonitorLine,
  ShowReply,
  type VnetEvent,
  vnetReply,
  vnetSocketName,
} from "../vnet/client.ts";
import {
  addDaemonModeOptions,
  daemonMode,
  type DaemonModeOptions,
  detachDaemon,
  loadDaemonSide,
} from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { logsNothing } from "./logging.ts";
import { printMonitor } from "./monitor.ts";
import { collect, parseIntegerOption } from "./options.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";

/** The option that finds the daemon. */
interface DaemonAddress {
  socket?: string;
}

function socketPath(options: DaemonAddress): string {
  return options.socket ?? controlSocketPath(vnetSocketName(currentNetnsId()));
}

function unreachable(err: DaemonUnreachableError, globals: GlobalOptions): NetkitError {
  const netns = globals.netns === undefined ? "" : ` -n ${globals.netns}`;
  return new NetkitError(`${err.message}; start it with "netkit${netns} vnet daemon -d"`);
}

/** One request, its reply checked with `schema`; a missing daemon is explained. */
async function call<T>(
  options: DaemonAddress,
  globals: GlobalOptions,
  message: { action: string; payload?: unknown },
  schema: Schema<T>,
): Promise<T> {
  try {
    return await requestChecked(socketPath(options), message, schema, vnetReply(message.action));
  } catch (err) {
    if (err instanceof DaemonUnreachableError) throw unreachable(err, globals);
    throw err;
  }
}

/** The NIC options as commander gives them. */
interface NicOptions {
  mac: string;
  ipv4?: string;
  ipv6?: string;
  dns?: string[];
  profile?: string;
  gateway4?: string;
  gateway6?: string;
  tap?: string;
  attach?: string;
  mtu?: string;
  raInterval?: string;
  slaac?: boolean;
  rapidCommit?: boolean;
}

function nicOptions(command: Command, macRequired = true): Command {
  const mac = "the guest's MAC: the only source MAC accepted from it";
  return (macRequired
    ? command.requiredOption("--mac <mac>", mac)
    : command.option("--mac <mac>", mac))
    .option("--ipv4 <a.b.c.d/len>", "the guest's IPv4 address (linklocal: a /32)")
    .option("--ipv6 <addr/len>", "the guest's IPv6 address (linklocal: a /128)")
    .option("--dns <ip>", "a DNS server to hand out, IPv4 or IPv6 (repeatable)", collect)
    .option(
      "--profile <profile>",
      "linklocal (gateway 169.254.0.1 and fe80::1, default) or lan (the real prefix)",
    )
    .option("--gateway4 <ip>", "lan: the gateway's IPv4 address (default: the first host)")
    .option("--gateway6 <ip>", "lan: the gateway's IPv6 address (default: the first host)")
    .option("--tap <name>", "the TAP to create or open (default: the NIC's name)")
    .option("--attach <iface>", "serve this Ethernet interface through AF_PACKET instead")
    .option("--mtu <n>", "the link MTU (default 1500)")
    .option("--ra-interval <s>", "seconds between unsolicited router advertisements (default 600)")
    .option("--slaac", "lan: offer SLAAC (the IPv6 prefix must be a /64)")
    .option("--rapid-commit", "answer a DHCPv6 Solicit with Rapid Commit by a Reply");
}

/** The spec the options describe, checked as the daemon will check it (a bad one: exit 2). */
function nicSpec(name: string, options: NicOptions): NicSpec {
  if (
    options.profile !== undefined && options.profile !== "linklocal" && options.profile !== "lan"
  ) {
    throw new UsageError(
      `Invalid value "${options.profile}" for --profile: expected linklocal or lan`,
    );
  }
  const spec: NicSpec = {
    name,
    mac: options.mac,
    ...(options.ipv4 === undefined ? {} : { ipv4: options.ipv4 }),
    ...(options.ipv6 === undefined ? {} : { ipv6: options.ipv6 }),
    ...(options.dns === undefined ? {} : { dns: options.dns }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.gateway4 === undefined ? {} : { gateway4: options.gateway4 }),
    ...(options.gateway6 === undefined ? {} : { gateway6: options.gateway6 }),
    ...(options.tap === undefined ? {} : { tap: options.tap }),
    ...(options.attach === undefined ? {} : { attach: options.attach }),
    ...(options.mtu === undefined
      ? {}
      : { mtu: parseIntegerOption(options.mtu, "--mtu", MTU_RANGE.min, MTU_RANGE.max) }),
    ...(options.raInterval === undefined ? {} : {
      ra_interval: parseIntegerOption(
        options.raInterval,
        "--ra-interval",
        RA_INTERVAL_RANGE.min,
        RA_INTERVAL_RANGE.max,
      ),
    }),
    ...(options.slaac ? { slaac: true } : {}),
    ...(options.rapidCommit ? { rapid_commit: true } : {}),
  };
  return resolveNic(spec).spec;
}

/** `reason n, ...` for the counts above 0, or `none`. */
function reasonsText(counts: Record<string, number>): string {
  const happened = Object.entries(counts).filter(([, n]) => n > 0);
  return happened.length === 0
    ? "none"
    : happened.map(([reason, n]) => `${reason} ${n}`).join(", ");
}

function countersRows(counters: NicCounters): string[][] {
  return [
    [
      "",
      `rx ${counters.rx_frames} frames ${counters.rx_bytes} bytes, tx ${counters.tx_frames} frames ${counters.tx_bytes} bytes`,
    ],
    [
      "",
      `routed ${counters.routed}, to responders ${counters.to_responder}, icmp errors ${counters.icmp_errors}`,
    ],
    ["", `dropped: ${reasonsText(counters.drops)}`],
  ];
}

/** The human form of `vnet show`. */
export function formatVnetShow(show: ShowReply, stats: boolean): string {
  const lines = [
    `Buffers: ${show.arena} pages; responders: ${
      show.responders.length === 0
        ? "none yet (gateway traffic is dropped)"
        : show.responders.join(", ")
    }`,
  ];
  if (show.uplink !== null) lines.push(`Uplink: ${show.uplink.name} (MTU ${show.uplink.mtu})`);
  const rows: string[][] = [];
  if (show.nics.length === 0) lines.push("No NICs");
  else rows.push(["NIC", "MAC", "IPv4", "IPv6", "Profile", "Device", "State"]);
  for (const nic of show.nics) {
    const c = nic.config;
    rows.push([
      nic.name,
      c.mac,
      c.ipv4 ?? "-",
      c.ipv6 ?? "-",
      c.profile ?? "linklocal",
      `${nic.device.kind} ${nic.device.name}`,
      nic.device.state,
    ]);
    if (stats && nic.counters !== null) rows.push(...countersRows(nic.counters));
    if (stats && nic.responder_counts !== null) {
      rows.push(["", `ipv4 responders: ${reasonsText(nic.responder_counts)}`]);
    }
  }
  if (stats && show.uplink?.counters) {
    rows.push(
      [`uplink ${show.uplink.name}`, "", "", "", "", "", ""],
      ...countersRows(show.uplink.counters),
    );
  }
  const table = formatTable(rows);
  const ipv6 = stats && show.ipv6_responder_drops !== null
    ? `IPv6 responders, all NICs, dropped: ${reasonsText(show.ipv6_responder_drops)}\n`
    : "";
  return lines.join("\n") + "\n" + table + ipv6;
}

/** A `vnet monitor` event as one line: `lease nic vm0 address 10.0.0.5 ...`. */
function eventText(e: VnetEvent): string {
  const { event, nic, ...rest } = e;
  const fields = Object.entries(rest).map(([k, v]) =>
    `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  return [event, ...(nic === undefined ? [] : [`nic ${nic}`]), ...fields].join(" ");
}

/** The options of the daemon (and of the foreground one-NIC mode). */
interface DaemonRunOptions {
  socket?: string;
  state?: string;
  uplink?: string;
  uplinkMtu?: string;
}

function uplinkOf(options: DaemonRunOptions): { name: string; mtu?: number } | null {
  if (options.uplink === undefined) {
    if (options.uplinkMtu !== undefined) throw new UsageError("--uplink-mtu needs --uplink");
    return null;
  }
  try {
    validateInterfaceName(options.uplink);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  return {
    name: options.uplink,
    ...(options.uplinkMtu === undefined
      ? {}
      : { mtu: parseIntegerOption(options.uplinkMtu, "--uplink-mtu", 1280, MTU_RANGE.max) }),
  };
}

function uplinkOptions(command: Command): Command {
  return command
    .option("--uplink <name>", "a TUN device into this host's kernel for every other destination")
    .option("--uplink-mtu <n>", "the uplink's MTU (default: as the device has it, 1500 when new)");
}

/** Runs the daemon in this process until a signal; `nics` are served besides the state file's. */
async function runDaemon(
  options: {
    socketPath: string | null;
    statePath: string | null;
    uplink: { name: string; mtu?: number } | null;
    nics?: NicSpec[];
  },
  detachedChild: boolean,
): Promise<void> {
  // Loaded here: the client subcommands need none of the daemon's modules.
  const { DaemonLoop, announceDetached } = await loadDaemonSide();
  // Before the daemon starts: a signal meanwhile stops it, never kills it.
  using loop = new DaemonLoop();
  const { VnetDaemon } = await import("../vnet/daemon.ts");
  await using daemon = await VnetDaemon.start({
    socketPath: options.socketPath,
    statePath: options.statePath,
    uplink: options.uplink,
    ...(options.nics === undefined ? {} : { nics: options.nics }),
  });
  if (detachedChild) announceDetached();
  await daemon.run(loop);
}

/** Adds `netkit vnet` and its subcommands. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();
  const vnet = program.command("vnet").description(
    "userspace virtual router for VMs and containers on TAP devices (ARP, DHCP, NDP, routing)",
  );

  // The default subcommand, so `netkit vnet --tap vm0 --mac ...` runs it: options on `vnet`
  // itself would take `nic add`'s (the root program hands unknown options down).
  uplinkOptions(
    nicOptions(
      vnet.command("serve", { isDefault: true }).description(
        "(default) serve one NIC in the foreground: no daemon, no state file",
      ),
    ),
  )
    .option("--socket <path>", "also serve this control socket (for show and monitor)")
    .action(async (options: NicOptions & DaemonRunOptions, command: Command) => {
      const device = options.tap ?? options.attach;
      if (device === undefined) {
        throw new UsageError(
          'Serve one NIC with "netkit vnet --tap NAME --mac MAC --ipv4 A/LEN", or see "netkit vnet --help"',
        );
      }
      const g = globals(command);
      if (g.json || g.pretty) throw new UsageError("-j/--json and -p/--pretty do not apply here");
      await runDaemon({
        socketPath: options.socket === undefined ? null : absolute(options.socket),
        statePath: null,
        uplink: uplinkOf(options),
        nics: [nicSpec(device, options)],
      }, false);
    });

  addDaemonModeOptions(
    uplinkOptions(vnet.command("daemon").description("run the vnet daemon of this namespace")),
    "the vnet daemon of this namespace",
  )
    .option("--socket <path>", "control socket (default: /run/netkit/vnet-ns<netns>.sock)")
    .option("--state <file>", "NIC state file (default: /var/lib/netkit/vnet[-<netns>].json)")
    .action(async (options: DaemonModeOptions & DaemonRunOptions, command: Command) => {
      const g = globals(command);
      if (g.json || g.pretty) {
        throw new UsageError("-j/--json and -p/--pretty do not apply to the daemon");
      }
      const uplink = uplinkOf(options);
      const mode = daemonMode(options);
      if (mode === "kill") {
        return await killDaemons({
          name: "vnet",
          paths: [socketPath(options)],
          ask: (path) => requestChecked(path, { action: "SHOW" }, PidReply, vnetReply("SHOW")),
          describe: (_status, path) => path,
          out: (text) => io.out(text),
        });
      }
      if (mode === "detach") return await detachDaemon(io, args, g, "vnet");
      await runDaemon({
        // Absolute: a detached daemon leaves the working directory, and SIGHUP rereads it.
        socketPath: absolute(socketPath(options)),
        statePath: absolute(options.state ?? defaultStatePath(g.netns ?? null)),
        uplink,
      }, mode === "detached-child");
    });

  const nic = vnet.command("nic").description("add or remove a NIC of the running daemon");
  // The client subcommands load nothing that logs: no LogTape set-up (lib/cli/logging.ts).
  nicOptions(
    logsNothing(
      nic.command("add").description("add a NIC (or replace the one of that name)").argument(
        "<name>",
      ),
    ),
  )
    .option("--socket <path>", "the daemon's control socket")
    .action(async (name: string, options: NicOptions & DaemonAddress, command: Command) => {
      const spec = nicSpec(name, options);
      const reply = await call(
        options,
        globals(command),
        { action: "NIC_ADD", payload: spec },
        MessageReply,
      );
      printResult(io, globals(command), reply, () => reply.message);
    });
  logsNothing(nic.command("del").description("remove a NIC (a TAP netkit created goes with it)"))
    .argument("<name>")
    .option("--socket <path>", "the daemon's control socket")
    .action(async (name: string, options: DaemonAddress, command: Command) => {
      try {
        validateInterfaceName(name);
      } catch (err) {
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
      const reply = await call(
        options,
        globals(command),
        { action: "NIC_DEL", payload: { name } },
        MessageReply,
      );
      printResult(io, globals(command), reply, () => reply.message);
    });

  logsNothing(vnet.command("show").description("NICs, their devices and (-s) counters by reason"))
    .option("-s, --stats", "add frame counters and drops by reason")
    .option("--socket <path>", "the daemon's control socket")
    .action(async (options: DaemonAddress & { stats?: boolean }, command: Command) => {
      const stats = options.stats === true;
      const reply = await call(
        options,
        globals(command),
        { action: "SHOW", payload: { stats } },
        ShowReply,
      );
      const { status: _status, ...show } = reply;
      printResult(io, globals(command), show, () => formatVnetShow(reply, stats));
    });

  vnet.command("monitor").description(
    "live events: NICs added and removed, leases, naks, unknown traffic",
  )
    .option("--socket <path>", "the daemon's control socket")
    .action(async (options: DaemonAddress, command: Command) => {
      const g = globals(command);
      await printMonitor(io, g, {
        path: socketPath(options),
        schema: MonitorLine,
        context: vnetReply("SUBSCRIBE"),
        isEvent: (line): line is VnetEvent => !("status" in line),
        text: eventText,
        unreachable: (err) => unreachable(err, g),
      });
    });
}
