/**
 * `netkit lab`: throwaway namespace labs, shown live. `lacp` runs the LACP lab of
 * {@linkcode LacpScenario}; `mroute` the multicast routing lab of {@linkcode MrouteScenario};
 * `gateway` the L2 gateway lab of {@linkcode GatewayScenario}; `vnet` the virtual router lab of
 * {@linkcode VnetScenario}; `lsoe` the LSoE fabric lab of {@linkcode LsoeScenario}. Each is one `LabView` (how to
 * create, run and show it) that {@linkcode runLab} runs the same way.
 *
 * Every lab is shown the same way ({@linkcode LabConsole}): on a terminal a compact block (a
 * table, the lab's state) is redrawn every 250 ms under the timeline, which scrolls above it;
 * otherwise (pipes, tests) only the timeline lines are printed as they happen, then the final
 * state. `-j` prints the timeline as JSON lines instead, ending with a summary object. Every
 * run ends with a plain-English explanation. The namespaces go away on every exit: the end of
 * the run, an error, Ctrl-C or SIGTERM (both exit 0, like ping, after the summary).
 *
 * @module
 */

import { type Capability, requireCapabilities } from "../doctor/require.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./errors.ts";
import { type InjectRule, parseInjectRule } from "../lacp/inject_rule.ts";
import {
  DEFAULT_LAB_RULE,
  type LacpLabEvent,
  type LacpLabReport,
  type LacpLabSnapshot,
} from "../lab/lacp_events.ts";
import { explainLacpLab, LacpTimeline } from "../lab/lacp_narrative.ts";
import { LacpScenario } from "../lab/lacp_scenario.ts";
import {
  ANY_GROUP,
  type MrouteLabEvent,
  type MrouteLabReport,
  type MrouteLabSnapshot,
  SECOND_SOURCE,
  SG_GROUP,
} from "../lab/mroute_events.ts";
import { explainMrouteLab, formatMrouteTimelineLine } from "../lab/mroute_narrative.ts";
import { MrouteScenario } from "../lab/mroute_scenario.ts";
import type {
  GatewayLabEvent,
  GatewayLabReport,
  GatewayLabSnapshot,
} from "../lab/gateway_events.ts";
import { explainGatewayLab, formatGatewayTimelineLine } from "../lab/gateway_narrative.ts";
import { GatewayScenario } from "../lab/gateway_scenario.ts";
import type { VnetLabEvent, VnetLabReport, VnetLabShow } from "../lab/vnet_events.ts";
import { explainVnetLab, formatVnetTimelineLine } from "../lab/vnet_narrative.ts";
import { VnetScenario } from "../lab/vnet_scenario.ts";
import type { LsoeAdjacency, LsoeLabEvent, LsoeLabReport } from "../lab/lsoe_events.ts";
import {
  adjacencyCells,
  explainLsoeLab,
  fabricPicture,
  formatLsoeTimelineLine,
} from "../lab/lsoe_narrative.ts";
import { LsoeScenario } from "../lab/lsoe_scenario.ts";
import type { RunEnd, ScenarioRunOptions, TimedEvent } from "../lab/runner.ts";
import type { ExplainOptions } from "../lab/timeline.ts";
import { setupLogging } from "../log.ts";
import type { CliIo } from "./io.ts";
import { formatTable } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";
import { formatRelayStatus } from "./relay.ts";
import { formatVnetShow } from "./vnet.ts";
import { selfExecutable } from "../daemon/detach.ts";

/** Raw commander options of `netkit lab lacp`. */
export interface LabLacpCliOptions {
  /** `--duration`: seconds to run, 0 until Ctrl-C (default "20"). */
  duration: string;
  /** `--rule`: actor B's injection rule. */
  rule: string;
}

/** Raw commander options of `netkit lab mroute`. */
export interface LabMrouteCliOptions {
  /** `--count`: datagrams sent while the route exists (default "5"). */
  count: string;
  /** `--interval`: seconds between datagrams (default "1"). */
  interval: string;
}

/** Raw commander options of `netkit lab gateway`. */
export interface LabGatewayCliOptions {
  /** `--duration`: seconds to keep running after the status, 0 until Ctrl-C (default "0"). */
  duration: string;
}

/** Raw commander options of `netkit lab vnet`. */
export interface LabVnetCliOptions {
  /** `--duration`: seconds to keep running after the counters, 0 until Ctrl-C (default "0"). */
  duration: string;
}

/** Raw commander options of `netkit lab lsoe`. */
export interface LabLsoeCliOptions {
  /** `--duration`: seconds to keep running after the link failure, 0 until Ctrl-C (default "0"). */
  duration: string;
}

