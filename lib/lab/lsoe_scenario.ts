/**
 * The LSoE lab behind `netkit lab lsoe`: a small Clos fabric (spines s1, s2; leaves l1, l2, l3;
 * a namespace each, a veth pair from each leaf to each spine, addresses per link and loopback)
 * with one `netkit lsoe` per node run as a real child process. The story, recorded as the
 * events of `lsoe_events.ts` on the shared {@linkcode ScenarioRun}: start the daemons and follow
 * their events (as `netkit lsoe monitor -j` does); bring the links up and wait until every
 * session end is open (each node's STATUS, as `netkit lsoe -s -j`, validated with its schema);
 * show the adjacency table and the picture; add an address on a leaf and time its arrival at
 * both spines; set one leaf–spine link down and time the close at both ends; keep running
 * until Ctrl-C (or for a duration); remove everything and check it is gone.
 * `lsoe_narrative.ts` tells the story.
 *
 * ```ts ignore
 * import { LsoeScenario } from "./lsoe_scenario.ts";
 * import { explainLsoeLab, formatLsoeTimelineLine } from "./lsoe_narrative.ts";
 *
 * await using lab = LsoeScenario.create();
 * const report = await lab.run({
 *   executable: "./netkit",
 *   durationMs: 1000,
 *   onEvent: (event) => console.log(formatLsoeTimelineLine(event)),
 * });
 * console.log(explainLsoeLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, veth pairs, packet sockets), iproute2, a netkit
 * executable for the daemons, and `--allow-all`.
 *
 * @module
 */

import { requestChecked, subscribeChecked } from "../daemon/client.ts";
import { NetkitError } from "../errors.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import {
  type EncapsulationJson,
  type LsoeEvent,
  lsoeReply,
  lsoeSocketName,
  MonitorLine,
  StatusReply,
} from "../lsoe/client.ts";
import { netnsId } from "../net/netns_names.ts";
import { ChildDaemon } from "./child_daemon.ts";
import { failOnExit, namespacesLeft, pathExists, processRunning } from "./lab_checks.ts";
import {
  adjacencyRows,
  type EncapsulationChange,
  encapsulationChange,
  labLocalId,
  labLoopback,
  LSOE_LAB_FAILED_LINK as FAILED,
  LSOE_LAB_FAILURE_STEP as FAILURE_STEP,
  LSOE_LAB_LINKS as LINKS,
  LSOE_LAB_NEW_ADDRESS as NEW_ADDRESS,
  LSOE_LAB_NODES as NODES,
  LSOE_LAB_SESSION_ENDS as SESSION_ENDS,
  LSOE_LAB_STATIC_IPV6 as STATIC_IPV6,
  LSOE_LAB_STEPS as STEP_COUNT,
  type LsoeAdjacency,
  type LsoeLabEvent,
  type LsoeLabNode,
  type LsoeLabReport,
  type LsoeLabSnapshot,
  nodeOfLocalId,
} from "./lsoe_events.ts";
import { ip, labBuildError, NamespaceLab, requireLabRoot, sh } from "./namespace_lab.ts";
import { ScenarioRun, type ScenarioRunOptions } from "./runner.ts";

/** The daemons' timers: quick enough for a lab (seconds). */
const HELLO_INTERVAL_S = 1;
const KEEPALIVE_RECEIVE_TIMEOUT_S = 3;
/** How long a daemon may take to answer on its control socket. */
const DAEMON_START_MS = 10_000;
/** How long the daemons have to acknowledge SUBSCRIBE. */
const SUBSCRIBE_ACK_MS = 5000;
/** How long the fabric may take to open every session once the links are up. */
const DISCOVERY_MS = 30_000;
/** How long the new address may take to reach both spines (the issue asks for 1 s). */
const ADDRESS_WAIT_MS = 10_000;
/** How long the closes may take: the receive timeout, with room for a loaded machine. */
const CLOSE_WAIT_MS = KEEPALIVE_RECEIVE_TIMEOUT_S * 1000 + 10_000;
/** How often STATUS is polled while waiting, and read again while the lab runs. */
const POLL_MS = 100;
const REFRESH_MS = 1000;

