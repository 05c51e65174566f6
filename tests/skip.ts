/**
 * What a test needs, and why it is skipped when this machine lacks it. Every test that needs
 * more than Deno says so in its options, once per test:
 *
 * ```ts ignore
 * Deno.test({ name: "...", ignore: needs("root", "veth", "ipv4_mroute", "tshark"), fn() {} });
 * ```
 *
 * A requirement is `root`, a probe of `lib/doctor/probes.ts` (the same probes `netkit doctor`
 * runs: kernel features tried for real), or a command of `tools/debian-packages.txt`. A test
 * whose requirement is missing is ignored with the reason doctor would give. The reason is printed
 * once, and when `NETKIT_TEST_SKIPS` names a file (as `make test` does) each skip is recorded
 * there with the test's location, so that `tools/skip_summary.ts` can list every skipped test by
 * reason at the end, and fail the run when a test was ignored without one.
 *
 * @module
 */

import { checkPrivileges } from "../lib/doctor/privileges.ts";
import { type Capability, checkCapability } from "../lib/doctor/require.ts";
import { type CheckResult, usable } from "../lib/doctor/result.ts";

/**
 * `root` (uid 0 with every capability netkit uses), a probe key such as `ipv4_mroute`, or a
 * tool's command such as `tshark`.
 */
export type Requirement = "root" | Capability;

/** One line of the skip record. */
export interface SkipRecord {
  reason: string;
  /** The test module, as `deno test` names it (`./tests/...`). */
  file: string;
  /** Line of the `needs()` call, inside the test's options. */
  line: number;
}

const SKIP_RECORD_ENV = "NETKIT_TEST_SKIPS";

function check(requirement: Requirement): CheckResult {
  if (requirement !== "root") return checkCapability(requirement);
  const privileges = checkPrivileges();
  // A warning (no CAP_SYS_ADMIN) is not enough: the tests make network namespaces.
  return privileges.status === "ok" ? privileges : {
    ...privileges,
    check: "root",
    status: "fail",
    detail: `${privileges.detail}, and the integration tests need root`,
  };
}

/** The reason a test that needs `result` is skipped. */
function reasonFor(result: CheckResult): string {
  // A tool's detail names the tool; a probe's needs its key ("netns: cannot tell: ...").
  return result.group === "tools" ? result.detail : `${result.check}: ${result.detail}`;
}

/** Where `needs()` was called from: the first stack frame outside this module. */
function caller(): { file: string; line: number } {
  const here = new URL(import.meta.url).pathname;
  const cwd = Deno.cwd();
  for (const frame of new Error().stack?.split("\n").slice(1) ?? []) {
    const match = /(file:\/\/[^\s)]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (match === null) continue;
    const path = new URL(match[1]!).pathname;
    if (path === here) continue;
    const file = path.startsWith(`${cwd}/`) ? `./${path.slice(cwd.length + 1)}` : path;
    return { file, line: Number(match[2]) };
  }
  return { file: "unknown", line: 0 };
}

/**
 * Appends `record` to the skip record at `path`; true when no earlier line there had its reason.
 * Test modules run in parallel workers: the lock keeps lines whole and the answer true once.
 */
export function recordSkip(path: string, record: SkipRecord): boolean {
  using file = Deno.openSync(path, { read: true, append: true, create: true });
  file.lockSync(true);
  try {
    const before = new TextDecoder().decode(Deno.readFileSync(path));
    const seen = before.split("\n").some((line) =>
      line !== "" && (JSON.parse(line) as SkipRecord).reason === record.reason
    );
    file.writeSync(new TextEncoder().encode(JSON.stringify(record) + "\n"));
    return !seen;
  } finally {
    file.unlockSync();
  }
}

const announced = new Set<string>();

/**
 * Skips the calling test for `reason`: records it when `NETKIT_TEST_SKIPS` names a file, and
 * prints the reason the first time any test of this run is skipped for it.
 */
function skip(reason: string): true {
  const path = Deno.env.get(SKIP_RECORD_ENV);
  const first = path ? recordSkip(path, { reason, ...caller() }) : !announced.has(reason);
  announced.add(reason);
  if (first) Deno.stderr.writeSync(new TextEncoder().encode(`SKIP: ${reason}\n`));
  return true;
}

/**
 * True (ignore the test) when any requirement is missing; the first missing one is the reason.
 * Call it once per test, in that test's options.
 */
export function needs(...requirements: Requirement[]): boolean {
  for (const requirement of requirements) {
    const result = check(requirement);
    if (!usable(result)) return skip(reasonFor(result));
  }
  return false;
}

/** True (ignore the test) unless `condition` holds; `reason` says what is missing. */
export function skipUnless(condition: boolean, reason: string): boolean {
  return !condition && skip(reason);
}
