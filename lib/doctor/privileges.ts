/**
 * Root, or the capabilities netkit needs, read from `/proc/self/status` (no library needed, so
 * `netkit doctor` can say it even when libnetkit does not load).
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import { type CheckResult, checkResult } from "./result.ts";

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;

/** Effective capabilities and uid from `/proc/self/status`. */
export function processPrivileges(status = Deno.readTextFileSync("/proc/self/status")): {
  uid: number;
  capabilities: bigint;
} {
  const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const capabilities = BigInt("0x" + (/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  return { uid, capabilities };
}

function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/** Root, or the capabilities netkit needs (`status`: a `/proc/self/status` text, for tests). */
export function checkPrivileges(status?: string): CheckResult {
  const { uid, capabilities } = processPrivileges(status);
  const missing = [[CAP_NET_RAW, "CAP_NET_RAW"], [CAP_NET_ADMIN, "CAP_NET_ADMIN"]]
    .filter(([cap]) => !hasCap(capabilities, cap as number))
    .map(([, name]) => name as string);
  const who = uid === 0 ? "root" : `uid ${uid}`;
  if (missing.length > 0) {
    return checkResult(
      "privileges",
      "netkit",
      "fail",
      `${who} without ${missing.join(" and ")}`,
      "run as root, or grant them: setcap cap_net_raw,cap_net_admin+ep dist/netkit",
    );
  }
  if (!hasCap(capabilities, CAP_SYS_ADMIN)) {
    return checkResult(
      "privileges",
      "netkit",
      "warn",
      `${who} with CAP_NET_RAW and CAP_NET_ADMIN, without CAP_SYS_ADMIN`,
      "-n/--netns needs CAP_SYS_ADMIN to enter a namespace; run as root for it",
    );
  }
  return checkResult(
    "privileges",
    "netkit",
    "ok",
    `${who} with CAP_NET_RAW, CAP_NET_ADMIN and CAP_SYS_ADMIN`,
  );
}

/**
 * Throws a NetkitError when the process lacks capability `name`, saying what `command` needs it
 * for: a command checks this before it contacts anyone, rather than failing half-way with EPERM.
 */
export function requirePrivilege(
  name: "CAP_NET_RAW" | "CAP_NET_ADMIN",
  command: string,
  purpose: string,
  status?: string,
): void {
  const { capabilities } = processPrivileges(status);
  if (hasCap(capabilities, name === "CAP_NET_RAW" ? CAP_NET_RAW : CAP_NET_ADMIN)) return;
  throw new NetkitError(
    `${command} needs ${name} ${purpose}: run it as root, or grant it: ` +
      "setcap cap_net_raw,cap_net_admin+ep dist/netkit",
  );
}
