/**
 * `netkit vnet` against the kernel and against dnsmasq, measured in the same run:
 *
 * (a) Routing (bench/vnet_routing.ts): guest-to-guest packets per second, 64-byte frames and
 *     1400-byte packets, from namespace g1 to namespace g2 through a vnet daemon (two NICs,
 *     their TAPs moved into g1 and g2) and through the kernel (a router namespace, veth pairs,
 *     `ip_forward=1`) with the same addresses and routes; the same generator (a packet socket
 *     sending batches of 64) and the same counter (g2's `rx_packets`). Goal: ≥ 0.5× the kernel
 *     for 64-byte frames.
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

/** What to run. */
export interface VnetBenchOptions {
  /** Windows per path and size in part (a) (default 5). */
  windows: number;
  /** Length of one window in ms (default 1000). */
  windowMs: number;
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
}

const GOAL_ROUTED_VS_KERNEL = 0.5;

/** Runs the benchmark. Requires root. */
export async function benchVnet(options: VnetBenchOptions): Promise<VnetBenchReport> {
  requireLabRoot("network namespaces, TAP devices and veth pairs");
  const run = provenance();
  using lab = new NamespaceLab();
  const dir = await Deno.makeTempDir({ prefix: "netkit-bench-vnet-" });
  try {
    const router = lab.netns("r");
    await using vnet = await VnetProcess.start(router, `${dir}/a`, options.signal);
    const topology = await buildRoutedTopology(lab, router, vnet);
    const routed = await measureRouted(topology, vnet, options);
    const small = routed.results.find((r) => r.path === "netkit" && r.ipBytes < 100)!;
    return {
      provenance: endProvenance(run),
      routed: {
        ...routed,
        goalVsKernel: GOAL_ROUTED_VS_KERNEL,
        met: small.vsKernel >= GOAL_ROUTED_VS_KERNEL,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      windows: { type: "string", default: "5" },
      "window-ms": { type: "string", default: "1000" },
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
        signal,
      }),
    formatVnetReport,
  );
}
