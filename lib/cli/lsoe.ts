/**
 * `netkit lsoe`: run the Link State Over Ethernet speaker of this namespace (in the foreground,
 * or detached with `-d`), show what it knows (`-s`), follow its sessions (`monitor`) or stop it
 * (`-k`). Options are lsoed's: `-c FILE` reads an lsoed configuration file unchanged, and its
 * `[lsoed]` options may also be given as `--NAME VALUE`, which override the file.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import { absolute } from "../daemon/absolute_path.ts";
import { killDaemons, PidReply } from "../daemon/stop.ts";
import { NetkitError } from "../errors.ts";
import { durationText } from "../text.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import {
  type EncapsulationJson,
  type EncapsulationsJson,
  type LsoeEvent,
  lsoeReply,
  lsoeSocketName,
  MonitorLine,
  type MplsEncapsulationJson,
  type SessionJson,
  StatusReply,
  type TimersJson,
} from "../lsoe/client.ts";
import {
  type LsoeCommandLine,
  type LsoeConfig,
  type LsoeSettings,
  parseLsoedOption,
  parseMplsLabel,
  readLsoeIni,
  resolveLsoeConfig,
} from "../lsoe/config.ts";
import { LSOE_ETHERTYPE, LSOED_ETHERTYPE } from "../packet/lsoe.ts";
import { UsageError } from "./errors.ts";
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

/** Raw commander options of `netkit lsoe`. */
export interface LsoeCliOptions extends DaemonModeOptions {
  /** `-i`: interfaces, in order (repeatable). */
  interface?: string[];
  /** `-c`: an lsoed configuration file. */
  config?: string;
  /** `--ethertype`: unchecked. */
  ethertype?: string;
  /** `--local-id`: unchecked. */
  localId?: string;
  /** `--hello-interval`: seconds, unchecked. */
  helloInterval?: string;
  /** `--keepalive-send-interval`: seconds, unchecked. */
  keepaliveSendInterval?: string;
  /** `--keepalive-receive-timeout`: seconds, unchecked. */
  keepaliveReceiveTimeout?: string;
  /** `--retransmit-initial-interval`: seconds, unchecked. */
  retransmitInitialInterval?: string;
  /** `--retransmit-max-drop`: unchecked. */
  retransmitMaxDrop?: string;
  /** `--mpls-label IFACE=LABEL` (repeatable), unchecked. */
  mplsLabel?: string[];
  /** `--pcap`: where to record the frames. */
  pcap?: string;
  /** `-s`: show the daemon's state instead of running one. */
  status?: boolean;
}

/** What the command line asks for, validated (the file is read later, by the action). */
export type LsoeAction =
  | { kind: "status" }
  | { kind: "kill" }
  | {
    kind: "start";
    /** `-c`, absolute, or null. */
    configFile: string | null;
    /** Everything else the command line gives. */
    commandLine: LsoeCommandLine;
    /** `-d` in the parent. */
    detach: boolean;
    /** `-d`'s child. */
    detachedChild: boolean;
  };

/** The `[lsoed]` options the command line takes, as commander names them, with lsoed's name. */
const LSOED_FLAGS: readonly (readonly [keyof LsoeCliOptions, string])[] = [
  ["localId", "local-id"],
  ["helloInterval", "hello-interval"],
  ["keepaliveSendInterval", "keepalive-send-interval"],
  ["keepaliveReceiveTimeout", "keepalive-receive-timeout"],
  ["retransmitInitialInterval", "retransmit-initial-interval"],
  ["retransmitMaxDrop", "retransmit-max-drop"],
];

/** Options that only make sense when starting the daemon, with how they are spelled. */
const START_ONLY: readonly (readonly [keyof LsoeCliOptions, string])[] = [
  ["interface", "-i/--interface"],
  ["config", "-c/--config"],
  ["ethertype", "--ethertype"],
  ["mplsLabel", "--mpls-label"],
  ["pcap", "--pcap"],
  ["daemon", "-d/--daemon"],
  ...LSOED_FLAGS.map(([key, name]) => [key, `--${name}`] as const),
];

function given(options: LsoeCliOptions, key: keyof LsoeCliOptions): boolean {
  const value = options[key];
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
}

/**
 * Turns parsed options (plus the global `-j`/`-p`) into one validated action; every problem is
 * one line and exit 2 (a {@linkcode UsageError}, or an `InvalidInputError` from lib/lsoe/config.ts).
 */