/** The longest `--duration`: one day. */
const MAX_DURATION_SECONDS = 86400;
/** The most datagrams `--count` gives the (S,G) route. */
const MAX_COUNT = 1000;
/** The shortest and longest `--interval`, in seconds. */
const MIN_INTERVAL_SECONDS = 0.05;
const MAX_INTERVAL_SECONDS = 60;
/** How often the live view redraws. */
const REDRAW_MS = 250;
/** Ports reporting the same change within this window share a timeline line. */
const TIMELINE_WINDOW_MS = 50;

/** `--duration` in milliseconds (0: until Ctrl-C), or a usage error. */
export function parseDuration(value: string): number {
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0 && seconds <= MAX_DURATION_SECONDS)) {
    throw new UsageError(
      `Invalid value "${value}" for --duration: expected seconds from 0 to ${MAX_DURATION_SECONDS} (0: until Ctrl-C)`,
    );
  }
  return Math.round(seconds * 1000);
}

/** `--count`: datagrams for the (S,G) route, or a usage error. */
export function parseCount(value: string): number {
  const count = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(count >= 1 && count <= MAX_COUNT)) {
    throw new UsageError(
      `Invalid value "${value}" for --count: expected a number of datagrams from 1 to ${MAX_COUNT}`,
    );
  }
  return count;
}

/** `--interval` in milliseconds, or a usage error. */
export function parseInterval(value: string): number {
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= MIN_INTERVAL_SECONDS && seconds <= MAX_INTERVAL_SECONDS)) {
    throw new UsageError(
      `Invalid value "${value}" for --interval: expected seconds from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}`,
    );
  }
  return Math.round(seconds * 1000);
}

const LAB_LACP_HELP = `
The lab: namespaces <prefix>-a and <prefix>-b, veth pairs a1-b1 and a2-b2, actor A on a1, a2
and actor B on b1, b2, both active with the fast rate, running in this process. B runs the
injection rule (grammar: netkit lacp --help). The default, "${DEFAULT_LAB_RULE}", makes B go
silent once A collects and distributes: A times B out after 3 s, leaves the aggregate, B speaks
again at once and A re-aggregates, so the link flaps every 3 s.

Ctrl-C (SIGINT) or SIGTERM ends the lab early: the summary is printed, everything is removed and
netkit exits 0. -j prints the timeline as JSON lines and a final summary object.
`;

const LAB_MROUTE_HELP = `
The lab: namespaces <prefix>-snd, <prefix>-rtr and <prefix>-rcv, veth pairs s0-r1 and r2-c0
(192.0.2.0/24 and 198.51.100.0/24). The router runs "netkit mroute daemon" as a separate
process; the lab talks to it over its control socket, as "netkit mroute" does, and follows its
events, as "netkit mroute monitor" does. The steps:
  1. start the daemon, subscribe to its events, join ${SG_GROUP} and ${ANY_GROUP} at the receiver,
     pin r1 and r2 as VIFs
  2. send datagrams for (192.0.2.2, ${SG_GROUP}) with no route: none arrive, the kernel
     raises a NOCACHE upcall and holds them
  3. add that (S,G) route: the held datagrams go out, then --count datagrams, one per
     --interval, each arriving, with the route's packet and byte counters rising
  4. add (*, ${ANY_GROUP}): datagrams from 192.0.2.2 and ${SECOND_SOURCE} arrive, one with TTL 1 does not
  5. delete both routes: the traffic stops
  6. stop the daemon (SIGTERM): the kernel's table is empty; then the namespaces go

Ctrl-C (SIGINT) or SIGTERM ends the lab early: the daemon is stopped, the summary printed,
everything removed and netkit exits 0. -j prints the timeline as JSON lines and a final summary
object.
`;

const LAB_GATEWAY_HELP = `
The lab: a LAN (bridge br0 in <prefix>-lan with hosts <prefix>-h1 192.168.50.11 and
<prefix>-h2 192.168.50.12, and the gateway's eth0 in <prefix>-gw) and a WAN (bridge wan in
<prefix>-rly, 10.99.0.0/24) where the relay, the gateway and client <prefix>-c1 meet. The relay,
the gateway and the client are "netkit relay", "netkit gateway" and "netkit client" run as
separate processes. The steps:
  1. build the namespaces, bridges and veth pairs
  2. create room LAB1 and a credential each for the gateway and the client (netkit relay
     room), and start the relay with a development certificate (--dev-cert)
  3. start the gateway on the LAN's eth0 (--iface eth0) with its credential
  4. start a client with TAP nk0 and give it the static LAN address 192.168.50.101
  5. ping h1 -> client and client -> h2 through the tunnel
  6. show the relay's status and every peer's counters
  7. rotate the client's credential: the relay cuts the old one off, the client comes back
     with the new one and h1 pings it again
  8. keep it all running until Ctrl-C (or for --duration seconds)
  9. stop the client, the gateway and the relay, delete the namespaces

Ctrl-C (SIGINT) or SIGTERM ends the lab: everything is removed, the summary printed and netkit
exits 0. -j prints the timeline as JSON lines and a final summary object.
`;

