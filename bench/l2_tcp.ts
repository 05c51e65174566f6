/**
 * TCP through the L2 tunnel against the kernel path, for bench/l2: iperf3 between LAN host h1
 * and the client's namespace, LAN → client and client → LAN, with GRO on and off on the
 * gateway's LAN interface. Each tunnel run comes right after a kernel-path run of the same case
 * (the same two namespaces, a veth into the same bridge), its same-run baseline.
 *
 * Each tunnel run is framed by two snapshots of the drops: the relay's own, and the gateway's
 * and the client's, which `relay status` asks them for at that moment (`stats_request`), so the
 * drops between the snapshots are the run's own.
 *
 * Needs `iperf3`, and `ethtool` to set GRO (and the LAN host's TSO); a run whose tool is
 * missing, or whose setting the interface cannot change, is skipped with the reason.
 *
 * @module
 */

import { delay } from "../lib/async.ts";
import { findOnPath } from "../lib/doctor/tools.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import type { L2Lab } from "../lib/lab/l2_lab.ts";
import { linkStats } from "../lib/lab/namespace_lab.ts";
import { countsSince } from "./_shared.ts";

/** Which way the data flows: from LAN host h1 to the client, or back. */
export type TcpDirection = "lan_to_client" | "client_to_lan";

/** One TCP case: the direction and the offloads that decide whether super-frames form. */
export interface TcpCase {
  direction: TcpDirection;
  /** GRO on the gateway's LAN interface: merges the LAN's segments into super-frames. */
  gro: "on" | "off";
  /** TSO on LAN host h1's interface (default `on`, as a veth starts): h1 sends super-frames. */
  lanTso?: "on" | "off";
}

/**
 * The default cases. With GRO off, h1's TSO still hands the gateway super-frames through the
 * veths and the bridge; the third case, with neither, shows the tunnel carrying plain frames.
 */
export const TCP_CASES: readonly TcpCase[] = [
  { direction: "lan_to_client", gro: "on" },
  { direction: "lan_to_client", gro: "off" },
  { direction: "lan_to_client", gro: "off", lanTso: "off" },
  { direction: "client_to_lan", gro: "on" },
  { direction: "client_to_lan", gro: "off" },
];

/** One iperf3 run. */
export interface TcpRun {
  /** Received by the receiving side, in Mbit/s. */
  mbitPerSecond: number;
  /** Bytes the receiver got. */
  bytes: number;
  /** TCP retransmissions of the sender, when iperf3 reports them. */
  retransmits: number | null;
  /** Bytes (rx + tx) on the client's interface of this path, and on the other path's. */
  pathBytes: number;
  otherPathBytes: number;
}

/** Drops during a tunnel run, by reason. */
export interface TcpDrops {
  /** The gateway's own (as it reported them: `mtu_exceeded` is a frame too big for the room). */
  gateway: Record<string, number>;
  /** The client's own, as reported. */
  client: Record<string, number>;
  /** The relay's, every peer's. */
  relay: Record<string, number>;
  /** False when a peer did not report within a stats interval (its drops may be short). */
  fresh: boolean;
}

/** One case: the kernel path's run, then the tunnel's. */
export interface TcpStep extends TcpCase {
  kernel: TcpRun | null;
  tunnel: TcpRun | null;
  /** Tunnel run only. */
  drops: TcpDrops | null;
  /** Why a run is missing: a tool, an interface setting, or iperf3's error. */
  skipped: string | null;
}

/** Where the runs go: the client's namespace, its two interfaces and addresses. */
export interface TcpPaths {
  lab: L2Lab;
  clientNs: string;
  tunnel: { dev: string; address: string };
  kernel: { dev: string; address: string };
}

const IPERF_PORT = 5201;
const decoder = new TextDecoder();

/**
 * Runs `cases`, `seconds` (whole, at least 1) each per path. Interface settings are put back as
 * they were.
 */
