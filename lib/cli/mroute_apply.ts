/**
 * `netkit mroute apply`: read a routes file (bounded, through lib/net/safe_file.ts), check and
 * plan it, and send it to the daemon in one request, or plan it offline. A module of its own,
 * loaded only by `apply`: the other mroute subcommands, run in loops, load none of it.
 *
 * @module
 */

import { requestChecked } from "../daemon/client.ts";
import { DaemonUnreachableError } from "../ipc/control_client.ts";
import { JsonText } from "../ipc/mod.ts";
import { checkApplyText, MAX_APPLY_FILE_BYTES, MAX_REQUEST_BYTES } from "../mroute/apply_file.ts";
import { ApplyReply, mrouteReply } from "../mroute/client.ts";
import type { DesiredState } from "../mroute/router.ts";
import { readBounded, readRegularFile } from "../net/safe_file.ts";
import type { NetkitError } from "../errors.ts";
import { plural } from "../text.ts";
import { UsageError } from "./errors.ts";
import type { GlobalOptions } from "./global_options.ts";
import type { CliIo } from "./io.ts";
import { printResult } from "./output.ts";

/** A route in an APPLY plan: the form APPLY takes (outputs as "name" or "name:ttl"). */
interface ApplyRoute {
  source?: string | undefined;
  group: string;
  iif: string;
  oifs: string[];
}

function applyLine(mark: string, r: ApplyRoute): string {
  return `${mark} (${r.source ?? "*"}, ${r.group}) iif ${r.iif} oifs ${r.oifs.join(" ")}`;
}

/** The human form of an APPLY reply: the message, then one line per change. */
export function formatApply(reply: ApplyReply): string {
  const plan = reply.plan;
  const lines = [reply.message];
  for (const r of plan.add) lines.push(applyLine("+", r));
  for (const c of plan.change) {
    lines.push(applyLine("~", c.to) + ` (was iif ${c.from.iif} oifs ${c.from.oifs.join(" ")})`);
  }
  for (const r of plan.remove) lines.push(applyLine("-", r));
  for (const n of plan.pin) lines.push(`+ vif ${n}`);
  for (const n of plan.unpin) lines.push(`- vif ${n}`);
  return lines.join("\n") + "\n";
}

/**
 * The apply file's text: a regular file (links followed: the operator named it) or stdin for
 * "-", at most {@linkcode MAX_APPLY_FILE_BYTES}. Anything else (a FIFO, a device such as
 * /dev/zero, a directory, a larger file, a missing one, bytes that are not UTF-8) is a usage
 * error naming the path and why.
 */
export function readApplyInput(
  path: string,
  stdin: { readSync(p: Uint8Array): number | null } = Deno.stdin,
): string {
  let bytes: Uint8Array | null;
  try {
    bytes = path === "-"
      ? readBounded(stdin, MAX_APPLY_FILE_BYTES)
      : readRegularFile(path, { what: "apply file", maxBytes: MAX_APPLY_FILE_BYTES });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (bytes === null) {
    throw new UsageError(
      `Refusing to read apply file "-" (stdin): it is larger than ${MAX_APPLY_FILE_BYTES} bytes`,
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`Apply file "${path}" is not UTF-8 text`);
  }
}

/** What a dry run says when no daemon runs: the file alone, checked, as if the table were empty. */
function offlineDryRun(state: DesiredState, why: string): ApplyReply {
  return {
    status: "success",
    message: `Dry run, offline (${why}): the file is valid; against an empty table: ` +
      `${plural(state.routes.length, "route")} added, ${plural(state.vifs.length, "VIF")} pinned.`,
    dry_run: true,
    offline: true,
    plan: {
      add: state.routes.map((r) => JSON.parse(r.json)),
      change: [],
      remove: [],
      pin: state.vifs,
      unpin: [],
    },
  };
}

/** The daemon `apply` talks to, as mroute.ts finds it. */
export interface ApplyDaemon {
  /** Its control socket (asked only when the daemon is: `--offline` never does). */
  path: () => string;
  /** The error for a daemon that does not run, saying how to start it. */
  unreachable: (err: DaemonUnreachableError) => NetkitError;
}

/**
 * `apply FILE`: checks the file, then plans it offline (`--dry-run --offline`, or `--dry-run`
 * when no daemon runs) or has `daemon` apply it (or plan it, `--dry-run`), and prints the reply.
 */
export async function applyFile(
  io: CliIo,
  g: GlobalOptions,
  file: string,
  options: { dryRun?: boolean; offline?: boolean },
  daemon: ApplyDaemon,
): Promise<void> {
  if (options.offline && !options.dryRun) {
    throw new UsageError("--offline plans without a daemon, so it needs --dry-run");
  }
  const checked = checkApplyText(readApplyInput(file));
  if (!checked.ok) throw new UsageError(`"${file}": ${checked.errors.join("; ")}`);
  const { state } = checked;
  if (options.offline) {
    const reply = offlineDryRun(state, "--offline");
    printResult(io, g, reply, () => formatApply(reply));
    return;
  }
  // The routes' normalized JSON lines, as the state file holds them: compact, and no
  // second encoding of thousands of routes.
  const message = new JsonText(
    `{"action":"APPLY","payload":{"dry_run":${options.dryRun === true},"state":` +
      `{"vifs":${JSON.stringify(state.vifs)},` +
      `"routes":[${state.routes.map((r) => r.json).join(",")}]}}}`,
  );
  const bytes = new TextEncoder().encode(message.text).length;
  if (bytes > MAX_REQUEST_BYTES) {
    throw new UsageError(
      `"${file}": its ${state.routes.length} routes make a ${bytes}-byte request; ` +
        `the daemon takes at most ${MAX_REQUEST_BYTES} bytes in one (atomic) apply`,
    );
  }
  let reply: ApplyReply;
  try {
    reply = await requestChecked(
      daemon.path(),
      message,
      ApplyReply,
      mrouteReply("APPLY"),
      { timeoutMs: 120000 },
    );
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError)) throw err;
    if (!options.dryRun) throw daemon.unreachable(err);
    reply = offlineDryRun(state, err.message);
  }
  printResult(io, g, reply, () => formatApply(reply));
}