const LAB_VNET_HELP = `
The lab: namespace <prefix>-host runs "netkit vnet daemon --uplink up0" as a separate process
(the host: 203.0.113.1 and 2001:db8:ff::1 on up0, the guests' addresses routed to it);
namespaces <prefix>-vm1 and <prefix>-vm2 play two VMs, each holding the TAP netkit made for it.
The steps:
  1. build the namespaces
  2. start the daemon with uplink up0, follow its events (as "netkit vnet monitor"), give the
     host its addresses and routes on up0
  3. add NIC vm1 (linklocal: 192.0.2.5, 2001:db8::5) and vm2 (lan --slaac: 198.51.100.5/24,
     2001:db8:1::5/64); move each TAP into its VM
  4. vm1: IPv4 by DHCPv4 (busybox udhcpc), IPv6 by DHCPv6 (dhclient -6)
  5. vm2: IPv4 by DHCPv4 (udhcpc), IPv6 by SLAAC (the kernel, from the RAs)
  6. each VM pings its gateway (IPv4 and fe80::1)
  7. the VMs ping each other, routed by netkit (IPv4 and IPv6)
  8. each VM pings the host through the uplink (IPv4 and IPv6)
  9. show the daemon's counters (netkit vnet show -s)
 10. keep it all running until Ctrl-C (or for --duration seconds)
 11. stop dhclient and the daemon, delete the namespaces

Ctrl-C (SIGINT) or SIGTERM ends the lab: everything is removed, the summary printed and netkit
exits 0. -j prints the timeline as JSON lines and a final summary object.
`;

const LAB_LSOE_HELP = `
The lab: a small Clos fabric, spines <prefix>-s1 and <prefix>-s2 over leaves <prefix>-l1, -l2
and -l3, a veth pair from each leaf to each spine (named after the node at the other end), a
/31 from 192.0.2.0/24 and a /64 from 2001:db8::/32 per link, a loopback /32 and /128 per node.
Each node runs "netkit lsoe --hello-interval 1 --keepalive-receive-timeout 3" with its own
--local-id as a separate process. The steps:
  1. build the namespaces and the veth pairs (down)
  2. start netkit lsoe on every node, follow its events (as "netkit lsoe monitor -j")
  3. bring the links up; wait until all 12 session ends are open (netkit lsoe -s -j)
  4. print the adjacency table and the picture of the fabric
  5. ip addr add 198.51.100.11/32 dev lo on l1: its encapsulations reach s1 and s2
  6. ip link set s2 down on l3: both ends close, the picture loses that line
  7. keep it all running until Ctrl-C (or for --duration seconds)
  8. stop the daemons, delete the namespaces

Ctrl-C (SIGINT) or SIGTERM ends the lab: everything is removed, the summary printed and netkit
exits 0. -j prints the timeline as JSON lines and a final summary object.
`;

/** Adds `netkit lab` and its `lacp`, `mroute`, `gateway`, `vnet` and `lsoe` subcommands. */
export function register(program: Command, io: CliIo): void {
  const lab = program
    .command("lab")
    .description("throwaway namespace labs that show a feature end to end (needs root)");
  addLab(lab, io, {
    name: "lacp",
    description: "two LACP actors over two veth pairs, one with an injection rule, live",
    options: [
      ["--duration <seconds>", "stop after SECONDS; 0 runs until Ctrl-C", "20"],
      ["--rule <rule>", "actor B's injection rule", DEFAULT_LAB_RULE],
    ],
    help: LAB_LACP_HELP,
    view: (options: LabLacpCliOptions) => {
      const durationMs = parseDuration(options.duration);
      return lacpView(parseInjectRule(options.rule), durationMs);
    },
  });
  addLab(lab, io, {
    name: "mroute",
    description:
      "sender, router and receiver namespaces; starts a daemon, adds a route, sends multicast, " +
      "shows it arriving and the counters rising, then removes everything",
    options: [
      ["--count <n>", "datagrams sent while the (S,G) route exists", "5"],
      ["--interval <seconds>", "pause between datagrams", "1"],
    ],
    help: LAB_MROUTE_HELP,
    view: (options: LabMrouteCliOptions) =>
      mrouteView(parseCount(options.count), parseInterval(options.interval)),
  });
  addLab(lab, io, {
    name: "gateway",
    description:
      "LAN with two hosts, relay, gateway and a client; pings through the tunnel, shows relay " +
      "status and counters, removes everything on exit",
    options: [
      ["--duration <seconds>", "keep it running SECONDS after the status; 0: until Ctrl-C", "0"],
    ],
    help: LAB_GATEWAY_HELP,
    view: (options: LabGatewayCliOptions) => gatewayView(parseDuration(options.duration)),
  });
  addLab(lab, io, {
    name: "vnet",
    description:
      "two VMs on netkit vnet's TAPs get addresses by DHCP and SLAAC, ping the gateway, each " +
      "other and the host through the uplink; counters shown, everything removed on exit",
    options: [
      ["--duration <seconds>", "keep it running SECONDS after the counters; 0: until Ctrl-C", "0"],
    ],
    help: LAB_VNET_HELP,
    view: (options: LabVnetCliOptions) => vnetView(parseDuration(options.duration)),
  });
  addLab(lab, io, {
    name: "lsoe",
    description:
      "two spines and three leaves discover each other with netkit lsoe; adjacency table and " +
      "picture, an address change and a link failure arriving; everything removed on exit",
    options: [
      ["--duration <seconds>", "keep it running SECONDS after the failure; 0: until Ctrl-C", "0"],
    ],
    help: LAB_LSOE_HELP,
    view: (options: LabLsoeCliOptions) => lsoeView(parseDuration(options.duration)),
  });
}

