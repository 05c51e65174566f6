/**
 * Which command lines set up logging. LogTape (with the `node:util` it loads) costs about 6 ms
 * of a command's start, more than a client command such as `lacp -s` spends on its work, and
 * engineers run those in loops (bench/cli.ts). So an action whose module graph holds nothing
 * that logs (no module importing LogTape) says so with {@linkcode logsNothing}, and its command
 * line skips the set-up; every other action gets logging set up before it runs, as always.
 * `--log-file` is opened (and checked) whenever it is given.
 *
 * Only mark an action whose every loaded module is free of LogTape: a record logged without
 * the set-up would be lost.
 *
 * @module
 */

import type { Command } from "./command.ts";
import type { GlobalOptions } from "./global_options.ts";

/** Whether the action, with these options of its own, logs nothing. */
export type LogsNothing = (options: Record<string, unknown>) => boolean;

const quietActions = new WeakMap<Command, LogsNothing>();

/**
 * Marks `command`'s action as one that logs nothing, always or `when` its options say so
 * (`lacp` logs as a daemon, not with `-s`). Returns `command`.
 */
export function logsNothing(command: Command, when: LogsNothing = () => true): Command {
  quietActions.set(command, when);
  return command;
}

/** Whether logging must be set up before `action` runs with `globals`. */
export function needsLogging(action: Command, globals: GlobalOptions): boolean {
  if (globals.logFile !== undefined) return true;
  const quiet = quietActions.get(action);
  return quiet === undefined || !quiet(action.opts());
}
