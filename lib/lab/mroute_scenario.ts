// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * The multicast routing lab behind `netkit lab mroute`: sender, router and receiver namespaces
 * ({@linkcode MulticastLab}), the router's `netkit mroute daemon` run as a real child process,
 * and a scripted story told as timeline events. The lab drives the daemon the way the CLI does,
 * one request per command over its control socket, and follows its events (SUBSCRIBE, as
 * `netkit mroute monitor`): datagrams sent before any route do not arrive and make the kernel
 * ask (a NOCACHE upcall); an (S,G) route forwards them, with its counters rising per datagram;
 * a (*,G) route forwards any source but not TTL 1; deleting the routes stops the traffic, and
 * stopping the daemon leaves the kernel's table empty. {@linkcode explainMrouteLab} tells the
 * story in plain English.
 *
 * ```ts ignore
 * import { explainMrouteLab, formatMrouteTimelineLine, MrouteScenario } from "./mroute_scenario.ts";
 *
 * await using lab = MrouteScenario.create();
 * const report = await lab.run({
 *   executable: "./netkit",
 *   onEvent: (event) => console.log(formatMrouteTimelineLine(event)),
 * });
 * console.log(explainMrouteLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, packet sockets, multicast routing), iproute2, a netkit
 * executable for the daemon, and `--allow-all`.
 *
 * @module
 */

import { type EventOf as TimelineEventOf, eventsOfKind, timelineLine } from "./timeline.ts";
import { NetkitError } from "../errors.ts";
import { controlSocketPath, request, subscribe } from "../ipc/mod.ts";
import { mrouteSocketName } from "../mroute/paths.ts";
import type { RouteJsonOut, ShowJson } from "../mroute/protocol.ts";
import { netnsId, runInNetns } from "../net/netns.ts";
import { PacketSocket } from "../net/packet_socket.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { encodeUdpMulticastFrame } from "../packet/udp_frame.ts";
import { plural } from "../text.ts";
import { ChildDaemon } from "./child_daemon.ts";
import { ADDR, MulticastLab } from "./multicast_lab.ts";
import { eventText } from "../mroute/event_text.ts";

/** The group the (S,G) route is for (UDP port 5000 at the receiver). */
export const SG_GROUP = "239.1.2.3";
/** The group the (*,G) route is for (UDP port 5001 at the receiver). */
export const ANY_GROUP = "239.1.2.4";
/** A second source on the sender's subnet, for the (*,G) route. */
export const SECOND_SOURCE = "192.0.2.77";
const PORTS: Record<string, number> = { [SG_GROUP]: 5000, [ANY_GROUP]: 5001 };
/** The TTL of every datagram but the one that shows TTL 1 is not routed. */
export const LAB_TTL = 8;
/** Datagrams sent before the route exists; the kernel holds at most 4 per (S,G). */
const EARLY_COUNT = 3;
/** Datagrams sent after the routes are deleted. */
const AFTER_COUNT = 2;
/** IPv4 and UDP headers: what the route's byte counter adds to each payload. */
const HEADER_BYTES = 28;
/** How long the daemon may take to answer on its control socket. */
const DAEMON_START_MS = 10000;
/** How long to wait for the daemon's event after a request that causes one. */
const EVENT_WAIT_MS = 1000;
/** How long the events the daemon sends together take to arrive after the first. */
const EVENT_BURST_MS = 20;
/** The veth pairs: the sender's end first. */
const LINKS: [string, string][] = [["s0", "r1"], ["r2", "c0"]];

/** Why a lab run ended. */
export type MrouteLabStopReason = "done" | "signal";

/** Counters of one VIF, from SHOW with stats. */
export interface LabVifCounters {
  name: string;
  packets_in: number;
  packets_out: number;
}

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type MrouteLabEvent =
  | {
    t: number;
    event: "lab";
    netns: { sender: string; router: string; receiver: string };
    /** The veth pairs, the sender's side first. */
    links: [string, string][];
    addresses: Record<string, string>;
  }
  | { t: number; event: "step"; step: number; title: string }
  | { t: number; event: "daemon_started"; pid: number; command: string[]; state_file: string }
  | { t: number; event: "daemon_ready"; socket: string }
  | { t: number; event: "daemon_log"; level: string; message: string }
  | { t: number; event: "subscribed" }
  | { t: number; event: "joined"; interface: string; groups: { group: string; port: number }[] }
  /** A request the lab sent, and the `netkit mroute` command that sends the same one. */
  | { t: number; event: "request"; command: string; request: unknown }
  | { t: number; event: "reply"; message: string }
  /** An event from the daemon's subscription, as `netkit mroute monitor -j` prints it. */
  | { t: number; event: "daemon_event"; daemon: Record<string, unknown> }
  | {
    t: number;
    event: "sent";
    seq: number;
    payload: string;
    source: string;
    group: string;
    port: number;
    ttl: number;
    /** The IPv4 packet's length, which is what the route's byte counter adds. */
    ip_bytes: number;
  }
  | {
    t: number;
    event: "received";
    seq: number;
    payload: string;
    /** The datagram's source address, as the receiving socket saw it. */
    from: string;
    group: string;
    port: number;
    /** Seconds since it was sent. */
    after: number;
  }
  /** How many of the datagrams one step sent arrived. */
  | { t: number; event: "tally"; group: string; sent: number; arrived: number }
  | {
    t: number;
    event: "counters";
    /** The route the datagrams should match, "(S, G)" or "(*, G)", and its counters (null: none). */
    route: string;
    installed: boolean;
    packets: number | null;
    bytes: number | null;
    wrong_if: number | null;
    vifs: LabVifCounters[];
  }
  | { t: number; event: "daemon_stopped"; pid: number; code: number; signal: string | null }
  /** IPv4 entries left in the router's kernel table after the daemon stopped (`ip mroute`). */
  | { t: number; event: "kernel_routes"; count: number }
  | { t: number; event: "stopped"; reason: MrouteLabStopReason };

/** What a finished run leaves behind, for {@linkcode explainMrouteLab}. */
export interface MrouteLabReport {
  reason: MrouteLabStopReason;
  /** Seconds from the start of the run to its end. */
  duration: number;
  /** Datagrams the (S,G) route was given, and the pause between datagrams in seconds. */
  count: number;
  interval: number;
  /** The namespaces, for the explanation. */
  netns: { sender: string; router: string; receiver: string };
  /** Every event, in order. */
  events: MrouteLabEvent[];
}

/** The lab's state now, for a live view (JSON). */
export interface MrouteLabSnapshot {
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  title: string;
  sent: number;
  arrived: number;
  /** IPv4 routes and VIFs as the daemon last reported them (with counters). */
  routes: RouteJsonOut[];
  vifs: LabVifCounters[];
}

/** Options for {@linkcode MrouteScenario.run}. */
export interface MrouteLabRunOptions {
  /** The netkit executable that runs the router's daemon (the CLI passes its own). */
  executable: string;
  /** Datagrams for the (S,G) route, one per interval (default 5). */
  count?: number;
  /** Milliseconds between datagrams (default 1000). */
  intervalMs?: number;
  /** Ends the run early (Ctrl-C): the daemon is stopped and the report says "signal". */
  signal?: AbortSignal;
  /** Called for every event as it happens. */
  onEvent?: (event: MrouteLabEvent) => void;
}

/** Thrown inside a run to unwind it once it must end early. */
class Interrupted extends Error {}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function routeName(source: string | null, group: string): string {
  return `(${source ?? "*"}, ${group})`;
}

/** The router's `netkit mroute daemon`, a child process in its own session, stopped by pid. */
class DaemonChild {
  readonly #process: ChildDaemon;
  #serving = false;
  /** Its control socket. */
  readonly socket: string;

  private constructor(process: ChildDaemon, socket: string) {
    this.#process = process;
    this.socket = socket;
  }

  /**
   * Starts `executable args`, serving `socket`. Its stderr carries JSON log records: `onLog`
   * gets the router's (the control server's repeat what the timeline says) and any warning.
   */
  static spawn(
    executable: string,
    args: string[],
    socket: string,
    onLog: (level: string, message: string) => void,
  ): DaemonChild {
    const onStderrLine = (line: string) => {
      let record: { level?: unknown; message?: unknown; logger?: unknown };
      try {
        record = JSON.parse(line);
      } catch {
        return false; // Not a log record: the daemon's error, kept as its output.
      }
      if (typeof record?.message !== "string") return false;
      const level = String(record.level ?? "INFO");
      if (record.logger === "netkit.mroute" || level !== "INFO") onLog(level, record.message);
      return true;
    };
    // Its own session: Ctrl-C on the terminal reaches the lab, which stops the daemon in its
    // own time, after the last counters.
    const process = ChildDaemon.spawn("the router's daemon", executable, args, {
      detached: true,
      onStderrLine,
    });
    return new DaemonChild(process, socket);
  }

  get pid(): number {
    return this.#process.pid;
  }

  get exited(): boolean {
    return this.#process.exited;
  }

  get status(): Promise<Deno.CommandStatus> {
    return this.#process.status;
  }

  /** What the daemon printed that was not a log record (its error), one line. */
  get errorText(): string {
    return this.#process.output.replace(/^netkit: error: /, "");
  }

  /**
   * Waits until the daemon answers SHOW on its socket and returns the answer. A daemon that
   * answers has its SIGTERM handler in place: it installs it before it serves.
   */
  async waitServing(): Promise<ShowJson> {
    let show: ShowJson | null = null;
    await this.#process.waitUntil(async () => {
      show = await request(this.socket, { action: "SHOW" }, { timeoutMs: 1000 }) as ShowJson;
      return true;
    }, { timeoutMs: DAEMON_START_MS });
    this.#serving = true;
    return show!;
  }

  /**
   * Stops the daemon (see {@linkcode ChildDaemon.stop}). One still starting is first given the
   * time to serve, so that SIGTERM finds its handler (which removes its socket and lock files)
   * rather than the default action. Safe to call twice.
   */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#serving && !this.exited) await this.waitServing().catch(() => {});
    return await this.#process.stop();
  }
}

/** A UDP socket in the receiver joined to one group, reporting every datagram. */
class GroupReceiver {
  readonly #conn: Deno.DatagramConn;
  readonly #loop: Promise<void>;

  private constructor(
    conn: Deno.DatagramConn,
    onDatagram: (payload: string, from: string) => void,
  ) {
    this.#conn = conn;
    this.#loop = (async () => {
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const [data, addr] = await conn.receive();
          onDatagram(decoder.decode(data), (addr as Deno.NetAddr).hostname);
        }
      } catch {
        // Closed, or the observer failed (the run reports that).
      }
    })();
  }

  /** Binds `port` in the receiver's namespace and joins `group` on c0. */
  static async join(
    lab: MulticastLab,
    group: string,
    port: number,
    onDatagram: (payload: string, from: string) => void,
  ): Promise<GroupReceiver> {
    const conn = runInNetns(
      lab.receiver,
      () =>
        Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port, reuseAddress: true }),
    );
    try {
      await conn.joinMulticastV4(group, ADDR.receiver4);
    } catch (err) {
      conn.close();
      throw err;
    }
    return new GroupReceiver(conn, onDatagram);
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#loop;
  }
}

/**
 * The lab: namespaces `<prefix>-snd`, `<prefix>-rtr` and `<prefix>-rcv` joined by s0–r1 and
 * r2–c0, made by {@linkcode MrouteScenario.create}; {@linkcode MrouteScenario.close} (also on
 * dispose) stops the daemon if it still runs and removes everything.
 */
export class MrouteScenario implements AsyncDisposable {
  readonly #lab: MulticastLab;
  readonly #stateDir: string;
  /** Ends waits early: the caller's signal, a failed observer or the daemon exiting. */
  readonly #stop = new AbortController();
  #failure: unknown = null;
  #daemon: DaemonChild | null = null;
  #socket: string | null = null;
  #sender: PacketSocket | null = null;
  readonly #receivers: GroupReceiver[] = [];
  readonly #subscription = new AbortController();
  #subscriptionLoop: Promise<void> | null = null;
  #started = 0;
  #closed = false;
  /** Set once the lab stops the daemon: its exit is expected from then on. */
  #stopping = false;
  #emit: (event: MrouteLabEvent) => void = () => {};
  /** Called whenever an event is emitted, to wake waits. */
  #wake: (() => void)[] = [];
  #step = 0;
  #title = "";
  #seq = 0;
  /** Per datagram sent: when (performance.now()) and to which group. */
  readonly #sent = new Map<number, { at: number; group: string }>();
  readonly #arrived = new Set<number>();
  readonly #daemonEvents: Record<string, unknown>[] = [];
  #show: ShowJson | null = null;

  private constructor(lab: MulticastLab, stateDir: string) {
    this.#lab = lab;
    this.#stateDir = stateDir;
  }

  /**
   * Builds the namespaces, links and addresses. Throws a one-line {@linkcode NetkitError}
   * without root or iproute2.
   */
  static create(): MrouteScenario {
    if (Deno.uid() !== 0) {
      throw new NetkitError(
        "netkit lab needs root: it creates network namespaces and veth pairs (run it with sudo)",
      );
    }
    let lab: MulticastLab;
    try {
      lab = new MulticastLab();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NetkitError(
          'netkit lab needs iproute2: the "ip" command was not found (install iproute2)',
        );
      }
      throw err;
    }
    try {
      return new MrouteScenario(lab, Deno.makeTempDirSync({ prefix: "netkit-lab-mroute-" }));
    } catch (err) {
      lab[Symbol.dispose]();
      throw err;
    }
  }

  /** The namespace prefix; every name the lab creates starts with it. */
  get prefix(): string {
    return this.#lab.lab.prefix;
  }

  /** The three namespaces. */
  get netns(): { sender: string; router: string; receiver: string } {
    return { sender: this.#lab.sender, router: this.#lab.router, receiver: this.#lab.receiver };
  }

  /** The state file the daemon keeps (in a temporary directory removed on close). */
  get stateFile(): string {
    return `${this.#stateDir}/state.json`;
  }

  /** The daemon's pid while it runs, else null. */
  get daemonPid(): number | null {
    return this.#daemon === null || this.#daemon.exited ? null : this.#daemon.pid;
  }

  /** The lab's state now: step, datagrams, and the routes and VIFs the daemon last reported. */
  snapshot(): MrouteLabSnapshot {
    const show = this.#show;
    return {
      t: this.#started === 0 ? 0 : seconds(performance.now() - this.#started),
      step: this.#step,
      title: this.#title,
      sent: this.#sent.size,
      arrived: this.#arrived.size,
      routes: show?.routes.filter((r) => r.family === 4) ?? [],
      vifs: show === null ? [] : vifCounters(show),
    };
  }

  /**
   * Runs the story once: starts the daemon, sends datagrams before and after each route, stops
   * the daemon. `options.signal` ends it early; the daemon is stopped either way. Throws when
   * the daemon fails or exits by itself, or a request fails (then {@linkcode close} cleans up).
   */
  async run(options: MrouteLabRunOptions): Promise<MrouteLabReport> {
    if (this.#started !== 0 || this.#closed) throw new Error("An MrouteScenario runs only once");
    const count = options.count ?? 5;
    const intervalMs = options.intervalMs ?? 1000;
    const events: MrouteLabEvent[] = [];
    const started = this.#started = performance.now();
    this.#emit = (event) => {
      events.push(event);
      for (const wake of this.#wake.splice(0)) wake();
      if (this.#failure !== null) return;
      try {
        options.onEvent?.(event);
      } catch (err) {
        this.#fail(err);
      }
    };
    const onAbort = () => this.#stop.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    try {
      try {
        if (!this.#stop.signal.aborted) await this.#script(options.executable, count, intervalMs);
      } catch (err) {
        // A request that fails because the daemon died reports the daemon's exit instead.
        if (!(err instanceof Interrupted) && this.#failure === null) throw err;
      }
      await this.#shutdown();
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (this.#failure !== null) throw this.#failure;
    const reason = options.signal?.aborted ? "signal" : "done";
    this.#emit({ t: this.#elapsed(), event: "stopped", reason });
    return {
      reason,
      duration: seconds(performance.now() - started),
      count,
      interval: intervalMs / 1000,
      netns: this.netns,
      events,
    };
  }

  #elapsed(): number {
    return seconds(performance.now() - this.#started);
  }

  /** Ends the run with `err`, which {@linkcode run} throws once the daemon is stopped. */
  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort();
  }

  /** Throws {@linkcode Interrupted} once the run must end. */
  #check(): void {
    if (this.#stop.signal.aborted) throw new Interrupted();
  }

  /**
   * Waits `ms` (or until the next event when `wakeOnEvent`), ending early when the run must
   * end, which it then throws.
   */
  async #pause(ms: number, wakeOnEvent = false): Promise<void> {
    this.#check();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#stop.signal.addEventListener("abort", done, { once: true });
      if (wakeOnEvent) this.#wake.push(done);
    });
    this.#check();
  }

  /** Waits until `test()` holds (re-checked on every event) or `ms` pass; says which. */
  async #until(test: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!test()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.#pause(left, true);
    }
    return true;
  }

  #stepTo(step: number, title: string): void {
    this.#step = step;
    this.#title = title;
    this.#emit({ t: this.#elapsed(), event: "step", step, title });
  }

  async #script(executable: string, count: number, intervalMs: number): Promise<void> {
    const { sender, router, receiver } = this.netns;
    const lab = this.#lab;
    this.#emit({
      t: this.#elapsed(),
      event: "lab",
      netns: { sender, router, receiver },
      links: LINKS.map(([a, b]) => [a, b]),
      addresses: {
        s0: ADDR.sender4,
        r1: ADDR.router4in,
        r2: ADDR.router4out,
        c0: ADDR.receiver4,
      },
    });

    this.#stepTo(
      1,
      "start the router's daemon, follow its events, join both groups at the receiver",
    );
    await this.#startDaemon(executable);
    await this.#subscribe();
    this.#sender = runInNetns(sender, () => PacketSocket.open({ interface: "s0" }));
    for (const group of [SG_GROUP, ANY_GROUP]) {
      this.#receivers.push(
        await GroupReceiver.join(
          lab,
          group,
          PORTS[group]!,
          (p, from) => this.#onDatagram(group, p, from),
        ),
      );
    }
    this.#emit({
      t: this.#elapsed(),
      event: "joined",
      interface: "c0",
      groups: [SG_GROUP, ANY_GROUP].map((group) => ({ group, port: PORTS[group]! })),
    });
    // Pinned VIFs make the kernel look at traffic on r1 before any route exists.
    for (const name of ["r1", "r2"]) {
      await this.#command(
        `vif add ${name}`,
        { action: "ADD_VIF", payload: { interface: name } },
        (e) => e.event === "vif_added" && e.name === name && e.family === 4,
      );
    }

    const sg = routeName(ADDR.sender4, SG_GROUP);
    this.#stepTo(2, `no route yet: ${EARLY_COUNT} datagrams for ${sg}`);
    const early: number[] = [];
    for (let i = 0; i < EARLY_COUNT; i++) {
      early.push(this.#send(SG_GROUP, ADDR.sender4, LAB_TTL));
      await this.#pause(intervalMs);
    }
    this.#tally(SG_GROUP, early);
    await this.#counters(ADDR.sender4, SG_GROUP);

    this.#stepTo(
      3,
      `add the (S,G) route ${sg} from r1 to r2; one datagram every ${intervalMs / 1000} s`,
    );
    await this.#command(
      `add --source ${ADDR.sender4} --group ${SG_GROUP} --iif r1 --oif r2`,
      {
        action: "ADD_MFC",
        payload: { source: ADDR.sender4, group: SG_GROUP, iif: "r1", oifs: ["r2"] },
      },
      (e) => e.event === "route_added",
    );
    // Whatever the kernel held goes out as the route is added.
    await this.#until(() => early.every((seq) => this.#arrived.has(seq)), 500);
    await this.#counters(ADDR.sender4, SG_GROUP);
    const forwarded: number[] = [];
    for (let i = 0; i < count; i++) {
      forwarded.push(
        await this.#sendAndCount(ADDR.sender4, SG_GROUP, ADDR.sender4, LAB_TTL, intervalMs),
      );
    }
    this.#tally(SG_GROUP, forwarded);

    const any = routeName(null, ANY_GROUP);
    this.#stepTo(4, `add a (*,G) route ${any}: any source; then a datagram with TTL 1`);
    await this.#command(
      `add --group ${ANY_GROUP} --iif r1 --oif r2`,
      { action: "ADD_MFC", payload: { source: null, group: ANY_GROUP, iif: "r1", oifs: ["r2"] } },
      (e) => e.event === "route_added",
    );
    // The first source again, a second one, then the second one with TTL 1.
    const sends: [string, number][] = [
      [ADDR.sender4, LAB_TTL],
      [SECOND_SOURCE, LAB_TTL],
      [SECOND_SOURCE, 1],
    ];
    const star: number[] = [];
    for (const [source, ttl] of sends) {
      star.push(await this.#sendAndCount(null, ANY_GROUP, source, ttl, intervalMs));
    }
    this.#tally(ANY_GROUP, star);

    this.#stepTo(5, "delete both routes: the traffic stops");
    await this.#command(
      `del --source ${ADDR.sender4} --group ${SG_GROUP}`,
      { action: "DEL_MFC", payload: { source: ADDR.sender4, group: SG_GROUP } },
      (e) => e.event === "route_removed",
    );
    await this.#command(
      `del --group ${ANY_GROUP}`,
      { action: "DEL_MFC", payload: { source: null, group: ANY_GROUP } },
      (e) => e.event === "route_removed" && (e.route as { group?: string }).group === ANY_GROUP,
    );
    const after: number[] = [];
    for (let i = 0; i < AFTER_COUNT; i++) {
      after.push(this.#send(SG_GROUP, ADDR.sender4, LAB_TTL));
      await this.#pause(intervalMs);
    }
    this.#tally(SG_GROUP, after);
    await this.#counters(ADDR.sender4, SG_GROUP);
  }

  async #startDaemon(executable: string): Promise<void> {
    const router = this.#lab.router;
    const shown = ["-n", router, "mroute", "daemon", "--state", this.stateFile];
    // JSON log records, so that the timeline can tell the daemon's own words apart.
    const args = ["--log-format", "json", ...shown];
    const socket = controlSocketPath(mrouteSocketName(netnsId(router), 0));
    const daemon = this.#daemon = DaemonChild.spawn(
      executable,
      args,
      socket,
      (level, message) => this.#emit({ t: this.#elapsed(), event: "daemon_log", level, message }),
    );
    daemon.status.then((status) => {
      if (this.#stopping) return;
      const detail = daemon.errorText;
      this.#fail(
        new NetkitError(
          `The router's daemon (pid ${daemon.pid}) exited with code ${status.code}` +
            (detail === "" ? "" : `: ${detail}`),
        ),
      );
    });
    this.#emit({
      t: this.#elapsed(),
      event: "daemon_started",
      pid: daemon.pid,
      command: ["netkit", ...shown],
      state_file: this.stateFile,
    });
    // Not cut short by Ctrl-C: the daemon is only stopped once it serves (see stop()).
    this.#show = await daemon.waitServing();
    this.#socket = socket;
    this.#emit({ t: this.#elapsed(), event: "daemon_ready", socket });
    this.#check();
  }

  /** Subscribes to the daemon's events; returns once it acknowledged. */
  async #subscribe(): Promise<void> {
    const events = subscribe(this.#socket!, { action: "SUBSCRIBE" }, {
      signal: this.#subscription.signal,
    });
    const first = await events.next();
    if (first.done) throw new NetkitError("The router's daemon ended the subscription at once");
    this.#emit({ t: this.#elapsed(), event: "subscribed" });
    this.#subscriptionLoop = (async () => {
      try {
        for await (const item of events) {
          const daemon = item as Record<string, unknown>;
          this.#daemonEvents.push(daemon);
          this.#emit({ t: this.#elapsed(), event: "daemon_event", daemon });
        }
      } catch (err) {
        if (!this.#subscription.signal.aborted && !this.#stopping) this.#fail(err);
      }
    })();
  }

  /**
   * Sends one request as `netkit mroute <command>` would, reports it and the reply, and waits
   * (briefly) for the daemon's event that `expect` recognizes.
   */
  async #command(
    command: string,
    message: unknown,
    expect: (event: Record<string, unknown>) => boolean,
  ): Promise<void> {
    this.#check();
    const seen = this.#daemonEvents.length;
    this.#emit({
      t: this.#elapsed(),
      event: "request",
      command: `mroute ${command}`,
      request: message,
    });
    const reply = await request(this.#socket!, message) as { message?: unknown };
    this.#emit({ t: this.#elapsed(), event: "reply", message: String(reply.message ?? "") });
    if (await this.#until(() => this.#daemonEvents.slice(seen).some(expect), EVENT_WAIT_MS)) {
      // Its companions (the IPv6 VIF after the IPv4 one) come in the same burst.
      await this.#pause(EVENT_BURST_MS);
    }
  }

  /** Sends one datagram from the sender; returns its sequence number. */
  #send(group: string, source: string, ttl: number): number {
    this.#check();
    const seq = ++this.#seq;
    const payload = `#${seq}`;
    const port = PORTS[group]!;
    const bytes = new TextEncoder().encode(payload);
    this.#sender!.send(encodeUdpMulticastFrame({
      srcMac: this.#lab.s0.mac,
      src: parseIpv4(source),
      group: parseIpv4(group),
      srcPort: 40000,
      dstPort: port,
      ttl,
      payload: bytes,
    }));
    this.#sent.set(seq, { at: performance.now(), group });
    this.#emit({
      t: this.#elapsed(),
      event: "sent",
      seq,
      payload,
      source,
      group,
      port,
      ttl,
      ip_bytes: HEADER_BYTES + bytes.length,
    });
    return seq;
  }

  /**
   * Sends one datagram, waits for it to arrive (at most an interval), reports the route's
   * counters, then waits out the rest of the interval.
   */
  async #sendAndCount(
    routeSource: string | null,
    group: string,
    source: string,
    ttl: number,
    intervalMs: number,
  ): Promise<number> {
    const start = performance.now();
    const seq = this.#send(group, source, ttl);
    await this.#until(() => this.#arrived.has(seq), Math.max(intervalMs, 500));
    // A datagram that is not forwarded gets a moment to prove it.
    if (!this.#arrived.has(seq)) await this.#pause(Math.min(intervalMs, 300));
    await this.#counters(routeSource, group);
    await this.#pause(intervalMs - (performance.now() - start));
    return seq;
  }

  #onDatagram(group: string, payload: string, from: string): void {
    const seq = /^#([0-9]+)$/.test(payload) ? Number(payload.slice(1)) : 0;
    const sent = this.#sent.get(seq);
    if (sent !== undefined) this.#arrived.add(seq);
    const now = performance.now();
    this.#emit({
      t: this.#elapsed(),
      event: "received",
      seq,
      payload,
      from,
      group,
      port: PORTS[group]!,
      // To a tenth of a millisecond: forwarding takes well under one.
      after: sent === undefined ? 0 : Math.round((now - sent.at) * 10) / 10000,
    });
  }

  #tally(group: string, seqs: number[]): void {
    this.#emit({
      t: this.#elapsed(),
      event: "tally",
      group,
      sent: seqs.length,
      arrived: seqs.filter((seq) => this.#arrived.has(seq)).length,
    });
  }

  /** Asks the daemon for its routes with the kernel's counters and reports `(source, group)`'s. */
  async #counters(source: string | null, group: string): Promise<void> {
    this.#check();
    const show = await request(this.#socket!, {
      action: "SHOW",
      payload: { stats: true },
    }) as ShowJson;
    this.#show = show;
    const route = show.routes.find((r) =>
      r.family === 4 && r.group === group && r.source === (source ?? "*")
    );
    this.#emit({
      t: this.#elapsed(),
      event: "counters",
      route: routeName(source, group),
      installed: route !== undefined,
      packets: route?.packets ?? null,
      bytes: route?.bytes ?? null,
      wrong_if: route?.wrong_if ?? null,
      vifs: vifCounters(show),
    });
  }

  /**
   * The last step, also after an interruption: stops the daemon (SIGTERM to its pid), reports
   * how it exited and what it left in the kernel's table.
   */
  async #shutdown(): Promise<void> {
    const daemon = this.#daemon;
    if (daemon === null) return;
    if (this.#step < 6) this.#stepTo(6, "stop the daemon: the kernel forgets its routes");
    this.#stopping = true;
    this.#subscription.abort();
    await this.#subscriptionLoop;
    const status = await daemon.stop();
    this.#emit({
      t: this.#elapsed(),
      event: "daemon_stopped",
      pid: daemon.pid,
      code: status.code,
      signal: status.signal,
    });
    try {
      this.#emit({
        t: this.#elapsed(),
        event: "kernel_routes",
        count: this.#lab.kernelRoutes(4).length,
      });
    } catch (err) {
      this.#fail(err);
    }
  }

  /**
   * Stops the daemon if it still runs, closes every socket and removes the namespaces and the
   * state directory. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopping = true;
    this.#stop.abort();
    try {
      this.#subscription.abort();
      await this.#subscriptionLoop;
      await Promise.all(this.#receivers.splice(0).map((r) => r.close()));
      this.#sender?.close();
      this.#sender = null;
      await this.#daemon?.stop();
    } finally {
      this.#lab[Symbol.dispose]();
      try {
        Deno.removeSync(this.#stateDir, { recursive: true });
      } catch {
        // Already gone.
      }
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function vifCounters(show: ShowJson): LabVifCounters[] {
  return show.vifs.filter((v) => v.family === 4).map((v) => ({
    name: v.name,
    packets_in: v.packets_in ?? 0,
    packets_out: v.packets_out ?? 0,
  }));
}

/** An event in words: who it concerns (null for a step heading) and what happened. */
export interface MrouteLabEventText {
  subject: string | null;
  text: string;
}

