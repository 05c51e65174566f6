/**
 * Logging setup for the netkit process (LogTape). Library modules only call
 * `getLogger(["netkit", "<feature>", ...])`; the CLI calls {@linkcode setupLogging} once.
 * Records go to stderr, or to a file with `--log-file`, as text or JSON lines.
 *
 * @module
 */

import {
  configureSync,
  getTextFormatter,
  type LogLevel as LogtapeLevel,
  type LogRecord,
  resetSync,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";

import type { LogFormat, LogLevel } from "./log_levels.ts";
import { streamWriter } from "./output.ts";

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./log_levels.ts";

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  /** The least severe level written. */
  level: LogLevel;
  /** Text lines for people, or JSON lines for machines. */
  format: LogFormat;
  /**
   * Write to this file, opened for appending, instead of stderr; logging owns it from then on
   * and closes it at {@linkcode shutdownLogging}. The CLI opens `--log-file` with
   * `openCheckedFile` (lib/net/safe_file.ts), so a planted symbolic link is refused.
   */
  file?: Deno.FsFile;
  /**
   * How to open `file` again, for {@linkcode reopenLogFile} after logrotate renamed it: `path`
   * names it in the log line, `open` opens it as the CLI first did (through lib/net/safe_file.ts,
   * which this module must not load: `netkit doctor` runs without libnetkit).
   */
  reopen?: { path: string; open: () => Deno.FsFile };
}

const LEVEL_MAP: Record<LogLevel, LogtapeLevel> = {
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
  critical: "fatal",
};

/** A message with its values in place, strings unquoted: "eth0 state changed: ...". */
function renderMessage(record: LogRecord): string {
  return record.message
    .map((part, i) =>
      (i % 2 === 0 || typeof part === "string")
        ? String(part)
        : JSON.stringify(part) ?? String(part)
    )
    .join("");
}

/** One JSON object per record: time, level, logger, the rendered message and its properties. */
function jsonLine(record: LogRecord): string {
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level.toUpperCase(),
    logger: record.category.join("."),
    message: renderMessage(record),
    ...record.properties,
  }) + "\n";
}

function stderrSink(formatter: TextFormatter): Sink {
  // Synchronous writes: a record logged just before exit is never lost. A reader of stderr
  // that went away ends the log, not the daemon.
  const write = streamWriter(Deno.stderr);
  return (record) => write(formatter(record));
}

/** Each record appended to `file` with one write, synchronously; disposing closes the file. */
function fileSink(file: Deno.FsFile, formatter: TextFormatter): Sink & Disposable {
  const encoder = new TextEncoder();
  const sink = (record: LogRecord) => {
    const bytes = encoder.encode(formatter(record));
    let offset = 0;
    while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
  };
  return Object.assign(sink, { [Symbol.dispose]: () => file.close() });
}

/** The options of the setup in force, for {@linkcode reopenLogFile}. */
let current: LoggingOptions | null = null;

/**
 * Routes every `netkit` logger to stderr or `options.file`. Calling it again replaces the
 * previous setup (and closes its file).
 */
export function setupLogging(options: LoggingOptions): void {
  current = options;
  // Values render bare, so log lines read (and grep) like plain text: "eth0 state changed: ...".
  const formatter = options.format === "json"
    ? jsonLine
    : getTextFormatter({ timestamp: "date-time-timezone", level: "FULL", value: "bare" });
  const sink = options.file === undefined
    ? stderrSink(formatter)
    : fileSink(options.file, formatter);
  configureSync({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["netkit"], lowestLevel: LEVEL_MAP[options.level], sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/**
 * Opens the log file again at its path and writes to the new file from now on (logrotate renamed
 * the old one, or removed it), closing the old one. Returns what was done, in words, for the
 * caller to log: "reopened log file PATH", or why nothing was. A file that cannot be reopened
 * (its directory gone, a link planted at the path) leaves the old one in use and is said so:
 * a daemon never stops logging, or stops, over it.
 */
export function reopenLogFile(): string {
  const reopen = current?.reopen;
  if (current === null || reopen === undefined) return "no log file to reopen";
  let file: Deno.FsFile;
  try {
    file = reopen.open();
  } catch (err) {
    return `cannot reopen log file ${reopen.path} (${
      err instanceof Error ? err.message : String(err)
    }); still writing to the file open before`;
  }
  setupLogging({ ...current, file });
  return `reopened log file ${reopen.path}`;
}

/** Flushes and closes the sinks (at exit, and between tests). */
export function shutdownLogging(): void {
  current = null;
  resetSync();
}
