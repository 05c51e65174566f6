/**
 * `netkit lacp`: start an LACP actor (in the foreground or detached), show every daemon's
 * status (`-s`), or stop daemons (`-k`). The options are those of the original lacpd plus
 * identity, injection extensions and evidence (`--pcap`).
 *
 * @module
 */

import { Option } from "commander";
import type { Command } from "./command.ts";
import { requestChecked } from "../daemon/client.ts";
import { askDaemons, killDaemons } from "../daemon/stop.ts";
import { UsageError } from "./errors.ts";
import { listControlSockets } from "../ipc/run_dir.ts";
import { parseInjectRule } from "../lacp/inject_rule.ts";
import {
  controlSocketPrefix,
  LACP_STATUS,
  LacpStatusReply,
  STATUS_REQUEST,
} from "../lacp/client.ts";
import { LACP_DEFAULTS, type LacpDaemonOptions, lacpDaemonOptions } from "../lacp/options.ts";
import { type DaemonStatus, formatDaemonStatus } from "../lacp/status.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import { isMulticastMac, parseMac } from "../packet/mac.ts";
import { DETACH_HELP, detachDaemon, loadDaemonSide } from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import { logsNothing } from "./logging.ts";
import { printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";
import { collect, parseIntegerOption } from "./options.ts";

/** Raw commander options of `netkit lacp`. */
export interface LacpCliOptions {
  /** `-i`: the ports, in the order given (repeatable). */
  interface?: string[];
  /** `--passive`: speak only when spoken to. */
  passive?: boolean;
  /** `--rate`: "fast" or "slow" (commander checks the choice). */
  rate?: string;
  /** `-d`: detach once the daemon serves its control socket. */
  daemon?: boolean;
  /** `--system-id`: a MAC address, unchecked. */
  systemId?: string;
  /** `--system-priority`: an integer, unchecked. */
  systemPriority?: string;
  /** `--key`: the aggregation key, unchecked. */
  key?: string;
  /** `--port-priority`: an integer, unchecked. */
  portPriority?: string;
  /** `--inject`: injection rules, unparsed (repeatable). */
  inject?: string[];
  /** `--exit-after-inject`: exit once the injected LACPDUs are sent. */
  exitAfterInject?: boolean;
  /** `--pcap`: where to record the PDUs. */
  pcap?: string;
  /** `-s`: show the daemons' state instead of running one. */
  status?: boolean;
  /** `-k`: stop the daemons instead of running one. */
  kill?: boolean;
  /** Hidden: this process is the detached daemon `-d` started. */
  detachedChild?: boolean;
}

/** What the command line asks for, validated. */
export type LacpAction =
  | { kind: "start"; daemon: LacpDaemonOptions; detach: boolean; detachedChild: boolean }
  | { kind: "status"; interfaces: string[] }
  | { kind: "kill"; interfaces: string[] };

const DAEMON_ONLY: [keyof LacpCliOptions, string][] = [
  ["passive", "--passive"],
  ["rate", "--rate"],
  ["daemon", "-d/--daemon"],
  ["systemId", "--system-id"],
  ["systemPriority", "--system-priority"],
  ["key", "--key"],
  ["portPriority", "--port-priority"],
  ["inject", "--inject"],
  ["exitAfterInject", "--exit-after-inject"],
  ["pcap", "--pcap"],
];

function given(options: LacpCliOptions, key: keyof LacpCliOptions): boolean {
  const value = options[key];
  return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false;
}

/** Turns parsed options (plus the global -j/-p) into one validated action; usage errors exit 2. */
export function parseLacpOptions(
  options: LacpCliOptions,
  output: { json?: boolean; pretty?: boolean },
): LacpAction {
  if (options.status && options.kill) {
    throw new UsageError("-s/--status and -k/--kill cannot be used together");
  }
  const interfaces = options.interface ?? [];
  const seen = new Set<string>();
  for (const name of interfaces) {
    validateInterfaceName(name);
    if (seen.has(name)) throw new UsageError(`Interface "${name}" is given twice with -i`);
    seen.add(name);
  }
  if (options.status || options.kill) {
    const action = options.status ? "-s/--status" : "-k/--kill";
    for (const [key, flag] of DAEMON_ONLY) {
      if (given(options, key)) {
        throw new UsageError(`${flag} starts a daemon and cannot be used with ${action}`);
      }
    }
    if (options.kill && (output.json || output.pretty)) {
      throw new UsageError("-j/--json and -p/--pretty can only be used with -s/--status");
    }
    return { kind: options.status ? "status" : "kill", interfaces };
  }
  if (interfaces.length === 0) {
    throw new UsageError("Must specify either -s/--status, -k/--kill, or -i/--interface");
  }
  if (output.json || output.pretty) {
    throw new UsageError("-j/--json and -p/--pretty can only be used with -s/--status");
  }
  if (options.rate !== undefined && options.rate !== "fast" && options.rate !== "slow") {
    throw new UsageError(`Invalid value "${options.rate}" for --rate: expected "fast" or "slow"`);
  }
  let systemId: Uint8Array | undefined;
  if (options.systemId !== undefined) {
    try {
      systemId = parseMac(options.systemId);
    } catch (err) {
      throw new UsageError(
        `Invalid value for --system-id: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (isMulticastMac(systemId) || systemId.every((b) => b === 0)) {
      throw new UsageError(
        `Invalid value "${options.systemId}" for --system-id: a system id must be a non-zero unicast MAC`,
      );
    }
  }
  if (options.exitAfterInject && (options.inject ?? []).length === 0) {
    throw new UsageError("--exit-after-inject needs at least one --inject rule");
  }
  const number = (value: string | undefined, option: string) =>
    value === undefined ? undefined : parseIntegerOption(value, option, 0, 65535);
  const systemPriority = number(options.systemPriority, "--system-priority");
  const key = number(options.key, "--key");
  const portPriority = number(options.portPriority, "--port-priority");
  const daemon = lacpDaemonOptions(interfaces, {
    active: !options.passive,
    fast: (options.rate ?? "fast") === "fast",
    rules: (options.inject ?? []).map(parseInjectRule),
    exitAfterInject: options.exitAfterInject === true,
    ...(systemPriority === undefined ? {} : { systemPriority }),
    ...(key === undefined ? {} : { key }),
    ...(portPriority === undefined ? {} : { portPriority }),
    ...(systemId === undefined ? {} : { systemId }),
    ...(options.pcap === undefined ? {} : { pcap: options.pcap }),
  });
  return {
    kind: "start",
    daemon,
    detach: options.daemon === true,
    detachedChild: options.detachedChild === true,
  };
}

const HELP_AFTER = `
Injection rules (--inject, repeatable) change what we send, never our state machines:
  "COND -> TARGET [#N]"    items joined by |, roles A: (actor, us) and P: (partner)
  values   letters of ATGSCDFE (ACTIVE, SHORT_TIMEOUT, AGGREGATION, SYNC, COLLECTING,
           DISTRIBUTING, DEFAULTED, EXPIRED), 0x.. hex or decimal, at most 255
  COND     A:VALUE / P:VALUE match the whole state byte; A:+S-CD needs S set and C, D clear;
           an empty condition always holds
  TARGET   A:VALUE / P:VALUE replace the state byte; A:+S / A:-CD set / clear bits;
           key=N system=MAC sysprio=N port=N portprio=N version=N override our fields;
           drop sends nothing
  #N       fire at most N times on each port (default: every LACPDU while COND holds);
           a rule fires when it changes or drops the LACPDU
  #N/episode  at most N times each time COND begins to hold (after it stopped holding)
  e.g.  --inject "P:ATGSCD -> A:ATG"   --inject "A:+S -> A:-S | key=7 #3"

--exit-after-inject: exit 0 as soon as at least one rule has fired and every port on
which a rule fired has sent its injected LACPDU (or dropped it, for drop rules).

Status (-s) and stop (-k) find every daemon in the network namespace (-n for another);
-i limits them to daemons on that interface. -k sends SIGTERM and waits up to 5 s.
`;

/** Adds `netkit lacp`. */
export function register(program: Command, io: CliIo, args: readonly string[]): void {
  const lacp = program.command("lacp");
  // `-s` loads no module that logs; the daemon, -d and -k do.
  logsNothing(lacp, (options) => options.status === true);
  lacp
    .description("IEEE 802.1AX LACP actor and test peer")
    .option("-i, --interface <name>", "run on interface NAME (repeat for more ports)", collect)
    .option("--passive", "passive LACP: speak only when spoken to (default: active)")
    .addOption(
      new Option(
        "--rate <rate>",
        "LACPDU rate asked of the partner: fast 1 s/3 s timeout, slow 30 s/90 s (default: fast)",
      ).choices(["fast", "slow"]),
    )
    .option("-d, --daemon", DETACH_HELP)
    .option("--system-id <mac>", "system id (default: MAC of the first interface)")
    .option("--system-priority <n>", `system priority (default: ${LACP_DEFAULTS.systemPriority})`)
    .option("--key <n>", `aggregation key (default: ${LACP_DEFAULTS.key})`)
    .option(
      "--port-priority <n>",
      `port priority of every port (default: ${LACP_DEFAULTS.portPriority})`,
    )
    .option("--inject <rule>", "change outgoing LACPDUs (repeatable; see below)", collect)
    .option("--exit-after-inject", "exit once injected LACPDUs have been sent (see below)")
    .option("--pcap <file>", "record every LACPDU and Marker PDU sent and received")
    .option("-s, --status", "show every daemon's state (-j/-p for JSON)")
    .option("-k, --kill", "stop daemons gracefully")
    .addOption(new Option("--detached-child").hideHelp())
    .addHelpText("after", HELP_AFTER)
    .action(async (options: LacpCliOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const action = parseLacpOptions(options, globals);
      if (action.kind === "status") return await showStatus(io, globals, action.interfaces);
      if (action.kind === "kill") {
        return await killDaemons({
          name: "lacp",
          ...daemonsOn(action.interfaces),
          describe: (status) => status.ports.map((p) => p.interface).join(", "),
          out: (text) => io.out(text),
        });
      }
      if (action.detach && !action.detachedChild) {
        return await detachDaemon(
          io,
          args,
          globals,
          `lacp-${action.daemon.interfaces.join("-")}`,
        );
      }
      const { DaemonLoop, announceDetached } = await loadDaemonSide();
      // Before the daemon starts: a signal meanwhile stops it, never kills it.
      using loop = new DaemonLoop();
      const { LacpDaemon } = await import("../lacp/daemon.ts");
      await using daemon = await LacpDaemon.start(action.daemon);
      if (action.detachedChild) announceDetached();
      await daemon.run(loop);
    });
}

/**
 * Where the daemons of this namespace are and how each is asked, keeping those on `interfaces`
 * when given (its status then shows only those ports).
 */
function daemonsOn(interfaces: readonly string[]): {
  paths: Promise<readonly string[]>;
  ask: (path: string) => Promise<DaemonStatus | null>;
} {
  return {
    paths: listControlSockets(controlSocketPrefix(currentNetnsId())),
    ask: async (path) => {
      const status = await requestChecked(path, STATUS_REQUEST, LacpStatusReply, LACP_STATUS);
      if (interfaces.length === 0) return status;
      status.ports = status.ports.filter((p) => interfaces.includes(p.interface));
      return status.ports.length === 0 ? null : status;
    },
  };
}

/** Every reachable daemon's status in this namespace, limited to `interfaces` when given. */
async function collectStatuses(interfaces: readonly string[]): Promise<DaemonStatus[]> {
  const { paths, ask } = daemonsOn(interfaces);
  return (await askDaemons(await paths, ask)).map((d) => d.status).sort((a, b) => a.pid - b.pid);
}

async function showStatus(io: CliIo, output: GlobalOptions, interfaces: string[]): Promise<void> {
  const statuses = await collectStatuses(interfaces);
  printResult(
    io,
    output,
    statuses,
    () =>
      statuses.length === 0
        ? `No netkit lacp daemon is running in this network namespace${
          interfaces.length > 0 ? ` on ${interfaces.join(", ")}` : ""
        }\n`
        : statuses.map(formatDaemonStatus).join("\n"),
  );
}