function vifText(vifs: readonly LabVifCounters[]): string {
  const r1 = vifs.find((v) => v.name === "r1");
  const r2 = vifs.find((v) => v.name === "r2");
  return [r1 && `r1 in ${r1.packets_in}`, r2 && `r2 out ${r2.packets_out}`].filter(Boolean)
    .join(", ");
}

/** "0.3 ms" or "2.41 s". */
function delay(after: number): string {
  return after < 1 ? `${(after * 1000).toFixed(1)} ms` : `${after.toFixed(2)} s`;
}

/**
 * Describes an event for the timeline, e.g. subject `sender`, text
 * `#4 to 239.1.2.3:5000 from 192.0.2.2, TTL 8`.
 */
export function describeMrouteLabEvent(event: MrouteLabEvent): MrouteLabEventText {
  switch (event.event) {
    case "lab": {
      const a = event.addresses;
      return {
        subject: "lab",
        text:
          `sender ${event.netns.sender} (s0 ${a.s0}) -- router ${event.netns.router} (r1 ${a.r1}, ` +
          `r2 ${a.r2}) -- receiver ${event.netns.receiver} (c0 ${a.c0})`,
      };
    }
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "daemon_started":
      return { subject: "daemon", text: `started as pid ${event.pid}: ${event.command.join(" ")}` };
    case "daemon_ready":
      return { subject: "daemon", text: `answers on ${event.socket}` };
    case "daemon_log":
      return {
        subject: "daemon",
        text: `${event.level === "INFO" ? "log" : event.level.toLowerCase()}: ${event.message}`,
      };
    case "subscribed":
      return { subject: "event", text: "subscribed to the daemon's events (as mroute monitor)" };
    case "joined":
      return {
        subject: "receiver",
        text: `joined ${
          event.groups.map((g) => `${g.group} (UDP ${g.port})`).join(" and ")
        } on ${event.interface}`,
      };
    case "request":
      return { subject: "netkit", text: event.command };
    case "reply":
      return { subject: "daemon", text: event.message };
    case "daemon_event":
      return {
        subject: "event",
        text: eventText(event.daemon) +
          (event.daemon.kind === "nocache"
            ? ": no route, the kernel holds the datagram and asks"
            : ""),
      };
    case "sent":
      return {
        subject: "sender",
        text:
          `${event.payload} to ${event.group}:${event.port} from ${event.source}, TTL ${event.ttl}`,
      };
    case "received":
      return {
        subject: "receiver",
        text: `${event.payload} from ${event.from} on ${event.group}:${event.port}, ${
          delay(event.after)
        } after it was sent`,
      };
    case "tally":
      return {
        subject: "receiver",
        text: event.arrived === 0
          ? `nothing arrived: ${event.sent} sent to ${event.group}`
          : `${event.arrived} of ${event.sent} arrived`,
      };
    case "counters":
      return {
        subject: "router",
        text: `${event.route}: ${
          event.installed
            ? `${
              plural(event.packets ?? 0, "packet")
            }, ${event.bytes} bytes, ${event.wrong_if} wrong_if`
            : "no route"
        }; ${vifText(event.vifs)}`,
      };
    case "daemon_stopped":
      return {
        subject: "daemon",
        text: `pid ${event.pid} exited with code ${event.code}${
          event.signal === null ? "" : ` (${event.signal})`
        }`,
      };
    case "kernel_routes":
      return {
        subject: "router",
        text: event.count === 0
          ? "ip mroute: no entries left in the kernel"
          : `ip mroute: ${event.count} entries left in the kernel`,
      };
    case "stopped":
      return {
        subject: "lab",
        text: event.reason === "done" ? "finished" : "stopped: interrupted",
      };
  }
}

