import assert from "node:assert/strict";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { LacpDaemon, type LacpDaemonOptions } from "../../lib/lacp/daemon.ts";
import { skipUnlessRoot } from "./_root.ts";

const ignore = skipUnlessRoot();

function options(netns: string, interfaces: string[]): LacpDaemonOptions {
  return {
    interfaces,
    netns,
    active: true,
    fast: true,
    systemPriority: 32768,
    key: 1,
    portPriority: 32768,
    rules: [],
    exitAfterInject: false,
  };
}

Deno.test({
  name: "LacpDaemon runs on other namespaces' interfaces from one process (netns option)",
  ignore,
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
    await using da = await LacpDaemon.start(options(a, ["a1"]));
    await using db = await LacpDaemon.start(options(b, ["b1"]));
    const runs = [da.run(), db.run()];
    try {
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline && ![da, db].every((d) => d.system.isAggregated(0))) {
        await new Promise((r) => setTimeout(r, 50));
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
