import assert from "node:assert/strict";
import { benchCli, CLIENT_COMMANDS, formatCliReport } from "../bench/cli.ts";

Deno.test("bench/cli times every client command against the bare Deno start", async () => {
  const report = await benchCli({ rounds: 1, warmup: 0, daemon: false });
  assert.equal(report.baseline.ratio, 1);
  assert.equal(report.baseline.exitCode, 0);
  assert.deepEqual(report.results.map((r) => r.command), CLIENT_COMMANDS.map((c) => c.join(" ")));
  for (const r of [report.baseline, ...report.results]) {
    assert.ok(r.medianMs > 0 && Number.isFinite(r.ratio), `${r.command}: ${r.medianMs} ms`);
  }
  assert.equal(report.results.find((r) => r.command === "version")?.exitCode, 0);
  assert.match(formatCliReport(report), /vs bare\n/);
  assert.match(formatCliReport(report), /running-daemon case skipped: not asked/);
});
