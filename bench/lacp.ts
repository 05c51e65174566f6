/**
 * LACP timing and cost of `netkit lacp` against Open vSwitch, measured in the same run over veth
 * pairs in lab namespaces (fast rate everywhere):
 *
 * 1. Convergence: time from start until both ports of both sides are COLLECTING_DISTRIBUTING with
 *    an in-sync partner, for netkit ↔ netkit (two in-process daemons), netkit ↔ OVS and, as the
 *    baseline, OVS ↔ OVS. Printed as seconds, as excess over the 2 s wait_while (goal ≤ 0.5 s)
 *    and as the ratio to OVS ↔ OVS. Open vSwitch implements no wait_while, so that ratio mostly
 *    shows the cost of the standard's 2 s wait.
 * 2. Periodic transmit interval error |interval − 1000 ms| of steady-state LACPDUs, captured on
 *    the receiving side, for a netkit pair (two `./netkit lacp` processes) and, as the baseline,
 *    an OVS pair running at the same time. p50, p99 and max; goal p99 ≤ 20 ms.
 * 3. CPU time of idle 16-port `./netkit lacp` processes once converged, against their netkit peer
 *    (the baseline: both sides do the same work) and `ovs-vswitchd` with a 16-member bond (a
 *    reference: it also runs its userspace datapath).
 * 4. What the daemon's receive socket costs a link that carries data: 60-byte frames sent over a
 *    veth, whose receive path runs in the sender's system call, with no socket on the receiving
 *    end (the baseline), a socket bound to 0x8809 alone (the daemon's before issue 14: it cannot
 *    see VLAN tags) and the daemon's own (every protocol behind a BPF filter, so it can).
 *
 * Run as root with Open vSwitch installed: `make bench`, or `deno run -P=test bench/lacp.ts
 * [--rounds R] [--ports N] [--seconds S] [--cpu-seconds S] [--cpu-ports N] [--tap-frames N]
 * [--tap-rounds R] [--json]`.
 * The default run takes about two minutes. Everything (namespaces, daemons, Open vSwitch) is
 * removed at the end, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../lib/async.ts";
import { LacpDaemon, lacpDaemonOptions } from "../lib/lacp/daemon.ts";
import { LacpTimes } from "../lib/lacp/lacp_port.ts";
import { LacpProcess } from "../testing/lacp_process.ts";
import { NamespaceLab } from "../lib/lab/namespace_lab.ts";
import { type OvsLacpStatus, OvsPeer } from "../testing/ovs_peer.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { FrameBatch } from "../lib/net/frame_batch.ts";
import { PacketSocket, PacketType } from "../lib/net/packet_socket.ts";
import { Poller } from "../lib/net/poller.ts";
import {
  decodeLacpdu,
  ETHERTYPE_SLOW,
  LacpState,
  SlowSubtype,
  slowSubtypeAt,
} from "../lib/packet/lacp.ts";
import { EtherType } from "../lib/packet/ethernet.ts";
import { macEquals } from "../lib/packet/mac.ts";
import { readPcap } from "../lib/packet/pcap.ts";
import { median, percentile, runBenchmark, table, verdict } from "./_shared.ts";

/** What to run; the defaults give a run of about two minutes. */
export interface LacpBenchOptions {
  /** Convergence repetitions per pair (default 5). */
  rounds: number;
  /** Ports per side for convergence and intervals (default 2). */
  ports: number;
  /** Length of the interval capture in seconds (default 35: 34 intervals per port). */
  seconds: number;
  /** CPU sampling window in seconds (default 20). */
  cpuSeconds: number;
  /** Ports per daemon in the CPU measurement (default 16). */
  cpuPorts: number;
  /** Data frames sent per socket kind and round in the receive tap measurement (default 400000). */
  tapFrames: number;
  /** Rounds of the receive tap measurement, the socket kinds interleaved (default 5). */
  tapRounds: number;
  /** Ends the run early (Ctrl-C); everything is cleaned up and the promise rejects. */
  signal?: AbortSignal;
}

/** Convergence of one pair. */
export interface ConvergenceResult {
  pair: string;
  /** Start to converged, one value per round. */
  seconds: number[];
  medianSeconds: number;
  maxSeconds: number;
  /** Median and max minus the 2 s wait_while (negative: faster than the wait, as OVS is). */
  medianExcessSeconds: number;
  maxExcessSeconds: number;
  /** Median relative to the OVS ↔ OVS median. */
  ratio: number;
}

/** Periodic transmit interval error of one sender. */
export interface IntervalResult {
  sender: string;
  /** "peer capture" (AF_PACKET on the receiving side) or "sender pcap" (the daemon's --pcap). */
  timestamps: string;
  /** Steady-state LACPDUs in the window. */
  pdus: number;
  /** Intervals between consecutive periodic LACPDUs of one port. */
  intervals: number;
  /** Intervals left out because a LACPDU around them was not a steady-state one. */
  discarded: number;
  meanIntervalMs: number;
  p50ErrorMs: number;
  p99ErrorMs: number;
  maxErrorMs: number;
  /** p99 error relative to the OVS baseline's. */
  ratio: number;
}

