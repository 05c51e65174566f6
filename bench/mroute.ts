/**
 * Route installation speed of the `netkit mroute` daemon against smcroute (the Debian package),
 * measured in the same run, each router in its own lab namespace with two veth pairs (r1 in,
 * r2 out) and a freshly started daemon:
 *
 * 1. Bulk: N distinct (S,G) routes (one source, groups 239.x.y.z, iif r1, oif r2) in one
 *    `APPLY` request over netkit's control socket, timed as the request's round trip (JSON
 *    encoding, validation, the kernel batch, the state file written and fsynced, the reply):
 *    as the new daemon's first request (its code not yet compiled by the runtime's JIT), then
 *    as a daemon that has run, emptied by a FLUSH before each of 5 rounds (the median); the
 *    same routes through `smcroutectl -b` (the baseline: one process, one connection per
 *    command); and, as the ceiling, the kernel itself: `MRT_ADD_MFC` for every route through
 *    {@linkcode MrouteSocket.addMfcBatch} in a third namespace. Every side's kernel table is
 *    checked afterwards with `ip -j mroute`: a route that is not there does not count.
 * 2. Per call: a sample of one-process-per-route adds, `./netkit -n NS mroute add` and
 *    `smcroutectl -u SOCK add`, taking turns, into the tables the bulk step filled. Beside them,
 *    to show where a netkit CLI add's time goes: `./netkit --version` (starting the process
 *    alone) and the same ADD_MFC request sent from this process (no new process).
 *
 * Run as root with smcroute installed: `make bench`, or `deno run -P=test bench/mroute.ts
 * [--routes N] [--per-call N] [--json]`. Everything (namespaces, daemons, temporary files) is
 * removed at the end, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { controlSocketPath, DEFAULT_MAX_MESSAGE_BYTES, request } from "../lib/ipc/mod.ts";
import { ADDR } from "../lib/lab/multicast_lab.ts";
import { ipJson, NamespaceLab } from "../lib/lab/namespace_lab.ts";
import { MrouteSocket } from "../lib/net/mroute_socket.ts";
import { type KernelMfc, MAX_VIFS } from "../lib/net/mroute_structs.ts";
import { requestChecked } from "../lib/daemon/client.ts";
import { ApplyReply, MessageReply, mrouteReply, mrouteSocketName } from "../lib/mroute/client.ts";
import { netnsId, runInNetns } from "../lib/net/netns.ts";
import { parseIpv4 } from "../lib/packet/ipv4.ts";
import { median, percentile, runBenchmark, table, verdict } from "./_shared.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";

/** What to run. */
export interface MrouteBenchOptions {
  /** Routes installed in one go by each side (default 10,000). */
  routes: number;
  /** One-process-per-route adds per tool (default 100). */
  perCall: number;
  /** Ends the run early (Ctrl-C); everything is cleaned up and the promise rejects. */
  signal?: AbortSignal;
}

/** One way of installing all routes at once. */
export interface BulkResult {
  method: string;
  /** Routes asked for. */
  routes: number;
  /** Of those, the routes the kernel had afterwards with iif r1 and exactly oif r2. */
  installed: number;
  seconds: number;
  /** Installed routes per second. */
  routesPerSecond: number;
  /** Relative to `smcroutectl -b`. */
  vsSmcrouteBatch: number;
  /** Relative to the kernel's own rate. */
  vsKernel: number;
}

/** One way of adding one route per process. */
export interface PerCallResult {
  method: string;
  calls: number;
  /** Routes the kernel had afterwards from these calls; null for the start-only reference. */
  installed: number | null;
  medianMs: number;
  p95Ms: number;
  /** Calls per second of wall-clock time, one after another. */
  routesPerSecond: number;
  /** Relative to `smcroutectl add`. */
  vsSmcroute: number;
}

/** A goal, judged on a new daemon's first APPLY and on a running daemon's. */
export interface GoalVerdict {
  firstRequest: boolean;
  running: boolean;
}

