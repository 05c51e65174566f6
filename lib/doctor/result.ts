/**
 * What a check of this machine found: the shape `netkit doctor` prints and the tests' skip
 * reasons are made of.
 *
 * @module
 */

/**
 * `ok`; `warn`: works with a limitation; `missing`: a kernel feature or tool some commands need
 * is absent, so they cannot run here; `fail`: netkit cannot run here as it is (no library, or
 * the privileges are missing).
 */
export type CheckStatus = "ok" | "warn" | "missing" | "fail";

/** `netkit`: the program and its privileges; `kernel`: kernel features; `tools`: programs. */
export type CheckGroup = "netkit" | "kernel" | "tools";

/** One check's result (JSON field names are stable). */
export interface CheckResult {
  /** Stable key, e.g. `ipv4_mroute` or `tshark`. */
  check: string;
  /** Which part of the report the check belongs to. */
  group: CheckGroup;
  /** What the check found. */
  status: CheckStatus;
  /** One line for people: what was found, e.g. a tool's path or why a probe failed. */
  detail: string;
  /** What to do about it, or what cannot run because of it. */
  hint?: string;
}

/** The keys of every probe, in the order `netkit doctor` prints them. */
export const PROBES = [
  "privileges",
  "af_packet",
  "rtnetlink",
  "quic",
  "netns",
  "veth",
  "bridge",
  "bonding",
  "netem",
  "tun",
  "ipv4_mroute",
  "ipv6_mroute",
  "ipv4_mroute_tables",
  "ipv6_mroute_tables",
  "hugetlb",
  "hugepages",
] as const;

/** A probe's key: a stable name in `netkit doctor -j` and in the tests' requirements. */
export type ProbeKey = typeof PROBES[number];

const NETKIT_PROBES: ReadonlySet<ProbeKey> = new Set([
  "privileges",
  "af_packet",
  "rtnetlink",
  "quic",
]);

/** Which group probe `key` belongs to. */
export function probeGroup(key: ProbeKey): CheckGroup {
  return NETKIT_PROBES.has(key) ? "netkit" : "kernel";
}

/** Builds a {@linkcode CheckResult}, leaving `hint` out when there is none. */
export function checkResult(
  check: string,
  group: CheckGroup,
  status: CheckStatus,
  detail: string,
  hint?: string,
): CheckResult {
  return hint === undefined ? { check, group, status, detail } : {
    check,
    group,
    status,
    detail,
    hint,
  };
}

/** Whether what the check found lets the things that need it run. */
export function usable(result: CheckResult): boolean {
  return result.status === "ok" || result.status === "warn";
}
