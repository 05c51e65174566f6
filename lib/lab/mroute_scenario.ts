/**
 * The multicast routing lab behind `netkit lab mroute`: sender, router and receiver namespaces
 * ({@linkcode MulticastLab}), the router's `netkit mroute daemon` run as a real child process,
 * and a scripted story recorded as the events of `mroute_events.ts` on the shared
 * {@linkcode ScenarioRun}. The lab drives the daemon the way the CLI does, one request per
 * command over its control socket, and follows its events (SUBSCRIBE, as
 * `netkit mroute monitor`): datagrams sent before any route do not arrive and make the kernel
 * ask (a NOCACHE upcall); an (S,G) route forwards them, with its counters rising per datagram;
 * a (*,G) route forwards any source but not TTL 1; deleting the routes stops the traffic, and
 * stopping the daemon leaves the kernel's table empty. `mroute_narrative.ts` tells the story.
 *
 * ```ts ignore
 * import { MrouteScenario } from "./mroute_scenario.ts";
 * import { explainMrouteLab, formatMrouteTimelineLine } from "./mroute_narrative.ts";
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

import { NetkitError } from "../errors.ts";
import { controlSocketPath, subscribe } from "../ipc/mod.ts";
import { requestChecked } from "../daemon/client.ts";
import { MessageReply, mrouteReply, mrouteSocketName, ShowReply } from "../mroute/client.ts";
import type { ShowJson } from "../mroute/protocol.ts";
import { netnsId, runInNetns } from "../net/netns.ts";
import { PacketSocket } from "../net/packet_socket.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { encodeUdpMulticastFrame } from "../packet/udp_frame.ts";
import { ChildDaemon } from "./child_daemon.ts";
import { ADDR, MulticastLab } from "./multicast_lab.ts";
import {
  ANY_GROUP,
  HEADER_BYTES,
  LAB_TTL,
  MROUTE_LAB_PORTS as PORTS,
  type MrouteLabEvent,
  type MrouteLabReport,
  type MrouteLabSnapshot,
  type MrouteVifCounters,
  routeName,
  SECOND_SOURCE,
  SG_GROUP,
} from "./mroute_events.ts";
import { labBuildError, requireLabRoot } from "./namespace_lab.ts";
import { ScenarioRun, type ScenarioRunOptions } from "./runner.ts";

/** Datagrams sent before the route exists; the kernel holds at most 4 per (S,G). */
const EARLY_COUNT = 3;
/** Datagrams sent after the routes are deleted. */
const AFTER_COUNT = 2;
/** How long the daemon may take to answer on its control socket. */
const DAEMON_START_MS = 10000;
/** How long to wait for the daemon's event after a request that causes one. */
const EVENT_WAIT_MS = 1000;
/** How long the events the daemon sends together take to arrive after the first. */
const EVENT_BURST_MS = 20;
/** The veth pairs: the sender's end first. */
const LINKS: [string, string][] = [["s0", "r1"], ["r2", "c0"]];