/** Options for {@linkcode LsoeScenario.run}. */
export interface LsoeLabRunOptions extends ScenarioRunOptions<LsoeLabEvent> {
  /** The netkit executable that runs the daemons (the CLI passes its own). */
  executable: string;
  /** How long to keep everything running after the failure; 0 (default): until `signal`. */
  durationMs?: number;
  /** Log level of the daemons, whose logs go to files in the lab's directory (info). */
  logLevel?: string;
}

/** One node's daemon once started. */
interface NodeDaemon {
  process: ChildDaemon;
  socket: string;
  serving: boolean;
}

/** A monitor event as it arrived, with when (performance.now()). */
interface Arrival {
  node: LsoeLabNode;
  lsoe: LsoeEvent;
  at: number;
}

/**
 * The lab, made by {@linkcode LsoeScenario.create}; {@linkcode LsoeScenario.run} builds the
 * fabric and removes it again at its end; {@linkcode LsoeScenario.close} (also on dispose)
 * removes whatever is left when a run did not get that far.
 */
export class LsoeScenario implements AsyncDisposable {
  #run: ScenarioRun<LsoeLabEvent> | null = null;
  #lab: NamespaceLab | null = null;
  #prefix: string | null = null;
  #dir: string | null = null;
  /** The lab's directory, kept after disposal for the check that it is gone. */
  #dirPath: string | null = null;
  readonly #netns = new Map<LsoeLabNode, string>();
  readonly #daemons = new Map<LsoeLabNode, NodeDaemon>();
  readonly #subscription = new AbortController();
  readonly #subscriptionLoops: Promise<void>[] = [];
  readonly #arrivals: Arrival[] = [];
  /** Each session's last list per family ("node interface peer_mac"), for the changes. */
  readonly #lists = new Map<string, Map<string, readonly EncapsulationJson[]>>();
  #rows: LsoeAdjacency[] | null = null;
  #closed = false;
  /** Set once the lab stops its processes: exits are expected from then on. */
  #stopping = false;

  private constructor() {}

  /** A lab that builds nothing until it runs. Throws a one-line `NetkitError` without root. */
  static create(): LsoeScenario {
    requireLabRoot("network namespaces and veth pairs");
    return new LsoeScenario();
  }

  /** The namespace prefix once the namespaces were made, else null. */
  get prefix(): string | null {
    return this.#prefix;
  }

  /** A node's namespace while its daemon serves, else null (for "from another terminal"). */
  servingNetns(node: LsoeLabNode): string | null {
    return this.#daemons.get(node)?.serving && !this.#stopping
      ? this.#netns.get(node) ?? null
      : null;
  }

