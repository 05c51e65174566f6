/**
 * The `monitor` subcommands (`mroute monitor`, `vnet monitor`): subscribe to a daemon and print
 * each event it streams, a JSON line with `-j` (indented with `-p`) or a line of text, until
 * SIGINT or SIGTERM ends the stream quietly (SIGHUP does not end it).
 *
 * @module
 */

import { type ReplyContext, subscribeChecked } from "../daemon/client.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";
import type { Schema } from "../zod_exact.ts";
import { loadDaemonSide } from "./daemon_options.ts";
import type { CliIo } from "./io.ts";
import type { OutputFlags } from "./output.ts";

/** What {@linkcode printMonitor} subscribes to and how it prints. */
export interface MonitorSource<Line, Event extends Line> {
  /** The daemon's control socket. */
  path: string;
  /** Schema of every streamed line: the subscription's acknowledgement, then the events. */
  schema: Schema<Line>;
  /** The daemon and request, for a malformed line's error. */
  context: ReplyContext;
  /** Whether a line is an event (not the acknowledgement, which is not printed). */
  isEvent: (line: Line) => line is Event;
  /** An event as one line of text (no newline). */
  text: (event: Event) => string;
  /** The error for a daemon that is not there (saying how to start it). */
  unreachable: (err: DaemonUnreachableError) => Error;
}

/**
 * Prints the events of `source` until a signal stops the stream or the daemon closes it.
 * Requires the permissions of a control client (`--allow-read`, `--allow-write` on the socket).
 */
export async function printMonitor<Line, Event extends Line>(
  io: CliIo,
  flags: OutputFlags,
  source: MonitorSource<Line, Event>,
): Promise<void> {
  // The loop turns SIGINT and SIGTERM into the signal that ends the stream; loaded only here,
  // so the other client subcommands stay light.
  const { DaemonLoop } = await loadDaemonSide();
  using loop = new DaemonLoop();
  try {
    for await (
      const line of subscribeChecked(
        source.path,
        { action: "SUBSCRIBE" },
        source.schema,
        source.context,
        { signal: loop.signal },
      )
    ) {
      if (!source.isEvent(line)) continue;
      io.out(
        flags.json || flags.pretty
          ? JSON.stringify(line, null, flags.pretty ? 2 : undefined) + "\n"
          : source.text(line) + "\n",
      );
    }
  } catch (err) {
    if (err instanceof DaemonUnreachableError) throw source.unreachable(err);
    if (!loop.stopping) throw err;
  }
}
