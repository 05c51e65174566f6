// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * The L2 gateway lab behind `netkit lab gateway`: a LAN (a bridge with hosts h1 and h2 and the
 * gateway's port), a WAN where the relay, the gateway and a client meet ({@linkcode L2Lab}),
 * and netkit's relay, gateway and client run as real processes in their namespaces. The story,
 * told as timeline events: build the topology; start the relay with a development certificate,
 * the gateway on the LAN's eth0 and a client with TAP nk0 and a static LAN address; ping from
 * h1 to the client and from the client to h2 through the tunnel; show the relay's status and
 * every peer's counters; keep it all running until Ctrl-C (or for a duration); then stop the
 * processes and delete the namespaces, and check that nothing is left.
 * {@linkcode explainGatewayLab} tells the story in plain English.
 *
 * ```ts ignore
 * import { explainGatewayLab, formatGatewayTimelineLine, GatewayScenario } from "./gateway_scenario.ts";
 *
 * await using lab = GatewayScenario.create();
 * const report = await lab.run({
 *   executable: "./netkit",
 *   durationMs: 1000,
 *   onEvent: (event) => console.log(formatGatewayTimelineLine(event)),
 * });
 * console.log(explainGatewayLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, veth pairs, TAP, packet sockets), iproute2, ping, a netkit
 * executable for the relay, gateway and client, and `--allow-all`.
 *
 * @module
 */

import { type EventOf as TimelineEventOf, eventsOfKind, timelineLine } from "./timeline.ts";
import { NetkitError } from "../errors.ts";
import type { PeerStatus, RelayStatus } from "../l2/relay.ts";
import { plural } from "../text.ts";
import type { ChildDaemon } from "./child_daemon.ts";
import { clientLanAddress, clientMac, L2, L2Lab } from "./l2_lab.ts";
import { ip } from "./namespace_lab.ts";

/** Echo requests per ping. */
export const PING_COUNT = 3;
/** The lab's one client. */
const CLIENT = 1;
/** How often the status is read again while the lab runs (for the live view). */
const REFRESH_MS = 1000;
/** The WAN addresses L2Lab gives the gateway and client 1. */
const WAN = { gateway: "10.99.0.2", client: "10.99.0.11" } as const;
/** The last step's number: the removal. */
const STEP_COUNT = 9;

/** Why a lab run ended. */
export type GatewayLabStopReason = "done" | "signal";

/** A process of the lab. */
export type GatewayLabRole = "relay" | "gateway" | "client";

/** One port on one of the lab's two bridges (JSON). */
export interface GatewayLabPort {
  /** Who it is: "h1", "h2", "gateway", "client". */
  host: string;
  netns: string;
  interface: string;
  /** Its IPv4 address with prefix length, or null (the gateway's LAN port has none). */
  address: string | null;
}

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type GatewayLabEvent =
  | { t: number; event: "step"; step: number; title: string }
  /** A bridge and its ports: the LAN (br0) or the WAN (wan, in the relay's namespace). */
  | {
    t: number;
    event: "network";
    name: "lan" | "wan";
    netns: string;
    bridge: string;
    address: string | null;
    ports: GatewayLabPort[];
  }
  /**
   * What a user would type to do the next thing by hand (argv; "netkit" is this netkit), and
   * the host it concerns: a process of the lab, or the namespace a command runs in.
   */
  | { t: number; event: "command"; host: GatewayLabRole | "h1"; command: string[] }
  | { t: number; event: "started"; role: GatewayLabRole; pid: number; netns: string }
  /** The relay answers on its status socket. */
  | {
    t: number;
    event: "relay_ready";
    listen: string;
    version: string;
    socket: string;
    pin: string;
    server_name: string;
  }
  /** The relay lists a peer as active in the room. */
  | {
    t: number;
    event: "joined";
    role: "gateway" | "client";
    room: string;
    peer_id: number;
    mac: string;
    remote: string | null;
  }
  | { t: number; event: "address"; netns: string; interface: string; address: string }
  /** One `ping -c`, from its summary lines; RTTs in milliseconds, null without replies. */
  | {
    t: number;
    event: "ping";
    from: string;
    to: string;
    /** Who answers: "client", "h2". */
    target: string;
    sent: number;
    received: number;
    rtt_min: number | null;
    rtt_avg: number | null;
    rtt_max: number | null;
  }
  /** The relay's status, as `netkit relay status -j` prints it. */
  | { t: number; event: "status"; status: RelayStatus }
  /** One peer's counters from that status, and what the peer itself last reported. */
  | {
    t: number;
    event: "counters";
    role: "gateway" | "client";
    peer_id: number;
    mac: string;
    datagrams_in: number;
    bytes_in: number;
    frames_forwarded: number;
    frames_out: number;
    bytes_out: number;
    malformed: number;
    drops: Record<string, number>;
    reported: Record<string, unknown> | null;
  }
  /**
   * The relay cut a process off when its credential was rotated: it exited with `code`,
   * `after_ms` after the rotation, saying `error`.
   */
  | {
    t: number;
    event: "revoked";
    role: GatewayLabRole;
    pid: number;
    code: number;
    after_ms: number;
    error: string;
  }
  /** The lab runs until a signal (duration null) or for `duration` seconds. */
  | { t: number; event: "running"; duration: number | null }
  | {
    t: number;
    event: "process_stopped";
    role: GatewayLabRole;
    pid: number;
    code: number;
    signal: string | null;
    /** Its last words on stderr ("gateway stopped: 12 frames LAN→relay, ..."), or "". */
    summary: string;
  }
  /** The namespaces were deleted: `left` lists any still there, `files_left` the lab's files. */
  | { t: number; event: "removed"; netns: string[]; left: string[]; files_left: boolean }
  | { t: number; event: "stopped"; reason: GatewayLabStopReason };

/** What a finished run leaves behind, for {@linkcode explainGatewayLab}. */
export interface GatewayLabReport {
  reason: GatewayLabStopReason;
  /** Seconds from the start of the run to its end. */
  duration: number;
  /** The namespace prefix (every name the lab made starts with it), or null if none was made. */
  prefix: string | null;
  /** Every event, in order. */
  events: GatewayLabEvent[];
}

/** The lab's state now, for a live view (JSON). */
export interface GatewayLabSnapshot {
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  title: string;
  /** The relay's status as last read, or null before it answered. */
  status: RelayStatus | null;
}

/** Options for {@linkcode GatewayScenario.run}. */
export interface GatewayLabRunOptions {
  /** The netkit executable that runs the relay, gateway and client (the CLI passes its own). */
  executable: string;
  /** How long to keep everything running after the status; 0 (default): until `signal`. */
  durationMs?: number;
  /** Log level of the processes, whose logs go to files in the lab's directory (info). */
  logLevel?: string;
  /** Ends the run early (Ctrl-C): everything is removed and the report says "signal". */
  signal?: AbortSignal;
  /** Called for every event as it happens. */
  onEvent?: (event: GatewayLabEvent) => void;
}

/** Thrown inside a run to unwind it once it must end early. */
class Interrupted extends Error {}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** The summary of `ping -c` (iputils or busybox): sent, received and min/avg/max RTT in ms. */
export function parsePingSummary(
  text: string,
): { sent: number; received: number; rtt: [number, number, number] | null } | null {
  const counts = /([0-9]+) packets transmitted, ([0-9]+) (?:packets )?received/.exec(text);
  if (counts === null) return null;
  const rtt = /min\/avg\/max(?:\/mdev)? = ([0-9.]+)\/([0-9.]+)\/([0-9.]+)/.exec(text);
  return {
    sent: Number(counts[1]),
    received: Number(counts[2]),
    rtt: rtt === null ? null : [Number(rtt[1]), Number(rtt[2]), Number(rtt[3])],
  };
}

/**
 * The lab, made by {@linkcode GatewayScenario.create}; {@linkcode GatewayScenario.run} builds the
 * namespaces and removes them again at its end; {@linkcode GatewayScenario.close} (also on
 * dispose) removes whatever is left when a run did not get that far.
 */
export class GatewayScenario implements AsyncDisposable {
  /** Ends waits early: the caller's signal, or a process of the lab exiting by itself. */
  readonly #stop = new AbortController();
  #failure: unknown = null;
  #lab: L2Lab | null = null;
  #prefix: string | null = null;
  #started = 0;
  #closed = false;
  /** Set once the lab stops its processes (or the caller's signal came): exits are expected. */
  #stopping = false;
  /** Processes the lab expects to exit by themselves (a revoked client): not a failure. */
  readonly #expectedExits = new Set<ChildDaemon>();
  #emit: (event: GatewayLabEvent) => void = () => {};
  #step = 0;
  #title = "";
  #status: RelayStatus | null = null;

  private constructor() {}

  /** A lab that builds nothing until it runs. Throws a one-line {@linkcode NetkitError} without root. */
  static create(): GatewayScenario {
    if (Deno.uid() !== 0) {
      throw new NetkitError(
        "netkit lab needs root: it creates network namespaces, veth pairs and a TAP device " +
          "(run it with sudo)",
      );
    }
    return new GatewayScenario();
  }

  /** The namespace prefix once the topology is built, else null. */
  get prefix(): string | null {
    return this.#prefix;
  }

  /** The relay's namespace and status socket while the lab exists, else null. */
  get relay(): { netns: string; socket: string } | null {
    const lab = this.#lab;
    return lab === null ? null : { netns: lab.relayNs, socket: lab.statusSocket };
  }

  /** The lab's state now: step, and the relay's status as last read. */
  snapshot(): GatewayLabSnapshot {
    return {
      t: this.#started === 0 ? 0 : this.#elapsed(),
      step: this.#step,
      title: this.#title,
      status: this.#status,
    };
  }

  /**
   * Runs the story once: builds the topology, starts the relay, the gateway and the client,
   * pings through the tunnel, shows the relay's status, waits (`durationMs`, or until `signal`)
   * and removes everything. The removal happens on every way out; a failure (a process that
   * does not start or exits by itself, a ping without any reply) is thrown after it.
   */
  async run(options: GatewayLabRunOptions): Promise<GatewayLabReport> {
    if (this.#started !== 0 || this.#closed) throw new Error("A GatewayScenario runs only once");
    const events: GatewayLabEvent[] = [];
    const started = this.#started = performance.now();
    // Once the observer failed (stdout gone, say), it is not called again; any other failure
    // still lets it see the removal.
    let observing = true;
    this.#emit = (event) => {
      events.push(event);
      if (!observing) return;
      try {
        options.onEvent?.(event);
      } catch (err) {
        observing = false;
        this.#fail(err);
      }
    };
    const onAbort = () => {
      // From here on, a process that exits is being stopped, not failing.
      this.#stopping = true;
      this.#stop.abort();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    try {
      try {
        if (!this.#stop.signal.aborted) await this.#script(options);
      } catch (err) {
        if (!(err instanceof Interrupted)) this.#failure ??= err;
      }
      await this.#remove();
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (this.#failure !== null) throw this.#failure;
    const reason = options.signal?.aborted ? "signal" : "done";
    this.#emit({ t: this.#elapsed(), event: "stopped", reason });
    return {
      reason,
      duration: seconds(performance.now() - started),
      prefix: this.#prefix,
      events,
    };
  }

  #elapsed(): number {
    return seconds(performance.now() - this.#started);
  }

  /** Ends the run with `err`, which {@linkcode run} throws once everything is removed. */
  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#stop.abort();
  }

  /** Throws {@linkcode Interrupted} once the run must end. */
  #check(): void {
    if (this.#stop.signal.aborted) throw new Interrupted();
  }

  /**
   * Waits for `promise`, or throws {@linkcode Interrupted} as soon as the run must end (the
   * promise is then left to settle on its own: the removal stops what it waits for).
   */
  async #interruptible<T>(promise: Promise<T>): Promise<T> {
    this.#check();
    promise.catch(() => {});
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Interrupted());
      this.#stop.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([promise, aborted]);
    } finally {
      this.#stop.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Waits `ms`, ending early (and throwing {@linkcode Interrupted}) when the run must end. */
  async #pause(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#interruptible(new Promise<void>((resolve) => timer = setTimeout(resolve, ms)));
    } finally {
      clearTimeout(timer);
    }
  }

  #stepTo(step: number, title: string): void {
    this.#step = step;
    this.#title = title;
    this.#emit({ t: this.#elapsed(), event: "step", step, title });
  }

  #command(host: GatewayLabRole | "h1", command: string[]): void {
    this.#emit({ t: this.#elapsed(), event: "command", host, command });
  }

  /**
   * Waits until a process L2Lab started serves (`starting`), after reporting it and setting up
   * {@linkcode #watch}; `process()` is the process, which exists once it has been spawned.
   */
  async #start(
    role: GatewayLabRole,
    starting: Promise<unknown>,
    process: () => ChildDaemon | null,
  ): Promise<void> {
    const spawned = process();
    // Not spawned: the promise holds why.
    if (spawned === null) await starting;
    else this.#watch(role, spawned);
    await this.#interruptible(starting);
  }

  /** The relay's status, kept for the live view; a relay that stopped answering ends the run. */
  async #readStatus(): Promise<RelayStatus> {
    try {
      return this.#status = await this.#interruptible(this.#lab!.status());
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      // When the relay exited, #watch says so better: give it the moment to.
      await this.#pause(200);
      throw new NetkitError(
        `The relay did not answer on its status socket: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
  }

  /** Fails the run when `process` exits before the lab stops it. */
  #watch(role: GatewayLabRole, process: ChildDaemon): void {
    this.#emit({
      t: this.#elapsed(),
      event: "started",
      role,
      pid: process.pid,
      netns: this.#netnsOf(role),
    });
    process.status.then(async () => {
      if (this.#stopping || this.#expectedExits.has(process)) return;
      // Already exited: stop() only waits until its output is read to the end.
      const status = await process.stop();
      if (this.#stopping) return;
      const detail = process.output.replace(/^netkit: error: /, "");
      this.#fail(
        new NetkitError(
          `netkit ${role} (pid ${process.pid}) exited with code ${status.code}` +
            (detail === "" ? "" : `: ${detail}`),
        ),
      );
    });
  }

  #netnsOf(role: GatewayLabRole): string {
    const lab = this.#lab!;
    return role === "relay" ? lab.relayNs : role === "gateway" ? lab.gw : lab.clientNs[0]!;
  }

  async #script(options: GatewayLabRunOptions): Promise<void> {
    this.#stepTo(1, "build the topology: a LAN with hosts h1 and h2, a WAN to the relay");
    const lab = this.#build(options);
    const client = lab.clientNs[0]!;
    const lan = clientLanAddress(CLIENT);
    this.#emit({
      t: this.#elapsed(),
      event: "network",
      name: "lan",
      netns: lab.lan,
      bridge: "br0",
      address: null,
      ports: [
        { host: "h1", netns: lab.h1, interface: "eth0", address: `${L2.h1}/24` },
        { host: "h2", netns: lab.h2, interface: "eth0", address: `${L2.h2}/24` },
        { host: "gateway", netns: lab.gw, interface: "eth0", address: null },
      ],
    });
    this.#emit({
      t: this.#elapsed(),
      event: "network",
      name: "wan",
      netns: lab.relayNs,
      bridge: "wan",
      address: `${L2.relay}/24`,
      ports: [
        { host: "gateway", netns: lab.gw, interface: "wan", address: `${WAN.gateway}/24` },
        { host: "client", netns: client, interface: "wan", address: `${WAN.client}/24` },
      ],
    });

    this.#stepTo(
      2,
      `create room ${L2.room} with a credential for the gateway and one for the client, ` +
        `and start the relay on ${L2.relay}:${L2.port} with a development certificate`,
    );
    this.#command("relay", [
      "netkit",
      "relay",
      "room",
      "add",
      L2.room,
      "--rooms",
      lab.roomsFile,
      "-o",
      lab.credentialFile("gateway"),
    ]);
    this.#command("relay", [
      "netkit",
      "relay",
      "room",
      "add-client",
      L2.room,
      `client${CLIENT}`,
      "--address",
      lan,
      "--rooms",
      lab.roomsFile,
      "-o",
      lab.credentialFile(`client${CLIENT}`),
    ]);
    this.#command("relay", [
      "netkit",
      "-n",
      lab.relayNs,
      "relay",
      "--listen",
      `${L2.relay}:${L2.port}`,
      "--rooms",
      lab.roomsFile,
      "--dev-cert",
      `${lab.dir}/certs`,
      "--status-socket",
      lab.statusSocket,
    ]);
    await this.#start("relay", lab.startRelay(), () => lab.relay);
    const first = await this.#readStatus();
    this.#emit({
      t: this.#elapsed(),
      event: "relay_ready",
      listen: first.listen,
      version: first.version,
      socket: lab.statusSocket,
      pin: lab.pin,
      server_name: L2.serverName,
    });

    this.#stepTo(3, "start the gateway on the LAN's eth0 (AF_PACKET), in room " + L2.room);
    this.#command("gateway", [
      "netkit",
      "-n",
      lab.gw,
      "gateway",
      ...lab.peerArgs("gateway"),
      "--iface",
      "eth0",
    ]);
    await this.#start("gateway", lab.startGateway(), () => lab.gateway);
    await this.#joined("gateway", null);

    this.#stepTo(4, `start a client: TAP ${L2.tap}, static LAN address ${lan}`);
    await this.#startClient(lab);

    this.#stepTo(5, "ping through the tunnel: h1 → client, client → h2");
    const pings = [
      await this.#ping("h1", lab.h1, "client", lan),
      await this.#ping("client", client, "h2", L2.h2),
    ];

    this.#stepTo(6, "the relay's status: rooms, peers and their counters");
    this.#command("relay", [
      "netkit",
      "-n",
      lab.relayNs,
      "relay",
      "status",
      "--status-socket",
      lab.statusSocket,
    ]);
    const status = await this.#readStatus();
    this.#emit({ t: this.#elapsed(), event: "status", status });
    for (const room of status.rooms) {
      for (const peer of room.peers) this.#emit(countersEvent(this.#elapsed(), peer));
    }
    const silent = pings.filter((p) => p.received === 0);
    if (silent.length > 0) {
      throw new NetkitError(
        `No reply through the tunnel: ${
          silent.map((p) => `${p.from} → ${p.target} (${p.to})`).join(", ")
        }; the relay's status above shows where the frames went`,
      );
    }

    this.#stepTo(
      7,
      "rotate the client's credential: the relay cuts the old one off; the client comes back " +
        "with the new one",
    );
    const revoked = lab.clients[CLIENT - 1]!;
    this.#expectedExits.add(revoked);
    const rotation = lab.rotateClientArgs(CLIENT);
    this.#command("relay", ["netkit", ...rotation]);
    const rotatedAt = performance.now();
    lab.rotateClient(CLIENT);
    const exit = await this.#interruptible(revoked.status);
    await revoked.stop(); // its output, read to the end
    this.#emit({
      t: this.#elapsed(),
      event: "revoked",
      role: "client",
      pid: revoked.pid,
      code: exit.code,
      after_ms: Math.round(performance.now() - rotatedAt),
      error: /netkit: error: (.*)/.exec(revoked.output)?.[1] ?? "",
    });
    lab.clients[CLIENT - 1] = null;
    await this.#startClient(lab);
    await this.#ping("h1", lab.h1, "client", lan);

    const durationMs = options.durationMs ?? 0;
    this.#stepTo(
      8,
      durationMs > 0
        ? `keep it running for ${durationMs / 1000} s; then everything is removed`
        : "keep it running until Ctrl-C; then everything is removed",
    );
    this.#emit({
      t: this.#elapsed(),
      event: "running",
      duration: durationMs > 0 ? durationMs / 1000 : null,
    });
    const end = durationMs > 0 ? performance.now() + durationMs : Infinity;
    for (;;) {
      const left = end - performance.now();
      if (left <= 0) break;
      await this.#pause(Math.min(REFRESH_MS, left));
      await this.#readStatus();
    }
  }

  /** Starts the client with its credential, then gives its TAP the LAN address. */
  async #startClient(lab: L2Lab): Promise<void> {
    const client = lab.clientNs[0]!;
    const lan = clientLanAddress(CLIENT);
    this.#command("client", [
      "netkit",
      "-n",
      client,
      "client",
      ...lab.peerArgs(`client${CLIENT}`),
      "--tap",
      L2.tap,
      "--mac",
      clientMac(CLIENT),
    ]);
    await this.#start(
      "client",
      lab.startClient(CLIENT, { address: false }),
      () => lab.clients[CLIENT - 1] ?? null,
    );
    await this.#joined("client", clientMac(CLIENT));
    this.#command("client", ["ip", "-n", client, "addr", "add", `${lan}/24`, "dev", L2.tap]);
    ip("-n", client, "addr", "add", `${lan}/24`, "dev", L2.tap);
    this.#emit({
      t: this.#elapsed(),
      event: "address",
      netns: client,
      interface: L2.tap,
      address: `${lan}/24`,
    });
  }

  /** Builds the namespaces and links; errors become one line. */
  #build(options: GatewayLabRunOptions): L2Lab {
    try {
      this.#lab = new L2Lab({
        clients: 1,
        executable: options.executable,
        logLevel: options.logLevel ?? "info",
      });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NetkitError(
          'netkit lab needs iproute2: the "ip" command was not found (install iproute2)',
        );
      }
      throw err;
    }
    this.#prefix = this.#lab.lab.prefix;
    return this.#lab;
  }

  /** Reports the relay's entry for the peer just started (startGateway/startClient saw it). */
  async #joined(role: "gateway" | "client", mac: string | null): Promise<void> {
    const status = await this.#readStatus();
    for (const room of status.rooms) {
      const peer = room.peers.find((p) =>
        p.role === role && p.state === "active" && (mac === null || p.mac === mac)
      );
      if (peer === undefined) continue;
      this.#emit({
        t: this.#elapsed(),
        event: "joined",
        role,
        room: room.room,
        peer_id: peer.peer_id,
        mac: peer.mac,
        remote: peer.remote,
      });
      return;
    }
  }

  /** `ping -c` from namespace `ns` to `address`, reported from its summary lines. */
  async #ping(
    from: "h1" | "client",
    ns: string,
    target: string,
    address: string,
  ): Promise<Extract<GatewayLabEvent, { event: "ping" }>> {
    const args = ["netns", "exec", ns, "ping", "-c", String(PING_COUNT), "-i", "0.2", "-W", "2"];
    this.#command(from, ["ip", ...args, address]);
    let output: Deno.CommandOutput;
    try {
      output = await this.#interruptible(
        new Deno.Command("ip", {
          args: [...args, address],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          signal: this.#stop.signal,
        }).output(),
      );
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NetkitError('netkit lab needs iproute2: the "ip" command was not found');
      }
      throw err;
    }
    const text = new TextDecoder().decode(output.stdout);
    const summary = parsePingSummary(text);
    if (summary === null) {
      const why = new TextDecoder().decode(output.stderr).trim().split("\n")[0] ?? "";
      throw new NetkitError(
        `ping from ${from} to ${address} printed no summary (exit ${output.code})` +
          (why === "" ? "" : `: ${why}`),
      );
    }
    const event = {
      t: this.#elapsed(),
      event: "ping" as const,
      from,
      to: address,
      target,
      sent: summary.sent,
      received: summary.received,
      rtt_min: summary.rtt?.[0] ?? null,
      rtt_avg: summary.rtt?.[1] ?? null,
      rtt_max: summary.rtt?.[2] ?? null,
    };
    this.#emit(event);
    return event;
  }

  /**
   * The last step, on every way out once the topology exists: stops the client, the gateway
   * and the relay (SIGTERM), reports how each exited, deletes the namespaces and the lab's
   * files, and reports what (if anything) is left.
   */
  async #remove(): Promise<void> {
    const lab = this.#lab;
    if (lab === null) return;
    this.#stepTo(STEP_COUNT, "remove everything: stop the processes, delete the namespaces");
    this.#stopping = true;
    const processes: [GatewayLabRole, ChildDaemon | null][] = [
      ["client", lab.clients[CLIENT - 1] ?? null],
      ["gateway", lab.gateway],
      ["relay", lab.relay],
    ];
    for (const [role, process] of processes) {
      if (process === null) continue;
      const status = await process.stop();
      this.#emit({
        t: this.#elapsed(),
        event: "process_stopped",
        role,
        pid: process.pid,
        code: status.code,
        signal: status.signal,
        summary: lastWords(process.output),
      });
    }
    const netns = [lab.lan, lab.h1, lab.h2, lab.gw, lab.relayNs, ...lab.clientNs];
    await this.#dispose();
    let left: string[] = [];
    try {
      const listed = new Set(ip("netns", "list").split("\n").map((l) => l.split(" ")[0]!));
      left = netns.filter((n) => listed.has(n));
    } catch (err) {
      this.#failure ??= err;
    }
    let filesLeft = true;
    try {
      Deno.lstatSync(lab.dir);
    } catch {
      filesLeft = false;
    }
    this.#emit({ t: this.#elapsed(), event: "removed", netns, left, files_left: filesLeft });
    if (left.length > 0 || filesLeft) {
      this.#failure ??= new NetkitError(
        `Could not remove everything: ${
          [...left, ...(filesLeft ? [lab.dir] : [])].map((n) => `"${n}"`).join(", ")
        } still exist (remove them with ip netns del and rm -r)`,
      );
    }
  }

  /** Stops whatever still runs and removes the namespaces and the lab's files, once. */
  async #dispose(): Promise<void> {
    const lab = this.#lab;
    this.#lab = null;
    await lab?.[Symbol.asyncDispose]();
  }

  /** Removes whatever a run left (nothing after a run that ended). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopping = true;
    this.#stop.abort();
    await this.#dispose();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function countersEvent(
  t: number,
  peer: PeerStatus,
): Extract<GatewayLabEvent, { event: "counters" }> {
  return {
    t,
    event: "counters",
    role: peer.role,
    peer_id: peer.peer_id,
    mac: peer.mac,
    datagrams_in: peer.datagrams_in,
    bytes_in: peer.bytes_in,
    frames_forwarded: peer.frames_forwarded,
    frames_out: peer.frames_out,
    bytes_out: peer.bytes_out,
    malformed: peer.malformed,
    drops: peer.drops,
    reported: peer.reported,
  };
}

/** "gateway stopped: 12 frames LAN→relay, ..." from what a peer printed as it stopped. */
function lastWords(output: string): string {
  return /netkit: ((?:gateway|client) stopped: .*?)(?= netkit: |$)/.exec(output)?.[1] ?? "";
}

