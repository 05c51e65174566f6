/**
 * bench/cli: how long a client command takes from exec to exit, against the bare start of the
 * same Deno (a one-line script, same DENO_DIR, same flags as the launcher) in the same run.
 * Engineers run these commands in loops, so the goal is ≤ 1.3× the bare start.
 *
 * The same run also times one-line scripts that only import what a client command's design
 * needs (commander for the command tree, zod for checking every reply): their sum over the bare
 * start is the floor of any command that parses a command line and checks a reply, and the
 * `vs floor` column compares each command with it.
 *
 * Every round runs the baseline, the floors and each command once, taking turns, so a busy moment of the
 * machine falls on all of them alike; the report gives the median and p90 of the rounds. Runs
 * before the measured rounds let Deno's code cache settle (a `deno test` in the same DENO_DIR,
 * with other V8 flags, makes the next start recompile). As root, with `ip`, it also times
 * `lacp -s` answered by a running LACP daemon in a namespace of its own.
 *
 * Run: `deno run -P=test bench/cli.ts [--rounds N] [--warmup N] [--no-daemon] [--netkit PATH]
 * [--json]`; `--netkit` times another tree's executable (main's, say) against this Deno.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  endProvenance,
  formatProvenance,
  median,
  percentile,
  type Provenance,
  provenance,
  runBenchmark,
  table,
  verdict,
} from "./_shared.ts";
import { waitFor } from "../lib/async.ts";

/** The goal: a client command starts within this multiple of the bare Deno start. */
export const GOAL_RATIO = 1.3;

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = `${ROOT}/tools/deno/node_modules/@deno/linux-x64-glibc/deno`;

/** The client commands timed, each as a user types it after `netkit`. */
export const CLIENT_COMMANDS: readonly (readonly string[])[] = [
  ["version"],
  ["--help"],
  ["doctor", "--help"],
  ["lacp", "-s"],
  ["lsoe", "-s"],
  ["mroute", "show"],
  ["vnet", "show"],
  ["mroute", "add", "--group", "239.1.1.1", "--iif", "eth0", "--oif", "eth1"],
  ["gateway", "status"],
  ["relay", "status"],
];

/** How far above the floor a command may start and still count as at it (its own modules). */
export const FLOOR_SLACK = 1.1;

/** One-line scripts importing what client commands need; the last is the floor of the table. */
export const FLOOR_SCRIPTS: readonly { label: string; source: string }[] = [
  { label: "floor: import commander", source: 'import "commander";\n' },
  { label: "floor: import zod", source: 'import "zod";\n' },
  { label: "floor: import commander and zod", source: 'import "commander";\nimport "zod";\n' },
];

/** One command's times. */
export interface CliTiming {
  /** The command line after `netkit` (or the baseline's description). */
  command: string;
  /** What the command answered (1: no daemon runs; the error path is timed too). */
  exitCode: number;
  /** Median of the measured rounds. */
  medianMs: number;
  /** 90th percentile of the measured rounds. */
  p90Ms: number;
  /** `medianMs` over the baseline's median. */
  ratio: number;
  /** `medianMs` over the median of the last of {@linkcode FLOOR_SCRIPTS} (commander and zod). */
  floorRatio: number;
}

/** The report bench/cli prints. */
export interface CliReport {
  /** Which run and machine the numbers come from. */
  provenance: Provenance;
  /** Measured rounds. */
  rounds: number;
  /** The bare `deno run` of a one-line script. */
  baseline: CliTiming;
  /** The scripts of {@linkcode FLOOR_SCRIPTS}, in order. */
  floors: CliTiming[];
  /** Each client command, in the order of {@linkcode CLIENT_COMMANDS}, then the daemon case. */
  results: CliTiming[];
  /** Why the running-daemon case was left out, when it was. */
  daemonSkipped?: string;
}

/** Options of {@linkcode benchCli}. */
export interface CliBenchOptions {
  /** Measured rounds (each runs every command once). */
  rounds: number;
  /** Unmeasured rounds first. */
  warmup: number;
  /** Also time `lacp -s` against a running daemon (needs root and `ip`). */
  daemon: boolean;
  /** The netkit executable to time (default: this checkout's `./netkit`), to compare two trees. */
  netkit?: string;
  /** Stops the run between two commands (the daemon is stopped and removed all the same). */
  signal?: AbortSignal;
}

