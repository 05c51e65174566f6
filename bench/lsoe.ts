/**
 * `netkit lsoe` against many neighbours: one speaker (a real `netkit lsoe` process) on one veth,
 * and on the other end a load generator in this process (testing/lsoe_peer.ts) emulating N
 * neighbours, each with its own MAC, at keepalive 1 s.
 *
 * (a) Opening: the neighbours' HELLOs go out spread over `rampMs` (one every ms for 1,000), each
 *     neighbour answering as lsoed does (ACK of the speaker's OPEN, its own OPEN). Time to Open
 *     is measured on the generator, from the neighbour's HELLO leaving to the speaker's ACK of
 *     the neighbour's OPEN arriving, the neighbour having ACKed the speaker's OPEN before: one
 *     round trip after the speaker itself is Open, so an upper bound of the speaker's time.
 *     The speaker's `session_open` events (its SUBSCRIBE stream, what `monitor -j` prints) are
 *     counted as a cross-check. Goal: p99 ≤ 50 ms.
 * (b) Holding: all sessions open for `seconds`, keepalives both ways every second: spurious
 *     closes (the speaker's `session_close` events, and its OPENs with a new nonce seen by the
 *     neighbours; must be 0), and the speaker's CPU (utime + stime from /proc/PID/stat) as a
 *     share of one core, and per 1,000 open sessions. Goal: ≤ 5 % of one core for 1,000.
 * (c) Baseline: the speaker stopped, a bare Deno process (bench/lsoe_echo.ts: the same kind of
 *     socket and wait, no LSoE) answers every frame the same generator sends with one frame,
 *     for the same time: the transport's share of the speaker's CPU, printed as a ratio.
 *
 * Run as root: `make bench`, or `deno run -P=test bench/lsoe.ts [--neighbours N] [--seconds S]
 * [--ramp-ms MS] [--json]`. Namespaces and processes are removed at the end, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay, waitFor } from "../lib/async.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import { NamespaceLab, requireLabRoot } from "../lib/lab/namespace_lab.ts";
import { LSOE_ETHERTYPE } from "../lib/packet/lsoe.ts";
import { LsoePeer } from "../testing/lsoe_peer.ts";
import { LsoeProcess } from "../testing/lsoe_process.ts";
import {
  cpuMs,
  endProvenance,
  formatProvenance,
  percentile,
  type Provenance,
  provenance,
  runBenchmark,
  table,
  verdict,
} from "./_shared.ts";

/** What to run. */
export interface LsoeBenchOptions {
  /** Emulated neighbours (default 1,000). */
  neighbours: number;
  /** How long the sessions are held in (b) and the baseline runs in (c) (default 60 s). */
  seconds: number;
  /** The HELLOs are spread over this long (default 1,000 ms). */
  rampMs: number;
  /** Ends the run early (Ctrl-C); everything is cleaned up and the promise rejects. */
  signal?: AbortSignal | undefined;
}

/** Part (a). */
export interface OpenReport {
  /** Neighbours that reached Open. */
  opened: number;
  /** The speaker's `session_open` events. */
  speakerOpenEvents: number;
  /** HELLO to Open, per neighbour, ms (generator clock). */
  p50Ms: number;
  /** 99th percentile. */
  p99Ms: number;
  /** The slowest. */
  maxMs: number;
  /** How it is measured. */
  measuredAs: string;
  /** The goal for p99, ms. */
  goalMs: number;
  /** Whether every neighbour opened and p99 is within the goal. */
  met: boolean;
}

/** Parts (b) and (c): one process answering the generator for a while. */
export interface HoldReport {
  /** What ran: the speaker, or the baseline. */
  process: string;
  /** Seconds measured. */
  seconds: number;
  /** Frames per second the generator sent to it. */
  framesInPerSecond: number;
  /** Frames per second the generator received from it. */
  framesOutPerSecond: number;
  /** Its CPU, % of one core. */
  cpuPercent: number;
  /** Its CPU time over the baseline's (1 for the baseline). */
  vsBaseline: number;
}

/** The whole report. */
export interface LsoeBenchReport {
  /** Which run and machine. */
  provenance: Provenance;
  /** Neighbours emulated. */
  neighbours: number;
  /** The HELLOs were spread over this long, ms. */
  rampMs: number;
  /** The speaker's `--keepalive-receive-timeout`, s: a neighbour silent this long is closed. */
  keepaliveReceiveTimeout: number;
  /** Part (a). */
  open: OpenReport;
  /** Parts (b) and (c). */
  hold: {
    /** The speaker holding the sessions. */
    speaker: HoldReport;
    /** The bare echo in its place. */
    baseline: HoldReport;
    /** Open sessions (the speaker's STATUS) at the start and at the end of the hold. */
    openAtStart: number;
    openAtEnd: number;
    /** The speaker's `session_close` events during the hold. */
    spuriousCloses: number;
    /** OPENs with a new nonce the neighbours saw (the speaker restarted a session). */
    speakerRestarts: number;
    /** The speaker's CPU per 1,000 open sessions, % of one core. */
    cpuPercentPer1000: number;
    /** The goal, % of one core for 1,000 sessions. */
    goalPercent: number;
    /** Whether there was no spurious close and the CPU goal was met. */
    met: boolean;
  };
}

