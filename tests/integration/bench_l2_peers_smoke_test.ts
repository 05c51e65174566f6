import assert from "node:assert/strict";
import { benchL2Peers, formatPeersReport, HOPS } from "../../bench/l2_peers.ts";
import { checkTool } from "../../lib/doctor/tools.ts";
import { needs } from "../skip.ts";

Deno.test({
  name: "bench/l2_peers runs netkit, tinc and n2n side by side, or says why a peer was skipped",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    const report = await benchL2Peers({ pings: 10, rounds: 2, rate: 2000, seconds: 0.5, hops: 10 });
    // Each peer ran when its tools are installed, and was skipped with doctor's reason otherwise.
    const expected = ["netkit"];
    for (const [peer, tools] of [["tinc", ["tincd"]], ["n2n", ["supernode", "edge"]]] as const) {
      const missing = tools.map(checkTool).find((c) => c.status !== "ok");
      if (missing === undefined) expected.push(peer);
      else assert.ok(report.skipped.some((s) => s.what === peer && s.reason === missing.detail));
    }
    assert.deepEqual(report.latency.map((l) => l.path), ["kernel", ...expected]);
    // End to end through each tunnel: echoes came back (how fast is the benchmark's to say).
    for (const l of report.latency) {
      assert.equal(l.samples + l.lost, 20, `${l.path}: ${l.samples} + ${l.lost} lost`);
      assert.ok(l.samples > 0 && l.medianMs > 0 && l.p99Ms >= l.medianMs, JSON.stringify(l));
      assert.equal(l.added === undefined, l.path === "kernel");
    }
    assert.equal(report.addedVsTinc.tinc === undefined, !expected.includes("tinc"));
    assert.deepEqual(report.load.map((l) => l.tunnel), expected);
    for (const l of report.load) {
      assert.equal(l.sent, 2000, `${l.tunnel}: ${l.sent} sent`);
      assert.ok(l.received > 0 && l.received <= l.sent + 20, `${l.tunnel}: ${l.received}`);
      assert.ok(Number.isFinite(l.cpuUsPerFrame.total) && l.cpuUsPerFrame.total >= 0);
    }
    if (checkTool("tshark").status === "ok") {
      assert.deepEqual(report.hops.map((h) => h.tunnel), expected);
      for (const h of report.hops) {
        // The echoes were found at every capture point, in order, so no hop is negative.
        assert.ok(h.matched > 0, `${h.tunnel}: no echo seen at every point`);
        assert.equal(h.hopMs.length, HOPS.length);
        assert.ok(h.hopMs.every((ms) => ms >= 0), `${h.tunnel}: ${h.hopMs}`);
        assert.ok(h.totalMs > 0);
      }
      // The floor: bare Deno echo servers answered over UDP and QUIC, and their turnaround was
      // found in the capture.
      assert.deepEqual(report.floor.map((f) => f.transport), ["udp", "quic"]);
      for (const f of report.floor) {
        assert.ok(f.samples > 0 && f.turnaroundMs > 0 && f.rttMs > 0, JSON.stringify(f));
      }
    } else assert.ok(report.skipped.some((s) => s.what === "hops"));
    const text = formatPeersReport(report);
    assert.match(text, /client TAP → WAN/);
    if (expected.includes("tinc")) assert.match(text, /netkit adds [0-9.]+ ms .*x tinc's/);
  },
});
