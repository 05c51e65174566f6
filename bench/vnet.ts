/**
 * `netkit vnet` against the kernel and against dnsmasq, measured in the same run:
 *
 * (a) Routing (bench/vnet_routing.ts): guest-to-guest packets per second, 64-byte frames and
 *     1400-byte packets, from namespace g1 to namespace g2 through a vnet daemon (two NICs,
 *     their TAPs moved into g1 and g2) and through the kernel (a router namespace, veth pairs,
 *     `ip_forward=1`) with the same addresses and routes; the same generator (a packet socket
 *     sending batches of 64) and the same counter (g2's `rx_packets`). Goal: ≥ 0.5× the kernel
 *     for 64-byte frames.
 * (b) DHCPv4 (bench/vnet_dhcp.ts): complete DORA exchanges per second for 1,000 distinct MACs
 *     through a vnet daemon with one NIC per MAC, and through dnsmasq with a `dhcp-host` line per
 *     MAC on one interface; the same driver (bench/dhcp_load.ts), 32 exchanges in flight, in
 *     turns, median of the rounds. Goal: ≥ 1.0× dnsmasq.
 *
 * Run as root with dnsmasq installed: `make bench`, or `deno run -P=test bench/vnet.ts
 * [--windows N] [--window-ms MS] [--clients N] [--concurrency N] [--rounds N] [--json]`.
 * Everything (namespaces, daemons, TAPs, temporary files) is removed at the end, also on
 * Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NamespaceLab, requireLabRoot } from "../lib/lab/namespace_lab.ts";
import {
  endProvenance,
  formatProvenance,
  type Provenance,
  provenance,
  runBenchmark,
  table,
  verdict,
} from "./_shared.ts";
import { buildRoutedTopology, measureRouted, type RoutedReport } from "./vnet_routing.ts";
import { VnetProcess } from "./vnet_process.ts";
import { type DhcpReport, measureDhcp } from "./vnet_dhcp.ts";
import { MAX_NICS } from "../lib/vnet/config.ts";

/** What to run. */
export interface VnetBenchOptions {
  /** Windows per path and size in part (a) (default 5). */
  windows: number;
  /** Length of one window in ms (default 1000). */
  windowMs: number;
  /** Distinct MACs in part (b) (default 1,000; at most {@linkcode MAX_NICS}). */
  clients: number;
  /** DHCP exchanges in flight at once (default 32). */
  concurrency: number;
  /** Measured rounds per server in part (b) (default 9). */
  rounds: number;
  /** Ends the run early (Ctrl-C); everything is cleaned up and the promise rejects. */
  signal?: AbortSignal | undefined;
}

/** The whole report. */
export interface VnetBenchReport {
  provenance: Provenance;
  routed: RoutedReport & {
    /** The goal: netkit's 64-byte rate at least this share of the kernel's. */
    goalVsKernel: number;
    /** Whether it was reached. */
    met: boolean;
  };
  dhcp: DhcpReport & {
    /** The goal: netkit's exchanges per second at least this multiple of dnsmasq's. */
    goalVsDnsmasq: number;
    /** Whether it was reached, every address right. */
    met: boolean;
  };
}

const GOAL_ROUTED_VS_KERNEL = 0.5;
const GOAL_DHCP_VS_DNSMASQ = 1.0;

