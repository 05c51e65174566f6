/**
 * Throughput and latency of the L2 tunnel (client → relay → gateway → LAN host) against the
 * kernel path between the same namespaces (a veth into the same LAN bridge, no tunnel),
 * measured in the same run on an {@linkcode L2Lab} with real netkit processes.
 *
 * 1. Throughput: frames of 64 and 1000 bytes are sent from the client namespace, paced at a
 *    series of offered rates for a fixed time, into the client's TAP (tunnel) or the direct
 *    veth (kernel path), addressed to LAN host h1. What arrives is h1's `rx_packets` (the
 *    kernel's count), read when it has stopped rising before the step and again after it: what
 *    an overloaded step leaves draining is its own, never the next step's. A rate is sustained
 *    when less than 0.1 % is lost. The sender sends in batches (sendmmsg) from a timer, so it
 *    uses little CPU of the two cores the tunnel's three processes share.
 * 2. Latency: `ping` from the client namespace to h1 (200 echoes, 10 ms apart and then back
 *    to back), over the tunnel and over the kernel path, with 64- and 1000-byte frames; the
 *    medians and the difference at 10 ms (the tunnel's added latency). The two spacings tell
 *    the cost of waking idle processes from the cost of the work.
 *
 * 3. TCP (bench/l2_tcp.ts): iperf3 LAN → client and client → LAN, with GRO on and off on the
 *    gateway's LAN interface, each right after the same case over the kernel path; the drops of
 *    gateway, client and relay during each tunnel run say why one collapses.
 *
 * 4. The floor: bench/quic_floor.ts, two bare Deno processes in the relay's and the client's
 *    namespaces, echoes QUIC datagrams (round trip) and sends 1000-byte ones at the goal rate
 *    (CPU time per datagram sent and received), with nothing of netkit in between. The tunnel's
 *    round trip crosses two such round trips, and each frame is sent and received twice; with
 *    the tunnel processes' own CPU use per rate, this tells netkit's cost from the transport's.
 *
 * The report starts with the run's provenance (date, machine, kernel, commit, Deno), then the
 * ratios against the baselines of the same run, then the numbers they come from: numbers of
 * different runs or machines do not compare, ratios do.
 *
 * Run as root: `make bench`, or `deno run -P=test bench/l2.ts [--seconds S] [--pings N]
 * [--tcp-seconds S (0: none)] [--json]`. Everything is removed at the end, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../lib/async.ts";
import { clientLanAddress, L2, L2Lab } from "../lib/lab/l2_lab.ts";
import { ip, linkStats, sh } from "../lib/lab/namespace_lab.ts";
import { FrameBatch } from "../lib/net/frame_batch.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket } from "../lib/net/packet_socket.ts";
import {
  countsSince,
  cpuMs,
  endProvenance,
  formatProvenance,
  median,
  type Provenance,
  provenance,
  runBenchmark,
  settledCount,
  table,
  verdict,
} from "./_shared.ts";
import { TCP_CASES, type TcpCase, type TcpStep, tcpSteps } from "./l2_tcp.ts";
import type { FloorDrive, FloorServe } from "./quic_floor.ts";

/** What to run. */
export interface L2BenchOptions {
  /** Seconds per offered rate (default 2). */
  seconds: number;
  /** Offered rates in frames/s (default 25k to 200k). */
  rates: number[];
  /** Echoes per latency sample (default 200). */
  pings: number;
  /** Seconds per iperf3 run, whole (0: no TCP steps). */
  tcpSeconds: number;
  /** The TCP cases (default {@linkcode TCP_CASES}). */
  tcpCases?: readonly TcpCase[];
  signal?: AbortSignal;
}

/** One offered rate on one path. */
export interface RateResult {
  path: "tunnel" | "kernel";
  frameBytes: number;
  offered: number;
  sent: number;
  received: number;
  lossPercent: number;
  receivedPerSecond: number;
  /**
   * Whether h1's counter had stopped rising before the step (else frames of the step before were
   * still arriving, and the step does not count as sustained) and after it (else some of this
   * step's arrived later than {@linkcode SETTLE_MAX_MS} and are counted lost).
   */
  settled: { before: boolean; after: boolean };
  /** CPU use of the tunnel's processes meanwhile, in % of one core (tunnel only). */
  cpuPercent?: { client: number; relay: number; gateway: number };
  /** Their CPU time together per frame sent, in µs (tunnel only). */
  cpuUsPerFrame?: number;
  /** What the relay dropped meanwhile, by reason (tunnel only; the peers report too late). */
  relayDrops?: Record<string, number>;
}

