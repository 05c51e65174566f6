/**
 * Root gating for integration tests, which need network namespaces and raw sockets.
 *
 * @module
 */

/** True when the tests run as root. */
export const IS_ROOT: boolean = Deno.uid() === 0;

let announced = false;

/** Whether to skip root-only tests; prints the reason once per test file when skipping. */
export function skipUnlessRoot(): boolean {
  if (!IS_ROOT && !announced) {
    announced = true;
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        "SKIP: integration tests need root (network namespaces, raw sockets)\n",
      ),
    );
  }
  return !IS_ROOT;
}

/** Whether to skip tests that need Open vSwitch (and root); prints the reason when skipping. */
export function skipUnlessOvs(): boolean {
  if (skipUnlessRoot()) return true;
  try {
    new Deno.Command("ovs-vswitchd", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return false;
  } catch {
    Deno.stderr.writeSync(
      new TextEncoder().encode("SKIP: Open vSwitch is not installed (ovs-vswitchd)\n"),
    );
    return true;
  }
}