/** CPU use of one idle daemon. */
export interface CpuResult {
  process: string;
  pid: number;
  ports: number;
  /** CPU time per wall-clock second (10 ms/s = 1 % of one core). */
  cpuMsPerSecond: number;
  /** "schedstat" (per-thread run time in ns) or "stat" (utime + stime in clock ticks). */
  method: string;
  /**
   * Times per second a thread of the process was put on a CPU (schedstat), i.e. wake-ups: the
   * cost of an idle daemon is mostly per wake-up. Null when a thread ended during the window.
   */
  runsPerSecond: number | null;
  /** Relative to the netkit peer. */
  ratio: number;
}

/** What one kind of receiving socket costs the data frames that cross a veth. */
export interface TapResult {
  /** "none (baseline)", "0x8809 only" or "netkit lacp". */
  socket: string;
  /** Median over the rounds of the sender's wall time per frame, in ns. */
  nsPerFrame: number;
  /** One value per round. */
  rounds: number[];
  /** Relative to no socket. */
  ratio: number;
}

/** The whole benchmark report. */
export interface LacpBenchReport {
  rounds: number;
  ports: number;
  seconds: number;
  cpuSeconds: number;
  cpuPorts: number;
  kernel: string;
  cpus: number;
  ovsVersion: string;
  waitWhileSeconds: number;
  convergence: {
    /** How often the in-process netkit daemons were checked. */
    netkitPollMs: number;
    /** Median duration of one `ovs-appctl lacp/show` probe: the resolution of OVS times. */
    ovsProbeMs: number;
    goalExcessSeconds: number;
    /**
     * netkit ↔ netkit's median time beyond the wait_while relative to OVS ↔ OVS's median total:
     * the protocol's own overhead, since OVS does not wait.
     */
    netkitExcessVsOvs: number;
    /** Every netkit round converged within the goal. */
    goalMet: boolean;
    results: ConvergenceResult[];
  };
  interval: {
    goalP99Ms: number;
    /** netkit's p99 (peer capture) is within the goal. */
    goalMet: boolean;
    results: IntervalResult[];
  };
  cpu: {
    windowSeconds: number;
    /** netkit (vs netkit) relative to ovs-vswitchd. */
    netkitVsOvs: number;
    results: CpuResult[];
  };
  tap: {
    frames: number;
    frameBytes: number;
    /** The daemon's socket's cost per received frame, in ns (median minus baseline median). */
    netkitExtraNs: number;
    results: TapResult[];
  };
}

const WAIT_WHILE_MS = LacpTimes.AGGREGATE_WAIT;
/** The data frames of the receive tap measurement: nobody on the link listens for them. */
const TAP_ETHERTYPE = EtherType.LOCAL_EXPERIMENTAL;
const PERIOD_MS = LacpTimes.FAST_PERIODIC;
const GOAL_EXCESS_S = 0.5;
const GOAL_P99_MS = 20;
/** How often in-process daemons are checked for convergence. */
const NETKIT_POLL_MS = 2;
const CONVERGE_TIMEOUT_MS = 20_000;
/** OVS with its bond configured but no partner yet, before netkit starts. */
const OVS_SETTLE_MS = 500;
/**
 * After convergence, before the interval capture: convergence sends a few LACPDUs at once (NTT
 * on state changes) and those are not periodic.
 */
const STEADY_SETTLE_MS = 1500;
/** After convergence, before CPU sampling, so that negotiation is not counted. */
const CPU_SETTLE_MS = 2000;
const STEADY = LacpState.SYNCHRONIZATION | LacpState.COLLECTING | LacpState.DISTRIBUTING;
/** The Open vSwitch bridge every bond is added to. */
const BRIDGE = "br0";
const NETKIT = new URL("../netkit", import.meta.url).pathname;

/** A `./netkit -n NETNS lacp -i ...` process with the default (fast, active) settings. */
function startLacp(netns: string, args: string[]): LacpProcess {
  return LacpProcess.start(netns, args, { executable: NETKIT });
}