/** Part (b) before the baseline ran. */
type SpeakerHold = Omit<LsoeBenchReport["hold"], "baseline">;

const GOAL_OPEN_MS = 50;
const GOAL_CPU_PERCENT = 5;
const KEEPALIVE_RECEIVE_TIMEOUT_S = 5;
const ECHO = new URL("./lsoe_echo.ts", import.meta.url).pathname;

/** Runs the benchmark. Requires root. */
export async function benchLsoe(options: LsoeBenchOptions): Promise<LsoeBenchReport> {
  requireLabRoot("network namespaces and a veth pair");
  const { neighbours, seconds, rampMs, signal } = options;
  if (!Number.isInteger(neighbours) || neighbours < 1 || neighbours > 4096) {
    throw new RangeError("--neighbours must be 1 to 4096, the sessions one speaker takes");
  }
  if (!(seconds > 0) || !(rampMs >= 0)) {
    throw new RangeError("--seconds must be above 0 and --ramp-ms at least 0");
  }
  const run = provenance();
  using lab = new NamespaceLab();
  const speakerNs = lab.netns("s");
  const generatorNs = lab.netns("g");
  lab.veth({ netns: speakerNs, name: "s0" }, { netns: generatorNs, name: "g0" });
  using generator = LsoePeer.open({
    netns: generatorNs,
    interface: "g0",
    neighbours,
    record: false,
  });
  let open: OpenReport;
  let hold: SpeakerHold;
  {
    await using speaker = await LsoeProcess.start(speakerNs, [
      ...["-i", "s0", "--keepalive-receive-timeout", String(KEEPALIVE_RECEIVE_TIMEOUT_S)],
    ], { signal });
    open = await openAll(speaker, generator, rampMs, signal);
    hold = await holdSpeaker(speaker, generator, seconds, signal);
  } // the speaker is stopped: the baseline takes its place
  const baseline = await holdBaseline(speakerNs, generator, seconds, signal);
  hold.speaker.vsBaseline = hold.speaker.cpuPercent / baseline.cpuPercent;
  return {
    provenance: endProvenance(run),
    neighbours,
    rampMs,
    keepaliveReceiveTimeout: KEEPALIVE_RECEIVE_TIMEOUT_S,
    open,
    hold: { ...hold, baseline },
  };
}

/** Part (a): every neighbour's HELLO, spread over `rampMs`; waits until all are open. */
async function openAll(
  speaker: LsoeProcess,
  generator: LsoePeer,
  rampMs: number,
  signal?: AbortSignal,
): Promise<OpenReport> {
  const all = generator.neighbours;
  const start = performance.now();
  let sent = 0;
  while (sent < all.length) {
    signal?.throwIfAborted();
    const due = rampMs === 0
      ? all.length
      : Math.min(all.length, Math.ceil(((performance.now() - start) / rampMs) * all.length));
    if (due > sent) generator.hello(all.slice(sent, due));
    sent = Math.max(sent, due);
    if (sent < all.length) await delay(1, signal);
  }
  await waitFor(() => generator.openCount(), (n) => n === all.length, {
    timeoutMs: 30_000 + rampMs,
    intervalMs: 100,
    what: `${all.length} neighbours open`,
    ...(signal === undefined ? {} : { signal }),
  }).catch(() => {}); // the report says how many did
  await delay(200, signal); // the last session_open events are on their way
  const latencies = all.flatMap((n) =>
    n.openedAt !== null && n.helloSentAt !== null ? [n.openedAt - n.helloSentAt] : []
  );
  const p99Ms = percentile(latencies, 0.99);
  return {
    opened: latencies.length,
    speakerOpenEvents: speaker.eventsOf("session_open").length,
    p50Ms: percentile(latencies, 0.5),
    p99Ms,
    maxMs: Math.max(...latencies),
    measuredAs: "generator: HELLO sent → the speaker's ACK of the neighbour's OPEN received",
    goalMs: GOAL_OPEN_MS,
    met: latencies.length === all.length && p99Ms <= GOAL_OPEN_MS,
  };
}

/** Part (b): the speaker holding every session for `seconds`. */
async function holdSpeaker(
  speaker: LsoeProcess,
  generator: LsoePeer,
  seconds: number,
  signal?: AbortSignal,
): Promise<SpeakerHold> {
  const openAtStart = openSessions(await speaker.status());
  const since = performance.now();
  const restartsBefore = restarts(generator);
  const measured = await measureCpu(speaker.pid, "netkit lsoe", generator, seconds, signal);
  const openAtEnd = openSessions(await speaker.status());
  const spuriousCloses = speaker.eventsOf("session_close", since).length;
  const speakerRestarts = restarts(generator) - restartsBefore;
  const cpuPercentPer1000 = openAtEnd > 0 ? measured.cpuPercent * 1000 / openAtEnd : NaN;
  return {
    speaker: measured,
    openAtStart,
    openAtEnd,
    spuriousCloses,
    speakerRestarts,
    cpuPercentPer1000,
    goalPercent: GOAL_CPU_PERCENT,
    met: spuriousCloses === 0 && speakerRestarts === 0 && openAtEnd === openAtStart &&
      cpuPercentPer1000 <= GOAL_CPU_PERCENT,
  };
}