/** An event in words: who it concerns (null for a step heading) and what happened. */
export interface GatewayLabEventText {
  subject: string | null;
  text: string;
}

function portText(port: GatewayLabPort): string {
  return `${port.host} ${port.interface}${port.address === null ? "" : ` ${port.address}`}`;
}

function dropsText(drops: Record<string, number>): string {
  const entries = Object.entries(drops);
  return entries.length === 0
    ? "no drops"
    : `drops ${entries.map(([k, v]) => `${k}=${v}`).join(",")}`;
}

function rttText(e: Extract<GatewayLabEvent, { event: "ping" }>): string {
  return e.rtt_avg === null
    ? ""
    : `, rtt min/avg/max ${e.rtt_min!.toFixed(3)}/${e.rtt_avg.toFixed(3)}/${
      e.rtt_max!.toFixed(3)
    } ms`;
}

/**
 * Describes an event for the timeline, e.g. subject `ping`, text
 * `h1 → 192.168.50.101 (client): 3/3 replies, rtt min/avg/max 0.061/0.093/0.126 ms`.
 */
export function describeGatewayLabEvent(event: GatewayLabEvent): GatewayLabEventText {
  switch (event.event) {
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "network":
      return {
        subject: event.name,
        text: `bridge ${event.bridge} in ${event.netns}${
          event.address === null ? "" : ` (${event.address})`
        }: ${event.ports.map((p) => `${portText(p)} (${p.netns})`).join(", ")}`,
      };
    case "command":
      return { subject: event.host, text: `$ ${event.command.join(" ")}` };
    case "started":
      return { subject: event.role, text: `started as pid ${event.pid} in ${event.netns}` };
    case "relay_ready":
      return {
        subject: "relay",
        text: `listening on ${event.listen} (QUIC), netkit ${event.version}; peers pin ` +
          `${event.pin} for server name ${event.server_name}; status on ${event.socket}`,
      };
    case "joined":
      return {
        subject: event.role,
        text: `in room ${event.room} as peer ${event.peer_id}, MAC ${event.mac}` +
          (event.remote === null ? "" : `, from ${event.remote}`),
      };
    case "address":
      return { subject: "client", text: `${event.interface} has ${event.address}` };
    case "ping":
      return {
        subject: "ping",
        text: `${event.from} → ${event.to} (${event.target}): ${event.received}/${event.sent} ` +
          `replies${rttText(event)}`,
      };
    case "status": {
      const peers = event.status.rooms.flatMap((r) =>
        r.peers.map((p) => `${p.role} ${p.mac} ${p.state}`)
      );
      return {
        subject: "relay",
        text: `status: ${plural(event.status.rooms.length, "room")}, ${
          plural(peers.length, "peer")
        }${peers.length === 0 ? "" : ` (${peers.join(", ")})`}`,
      };
    }
    case "counters": {
      const reported = event.reported;
      return {
        subject: event.role,
        text: `peer ${event.peer_id} at the relay: ${event.datagrams_in} datagrams in ` +
          `(${event.bytes_in} bytes), ${event.frames_forwarded} forwarded, ${event.frames_out} ` +
          `frames out (${event.bytes_out} bytes), ${event.malformed} malformed, ` +
          dropsText(event.drops) +
          (reported === null
            ? ""
            : `; it reports ${reported.frames_to_relay} frames to the relay, ` +
              `${reported.frames_from_relay} from it`),
      };
    }
    case "revoked":
      return {
        subject: event.role,
        text: `pid ${event.pid} cut off ${event.after_ms} ms after the rotation, exit code ` +
          `${event.code}${event.error === "" ? "" : `: ${event.error}`}`,
      };
    case "running":
      return {
        subject: "lab",
        text: event.duration === null
          ? "running; Ctrl-C (or SIGTERM) removes everything"
          : `running for ${event.duration} s (Ctrl-C ends it sooner)`,
      };
    case "process_stopped":
      return {
        subject: event.role,
        text: `pid ${event.pid} exited with code ${event.code}${
          event.signal === null ? "" : ` (${event.signal})`
        }${event.summary === "" ? "" : `: ${event.summary}`}`,
      };
    case "removed":
      return {
        subject: "lab",
        text: event.left.length === 0 && !event.files_left
          ? `removed: ${plural(event.netns.length, "namespace")} deleted, none left; ` +
            "its files are gone"
          : `not all removed: ${
            event.left.length === 0 ? "" : `${event.left.join(", ")} still exist`
          }${event.files_left ? " (files left)" : ""}`,
      };
    case "stopped":
      return {
        subject: "lab",
        text: event.reason === "done" ? "finished" : "stopped: interrupted",
      };
  }
}