/** Options for {@linkcode MrouteScenario.run}. */
export interface MrouteLabRunOptions extends ScenarioRunOptions<MrouteLabEvent> {
  /** The netkit executable that runs the router's daemon (the CLI passes its own). */
  executable: string;
  /** Datagrams for the (S,G) route, one per interval (default 5). */
  count?: number;
  /** Milliseconds between datagrams (default 1000). */
  intervalMs?: number;
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
      show = await requestChecked(this.socket, { action: "SHOW" }, ShowReply, mrouteReply("SHOW"), {
        timeoutMs: 1000,
      });
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
  #run: ScenarioRun<MrouteLabEvent> | null = null;
  #daemon: DaemonChild | null = null;
  #socket: string | null = null;
  #sender: PacketSocket | null = null;
  readonly #receivers: GroupReceiver[] = [];
  readonly #subscription = new AbortController();
  #subscriptionLoop: Promise<void> | null = null;
  #closed = false;
  /** Set once the lab stops the daemon: its exit is expected from then on. */
  #stopping = false;
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
    requireLabRoot();
    let lab: MulticastLab;
    try {
      lab = new MulticastLab();
    } catch (err) {
      throw labBuildError(err);
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
      t: this.#run?.elapsed() ?? 0,
      ...(this.#run?.step ?? { step: 0, title: "" }),
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
    if (this.#run !== null || this.#closed) throw new Error("An MrouteScenario runs only once");
    const count = options.count ?? 5;
    const intervalMs = options.intervalMs ?? 1000;
    using run = this.#run = new ScenarioRun(options);
    // A request that fails because the daemon died reports the daemon's exit: the first failure.
    await run.perform(
      () => this.#script(options.executable, count, intervalMs),
      () => this.#shutdown(),
    );
    return {
      ...run.finish(run.interrupted ? "signal" : "done"),
      count,
      interval: intervalMs / 1000,
      netns: this.netns,
    };
  }

  /** The run in progress: {@linkcode run} starts it before anything below uses it. */
  get #running(): ScenarioRun<MrouteLabEvent> {
    if (this.#run === null) throw new Error("The MrouteScenario is not running");
    return this.#run;
  }

  async #script(executable: string, count: number, intervalMs: number): Promise<void> {
    const { sender, router, receiver } = this.netns;
    const lab = this.#lab;
    this.#running.emit({
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

    this.#running.stepTo(
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
    this.#running.emit({
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
    this.#running.stepTo(2, `no route yet: ${EARLY_COUNT} datagrams for ${sg}`);
    const early: number[] = [];
    for (let i = 0; i < EARLY_COUNT; i++) {
      early.push(this.#send(SG_GROUP, ADDR.sender4, LAB_TTL));
      await this.#running.pause(intervalMs);
    }
    this.#tally(SG_GROUP, early);
    await this.#counters(ADDR.sender4, SG_GROUP);

    this.#running.stepTo(
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
    await this.#running.until(() => early.every((seq) => this.#arrived.has(seq)), 500);
    await this.#counters(ADDR.sender4, SG_GROUP);
    const forwarded: number[] = [];
    for (let i = 0; i < count; i++) {
      forwarded.push(
        await this.#sendAndCount(ADDR.sender4, SG_GROUP, ADDR.sender4, LAB_TTL, intervalMs),
      );
    }
    this.#tally(SG_GROUP, forwarded);

    const any = routeName(null, ANY_GROUP);
    this.#running.stepTo(4, `add a (*,G) route ${any}: any source; then a datagram with TTL 1`);
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

    this.#running.stepTo(5, "delete both routes: the traffic stops");
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
      await this.#running.pause(intervalMs);
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
      (level, message) => this.#running.emit({ event: "daemon_log", level, message }),
    );
    daemon.status.then((status) => {
      if (this.#stopping) return;
      const detail = daemon.errorText;
      this.#running.fail(
        new NetkitError(
          `The router's daemon (pid ${daemon.pid}) exited with code ${status.code}` +
            (detail === "" ? "" : `: ${detail}`),
        ),
      );
    });
    this.#running.emit({
      event: "daemon_started",
      pid: daemon.pid,
      command: ["netkit", ...shown],
      state_file: this.stateFile,
    });
    // Not cut short by Ctrl-C: the daemon is only stopped once it serves (see stop()).
    this.#show = await daemon.waitServing();
    this.#socket = socket;
    this.#running.emit({ event: "daemon_ready", socket });
    this.#running.check();
  }

  /** Subscribes to the daemon's events; returns once it acknowledged. */
  async #subscribe(): Promise<void> {
    const events = subscribe(this.#socket!, { action: "SUBSCRIBE" }, {
      signal: this.#subscription.signal,
    });
    const first = await events.next();
    if (first.done) throw new NetkitError("The router's daemon ended the subscription at once");
    this.#running.emit({ event: "subscribed" });
    this.#subscriptionLoop = (async () => {
      try {
        for await (const item of events) {
          const daemon = item as Record<string, unknown>;
          this.#daemonEvents.push(daemon);
          this.#running.emit({ event: "daemon_event", daemon });
        }
      } catch (err) {
        if (!this.#subscription.signal.aborted && !this.#stopping) this.#running.fail(err);
      }
    })();
  }

  /**
   * Sends one request as `netkit mroute <command>` would, reports it and the reply, and waits
   * (briefly) for the daemon's event that `expect` recognizes.
   */
  async #command(
    command: string,
    message: { action: string; payload?: unknown },
    expect: (event: Record<string, unknown>) => boolean,
  ): Promise<void> {
    this.#running.check();
    const seen = this.#daemonEvents.length;
    this.#running.emit({
      event: "request",
      command: `mroute ${command}`,
      request: message,
    });
    const reply = await requestChecked(
      this.#socket!,
      message,
      MessageReply,
      mrouteReply(message.action),
    );
    this.#running.emit({ event: "reply", message: String(reply.message ?? "") });
    if (
      await this.#running.until(() => this.#daemonEvents.slice(seen).some(expect), EVENT_WAIT_MS)
    ) {
      // Its companions (the IPv6 VIF after the IPv4 one) come in the same burst.
      await this.#running.pause(EVENT_BURST_MS);
    }
  }

  /** Sends one datagram from the sender; returns its sequence number. */
  #send(group: string, source: string, ttl: number): number {
    this.#running.check();
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
    this.#running.emit({
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
    await this.#running.until(() => this.#arrived.has(seq), Math.max(intervalMs, 500));
    // A datagram that is not forwarded gets a moment to prove it.
    if (!this.#arrived.has(seq)) await this.#running.pause(Math.min(intervalMs, 300));
    await this.#counters(routeSource, group);
    await this.#running.pause(intervalMs - (performance.now() - start));
    return seq;
  }

  #onDatagram(group: string, payload: string, from: string): void {
    const seq = /^#([0-9]+)$/.test(payload) ? Number(payload.slice(1)) : 0;
    const sent = this.#sent.get(seq);
    if (sent !== undefined) this.#arrived.add(seq);
    const now = performance.now();
    this.#running.emit({
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
    this.#running.emit({
      event: "tally",
      group,
      sent: seqs.length,
      arrived: seqs.filter((seq) => this.#arrived.has(seq)).length,
    });
  }

  /** Asks the daemon for its routes with the kernel's counters and reports `(source, group)`'s. */
  async #counters(source: string | null, group: string): Promise<void> {
    this.#running.check();
    const show = await requestChecked(
      this.#socket!,
      { action: "SHOW", payload: { stats: true } },
      ShowReply,
      mrouteReply("SHOW"),
    );
    this.#show = show;
    const route = show.routes.find((r) =>
      r.family === 4 && r.group === group && r.source === (source ?? "*")
    );
    this.#running.emit({
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
    if (this.#running.step.step < 6) {
      this.#running.stepTo(6, "stop the daemon: the kernel forgets its routes");
    }
    this.#stopping = true;
    this.#subscription.abort();
    await this.#subscriptionLoop;
    const status = await daemon.stop();
    this.#running.emit({
      event: "daemon_stopped",
      pid: daemon.pid,
      code: status.code,
      signal: status.signal,
    });
    try {
      this.#running.emit({
        event: "kernel_routes",
        count: this.#lab.kernelRoutes(4).length,
      });
    } catch (err) {
      this.#running.fail(err);
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

function vifCounters(show: ShowJson): MrouteVifCounters[] {
  return show.vifs.filter((v) => v.family === 4).map((v) => ({
    name: v.name,
    packets_in: v.packets_in ?? 0,
    packets_out: v.packets_out ?? 0,
  }));
}
