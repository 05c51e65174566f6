/**
 * Refusing early: a command that needs a kernel feature or an external tool checks for it before
 * it builds or changes anything, and says in one line what is missing and where to look further.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import { probe } from "./probes.ts";
import { type CheckResult, type ProbeKey, PROBES } from "./result.ts";
import { checkTool } from "./tools.ts";

/** A probe key (`ipv4_mroute`) or a command of `tools/debian-packages.txt` (`ping`). */
export type Capability = ProbeKey | (string & Record<never, never>);

/** What the probe or the tool check for `capability` found. */
export function checkCapability(capability: Capability): CheckResult {
  return (PROBES as readonly string[]).includes(capability)
    ? probe(capability as ProbeKey)
    : checkTool(capability);
}

/**
 * Throws a {@linkcode NetkitError} naming the first capability this machine is missing, for
 * `command` (as users type it). A probe that cannot tell (no privileges to try) does not stop
 * the command: what it then tries will fail with its own reason.
 */
export function requireCapabilities(
  command: string,
  capabilities: readonly Capability[],
  check: (capability: Capability) => CheckResult = checkCapability,
): void {
  for (const capability of capabilities) {
    const result = check(capability);
    if (result.status === "missing") {
      throw new NetkitError(
        `${command} cannot run here: ${result.detail}; "netkit doctor" checks this machine`,
      );
    }
  }
}
