/**
 * What the benchmarks share: statistics over samples, the report's tables
 * and verdicts, and running a benchmark as a program.
 *
 * @module
 */

import { delay } from "../lib/async.ts";

/** The median (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU time (user + system) of process `pid` (default: this one) in ms. */
export function cpuMs(pid: number | "self" = "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which may contain ") ": utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

/** Nearest-rank percentile: with fewer than 100 samples, p99 is the maximum. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

/**
 * Waits until the counter `read` returns stops rising: two reads `gapMs` apart are equal (then
 * nothing is arriving any more), or `maxMs` have passed. Returns the last count and which.
 */
export async function settledCount(
  read: () => number,
  options: { gapMs: number; maxMs: number; signal?: AbortSignal | undefined },
): Promise<{ count: number; settled: boolean }> {
  const start = performance.now();
  let last = read();
  for (;;) {
    await delay(options.gapMs, options.signal);
    options.signal?.throwIfAborted();
    const count = read();
    if (count === last) return { count, settled: true };
    last = count;
    if (performance.now() - start >= options.maxMs) return { count, settled: false };
  }
}

/** `after − before` for each key (a reason, say), leaving out those that did not change. */
export function countsSince(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0),
  );
}

/** Columns padded: the first (and those of `left`, for text) left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][], left: readonly number[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => i === 0 || left.includes(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** "met (what)" or "MISSED (what)". */
export function verdict(met: boolean, what: string): string {
  return `${met ? "met" : "MISSED"} (${what})`;
}

/**
 * Runs benchmark `name` as a program and prints its report: as text, or as JSON with `json`.
 * Ctrl-C (or SIGTERM) must not end the process before its namespaces and daemons are gone: it
 * aborts the run, whose cleanup then runs as for any error, and the exit code is 130.
 */
export async function runBenchmark<R>(
  name: string,
  json: boolean,
  run: (signal: AbortSignal) => Promise<R>,
  format: (report: R) => string,
): Promise<void> {
  const abort = new AbortController();
  const interrupt = () => abort.abort(new Error("Interrupted"));
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);
  try {
    const report = await run(abort.signal);
    const text = json ? JSON.stringify(report, null, 2) + "\n" : format(report);
    Deno.stdout.writeSync(new TextEncoder().encode(text));
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    Deno.stderr.writeSync(new TextEncoder().encode(`bench/${name}: interrupted; cleaned up\n`));
    Deno.exitCode = 130;
  } finally {
    Deno.removeSignalListener("SIGINT", interrupt);
    Deno.removeSignalListener("SIGTERM", interrupt);
  }
}

/** Which run and machine a benchmark's numbers come from: they compare only within one run. */
export interface Provenance {
  /** When the run started (ISO 8601, UTC). */
  date: string;
  kernel: string;
  cpu: string;
  cores: number;
  /** `git describe`-like: the commit, with `+changes` when the work tree differs from it. */
  netkit: string;
  deno: string;
  /**
   * The 1, 5 and 15 minute load averages when the run started and when it ended (null until
   * {@linkcode endProvenance}): was the machine quiet?
   */
  load: { start: LoadAverage; end: LoadAverage | null };
}

/** The kernel's 1, 5 and 15 minute load averages. */
export type LoadAverage = [number, number, number];

/** The load averages now. */
export function loadAverage(): LoadAverage {
  const load = readOr("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  return [load[0] ?? NaN, load[1] ?? NaN, load[2] ?? NaN];
}

/** The run's {@linkcode Provenance}, read from this machine and the checkout the bench is in. */
export function provenance(): Provenance {
  const cpuinfo = readOr("/proc/cpuinfo");
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    kernel: Deno.osRelease(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU",
    cores: navigator.hardwareConcurrency,
    netkit: gitCommit(),
    deno: Deno.version.deno,
    load: { start: loadAverage(), end: null },
  };
}

/** `p` with the load averages of the run's end. */
export function endProvenance(p: Provenance): Provenance {
  return { ...p, load: { ...p.load, end: loadAverage() } };
}

/** The provenance as the one line a report starts with. */
export function formatProvenance(p: Provenance): string {
  const load = (l: LoadAverage) => l.map((x) => x.toFixed(2)).join(" ");
  return `run ${p.date}: ${p.cpu}, ${p.cores} cores, kernel ${p.kernel}, netkit ${p.netkit}, ` +
    `Deno ${p.deno}, load ${load(p.load.start)} at start` +
    (p.load.end === null ? "" : `, ${load(p.load.end)} at end`);
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** The checkout's commit, `+changes` when tracked files differ from it; `unknown` without git. */
function gitCommit(): string {
  const root = new URL("..", import.meta.url).pathname;
  const git = (...args: string[]) => {
    const out = new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  try {
    const commit = git("rev-parse", "--short=12", "HEAD");
    if (commit === null) return "unknown";
    return git("status", "--porcelain", "--untracked-files=no") === ""
      ? commit
      : `${commit}+changes`;
  } catch {
    return "unknown"; // no git
  }
}
