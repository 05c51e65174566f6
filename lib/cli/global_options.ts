/**
 * The options every netkit command accepts, before or after the command name, in one module that
 * loads neither commander nor LogTape: subcommand modules import {@linkcode GlobalOptions} from
 * here (not from program.ts, which imports them), and the CLI can read a command line's shape
 * before deciding what to load.
 *
 * @module
 */

import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../log_levels.ts";
import type { OutputFlags } from "./output.ts";

/** Options every command accepts, before or after the command name. */
export interface GlobalOptions {
  /** `--log-level`: the lowest level logged (default `info`). */
  logLevel: LogLevel;
  /** `--log-file`: append log records to this file instead of stderr. */
  logFile?: string;
  /** `--log-format`: `text` (default) or `json` lines. */
  logFormat: LogFormat;
  /** `-n/--netns`: the network namespace to enter before the command runs. */
  netns?: string;
  /** `-j/--json`: compact JSON output. */
  json?: boolean;
  /** `-p/--pretty`: indented JSON output. */
  pretty?: boolean;
}

/** One global option as commander takes it (`flags` as in `-n, --netns <name>`). */
export interface GlobalOptionSpec {
  /** Short and long names, and `<value>` when the option takes one. */
  flags: string;
  /** The help line. */
  description: string;
  /** The values allowed, when the option takes one of a fixed set. */
  choices?: readonly string[];
  /** The value when the option is not given. */
  default?: string;
}

/** The global options, in the order `--help` lists them (after `-V, --version`). */
export const GLOBAL_OPTIONS: readonly GlobalOptionSpec[] = [
  {
    flags: "--log-level <level>",
    description: "log verbosity",
    choices: LOG_LEVELS,
    default: "info",
  },
  { flags: "--log-file <file>", description: "append log records to FILE instead of stderr" },
  {
    flags: "--log-format <format>",
    description: "log record format",
    choices: LOG_FORMATS,
    default: "text",
  },
  { flags: "-n, --netns <name>", description: "run in network namespace NAME (as ip -n)" },
  { flags: "-j, --json", description: "print results as JSON" },
  { flags: "-p, --pretty", description: "print results as indented JSON" },
];

/** The spellings (`-n`, `--netns`) of the global options that take a value. */
const VALUE_OPTIONS = new Set(
  GLOBAL_OPTIONS.filter((o) => o.flags.includes("<"))
    .flatMap((o) => o.flags.split(/[ ,]+/).filter((word) => word.startsWith("-"))),
);

/**
 * The first operand: the command to load (or the one `help` is asked about), found without
 * parsing by skipping the global options and the values they take.
 */
export function selectedCommand(args: readonly string[]): string | undefined {
  const operands: string[] = [];
  for (let i = 0; i < args.length && operands.length < 2; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (arg.startsWith("-")) {
      if (VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    operands.push(arg);
  }
  return operands[0] === "help" ? operands[1] : operands[0];
}

/** The output flags, each spelled as commander accepts it on its own. */
const OUTPUT_FLAGS: Readonly<Record<string, keyof OutputFlags>> = {
  "-j": "json",
  "--json": "json",
  "-p": "pretty",
  "--pretty": "pretty",
};

/** A command line of one command name and output flags only (see {@linkcode plainCommandLine}). */
export interface PlainCommandLine {
  /** The command name. */
  command: string;
  /** The output flags given, before or after it. */
  flags: OutputFlags;
}

/**
 * `args` when they are exactly one command name plus output flags (`version -j`), else null.
 * Such a line needs none of the global options' defaults, no log set-up and no namespace, so a
 * command that only prints can run without building the commander program; anything else
 * (another option, an operand, a combined `-jp`) is left to commander and its error messages.
 */
export function plainCommandLine(args: readonly string[]): PlainCommandLine | null {
  let command: string | undefined;
  const flags: OutputFlags = {};
  for (const arg of args) {
    const flag = Object.hasOwn(OUTPUT_FLAGS, arg) ? OUTPUT_FLAGS[arg] : undefined;
    if (flag !== undefined) flags[flag] = true;
    else if (command === undefined && !arg.startsWith("-")) command = arg;
    else return null;
  }
  return command === undefined ? null : { command, flags };
}