/** Runs the benchmark. Requires root. */
export async function benchVnet(options: VnetBenchOptions): Promise<VnetBenchReport> {
  requireLabRoot("network namespaces, TAP devices and veth pairs");
  if (!Number.isInteger(options.clients) || options.clients < 1 || options.clients > MAX_NICS) {
    throw new RangeError(`--clients must be 1 to ${MAX_NICS}, the NICs one vnet daemon takes`);
  }
  const run = provenance();
  using lab = new NamespaceLab();
  const dir = await Deno.makeTempDir({ prefix: "netkit-bench-vnet-" });
  try {
    const routed = await routedPart(lab, `${dir}/a`, options);
    const dhcp = await measureDhcp(lab, `${dir}/b`, options);
    const netkit = dhcp.results.find((r) => r.server === "netkit")!;
    const small = routed.results.find((r) => r.path === "netkit" && r.ipBytes < 100)!;
    return {
      provenance: endProvenance(run),
      routed: {
        ...routed,
        goalVsKernel: GOAL_ROUTED_VS_KERNEL,
        met: small.vsKernel >= GOAL_ROUTED_VS_KERNEL,
      },
      dhcp: {
        ...dhcp,
        goalVsDnsmasq: GOAL_DHCP_VS_DNSMASQ,
        met: netkit.allAddressesRight && netkit.vsDnsmasq >= GOAL_DHCP_VS_DNSMASQ,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Part (a) on its own daemon, stopped before part (b) starts. */
async function routedPart(
  lab: NamespaceLab,
  dir: string,
  options: VnetBenchOptions,
): Promise<RoutedReport> {
  const router = lab.netns("r");
  await using vnet = await VnetProcess.start(router, dir, options.signal);
  const topology = await buildRoutedTopology(lab, router, vnet);
  return await measureRouted(topology, vnet, options);
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** The report as text: provenance, the ratios, then the numbers they come from. */
export function formatVnetReport(report: VnetBenchReport): string {
  const r = report.routed;
  const lines = [
    formatProvenance(report.provenance),
    "",
    `bench/vnet (a): guest to guest through netkit vnet against the kernel (veth + ip_forward), ` +
    `median of ${r.windows} windows of ${r.windowMs} ms`,
    `routed check: ${r.checks.map((c) => `${c.path} TTL ${c.ttl} from ${c.sourceMac}`).join(", ")}`,
    ...table(
      ["path", "size", "received pkt/s", "sent pkt/s", "daemon CPU ms/s", "vs kernel"],
      r.results.map((x) => [
        x.path,
        x.size,
        count(x.packetsPerSecond),
        count(x.sentPerSecond),
        x.path === "netkit"
          ? count(Math.max(...x.windows.map((w) => w.daemonCpuMsPerSecond ?? 0)))
          : "-",
        `${x.vsKernel.toFixed(2)}x`,
      ]),
      [1],
    ),
    `goal: 64 B netkit >= ${r.goalVsKernel}x the kernel: ${
      verdict(r.met, `${r.results.find((x) => x.path === "netkit")!.vsKernel.toFixed(2)}x`)
    }`,
  ];
  const d = report.dhcp;
  const netkit = d.results.find((x) => x.server === "netkit")!;
  const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
  lines.push(
    "",
    `bench/vnet (b): DHCPv4 DORA exchanges for ${count(d.clients)} MACs, ${d.concurrency} in ` +
      `flight, netkit vnet (one NIC per MAC) against dnsmasq ${d.dnsmasqVersion} (one ` +
      `interface), median of ${d.rounds} rounds`,
    ...table(
      [
        "server",
        "exchanges/s",
        "rounds (exchanges/s)",
        "server CPU µs/exchange",
        "retransmits",
        "addresses",
        "RSS",
        "vs dnsmasq",
      ],
      d.results.map((x) => [
        x.server,
        count(x.exchangesPerSecond),
        x.rounds.map((r) => count(r.exchangesPerSecond)).join(" "),
        x.serverCpuUsPerExchange.toFixed(0),
        String(x.rounds.reduce((a, r) => a + r.retransmits, 0)),
        x.allAddressesRight ? "right" : "WRONG",
        mib(x.residentKib),
        `${x.vsDnsmasq.toFixed(2)}x`,
      ]),
      [2],
    ),
    `vnet daemon: ${count(d.clients)} NICs added in ${d.nicAddSeconds.toFixed(1)} s; ` +
      `resident memory ${mib(d.vnetResidentKib.empty)} empty, ` +
      `${mib(d.vnetResidentKib.withNics)} with them`,
    `goal: netkit >= ${d.goalVsDnsmasq}x dnsmasq: ${
      verdict(d.met, `${netkit.vsDnsmasq.toFixed(2)}x`)
    }`,
  );
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      windows: { type: "string", default: "5" },
      "window-ms": { type: "string", default: "1000" },
      clients: { type: "string", default: "1000" },
      concurrency: { type: "string", default: "32" },
      rounds: { type: "string", default: "9" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "vnet",
    values.json,
    (signal) =>
      benchVnet({
        windows: Number(values.windows),
        windowMs: Number(values["window-ms"]),
        clients: Number(values.clients),
        concurrency: Number(values.concurrency),
        rounds: Number(values.rounds),
        signal,
      }),
    formatVnetReport,
  );
}