export async function tcpSteps(
  paths: TcpPaths,
  cases: readonly TcpCase[],
  seconds: number,
  signal?: AbortSignal,
): Promise<TcpStep[]> {
  const { lab } = paths;
  const missing = ["iperf3", "ethtool"].filter((tool) => findOnPath(tool) === null);
  if (missing.includes("iperf3")) {
    return cases.map((c) => skippedStep(c, "iperf3 is not installed (apt-get install iperf3)"));
  }
  const noEthtool = missing.includes("ethtool")
    ? "ethtool is not installed (apt-get install ethtool): GRO cannot be set"
    : null;
  const gro = noEthtool === null ? offload(lab.gw, "eth0", "generic-receive-offload") : null;
  const tso = noEthtool === null ? offload(lab.h1, "eth0", "tcp-segmentation-offload") : null;
  const runSeconds = Math.max(1, Math.round(seconds)); // iperf3 takes whole seconds
  const steps: TcpStep[] = [];
  try {
    for (const c of cases) {
      signal?.throwIfAborted();
      const why = noEthtool ??
        (gro!.fixed
          ? "the gateway's LAN interface cannot change GRO ([fixed])"
          : (c.lanTso ?? "on") !== tso!.state && tso!.fixed
          ? "the LAN host's interface cannot change TSO ([fixed])"
          : null);
      if (why !== null) {
        steps.push(skippedStep(c, why));
        continue;
      }
      setOffload(lab.gw, "eth0", "gro", "generic-receive-offload", c.gro);
      setOffload(lab.h1, "eth0", "tso", "tcp-segmentation-offload", c.lanTso ?? "on");
      steps.push(await tcpStep(paths, c, runSeconds, signal));
    }
  } finally {
    if (gro !== null && !gro.fixed) {
      setOffload(lab.gw, "eth0", "gro", "generic-receive-offload", gro.state);
    }
    if (tso !== null && !tso.fixed) {
      setOffload(lab.h1, "eth0", "tso", "tcp-segmentation-offload", tso.state);
    }
  }
  return steps;
}

function skippedStep(c: TcpCase, why: string): TcpStep {
  return { ...c, kernel: null, tunnel: null, drops: null, skipped: why };
}

async function tcpStep(
  paths: TcpPaths,
  c: TcpCase,
  seconds: number,
  signal?: AbortSignal,
): Promise<TcpStep> {
  const step: TcpStep = { ...c, kernel: null, tunnel: null, drops: null, skipped: null };
  try {
    step.kernel = await iperf(paths, "kernel", c.direction, seconds);
    const before = await peerCounters(paths, signal);
    step.tunnel = await iperf(paths, "tunnel", c.direction, seconds);
    const after = await peerCounters(paths, signal);
    step.drops = {
      gateway: countsSince(after.gateway, before.gateway),
      client: countsSince(after.client, before.client),
      relay: countsSince(after.relay, before.relay),
      fresh: before.fresh && after.fresh,
    };
  } catch (err) {
    signal?.throwIfAborted();
    step.skipped = err instanceof Error ? err.message : String(err);
  }
  return step;
}

/** An offload's state on `dev` in `netns`, as `ethtool -k` shows it. */
function offload(
  netns: string,
  dev: string,
  feature: string,
): { state: "on" | "off"; fixed: boolean } {
  const text = run(netns, "ethtool", "-k", dev);
  const match = new RegExp(`^${feature}: (on|off)( \\[fixed\\])?`, "m").exec(text);
  if (match === null) throw new Error(`ethtool -k ${dev} shows no ${feature}`);
  return { state: match[1] as "on" | "off", fixed: match[2] !== undefined };
}

/** Sets an offload and checks the interface took it (ethtool may leave it as it was). */
function setOffload(
  netns: string,
  dev: string,
  short: string,
  feature: string,
  state: "on" | "off",
): void {
  if (offload(netns, dev, feature).state === state) return;
  run(netns, "ethtool", "-K", dev, short, state);
  if (offload(netns, dev, feature).state !== state) {
    throw new Error(`ethtool -K ${dev} ${short} ${state} left ${feature} unchanged`);
  }
}

/** Runs `command` in `netns`; throws with its stderr when it fails. */
function run(netns: string, command: string, ...args: string[]): string {
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", netns, command, ...args],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`);
  }
  return decoder.decode(out.stdout);
}