export function parseLsoeOptions(options: LsoeCliOptions, output: GlobalOptions): LsoeAction {
  const json = output.json === true || output.pretty === true;
  if (options.status || options.kill) {
    if (options.status && options.kill) {
      throw new UsageError("-s/--status and -k/--kill cannot be used together");
    }
    const action = options.status ? "-s/--status" : "-k/--kill";
    for (const [key, flag] of START_ONLY) {
      if (given(options, key)) {
        throw new UsageError(`${flag} starts the daemon and cannot be used with ${action}`);
      }
    }
    if (options.kill && json) {
      throw new UsageError("-j/--json and -p/--pretty can only be used with -s/--status");
    }
    return { kind: options.status ? "status" : "kill" };
  }
  const mode = daemonMode(options);
  if (json) throw new UsageError("-j/--json and -p/--pretty can only be used with -s/--status");
  let settings: LsoeSettings = {};
  for (const [key, name] of LSOED_FLAGS) {
    const value = options[key];
    if (typeof value === "string") {
      settings = { ...settings, ...parseLsoedOption(name, value, `--${name}`) };
    }
  }
  return {
    kind: "start",
    configFile: options.config === undefined ? null : absolute(options.config),
    commandLine: {
      interfaces: options.interface ?? [],
      etherType: options.ethertype === undefined
        ? null
        : parseIntegerOption(options.ethertype, "--ethertype", 0x0600, 0xffff),
      mplsLabels: (options.mplsLabel ?? []).map(parseMplsLabel),
      // Absolute: the detached daemon leaves the working directory.
      pcap: options.pcap === undefined ? null : absolute(options.pcap),
      settings,
    },
    detach: mode === "detach",
    detachedChild: mode === "detached-child",
  };
}

/**
 * A duration as people read it: `0.4s`, `12s`, `5m12s`, `3h05m`, `2d03h`; {@linkcode durationText}
 * but for whole seconds under ten (`0s`, `3s`, not `0.0s`, `3.0s`) and tenths cut, not rounded.
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return s < 10 ? `${Math.floor(s * 10) / 10}s` : durationText(ms);
}

/** `time` (ISO 8601) as an age at `now`: `5m12s ago`; `-` for null; the text itself if unreadable. */
function ago(time: string | null, now: Date): string {
  if (time === null) return "-";
  const at = Date.parse(time);
  return Number.isNaN(at) ? time : `${formatAge(now.getTime() - at)} ago`;
}

/** One announced address, compactly: `192.0.2.2/30*` (primary), `(lo)` loopback, `[16]` labels. */
export function formatEncapsulation(entry: EncapsulationJson | MplsEncapsulationJson): string {
  const labels = "labels" in entry ? `[${entry.labels.join(",")}]` : "";
  return `${entry.address}/${entry.prefix_length}${entry.primary ? "*" : ""}${
    entry.loopback ? "(lo)" : ""
  }${labels}`;
}

/** Every address a peer announced, IPv4, IPv6, MPLS-IPv4 then MPLS-IPv6; `-` for none. */
export function formatEncapsulations(encapsulations: EncapsulationsJson): string {
  const all = [
    ...encapsulations.ipv4,
    ...encapsulations.ipv6,
    ...encapsulations.mpls_ipv4,
    ...encapsulations.mpls_ipv6,
  ];
  return all.length === 0 ? "-" : all.map(formatEncapsulation).join(", ");
}

/** What the address marks mean, printed under a table that uses them. */
const ADDRESS_LEGEND =
  "Addresses: * primary (the peer's on this link), (lo) loopback, [n] MPLS labels";

function formatTimers(t: TimersJson): string {
  const s = (n: number) => `${n}s`;
  return `Timers: hello ${s(t.hello_interval)}, keepalive ${s(t.keepalive_send_interval)}, ` +
    `silence limit ${
      t.keepalive_receive_timeout === 0 ? "never" : s(t.keepalive_receive_timeout)
    }, ` +
    `retransmit ${s(t.retransmit_initial_interval)}${
      t.retransmit_exponential_backoff ? " doubling" : ""
    } up to ${t.retransmit_max_drop} drops, reassembly ${s(t.reassembly_timeout)}, ` +
    `MAC cache ${s(t.mac_address_cache_timeout)}`;
}

function sessionRow(session: SessionJson, now: Date): string[] {
  return [
    session.interface,
    session.peer_mac,
    session.peer_local_id ?? "-",
    session.state,
    ago(session.open_since, now),
    ago(session.last_keepalive, now),
    formatEncapsulations(session.encapsulations),
  ];
}

/** `reason n, ...` for the counts above 0, or `none`. */
function countsText(counts: Record<string, number>): string {
  const happened = Object.entries(counts).filter(([, n]) => n > 0);
  return happened.length === 0 ? "none" : happened.map(([r, n]) => `${r} ${n}`).join(", ");
}

