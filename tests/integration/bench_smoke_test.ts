import assert from "node:assert/strict";
import { benchPacketIo, formatPacketIoReport } from "../../bench/packet_io.ts";
import { needs } from "../skip.ts";

Deno.test({
  name: "bench/packet_io measures all three receive methods against the C baseline",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    const report = await benchPacketIo({ frames: 3000, rounds: 1, hugepages: false });
    assert.deepEqual(report.results.map((r) => r.method.split(" ")[0]), ["C", "netkit", "netkit"]);
    assert.equal(report.results[0]!.ratio, 1);
    for (const r of report.results) {
      assert.ok(r.framesPerSecond > 0, `${r.method}: ${r.framesPerSecond} frames/s`);
      assert.ok(Number.isFinite(r.ratio) && r.ratio > 0);
    }
    assert.match(formatPacketIoReport(report), /vs C loop\n/);
  },
});