function linkBytes(netns: string, dev: string): number {
  const stats = linkStats(netns, dev);
  return stats.rx.bytes + stats.tx.bytes;
}

/**
 * One iperf3 run between h1 (the iperf3 client) and a one-off server in the client's namespace,
 * over `path`: LAN → client sends from h1, client → LAN reverses (`-R`). A run that has not
 * ended 20 s past its time is killed.
 */
async function iperf(
  paths: TcpPaths,
  path: "tunnel" | "kernel",
  direction: TcpDirection,
  seconds: number,
): Promise<TcpRun> {
  const { lab, clientNs } = paths;
  const other = path === "tunnel" ? paths.kernel : paths.tunnel;
  await using server = ChildDaemon.spawn("iperf3 server", "ip", [
    "netns",
    "exec",
    clientNs,
    "iperf3",
    "-s",
    "-1",
    "-p",
    String(IPERF_PORT),
  ]);
  await server.waitUntil(
    () => Promise.resolve(run(clientNs, "ss", "-Hltn", `sport = :${IPERF_PORT}`).trim() !== ""),
    { timeoutMs: 5000 },
  );
  const bytesBefore = [linkBytes(clientNs, paths[path].dev), linkBytes(clientNs, other.dev)];
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      lab.h1,
      "iperf3",
      "-c",
      paths[path].address,
      "-p",
      String(IPERF_PORT),
      "-t",
      String(seconds),
      "--connect-timeout",
      "3000",
      "-J",
      ...(direction === "client_to_lan" ? ["-R"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 20) * 1000);
  const out = await child.output().finally(() => clearTimeout(timer));
  const [pathBytes, otherPathBytes] = [
    linkBytes(clientNs, paths[path].dev) - bytesBefore[0]!,
    linkBytes(clientNs, other.dev) - bytesBefore[1]!,
  ];
  const result = parseIperf(decoder.decode(out.stdout));
  if (typeof result === "string") {
    throw new Error(
      `iperf3 over the ${path} path failed (exit ${out.code}): ${result}${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return { ...result, pathBytes, otherPathBytes };
}

/** What bench/l2 takes from `iperf3 -J`, or iperf3's error. */
export function parseIperf(
  json: string,
): Pick<TcpRun, "mbitPerSecond" | "bytes" | "retransmits"> | string {
  let report: {
    error?: string;
    end?: {
      sum_received?: { bytes: number; bits_per_second: number };
      sum_sent?: { retransmits?: number };
    };
  };
  try {
    report = JSON.parse(json);
  } catch {
    return `no JSON from iperf3: ${json.slice(0, 200)}`;
  }
  if (report.error !== undefined) return report.error;
  const received = report.end?.sum_received;
  if (received === undefined) return "iperf3 reported no sum_received";
  return {
    mbitPerSecond: received.bits_per_second / 1e6,
    bytes: received.bytes,
    retransmits: report.end?.sum_sent?.retransmits ?? null,
  };
}

/** Drops by reason, as counted by the gateway, the client and the relay. */
interface PeerCounters {
  gateway: Record<string, number>;
  client: Record<string, number>;
  relay: Record<string, number>;
  fresh: boolean;
}

/**
 * The drop counters as of now: the relay's, and the peers' as they answer the relay's request
 * for fresh counters. `fresh` is false when a peer did not answer in time (its last report is
 * shown then).
 */
async function peerCounters(paths: TcpPaths, signal?: AbortSignal): Promise<PeerCounters> {
  await delay(500, signal); // what the run left in flight arrives
  signal?.throwIfAborted();
  const status = await paths.lab.status();
  const peers = status.rooms.flatMap((r) => r.peers);
  const peer = (role: string) =>
    (peers.find((p) => p.role === role)?.reported?.dropped ?? {}) as Record<string, number>;
  return {
    gateway: peer("gateway"),
    client: peer("client"),
    relay: status.drops,
    fresh: peers.every((p) => p.reported_fresh),
  };
}
