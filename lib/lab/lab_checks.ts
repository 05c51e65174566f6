/**
 * Pieces every namespace lab scenario shares: running a command in a namespace (interruptible
 * by the run), reading `ping -c`'s summary, failing the run when a child exits on its own, and
 * checking after removal that no namespace, process or file is left.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import type { ChildDaemon } from "./child_daemon.ts";
import { ip } from "./namespace_lab.ts";
import type { ScenarioRun, TimedEvent } from "./runner.ts";

/** What {@linkcode parsePingSummary} reads: sent, received and min/avg/max RTT in ms. */
export interface PingSummary {
  /** Echo requests sent. */
  sent: number;
  /** Echo replies received. */
  received: number;
  /** min/avg/max round-trip time in ms; null when nothing came back. */
  rtt: [number, number, number] | null;
}

/** The summary of `ping -c` (iputils or busybox): sent, received and min/avg/max RTT in ms. */
export function parsePingSummary(text: string): PingSummary | null {
  const counts = /([0-9]+) packets transmitted, ([0-9]+) (?:packets )?received/.exec(text);
  if (counts === null) return null;
  const rtt = /min\/avg\/max(?:\/mdev)? = ([0-9.]+)\/([0-9.]+)\/([0-9.]+)/.exec(text);
  return {
    sent: Number(counts[1]),
    received: Number(counts[2]),
    rtt: rtt === null ? null : [Number(rtt[1]), Number(rtt[2]), Number(rtt[3])],
  };
}

/**
 * The summary of a finished `ping -c` from `from` to `address`, and its standard output; a
 * ping that printed none (no route, bad address) is a `NetkitError` with its first error line.
 */
export function pingSummaryOf(
  output: Deno.CommandOutput,
  from: string,
  address: string,
): { text: string; summary: PingSummary } {
  const text = new TextDecoder().decode(output.stdout);
  const summary = parsePingSummary(text);
  if (summary === null) {
    const why = new TextDecoder().decode(output.stderr).trim().split("\n")[0] ?? "";
    throw new NetkitError(
      `ping from ${from} to ${address} printed no summary (exit ${output.code})` +
        (why === "" ? "" : `: ${why}`),
    );
  }
  return { text, summary };
}

/**
 * `ip netns exec <netns> <args...>` to its end, its output collected; the run's interruption
 * kills it. A missing `ip` is said in one line.
 */
export async function execInNetns<E extends TimedEvent>(
  run: ScenarioRun<E>,
  netns: string,
  args: string[],
): Promise<Deno.CommandOutput> {
  try {
    return await run.interruptible(
      new Deno.Command("ip", {
        args: ["netns", "exec", netns, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: run.signal,
      }).output(),
    );
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NetkitError('netkit lab needs iproute2: the "ip" command was not found');
    }
    throw err;
  }
}

/**
 * Fails `run` when `process` (called `what`) exits while `expected()` says it should not,
 * with its exit code and what it printed.
 */
export function failOnExit<E extends TimedEvent>(
  run: ScenarioRun<E>,
  process: ChildDaemon,
  what: string,
  expected: () => boolean,
): void {
  process.status.then(async () => {
    if (expected()) return;
    // Already exited: stop() only waits until its output is read to the end.
    const status = await process.stop();
    if (expected()) return;
    const detail = process.output.replace(/^netkit: error: /, "");
    run.fail(
      new NetkitError(
        `${what} (pid ${process.pid}) exited with code ${status.code}` +
          (detail === "" ? "" : `: ${detail}`),
      ),
    );
  });
}

/** Which of `netns` still exist; a failing `ip netns list` fails `run` (and reports none). */
export function namespacesLeft<E extends TimedEvent>(
  run: ScenarioRun<E>,
  netns: string[],
): string[] {
  try {
    const listed = new Set(ip("netns", "list").split("\n").map((l) => l.split(" ")[0]!));
    return netns.filter((n) => listed.has(n));
  } catch (err) {
    run.fail(err);
    return [];
  }
}

/** Whether anything exists at `path` (a dangling symlink counts). */
export function pathExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether process `pid` still runs (a zombie counts as gone). */
export function processRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}