/** Part (c): the bare echo in the speaker's place, the generator unchanged. */
async function holdBaseline(
  netns: string,
  generator: LsoePeer,
  seconds: number,
  signal?: AbortSignal,
): Promise<HoldReport> {
  await using echo = ChildDaemon.spawn("bench/lsoe_echo.ts", Deno.execPath(), [
    ...["run", "--quiet", "-A", ECHO, netns, "s0", String(LSOE_ETHERTYPE)],
  ]);
  await echo.waitUntil(() => Promise.resolve(echo.output.includes("ready")), {
    timeoutMs: 30_000,
    signal,
  });
  const report = await measureCpu(echo.pid, "bare echo (baseline)", generator, seconds, signal);
  report.vsBaseline = 1;
  return report;
}

/** `pid`'s CPU and the generator's frame rates over `seconds`. */
async function measureCpu(
  pid: number,
  process: string,
  generator: LsoePeer,
  seconds: number,
  signal?: AbortSignal,
): Promise<HoldReport> {
  const start = performance.now();
  const cpuBefore = cpuMs(pid);
  const sentBefore = generator.framesSent;
  const receivedBefore = generator.framesReceived;
  await delay(seconds * 1000, signal);
  signal?.throwIfAborted();
  const cpu = cpuMs(pid) - cpuBefore;
  const elapsed = (performance.now() - start) / 1000;
  return {
    process,
    seconds: elapsed,
    framesInPerSecond: (generator.framesSent - sentBefore) / elapsed,
    framesOutPerSecond: (generator.framesReceived - receivedBefore) / elapsed,
    cpuPercent: cpu / (elapsed * 10), // ms of CPU per s of wall time, as % of one core
    vsBaseline: NaN,
  };
}

function openSessions(status: { sessions: { state: string }[] }): number {
  return status.sessions.filter((s) => s.state === "open").length;
}

function restarts(generator: LsoePeer): number {
  return generator.neighbours.reduce((sum, n) => sum + n.speakerRestarts, 0);
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** The report as text: provenance, then each part with its goal. */
export function formatLsoeReport(report: LsoeBenchReport): string {
  const o = report.open;
  const h = report.hold;
  const ms = (x: number) => x.toFixed(1);
  return [
    formatProvenance(report.provenance),
    "",
    `bench/lsoe (a): ${count(report.neighbours)} neighbours on one veth, HELLOs over ` +
    `${count(report.rampMs)} ms; ${o.measuredAs}`,
    ...table(
      ["opened", "speaker session_open", "p50 ms", "p99 ms", "max ms"],
      [[count(o.opened), count(o.speakerOpenEvents), ms(o.p50Ms), ms(o.p99Ms), ms(o.maxMs)]],
    ),
    `goal: every neighbour open, p99 <= ${o.goalMs} ms: ${
      verdict(o.met, `${count(o.opened)} open, p99 ${ms(o.p99Ms)} ms`)
    }`,
    "",
    `bench/lsoe (b, c): ${count(h.openAtStart)} sessions held ${h.speaker.seconds.toFixed(0)} s ` +
    `at keepalive 1 s (receive timeout ${report.keepaliveReceiveTimeout} s), against a bare ` +
    `echo of the same frames`,
    ...table(
      ["process", "frames in/s", "frames out/s", "CPU % of one core", "vs baseline"],
      [h.speaker, h.baseline].map((x) => [
        x.process,
        count(x.framesInPerSecond),
        count(x.framesOutPerSecond),
        x.cpuPercent.toFixed(2),
        `${x.vsBaseline.toFixed(2)}x`,
      ]),
    ),
    `spurious closes: ${h.spuriousCloses} session_close, ${h.speakerRestarts} new nonces; ` +
    `open ${count(h.openAtStart)} at start, ${count(h.openAtEnd)} at end`,
    `goal: no spurious close, <= ${h.goalPercent} % of one core per 1,000 sessions: ${
      verdict(h.met, `${h.cpuPercentPer1000.toFixed(2)} % per 1,000`)
    }`,
  ].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      neighbours: { type: "string", default: "1000" },
      seconds: { type: "string", default: "60" },
      "ramp-ms": { type: "string", default: "1000" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "lsoe",
    values.json,
    (signal) =>
      benchLsoe({
        neighbours: Number(values.neighbours),
        seconds: Number(values.seconds),
        rampMs: Number(values["ramp-ms"]),
        signal,
      }),
    formatLsoeReport,
  );
}