/** The whole benchmark report. */
export interface MrouteBenchReport {
  routes: number;
  perCall: number;
  kernel: string;
  cpus: number;
  smcrouteVersion: string;
  /** "launcher" (a script starting Deno on main.ts) or "compiled binary". */
  netkitExecutable: string;
  /** Size of the APPLY request line, and the most the daemon accepts in one request. */
  applyRequestBytes: number;
  maxRequestBytes: number;
  bulk: {
    goalRoutesPerSecond: number;
    goalVsSmcrouteBatch: number;
    /** Whether netkit's APPLY installed every route and reached the goal. */
    routesPerSecondMet: GoalVerdict;
    vsSmcrouteBatchMet: GoalVerdict;
    results: BulkResult[];
  };
  perCallResults: {
    /**
     * Where a `./netkit mroute add`'s median time goes, as shares of it: starting the process
     * (`./netkit --version`), then loading the mroute CLI's modules (`./netkit mroute add --help`
     * minus that), then the ADD_MFC request itself (sent from the bench, no new process).
     */
    startShare: number;
    modulesShare: number;
    requestShare: number;
    results: PerCallResult[];
  };
}

const GOAL_ROUTES_PER_SECOND = 100_000;
const GOAL_VS_SMCROUTE_BATCH = 20;
/** APPLY rounds on the running daemon; the median is reported (fsync times vary). */
const RUNNING_ROUNDS = 5;
/** Bulk groups are 239.1.0.0 upwards; per-call groups 239.253-254.x.y never collide with them. */
const MAX_ROUTES = 200 * 65536;
const MAX_PER_CALL = 65536;
const SOURCE = ADDR.sender4;
const IIF = "r1";
const OIF = "r2";
const START_TIMEOUT_MS = 10_000;
/** The APPLY of 10,000 routes takes well under a second; this is only a safety net. */
const APPLY_TIMEOUT_MS = 120_000;
const NETKIT = new URL("../netkit", import.meta.url).pathname;
const decoder = new TextDecoder();

function bulkGroup(i: number): string {
  return `239.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function perCallGroup(second: number, i: number): string {
  return `239.${second}.${(i >> 8) & 255}.${i & 255}`;
}

/** One way of adding a route per call; `run` adds route `i` and returns its time in ms. */
interface PerCallMethod {
  method: string;
  /** Where its routes go (null: it adds none). */
  netns: string | null;
  groups: readonly string[];
  run: (i: number) => Promise<number>;
}

/** Runs a command to completion; throws with its output when it fails. */
async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `"${cmd} ${args.join(" ")}" failed (exit ${out.code}): ${
        decoder.decode(out.stderr).trim() || decoder.decode(out.stdout).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout);
}

/**
 * How many of `groups` (from {@linkcode SOURCE}) the kernel of `netns` routes from r1 to exactly
 * r2, read with iproute2 so that the check does not rely on netkit's own code.
 */
function installedRoutes(netns: string, groups: readonly string[]): number {
  const wanted = new Set(groups);
  const routes = ipJson<
    { src?: string; dst?: string; iif?: string; multipath?: { oif: string }[] }[]
  >(
    "-n",
    netns,
    "mroute",
    "show",
  );
  return routes.filter((r) =>
    r.src === SOURCE && r.dst !== undefined && wanted.has(r.dst) && r.iif === IIF &&
    r.multipath?.length === 1 && r.multipath[0]!.oif === OIF
  ).length;
}

