/**
 * `netkit lab lacp`: the LACP lab of {@linkcode LacpLab}, shown live. On a terminal a compact
 * table of every port is redrawn every 250 ms under the timeline, which scrolls above it;
 * otherwise (pipes, tests) only the timeline lines are printed as they happen, then the final
 * table. `-j` prints the timeline as JSON lines instead, ending with a summary object. Every run
 * ends with a plain-English explanation. The namespaces go away on every exit: the end of the
 * duration, an error, Ctrl-C or SIGTERM (both exit 0, like ping, after the summary).
 *
 * @module
 */

import type { Command } from "commander";
import { UsageError } from "../errors.ts";
import { type InjectRule, parseInjectRule } from "../lacp/inject_rule.ts";
import {
  DEFAULT_LAB_RULE,
  explainLacpLab,
  type LabSnapshot,
  LabTimeline,
  LacpLab,
  type LacpLabEvent,
} from "../lab/lacp_scenario.ts";
import { setupLogging } from "../log.ts";
import type { CliIo } from "./io.ts";
import { formatTable } from "./output.ts";
import type { GlobalOptions } from "./program.ts";

/** Raw commander options of `netkit lab lacp`. */
export interface LabLacpCliOptions {
  duration: string;
  rule: string;
}

/** The longest `--duration`: one day. */
const MAX_DURATION_SECONDS = 86400;
/** How often the live view redraws. */
const REDRAW_MS = 250;
/** Ports reporting the same change within this window share a timeline line. */
const TIMELINE_WINDOW_MS = 50;

/** `--duration` in milliseconds (0: until Ctrl-C), or a usage error. */
export function parseDuration(value: string): number {
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0 && seconds <= MAX_DURATION_SECONDS)) {
    throw new UsageError(
      `Invalid value "${value}" for --duration: expected seconds from 0 to ${MAX_DURATION_SECONDS} (0: until Ctrl-C)`,
    );
  }
  return Math.round(seconds * 1000);
}

const LAB_LACP_HELP = `
The lab: namespaces <prefix>-a and <prefix>-b, veth pairs a1-b1 and a2-b2, actor A on a1, a2
and actor B on b1, b2, both active with the fast rate, running in this process. B runs the
injection rule (grammar: netkit lacp --help). The default, "${DEFAULT_LAB_RULE}", makes B go
silent once A collects and distributes: A times B out after 3 s, leaves the aggregate, B speaks
again at once and A re-aggregates, so the link flaps every 3 s.

Ctrl-C (SIGINT) or SIGTERM ends the lab early: the summary is printed, everything is removed and
netkit exits 0. -j prints the timeline as JSON lines and a final summary object.
`;

/** Adds `netkit lab` and its `lacp` subcommand. */
export function register(program: Command, io: CliIo): void {
  const lab = program
    .command("lab")
    .description("throwaway namespace labs that show a feature end to end (needs root)");
  lab
    .command("lacp")
    .description("two LACP actors over two veth pairs, one with an injection rule, live")
    .option("--duration <seconds>", "stop after SECONDS; 0 runs until Ctrl-C", "20")
    .option("--rule <rule>", "actor B's injection rule", DEFAULT_LAB_RULE)
    .addHelpText("after", LAB_LACP_HELP)
    .action(async (options: LabLacpCliOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const durationMs = parseDuration(options.duration);
      const rule = parseInjectRule(options.rule);
      // The timeline tells what the daemons' info logs would; keep them off the live view.
      if (
        command.getOptionValueSourceWithGlobals("logLevel") === "default" &&
        globals.logFile === undefined
      ) {
        setupLogging({ level: "warning", format: globals.logFormat });
      }
      await runLacpLab(io, globals, durationMs, rule);
    });
}

/** How the user runs netkit, for the commands the explanation suggests. */
function netkitCommand(): string {
  const exe = Deno.build.standalone ? Deno.execPath() : Deno.env.get("NETKIT_EXE");
  if (exe === undefined || exe === "") return "netkit";
  const cwd = Deno.cwd();
  return exe.startsWith(`${cwd}/`) ? `./${exe.slice(cwd.length + 1)}` : exe;
}

