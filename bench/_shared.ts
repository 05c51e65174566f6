/**
 * What the benchmarks share: statistics over samples, an abortable pause, the report's tables
 * and verdicts, and running a benchmark as a program.
 *
 * @module
 */

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

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Columns padded: the first left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
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