/** Bare Deno QUIC between the client's and the relay's namespaces (bench/quic_floor.ts). */
export interface QuicFloor extends FloorDrive, FloorServe {
  /** The datagrams/s the CPU figures were measured at. */
  rate: number;
}

/** Latency of one path and frame size. */
export interface LatencyResult {
  path: "tunnel" | "kernel";
  frameBytes: number;
  /** Gap between echoes: 10 ms (every process idle in between) or 0 (back to back). */
  intervalMs: number;
  medianMs: number;
  lost: number;
}

/** Tunnel over baseline, each measured in this run: what compares across runs and machines. */
export interface L2Ratios {
  /**
   * Sustained frames/s, tunnel / kernel path. `kernelSaturated` false: the kernel path
   * sustained every rate offered, so its capacity is higher and the ratio an upper bound.
   */
  sustained: { frameBytes: number; ratio: number; kernelSaturated: boolean }[];
  /** Median round trip, tunnel / kernel path. */
  roundTrip: { frameBytes: number; intervalMs: number; ratio: number }[];
  /** TCP Mbit/s, tunnel / the kernel path's run just before. */
  tcp: (TcpCase & { ratio: number })[];
  /** The tunnel's median round trip (1000 B, every 10 ms) / two bare QUIC echo round trips. */
  roundTripOverFloor: number;
  /**
   * CPU of the three processes per 1000 B frame at the highest sustained rate (or the lowest
   * offered), over the floor's two sends and two receives of a datagram.
   */
  cpuPerFrameOverFloor: { rate: number; tunnelUs: number; floorUs: number; ratio: number } | null;
}

/** The report. */
export interface L2Report {
  provenance: Provenance;
  ratios: L2Ratios;
  throughput: RateResult[];
  /** Highest offered rate sustained (< 0.1 % loss) per path and frame size. */
  sustained: { path: string; frameBytes: number; framesPerSecond: number }[];
  latency: LatencyResult[];
  /** Tunnel median − kernel median per frame size (ms). */
  addedLatencyMs: { frameBytes: number; ms: number }[];
  tcpSeconds: number;
  tcp: TcpStep[];
  floor: QuicFloor;
  goals: { sustained1000: boolean; addedLatency: boolean };
}

const MAX_LOSS = 0.001;
const GOAL_RATE = 100_000;
const GOAL_ADDED_MS = 0.3;
const DIRECT = "direct";
const KERNEL_PREFIX = "192.168.60";
const FLOOR_PORT = 4434;
/** Reads of h1's counter this far apart and equal: nothing is arriving any more. */
const SETTLE_GAP_MS = 200;
/** How long a counter may keep rising before the step goes on regardless (and says so). */
const SETTLE_MAX_MS = 3000;
const decoder = new TextDecoder();

