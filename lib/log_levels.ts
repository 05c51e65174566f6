/**
 * The log levels and formats users choose from, without LogTape: the CLI parses `--log-level`
 * and `--log-format` with these before it knows whether the command logs at all, and loading
 * LogTape (and the Node compatibility layer it pulls in) costs a client command a quarter of
 * its start-up time.
 *
 * @module
 */

/** The levels users choose from (those of the tools netkit replaces). */
export const LOG_LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
/** A user-facing log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Output formats for log records. */
export const LOG_FORMATS = ["text", "json"] as const;
/** A log record format: human text or one JSON object per line. */
export type LogFormat = (typeof LOG_FORMATS)[number];
