/**
 * The kernel lane: the integration tests that need a kernel feature this host lacks but Debian's
 * user-mode Linux has (bonding, netem, IPv4 multicast routing) run inside it, in one boot, and
 * each of their files must pass there. On a host that has the features they ran here already, and
 * these tests skip saying so.
 *
 * The lane's JUnit report goes to `$NETKIT_LANE_REPORT` when `make test` sets it, so the closing
 * skip summary can say which of the tests skipped here ran in the lane.
 */

import assert from "node:assert/strict";
import { probe } from "../../lib/doctor/probes.ts";
import type { ProbeKey } from "../../lib/doctor/result.ts";
import { shellQuote } from "../../lib/text.ts";
import { laneMissing, type LaneRun, runInLane } from "../../testing/uml_lane.ts";
import { parseJunit, type TestCase } from "../../tools/skip_summary.ts";
import { skipUnless } from "../skip.ts";

/** The test files that need each feature the lane brings (keys: doctor's probes). */
const LANE_FILES: Record<"bonding" | "ipv4_mroute" | "netem", string[]> = {
  bonding: ["tests/integration/lacp_bond_test.ts"],
  // deno-lint-ignore camelcase
  ipv4_mroute: [
    "tests/integration/mroute_test.ts",
    "tests/integration/mroute_kernel_test.ts",
    "tests/integration/lab_mroute_test.ts",
    "tests/integration/bench_mroute_smoke_test.ts",
    "tests/integration/mroute_refusal_test.ts",
    "tests/integration/mroute_apply_test.ts",
  ],
  netem: ["tests/integration/l2_netem_test.ts"],
};
const LANE_MODULES = ["ipv6", "veth", "bridge", "tun", "bonding", "sch_netem", "udp_diag"];
/** The whole lane, boot to power-off; `make test` must stay far below its 30 minutes. */
const LANE_TIMEOUT_MS = 12 * 60_000;

const missing = laneMissing();
const lacking = (Object.keys(LANE_FILES) as (keyof typeof LANE_FILES)[]).filter((key) =>
  missing === null && probe(key as ProbeKey).status !== "ok"
);
const scheduled = lacking.flatMap((key) => LANE_FILES[key]);

/** The lane's one run: every scheduled file, in one boot. */
let lane: Promise<{ run: LaneRun; cases: TestCase[] }> | null = null;

async function runLane(): Promise<{ run: LaneRun; cases: TestCase[] }> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-lane-" });
  try {
    const deno = Deno.execPath();
    const command = [
      "NO_COLOR=1",
      `NETKIT_TEST_SKIPS=${shellQuote(`${dir}/skips.jsonl`)}`,
      shellQuote(deno),
      // Type-checked on the host already (make test); the lane only runs them.
      "test -P=test --frozen --cached-only --no-check",
      shellQuote(`--junit-path=${dir}/report.xml`),
      ...scheduled.map(shellQuote),
    ].join(" ");
    const run = await runInLane(command, dir, {
      timeoutMs: LANE_TIMEOUT_MS,
      modules: LANE_MODULES,
      mem: "3G",
    });
    // No report: the run's output says why.
    const xml = await Deno.readTextFile(`${dir}/report.xml`).catch(() => "");
    const report = Deno.env.get("NETKIT_LANE_REPORT");
    if (report !== undefined && xml !== "") await Deno.writeTextFile(report, xml);
    return { run, cases: parseJunit(xml) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function why(file: string): string | false {
  if (missing !== null) return missing;
  if (scheduled.includes(file)) return false;
  return "the host kernel has what this file needs: it ran here";
}

for (const [feature, files] of Object.entries(LANE_FILES)) {
  for (const file of files) {
    const reason = why(file);
    Deno.test({
      name: `kernel lane: ${file} (${feature}) passes inside user-mode Linux`,
      ignore: skipUnless(reason === false, reason || ""),
      async fn() {
        lane ??= runLane();
        const { run, cases } = await lane;
        const tail = `${run.output.slice(-3000)}\n--- console ---\n${run.console.slice(-1500)}`;
        assert.ok(!run.timedOut, `the lane timed out after ${run.ms} ms:\n${tail}`);
        const mine = cases.filter((c) => c.file === `./${file}`);
        assert.ok(mine.length > 0, `no result for ${file} from the lane:\n${tail}`);
        const failed = mine.filter((c) => c.failed).map((c) => c.name);
        assert.deepEqual(failed, [], `failed inside the lane:\n${tail}`);
        assert.ok(mine.some((c) => !c.skipped), `every test of ${file} was skipped in the lane`);
      },
    });
  }
}
