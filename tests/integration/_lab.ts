/**
 * Running `./netkit lab ...` as a user would, for the lab tests.
 *
 * @module
 */

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