/** Runs bench/quic_floor.ts: its server in the relay's namespace, its driver in the client's. */
async function quicFloor(
  lab: L2Lab,
  rate: number,
  seconds: number,
  pings: number,
): Promise<QuicFloor> {
  const script = new URL("./quic_floor.ts", import.meta.url).pathname;
  const deno = (netns: string, args: string[]) =>
    new Deno.Command("ip", {
      args: ["netns", "exec", netns, Deno.execPath(), "run", "--quiet", "-A", "--unstable-net"]
        .concat(script, args),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const certs = `${lab.dir}/certs`;
  const server = deno(lab.relayNs, [
    "serve",
    String(FLOOR_PORT),
    `${certs}/relay.pem`,
    `${certs}/relay-key.pem`,
  ]);
  const serverOut = new Response(server.stdout).text();
  const serverErr = new Response(server.stderr).text();
  try {
    // The server needs a moment to listen: the driver tries 3 times.
    let drive: Deno.CommandOutput | null = null;
    for (let attempt = 0; attempt < 3 && drive?.success !== true; attempt++) {
      await delay(attempt === 0 ? 300 : 1000);
      drive = await deno(lab.clientNs[0]!, [
        "drive",
        L2.relay,
        String(FLOOR_PORT),
        L2.serverName,
        lab.pin,
        String(rate),
        String(seconds),
        String(pings),
      ]).output();
    }
    if (!drive!.success) {
      throw new Error(`bench/quic_floor.ts drive failed: ${decoder.decode(drive!.stderr)}`);
    }
    const status = await server.status;
    if (!status.success) throw new Error(`bench/quic_floor.ts serve failed: ${await serverErr}`);
    const served: FloorServe = JSON.parse(await serverOut);
    const driven: FloorDrive = JSON.parse(decoder.decode(drive!.stdout));
    return { rate, ...driven, ...served };
  } finally {
    try {
      server.kill();
    } catch {
      // exited
    }
  }
}

/** Frames `dev` in `netns` has received. */
export function rxPackets(netns: string, dev: string): number {
  return linkStats(netns, dev).rx.packets;
}

/**
 * Sends `rate` frames/s for `seconds` from a timer: each tick sends what is due in batches.
 * Returns how many the kernel took.
 */
export async function blast(
  socket: PacketSocket,
  frame: Uint8Array,
  rate: number,
  seconds: number,
): Promise<number> {
  const batch = new FrameBatch({ slots: 64, slotSize: 2048 });
  for (let i = 0; i < 64; i++) batch.setFrame(i, frame);
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  let offered = 0;
  while (offered < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * rate));
    while (offered < due) {
      const n = Math.min(64, due - offered);
      sent += socket.sendBatch(batch, n);
      offered += n;
    }
    await delay(1);
  }
  return sent;
}

export function testFrame(bytes: number, dst: Uint8Array, src: Uint8Array): Uint8Array {
  const frame = new Uint8Array(bytes);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = 0x88; // IEEE local experimental 2: h1's kernel counts it, then drops it
  frame[13] = 0xb6;
  return frame;
}

function pingMedian(
  netns: string,
  address: string,
  count: number,
  frameBytes: number,
  intervalMs = 10,
): { medianMs: number; lost: number } {
  const out = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      netns,
      "ping",
      "-n",
      "-c",
      String(count),
      "-i",
      String(intervalMs / 1000),
      "-W",
      "1",
      "-s",
      String(frameBytes - 42), // Ethernet 14 + IPv4 20 + ICMP 8
      address,
    ],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const times = [...new TextDecoder().decode(out.stdout).matchAll(/time=([0-9.]+) ms/g)].map((m) =>
    Number(m[1])
  );
  return { medianMs: times.length === 0 ? NaN : median(times), lost: count - times.length };
}