/** `-i NAME` for every port. */
function ports(names: readonly string[]): string[] {
  return names.flatMap((name) => ["-i", name]);
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** Starts an in-process daemon whose stop, run and close are undone by `stack`. */
async function startInProcess(
  stack: AsyncDisposableStack,
  netns: string,
  interfaces: string[],
): Promise<LacpDaemon> {
  const daemon = await LacpDaemon.start(lacpDaemonOptions(interfaces, { netns }));
  const running = daemon.run();
  stack.defer(async () => {
    daemon.stop();
    try {
      await running;
    } finally {
      await daemon.close();
    }
  });
  return daemon;
}

/** Polls `ready` every {@linkcode NETKIT_POLL_MS}; returns when it first held (performance.now). */
async function pollInProcess(ready: () => boolean, what: string, signal?: AbortSignal) {
  const deadline = performance.now() + CONVERGE_TIMEOUT_MS;
  for (;;) {
    const now = performance.now();
    if (ready()) return now;
    if (now > deadline) throw new Error(`Timed out waiting for ${what}`);
    await delay(NETKIT_POLL_MS, signal);
    signal?.throwIfAborted();
  }
}

function ovsReady(status: OvsLacpStatus, members: readonly string[]): boolean {
  return status.negotiated && members.every((name) => {
    const m = status.members[name];
    return m !== undefined && m.rxState === "current" && m.attached && m.mayEnable;
  });
}

/**
 * Probes `lacp/show` back to back until every member is current, attached and may_enable.
 * Returns the midpoint of the first probe that saw it: OVS read its state somewhere inside the
 * probe, so the midpoint is off by at most half a probe either way. Probe durations go to `probes`.
 */
async function pollOvs(
  ovs: OvsPeer,
  bond: string,
  members: readonly string[],
  probes: number[],
  signal?: AbortSignal,
): Promise<number> {
  const deadline = performance.now() + CONVERGE_TIMEOUT_MS;
  let last = "nothing yet";
  for (;;) {
    signal?.throwIfAborted();
    const start = performance.now();
    let status: OvsLacpStatus | null = null;
    try {
      status = await ovs.lacpShow(bond);
    } catch (err) {
      last = String(err);
    }
    const end = performance.now();
    probes.push(end - start);
    if (status !== null && ovsReady(status, members)) return (start + end) / 2;
    if (status !== null) last = JSON.stringify(status);
    if (end > deadline) {
      throw new Error(`Timed out waiting for Open vSwitch in "${ovs.netns}"; last: ${last}`);
    }
  }
}

async function addBond(ovs: OvsPeer, bond: string, members: string[]): Promise<void> {
  await ovs.addBond({ bridge: BRIDGE, bond, members, lacp: "active", time: "fast" });
}

/** Removes `bond`, which resets Open vSwitch's LACP state for its members. */
async function deleteBond(ovs: OvsPeer, bond: string): Promise<void> {
  await ovs.vsctl("--", "--if-exists", "del-port", BRIDGE, bond);
}

/** netkit ↔ netkit, in process: from the first start until all ports of both are aggregated. */
async function convergeNetkitPair(
  lab: { a: string; b: string; aPorts: string[]; bPorts: string[] },
  signal?: AbortSignal,
): Promise<number> {
  await using stack = new AsyncDisposableStack();
  const start = performance.now();
  const a = await startInProcess(stack, lab.a, lab.aPorts);
  const b = await startInProcess(stack, lab.b, lab.bPorts);
  const all = (d: LacpDaemon) => d.system.ports.every((_, i) => d.system.isAggregated(i));
  const at = await pollInProcess(() => all(a) && all(b), "two netkit daemons to converge", signal);
  return (at - start) / 1000;
}

/** netkit ↔ OVS: OVS runs first and settles; then from netkit's start until both agree. */
async function convergeNetkitOvs(
  lab: { netkit: string; netkitPorts: string[]; ovs: OvsPeer; ovsPorts: string[] },
  probes: number[],
  signal?: AbortSignal,
): Promise<number> {
  const bond = "bondn";
  await using stack = new AsyncDisposableStack();
  stack.defer(() => deleteBond(lab.ovs, bond));
  await addBond(lab.ovs, bond, lab.ovsPorts);
  await lab.ovs.lacpShow(bond);
  await delay(OVS_SETTLE_MS, signal);
  signal?.throwIfAborted();
  const start = performance.now();
  const daemon = await startInProcess(stack, lab.netkit, lab.netkitPorts);
  const [netkitAt, ovsAt] = await Promise.all([
    pollInProcess(
      () => daemon.system.ports.every((_, i) => daemon.system.isAggregated(i)),
      "netkit to converge with Open vSwitch",
      signal,
    ),
    pollOvs(lab.ovs, bond, lab.ovsPorts, probes, signal),
  ]);
  return (Math.max(netkitAt, ovsAt) - start) / 1000;
}

/** OVS ↔ OVS: from adding the second bond until both report every member attached. */
async function convergeOvsPair(
  lab: { a: OvsPeer; b: OvsPeer; ports: string[] },
  probes: number[],
  signal?: AbortSignal,
): Promise<number> {
  const bond = "bondp";
  await using stack = new AsyncDisposableStack();
  stack.defer(() => deleteBond(lab.a, bond));
  await addBond(lab.a, bond, lab.ports);
  await lab.a.lacpShow(bond);
  await delay(OVS_SETTLE_MS, signal);
  signal?.throwIfAborted();
  stack.defer(() => deleteBond(lab.b, bond));
  const start = performance.now();
  await addBond(lab.b, bond, lab.ports);
  const times = await Promise.all([
    pollOvs(lab.a, bond, lab.ports, probes, signal),
    pollOvs(lab.b, bond, lab.ports, probes, signal),
  ]);
  return (Math.max(...times) - start) / 1000;
}

/** One LACPDU seen on the wire. */
interface SeenPdu {
  /** Arrival (capture) or send (pcap) time in ms. */
  at: number;
  actorState: number;
  partnerState: number;
}

/** A capture point: frames arriving on `ifname` in `netns` come from `sender`. */
interface CapturePoint {
  sender: string;
  netns: string;
  ifname: string;
}

/**
 * Records the LACPDUs arriving on every capture point for `ms`, stamped with performance.now()
 * right after each receive.
 *
 * Why a capture on the receiving side rather than the daemon's own --pcap timestamps: it is the
 * only one of the two that can time Open vSwitch, so netkit and the baseline are timed by the
 * same code and the ratio compares like with like; and it times what reached the peer. Its cost
 * is the capturer's wake-up latency (poll on a worker thread, then the event loop; ~0.4 ms here),
 * the same for both senders, with this process doing nothing else meanwhile. The --pcap stamp
 * (taken by netkit itself right after send() returns) has no such latency, so it is reported
 * beside it as a cross-check of how much the capture adds, not as the measurement.
 */
async function capturePdus(
  points: readonly CapturePoint[],
  ms: number,
  signal?: AbortSignal,
): Promise<Map<CapturePoint, SeenPdu[]>> {
  using stack = new DisposableStack();
  const sockets = points.map((point) =>
    stack.use(runInNetns(point.netns, () =>
      PacketSocket.open({
        interface: point.ifname,
        etherType: ETHERTYPE_SLOW,
        maxFrame: 1518,
        rcvbuf: 1 << 20,
      })))
  );
  const seen = new Map(points.map((p) => [p, [] as SeenPdu[]]));
  await using poller = new Poller();
  const end = performance.now() + ms;
  for (let now = performance.now(); now < end; now = performance.now()) {
    signal?.throwIfAborted();
    const { ready } = await poller.wait(sockets.map((s) => s.fd), Math.min(100, end - now));
    sockets.forEach((socket, i) => {
      if (!ready.includes(socket.fd)) return;
      for (let got = socket.receive(); got !== null; got = socket.receive()) {
        const at = performance.now();
        // The receiving side's own transmissions pass the same socket on the way out.
        if (got.pktType === PacketType.OUTGOING || got.vlanTci !== -1) continue;
        if (slowSubtypeAt(got.frame) !== SlowSubtype.LACP) continue;
        const pdu = decodeLacpdu(got.frame);
        seen.get(points[i]!)!.push({
          at,
          actorState: pdu.actor.state,
          partnerState: pdu.partner.state,
        });
      }
    });
  }
  return seen;
}

/** The LACPDUs that daemon `system` sent, from its own --pcap, within [from, to] (epoch ms). */
async function pcapPdus(
  path: string,
  system: Uint8Array,
  from: number,
  to: number,
): Promise<SeenPdu[][]> {
  const byPort = new Map<number, SeenPdu[]>();
  for (const record of readPcap(await Deno.readFile(path)).records) {
    if (slowSubtypeAt(record.frame) !== SlowSubtype.LACP) continue;
    const pdu = decodeLacpdu(record.frame);
    if (!macEquals(pdu.actor.system, 0, system, 0)) continue;
    const at = Number(record.timestampNs / 1000n) / 1000;
    if (at < from || at > to) continue;
    const list = byPort.get(pdu.actor.port) ?? [];
    list.push({ at, actorState: pdu.actor.state, partnerState: pdu.partner.state });
    byPort.set(pdu.actor.port, list);
  }
  return [...byPort.values()];
}

/**
 * Intervals between consecutive periodic LACPDUs of each port. A LACPDU counts as periodic when
 * both sides are in sync, collecting and distributing and nothing changed since the previous one
 * (a state change is sent at once, outside the period); intervals touching any other are left out.
 */
function intervalResult(
  sender: string,
  timestamps: string,
  streams: readonly SeenPdu[][],
): Omit<IntervalResult, "ratio"> {
  const intervals: number[] = [];
  let discarded = 0;
  let pdus = 0;
  const steady = (p: SeenPdu) =>
    (p.actorState & STEADY) === STEADY && (p.partnerState & STEADY) === STEADY;
  for (const stream of streams) {
    const sorted = [...stream].sort((a, b) => a.at - b.at);
    pdus += sorted.filter(steady).length;
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (
        steady(prev) && steady(cur) && prev.actorState === cur.actorState &&
        prev.partnerState === cur.partnerState
      ) intervals.push(cur.at - prev.at);
      else discarded++;
    }
  }
  const errors = intervals.map((ms) => Math.abs(ms - PERIOD_MS));
  return {
    sender,
    timestamps,
    pdus,
    intervals: intervals.length,
    discarded,
    meanIntervalMs: intervals.reduce((s, v) => s + v, 0) / intervals.length,
    p50ErrorMs: percentile(errors, 0.5),
    p99ErrorMs: percentile(errors, 0.99),
    maxErrorMs: errors.length === 0 ? NaN : Math.max(...errors),
  };
}

