/**
 * `-d` and `-k`, the same letters and the same path for every daemon command (`lacp`, `mroute
 * daemon`, `relay`, `gateway`, `client`): lib/daemon/detach.ts detaches, lib/daemon/stop.ts
 * stops. The hidden `--detached-child` marks the process `-d` started.
 *
 * @module
 */

import { Option } from "commander";
import type { Command } from "./command.ts";
import type { announceDetached } from "../daemon/detach.ts";
import type { DaemonLoop } from "../daemon/loop.ts";
import { UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";
import type { GlobalOptions } from "./global_options.ts";

/** The options as commander gives them. */
export interface DaemonModeOptions {
  /** `-d/--daemon`. */
  daemon?: boolean;
  /** `-k/--kill`. */
  kill?: boolean;
  /** Set by `-d` on the process it starts. */
  detachedChild?: boolean;
}

/**
 * How the command runs: in the foreground, detaching (`-d`, the parent), as the detached child,
 * or stopping running daemons (`-k`).
 */
export type DaemonMode = "foreground" | "detach" | "detached-child" | "kill";

/** The text of `-d`, the same for every daemon. */
export const DETACH_HELP: string =
  "detach, returning once the daemon serves; logs to --log-file or " +
  "/var/log/netkit/NAME.log (refused under systemd, which logs to the journal)";

/**
 * Adds `-d`, `-k` (stopping `which`: "the relays in this namespace") and `--detached-child`.
 */
export function addDaemonModeOptions(command: Command, which: string): Command {
  return command
    .option("-d, --daemon", DETACH_HELP)
    .option("-k, --kill", `stop ${which}: SIGTERM, then wait up to 5 s`)
    .addOption(new Option("--detached-child").hideHelp());
}

/** The mode the options ask for; `-d` with `-k` is a usage error. */
export function daemonMode(options: DaemonModeOptions): DaemonMode {
  if (options.kill) {
    if (options.daemon) throw new UsageError("-d/--daemon and -k/--kill cannot be used together");
    return "kill";
  }
  if (options.detachedChild) return "detached-child";
  return options.daemon ? "detach" : "foreground";
}

/**
 * `-d` in the parent: starts the daemon `name` (its default log file's name, e.g. `relay-443`)
 * detached with this command line and returns once it serves.
 */
export async function detachDaemon(
  io: CliIo,
  args: readonly string[],
  globals: GlobalOptions,
  name: string,
): Promise<void> {
  const { runDetached } = await import("../daemon/detach.ts");
  await runDetached({
    args,
    logFile: globals.logFile,
    name,
    netns: globals.netns,
    out: (text) => io.out(text),
    err: (text) => io.err(text),
  });
}

/** What a command needs to run its daemon in this process: {@linkcode loadDaemonSide}. */
export interface DaemonSide {
  /** The daemon loop (signals, poller, stop and wake). */
  DaemonLoop: typeof DaemonLoop;
  /** `-d` in the child, once it serves. */
  announceDetached: typeof announceDetached;
}

/**
 * The daemon loop and the detached child's announcement, loaded when a command runs a daemon,
 * not when its module is: both load libnetkit (and the loop LogTape), which a client command
 * such as `lacp -s` never needs and would pay for at every start (see bench/cli.ts).
 */
export async function loadDaemonSide(): Promise<DaemonSide> {
  const [{ DaemonLoop }, { announceDetached }] = await Promise.all([
    import("../daemon/loop.ts"),
    import("../daemon/detach.ts"),
  ]);
  return { DaemonLoop, announceDetached };
}
