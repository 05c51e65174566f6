/**
 * The netkit command tree. Each command lives in its own `lib/cli/<command>.ts`, imported only
 * when that command runs, so `netkit --help` and one command never load the others.
 *
 * Start-up time is part of the interface (engineers run client commands in loops), so what a
 * command does not need is not loaded: commander (whose Node built-ins cost more than Deno's
 * own start) only once a command line needs parsing, LogTape only when a command runs that may
 * log (lib/cli/logging.ts), and `netkit version` and `--version` print without either (see
 * bench/cli.ts).
 *
 * @module
 */

import type { Command } from "./command.ts";
import { ExitCode } from "../errors.ts";
import { exitCodeOf } from "./errors.ts";
import { NETKIT_VERSION } from "../version.ts";
import {
  GLOBAL_OPTIONS,
  type GlobalOptions,
  plainCommandLine,
  selectedCommand,
} from "./global_options.ts";
import { type CliIo, PROCESS_IO } from "./io.ts";
import { needsLogging } from "./logging.ts";

/** A command module: adds its subcommand (options, action) to the program. */
export interface CommandModule {
  /** `args` are the whole command line, for commands that start netkit again (`-d`). */
  register(program: Command, io: CliIo, args: readonly string[]): void;
}

/** A top-level command, described without loading it. */
export interface CommandEntry {
  /** The word on the command line. */
  name: string;
  /** One line for `netkit --help`. */
  summary: string;
  /** Imports the command's module: only for the command a command line selects. */
  load(): Promise<CommandModule>;
}

/**
 * The URL of command module `name`, built at run time on purpose: `deno run` reads and analyses
 * every module a literal `import("./x.ts")` could reach before it starts, so literal imports here
 * made every command pay for the whole tree (8 ms of `netkit version`'s start, measured by
 * bench/cli.ts). `deno compile` cannot see these imports; the Makefile includes lib/cli/ itself.
 */
function commandModule(name: string): string {
  return new URL(`./${name}.ts`, import.meta.url).href;
}

/** Every top-level command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "client",
    summary: "join a relay room through a TAP device",
    load: () => import(commandModule("client")),
  },
  {
    name: "doctor",
    summary: "check this machine for what netkit needs",
    load: () => import(commandModule("doctor")),
  },
  {
    name: "gateway",
    summary: "bridge a wired LAN into a relay room",
    load: () => import(commandModule("gateway")),
  },
  {
    name: "lab",
    summary: "throwaway namespace labs that show a feature end to end",
    load: () => import(commandModule("lab")),
  },
  {
    name: "lacp",
    summary: "IEEE 802.1AX LACP actor and test peer",
    load: () => import(commandModule("lacp")),
  },
  {
    name: "lsoe",
    summary: "Link State Over Ethernet speaker: neighbours, addresses, liveness",
    load: () => import(commandModule("lsoe")),
  },
  {
    name: "mroute",
    summary: "multicast routing daemon and its iproute2-style CLI",
    load: () => import(commandModule("mroute")),
  },
  {
    name: "relay",
    summary: "QUIC relay that joins gateways and clients in rooms",
    load: () => import(commandModule("relay")),
  },
  {
    name: "vnet",
    summary: "userspace virtual router for VMs and containers on TAP devices",
    load: () => import(commandModule("vnet")),
  },
  {
    name: "version",
    summary: "show the netkit, Deno and libnetkit versions",
    load: () => import(commandModule("version")),
  },
];

/** What opens `--log-file` for appending, the way netkit opens every file it writes. */
async function logFileOpener(path: string): Promise<() => Deno.FsFile> {
  // Loaded only here: it needs libnetkit, which `netkit doctor` must be able to do without.
  const { openCheckedFile } = await import("../net/safe_file.ts");
  return () => openCheckedFile(path, { what: "log file", write: true, append: true, create: true });
}

/** commander, once a command line has needed it (see {@linkcode loadCommander}). */
let commander: typeof import("commander") | undefined;

/** commander, loaded on first use: it pulls in Node's fs, process and child_process. */
async function loadCommander(): Promise<typeof import("commander")> {
  return commander ??= await import("commander");
}

/** lib/log.ts (and LogTape), once a command has set up logging; null until then. */
let logging: typeof import("../log.ts") | null = null;

/** Sets up logging from the global options, before the command's action runs. */
async function setupLoggingFrom(options: GlobalOptions): Promise<void> {
  logging ??= await import("../log.ts");
  const logFile = options.logFile;
  const reopen = logFile === undefined
    ? undefined
    : { path: logFile, open: await logFileOpener(logFile) };
  logging.setupLogging({
    level: options.logLevel,
    format: options.logFormat,
    // Kept for reopening: a daemon's SIGHUP (lib/hangup.ts) reopens it after logrotate.
    ...(reopen === undefined ? {} : { file: reopen.open(), reopen }),
  });
}

/** Builds the program for `args`, loading only the command they select. */
export async function buildProgram(args: readonly string[], io: CliIo): Promise<Command> {
  const { Command } = await loadCommander();
  const program = new Command("netkit")
    .description("Link-layer and multicast tools for Linux network engineers")
    .version(`netkit ${NETKIT_VERSION}`, "-V, --version", "print the netkit version");
  for (const spec of GLOBAL_OPTIONS) {
    const option = program.createOption(spec.flags, spec.description);
    if (spec.choices !== undefined) option.choices(spec.choices);
    if (spec.default !== undefined) option.default(spec.default);
    program.addOption(option);
  }
  program
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(`netkit: ${text}`),
    })
    .showSuggestionAfterError(true)
    .hook("preAction", async (_program, action) => {
      const options = action.optsWithGlobals<GlobalOptions>();
      if (needsLogging(action, options)) await setupLoggingFrom(options);
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
 * Runs the command lines that need neither commander nor logging (`version [-j|-p]`, `--version`)
 * as commander would; returns false for every other line, which is then commander's.
 */
async function runWithoutCommander(args: readonly string[], io: CliIo): Promise<boolean> {
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    io.out(`netkit ${NETKIT_VERSION}\n`);
    return true;
  }
  const line = plainCommandLine(args);
  if (line?.command !== "version") return false;
  await (await import("./version.ts")).printVersion(io, line.flags);
  return true;
}

/**
 * Runs netkit with `args` and returns the exit code: 0 on success, 1 for runtime errors, 2 for
 * usage errors. Errors are printed as one line, `netkit: error: ...` (with the stack at debug
 * log level). Never exits the process itself.
 */
export async function run(args: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  let program: Command | undefined;
  try {
    if (await runWithoutCommander(args, io)) return ExitCode.OK;
    program = await buildProgram(args, io);
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.OK;
  } catch (err) {
    if (commander !== undefined && err instanceof commander.CommanderError) {
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
    // Only a command that ran set logging up (help and usage errors never load it).
    logging?.shutdownLogging();
  }
}