/** CPU counters of one process. */
interface CpuSample {
  at: number;
  /** utime + stime of the whole process (dead threads included), clock ticks. */
  ticks: number;
  /** Per live thread (schedstat): run time in ns and how many times it ran. */
  threads: Map<number, { ns: number; runs: number }>;
}

async function sampleCpu(pid: number): Promise<CpuSample> {
  const at = performance.now();
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name, which may contain spaces: state is field 3, utime 14.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const threads = new Map<number, { ns: number; runs: number }>();
  for await (const entry of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      const text = await Deno.readTextFile(`/proc/${pid}/task/${entry.name}/schedstat`);
      const [ns, , runs] = text.split(" ");
      threads.set(Number(entry.name), { ns: Number(ns), runs: Number(runs) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { at, ticks, threads };
}

/** Clock ticks per second (sysconf(_SC_CLK_TCK)), 100 on Linux for every architecture here. */
const CLK_TCK = 100;

/**
 * CPU ms per second between two samples. Summed per-thread schedstat run time is exact to the
 * nanosecond, but the time of a thread that ended in between is lost; then the whole-process
 * utime + stime is used, which counts every thread but only in 10 ms ticks.
 */
function cpuRate(
  before: CpuSample,
  after: CpuSample,
): { msPerSecond: number; method: string; runsPerSecond: number | null } {
  const seconds = (after.at - before.at) / 1000;
  const lost = [...before.threads.keys()].some((tid) => !after.threads.has(tid));
  if (lost) {
    return {
      msPerSecond: (after.ticks - before.ticks) * (1000 / CLK_TCK) / seconds,
      method: "stat",
      runsPerSecond: null,
    };
  }
  let ns = 0;
  let runs = 0;
  for (const [tid, now] of after.threads) {
    ns += now.ns - (before.threads.get(tid)?.ns ?? 0);
    runs += now.runs - (before.threads.get(tid)?.runs ?? 0);
  }
  return { msPerSecond: ns / 1e6 / seconds, method: "schedstat", runsPerSecond: runs / seconds };
}

async function ovsVersion(): Promise<string> {
  try {
    const out = await new Deno.Command("ovs-vswitchd", { args: ["--version"], stderr: "null" })
      .output();
    return /\d+\.\d+\.\d+/.exec(new TextDecoder().decode(out.stdout))?.[0] ?? "unknown";
  } catch {
    throw new Error(
      "bench/lacp needs Open vSwitch (ovs-vswitchd) for its baselines: install openvswitch-switch",
    );
  }
}

function checkOptions(options: LacpBenchOptions): void {
  const checks: [keyof LacpBenchOptions, number, number][] = [
    ["rounds", 1, 1000],
    ["ports", 1, 64],
    ["seconds", 2, 3600],
    ["cpuSeconds", 1, 3600],
    ["cpuPorts", 1, 256],
    ["tapFrames", 1000, 100_000_000],
    ["tapRounds", 1, 100],
  ];
  for (const [key, min, max] of checks) {
    const value = options[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`Invalid ${key} "${value}": expected an integer from ${min} to ${max}`);
    }
  }
}

const TAP_FRAME_BYTES = 60;
const TAP_BATCH = 64;

/**
 * Sends `frames` data frames from one end of a veth to the other with each kind of socket on the
 * receiving end, `rounds` times, the kinds interleaved so that load from elsewhere hits them alike.
 */
function measureTap(lab: NamespaceLab, frames: number, rounds: number): TapResult[] {
  const a = lab.netns("tapa");
  const b = lab.netns("tapb");
  const [ta, tb] = lab.veth({ netns: a, name: "ta1" }, { netns: b, name: "tb1" });
  using tx = runInNetns(b, () => PacketSocket.open({ interface: "tb1", etherType: TAP_ETHERTYPE }));
  const batch = new FrameBatch({ slots: TAP_BATCH, slotSize: 128 });
  const frame = new Uint8Array(TAP_FRAME_BYTES);
  frame.set(ta.mac, 0);
  frame.set(tb.mac, 6);
  frame.set([TAP_ETHERTYPE >> 8, TAP_ETHERTYPE & 0xff], 12);
  for (let i = 0; i < TAP_BATCH; i++) batch.setFrame(i, frame);
  const kinds: { socket: string; includeTagged: boolean | null }[] = [
    { socket: "none (baseline)", includeTagged: null },
    { socket: "0x8809 only", includeTagged: false },
    { socket: "netkit lacp", includeTagged: true },
  ];
  const times = kinds.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    kinds.forEach(({ includeTagged }, k) => {
      using _rx = includeTagged === null
        ? null
        : runInNetns(a, () =>
          PacketSocket.open({ interface: "ta1", etherType: ETHERTYPE_SLOW, includeTagged }));
      const started = performance.now();
      let sent = 0;
      for (let tries = 0; sent < frames && tries < frames; tries++) {
        sent += tx.sendBatch(batch, Math.min(TAP_BATCH, frames - sent));
      }
      if (sent < frames) throw new Error(`Only ${sent} of ${frames} frames went out`);
      times[k]!.push(((performance.now() - started) * 1e6) / sent);
    });
  }
  const base = median(times[0]!);
  return kinds.map(({ socket }, k) => ({
    socket,
    nsPerFrame: median(times[k]!),
    rounds: times[k]!,
    ratio: median(times[k]!) / base,
  }));
}

/** Runs the benchmark and returns the report. Requires root and Open vSwitch. */
export async function benchLacp(options: LacpBenchOptions): Promise<LacpBenchReport> {
  checkOptions(options);
  const { signal } = options;
  const version = await ovsVersion();
  using lab = new NamespaceLab();
  await using stack = new AsyncDisposableStack();
  const nkA = lab.netns("nka");
  const nkB = lab.netns("nkb");
  const ovsA = lab.netns("ovsa");
  const ovsB = lab.netns("ovsb");
  // netkit ↔ netkit on x*/y*, netkit ↔ OVS on o*/n*, OVS ↔ OVS on p*/p*.
  const xPorts = names("x", options.ports);
  const yPorts = names("y", options.ports);
  const oPorts = names("o", options.ports);
  const nPorts = names("n", options.ports);
  const pPorts = names("p", options.ports);
  const aMacs = xPorts.map((x, i) =>
    lab.veth({ netns: nkA, name: x }, { netns: nkB, name: yPorts[i]! })[0].mac
  );
  oPorts.forEach((o, i) => lab.veth({ netns: nkA, name: o }, { netns: ovsA, name: nPorts[i]! }));
  pPorts.forEach((p) => lab.veth({ netns: ovsA, name: p }, { netns: ovsB, name: p }));
  const peerA = await OvsPeer.start(ovsA);
  stack.defer(() => peerA.close());
  const peerB = await OvsPeer.start(ovsB);
  stack.defer(() => peerB.close());
  // The bridge (and with it the netdev datapath) exists before any round, so creating it is
  // never part of a convergence time.
  for (const peer of [peerA, peerB]) {
    await peer.vsctl(
      "--may-exist",
      "add-br",
      BRIDGE,
      "--",
      "set",
      "Bridge",
      BRIDGE,
      "datapath_type=netdev",
    );
  }

  // 1. Convergence.
  const converge = { netkit: [] as number[], mixed: [] as number[], ovs: [] as number[] };
  const probes: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    converge.netkit.push(
      await convergeNetkitPair({ a: nkA, b: nkB, aPorts: xPorts, bPorts: yPorts }, signal),
    );
    converge.mixed.push(
      await convergeNetkitOvs(
        { netkit: nkA, netkitPorts: oPorts, ovs: peerA, ovsPorts: nPorts },
        probes,
        signal,
      ),
    );
    converge.ovs.push(await convergeOvsPair({ a: peerA, b: peerB, ports: pPorts }, probes, signal));
  }
  const baselineConvergence = median(converge.ovs);
  const pairs: [string, number[]][] = [
    ["netkit <-> netkit", converge.netkit],
    ["netkit <-> OVS", converge.mixed],
    ["OVS <-> OVS (baseline)", converge.ovs],
  ];
  const convergence: ConvergenceResult[] = pairs.map(([pair, values]) => {
    const med = median(values);
    const max = Math.max(...values);
    return {
      pair,
      seconds: values,
      medianSeconds: med,
      maxSeconds: max,
      medianExcessSeconds: med - WAIT_WHILE_MS / 1000,
      maxExcessSeconds: max - WAIT_WHILE_MS / 1000,
      ratio: med / baselineConvergence,
    };
  });

  // 2. Periodic transmit intervals: a netkit pair and an OVS pair side by side, each side
  // captured where the other receives.
  let intervals: Omit<IntervalResult, "ratio">[];
  {
    await using phase = new AsyncDisposableStack();
    const pcap = await Deno.makeTempFile({ prefix: "netkit-bench-lacp-", suffix: ".pcap" });
    phase.defer(() => Deno.remove(pcap).catch(() => {}));
    // Only A records a pcap: its own send times are the cross-check for the capture's noise.
    const a = phase.use(startLacp(nkA, [...ports(xPorts), "--pcap", pcap]));
    const b = phase.use(startLacp(nkB, ports(yPorts)));
    phase.defer(() => deleteBond(peerA, "bondp"));
    phase.defer(() => deleteBond(peerB, "bondp"));
    await addBond(peerA, "bondp", pPorts);
    await addBond(peerB, "bondp", pPorts);
    const unused: number[] = [];
    await Promise.all([
      a.aggregated(CONVERGE_TIMEOUT_MS, signal),
      b.aggregated(CONVERGE_TIMEOUT_MS, signal),
      pollOvs(peerA, "bondp", pPorts, unused, signal),
      pollOvs(peerB, "bondp", pPorts, unused, signal),
    ]);
    await delay(STEADY_SETTLE_MS, signal);
    signal?.throwIfAborted();
    const points: CapturePoint[] = [
      ...yPorts.map((ifname) => ({ sender: "netkit", netns: nkB, ifname })),
      ...xPorts.map((ifname) => ({ sender: "netkit", netns: nkA, ifname })),
      ...pPorts.map((ifname) => ({ sender: "ovs", netns: ovsB, ifname })),
      ...pPorts.map((ifname) => ({ sender: "ovs", netns: ovsA, ifname })),
    ];
    const from = performance.timeOrigin + performance.now();
    const seen = await capturePdus(points, options.seconds * 1000, signal);
    const to = performance.timeOrigin + performance.now();
    await a.stop();
    const streams = (sender: string) =>
      points.filter((p) => p.sender === sender).map((p) => seen.get(p)!);
    intervals = [
      intervalResult("netkit", "peer capture", streams("netkit")),
      intervalResult("netkit A only", "sender pcap", await pcapPdus(pcap, aMacs[0]!, from, to)),
      intervalResult("OVS (baseline)", "peer capture", streams("ovs")),
    ];
  }
  const baselineP99 = intervals[2]!.p99ErrorMs;

  // 3. CPU of idle 16-port daemons: netkit ↔ netkit on c*, netkit ↔ OVS on q*.
  const cpuWindow = options.cpuSeconds;
  let cpu: CpuResult[];
  {
    await using phase = new AsyncDisposableStack();
    const cPorts = names("c", options.cpuPorts);
    const qPorts = names("q", options.cpuPorts);
    cPorts.forEach((c) => lab.veth({ netns: nkA, name: c }, { netns: nkB, name: c }));
    qPorts.forEach((q) => lab.veth({ netns: ovsA, name: q }, { netns: nkB, name: q }));
    const a = phase.use(startLacp(nkA, ports(cPorts)));
    const b = phase.use(startLacp(nkB, ports(cPorts)));
    const d = phase.use(startLacp(nkB, ports(qPorts)));
    phase.defer(() => deleteBond(peerA, "bondq"));
    await addBond(peerA, "bondq", qPorts);
    const unused: number[] = [];
    await Promise.all([
      a.aggregated(CONVERGE_TIMEOUT_MS, signal),
      b.aggregated(CONVERGE_TIMEOUT_MS, signal),
      d.aggregated(CONVERGE_TIMEOUT_MS, signal),
      pollOvs(peerA, "bondq", qPorts, unused, signal),
    ]);
    await delay(CPU_SETTLE_MS, signal);
    signal?.throwIfAborted();
    const vswitchd = peerA.pids.vswitchd!;
    const measured: [string, number][] = [
      ["netkit lacp (vs netkit)", a.pid],
      ["netkit lacp peer (baseline)", b.pid],
      ["netkit lacp (vs OVS)", d.pid],
      ["ovs-vswitchd (reference)", vswitchd],
    ];
    const before = await Promise.all(measured.map(([, pid]) => sampleCpu(pid)));
    await delay(cpuWindow * 1000, signal);
    signal?.throwIfAborted();
    const after = await Promise.all(measured.map(([, pid]) => sampleCpu(pid)));
    const rates = measured.map((_, i) => cpuRate(before[i]!, after[i]!));
    cpu = measured.map(([process, pid], i) => ({
      process,
      pid,
      ports: options.cpuPorts,
      cpuMsPerSecond: rates[i]!.msPerSecond,
      method: rates[i]!.method,
      runsPerSecond: rates[i]!.runsPerSecond,
      ratio: rates[i]!.msPerSecond / rates[1]!.msPerSecond,
    }));
  }

  const tap = measureTap(lab, options.tapFrames, options.tapRounds);
  const netkitRuns = [...converge.netkit, ...converge.mixed];
  return {
    rounds: options.rounds,
    ports: options.ports,
    seconds: options.seconds,
    cpuSeconds: options.cpuSeconds,
    cpuPorts: options.cpuPorts,
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    ovsVersion: version,
    waitWhileSeconds: WAIT_WHILE_MS / 1000,
    convergence: {
      netkitPollMs: NETKIT_POLL_MS,
      ovsProbeMs: median(probes),
      goalExcessSeconds: GOAL_EXCESS_S,
      netkitExcessVsOvs: convergence[0]!.medianExcessSeconds / baselineConvergence,
      goalMet: netkitRuns.every((s) => s - WAIT_WHILE_MS / 1000 <= GOAL_EXCESS_S),
      results: convergence,
    },
    interval: {
      goalP99Ms: GOAL_P99_MS,
      goalMet: intervals[0]!.p99ErrorMs <= GOAL_P99_MS,
      results: intervals.map((r) => ({ ...r, ratio: r.p99ErrorMs / baselineP99 })),
    },
    cpu: {
      windowSeconds: cpuWindow,
      netkitVsOvs: cpu[0]!.cpuMsPerSecond / cpu[3]!.cpuMsPerSecond,
      results: cpu,
    },
    tap: {
      frames: options.tapFrames,
      frameBytes: TAP_FRAME_BYTES,
      netkitExtraNs: tap[2]!.nsPerFrame - tap[0]!.nsPerFrame,
      results: tap,
    },
  };
}

