/**
 * Why a test cannot run here: each check prints its reason once (to stderr) and returns true
 * when the test must be skipped, for `Deno.test({ ignore })`.
 *
 * @module
 */

/** True when the tests run as root. */
export const IS_ROOT: boolean = Deno.uid() === 0;

const announced = new Set<string>();

function skip(reason: string): true {
  if (!announced.has(reason)) {
    announced.add(reason);
    Deno.stderr.writeSync(new TextEncoder().encode(`SKIP: ${reason}\n`));
  }
  return true;
}

/** Whether `command --version` fails to run. */
function missing(command: string): boolean {
  try {
    return !new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    throw err;
  }
}

/** Skip unless root: integration tests need network namespaces and raw sockets. */
export function skipUnlessRoot(): boolean {
  return !IS_ROOT && skip("integration tests need root (network namespaces, raw sockets)");
}

/** Skip unless root and Open vSwitch (`ovs-vswitchd`) is installed. */
export function skipUnlessOvs(): boolean {
  return skipUnlessRoot() ||
    (missing("ovs-vswitchd") &&
      skip("Open vSwitch is not installed (apt-get install openvswitch-switch)"));
}

/**
 * Skip unless root and smcroute (`smcrouted` and `smcroutectl`) is installed. Neither takes
 * `--version`, so each is probed with its own version or help option.
 */
export function skipUnlessSmcroute(): boolean {
  if (skipUnlessRoot()) return true;
  const runs = (command: string, option: string) => {
    try {
      return new Deno.Command(command, { args: [option], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  };
  return (!runs("smcrouted", "-v") || !runs("smcroutectl", "-h")) &&
    skip("smcroute is not installed (apt-get install smcroute)");
}

/** Skip unless tshark is installed. */
export function skipUnlessTshark(): boolean {
  return missing("tshark") && skip("tshark is not installed (apt-get install tshark)");
}
