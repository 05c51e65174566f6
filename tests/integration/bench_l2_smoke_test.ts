import assert from "node:assert/strict";
import { benchL2, formatL2Report } from "../../bench/l2.ts";
import { findOnPath } from "../../lib/doctor/tools.ts";
import { needs } from "../skip.ts";

Deno.test({
  name: "bench/l2 pushes frames and TCP through the tunnel and the kernel path and reports both",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    const report = await benchL2({
      seconds: 0.5,
      rates: [5000],
      pings: 10,
      tcpSeconds: 1,
      tcpCases: [{ direction: "lan_to_client", gro: "on" }],
    });
    assert.deepEqual(
      report.throughput.map((r) => `${r.path} ${r.frameBytes}`),
      ["tunnel 64", "kernel 64", "tunnel 1000", "kernel 1000"],
    );
    // Well-formed, and end to end: frames were sent and some arrived (counted by the LAN host's
    // kernel). How many, how fast and how late is what the benchmark reports, not what it proves.
    for (const r of report.throughput) {
      assert.equal(r.sent, 2500, `${r.path}: ${r.sent} sent`);
      assert.ok(r.received > 0, `${r.path} ${r.frameBytes} B: nothing arrived`);
      assert.ok(r.received <= r.sent + 20, `${r.path}: ${r.received} > ${r.sent}`);
    }
    assert.deepEqual(
      report.latency.map((l) => `${l.path} ${l.frameBytes} ${l.intervalMs}`).sort(),
      [
        "kernel 1000 0",
        "kernel 1000 10",
        "kernel 64 0",
        "kernel 64 10",
        "tunnel 1000 0",
        "tunnel 1000 10",
        "tunnel 64 0",
        "tunnel 64 10",
      ],
    );
    for (const l of report.latency) {
      assert.ok(l.lost >= 0 && l.lost <= 10, `${l.path}: lost ${l.lost} of 10`);
      assert.ok(l.lost === 10 || l.medianMs > 0, `${l.path}: ${l.medianMs} ms`);
    }
    // The floor: bare Deno QUIC between the same namespaces echoed and carried datagrams.
    assert.ok(report.floor.rttMs["64"]! > 0 && report.floor.rttMs["1000"]! > 0);
    assert.ok(report.floor.received > 0, JSON.stringify(report.floor));
    assert.ok(report.floor.sendCpuUs > 0 && report.floor.receiveCpuUs > 0);
    for (const r of report.throughput.filter((r) => r.path === "tunnel")) {
      for (const [process, percent] of Object.entries(r.cpuPercent!)) {
        assert.ok(Number.isFinite(percent) && percent >= 0, `${process}: ${percent} %`);
      }
    }

    // TCP: each run took its own path (the other carried next to nothing meanwhile), and the
    // tunnel's run has the drops of gateway, client and relay from reports sent after it.
    const [tcp] = report.tcp;
    assert.equal(report.tcp.length, 1);
    if (findOnPath("iperf3") === null || findOnPath("ethtool") === null) {
      assert.match(tcp!.skipped!, /is not installed/);
    } else {
      assert.equal(tcp!.skipped, null);
      for (const run of [tcp!.kernel!, tcp!.tunnel!]) {
        assert.ok(run.bytes > 0 && run.pathBytes >= run.bytes, JSON.stringify(run));
        assert.ok(run.otherPathBytes < 20_000, JSON.stringify(run));
      }
      assert.ok(tcp!.drops!.fresh, JSON.stringify(tcp!.drops));
      assert.equal(report.ratios.tcp.length, 1);
    }

    const text = formatL2Report(report);
    const lines = text.split("\n");
    const { provenance: p } = report;
    assert.equal(p.kernel, Deno.osRelease());
    assert.match(p.netkit, /^[0-9a-f]{12}(\+changes)?$/);
    assert.match(
      lines[1]!,
      new RegExp(
        `^run \\d{4}-\\d\\d-\\d\\dT.*, ${p.cores} cores, kernel .*, netkit ${
          p.netkit.replace("+", "\\+")
        }`,
      ),
    );
    // Ratios first, then the numbers they come from.
    const ratios = lines.findIndex((l) => l.startsWith("ratio to this run's baseline"));
    assert.ok(ratios > 1 && ratios < lines.findIndex((l) => l.startsWith("path ")), text);
    assert.match(text, /TCP Mbit\/s LAN → client, GRO on \/ kernel path|skipped: /);
    assert.match(text, /the tunnel's round trip crosses two/);
    assert.match(text, /goal added median latency ≤ 0\.3 ms: (met|MISSED)/);
  },
});
