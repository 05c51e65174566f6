import assert from "node:assert/strict";
import { benchL2, formatL2Report } from "../../bench/l2.ts";
import { skipUnlessRoot } from "../skip.ts";

const ignore = skipUnlessRoot();

Deno.test({
  name: "bench/l2 pushes frames through the tunnel and the kernel path and reports both",
  ignore,
  async fn() {
    const report = await benchL2({ seconds: 0.5, rates: [5000], pings: 10 });
    assert.deepEqual(
      report.throughput.map((r) => `${r.path} ${r.frameBytes}`),
      ["tunnel 64", "kernel 64", "tunnel 1000", "kernel 1000"],
    );
    for (const r of report.throughput) {
      assert.equal(r.sent, 2500, `${r.path}: ${r.sent} sent`);
      // A light load: the tunnel delivers (nearly) all, counted by the LAN host's kernel.
      assert.ok(
        r.received >= 0.98 * r.sent,
        `${r.path} ${r.frameBytes} B: ${r.received} of ${r.sent}`,
      );
      assert.ok(r.received <= r.sent + 20, `${r.path}: ${r.received} > ${r.sent}`);
    }
    for (const l of report.latency) {
      assert.equal(l.lost, 0, `${l.path} ${l.frameBytes} B lost ${l.lost}`);
      assert.ok(l.medianMs > 0 && l.medianMs < 50, `${l.path}: ${l.medianMs} ms`);
    }
    assert.equal(report.latency.length, 8);
    const of = (path: string) =>
      report.latency.find((l) => l.path === path && l.frameBytes === 64 && l.intervalMs === 10)!;
    const tunnel = of("tunnel");
    const kernel = of("kernel");
    assert.ok(tunnel.medianMs > kernel.medianMs, "the tunnel cannot beat the kernel path");
    // The floor: bare Deno QUIC between the same namespaces echoed and carried datagrams.
    assert.ok(report.floor.rttMs["64"]! > 0 && report.floor.rttMs["1000"]! > 0);
    assert.ok(report.floor.received > 0.9 * report.floor.sent, JSON.stringify(report.floor));
    assert.ok(report.floor.sendCpuUs > 0 && report.floor.receiveCpuUs > 0);
    for (const r of report.throughput.filter((r) => r.path === "tunnel")) {
      assert.ok(r.cpuPercent!.relay > 0, `${r.frameBytes} B: the relay used no CPU?`);
    }
    const text = formatL2Report(report);
    assert.match(text, /the tunnel's round trip crosses two/);
    assert.match(text, /goal added median latency ≤ 0\.3 ms: (met|MISSED)/);
  },
});