/** A program to time: argv and the environment it adds. */
interface Timed {
  label: string;
  argv: string[];
  env?: Record<string, string>;
}

/** Wall time of one run, spawn to exit, in ms, and its exit code. */
async function timeOnce(t: Timed): Promise<{ ms: number; code: number }> {
  const start = performance.now();
  const { code } = await new Deno.Command(t.argv[0]!, {
    args: t.argv.slice(1),
    env: t.env ?? {},
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return { ms: performance.now() - start, code };
}

/** The bare start: the launcher's Deno, cache and flags on a script of one line. */
function bareStart(script: string, label = "bare deno run (one-line script)"): Timed {
  return {
    label,
    argv: [
      DENO,
      "run",
      "--quiet",
      "--no-prompt",
      "--no-check",
      "--cached-only",
      "--frozen",
      "-P=netkit",
      "--v8-flags=--expose-gc",
      "--config",
      `${ROOT}/deno.json`,
      script,
    ],
    env: {
      DENO_DIR: Deno.env.get("NETKIT_DENO_DIR") ?? `${ROOT}/.deno`,
      DENO_NO_UPDATE_CHECK: "1",
    },
  };
}

/** Runs `programs` once each per round, taking turns; returns every run's times per program. */
async function timeRounds(
  programs: readonly Timed[],
  rounds: number,
  signal?: AbortSignal,
): Promise<{ ms: number[]; code: number }[]> {
  const runs = programs.map(() => ({ ms: [] as number[], code: 0 }));
  for (let round = 0; round < rounds; round++) {
    signal?.throwIfAborted();
    for (const [i, program] of programs.entries()) {
      const { ms, code } = await timeOnce(program);
      runs[i]!.ms.push(ms);
      runs[i]!.code = code;
    }
  }
  return runs;
}

/** Runs `argv` to its end: whether it succeeded, and what it said on stderr. */
function run(argv: string[]): { ok: boolean; err: string } {
  const out = new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "piped" })
    .outputSync();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
}

/** Why the running-daemon case cannot run here, or null when it can. */
function daemonUnavailable(): string | null {
  if (Deno.uid() !== 0) return "not root";
  try {
    if (!run(["ip", "-V"]).ok) return "ip does not run";
  } catch {
    return "no ip command";
  }
  return null;
}

/**
 * A running LACP daemon on a veth end in a namespace of its own, stopped and removed on dispose.
 * Creating the namespace and its veth needs root.
 */