/** One `netkit lab NAME` subcommand: its help, and the {@linkcode LabView} its options make. */
interface LabCommand<O, L extends AsyncDisposable, E extends TimedEvent, R extends RunEnd<E>> {
  name: string;
  description: string;
  /** commander's flags, description and default of each option. */
  options: [string, string, string][];
  /** The help text after the options. */
  help: string;
  /** The lab to run, from the parsed options (usage errors thrown here). */
  view: (options: O) => LabView<L, E, R>;
}

/** Adds one lab subcommand to `netkit lab`; its action runs the lab with {@linkcode runLab}. */
function addLab<O, L extends AsyncDisposable, E extends TimedEvent, R extends RunEnd<E>>(
  lab: Command,
  io: CliIo,
  spec: LabCommand<O, L, E, R>,
): void {
  const command = lab.command(spec.name).description(spec.description);
  for (const [flags, description, value] of spec.options) command.option(flags, description, value);
  command.addHelpText("after", spec.help).action(async (options: O, command: Command) => {
    const globals = labGlobals(command);
    await runLab(io, globals, spec.view(options));
  });
}

/**
 * The global options of a lab command. The timeline tells what the daemons' info logs would,
 * so they are kept off the live view unless a log level or file was asked for.
 */
function labGlobals(command: Command): GlobalOptions {
  const globals = command.optsWithGlobals<GlobalOptions>();
  if (
    command.getOptionValueSourceWithGlobals("logLevel") === "default" &&
    globals.logFile === undefined
  ) {
    setupLogging({ level: "warning", format: globals.logFormat });
  }
  return globals;
}

/** How the user runs netkit, for the commands the explanation suggests. */
function netkitCommand(): string {
  const exe = Deno.build.standalone ? Deno.execPath() : Deno.env.get("NETKIT_EXE");
  if (exe === undefined || exe === "") return "netkit";
  const cwd = Deno.cwd();
  return exe.startsWith(`${cwd}/`) ? `./${exe.slice(cwd.length + 1)}` : exe;
}

/** The terminal's width, or 80 when it cannot be read. */
function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/**
 * The live view: timeline lines scroll, and a block under them (header and table) is erased and
 * drawn again on every redraw. Block lines are cut to the terminal width so none wraps, which
 * keeps the cursor arithmetic right.
 */
class LiveView {
  readonly #io: CliIo;
  #pending: string[] = [];
  #blockLines = 0;

  constructor(io: CliIo) {
    this.#io = io;
    this.#io.out("\x1b[?25l"); // hide the cursor while redrawing
  }

  event(line: string): void {
    this.#pending.push(line);
  }

  draw(block: string[]): void {
    const width = Math.max(20, terminalColumns() - 1);
    let out = this.#blockLines > 0 ? `\r\x1b[${this.#blockLines}A\x1b[J` : "";
    for (const line of this.#pending) out += `${line}\n`;
    this.#pending = [];
    for (const line of block) out += `${line.length > width ? line.slice(0, width) : line}\n`;
    this.#blockLines = block.length;
    this.#io.out(out);
  }

  close(): void {
    try {
      this.#io.out("\x1b[?25h");
    } catch {
      // The terminal is gone: nothing to restore.
    }
  }
}

/** The signals that end a lab early. */
const STOP_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * What every lab run shares: the stop signals, turned into {@linkcode signal} for the lab; the
 * output (JSON lines, or timeline lines under a live view on a terminal, or plain lines); and
 * timers whose failure ends the run instead of the process. Create it before the lab, so that a
 * signal always ends in cleanup, and dispose of it after the lab is gone.
 */
class LabConsole implements Disposable {
  readonly #io: CliIo;
  readonly #pretty: boolean;
  /** `-j` or `-p`: events as JSON lines. */
  readonly json: boolean;
  readonly #abort = new AbortController();
  readonly #onSignal = () => this.#abort.abort();
  #view: LiveView | null = null;
  #redraw: ReturnType<typeof setInterval> | undefined;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #failures: unknown[] = [];

