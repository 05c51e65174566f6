import assert from "node:assert/strict";
import { benchLsoe, formatLsoeReport } from "../../bench/lsoe.ts";
import { needs } from "../skip.ts";

Deno.test({
  name:
    "bench/lsoe opens emulated neighbours against a netkit lsoe speaker, holds them and measures its CPU against a bare echo",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    const report = await benchLsoe({ neighbours: 20, seconds: 3, rampMs: 100 });

    // Rates and latencies are for make bench to print; here only that each part ran.
    const open = report.open;
    assert.equal(open.opened, 20, "every neighbour opened");
    assert.ok(open.speakerOpenEvents >= 20, `${open.speakerOpenEvents} session_open events`);
    assert.ok(0 < open.p50Ms && open.p50Ms <= open.p99Ms && open.p99Ms <= open.maxMs);
    assert.equal(open.met, open.p99Ms <= open.goalMs);

    const hold = report.hold;
    assert.equal(hold.openAtStart, 20);
    assert.equal(hold.spuriousCloses, 0, "keepalives every second never let a session lapse");
    assert.deepEqual(
      [hold.speaker.process, hold.baseline.process],
      ["netkit lsoe", "bare echo (baseline)"],
    );
    for (const part of [hold.speaker, hold.baseline]) {
      assert.ok(part.seconds >= 3, `${part.process}: ${part.seconds} s`);
      assert.ok(part.framesInPerSecond > 0 && part.framesOutPerSecond > 0, part.process);
      assert.ok(Number.isFinite(part.cpuPercent) && part.cpuPercent >= 0, part.process);
    }
    assert.equal(hold.baseline.vsBaseline, 1);
    assert.ok(Number.isFinite(hold.cpuPercentPer1000));

    const text = formatLsoeReport(report);
    assert.match(text, /^run .*netkit .*Deno/);
    assert.match(text, /goal: every neighbour open, p99 <= 50 ms: (met|MISSED) \(/);
    assert.match(text, /spurious closes: \d+ session_close, \d+ new nonces/);
    assert.match(
      text,
      /goal: no spurious close, <= 5 % of one core per 1,000 sessions: (met|MISSED) \(/,
    );
  },
});
