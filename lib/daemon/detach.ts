/**
 * `-d`, the same for every daemon: the parent runs its own command line again with
 * `--detached-child` in a new session and waits until the child says it serves (or fails, whose
 * error becomes the parent's). The child logs to `--log-file`, or to a default file under
 * `/var/log/netkit` (`NETKIT_LOG_DIR` elsewhere), never to nowhere; once it serves it lets go of
 * the standard streams and of the working directory (`chdir("/")`), so it holds no terminal and
 * no mount busy.
 *
 * How netkit starts itself again: the compiled binary is its own executable; the launcher says
 * where it is in `NETKIT_EXE`.
 *
 * Under systemd `-d` is refused with one line saying why (lib/daemon/systemd.ts): the unit runs
 * the daemon in the foreground and the journal keeps what it writes to stderr.
 *
 * @module
 */

import { redirectStdioToDevNull } from "../net/stdio.ts";
import { InvalidInputError, NetkitError } from "../errors.ts";
import { ensurePrivateDir, openCheckedFile } from "../net/safe_file.ts";
import { systemdService } from "./systemd.ts";
import { absolute } from "./absolute_path.ts";
import { streamWriter } from "../output.ts";

/** The program to run to get another netkit, with the same runtime and permissions. */
export function selfExecutable(): string {
  if (Deno.build.standalone) return Deno.execPath();
  const exe = Deno.env.get("NETKIT_EXE");
  if (exe) return exe;
  throw new NetkitError(
    "Cannot start netkit again from here: run it as ./netkit (or the compiled binary) to use -d",
  );
}

/** The line a detached child writes once it serves, before it lets go of stderr. */
export const DETACHED_READY = "netkit: detached daemon ready";

/** Where detached daemons log by default. */
export const DEFAULT_LOG_DIR = "/var/log/netkit";

/** The log directory: `NETKIT_LOG_DIR` when set (tests, unprivileged runs), else the default. */
export function logDir(): string {
  return Deno.env.get("NETKIT_LOG_DIR") || DEFAULT_LOG_DIR;
}

/**
 * The default log file of the daemon called `name` (e.g. `mroute`, `lacp-eth0`), in network
 * namespace `netns` when given: `<log dir>/<name>[-<netns>].log`.
 */
export function defaultLogFile(name: string, netns?: string): string {
  const base = netns === undefined ? name : `${name}-${netns}`;
  if (!/^[A-Za-z0-9_.@-]+$/.test(base) || base.startsWith(".")) {
    throw new NetkitError(`Cannot name a log file after "${base}": give --log-file`);
  }
  return `${logDir()}/${base}.log`;
}

/**
 * Creates the default log file (its directory 0750, the file 0640, both checked as every file
 * netkit writes as root: lib/net/safe_file.ts) and returns its path.
 */
function prepareLogFile(path: string): string {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  ensurePrivateDir(dir, "log directory");
  openCheckedFile(path, { what: "log file", write: true, append: true, create: true, mode: 0o640 })
    .close();
  return path;
}

/** How a daemon detaches. */
export interface DetachOptions {
  /** The whole command line, as given. */
  args: readonly string[];
  /** `--log-file` as given; the default file is used without it. */
  logFile?: string | undefined;
  /** The daemon's name for its default log file (see {@linkcode defaultLogFile}). */
  name: string;
  /** `-n NETNS`, which the default log file's name includes. */
  netns?: string | undefined;
  /** Where the child's standard output before it served goes (the parent's). */
  out: (text: string) => void;
  /** Where the child's lines before it served go (the parent's stderr). */
  err: (text: string) => void;
}

/** The refusal of `-d` under systemd, which detaches and logs for every service itself. */
export function refuseUnderSystemd(): void {
  const why = systemdService();
  if (why === null) return;
  throw new InvalidInputError(
    `-d/--daemon cannot be used under systemd (${why}): leave it out of the unit, which ` +
      "keeps the daemon in the foreground and its log in the journal",
  );
}

/**
 * `-d` in the parent: runs the command line again plus `--detached-child` (and `--log-file`, made
 * absolute, since the child leaves the working directory) in a new session and returns once the
 * child serves; when the child fails first, its error is thrown with its exit code.
 */
export async function runDetached(options: DetachOptions): Promise<void> {
  refuseUnderSystemd();
  const logFile = options.logFile === undefined
    ? prepareLogFile(defaultLogFile(options.name, options.netns))
    : absolute(options.logFile);
  const child = new Deno.Command(selfExecutable(), {
    // A later --log-file wins: this one replaces a relative one given before.
    args: [...options.args, "--log-file", logFile, "--detached-child"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  // End of file comes when the child lets go of its streams (ready) or exits (failed). What it
  // printed meanwhile (the relay's certificate pin) is the parent's to show.
  const [printed, text] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  if (printed) options.out(printed);
  if (text.split("\n").includes(DETACHED_READY)) {
    child.unref();
    const before = text.slice(0, text.indexOf(DETACHED_READY));
    if (before) options.err(before);
    return;
  }
  const status = await child.status;
  options.err(text.replace(/^netkit: error: .*\n?/m, ""));
  const line = /^netkit: error: (.*)$/m.exec(text)?.[1];
  throw new NetkitError(
    line ?? `The detached daemon exited with code ${status.code} before serving`,
    { exitCode: status.code === 0 ? 1 : status.code },
  );
}

/**
 * `-d` in the child, once it serves: tells the parent, points every copy of the standard
 * streams at /dev/null so the parent sees end of file and the child no terminal, and moves to
 * `/` so the daemon keeps no directory busy. Paths it opens again later (state, rooms and log
 * files) were made absolute before.
 */
export function announceDetached(): void {
  // First: the parent returns at end of file, and a caller may then look where we are.
  Deno.chdir("/");
  // A parent that already went (Ctrl-C) leaves a broken pipe: the daemon serves on regardless.
  streamWriter(Deno.stderr)(`${DETACHED_READY}\n`);
  redirectStdioToDevNull();
}