  constructor(io: CliIo, globals: GlobalOptions) {
    this.#io = io;
    this.#pretty = globals.pretty === true;
    this.json = globals.json === true || this.#pretty;
    // Listen before the lab exists: from here on a signal must end in cleanup, never in the
    // default action, which would leave the namespaces behind.
    for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, this.#onSignal);
  }

  /** Aborts on SIGINT, SIGTERM or SIGHUP, or when a timer callback failed. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Whether the live view is showing. */
  get live(): boolean {
    return this.#view !== null;
  }

  /** Shows `block()` under the timeline, redrawn every 250 ms, when stdout is a terminal. */
  startLiveView(block: () => string[]): void {
    if (this.json || this.#view !== null || !Deno.stdout.isTerminal()) return;
    const view = this.#view = new LiveView(this.#io);
    this.#redraw = setInterval(this.#guarded(() => view.draw(block())), REDRAW_MS);
  }

  /** Prints `value` as one JSON line (indented with `-p`). */
  print(value: unknown): void {
    this.#io.out(`${this.#pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
  }

  /** Timeline lines: above the live view, or straight to stdout. */
  show(lines: readonly string[]): void {
    for (const line of lines) {
      if (this.#view !== null) this.#view.event(line);
      else this.#io.out(`${line}\n`);
    }
  }

  /** Runs `fn` after `ms`, unless {@linkcode settle} or disposal comes first. */
  later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#guarded(fn)();
    }, ms);
    this.#timers.add(timer);
  }