/**
 * The human form of `netkit lsoe -s` at `now`: who we are, the timers, the interfaces, then one
 * line per session (interface, peer, state, ages, the peer's addresses) and the drops.
 */
export function formatLsoeStatus(status: StatusReply, now: Date): string {
  const etherType = `0x${status.ethertype.toString(16).padStart(4, "0")}${
    status.ethertype === LSOED_ETHERTYPE ? " (lsoed's)" : ""
  }`;
  const lines = [
    `LSoE speaker ${status.pid}: local ID ${status.local_id}, EtherType ${etherType}`,
    formatTimers(status.timers),
    "",
  ];
  if (status.interfaces.length === 0) lines.push("No interfaces");
  else {
    lines.push(
      formatTable([
        ["Interface", "MAC", "State", "HELLOs", "MPLS label"],
        ...status.interfaces.map((i) => [
          i.name,
          i.mac,
          i.state,
          String(i.hellos_sent),
          i.mpls_label === null ? "-" : String(i.mpls_label),
        ]),
      ]),
    );
  }
  if (status.sessions.length === 0) lines.push("No sessions");
  else {
    lines.push(
      formatTable([
        [
          "Interface",
          "Peer MAC",
          "Peer local ID",
          "State",
          "Open since",
          "Last heard",
          "Addresses",
        ],
        ...status.sessions.map((s) => sessionRow(s, now)),
      ]) + ADDRESS_LEGEND,
    );
  }
  lines.push(`Dropped: ${countsText(status.drops)}`);
  return lines.join("\n") + "\n";
}

/**
 * A `monitor` event as one line: the time, the event, the interface and peer, then what it
 * says (`nonce ...`, `reason ...`, or the family and its new list, `none` once withdrawn).
 */
export function formatLsoeEvent(event: LsoeEvent): string {
  const head = `${event.time} ${event.event} ${event.interface} ${event.peer_mac} id ${
    event.peer_local_id ?? "-"
  }`;
  switch (event.event) {
    case "session_open":
      return `${head} nonce ${event.peer_nonce}`;
    case "session_close":
      return `${head} reason ${event.reason}`;
    case "encapsulations":
      return `${head} ${event.family} ${
        event.entries.length === 0 ? "none" : event.entries.map(formatEncapsulation).join(", ")
      }`;
  }
}

/** The daemon's control socket in this namespace (`-n` has been entered already). */
function socketPath(): string {
  return controlSocketPath(lsoeSocketName(currentNetnsId()));
}

function unreachable(err: DaemonUnreachableError, globals: GlobalOptions): NetkitError {
  const netns = globals.netns === undefined ? "" : ` -n ${globals.netns}`;
  return new NetkitError(`${err.message}; start it with "netkit${netns} lsoe -d"`);
}

/** Runs the daemon in this process until a signal. */
async function runDaemon(config: LsoeConfig, detachedChild: boolean): Promise<void> {
  // Loaded only to run it: the client subcommands never load the daemon or libnetkit.
  const { LsoeDaemon } = await import("../lsoe/daemon.ts");
  const { DaemonLoop, announceDetached } = await loadDaemonSide();
  // Before the daemon starts: a signal meanwhile stops it, never kills it.
  using loop = new DaemonLoop();
  await using daemon = await LsoeDaemon.start(config);
  if (detachedChild) announceDetached();
  await daemon.run(loop);
}

/** The action's start path: the file read, the configuration resolved, then the daemon. */
async function start(
  io: CliIo,
  args: readonly string[],
  globals: GlobalOptions,
  action: Extract<LsoeAction, { kind: "start" }>,
): Promise<void> {
  // Loaded here: node:crypto is not for the client subcommands to pay for.
  const { defaultLocalId } = await import("../lsoe/local_id.ts");
  const ini = action.configFile === null ? null : await readLsoeIni(action.configFile);
  // The parent of -d says it; its child would say it again into the log.
  if (!action.detachedChild) {
    for (const line of ini?.ignored ?? []) io.err(`netkit: warning: ${line}\n`);
  }
  const config = resolveLsoeConfig(
    ini?.settings ?? {},
    action.commandLine,
    () => defaultLocalId().localId,
  );
  if (action.detach) return await detachDaemon(io, args, globals, "lsoe");
  await runDaemon(config, action.detachedChild);
}

async function showStatus(io: CliIo, globals: GlobalOptions): Promise<void> {
  let reply: StatusReply;
  try {
    reply = await requestChecked(
      socketPath(),
      { action: "STATUS" },
      StatusReply,
      lsoeReply("STATUS"),
    );
  } catch (err) {
    if (err instanceof DaemonUnreachableError) throw unreachable(err, globals);
    throw err;
  }
  printResult(io, globals, reply, () => formatLsoeStatus(reply, new Date()));
}