/** Runs the benchmark. */
export async function benchL2(options: L2BenchOptions): Promise<L2Report> {
  const run = provenance();
  await using lab = new L2Lab({ clients: 1 });
  await lab.startRelay(["--peer-bandwidth", "0", "--bcast-pps", "0"]);
  await lab.startGateway();
  await lab.startClient(1);
  const c1 = lab.clientNs[0]!;
  // The kernel path: a veth from the client's namespace into the same LAN bridge.
  lab.lab.veth({ netns: c1, name: DIRECT }, { netns: lab.lan, name: "pk" });
  ip("-n", lab.lan, "link", "set", "pk", "master", "br0");
  ip("-n", c1, "addr", "add", `${KERNEL_PREFIX}.101/24`, "dev", DIRECT);
  ip("-n", lab.h1, "addr", "add", `${KERNEL_PREFIX}.11/24`, "dev", "eth0");
  ip("-n", c1, "link", "set", L2.tap, "txqueuelen", "10000");
  // h1's ARP for the TAP's address reaches the direct veth too: only the TAP may answer it, or
  // the tunnel's TCP would take the kernel path.
  sh("ip", "netns", "exec", c1, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1");
  const h1Mac = lab.lab.link(lab.h1, "eth0").mac;
  const paths = {
    tunnel: { dev: L2.tap, src: lab.lab.link(c1, L2.tap).mac, target: L2.h1 },
    kernel: { dev: DIRECT, src: lab.lab.link(c1, DIRECT).mac, target: `${KERNEL_PREFIX}.11` },
  };
  // Warm up both paths (ARP, the JIT of every process on the way).
  for (const path of Object.values(paths)) pingMedian(c1, path.target, 20, 64);
  const floor = await quicFloor(lab, GOAL_RATE, options.seconds, Math.min(options.pings, 100));
  const processes = {
    client: lab.clients[0]!.pid,
    relay: lab.relay!.pid,
    gateway: lab.gateway!.pid,
  };

  const throughput: RateResult[] = [];
  const h1Packets = () => rxPackets(lab.h1, "eth0");
  const settle = { gapMs: SETTLE_GAP_MS, maxMs: SETTLE_MAX_MS, signal: options.signal };
  for (const frameBytes of [64, 1000]) {
    for (
      const [name, path] of Object.entries(paths) as [keyof typeof paths, typeof paths.tunnel][]
    ) {
      using socket = runInNetns(c1, () => PacketSocket.open({ interface: path.dev }));
      const frame = testFrame(frameBytes, h1Mac, path.src);
      for (const rate of options.rates) {
        options.signal?.throwIfAborted();
        const before = await settledCount(h1Packets, settle);
        const cpuBefore = Object.values(processes).map((pid) => cpuMs(pid));
        const relayDropsBefore = name === "tunnel" ? (await lab.status()).drops : {};
        const blastStart = performance.now();
        const sent = await blast(socket, frame, rate, options.seconds);
        // What is still on its way belongs to this step: counted once it stops arriving.
        const after = await settledCount(h1Packets, settle);
        const cpuUsed = Object.values(processes).map((pid, i) => cpuMs(pid) - cpuBefore[i]!);
        const relayDrops = name === "tunnel"
          ? countsSince((await lab.status()).drops, relayDropsBefore)
          : {};
        const cpu = cpuUsed.map((ms) => ms / (performance.now() - blastStart) * 100);
        const received = after.count - before.count;
        const lost = Math.max(0, sent - received);
        throughput.push({
          path: name,
          frameBytes,
          offered: rate,
          sent,
          received,
          lossPercent: sent === 0 ? 100 : (lost / sent) * 100,
          receivedPerSecond: received / options.seconds,
          settled: { before: before.settled, after: after.settled },
          ...(name === "tunnel"
            ? {
              cpuPercent: { client: cpu[0]!, relay: cpu[1]!, gateway: cpu[2]! },
              cpuUsPerFrame: sent === 0 ? NaN : cpuUsed.reduce((a, b) => a + b) * 1000 / sent,
              relayDrops,
            }
            : {}),
        });
        if (sent === 0 || lost / sent >= MAX_LOSS * 10) break; // far past saturation
      }
    }
  }
  const sustained = (["tunnel", "kernel"] as const).flatMap((path) =>
    [64, 1000].map((frameBytes) => ({
      path,
      frameBytes,
      framesPerSecond: Math.max(
        0,
        ...throughput.filter((r) =>
          r.path === path && r.frameBytes === frameBytes && r.sent > 0 && r.settled.before &&
          r.lossPercent < MAX_LOSS * 100
        ).map((r) => r.offered),
      ),
    }))
  );

  const latency: LatencyResult[] = [];
  for (const intervalMs of [10, 0]) {
    for (const frameBytes of [64, 1000]) {
      for (
        const [name, path] of Object.entries(paths) as [keyof typeof paths, typeof paths.tunnel][]
      ) {
        options.signal?.throwIfAborted();
        latency.push({
          path: name,
          frameBytes,
          intervalMs,
          ...pingMedian(c1, path.target, options.pings, frameBytes, intervalMs),
        });
      }
    }
  }
  const addedLatencyMs = [64, 1000].map((frameBytes) => {
    const of = (p: string) =>
      latency.find((l) => l.path === p && l.frameBytes === frameBytes && l.intervalMs === 10)!;
    return { frameBytes, ms: of("tunnel").medianMs - of("kernel").medianMs };
  });
  const tcpSeconds = options.tcpSeconds > 0 ? Math.max(1, Math.round(options.tcpSeconds)) : 0;
  const tcp = tcpSeconds > 0
    ? await tcpSteps(
      {
        lab,
        clientNs: c1,
        tunnel: { dev: L2.tap, address: clientLanAddress(1) },
        kernel: { dev: DIRECT, address: `${KERNEL_PREFIX}.101` },
      },
      options.tcpCases ?? TCP_CASES,
      tcpSeconds,
      options.signal,
    )
    : [];
  const tunnel1000 = sustained.find((s) => s.path === "tunnel" && s.frameBytes === 1000)!;
  const measured = { throughput, sustained, latency, tcp, floor };
  return {
    provenance: endProvenance(run),
    ratios: ratios(measured, options.rates),
    throughput,
    sustained,
    latency,
    addedLatencyMs,
    tcpSeconds,
    tcp,
    floor,
    goals: {
      sustained1000: tunnel1000.framesPerSecond >= GOAL_RATE,
      addedLatency: addedLatencyMs.every((a) => a.ms <= GOAL_ADDED_MS),
    },
  };
}

/** The ratios against this run's baselines, from the measurements. */
function ratios(
  m: Pick<L2Report, "throughput" | "sustained" | "latency" | "tcp" | "floor">,
  rates: readonly number[],
): L2Ratios {
  const sustainedOf = (path: string, frameBytes: number) =>
    m.sustained.find((s) => s.path === path && s.frameBytes === frameBytes)!.framesPerSecond;
  const rtt = (path: string, frameBytes: number, intervalMs: number) =>
    m.latency.find((l) =>
      l.path === path && l.frameBytes === frameBytes && l.intervalMs === intervalMs
    )!.medianMs;
  const rate1000 = sustainedOf("tunnel", 1000) || Math.min(...rates);
  const at = m.throughput.find((r) =>
    r.path === "tunnel" && r.frameBytes === 1000 && r.offered === rate1000
  );
  const floorUs = 2 * (m.floor.sendCpuUs + m.floor.receiveCpuUs);
  return {
    sustained: [64, 1000].map((frameBytes) => ({
      frameBytes,
      ratio: sustainedOf("tunnel", frameBytes) / sustainedOf("kernel", frameBytes),
      kernelSaturated: sustainedOf("kernel", frameBytes) < Math.max(...rates),
    })),
    roundTrip: [10, 0].flatMap((intervalMs) =>
      [64, 1000].map((frameBytes) => ({
        frameBytes,
        intervalMs,
        ratio: rtt("tunnel", frameBytes, intervalMs) / rtt("kernel", frameBytes, intervalMs),
      }))
    ),
    tcp: m.tcp.filter((t) => t.tunnel !== null && t.kernel !== null).map((t) => ({
      direction: t.direction,
      gro: t.gro,
      ...(t.lanTso === undefined ? {} : { lanTso: t.lanTso }),
      ratio: t.tunnel!.mbitPerSecond / t.kernel!.mbitPerSecond,
    })),
    roundTripOverFloor: rtt("tunnel", 1000, 10) / (2 * m.floor.rttMs["1000"]!),
    cpuPerFrameOverFloor: at === undefined ? null : {
      rate: at.offered,
      tunnelUs: at.cpuUsPerFrame!,
      floorUs,
      ratio: at.cpuUsPerFrame! / floorUs,
    },
  };
}

function k(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : String(Math.round(n));
}

/** A ratio with the digits that matter, however small. */
function ratioText(x: number): string {
  if (!Number.isFinite(x)) return "–";
  return x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2);
}