  /**
   * Once the lab has run: throws what a timer callback threw (the lab is still removed on the
   * way out), and stops the redraws and pending timers.
   */
  settle(): void {
    if (this.#failures.length > 0) throw this.#failures[0];
    this.#stopTimers();
  }

  /** Draws `block` one last time and ends the live view; the rest prints below it. */
  endLiveView(block: string[]): void {
    this.#stopTimers();
    this.#view?.draw(block);
    this.#view?.close();
    this.#view = null;
  }

  /**
   * A timer callback that throws (stdout gone, say) would end the process at once, skipping the
   * cleanup: keep its error, end the run, and throw it from {@linkcode settle}.
   */
  #guarded(fn: () => void): () => void {
    return () => {
      try {
        fn();
      } catch (err) {
        this.#failures.push(err);
        clearInterval(this.#redraw);
        this.#abort.abort();
      }
    };
  }

  #stopTimers(): void {
    clearInterval(this.#redraw);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  [Symbol.dispose](): void {
    this.#stopTimers();
    this.#view?.close();
    this.#view = null;
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, this.#onSignal);
  }
}

/** Seconds with one decimal, or "-". */
function timer(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(1)}s`;
}

/**
 * The per-port table, plain text. The mux column keeps the width of its longest state, so the
 * live table does not jump; WAITING shows what is left of wait_while.
 */
function portTable(snapshot: LacpLabSnapshot): string {
  return formatTable([
    [
      "port",
      "mux".padEnd("COLLECTING_DISTRIBUTING".length),
      "actor ",
      "partner",
      "rx     ",
      "expires",
      "rx/tx",
      "fired",
    ],
    ...snapshot.ports.map((p) => [
      p.interface,
      p.wait_while === null ? p.mux_state : `${p.mux_state} ${timer(p.wait_while)}`,
      p.actor_state,
      p.partner_state,
      p.rx_state,
      timer(p.current_while),
      `${p.lacpdu_rx}/${p.lacpdu_tx}`,
      p.rule_fired === null ? "-" : String(p.rule_fired),
    ]),
  ]);
}

/** What the state letters and columns mean, under the table. */
const TABLE_KEY = [
  "states: A active, T short timeout, G aggregatable, S sync, C collecting, D distributing,",
  "        F defaulted, E expired; expires: current_while; fired: B's rule on that port",
];

/**
 * What the CLI needs of one lab to run it and show it; {@linkcode runLab} does the rest, the
 * same way for every lab. `L` is the lab, `E` its events, `R` its report.
 */
interface LabView<L extends AsyncDisposable, E extends TimedEvent, R extends RunEnd<E>> {
  /** "netkit lab lacp", for the capability check's message. */
  command: string;
  capabilities: Capability[];
  /** Whether the lab runs this netkit again (daemons as processes): it must exist first. */
  startsNetkit: boolean;
  /** Builds the lab (needs root). */
  create(): L;
  run(lab: L, context: LabRunContext<E>): Promise<R>;
  /** Turns the events into timeline lines, as they come. */
  timeline(): EventLines<E>;
  /** The live block under the timeline: while it runs, and once more when it is done. */
  block(lab: L, netkit: string, report: R | null): string[];
  explain(report: R, options: ExplainOptions): string[];
  /** The fields of the `-j` summary between its `event` and its `explanation`. */
  summary(report: R): Record<string, unknown>;
  /** Printed before the explanation when there is neither a live view nor JSON. */
  plainEnding?(report: R): string;
}

/** What {@linkcode LabView.run} gets from {@linkcode runLab}. */
interface LabRunContext<E> {
  signal: AbortSignal;
  onEvent: (event: E) => void;
  /** This netkit, for labs that start it again (`startsNetkit`), else "". */
  executable: string;
  /** The log level asked for, for the processes a lab starts. */
  logLevel: string;
}

/** Timeline lines of events: at once, or (`pending`) once {@linkcode flush} is called. */
interface EventLines<E> {
  add(event: E): string[];
  flush(): string[];
  readonly pending: boolean;
}

/** Timeline lines that come out as each event does. */
function lineByLine<E>(lines: (event: E) => string[]): EventLines<E> {
  return { add: lines, flush: () => [], pending: false };
}

/**
 * A live block's status: "finished after T s" once done, else "T s" then `progress` (", step 3
 * of 8" or " of 30 s") and ", Ctrl-C stops".
 */
function labStatus(t: number, done: boolean, progress: string): string {
  return done ? `finished after ${t.toFixed(1)} s` : `${t.toFixed(1)} s${progress}, Ctrl-C stops`;
}

/** Where a lab that goes step by step is: its snapshot's clock and step. */
interface StepProgress {
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  title: string;
}

/** How many steps a lab has, and which one it stays in for `durationMs` (0: until Ctrl-C). */
interface LabSteps {
  count: number;
  /** The step kept running; "(for D s)" follows its number when `durationMs` is set. */
  holding?: number;
  durationMs?: number;
}

/**
 * The head of a stepped lab's live block: a blank line, "netkit lab NAME: STATUS" and, while
 * it runs, "step N: TITLE".
 */
function stepHeader(
  name: string,
  snapshot: StepProgress,
  done: boolean,
  steps: LabSteps,
): string[] {
  const { step, title } = snapshot;
  const durationMs = steps.durationMs ?? 0;
  const running = step === steps.holding && durationMs > 0 ? ` (for ${durationMs / 1000} s)` : "";
  const status = labStatus(snapshot.t, done, `, step ${step} of ${steps.count}${running}`);
  return [
    "",
    `netkit lab ${name}: ${status}`,
    ...(done || step === 0 ? [] : [`step ${step}: ${title}`]),
  ];
}

/**
 * Runs one lab as `netkit lab NAME` does: the capability check, the stop signals and the output
 * (JSON lines; or timeline lines, under a live view on a terminal), then the summary or final
 * block and the explanation. The lab is removed on every way out.
 */
async function runLab<L extends AsyncDisposable, E extends TimedEvent, R extends RunEnd<E>>(
  io: CliIo,
  globals: GlobalOptions,
  view: LabView<L, E, R>,
): Promise<void> {
  requireCapabilities(view.command, view.capabilities);
  const netkit = netkitCommand();
  // The lab's processes are other netkit processes: fail before building anything when there
  // is none.
  const executable = view.startsNetkit ? selfExecutable() : "";
  using session = new LabConsole(io, globals);
  await using lab = view.create();
  const timeline = view.timeline();
  let flushing = false;
  const onEvent = (event: E) => {
    if (session.json) return session.print(event);
    session.show(timeline.add(event));
    if (timeline.pending && !flushing) {
      flushing = true;
      session.later(() => {
        flushing = false;
        session.show(timeline.flush());
      }, TIMELINE_WINDOW_MS);
    }
  };
  session.startLiveView(() => view.block(lab, netkit, null));
  const report = await view.run(lab, {
    signal: session.signal,
    onEvent,
    executable,
    logLevel: globals.logLevel,
  });
  session.settle();
  session.show(timeline.flush());
  const explanation = view.explain(report, { netkit });
  if (session.json) {
    session.print({
      t: report.duration,
      event: "summary",
      ...view.summary(report),
      explanation,
    });
    return;
  }
  if (session.live) session.endLiveView(view.block(lab, netkit, report));
  else if (view.plainEnding !== undefined) io.out(`\n${view.plainEnding(report)}\n`);
  io.out(`\n${explanation.join("\n")}\n`);
}

/** `netkit lab lacp`: two actors, B with `rule`, for `durationMs` (0: until Ctrl-C). */
function lacpView(
  rule: InjectRule,
  durationMs: number,
): LabView<LacpScenario, LacpLabEvent, LacpLabReport> {
  return {
    command: "netkit lab lacp",
    capabilities: ["netns", "veth"],
    startsNetkit: false,
    create: () => LacpScenario.create(),
    run: (lab, { signal, onEvent }) => lab.run({ rule, durationMs, signal, onEvent }),
    timeline: () => new LacpTimeline(TIMELINE_WINDOW_MS / 1000),
    block(lab, netkit, report) {
      const snapshot = report?.final ?? lab.snapshot();
      const of = durationMs > 0 ? ` of ${durationMs / 1000} s` : "";
      const status = labStatus(snapshot.t, report !== null, of);
      return [
        "",
        `netkit lab lacp: ${status}; actor B's rule "${rule.text}"`,
        ...portTable(snapshot).trimEnd().split("\n"),
        ...TABLE_KEY,
        ...(report !== null
          ? []
          : [`status from another terminal: ${netkit} -n ${lab.netns[0]} lacp -s`]),
      ];
    },
    explain: explainLacpLab,
    summary: (report) => ({ rule: report.rule, reason: report.reason, ports: report.final.ports }),
    plainEnding: (report) =>
      `Final state after ${report.duration.toFixed(1)} s:\n${portTable(report.final)}${
        TABLE_KEY.join("\n")
      }`,
  };
}