/** `   3.41s  ping      h1 → 192.168.50.101 ...`: one timeline line. */
export function formatGatewayTimelineLine(event: GatewayLabEvent): string {
  const { subject, text } = describeGatewayLabEvent(event);
  return timelineLine(event.t, subject, text);
}

/** Options for {@linkcode explainGatewayLab}. */
export interface GatewayExplainOptions {
  /** How the user runs netkit, for the commands to reproduce the lab (default "netkit"). */
  netkit?: string;
}

type EventOf<K extends GatewayLabEvent["event"]> = TimelineEventOf<GatewayLabEvent, K>;

function pingSentence(p: EventOf<"ping">): string {
  return `${p.from} → ${p.target} (${p.to}): ${p.received} of ${p.sent} replies` +
    (p.rtt_avg === null ? "" : `, ${p.rtt_avg.toFixed(3)} ms on average`);
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: the
 * topology, the relay and its certificate, the gateway, the client, the pings, the counters and
 * the removal; then the commands that reproduce the lab by hand.
 */
export function explainGatewayLab(
  report: GatewayLabReport,
  options: GatewayExplainOptions = {},
): string[] {
  const netkit = options.netkit ?? "netkit";
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const events = report.events;

  const lan = eventsOfKind(events, "network").find((e) => e.name === "lan");
  if (lan === undefined) {
    lines.push("  The lab stopped before it built anything.");
  } else {
    point(
      `The LAN: bridge br0 in ${lan.netns} is the switch; h1 (${L2.h1}) and h2 (${L2.h2}) ` +
        "hang off it, and so does the gateway's eth0, with no address: the gateway only moves " +
        `frames. The WAN: bridge wan in the relay's namespace (${L2.relay}), where the gateway ` +
        `(${WAN.gateway}) and the client (${WAN.client}) reach the relay. The client has no ` +
        "link to the LAN at all.",
    );
  }
  const ready = eventsOfKind(events, "relay_ready")[0];
  if (ready !== undefined) {
    point(
      `The operator made room ${L2.room} with netkit relay room: the gateway and the client ` +
        "each got a credential of their own, in a new 0600 file; the relay keeps only their " +
        "SHA-256, so a stranger who knows the room's name is refused like a wrong secret. " +
        `The client's credential allows it ${clientLanAddress(CLIENT)}: the relay drops ARP ` +
        "and NDP from it that claim any other address. " +
        `The relay listens on ${ready.listen} for QUIC. With --dev-cert it wrote a certificate ` +
        `for ${ready.server_name}; the gateway and the client accept exactly that certificate ` +
        `(--relay-cert ${ready.pin}, compared by its SHA-256) and no certificate authority.`,
    );
  }
  const joined = eventsOfKind(events, "joined");
  const gw = joined.find((e) => e.role === "gateway");
  if (gw !== undefined) {
    point(
      `The gateway opened a packet socket on its eth0, the LAN port, and joined room ${gw.room} ` +
        `as peer ${gw.peer_id}: every frame on the LAN now goes to the relay in QUIC datagrams, ` +
        "and every frame from the room goes out on the LAN.",
    );
  }
  const cl = joined.find((e) => e.role === "client");
  if (cl !== undefined) {
    const address = eventsOfKind(events, "address")[0];
    point(
      `The client created TAP ${L2.tap} with MAC ${cl.mac} and joined the same room as peer ` +
        `${cl.peer_id}` +
        (address === undefined
          ? "."
          : `; the lab gave ${L2.tap} ${address.address}, an address on the LAN's subnet, so ` +
            "the client is a host of that LAN as far as anyone can tell."),
    );
  }
  const revoked = eventsOfKind(events, "revoked")[0];
  // The pings of step 5; the one after the rotation belongs to its own point.
  const pings = eventsOfKind(events, "ping").filter((p) =>
    revoked === undefined || p.t < revoked.t
  );
  if (pings.length > 0) {
    const ok = pings.every((p) => p.received > 0);
    point(
      `Pings through the tunnel: ${pings.map(pingSentence).join("; ")}. ` +
        (ok
          ? "Each one started with ARP, broadcast on the LAN and flooded by the relay to the " +
            "other side, then ICMP went LAN → gateway → relay → client and back. The round trip " +
            "includes two QUIC hops and the user-space processes on the way."
          : "A ping without any reply means frames were lost on the way: the counters below " +
            "tell on which hop."),
    );
  }
  const counters = eventsOfKind(events, "counters");
  if (counters.length > 0) {
    const gateway = counters.find((c) => c.role === "gateway");
    const client = counters.find((c) => c.role === "client");
    point(
      "The relay's counters, per peer: " +
        counters.map((c) =>
          `the ${c.role} sent it ${c.datagrams_in} datagrams, of which it forwarded ` +
          `${c.frames_forwarded}, and got ${c.frames_out} frames from it (${dropsText(c.drops)})`
        ).join("; ") +
        ". A frame one peer sends (IN) is checked and switched (FWD) and goes out (OUT) to " +
        "the other" +
        (gateway !== undefined && client !== undefined &&
            gateway.frames_forwarded > client.frames_out &&
            Object.keys(gateway.drops).length === 0
          ? `; the gateway's ${gateway.frames_forwarded - client.frames_out} forwarded frames ` +
            "that never went out to the client are broadcasts from the LAN flooded while the " +
            "gateway was still alone in the room."
          : "."),
    );
  }
  if (revoked !== undefined) {
    const again = eventsOfKind(events, "ping").find((p) => p.t > revoked.t);
    point(
      "Then the operator rotated the client's credential (netkit relay room rotate): the relay " +
        `reread its rooms file and closed the client's session ${revoked.after_ms} ms later ` +
        "(QUIC close code 5, revoked); its reconnect with the old credential was refused, and " +
        `it exited with code ${revoked.code}${
          revoked.error === "" ? "" : ` ("${revoked.error}")`
        }. Started again with the new credential, the client joined as a new session` +
        (again === undefined ? "." : `, and ${pingSentence(again)}.`),
    );
  }
  const stopped = eventsOfKind(events, "process_stopped");
  const removed = eventsOfKind(events, "removed")[0];
  if (report.reason === "signal") {
    const reached = eventsOfKind(events, "step").filter((e) => e.step < STEP_COUNT).at(-1);
    point(
      `The lab was interrupted${reached === undefined ? "" : ` during step ${reached.step}`}; ` +
        "it removed everything all the same.",
    );
  }
  if (stopped.length > 0 || removed !== undefined) {
    point(
      (stopped.length === 0
        ? ""
        : `Removal: SIGTERM to ${
          stopped.map((s) => `the ${s.role} (exit code ${s.code})`).join(", ")
        }` +
          (stopped.some((s) => s.role !== "relay")
            ? "; a peer that stops says goodbye to the relay and closes its socket or TAP. "
            : ". ")) +
        (removed === undefined
          ? ""
          : removed.left.length === 0 && !removed.files_left
          ? `Then the ${removed.netns.length} namespaces were deleted, with every link in ` +
            "them; none is left."
          : `Yet ${removed.left.join(", ")} ${removed.files_left ? "and files " : ""}are left.`),
    );
  }

  const n = (ns: string, command: string) => `${netkit} -n gl-${ns} ${command}`;
  const peer = (name: string) =>
    `--relay ${L2.relay}:${L2.port} --relay-cert /var/lib/netkit/gl/relay.pem ` +
    `--credential-file /var/lib/netkit/gl/${name}.cred`;
  const room = (command: string) =>
    `${netkit} relay room ${command} --rooms /var/lib/netkit/gl/rooms.json`;
  lines.push(
    "",
    "Reproduce it by hand (as root):",
    "  for ns in lan h1 h2 gw rly c1; do ip netns add gl-$ns; done",
    "  ip -n gl-lan link add br0 type bridge; ip -n gl-lan link set br0 up",
    "  ip -n gl-lan link add p1 type veth peer name eth0 netns gl-h1    (p2 to gl-h2, pgw to gl-gw)",
    "  ip -n gl-lan link set p1 master br0 up; ip -n gl-h1 link set eth0 up      (p2, pgw likewise)",
    `  ip -n gl-h1 addr add ${L2.h1}/24 dev eth0; ip -n gl-h2 addr add ${L2.h2}/24 dev eth0`,
    `  ip -n gl-rly link add wan type bridge; ip -n gl-rly addr add ${L2.relay}/24 dev wan; ` +
      "ip -n gl-rly link set wan up",
    "  ip -n gl-rly link add w-gw type veth peer name wan netns gl-gw      (w-c1 to gl-c1)",
    "  ip -n gl-rly link set w-gw master wan up; ip -n gl-gw link set wan up   (w-c1 likewise)",
    `  ip -n gl-gw addr add ${WAN.gateway}/24 dev wan; ip -n gl-c1 addr add ${WAN.client}/24 dev wan`,
    "  install -d -m 700 /var/lib/netkit/gl    # private: the relay refuses a directory others can write",
    `  ${room(`add ${L2.room} -o /var/lib/netkit/gl/gateway.cred`)}`,
    `  ${
      room(
        `add-client ${L2.room} client1 --address ${
          clientLanAddress(CLIENT)
        } -o /var/lib/netkit/gl/client1.cred`,
      )
    }`,
    `  terminal 1, relay:   ${
      n(
        "rly",
        `relay --listen ${L2.relay}:${L2.port} --rooms /var/lib/netkit/gl/rooms.json ` +
          "--dev-cert /var/lib/netkit/gl",
      )
    }`,
    `  terminal 2, gateway: ${n("gw", `gateway ${peer("gateway")} --iface eth0`)}`,
    `  terminal 3, client:  ${n("c1", `client ${peer("client1")} --tap ${L2.tap}`)}`,
    `  then: ip -n gl-c1 addr add ${clientLanAddress(CLIENT)}/24 dev ${L2.tap}`,
    `  ping:   ip netns exec gl-h1 ping ${
      clientLanAddress(CLIENT)
    }; ip netns exec gl-c1 ping ${L2.h2}`,
    `  status: ${n("rly", "relay status")}`,
    `  revoke the client (it is disconnected within a second): ${
      room(`del-client ${L2.room} client1`)
    }`,
    "  clean up: Ctrl-C in terminals 3, 2, 1; for ns in lan h1 h2 gw rly c1; do ip netns del gl-$ns; done",
  );
  return lines;
}