/** `   3.41s  receiver  #4 from 192.0.2.2 ...`: one timeline line. */
export function formatMrouteTimelineLine(event: MrouteLabEvent): string {
  const { subject, text } = describeMrouteLabEvent(event);
  return timelineLine(event.t, subject, text);
}

/** Options for {@linkcode explainMrouteLab}. */
export interface MrouteExplainOptions {
  /** How the user runs netkit, for the commands to reproduce the lab (default "netkit"). */
  netkit?: string;
}

type EventOf<K extends MrouteLabEvent["event"]> = TimelineEventOf<MrouteLabEvent, K>;

function at(t: number): string {
  return `${t.toFixed(2)}s`;
}

/** Each step's events (0: before the first step). */
function byStep(events: readonly MrouteLabEvent[]): Map<number, MrouteLabEvent[]> {
  const steps = new Map<number, MrouteLabEvent[]>();
  let step = 0;
  for (const event of events) {
    if (event.event === "step") step = event.step;
    steps.set(step, [...(steps.get(step) ?? []), event]);
  }
  return steps;
}

function upcallsFor(events: readonly MrouteLabEvent[], group: string): EventOf<"daemon_event">[] {
  return eventsOfKind(events, "daemon_event").filter((e) =>
    e.daemon.event === "upcall" && e.daemon.kind === "nocache" && e.daemon.group === group
  );
}

