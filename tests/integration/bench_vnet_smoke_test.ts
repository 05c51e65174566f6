import assert from "node:assert/strict";
import { benchVnet, formatVnetReport } from "../../bench/vnet.ts";
import { needs } from "../skip.ts";

Deno.test({
  name:
    "bench/vnet routes through netkit and the kernel and leases every MAC from netkit and dnsmasq",
  ignore: needs("root", "netns", "veth", "tun", "dnsmasq"),
  async fn() {
    const report = await benchVnet({
      windows: 1,
      windowMs: 200,
      clients: 8,
      concurrency: 4,
      rounds: 1,
    });

    // (a): both paths routed (TTL taken off once, the gateway's MAC as source), both measured.
    assert.deepEqual(report.routed.checks.map((c) => [c.path, c.ttl, c.sourceMac]), [
      ["netkit", 63, "02:00:00:00:00:01"],
      ["kernel", 63, "02:00:00:00:00:01"],
    ]);
    assert.deepEqual(
      report.routed.results.map((r) => [r.path, r.ipBytes]),
      [["netkit", 46], ["kernel", 46], ["netkit", 1400], ["kernel", 1400]],
    );
    for (const r of report.routed.results) {
      assert.equal(r.windows.length, 1);
      const [w] = r.windows;
      // Rates are for make bench to print; here only that something went through.
      assert.ok(w!.sent > 0 && w!.received > 0, `${r.path} ${r.size}: ${JSON.stringify(w)}`);
      assert.ok(w!.received <= w!.sent, `${r.path} ${r.size}: more received than sent`);
      assert.ok(Number.isFinite(r.vsKernel) && r.vsKernel > 0);
    }
    const small = report.routed.results[0]!;
    assert.equal(report.routed.met, small.vsKernel >= report.routed.goalVsKernel);

    // (b): every MAC leased its configured address by both servers.
    assert.deepEqual(report.dhcp.results.map((r) => r.server), ["netkit", "dnsmasq"]);
    for (const r of report.dhcp.results) {
      assert.equal(r.allAddressesRight, true, r.server);
      assert.deepEqual(r.rounds.map((x) => [x.clients, x.completed]), [[8, 8]], r.server);
      assert.ok(r.exchangesPerSecond > 0 && Number.isFinite(r.exchangesPerSecond));
    }
    assert.equal(report.dhcp.results[1]!.vsDnsmasq, 1);
    assert.equal(
      report.dhcp.met,
      report.dhcp.results[0]!.vsDnsmasq >= report.dhcp.goalVsDnsmasq,
    );

    const text = formatVnetReport(report);
    assert.match(text, /^run .*netkit .*Deno/);
    assert.match(text, /goal: 64 B netkit >= 0\.5x the kernel: (met|MISSED) \(/);
    assert.match(text, /goal: netkit >= 1x dnsmasq: (met|MISSED) \(/);
  },
});