/** Times one process run; throws with its output when it fails. */
async function timedCall(cmd: string, args: string[]): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const ms = performance.now() - start;
  if (!out.success) {
    throw new Error(
      `"${cmd} ${args.join(" ")}" failed (exit ${out.code}): ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return ms;
}

async function smcrouteVersion(): Promise<string> {
  try {
    const out = await new Deno.Command("smcrouted", { args: ["-v"], stderr: "piped" }).output();
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    return /\d+\.\d+\.\d+/.exec(text)?.[0] ?? "unknown";
  } catch {
    throw new Error("bench/mroute needs smcroute for its baseline: apt-get install smcroute");
  }
}

function checkOptions(options: MrouteBenchOptions): void {
  const checks: [keyof MrouteBenchOptions, number, number][] = [
    ["routes", 1, MAX_ROUTES],
    ["perCall", 1, MAX_PER_CALL],
  ];
  for (const [key, min, max] of checks) {
    const value = options[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`Invalid ${key} "${value}": expected an integer from ${min} to ${max}`);
    }
  }
}

/** Two veth pairs in `netns`: r1 (in) and r2 (out), their peers p1 and p2 beside them. */
function routerInterfaces(lab: NamespaceLab, netns: string): { r1: number; r2: number } {
  const [r1] = lab.veth({ netns, name: IIF }, { netns, name: "p1" });
  const [r2] = lab.veth({ netns, name: OIF }, { netns, name: "p2" });
  return { r1: r1.ifindex, r2: r2.ifindex };
}

/** Runs the benchmark and returns the report. Requires root and smcroute. */
export async function benchMroute(options: MrouteBenchOptions): Promise<MrouteBenchReport> {
  checkOptions(options);
  const { signal } = options;
  const version = await smcrouteVersion();
  const groups = Array.from({ length: options.routes }, (_, i) => bulkGroup(i));
  const callGroups = Array.from({ length: options.perCall }, (_, i) => perCallGroup(254, i));
  const requestGroups = Array.from({ length: options.perCall }, (_, i) => perCallGroup(253, i));
  const applyRequest = {
    action: "APPLY",
    payload: {
      state: {
        routes: groups.map((group) => ({ source: SOURCE, group, iif: IIF, oifs: [OIF] })),
      },
    },
  };
  const applyRequestBytes = new TextEncoder().encode(JSON.stringify(applyRequest) + "\n").length;
  if (applyRequestBytes > DEFAULT_MAX_MESSAGE_BYTES) {
    throw new RangeError(
      `${options.routes} routes make an APPLY request of ${applyRequestBytes} bytes, more than ` +
        `the ${DEFAULT_MAX_MESSAGE_BYTES} bytes the daemon accepts in one request: use fewer --routes`,
    );
  }
  const launcher = new Uint8Array(2);
  {
    using file = await Deno.open(NETKIT);
    await file.read(launcher);
  }
  const netkitExecutable = decoder.decode(launcher) === "#!" ? "launcher" : "compiled binary";

  using lab = new NamespaceLab();
  await using stack = new AsyncDisposableStack();
  const temp = await Deno.makeTempDir({ prefix: "netkit-bench-mroute-" });
  stack.defer(() => Deno.remove(temp, { recursive: true }).catch(() => {}));
  const nkNs = lab.netns("nk");
  const smcNs = lab.netns("smc");
  const kernNs = lab.netns("kern");
  routerInterfaces(lab, nkNs);
  routerInterfaces(lab, smcNs);
  const kernIfs = routerInterfaces(lab, kernNs);

  // Both daemons start fresh, each in its own namespace, and serve before anything is timed.
  const nkSocket = controlSocketPath(mrouteSocketName(netnsId(nkNs), 0));
  const netkitd = stack.use(
    ChildDaemon.spawn("netkit mroute daemon", NETKIT, [
      "-n",
      nkNs,
      "--log-file",
      `${temp}/netkit.log`,
      "mroute",
      "daemon",
      "--state",
      `${temp}/netkit-state.json`,
    ]),
  );
  await netkitd.waitUntil(async () => {
    await request(nkSocket, { action: "SHOW" }, { timeoutMs: 1000 });
    return true;
  }, { timeoutMs: START_TIMEOUT_MS, signal });
  const smcSocket = `${temp}/smcroute.sock`;
  await Deno.writeTextFile(`${temp}/smcroute.conf`, `phyint ${IIF} enable\nphyint ${OIF} enable\n`);
  const smcroute = stack.use(
    ChildDaemon.spawn("smcrouted", "ip", [
      "netns",
      "exec",
      smcNs,
      "smcrouted",
      "-n",
      "-N",
      "-f",
      `${temp}/smcroute.conf`,
      "-u",
      smcSocket,
      "-P",
      `${temp}/smcroute.pid`,
      "-l",
      "notice",
    ]),
  );
  // Ready once it answers and both phyints have a VIF (the third column of `show interfaces`).
  await smcroute.waitUntil(async () => {
    const text = await run("smcroutectl", ["-u", smcSocket, "-p", "-t", "show", "interfaces"]);
    const vifs = new Map(
      text.split("\n").map((line) => line.trim().split(/\s+/)).map((f) => [f[1], f[2]]),
    );
    return [IIF, OIF].every((name) => /^\d+$/.test(vifs.get(name) ?? ""));
  }, { timeoutMs: START_TIMEOUT_MS, signal });

  // 1. Bulk.
  signal?.throwIfAborted();
  /** One timed APPLY of every route and how many the kernel then has. */
  const timedApply = async (): Promise<{ seconds: number; installed: number }> => {
    const start = performance.now();
    // An error reply throws; a malformed one too (checked against the contract).
    await requestChecked(nkSocket, applyRequest, ApplyReply, mrouteReply("APPLY"), {
      timeoutMs: APPLY_TIMEOUT_MS,
    });
    const seconds = (performance.now() - start) / 1000;
    return { seconds, installed: installedRoutes(nkNs, groups) };
  };
  const first = await timedApply();
  // Then on the daemon that has run, emptied before each round so that it installs every route.
  const again: { seconds: number; installed: number }[] = [];
  for (let round = 0; round < RUNNING_ROUNDS; round++) {
    signal?.throwIfAborted();
    await requestChecked(nkSocket, { action: "FLUSH" }, MessageReply, mrouteReply("FLUSH"));
    if (installedRoutes(nkNs, groups) !== 0) throw new Error("FLUSH left routes in the kernel");
    again.push(await timedApply());
  }

  signal?.throwIfAborted();
  const batch = groups.map((group) => `add ${IIF} ${SOURCE} ${group} ${OIF}\n`).join("");
  let start = performance.now();
  await run("smcroutectl", ["-u", smcSocket, "-b"], batch);
  const batchSeconds = (performance.now() - start) / 1000;
  const smcInstalled = installedRoutes(smcNs, groups);

  signal?.throwIfAborted();
  let kernelSeconds: number;
  let kernelInstalled: number;
  {
    const source = parseIpv4(SOURCE);
    const ttls = new Uint8Array(MAX_VIFS);
    ttls[1] = 1;
    const entries: KernelMfc[] = groups.map((group) => ({
      source,
      group: parseIpv4(group),
      parent: 0,
      ttls,
    }));
    using socket = runInNetns(kernNs, () => {
      const s = MrouteSocket.open(4, { owner: true });
      try {
        s.addVif(0, kernIfs.r1);
        s.addVif(1, kernIfs.r2);
      } catch (err) {
        s.close();
        throw err;
      }
      return s;
    });
    start = performance.now();
    const failures = socket.addMfcBatch(entries);
    kernelSeconds = (performance.now() - start) / 1000;
    if (failures.length > 0) {
      throw new Error(
        `The kernel refused ${failures.length} of ${entries.length} routes (first errno ${
          failures[0]!.errno
        })`,
      );
    }
    // Read while the owner socket is open: closing it flushes the table.
    kernelInstalled = installedRoutes(kernNs, groups);
  }

  // 2. Per call, taking turns so that no method always runs on a quieter machine. Beside the
  // two CLIs: starting ./netkit alone, and netkit's ADD_MFC request sent from this process,
  // which together show where a CLI add's time goes.
  const calls: PerCallMethod[] = [
    {
      method: "./netkit mroute add",
      netns: nkNs,
      groups: callGroups,
      run: (i) =>
        timedCall(NETKIT, [
          "-n",
          nkNs,
          "mroute",
          "add",
          "--source",
          SOURCE,
          "--group",
          callGroups[i]!,
          "--iif",
          IIF,
          "--oif",
          OIF,
        ]),
    },
    {
      method: "smcroutectl add (baseline)",
      netns: smcNs,
      groups: callGroups,
      run: (i) =>
        timedCall("smcroutectl", ["-u", smcSocket, "add", IIF, SOURCE, callGroups[i]!, OIF]),
    },
    {
      method: "./netkit --version (process start only)",
      netns: null,
      groups: [],
      run: () => timedCall(NETKIT, ["--version"]),
    },
    {
      method: "./netkit mroute add --help (start + CLI modules)",
      netns: null,
      groups: [],
      run: () => timedCall(NETKIT, ["mroute", "add", "--help"]),
    },
    {
      method: "netkit ADD_MFC request, no new process",
      netns: nkNs,
      groups: requestGroups,
      run: async (i) => {
        const start = performance.now();
        const reply = await request(nkSocket, {
          action: "ADD_MFC",
          payload: { source: SOURCE, group: requestGroups[i]!, iif: IIF, oifs: [OIF] },
        }) as { status?: string };
        const ms = performance.now() - start;
        if (reply.status !== "success") throw new Error(`ADD_MFC failed: ${JSON.stringify(reply)}`);
        return ms;
      },
    },
  ];
  const times = calls.map(() => [] as number[]);
  for (let i = 0; i < options.perCall; i++) {
    for (let k = 0; k < calls.length; k++) {
      signal?.throwIfAborted();
      const m = (k + i) % calls.length;
      times[m]!.push(await calls[m]!.run(i));
    }
  }

  const rate = (installed: number, seconds: number) => installed / seconds;
  const bulkRaw = [
    {
      method: "netkit APPLY, first request of a new daemon",
      installed: first.installed,
      seconds: first.seconds,
    },
    {
      method: `netkit APPLY, same daemon after FLUSH, median of ${RUNNING_ROUNDS}`,
      installed: Math.min(...again.map((a) => a.installed)),
      seconds: median(again.map((a) => a.seconds)),
    },
    { method: "smcroutectl -b (baseline)", installed: smcInstalled, seconds: batchSeconds },
    {
      method: "kernel MRT_ADD_MFC, MrouteSocket.addMfcBatch (ceiling)",
      installed: kernelInstalled,
      seconds: kernelSeconds,
    },
  ];
  const smcRate = rate(smcInstalled, batchSeconds);
  const kernelRate = rate(kernelInstalled, kernelSeconds);
  const bulk: BulkResult[] = bulkRaw.map((r) => ({
    method: r.method,
    routes: options.routes,
    installed: r.installed,
    seconds: r.seconds,
    routesPerSecond: rate(r.installed, r.seconds),
    vsSmcrouteBatch: rate(r.installed, r.seconds) / smcRate,
    vsKernel: rate(r.installed, r.seconds) / kernelRate,
  }));
  const perCallRaw = calls.map((c, m) => {
    const total = times[m]!.reduce((a, b) => a + b, 0) / 1000;
    return {
      method: c.method,
      calls: options.perCall,
      installed: c.netns === null ? null : installedRoutes(c.netns, c.groups),
      medianMs: median(times[m]!),
      p95Ms: percentile(times[m]!, 0.95),
      routesPerSecond: options.perCall / total,
    };
  });
  const smcCallRate = perCallRaw[1]!.routesPerSecond;
  return {
    routes: options.routes,
    perCall: options.perCall,
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    smcrouteVersion: version,
    netkitExecutable,
    applyRequestBytes,
    maxRequestBytes: DEFAULT_MAX_MESSAGE_BYTES,
    bulk: {
      goalRoutesPerSecond: GOAL_ROUTES_PER_SECOND,
      goalVsSmcrouteBatch: GOAL_VS_SMCROUTE_BATCH,
      routesPerSecondMet: goal(bulk, (r) => r.routesPerSecond >= GOAL_ROUTES_PER_SECOND),
      vsSmcrouteBatchMet: goal(bulk, (r) => r.vsSmcrouteBatch >= GOAL_VS_SMCROUTE_BATCH),
      results: bulk,
    },
    perCallResults: {
      startShare: perCallRaw[2]!.medianMs / perCallRaw[0]!.medianMs,
      modulesShare: (perCallRaw[3]!.medianMs - perCallRaw[2]!.medianMs) / perCallRaw[0]!.medianMs,
      requestShare: perCallRaw[4]!.medianMs / perCallRaw[0]!.medianMs,
      results: perCallRaw.map((r) => ({ ...r, vsSmcroute: r.routesPerSecond / smcCallRate })),
    },
  };
}

/** Whether netkit's first and running APPLY (the first two bulk rows) installed all and met `ok`. */
function goal(bulk: BulkResult[], ok: (r: BulkResult) => boolean): GoalVerdict {
  const met = (r: BulkResult) => r.installed === r.routes && ok(r);
  return { firstRequest: met(bulk[0]!), running: met(bulk[1]!) };
}

function verdicts(met: GoalVerdict, first: string, running: string): string {
  return `running daemon ${verdict(met.running, running)}; first request after start ${
    verdict(met.firstRequest, first)
  }`;
}

/** The report as tables, in the style of the other benchmarks. */
export function formatMrouteReport(report: MrouteBenchReport): string {
  const count = (v: number) => Math.round(v).toLocaleString("en-US");
  const ratio = (v: number) => `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}x`;
  const ms = (v: number) => v.toFixed(1);
  const b = report.bulk;
  const [first, running] = b.results;
  const calls = report.perCallResults;
  const [nkAdd, , start, help, request] = calls.results;
  const share = (v: number, of: number) => `${ms(v)} ms (${(of * 100).toFixed(0)} %)`;
  return [
    `mroute: (S,G) routes from ${SOURCE}, iif ${IIF} -> oif ${OIF}, one router namespace each ` +
    `(two veth pairs), fresh daemons; smcroute ${report.smcrouteVersion}`,
    `kernel ${report.kernel}, ${report.cpus} CPUs; ./netkit is the ${report.netkitExecutable}`,
    "",
    `bulk: ${count(report.routes)} routes at once, then counted in each kernel with ip -j mroute ` +
    `(APPLY request ${count(report.applyRequestBytes)} bytes of at most ${
      count(report.maxRequestBytes)
    })`,
    ...table(
      ["method", "installed", "seconds", "routes/s", "vs smcroutectl -b", "vs kernel"],
      b.results.map((r) => [
        r.method,
        r.installed === r.routes ? String(r.installed) : `${r.installed} of ${r.routes}!`,
        r.seconds.toFixed(4),
        count(r.routesPerSecond),
        ratio(r.vsSmcrouteBatch),
        ratio(r.vsKernel),
      ]),
    ),
    `netkit's time is the request's round trip: JSON, validation, the kernel batch, the state ` +
    `file (written, fsynced), the reply; a new daemon's first request also waits for the ` +
    `runtime to compile the code it runs`,
    `goal: APPLY >= ${count(b.goalRoutesPerSecond)} routes/s: ${
      verdicts(
        b.routesPerSecondMet,
        `${count(first!.routesPerSecond)} routes/s`,
        `${count(running!.routesPerSecond)} routes/s`,
      )
    }`,
    `goal: APPLY >= ${b.goalVsSmcrouteBatch}x smcroutectl -b: ${
      verdicts(
        b.vsSmcrouteBatchMet,
        ratio(first!.vsSmcrouteBatch),
        ratio(running!.vsSmcrouteBatch),
      )
    }`,
    "",
    `per call: ${report.perCall} routes, one process per route, taking turns, into the tables ` +
    `filled above`,
    ...table(
      ["method", "installed", "median ms", "p95 ms", "routes/s", "vs smcroutectl"],
      calls.results.map((r) => [
        r.method,
        r.installed === null
          ? "-"
          : r.installed === r.calls
          ? String(r.installed)
          : `${r.installed} of ${r.calls}!`,
        ms(r.medianMs),
        ms(r.p95Ms),
        r.routesPerSecond.toFixed(1),
        ratio(r.vsSmcroute),
      ]),
    ),
    `./netkit -n NS enters the router namespace itself; smcroutectl runs in the bench's ` +
    `namespace and reaches smcrouted over its Unix socket (a CLI's namespace does not matter)`,
    `each ./netkit call starts a Deno runtime${
      report.netkitExecutable === "launcher" ? " (through the launcher script)" : ""
    }; of an add's median ${ms(nkAdd!.medianMs)} ms: start ${
      share(start!.medianMs, calls.startShare)
    }, loading the mroute CLI's modules ${
      share(help!.medianMs - start!.medianMs, calls.modulesShare)
    }, the ADD_MFC request ${share(request!.medianMs, calls.requestShare)}`,
    `${
      calls.startShare + calls.modulesShare >= 0.5 ? "starting the CLI dominates; " : ""
    }for many routes use apply`,
  ].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      routes: { type: "string", default: "10000" },
      "per-call": { type: "string", default: "100" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "mroute",
    values.json,
    (signal) =>
      benchMroute({
        routes: Number(values.routes),
        perCall: Number(values["per-call"]),
        signal,
      }),
    formatMrouteReport,
  );
}
