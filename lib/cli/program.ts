/**
 * The netkit command tree. Each command lives in its own `lib/cli/<command>.ts`, imported only
 * when that command runs, so `netkit --help` and one command never load the others.
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { ExitCode } from "../errors.ts";
import { exitCodeOf } from "./errors.ts";
import {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  setupLogging,
  shutdownLogging,
} from "../log.ts";
import { NETKIT_VERSION } from "../version.ts";
import { type CliIo, PROCESS_IO } from "./io.ts";

/** A command module: adds its subcommand (options, action) to the program. */
export interface CommandModule {
  /** `args` are the whole command line, for commands that start netkit again (`-d`). */
  register(program: Command, io: CliIo, args: readonly string[]): void;
}

/** A top-level command, described without loading it. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

/** Every top-level command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "client",
    summary: "join a relay room through a TAP device",
    load: () => import("./client.ts"),
  },
  {
    name: "doctor",
    summary: "check this machine for what netkit needs",
    load: () => import("./doctor.ts"),
  },
  {
    name: "gateway",
    summary: "bridge a wired LAN into a relay room",
    load: () => import("./gateway.ts"),
  },
  {
    name: "lab",
    summary: "throwaway namespace labs that show a feature end to end",
    load: () => import("./lab.ts"),
  },
  {
    name: "lacp",
    summary: "IEEE 802.1AX LACP actor and test peer",
    load: () => import("./lacp.ts"),
  },
  {
    name: "mroute",
    summary: "multicast routing daemon and its iproute2-style CLI",
    load: () => import("./mroute.ts"),
  },
  {
    name: "relay",
    summary: "QUIC relay that joins gateways and clients in rooms",
    load: () => import("./relay.ts"),
  },
  {
    name: "version",
    summary: "show the netkit, Deno and libnetkit versions",
    load: () => import("./version.ts"),
  },
];

/** Options every command accepts, before or after the command name. */
export interface GlobalOptions {
  logLevel: LogLevel;
  logFile?: string;
  logFormat: LogFormat;
  netns?: string;
  json?: boolean;
  pretty?: boolean;
}

/** Global options that take a value, so the command name can be found without parsing. */
const VALUE_OPTIONS = new Set(["--log-level", "--log-file", "--log-format", "-n", "--netns"]);

/** The first operand: the command to load (or the one `help` is asked about). */
function selectedCommand(args: readonly string[]): string | undefined {
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

/** What opens `--log-file` for appending, the way netkit opens every file it writes. */
async function logFileOpener(path: string): Promise<() => Deno.FsFile> {
  // Loaded only here: it needs libnetkit, which `netkit doctor` must be able to do without.
  const { openCheckedFile } = await import("../net/safe_file.ts");
  return () => openCheckedFile(path, { what: "log file", write: true, append: true, create: true });
}

/** Builds the program for `args`, loading only the command they select. */
export async function buildProgram(args: readonly string[], io: CliIo): Promise<Command> {
  const program = new Command("netkit")
    .description("Link-layer and multicast tools for Linux network engineers")
    .version(`netkit ${NETKIT_VERSION}`, "-V, --version", "print the netkit version")
    .addOption(
      new Option("--log-level <level>", "log verbosity").choices(LOG_LEVELS).default("info"),
    )
    .option("--log-file <file>", "append log records to FILE instead of stderr")
    .addOption(
      new Option("--log-format <format>", "log record format").choices(LOG_FORMATS).default("text"),
    )
    .option("-n, --netns <name>", "run in network namespace NAME (as ip -n)")
    .option("-j, --json", "print results as JSON")
    .option("-p, --pretty", "print results as indented JSON")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(`netkit: ${text}`),
    })
    .showSuggestionAfterError(true)
    .hook("preAction", async (_program, action) => {
      const options = action.optsWithGlobals<GlobalOptions>();
      const logFile = options.logFile;
      const reopen = logFile === undefined
        ? undefined
        : { path: logFile, open: await logFileOpener(logFile) };
      setupLogging({
        level: options.logLevel,
        format: options.logFormat,
        // Kept for reopening: a daemon's SIGHUP (lib/hangup.ts) reopens it after logrotate.
        ...(reopen === undefined ? {} : { file: reopen.open(), reopen }),
      });
      // Before the command opens any socket: see enterNetns().
      if (options.netns !== undefined) (await import("../net/netns.ts")).enterNetns(options.netns);
    });

  const selected = selectedCommand(args);
  for (const entry of COMMANDS) {
    if (entry.name === selected) (await entry.load()).register(program, io, args);
    else program.command(entry.name).description(entry.summary);
  }
  return program;
}

/**
 * Runs netkit with `args` and returns the exit code: 0 on success, 1 for runtime errors, 2 for
 * usage errors. Errors are printed as one line, `netkit: error: ...` (with the stack at debug
 * log level). Never exits the process itself.
 */
export async function run(args: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  let program: Command | undefined;
  try {
    program = await buildProgram(args, io);
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version also arrive here, with exit code 0; the rest are usage errors.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    // The reader of our output went away (`| head`): stop quietly, as SIGPIPE would.
    if (err instanceof Deno.errors.BrokenPipe) return ExitCode.BROKEN_PIPE;
    const message = err instanceof Error ? err.message : String(err);
    io.err(`netkit: error: ${message}\n`);
    const debug = program?.opts<GlobalOptions>().logLevel === "debug";
    if (debug && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return exitCodeOf(err);
  } finally {
    shutdownLogging();
  }
}