/**
 * Whether every counters event of `events` for `route` read exactly the datagrams of `group`
 * that had arrived by then (packets, and bytes as IPv4 sizes).
 */
function countersInStep(
  events: readonly MrouteLabEvent[],
  all: readonly MrouteLabEvent[],
  route: string,
  group: string,
  before: { packets: number; bytes: number },
): boolean {
  const sizes = new Map(eventsOfKind(all, "sent").map((e) => [e.seq, e.ip_bytes]));
  let packets = before.packets;
  let bytes = before.bytes;
  let checked = 0;
  for (const e of events) {
    if (e.event === "received" && e.group === group) {
      packets++;
      bytes += sizes.get(e.seq) ?? 0;
    } else if (e.event === "counters" && e.route === route) {
      checked++;
      if (e.packets !== packets || e.bytes !== bytes) return false;
    }
  }
  return checked > 0;
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: the daemon,
 * the datagrams before the route, the (S,G) route and its counters, the (*,G) route and TTL 1,
 * the deletion and the daemon's exit; then the commands that reproduce the lab by hand.
 */
export function explainMrouteLab(
  report: MrouteLabReport,
  options: MrouteExplainOptions = {},
): string[] {
  const netkit = options.netkit ?? "netkit";
  const steps = byStep(report.events);
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const step = (n: number) => steps.get(n) ?? [];
  const sg = routeName(ADDR.sender4, SG_GROUP);
  const any = routeName(null, ANY_GROUP);

  const started = eventsOfKind(report.events, "daemon_started")[0];
  if (started === undefined) {
    lines.push("  The lab stopped before the daemon started.");
  } else {
    const ready = eventsOfKind(report.events, "daemon_ready")[0];
    point(
      `The daemon: netkit mroute daemon ran in ${report.netns.router} as pid ${started.pid} and ` +
        "took the kernel's multicast routing table there (MRT_INIT: one owner per namespace and " +
        "table)" +
        (ready === undefined
          ? ", but stopped before it answered on its control socket."
          : `; it answered on its control socket ${(ready.t - started.t).toFixed(2)} s later. ` +
            "The lab sent it the requests netkit mroute sends, one JSON line per command, and " +
            "followed its events as netkit mroute monitor does."),
    );
  }
  if (eventsOfKind(step(1), "request").length > 0) {
    point(
      "VIFs: the kernel's multicast routing only looks at traffic arriving on one of its " +
        "virtual interfaces (VIFs). The lab pinned r1 and r2 first (mroute vif add) so that it " +
        "sees datagrams before any route; adding a route creates the VIFs it needs by itself.",
    );
  }

  const early = eventsOfKind(step(2), "sent");
  if (early.length > 0) {
    const tally = eventsOfKind(step(2), "tally")[0];
    const upcalls = upcallsFor(step(2), SG_GROUP);
    const counters = eventsOfKind(step(2), "counters")[0];
    const arrived = tally?.arrived ?? eventsOfKind(step(2), "received").length;
    point(
      `No route: ${arrived === 0 ? "none" : arrived} of the ${
        plural(early.length, "datagram")
      } sent for ${sg} reached the receiver` +
        // The kernel counts a datagram on its VIF only when it forwards it.
        ((counters?.vifs.find((v) => v.name === "r1")?.packets_in ?? 0) > 0
          ? `, though r1 took them in (${vifText(counters!.vifs)})`
          : "") +
        ". " +
        (upcalls.length === 0
          ? "The kernel raised no NOCACHE upcall."
          : `The kernel raised a NOCACHE upcall for ${sg} at ${at(upcalls[0]!.t)}` +
            (upcalls.length === 1 ? ", for the first datagram only," : "") +
            " and held the datagrams (at most 4, for 10 s) waiting for a route. The daemon " +
            "only reports upcalls; a PIM daemon would decide on a route here."),
    );
  }

  const add = eventsOfKind(step(3), "request")[0];
  if (add !== undefined) {
    const earlySeqs = new Set(early.map((e) => e.seq));
    const held = eventsOfKind(step(3), "received").filter((e) => earlySeqs.has(e.seq));
    const sent = eventsOfKind(step(3), "sent");
    const sentSeqs = new Set(sent.map((e) => e.seq));
    const arrived = eventsOfKind(step(3), "received").filter((e) => sentSeqs.has(e.seq));
    const last = eventsOfKind(step(3), "counters").at(-1);
    const worst = Math.max(0, ...arrived.map((e) => e.after));
    const inStep = countersInStep(step(3), report.events, sg, SG_GROUP, { packets: 0, bytes: 0 });
    point(
      `The (S,G) route: mroute add installed ${sg} iif r1 oif r2 in the kernel (an MFC entry). ` +
        (held.length === 0
          ? ""
          : `The kernel forwarded the ${plural(held.length, "held datagram")} at once, ` +
            `${delay(Math.max(...held.map((e) => e.after)))} after the first was sent. `) +
        (sent.length === 0
          ? ""
          : `${arrived.length === sent.length ? "Every one" : `${arrived.length}`} of the ${
            plural(sent.length, "datagram")
          } sent after it arrived` +
            (arrived.length === 0 ? ". " : `, within ${delay(worst)}. `)) +
        (last === undefined || !last.installed
          ? ""
          : inStep
          ? "The route's counters rose in step with every datagram, by one packet and its " +
            `IPv4 size (${HEADER_BYTES} header bytes plus the payload): ${last.packets} packets, ` +
            `${last.bytes} bytes for the ${last.packets} datagrams forwarded.`
          : `The route's counters read ${last.packets} packets, ${last.bytes} bytes at the end.`),
    );
  }

  const starSent = eventsOfKind(step(4), "sent");
  if (starSent.length > 0) {
    const received = eventsOfKind(step(4), "received").filter((e) => e.group === ANY_GROUP);
    const sources = [...new Set(received.map((e) => e.from))];
    const ttl1 = starSent.find((e) => e.ttl === 1);
    // The counters just before and just after the TTL 1 datagram.
    const events4 = step(4);
    const ttl1At = ttl1 === undefined ? -1 : events4.indexOf(ttl1);
    const beforeTtl1 = eventsOfKind(events4.slice(0, Math.max(0, ttl1At)), "counters").at(-1);
    const afterTtl1 = ttl1At < 0 ? undefined : eventsOfKind(events4.slice(ttl1At), "counters")[0];
    const r2Out = (c: EventOf<"counters"> | undefined) =>
      c?.vifs.find((v) => v.name === "r2")?.packets_out;
    const countedOnly = afterTtl1 !== undefined && beforeTtl1 !== undefined &&
      (afterTtl1.packets ?? 0) > (beforeTtl1.packets ?? 0) &&
      r2Out(afterTtl1) === r2Out(beforeTtl1);
    const ttl1Arrived = ttl1 !== undefined && received.some((e) => e.seq === ttl1.seq);
    point(
      `The (*,G) route: ${any} matches every source: ` +
        (sources.length === 0
          ? "yet nothing arrived. "
          : `datagrams from ${sources.join(" and ")} arrived. `) +
        (ttl1 === undefined
          ? ""
          : ttl1Arrived
          ? "The datagram sent with TTL 1 arrived too, which a router should not allow. "
          : "The datagram sent with TTL 1 did not: " +
            (countedOnly
              ? `the route counted it (${afterTtl1.packets} packets) but r2 sent nothing more ` +
                `(r2 out stayed at ${r2Out(afterTtl1)}). `
              : "") +
            "A copy goes out of an interface only when the TTL is above that output's " +
            "threshold (1 unless --oif r2:TTL sets another), since forwarding decrements it. " +
            "Hosts send multicast with TTL 1 by default: multicast meant to be routed needs a " +
            "higher TTL (socat's ip-multicast-ttl below)."),
    );
  }

  const after = eventsOfKind(step(5), "sent");
  if (eventsOfKind(step(5), "request").length > 0) {
    const arrived = eventsOfKind(step(5), "received").length;
    const upcalls = upcallsFor(step(5), SG_GROUP);
    point(
      "Deleting the routes (mroute del) took them out of the kernel at once" +
        (after.length === 0
          ? "."
          : `: ${arrived === 0 ? "none" : arrived} of the ${
            plural(after.length, "datagram")
          } sent afterwards arrived` +
            (upcalls.length > 0 ? `, and the kernel asked again (NOCACHE) for ${sg}.` : ".")),
    );
  }

  const stopped = eventsOfKind(report.events, "daemon_stopped")[0];
  if (stopped !== undefined) {
    const kernel = eventsOfKind(report.events, "kernel_routes")[0];
    point(
      `Stopping the daemon (SIGTERM to pid ${stopped.pid}; exit code ${stopped.code}) closed ` +
        "its MRT_INIT socket, and the kernel dropped every route and VIF that socket owned" +
        (kernel === undefined
          ? "."
          : kernel.count === 0
          ? ": ip mroute in the router showed no entries."
          : `, yet ip mroute in the router still showed ${
            plural(kernel.count, "entry", "entries")
          }.`) +
        " The lab removes the namespaces last.",
    );
  }
  if (report.reason === "signal") {
    const reached = eventsOfKind(report.events, "step").filter((e) => e.step < 6).at(-1);
    point(
      `The lab was interrupted${
        reached === undefined ? "" : ` during step ${reached.step}`
      }; the daemon was stopped and everything removed all the same.`,
    );
  }

  const x = (ns: string, command: string) => `ip netns exec ${ns} ${command}`;
  const mroute = (args: string) => x("mr-rtr", `${netkit} mroute ${args}`);
  lines.push(
    "",
    "Reproduce it by hand (as root; socat plays the sender and the receiver):",
    "  ip netns add mr-snd; ip netns add mr-rtr; ip netns add mr-rcv",
    "  ip -n mr-snd link add s0 type veth peer name r1 netns mr-rtr",
    "  ip -n mr-rtr link add r2 type veth peer name c0 netns mr-rcv",
    `  ip -n mr-snd addr add ${ADDR.sender4}/24 dev s0; ip -n mr-snd link set s0 up`,
    `  ip -n mr-rtr addr add ${ADDR.router4in}/24 dev r1; ip -n mr-rtr link set r1 up`,
    `  ip -n mr-rtr addr add ${ADDR.router4out}/24 dev r2; ip -n mr-rtr link set r2 up`,
    `  ip -n mr-rcv addr add ${ADDR.receiver4}/24 dev c0; ip -n mr-rcv link set c0 up`,
    `  terminal 1, daemon:   ${mroute("daemon --state /tmp/mr-lab.json")}`,
    `  terminal 2, events:   ${mroute("monitor")}`,
    `  terminal 3, receiver: ${
      x("mr-rcv", `socat -u UDP4-RECV:${PORTS[SG_GROUP]},ip-add-membership=${SG_GROUP}:c0 -`)
    }`,
    `  terminal 4, sender:   ${
      x(
        "mr-snd",
        `socat -u - UDP4-DATAGRAM:${SG_GROUP}:${
          PORTS[SG_GROUP]
        },ip-multicast-if=${ADDR.sender4},ip-multicast-ttl=${LAB_TTL}`,
      )
    }`,
    "                        (each line typed there is one datagram)",
    `  route:    ${mroute(`add --source ${ADDR.sender4} --group ${SG_GROUP} --iif r1 --oif r2`)}`,
    `  counters: ${mroute("show -s")}     (the kernel's own view: ip -n mr-rtr -s mroute)`,
    `  remove:   ${mroute(`del --source ${ADDR.sender4} --group ${SG_GROUP}`)}`,
    `  NOCACHE upcalls before any route: ${mroute("vif add r1")} (and r2) first`,
    "  clean up: Ctrl-C in terminal 1; ip netns del mr-snd; ip netns del mr-rtr; ip netns del mr-rcv",
  );
  return lines;
}