  /** The lab's state now: step, and the adjacency table as last read. */
  snapshot(): LsoeLabSnapshot {
    return {
      t: this.#run?.elapsed() ?? 0,
      ...(this.#run?.step ?? { step: 0, title: "" }),
      rows: this.#rows,
    };
  }

  /**
   * Runs the story once: builds the fabric, starts the daemons, brings the links up, shows the
   * adjacencies, adds an address, fails a link, waits (`durationMs`, or until `signal`) and
   * removes everything. The removal happens on every way out; a failure (a daemon does not
   * start or exits by itself, a session does not open, a change does not arrive) is thrown
   * after it.
   */
  async run(options: LsoeLabRunOptions): Promise<LsoeLabReport> {
    if (this.#run !== null || this.#closed) throw new Error("An LsoeScenario runs only once");
    using run = this.#run = new ScenarioRun(options);
    await run.perform(() => this.#script(options), () => this.#remove());
    return { ...run.finish(run.interrupted ? "signal" : "done"), prefix: this.prefix };
  }

  /** The run in progress: {@linkcode run} starts it before anything below uses it. */
  get #running(): ScenarioRun<LsoeLabEvent> {
    if (this.#run === null) throw new Error("The LsoeScenario is not running");
    return this.#run;
  }

  #ns(node: LsoeLabNode): string {
    return this.#netns.get(node)!;
  }

  /** `ip ARGS`, shown first as the command a user would type on `node`. */
  #ip(node: LsoeLabNode, ...args: string[]): void {
    this.#running.emit({ event: "command", node, command: ["ip", ...args] });
    ip(...args);
  }

  async #script(options: LsoeLabRunOptions): Promise<void> {
    const run = this.#running;
    run.stepTo(
      1,
      `build the fabric: ${NODES.length} namespaces, ${LINKS.length} veth pairs (down)`,
    );
    this.#build();
    run.emit({ event: "lab", netns: NODES.map((node) => ({ node, netns: this.#ns(node) })) });

    run.stepTo(2, "start netkit lsoe on every node; follow its events (netkit lsoe monitor -j)");
    for (const node of NODES) await this.#startDaemon(node, options);
    for (const node of NODES) await this.#subscribe(node);

    run.stepTo(3, `bring the ${LINKS.length} links up: the nodes discover each other`);
    const started = performance.now();
    for (const link of LINKS) {
      this.#ip(link.spine, "-n", this.#ns(link.spine), "link", "set", link.spine_interface, "up");
      this.#ip(link.leaf, "-n", this.#ns(link.leaf), "link", "set", link.leaf_interface, "up");
    }
    await this.#waitOpen(SESSION_ENDS, DISCOVERY_MS, "every session to open");
    run.emit({
      event: "all_open",
      sessions: SESSION_ENDS,
      after_ms: Math.round(performance.now() - started),
    });

    run.stepTo(4, "the adjacency table and the picture (netkit lsoe -s on every node)");
    run.emit({ event: "adjacency", rows: await this.#readRows() });

    const { node, address, prefix_length, interface: dev } = NEW_ADDRESS;
    run.stepTo(5, `ip addr add ${address}/${prefix_length} on ${node}: it reaches both spines`);
    await this.#addressChange(node, `${address}/${prefix_length}`, dev);

    run.stepTo(
      FAILURE_STEP,
      `link failure: ip link set ${FAILED.leaf_interface} down on ${FAILED.leaf}`,
    );
    await this.#linkFailure();

    const durationMs = options.durationMs ?? 0;
    run.stepTo(
      7,
      durationMs > 0
        ? `keep it running for ${durationMs / 1000} s; then everything is removed`
        : "keep it running until Ctrl-C; then everything is removed",
    );
    run.emit({ event: "running", duration: durationMs > 0 ? durationMs / 1000 : null });
    const end = durationMs > 0 ? performance.now() + durationMs : Infinity;
    for (;;) {
      const left = end - performance.now();
      if (left <= 0) break;
      await run.pause(Math.min(REFRESH_MS, left));
      await this.#readRows();
    }
  }

  /**
   * The namespaces, the veth pairs (left down until step 3, so that every daemon is followed
   * before anything is discovered), the addresses and the lab's private directory.
   */
  #build(): void {
    const lab = this.#lab = new NamespaceLab();
    this.#prefix = lab.prefix;
    try {
      for (const node of NODES) {
        const netns = lab.netns(node);
        this.#netns.set(node, netns);
        // Every address, link-local ones included, is there and usable before the links come
        // up, so each node announces its IPv6 list once, not again as the kernel makes up a
        // link-local address or an address leaves its tentative state. Lab namespaces only.
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", ...STATIC_IPV6);
        const loopback = labLoopback(node);
        ip("-n", netns, "addr", "add", `${loopback.ipv4}/32`, "dev", "lo");
        ip("-n", netns, "-6", "addr", "add", `${loopback.ipv6}/128`, "dev", "lo");
      }
      for (const link of LINKS) {
        const spine = this.#ns(link.spine);
        const leaf = this.#ns(link.leaf);
        ip(
          ...["-n", spine, "link", "add", link.spine_interface, "type", "veth"],
          ...["peer", "name", link.leaf_interface, "netns", leaf],
        );
        const ends = [[spine, link.spine_interface], [leaf, link.leaf_interface]] as const;
        ends.forEach(([netns, dev], i) => {
          ip("-n", netns, "addr", "add", `${link.ipv4[i]}/31`, "dev", dev);
          ip("-n", netns, "-6", "addr", "add", `${link.ipv6[i]}/64`, "dev", dev);
          ip("-n", netns, "-6", "addr", "add", `${link.link_local[i]}/64`, "dev", dev);
        });
      }
    } catch (err) {
      throw labBuildError(err);
    }
    this.#dir = Deno.makeTempDirSync({ prefix: "netkit-lab-lsoe-" });
  }

  /** Starts `node`'s daemon (in the foreground, its own session) and waits until it serves. */
  async #startDaemon(node: LsoeLabNode, options: LsoeLabRunOptions): Promise<void> {
    const netns = this.#ns(node);
    const shown = [
      ...["-n", netns, "lsoe", "--hello-interval", String(HELLO_INTERVAL_S)],
      ...["--keepalive-receive-timeout", String(KEEPALIVE_RECEIVE_TIMEOUT_S)],
      ...["--local-id", labLocalId(node)],
    ];
    this.#running.emit({ event: "command", node, command: ["netkit", ...shown] });
    const log = [
      "--log-level",
      options.logLevel ?? "info",
      "--log-file",
      `${this.#dir}/${node}.log`,
    ];
    // Its own session: Ctrl-C on the terminal reaches the lab, which stops the daemons itself.
    const process = ChildDaemon.spawn(`netkit lsoe on ${node}`, options.executable, [
      ...log,
      ...shown,
    ], { detached: true });
    const socket = controlSocketPath(lsoeSocketName(netnsId(netns)));
    const daemon: NodeDaemon = { process, socket, serving: false };
    this.#daemons.set(node, daemon);
    this.#running.emit({ event: "daemon_started", node, pid: process.pid, netns });
    failOnExit(
      this.#running,
      process,
      `netkit lsoe on ${node}`,
      () => this.#stopping || this.#running.interrupted,
    );
    let status: StatusReply | null = null;
    // Not cut short by Ctrl-C: a daemon is only stopped once it serves (see #stopDaemon).
    await process.waitUntil(async () => {
      status = await this.#status(socket, 1000);
      return true;
    }, { timeoutMs: DAEMON_START_MS });
    daemon.serving = true;
    const ready: StatusReply = status!;
    this.#running.emit({
      event: "daemon_ready",
      node,
      socket,
      local_id: ready.local_id,
      interfaces: ready.interfaces.map((i) => i.name),
    });
    this.#running.check();
  }

  #status(socket: string, timeoutMs?: number): Promise<StatusReply> {
    return requestChecked(
      socket,
      { action: "STATUS" },
      StatusReply,
      lsoeReply("STATUS"),
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }

  /** Every node's sessions as adjacency rows, kept for the live view. */
  async #readRows(): Promise<LsoeAdjacency[]> {
    const rows: LsoeAdjacency[] = [];
    for (const node of NODES) {
      const status = await this.#running.interruptible(
        this.#status(this.#daemons.get(node)!.socket),
      );
      rows.push(...adjacencyRows(node, status));
    }
    return this.#rows = rows;
  }

  /** Waits until `count` session ends are open across the fabric (STATUS polled). */
  async #waitOpen(count: number, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const rows = await this.#readRows();
      const open = rows.filter((r) => r.state === "open").length;
      if (open === count) return;
      if (performance.now() > deadline) {
        throw new NetkitError(
          `Waited ${timeoutMs / 1000} s for ${what}: ${open} of ${count} session ends open`,
        );
      }
      await this.#running.pause(POLL_MS);
    }
  }

  /**
   * Follows `node`'s daemon's events (SUBSCRIBE, as `netkit lsoe monitor -j`); returns once it
   * acknowledged, so every event after that reaches the lab.
   */
  async #subscribe(node: LsoeLabNode): Promise<void> {
    let acked = false;
    const socket = this.#daemons.get(node)!.socket;
    this.#subscriptionLoops.push((async () => {
      try {
        for await (
          const line of subscribeChecked(
            socket,
            { action: "SUBSCRIBE" },
            MonitorLine,
            lsoeReply("SUBSCRIBE"),
            { signal: this.#subscription.signal },
          )
        ) {
          if ("event" in line) {
            this.#arrivals.push({ node, lsoe: line, at: performance.now() });
            const change = this.#changeOf(node, line);
            this.#running.emit({
              event: "lsoe",
              node,
              lsoe: line,
              ...(change === null ? {} : { change }),
            });
          } else if (!acked) {
            acked = true;
            this.#running.wake();
          }
        }
      } catch (err) {
        if (!this.#subscription.signal.aborted && !this.#stopping) this.#running.fail(err);
      }
    })());
    if (!await this.#running.until(() => acked, SUBSCRIBE_ACK_MS)) {
      throw new NetkitError(
        `netkit lsoe on ${node} did not acknowledge SUBSCRIBE within ${SUBSCRIBE_ACK_MS} ms`,
      );
    }
  }

  /**
   * What an `encapsulations` event changed in its session's list of that family (null for
   * other events); a session's lists are forgotten when it closes, so a reopened session's
   * first lists are first again.
   */
  #changeOf(node: LsoeLabNode, lsoe: LsoeEvent): EncapsulationChange | null {
    const session = `${node} ${lsoe.interface} ${lsoe.peer_mac}`;
    if (lsoe.event === "session_close") this.#lists.delete(session);
    if (lsoe.event !== "encapsulations") return null;
    const lists = this.#lists.get(session) ?? new Map();
    this.#lists.set(session, lists);
    const change = encapsulationChange(lists.get(lsoe.family), lsoe.entries);
    lists.set(lsoe.family, lsoe.entries);
    return change;
  }

  /**
   * The first `kind` event after `since` at `node` about a session with `peer` that `test`
   * accepts, and when it arrived; undefined if none came yet.
   */
  #arrival<K extends LsoeEvent["event"]>(
    since: number,
    node: LsoeLabNode,
    peer: LsoeLabNode,
    kind: K,
    test: (event: Extract<LsoeEvent, { event: K }>) => boolean = () => true,
  ): { lsoe: Extract<LsoeEvent, { event: K }>; at: number } | undefined {
    const isKind = (e: LsoeEvent): e is Extract<LsoeEvent, { event: K }> => e.event === kind;
    for (const a of this.#arrivals) {
      const e = a.lsoe;
      if (a.at < since || a.node !== node || !isKind(e)) continue;
      if (nodeOfLocalId(e.peer_local_id) === peer && test(e)) return { lsoe: e, at: a.at };
    }
    return undefined;
  }

  /** Adds `address` on `node`'s `dev`; waits for its arrival at every neighbour of `node`. */
  async #addressChange(node: LsoeLabNode, address: string, dev: string): Promise<void> {
    const bare = address.split("/")[0]!;
    const neighbours = LINKS.filter((l) => l.leaf === node).map((l) => l.spine);
    const since = performance.now();
    this.#ip(node, "-n", this.#ns(node), "addr", "add", address, "dev", dev);
    const seenAt = (spine: LsoeLabNode) =>
      this.#arrival(
        since,
        spine,
        node,
        "encapsulations",
        (e) => e.entries.some((entry) => entry.address === bare),
      );
    const arrived = await this.#running.until(
      () => neighbours.every((s) => seenAt(s) !== undefined),
      ADDRESS_WAIT_MS,
    );
    if (!arrived) {
      throw new NetkitError(
        `${address} did not reach ${
          neighbours.filter((s) => seenAt(s) === undefined).join(" and ")
        } within ${ADDRESS_WAIT_MS / 1000} s`,
      );
    }
    for (const spine of neighbours) {
      this.#running.emit({
        event: "address_seen",
        node: spine,
        from: node,
        address: bare,
        delay_ms: Math.round(seenAt(spine)!.at - since),
      });
    }
  }

  /** Sets the failed link down at its leaf; waits for both ends to close, then the table. */
  async #linkFailure(): Promise<void> {
    const { leaf, spine } = FAILED;
    const since = performance.now();
    this.#ip(leaf, "-n", this.#ns(leaf), "link", "set", FAILED.leaf_interface, "down");
    const closeAt = (node: LsoeLabNode, peer: LsoeLabNode) =>
      this.#arrival(since, node, peer, "session_close");
    const ends: [LsoeLabNode, LsoeLabNode][] = [[leaf, spine], [spine, leaf]];
    const closed = await this.#running.until(
      () => ends.every(([node, peer]) => closeAt(node, peer) !== undefined),
      CLOSE_WAIT_MS,
    );
    if (!closed) {
      throw new NetkitError(
        `The ${leaf}–${spine} session did not close at ${
          ends.filter(([node, peer]) => closeAt(node, peer) === undefined).map(([n]) => n)
            .join(" and ")
        } within ${CLOSE_WAIT_MS / 1000} s of the link going down`,
      );
    }
    for (const [node, peer] of ends) {
      const close = closeAt(node, peer)!;
      this.#running.emit({
        event: "session_closed",
        node,
        peer,
        reason: close.lsoe.reason,
        delay_ms: Math.round(close.at - since),
      });
    }
    await this.#waitOpen(SESSION_ENDS - 2, CLOSE_WAIT_MS, "the fabric without the failed link");
    this.#running.emit({ event: "adjacency", rows: this.#rows! });
  }

  /**
   * The last step, on every way out once the namespaces exist: stops the daemons (SIGTERM),
   * reports how each exited, deletes the namespaces (and with them the veth pairs) and the
   * lab's files, and reports what (if anything) is left.
   */
  async #remove(): Promise<void> {
    const lab = this.#lab;
    if (lab === null) return;
    this.#running.stepTo(STEP_COUNT, "remove everything: stop the daemons, delete the namespaces");
    this.#stopping = true;
    this.#subscription.abort();
    await Promise.all(this.#subscriptionLoops);
    const pids: number[] = [];
    for (const [node, daemon] of this.#daemons) {
      pids.push(daemon.process.pid);
      const status = await this.#stopDaemon(daemon);
      this.#running.emit({
        event: "process_stopped",
        node,
        pid: daemon.process.pid,
        code: status.code,
        signal: status.signal,
      });
    }
    const netns = [...this.#netns.values()];
    const sockets = [...this.#daemons.values()].map((d) => d.socket);
    await this.#dispose();
    const left = namespacesLeft(this.#running, netns);
    const processesLeft = pids.filter(processRunning);
    const files = [this.#dirPath, ...sockets].filter((p): p is string =>
      p !== null && pathExists(p)
    );
    this.#running.emit({
      event: "removed",
      netns,
      left,
      processes_left: processesLeft,
      files_left: files.length > 0,
    });
    if (left.length > 0 || processesLeft.length > 0 || files.length > 0) {
      this.#running.fail(
        new NetkitError(
          `Could not remove everything: ${
            [...left, ...files, ...processesLeft.map((p) => `pid ${p}`)].map((n) => `"${n}"`)
              .join(", ")
          } still exist (remove them with ip netns del, kill and rm -r)`,
        ),
      );
    }
  }

  /** Stops a daemon; one still starting first gets the time to serve (its SIGTERM handler). */
  async #stopDaemon(daemon: NodeDaemon): Promise<Deno.CommandStatus> {
    if (!daemon.serving && !daemon.process.exited) {
      await daemon.process.waitUntil(async () => {
        await this.#status(daemon.socket, 1000);
        return true;
      }, { timeoutMs: DAEMON_START_MS }).catch(() => {});
    }
    return await daemon.process.stop();
  }

  /** Stops whatever still runs and removes the namespaces and the lab's files, once. */
  async #dispose(): Promise<void> {
    const lab = this.#lab;
    const dir = this.#dir;
    this.#lab = null;
    this.#dir = null;
    this.#stopping = true;
    this.#subscription.abort();
    try {
      await Promise.all(this.#subscriptionLoops);
      await Promise.all([...this.#daemons.values()].map((d) => this.#stopDaemon(d)));
    } finally {
      lab?.[Symbol.dispose]();
      if (dir !== null) {
        this.#dirPath = dir;
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch {
          // Already gone.
        }
      }
    }
  }

  /** Removes whatever a run left (nothing after a run that ended). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#dispose();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
