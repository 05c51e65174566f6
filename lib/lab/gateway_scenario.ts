// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * The L2 gateway lab behind `netkit lab gateway`: a LAN (a bridge with hosts h1 and h2 and the
 * gateway's port), a WAN where the relay, the gateway and a client meet ({@linkcode L2Lab}),
 * and netkit's relay, gateway and client run as real processes in their namespaces. The story,
 * recorded as the events of `gateway_events.ts` on the shared {@linkcode ScenarioRun}: build the
 * topology; start the relay with a development certificate, the gateway on the LAN's eth0 and
 * a client with TAP nk0 and a static LAN address; ping from h1 to the client and from the
 * client to h2 through the tunnel; show the relay's status and every peer's counters; keep it
 * all running until Ctrl-C (or for a duration); then stop the processes and delete the
 * namespaces, and check that nothing is left. `gateway_narrative.ts` tells the story.
 *
 * ```ts ignore
 * import { GatewayScenario } from "./gateway_scenario.ts";
 * import { explainGatewayLab, formatGatewayTimelineLine } from "./gateway_narrative.ts";
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

import { NetkitError } from "../errors.ts";
import type { RelayStatus } from "../l2/relay.ts";
import type { ChildDaemon } from "./child_daemon.ts";
import {
  countersEvent,
  GATEWAY_LAB_CLIENT as CLIENT,
  GATEWAY_LAB_STEPS as STEP_COUNT,
  GATEWAY_LAB_WAN as WAN,
  type GatewayLabEvent,
  type GatewayLabReport,
  type GatewayLabRole,
  type GatewayLabSnapshot,
} from "./gateway_events.ts";
import { clientLanAddress, clientMac, L2, L2Lab } from "./l2_lab.ts";
import { ip, labBuildError, requireLabRoot } from "./namespace_lab.ts";
import {
  execInNetns,
  failOnExit,
  namespacesLeft,
  pathExists,
  pingSummaryOf,
} from "./lab_checks.ts";
import { Interrupted, ScenarioRun, type ScenarioRunOptions, type Untimed } from "./runner.ts";
import type { EventOf } from "./timeline.ts";

/** Echo requests per ping. */
export const PING_COUNT = 3;
/** How often the status is read again while the lab runs (for the live view). */
const REFRESH_MS = 1000;

/** Options for {@linkcode GatewayScenario.run}. */
export interface GatewayLabRunOptions extends ScenarioRunOptions<GatewayLabEvent> {
  /** The netkit executable that runs the relay, gateway and client (the CLI passes its own). */
  executable: string;
  /** How long to keep everything running after the status; 0 (default): until `signal`. */
  durationMs?: number;
  /** Log level of the processes, whose logs go to files in the lab's directory (info). */
  logLevel?: string;
}

/**
 * The lab, made by {@linkcode GatewayScenario.create}; {@linkcode GatewayScenario.run} builds the
 * namespaces and removes them again at its end; {@linkcode GatewayScenario.close} (also on
 * dispose) removes whatever is left when a run did not get that far.
 */
export class GatewayScenario implements AsyncDisposable {
  #run: ScenarioRun<GatewayLabEvent> | null = null;
  #lab: L2Lab | null = null;
  #prefix: string | null = null;
  #closed = false;
  /** Set once the lab stops its processes: exits are expected from then on. */
  #stopping = false;
  /** Processes the lab expects to exit by themselves (a revoked client): not a failure. */
  readonly #expectedExits = new Set<ChildDaemon>();
  #status: RelayStatus | null = null;

  private constructor() {}

  /** A lab that builds nothing until it runs. Throws a one-line `NetkitError` without root. */
  static create(): GatewayScenario {
    requireLabRoot("network namespaces, veth pairs and a TAP device");
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
      t: this.#run?.elapsed() ?? 0,
      ...(this.#run?.step ?? { step: 0, title: "" }),
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
    if (this.#run !== null || this.#closed) throw new Error("A GatewayScenario runs only once");
    using run = this.#run = new ScenarioRun(options);
    await run.perform(() => this.#script(options), () => this.#remove());
    return { ...run.finish(run.interrupted ? "signal" : "done"), prefix: this.#prefix };
  }

  /** The run in progress: {@linkcode run} starts it before anything below uses it. */
  get #running(): ScenarioRun<GatewayLabEvent> {
    if (this.#run === null) throw new Error("The GatewayScenario is not running");
    return this.#run;
  }

  /** Whether a process's exit is expected: the lab stops it, or Ctrl-C reached it too. */
  get #exitsExpected(): boolean {
    return this.#stopping || this.#running.interrupted;
  }

  #command(host: GatewayLabRole | "h1", command: string[]): void {
    this.#running.emit({ event: "command", host, command });
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
    await this.#running.interruptible(starting);
  }

  /** The relay's status, kept for the live view; a relay that stopped answering ends the run. */
  async #readStatus(): Promise<RelayStatus> {
    try {
      return this.#status = await this.#running.interruptible(this.#lab!.status());
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      // When the relay exited, #watch says so better: give it the moment to.
      await this.#running.pause(200);
      throw new NetkitError(
        `The relay did not answer on its status socket: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
  }

  /** Fails the run when `process` exits before the lab stops it. */
  #watch(role: GatewayLabRole, process: ChildDaemon): void {
    this.#running.emit({
      event: "started",
      role,
      pid: process.pid,
      netns: this.#netnsOf(role),
    });
    failOnExit(
      this.#running,
      process,
      `netkit ${role}`,
      () => this.#exitsExpected || this.#expectedExits.has(process),
    );
  }

  #netnsOf(role: GatewayLabRole): string {
    const lab = this.#lab!;
    return role === "relay" ? lab.relayNs : role === "gateway" ? lab.gw : lab.clientNs[0]!;
  }

  async #script(options: GatewayLabRunOptions): Promise<void> {
    this.#running.stepTo(1, "build the topology: a LAN with hosts h1 and h2, a WAN to the relay");
    const lab = this.#build(options);
    const client = lab.clientNs[0]!;
    const lan = clientLanAddress(CLIENT);
    this.#running.emit({
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
    this.#running.emit({
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

    this.#running.stepTo(
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
      ...lab.relayArgs(),
      "--status-socket",
      lab.statusSocket,
    ]);
    await this.#start("relay", lab.startRelay(), () => lab.relay);
    const first = await this.#readStatus();
    this.#running.emit({
      event: "relay_ready",
      listen: first.listen,
      version: first.version,
      socket: lab.statusSocket,
      pin: lab.pin,
      server_name: L2.serverName,
    });

    this.#running.stepTo(3, "start the gateway on the LAN's eth0 (AF_PACKET), in room " + L2.room);
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

    this.#running.stepTo(4, `start a client: TAP ${L2.tap}, static LAN address ${lan}`);
    await this.#startClient(lab);

    this.#running.stepTo(5, "ping through the tunnel: h1 → client, client → h2");
    const pings = [
      await this.#ping("h1", lab.h1, "client", lan),
      await this.#ping("client", client, "h2", L2.h2),
    ];

    this.#running.stepTo(6, "the relay's status: rooms, peers and their counters");
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
    this.#running.emit({ event: "status", status });
    for (const room of status.rooms) {
      for (const peer of room.peers) this.#running.emit(countersEvent(peer));
    }
    const silent = pings.filter((p) => p.received === 0);
    if (silent.length > 0) {
      throw new NetkitError(
        `No reply through the tunnel: ${
          silent.map((p) => `${p.from} → ${p.target} (${p.to})`).join(", ")
        }; the relay's status above shows where the frames went`,
      );
    }

    this.#running.stepTo(
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
    const exit = await this.#running.interruptible(revoked.status);
    await revoked.stop(); // its output, read to the end
    this.#running.emit({
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
    this.#running.stepTo(
      8,
      durationMs > 0
        ? `keep it running for ${durationMs / 1000} s; then everything is removed`
        : "keep it running until Ctrl-C; then everything is removed",
    );
    this.#running.emit({
      event: "running",
      duration: durationMs > 0 ? durationMs / 1000 : null,
    });
    const end = durationMs > 0 ? performance.now() + durationMs : Infinity;
    for (;;) {
      const left = end - performance.now();
      if (left <= 0) break;
      await this.#running.pause(Math.min(REFRESH_MS, left));
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
    this.#running.emit({
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
      throw labBuildError(err);
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
      this.#running.emit({
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
  ): Promise<Untimed<EventOf<GatewayLabEvent, "ping">>> {
    const args = ["ping", "-c", String(PING_COUNT), "-i", "0.2", "-W", "2", address];
    this.#command(from, ["ip", "netns", "exec", ns, ...args]);
    const output = await execInNetns(this.#running, ns, args);
    const { summary } = pingSummaryOf(output, from, address);
    const event: Untimed<EventOf<GatewayLabEvent, "ping">> = {
      event: "ping",
      from,
      to: address,
      target,
      sent: summary.sent,
      received: summary.received,
      rtt_min: summary.rtt?.[0] ?? null,
      rtt_avg: summary.rtt?.[1] ?? null,
      rtt_max: summary.rtt?.[2] ?? null,
    };
    this.#running.emit(event);
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
    this.#running.stepTo(
      STEP_COUNT,
      "remove everything: stop the processes, delete the namespaces",
    );
    this.#stopping = true;
    const processes: [GatewayLabRole, ChildDaemon | null][] = [
      ["client", lab.clients[CLIENT - 1] ?? null],
      ["gateway", lab.gateway],
      ["relay", lab.relay],
    ];
    for (const [role, process] of processes) {
      if (process === null) continue;
      const status = await process.stop();
      this.#running.emit({
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
    const left = namespacesLeft(this.#running, netns);
    const filesLeft = pathExists(lab.dir);
    this.#running.emit({ event: "removed", netns, left, files_left: filesLeft });
    if (left.length > 0 || filesLeft) {
      this.#running.fail(
        new NetkitError(
          `Could not remove everything: ${
            [...left, ...(filesLeft ? [lab.dir] : [])].map((n) => `"${n}"`).join(", ")
          } still exist (remove them with ip netns del and rm -r)`,
        ),
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
    await this.#dispose();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
/** "gateway stopped: 12 frames LAN→relay, ..." from what a peer printed as it stopped. */
function lastWords(output: string): string {
  return /netkit: ((?:gateway|client) stopped: .*?)(?= netkit: |$)/.exec(output)?.[1] ?? "";
}

/** An event in words: who it concerns (null for a step heading) and what happened. */