/** The report as tables, in the style of packet_io's. */
export function formatLacpReport(report: LacpBenchReport): string {
  const c = report.convergence;
  const netkitConvergence = c.results.filter((r) => r.pair.startsWith("netkit"));
  const worst = Math.max(...netkitConvergence.map((r) => r.maxExcessSeconds));
  const iv = report.interval;
  const netkitInterval = iv.results[0]!;
  const s2 = (v: number) => v.toFixed(2);
  const s3 = (v: number) => v.toFixed(3);
  const ms = (v: number) => v.toFixed(2);
  const signed = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
  return [
    `lacp: netkit lacp against Open vSwitch ${report.ovsVersion} (userspace, netdev datapath), ` +
    `fast rate, veth pairs in lab namespaces`,
    `kernel ${report.kernel}, ${report.cpus} CPUs`,
    "",
    `convergence: start to COLLECTING_DISTRIBUTING on both sides, ${report.ports} ports, ` +
    `${report.rounds} rounds (netkit checked every ${c.netkitPollMs} ms, OVS with ovs-appctl, ` +
    `~${c.ovsProbeMs.toFixed(0)} ms per probe)`,
    ...table(
      ["pair", "median s", "max s", "median - 2 s", "max - 2 s", "vs OVS<->OVS"],
      c.results.map((r) => [
        r.pair,
        s3(r.medianSeconds),
        s3(r.maxSeconds),
        signed(r.medianExcessSeconds),
        signed(r.maxExcessSeconds),
        `${s2(r.ratio)}x`,
      ]),
    ),
    `goal: within ${c.goalExcessSeconds} s of the ${report.waitWhileSeconds} s wait_while: ${
      verdict(c.goalMet, `worst netkit excess ${worst.toFixed(3)} s`)
    }`,
    `OVS implements no wait_while; netkit <-> netkit beyond it vs OVS <-> OVS in all: ${
      s2(c.netkitExcessVsOvs)
    }x`,
    "",
    `periodic transmit interval error |interval - ${PERIOD_MS} ms|, ${report.seconds} s ` +
    `in steady state, both directions of each pair`,
    ...table(
      [
        "sender",
        "timestamps",
        "PDUs",
        "intervals",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 vs OVS",
      ],
      iv.results.map((r) => [
        r.sender,
        r.timestamps,
        String(r.pdus),
        r.discarded > 0 ? `${r.intervals} (-${r.discarded})` : String(r.intervals),
        r.meanIntervalMs.toFixed(2),
        ms(r.p50ErrorMs),
        ms(r.p99ErrorMs),
        ms(r.maxErrorMs),
        `${s2(r.ratio)}x`,
      ]),
    ),
    `goal: p99 <= ${iv.goalP99Ms} ms: ${
      verdict(iv.goalMet, `netkit p99 ${ms(netkitInterval.p99ErrorMs)} ms`)
    }`,
    "",
    `CPU of idle daemons, ${report.cpuPorts} ports each, ${report.cpu.windowSeconds} s ` +
    `after convergence (10 ms/s = 1 % of one core; runs/s: times a thread was scheduled)`,
    ...table(
      ["process", "CPU ms/s", "% core", "method", "runs/s", "vs netkit peer"],
      report.cpu.results.map((r) => [
        r.process,
        r.cpuMsPerSecond.toFixed(2),
        (r.cpuMsPerSecond / 10).toFixed(3),
        r.method,
        r.runsPerSecond === null ? "-" : r.runsPerSecond.toFixed(0),
        `${s2(r.ratio)}x`,
      ]),
    ),
    `netkit vs ovs-vswitchd: ${s2(report.cpu.netkitVsOvs)}x ` +
    `(a reference only: ovs-vswitchd also runs its userspace datapath and bridge)`,
    "",
    `receive tap: ${report.tap.frames} ${report.tap.frameBytes}-byte data frames over a veth ` +
    `per round, sender's wall time (the veth's receive path runs in its system call)`,
    ...table(
      ["socket on the receiving end", "ns/frame", "rounds", "vs none"],
      report.tap.results.map((r) => [
        r.socket,
        r.nsPerFrame.toFixed(0),
        r.rounds.map((v) => v.toFixed(0)).join(" "),
        `${s2(r.ratio)}x`,
      ]),
    ),
    `the daemon's socket (it sees VLAN tags) costs each received frame ${
      report.tap.netkitExtraNs.toFixed(0)
    } ns`,
  ].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      ports: { type: "string", default: "2" },
      seconds: { type: "string", default: "35" },
      "cpu-seconds": { type: "string", default: "20" },
      "cpu-ports": { type: "string", default: "16" },
      "tap-frames": { type: "string", default: "400000" },
      "tap-rounds": { type: "string", default: "5" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "lacp",
    values.json,
    (signal) =>
      benchLacp({
        rounds: Number(values.rounds),
        ports: Number(values.ports),
        seconds: Number(values.seconds),
        cpuSeconds: Number(values["cpu-seconds"]),
        cpuPorts: Number(values["cpu-ports"]),
        tapFrames: Number(values["tap-frames"]),
        tapRounds: Number(values["tap-rounds"]),
        signal,
      }),
    formatLacpReport,
  );
}
