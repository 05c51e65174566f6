/**
 * Running `./netkit lab ...` as a user would, for the lab tests.
 *
 * @module
 */

import { ip } from "../../lib/lab/namespace_lab.ts";

/**
 * Runs `./netkit lab ARGS`, sends `signal` once its output matches `when`, and returns the exit
 * code and the whole output. A lab that hangs is killed after `watchdogMs` (the assertions then
 * fail).
 */
export async function interruptLab(
  args: string[],
  signal: Deno.Signal,
  when: RegExp,
  watchdogMs: number,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("./netkit", {
    args: ["lab", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let out = "";
  let sent = false;
  const watchdog = setTimeout(() => child.kill("SIGKILL"), watchdogMs);
  try {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      if (!sent && when.test(out)) {
        sent = true;
        child.kill(signal);
      }
    }
    return { code: (await child.status).code, out };
  } finally {
    clearTimeout(watchdog);
  }
}

/** The namespaces whose names start with `<prefix>-` (a lab's). */
export function namespacesWith(prefix: string): string[] {
  return ip("netns", "list").split("\n").map((l) => l.split(" ")[0]!).filter((n) =>
    n.startsWith(`${prefix}-`)
  );
}

/** Removes whatever a failed run left behind, so one failure does not leak namespaces. */
export function removeNamespaces(prefix: string | undefined): void {
  if (prefix === undefined) return;
  for (const name of namespacesWith(prefix)) ip("netns", "del", name);
}

/** Whether anything exists at `path`. */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether process `pid` still runs (a zombie counts as gone). */
export function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

/** The step headings of a lab's timeline (`   1.23s  == 3. ...`), in order. */
export function stepHeadings(out: string): number[] {
  return [...out.matchAll(/^ +[0-9.]+s {2}== ([0-9]+)\. /gm)].map((m) => Number(m[1]));
}

/**
 * Removes whatever a failed run left behind, so one failure does not leak into the next: kills
 * its processes still running, deletes its namespaces and its directory (`dir`, if any).
 */
export function cleanUpRun(
  t: { prefix: string | undefined; pids: number[]; dir?: string | undefined },
): void {
  for (const pid of t.pids) if (running(pid)) Deno.kill(pid, "SIGKILL");
  removeNamespaces(t.prefix);
  if (t.dir !== undefined && exists(t.dir)) Deno.removeSync(t.dir, { recursive: true });
}