/** The routes the daemon last reported, with their counters, as a table. */
function routeTable(snapshot: MrouteLabSnapshot): string[] {
  if (snapshot.routes.length === 0) return ["no routes"];
  return formatTable([
    ["route", "iif", "oifs", "packets", "bytes", "wrong_if"],
    ...snapshot.routes.map((r) => [
      `(${r.source}, ${r.group})`,
      r.iif,
      r.oifs.map((o) => o.name).join(" "),
      String(r.packets ?? "-"),
      String(r.bytes ?? "-"),
      String(r.wrong_if ?? "-"),
    ]),
  ]).trimEnd().split("\n");
}

/** `netkit lab mroute`: `count` datagrams for the (S,G) route, one every `intervalMs`. */
function mrouteView(
  count: number,
  intervalMs: number,
): LabView<MrouteScenario, MrouteLabEvent, MrouteLabReport> {
  return {
    command: "netkit lab mroute",
    capabilities: ["netns", "veth", "ipv4_mroute"],
    startsNetkit: true,
    create: () => MrouteScenario.create(),
    run: (lab, { signal, onEvent, executable }) =>
      lab.run({ executable, count, intervalMs, signal, onEvent }),
    timeline: () => lineByLine((event) => [formatMrouteTimelineLine(event)]),
    block(lab, netkit, report) {
      const snapshot = lab.snapshot();
      const done = report !== null;
      const vifs = snapshot.vifs.map((v) => `${v.name} in ${v.packets_in} out ${v.packets_out}`);
      return [
        ...stepHeader("mroute", snapshot, done, { count: 6 }),
        ...routeTable(snapshot),
        `datagrams: ${snapshot.sent} sent, ${snapshot.arrived} arrived` +
        (vifs.length === 0 ? "" : `; VIFs ${vifs.join(", ")}`),
        ...(done || lab.daemonPid === null ? [] : [
          `from another terminal: ${netkit} -n ${lab.netns.router} mroute show -s (or monitor)`,
        ]),
      ];
    },
    explain: explainMrouteLab,
    summary: (report) => ({
      reason: report.reason,
      count: report.count,
      interval: report.interval,
    }),
  };
}

/** What a lab that runs netkit daemons is run with (they run on `durationMs` at the end). */
interface DaemonLabRunOptions<E extends TimedEvent> extends ScenarioRunOptions<E> {
  executable: string;
  durationMs?: number;
  logLevel?: string;
}

/** {@linkcode LabView.run} for a lab of daemons kept running `durationMs` (0: until Ctrl-C). */
function runDaemons<E extends TimedEvent, R>(
  durationMs: number,
): (
  lab: { run(options: DaemonLabRunOptions<E>): Promise<R> },
  context: LabRunContext<E>,
) => Promise<R> {
  return (lab, { signal, onEvent, executable, logLevel }) =>
    lab.run({ executable, durationMs, logLevel, signal, onEvent });
}

/** The `-j` summary's fields of a lab that reports the prefix of what it made. */
function reasonAndPrefix(
  report: { reason: string; prefix: string | null },
): Record<string, unknown> {
  return { reason: report.reason, prefix: report.prefix };
}

/** The relay's status as `netkit relay status` prints it, as lines. */
function relayStatusLines(snapshot: GatewayLabSnapshot): string[] {
  return snapshot.status === null
    ? ["the relay has not answered yet"]
    : formatRelayStatus(snapshot.status).trimEnd().split("\n");
}

/** Indents the status table under the timeline's subjects. */
const STATUS_INDENT = " ".repeat(10);

/** Table lines indented under the timeline's subjects; empty lines stay empty. */
function indented(lines: readonly string[]): string[] {
  return lines.map((l) => l === "" ? "" : `${STATUS_INDENT}${l}`);
}

