import assert from "node:assert/strict";
import { benchMroute, formatMrouteReport } from "../../bench/mroute.ts";
import { needs } from "../skip.ts";

Deno.test({
  name: "bench/mroute installs every route with netkit, smcroute and the kernel and reports rates",
  ignore: needs("root", "netns", "veth", "ipv4_mroute", "smcrouted"),
  async fn() {
    const report = await benchMroute({ routes: 500, perCall: 5 });

    const bulk = report.bulk.results;
    assert.deepEqual(bulk.map((r) => r.method.split(" ")[0]), [
      "netkit",
      "netkit",
      "smcroutectl",
      "kernel",
    ]);
    for (const r of bulk) {
      // Counted in the kernel afterwards: a side that lost routes would be reported faster.
      assert.equal(r.installed, 500, `${r.method}: ${r.installed} installed`);
      assert.ok(r.seconds > 0 && Number.isFinite(r.seconds), `${r.method}: ${r.seconds} s`);
      assert.ok(Math.abs(r.routesPerSecond - r.installed / r.seconds) < 1e-6);
    }
    assert.equal(bulk[2]!.vsSmcrouteBatch, 1);
    assert.equal(bulk[3]!.vsKernel, 1);
    assert.deepEqual(report.bulk.routesPerSecondMet, {
      firstRequest: bulk[0]!.routesPerSecond >= report.bulk.goalRoutesPerSecond,
      running: bulk[1]!.routesPerSecond >= report.bulk.goalRoutesPerSecond,
    });
    assert.deepEqual(report.bulk.vsSmcrouteBatchMet, {
      firstRequest: bulk[0]!.vsSmcrouteBatch >= report.bulk.goalVsSmcrouteBatch,
      running: bulk[1]!.vsSmcrouteBatch >= report.bulk.goalVsSmcrouteBatch,
    });
    assert.ok(report.applyRequestBytes > 500 * 50 && report.applyRequestBytes < 500 * 200);

    const calls = report.perCallResults.results;
    assert.deepEqual(calls.map((r) => r.method.split(" ")[0]), [
      "./netkit",
      "smcroutectl",
      "./netkit",
      "./netkit",
      "netkit",
    ]);
    assert.deepEqual(calls.map((r) => r.installed), [5, 5, null, null, 5]);
    assert.equal(calls[1]!.vsSmcroute, 1);
    for (const r of calls) {
      assert.equal(r.calls, 5);
      assert.ok(r.medianMs > 0 && r.medianMs <= r.p95Ms, `${r.method}: ${r.medianMs} ms`);
      assert.ok(r.routesPerSecond > 0 && Number.isFinite(r.routesPerSecond));
    }
    // Starting the process and the request alone are each only a part of a CLI add.
    const { startShare, modulesShare, requestShare } = report.perCallResults;
    for (const share of [startShare, requestShare]) assert.ok(share > 0 && share < 1, `${share}`);
    assert.ok(Number.isFinite(modulesShare));

    const text = formatMrouteReport(report);
    assert.match(text, /vs smcroutectl -b {2}vs kernel\n/);
    assert.match(
      text,
      /goal: APPLY >= 100,000 routes\/s: running daemon (met|MISSED) \(.*\); first request after start (met|MISSED) \(/,
    );
    assert.match(text, /goal: APPLY >= 20x smcroutectl -b: running daemon (met|MISSED) \(/);
    assert.match(text, /vs smcroutectl\n/);
  },
});