const DIRECTION_TEXT = { lan_to_client: "LAN → client", client_to_lan: "client → LAN" } as const;

/** A TCP case in words: "LAN → client, GRO on", and the LAN host's TSO when set. */
function tcpCaseText(c: TcpCase): string {
  return `${DIRECTION_TEXT[c.direction]}, GRO ${c.gro}` +
    (c.lanTso === undefined ? "" : `, LAN host TSO ${c.lanTso}`);
}

/** Ratios first: the part of the report that compares across runs and machines. */
function formatRatios(report: L2Report): string[] {
  const r = report.ratios;
  const cpu = r.cpuPerFrameOverFloor;
  const rows: string[][] = [
    ...r.sustained.map((s) => [
      `frames/s sustained (< 0.1 % loss), ${s.frameBytes} B / kernel path`,
      `${s.kernelSaturated ? "" : "≤ "}${ratioText(s.ratio)}`,
    ]),
    ...r.roundTrip.map((t) => [
      `median round trip ${
        t.intervalMs === 0 ? "back to back" : `every ${t.intervalMs} ms`
      }, ${t.frameBytes} B / kernel path`,
      ratioText(t.ratio),
    ]),
    ...r.tcp.map((t) => [`TCP Mbit/s ${tcpCaseText(t)} / kernel path`, ratioText(t.ratio)]),
    [
      "median round trip 1000 B every 10 ms / two bare QUIC echoes",
      ratioText(r.roundTripOverFloor),
    ],
    ...(cpu === null ? [] : [[
      `CPU per 1000 B frame at ${k(cpu.rate)}/s / bare QUIC's 2 sends + 2 receives`,
      `${ratioText(cpu.ratio)} (${cpu.tunnelUs.toFixed(1)} / ${cpu.floorUs.toFixed(1)} µs)`,
    ]]),
  ];
  return [
    ...table(["ratio to this run's baseline", "tunnel / baseline"], rows),
    ...(r.sustained.some((s) => !s.kernelSaturated)
      ? ["  ≤: the kernel path sustained every rate offered; its capacity is higher"]
      : []),
  ];
}