/** Seconds with one decimal, or "-". */
function timer(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(1)}s`;
}

/**
 * The per-port table, plain text. The mux column keeps the width of its longest state, so the
 * live table does not jump; WAITING shows what is left of wait_while.
 */
function portTable(snapshot: LabSnapshot): string {
  return formatTable([
    [
      "port",
      "mux".padEnd("COLLECTING_DISTRIBUTING".length),
      "actor ",
      "partner",
      "rx     ",
      "expires",
      "rx/tx",
      "fired",
    ],
    ...snapshot.ports.map((p) => [
      p.interface,
      p.wait_while === null ? p.mux_state : `${p.mux_state} ${timer(p.wait_while)}`,
      p.actor_state,
      p.partner_state,
      p.rx_state,
      timer(p.current_while),
      `${p.lacpdu_rx}/${p.lacpdu_tx}`,
      p.rule_fired === null ? "-" : String(p.rule_fired),
    ]),
  ]);
}

/** What the state letters and columns mean, under the table. */
const TABLE_KEY = [
  "states: A active, T short timeout, G aggregatable, S sync, C collecting, D distributing,",
  "        F defaulted, E expired; expires: current_while; fired: B's rule on that port",
];

/** The terminal's width, or 80 when it cannot be read. */
function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/**
 * The live view: timeline lines scroll, and a block under them (header and table) is erased and
 * drawn again on every redraw. Block lines are cut to the terminal width so none wraps, which
 * keeps the cursor arithmetic right.
 */
class LiveView {
  readonly #io: CliIo;
  #pending: string[] = [];
  #blockLines = 0;

  constructor(io: CliIo) {
    this.#io = io;
    this.#io.out("\x1b[?25l"); // hide the cursor while redrawing
  }

  event(line: string): void {
    this.#pending.push(line);
  }

  draw(block: string[]): void {
    const width = Math.max(20, terminalColumns() - 1);
    let out = this.#blockLines > 0 ? `\r\x1b[${this.#blockLines}A\x1b[J` : "";
    for (const line of this.#pending) out += `${line}\n`;
    this.#pending = [];
    for (const line of block) out += `${line.length > width ? line.slice(0, width) : line}\n`;
    this.#blockLines = block.length;
    this.#io.out(out);
  }

  close(): void {
    try {
      this.#io.out("\x1b[?25h");
    } catch {
      // The terminal is gone: nothing to restore.
    }
  }
}

function liveBlock(
  snapshot: LabSnapshot,
  lab: LacpLab,
  rule: string,
  durationMs: number,
  netkit: string,
  done: boolean,
): string[] {
  const of = durationMs > 0 ? ` of ${durationMs / 1000} s` : "";
  const status = done
    ? `finished after ${snapshot.t.toFixed(1)} s`
    : `${snapshot.t.toFixed(1)} s${of}, Ctrl-C stops`;
  return [
    "",
    `netkit lab lacp: ${status}; actor B's rule "${rule}"`,
    ...portTable(snapshot).trimEnd().split("\n"),
    ...TABLE_KEY,
    ...(done ? [] : [`status from another terminal: ${netkit} -n ${lab.netns[0]} lacp -s`]),
  ];
}

/** The signals that end the lab early. */
const STOP_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

async function runLacpLab(
  io: CliIo,
  globals: GlobalOptions,
  durationMs: number,
  rule: InjectRule,
): Promise<void> {
  const json = globals.json === true || globals.pretty === true;
  const live = !json && Deno.stdout.isTerminal();
  const netkit = netkitCommand();
  const print = (value: unknown) =>
    io.out(`${globals.pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);

  // Listen before the lab exists: from here on a signal must end in cleanup, never in the
  // default action, which would leave the namespaces behind.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
  let view: LiveView | null = null;
  let redraw: ReturnType<typeof setInterval> | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  // A timer callback that throws (stdout gone, say) would end the process at once, skipping the
  // cleanup: keep its error, end the run, and throw it once the lab is gone.
  const failures: unknown[] = [];
  const guarded = (fn: () => void) => () => {
    try {
      fn();
    } catch (err) {
      failures.push(err);
      clearInterval(redraw);
      abort.abort();
    }
  };
  try {
    await using lab = LacpLab.create();
    view = live ? new LiveView(io) : null;
    const timeline = new LabTimeline(TIMELINE_WINDOW_MS / 1000);
    const show = (lines: string[]) => {
      for (const line of lines) {
        if (view !== null) view.event(line);
        else io.out(`${line}\n`);
      }
    };
    const onEvent = (event: LacpLabEvent) => {
      if (json) return print(event);
      show(timeline.add(event));
      if (timeline.pending && flushTimer === undefined) {
        flushTimer = setTimeout(
          guarded(() => {
            flushTimer = undefined;
            show(timeline.flush());
          }),
          TIMELINE_WINDOW_MS,
        );
      }
    };
    if (view !== null) {
      const v = view;
      redraw = setInterval(
        guarded(() => v.draw(liveBlock(lab.snapshot(), lab, rule.text, durationMs, netkit, false))),
        REDRAW_MS,
      );
    }
    const report = await lab.run({ rule, durationMs, signal: abort.signal, onEvent });
    if (failures.length > 0) throw failures[0];
    clearInterval(redraw);
    clearTimeout(flushTimer);
    show(timeline.flush());
    const explanation = explainLacpLab(report, { netkit });
    if (json) {
      print({
        t: report.duration,
        event: "summary",
        rule: report.rule,
        reason: report.reason,
        ports: report.final.ports,
        explanation,
      });
    } else if (view !== null) {
      view.draw(liveBlock(report.final, lab, rule.text, durationMs, netkit, true));
      view.close();
      view = null;
      io.out(`\n${explanation.join("\n")}\n`);
    } else {
      io.out(
        `\nFinal state after ${report.duration.toFixed(1)} s:\n${portTable(report.final)}${
          TABLE_KEY.join("\n")
        }\n\n${explanation.join("\n")}\n`,
      );
    }
  } finally {
    clearInterval(redraw);
    clearTimeout(flushTimer);
    view?.close();
    for (const signal of STOP_SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}