async function startLacpDaemon(
  netkit: string,
  signal?: AbortSignal,
): Promise<AsyncDisposable & { netns: string }> {
  const netns = `nkbcli${Deno.pid}`;
  const setup = [
    ["ip", "netns", "add", netns],
    ["ip", "-n", netns, "link", "add", "nkb0", "type", "veth", "peer", "name", "nkb1"],
    ["ip", "-n", netns, "link", "set", "nkb0", "up"],
    ["ip", "-n", netns, "link", "set", "nkb1", "up"],
  ];
  const removeNetns = () => run(["ip", "netns", "delete", netns]);
  for (const argv of setup) {
    const { ok, err } = run(argv);
    if (!ok) {
      removeNetns();
      throw new Error(`${argv.join(" ")}: ${err}`);
    }
  }
  const daemon = new Deno.Command(netkit, {
    args: ["-n", netns, "lacp", "-i", "nkb0"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      daemon.kill("SIGTERM");
    } catch { /* already gone */ }
    await daemon.status;
    removeNetns();
  };
  try {
    await waitFor(() => hasPort(netkit, netns), (up) => up, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: "the LACP daemon's status",
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { netns, [Symbol.asyncDispose]: stop };
}

/** Whether the daemon in `netns` answers with its port (not "no daemon is running"). */
async function hasPort(netkit: string, netns: string): Promise<boolean> {
  const out = await new Deno.Command(netkit, {
    args: ["-n", netns, "lacp", "-s", "-j"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success && new TextDecoder().decode(out.stdout).includes("nkb0");
}

/** Times every client command against the bare Deno start; see the module documentation. */
export async function benchCli(options: CliBenchOptions): Promise<CliReport> {
  const started = provenance();
  const netkit = options.netkit ?? `${ROOT}/netkit`;
  const dir = await Deno.makeTempDir({ prefix: "netkit-bench-cli-" });
  try {
    const script = `${dir}/one_line.ts`;
    await Deno.writeTextFile(script, 'Deno.stdout.writeSync(new TextEncoder().encode(""));\n');
    const floors: Timed[] = [];
    for (const [i, floor] of FLOOR_SCRIPTS.entries()) {
      const path = `${dir}/floor_${i}.ts`;
      await Deno.writeTextFile(path, floor.source);
      floors.push(bareStart(path, floor.label));
    }
    const programs: Timed[] = [
      bareStart(script),
      ...floors,
      ...CLIENT_COMMANDS.map((c) => ({ label: c.join(" "), argv: [netkit, ...c] })),
    ];
    const daemonSkipped = options.daemon ? daemonUnavailable() : "not asked (--no-daemon)";
    await using lacp = daemonSkipped === null
      ? await startLacpDaemon(netkit, options.signal)
      : null;
    if (lacp !== null) {
      const argv = [netkit, "-n", lacp.netns, "lacp", "-s"];
      programs.push({ label: "-n NS lacp -s (a running daemon)", argv });
    }
    await timeRounds(programs, options.warmup, options.signal);
    const runs = await timeRounds(programs, options.rounds, options.signal);
    const base = median(runs[0]!.ms);
    const floor = median(runs[floors.length]!.ms);
    const timings = runs.map((r, i): CliTiming => ({
      command: programs[i]!.label,
      exitCode: r.code,
      medianMs: median(r.ms),
      p90Ms: percentile(r.ms, 0.9),
      ratio: median(r.ms) / base,
      floorRatio: median(r.ms) / floor,
    }));
    return {
      provenance: endProvenance(started),
      rounds: options.rounds,
      baseline: timings[0]!,
      floors: timings.slice(1, 1 + floors.length),
      results: timings.slice(1 + floors.length),
      ...(daemonSkipped === null ? {} : { daemonSkipped }),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The report as text: provenance, one row per command, the verdict. */
export function formatCliReport(report: CliReport): string {
  const ms = (x: number) => x.toFixed(1);
  const row = (t: CliTiming) => [
    t.command,
    String(t.exitCode),
    ms(t.medianMs),
    ms(t.p90Ms),
    `${t.floorRatio.toFixed(2)}×`,
    `${t.ratio.toFixed(2)}×`,
  ];
  const met = report.results.filter((r) => r.ratio <= GOAL_RATIO).length;
  const nearFloor = report.results.filter((r) => r.floorRatio <= FLOOR_SLACK).length;
  return [
    formatProvenance(report.provenance),
    `bench/cli: each client command, exec to exit, against the bare Deno start (${report.rounds} rounds, taking turns)`,
    ...table(
      ["command", "exit", "median ms", "p90 ms", "vs floor", "vs bare"],
      [row(report.baseline), ...report.floors.map(row), ...report.results.map(row)],
    ),
    ...(report.daemonSkipped === undefined
      ? []
      : [`running-daemon case skipped: ${report.daemonSkipped}`]),
    `goal ≤ ${GOAL_RATIO}× the bare start: ${
      verdict(met === report.results.length, `${met} of ${report.results.length} commands`)
    }`,
    `within ${FLOOR_SLACK}× of the floor (bare + commander + zod): ${nearFloor} of ${report.results.length} commands`,
  ].join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "21" },
      warmup: { type: "string", default: "3" },
      "no-daemon": { type: "boolean", default: false },
      netkit: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "cli",
    values.json,
    (signal) =>
      benchCli({
        rounds: Number(values.rounds),
        warmup: Number(values.warmup),
        daemon: !values["no-daemon"],
        ...(values.netkit === undefined ? {} : { netkit: values.netkit }),
        signal,
      }),
    formatCliReport,
  );
}