/** The drops of one tunnel run in words. */
function dropsText(step: TcpStep): string {
  if (step.drops === null) return "";
  const of = (counts: Record<string, number>) =>
    Object.entries(counts).map(([reason, n]) => `${reason} ${n}`).join(", ") || "none";
  const d = step.drops;
  return `gateway ${of(d.gateway)}; client ${of(d.client)}; relay ${of(d.relay)}` +
    (d.fresh
      ? ""
      : " (a peer did not answer the request for its counters: its drops may be short)");
}

function formatTcp(report: L2Report): string[] {
  if (report.tcp.length === 0) return ["TCP: not run (--tcp-seconds 0)"];
  const mbit = (run: TcpStep["kernel"]) => run === null ? "" : run.mbitPerSecond.toFixed(1);
  const retr = (run: TcpStep["kernel"]) => run?.retransmits?.toString() ?? "";
  return [
    `TCP: iperf3 between LAN host h1 and the client's namespace, ${report.tcpSeconds} s per run,` +
    " the kernel path right before the tunnel",
    ...table(
      ["case", "tunnel Mbit/s", "retr", "kernel Mbit/s", "retr", "drops during the tunnel run"],
      report.tcp.map((t) => [
        tcpCaseText(t),
        mbit(t.tunnel),
        retr(t.tunnel),
        mbit(t.kernel),
        retr(t.kernel),
        t.skipped === null ? dropsText(t) : `skipped: ${t.skipped}`,
      ]),
      [5],
    ),
    "  (GRO: on the gateway's LAN interface. Drops by reason: the gateway's and the client's as" +
    " they reported them, the relay's own; mtu_exceeded is a frame larger than the room's)",
  ];
}