const HELP_AFTER = `
With no -i, every interface that is up, Ethernet and not loopback, including those that
appear later. One speaker per network namespace (-n to pick one).

The configuration file (-c FILE) is lsoed's, used unchanged:
  section [lsoed] with lsoed's options hello-interval, keepalive-send-interval,
  keepalive-receive-timeout (0: never), retransmit-initial-interval,
  retransmit-exponential-backoff, retransmit-max-drop, reassembly-timeout,
  mac-address-cache-timeout, hello-multicast-macaddr, local-id (times in seconds);
  lsoed's defaults for what it leaves out; report-rfc7752-url accepted and ignored.
  It must belong to root and be writable by no one else. The options above override it.

The default Local ID is lsoed's: the MD5 of /sys/class/dmi/id/product_uuid (or of
/etc/machine-id), first 10 bytes, with the namespace hashed in outside the initial one.

EtherType: 0x${LSOE_ETHERTYPE.toString(16)} by default (IEEE Local Experimental 1). lsoed sends 0x${
  LSOED_ETHERTYPE.toString(16)
}:
use --ethertype 0x${LSOED_ETHERTYPE.toString(16)} to speak to it.

-s -j prints the daemon's STATUS reply and monitor -j its events, documented in
lib/lsoe/client.ts: snake_case, stable, for BGP-SPF speakers and controllers.
tshark -X lua_script:/usr/local/share/netkit/wireshark/lsoe.lua decodes --pcap captures.
`;

/** Adds `netkit lsoe` and `netkit lsoe monitor`. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const lsoe = program.command("lsoe");
  // -s loads nothing that logs; the daemon, -d and -k do.
  logsNothing(lsoe, (options) => options.status === true);
  addDaemonModeOptions(
    lsoe
      .description("Link State Over Ethernet speaker: neighbours, their addresses, liveness")
      .option(
        "-i, --interface <name>",
        "speak on interface NAME (repeatable; default: all)",
        collect,
      )
      .option("-c, --config <file>", "an lsoed configuration file ([lsoed] section; see below)")
      .option(
        "--ethertype <type>",
        `EtherType (default 0x${LSOE_ETHERTYPE.toString(16)}; lsoed's is 0x${
          LSOED_ETHERTYPE.toString(16)
        })`,
      )
      .option("--local-id <hex>", "our Local ID, 10 bytes in hex (default: see below)")
      .option("--hello-interval <s>", "seconds between HELLOs on each interface (default 60)")
      .option("--keepalive-send-interval <s>", "seconds between KEEPALIVEs (default 1)")
      .option(
        "--keepalive-receive-timeout <s>",
        "close a session silent this long, 0: never (default 60)",
      )
      .option(
        "--retransmit-initial-interval <s>",
        "seconds before the first retransmission (default 1)",
      )
      .option(
        "--retransmit-max-drop <n>",
        "close a session after N retransmission timeouts (default 3)",
      )
      .option(
        "--mpls-label <iface=label>",
        "announce IFACE's addresses as MPLS with LABEL too (repeatable)",
        collect,
      )
      .option("--pcap <file>", "record every LSoE frame sent and received")
      .option("-s, --status", "show the interfaces and sessions (-j/-p for JSON)"),
    "the lsoe daemon of this namespace",
  )
    .addHelpText("after", HELP_AFTER)
    .action(async (options: LsoeCliOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const action = parseLsoeOptions(options, globals);
      if (action.kind === "status") return await showStatus(io, globals);
      if (action.kind === "kill") {
        return await killDaemons({
          name: "lsoe",
          paths: [socketPath()],
          ask: (path) => requestChecked(path, { action: "STATUS" }, PidReply, lsoeReply("STATUS")),
          describe: (_status, path) => path,
          out: (text) => io.out(text),
        });
      }
      await start(io, args, globals, action);
    });

  logsNothing(
    lsoe.command("monitor").description(
      "live session events: session_open, encapsulations, session_close (-j for JSON)",
    ),
  ).action(async (_options: unknown, command: Command) => {
    const globals = command.optsWithGlobals<GlobalOptions>();
    await printMonitor(io, globals, {
      path: socketPath(),
      schema: MonitorLine,
      context: lsoeReply("SUBSCRIBE"),
      isEvent: (line): line is LsoeEvent => !("status" in line),
      text: formatLsoeEvent,
      unreachable: (err) => unreachable(err, globals),
    });
  });
}
