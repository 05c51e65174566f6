import assert from "node:assert/strict";
import { delay } from "../../lib/async.ts";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { LacpDaemon, lacpDaemonOptions } from "../../lib/lacp/daemon.ts";
import { needs } from "../skip.ts";

Deno.test({
  name: "LacpDaemon runs on other namespaces' interfaces from one process (netns option)",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
    await using da = await LacpDaemon.start(lacpDaemonOptions(["a1"], { netns: a }));
    await using db = await LacpDaemon.start(lacpDaemonOptions(["b1"], { netns: b }));
    const runs = [da.run(), db.run()];
    try {
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline && ![da, db].every((d) => d.system.isAggregated(0))) {
        await delay(50);
      }
      assert.ok(da.system.isAggregated(0) && db.system.isAggregated(0));
      assert.notEqual(da.status().net_ns_id, db.status().net_ns_id);
      assert.notEqual(da.controlPath, db.controlPath);
    } finally {
      da.stop();
      db.stop();
      assert.deepEqual(await Promise.all(runs), [0, 0]);
    }
  },
});