/** The report as text: provenance, the ratios, then the numbers they come from. */
export function formatL2Report(report: L2Report): string {
  const unsettled = report.throughput.filter((r) => !r.settled.before || !r.settled.after);
  const lines = [
    "bench/l2: client → relay → gateway → LAN host, against the kernel path (veth + bridge)",
    formatProvenance(report.provenance),
    "Numbers of different runs or machines do not compare; ratios to the same run's baselines do.",
    "",
    ...formatRatios(report),
    "",
    ...table(
      [
        "path",
        "frame",
        "offered/s",
        "sent",
        "received",
        "loss",
        "received/s",
        "CPU c/r/g",
        "relay drops",
      ],
      report.throughput.map((r) => [
        r.path,
        `${r.frameBytes} B`,
        k(r.offered),
        String(r.sent),
        String(r.received) + (r.settled.before && r.settled.after ? "" : " *"),
        `${r.lossPercent.toFixed(3)} %`,
        k(r.receivedPerSecond),
        r.cpuPercent === undefined
          ? ""
          : `${
            [r.cpuPercent.client, r.cpuPercent.relay, r.cpuPercent.gateway].map((c) => c.toFixed(0))
              .join("/")
          } %`,
        Object.entries(r.relayDrops ?? {}).map(([reason, n]) => `${reason} ${n}`).join(", "),
      ]),
      [8],
    ),
    "  (CPU: the client's, relay's and gateway's processes, in % of one core)",
    ...(unsettled.length === 0 ? [] : [
      `  * h1's counter was still rising ${
        SETTLE_MAX_MS / 1000
      } s after the step before (the step` +
      " does not count as sustained) or after this one (late frames counted lost)",
    ]),
    "",
    "sustained (< 0.1 % loss):",
    ...[64, 1000].map((bytes) => {
      const of = (p: string) =>
        report.sustained.find((s) => s.path === p && s.frameBytes === bytes)!.framesPerSecond;
      const all = report.ratios.sustained.find((s) => s.frameBytes === bytes)!.kernelSaturated
        ? ""
        : " (every rate offered)";
      return `  ${bytes} B: tunnel ${k(of("tunnel"))}/s, kernel path ${k(of("kernel"))}/s${all}`;
    }),
    "",
    ...formatTcp(report),
    "",
    ...table(
      ["latency", "frame", "every", "median", "lost"],
      report.latency.map((l) => [
        l.path,
        `${l.frameBytes} B`,
        l.intervalMs === 0 ? "back to back" : `${l.intervalMs} ms`,
        `${l.medianMs.toFixed(3)} ms`,
        String(l.lost),
      ]),
    ),
    ...report.addedLatencyMs.map((a) =>
      `  added by the tunnel, ${a.frameBytes} B, every 10 ms: ${a.ms.toFixed(3)} ms`
    ),
    "",
    ...formatFloor(report),
    "",
    `goal ≥ ${k(GOAL_RATE)} frames/s of 1000 B with < 0.1 % loss: ${
      verdict(
        report.goals.sustained1000,
        `${
          k(
            report.sustained.find((s) => s.path === "tunnel" && s.frameBytes === 1000)!
              .framesPerSecond,
          )
        }/s`,
      )
    }`,
    `goal added median latency ≤ ${GOAL_ADDED_MS} ms: ${
      verdict(
        report.goals.addedLatency,
        report.addedLatencyMs.map((a) => `${a.ms.toFixed(3)} ms`).join(", "),
      )
    }`,
  ];
  return lines.join("\n") + "\n";
}

/** The floor Deno's QUIC sets, and what it leaves of each goal. */
function formatFloor(report: L2Report): string[] {
  const f = report.floor;
  const kernel = report.latency.find((l) =>
    l.path === "kernel" && l.frameBytes === 1000 && l.intervalMs === 10
  )!;
  const rtt = f.rttMs["1000"]!;
  const perFrameUs = 2 * (f.sendCpuUs + f.receiveCpuUs);
  const cores = navigator.hardwareConcurrency;
  return [
    "the floor: bare Deno QUIC datagrams between the client's and the relay's namespaces",
    `  echo round trip, one every 10 ms: 64 B ${f.rttMs["64"]!.toFixed(3)} ms, 1000 B ${
      rtt.toFixed(3)
    } ms; the tunnel's round trip crosses two (client ⇄ relay ⇄ gateway):`,
    `  ≥ ${(2 * rtt).toFixed(3)} ms, ${
      (2 * rtt - kernel.medianMs).toFixed(3)
    } ms more than the kernel path before netkit does anything (goal: ≤ ${GOAL_ADDED_MS} ms)`,
    `  1000 B at ${k(f.rate)}/s: ${f.sendCpuUs.toFixed(2)} µs of CPU to send one, ${
      f.receiveCpuUs.toFixed(2)
    } µs to receive one (${f.sent} sent, ${f.received} received);`,
    `  a frame is sent and received twice: ${perFrameUs.toFixed(1)} µs, ${
      (perFrameUs * GOAL_RATE / 1e4).toFixed(0)
    } % of one core at ${k(GOAL_RATE)} frames/s, of the ${cores * 100} % this machine has`,
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "2" },
      pings: { type: "string", default: "200" },
      rates: { type: "string", default: "25000,50000,75000,100000,150000,200000" },
      "tcp-seconds": { type: "string", default: "4" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "l2",
    values.json,
    (signal) =>
      benchL2({
        seconds: Number(values.seconds),
        pings: Number(values.pings),
        rates: values.rates.split(",").map(Number),
        tcpSeconds: Number(values["tcp-seconds"]),
        signal,
      }),
    formatL2Report,
  );
}