/** An event's timeline line; a status is followed by the table `netkit relay status` prints. */
function gatewayLines(event: GatewayLabEvent): string[] {
  const line = formatGatewayTimelineLine(event);
  if (event.event !== "status") return [line];
  return [
    line,
    ...indented(formatRelayStatus(event.status).trimEnd().split("\n")),
  ];
}

/** `netkit lab gateway`: kept running `durationMs` after the status (0: until Ctrl-C). */
function gatewayView(
  durationMs: number,
): LabView<GatewayScenario, GatewayLabEvent, GatewayLabReport> {
  return {
    command: "netkit lab gateway",
    capabilities: ["netns", "veth", "bridge", "tun", "ping"],
    startsNetkit: true,
    create: () => GatewayScenario.create(),
    run: runDaemons(durationMs),
    timeline: () => lineByLine(gatewayLines),
    block(lab, netkit, report) {
      const snapshot = lab.snapshot();
      const done = report !== null;
      const relay = lab.relay;
      return [
        ...stepHeader("gateway", snapshot, done, { count: 8, holding: 7, durationMs }),
        ...relayStatusLines(snapshot),
        ...(done || relay === null || snapshot.status === null ? [] : [
          `from another terminal: ${netkit} -n ${relay.netns} relay status --status-socket ${relay.socket}`,
        ]),
      ];
    },
    explain: explainGatewayLab,
    summary: reasonAndPrefix,
  };
}

/** `vnet show -s` as `netkit vnet show -s` prints it, as lines. */
function vnetShowLines(show: VnetLabShow): string[] {
  return formatVnetShow({ status: "success", ...show }, true).trimEnd().split("\n");
}

/** An event's timeline line; the counters are followed by the table `vnet show -s` prints. */
function vnetLines(event: VnetLabEvent): string[] {
  const line = formatVnetTimelineLine(event);
  if (event.event !== "show") return [line];
  return [line, ...indented(vnetShowLines(event.show))];
}

/** `netkit lab vnet`: kept running `durationMs` after the counters (0: until Ctrl-C). */
function vnetView(durationMs: number): LabView<VnetScenario, VnetLabEvent, VnetLabReport> {
  return {
    command: "netkit lab vnet",
    capabilities: ["netns", "tun", "ping", "busybox", "dhclient"],
    startsNetkit: true,
    create: () => VnetScenario.create(),
    run: runDaemons(durationMs),
    timeline: () => lineByLine(vnetLines),
    block(lab, netkit, report) {
      const snapshot = lab.snapshot();
      const done = report !== null;
      const host = lab.daemonNetns;
      return [
        ...stepHeader("vnet", snapshot, done, { count: 11, holding: 10, durationMs }),
        ...(snapshot.show === null
          ? ["the daemon has not answered yet"]
          : vnetShowLines(snapshot.show)),
        ...(done || host === null
          ? []
          : [`from another terminal: ${netkit} -n ${host} vnet show -s (or vnet monitor)`]),
      ];
    },
    explain: explainVnetLab,
    summary: reasonAndPrefix,
  };
}

/** The adjacency table and, under it, the picture of the fabric, as lines. */
function lsoeAdjacencyLines(rows: readonly LsoeAdjacency[]): string[] {
  return [
    ...formatTable(adjacencyCells(rows)).trimEnd().split("\n"),
    "",
    ...fabricPicture(rows),
  ];
}

/** An event's timeline line; an adjacency event is followed by the table and the picture. */
function lsoeLines(event: LsoeLabEvent): string[] {
  const line = formatLsoeTimelineLine(event);
  if (event.event !== "adjacency") return [line];
  return [
    line,
    ...indented(lsoeAdjacencyLines(event.rows)),
  ];
}

/** `netkit lab lsoe`: kept running `durationMs` after the link failure (0: until Ctrl-C). */
function lsoeView(durationMs: number): LabView<LsoeScenario, LsoeLabEvent, LsoeLabReport> {
  return {
    command: "netkit lab lsoe",
    capabilities: ["netns", "veth"],
    startsNetkit: true,
    create: () => LsoeScenario.create(),
    run: runDaemons(durationMs),
    timeline: () => lineByLine(lsoeLines),
    block(lab, netkit, report) {
      const snapshot = lab.snapshot();
      const done = report !== null;
      const s1 = lab.servingNetns("s1");
      return [
        ...stepHeader("lsoe", snapshot, done, { count: 8, holding: 7, durationMs }),
        ...(snapshot.rows === null
          ? ["the daemons have not answered yet"]
          : lsoeAdjacencyLines(snapshot.rows)),
        ...(done || s1 === null
          ? []
          : [`from another terminal: ${netkit} -n ${s1} lsoe -s (or lsoe monitor)`]),
      ];
    },
    explain: explainLsoeLab,
    summary: reasonAndPrefix,
  };
}
