/**
 * The capability probes against what the kernel shows elsewhere: each probe's answer must agree
 * with an independent witness (procfs, iproute2), and probing must leave the namespace it runs
 * in exactly as it was.
 */

import assert from "node:assert/strict";
import { ip } from "../../lib/lab/namespace_lab.ts";
import { probe } from "../../lib/doctor/probes.ts";
import { PROBES } from "../../lib/doctor/result.ts";
import { currentNetnsId } from "../../lib/net/netns.ts";
import { needs } from "../skip.ts";
import { exists } from "./_lab.ts";

Deno.test({
  name: "multicast routing probes agree with /proc/net/ip_mr_vif and ip6_mr_vif, and ip mrule",
  ignore: needs("root", "ip"),
  fn() {
    // procfs has these files exactly when the kernel was built with multicast routing.
    assert.equal(probe("ipv4_mroute").status, exists("/proc/net/ip_mr_vif") ? "ok" : "missing");
    assert.equal(probe("ipv6_mroute").status, exists("/proc/net/ip6_mr_vif") ? "ok" : "missing");
    for (const family of [4, 6] as const) {
      const tables = probe(`ipv${family}_mroute_tables`);
      // Multicast routing rules exist only with multiple tables.
      const rules = new Deno.Command("ip", {
        args: [`-${family}`, "mrule", "show"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      assert.equal(tables.status === "ok", rules.success, `IPv${family}: ${tables.detail}`);
      if (probe(`ipv${family}_mroute`).status !== "ok") assert.equal(tables.status, "missing");
    }
  },
});

Deno.test({
  name: "hugetlb and tun probes agree with /proc/meminfo and /dev/net/tun",
  ignore: needs("root"),
  fn() {
    const hugetlb = /^Hugepagesize:/m.test(Deno.readTextFileSync("/proc/meminfo"));
    assert.equal(probe("hugetlb").status, hugetlb ? "ok" : "missing");
    if (!exists("/dev/net/tun")) assert.notEqual(probe("tun").status, "ok");
  },
});

Deno.test({
  name:
    "running every probe leaves this namespace's links, multicast tables and namespace as found",
  ignore: needs("root", "ip"),
  fn() {
    const links = () => ip("-o", "link", "show").replace(/^\d+: /gm, "").split("\n").sort();
    const netns = currentNetnsId();
    const before = links();
    const results = PROBES.map((key) => probe(key));
    assert.deepEqual(links(), before, "a probe left a link behind");
    assert.equal(currentNetnsId(), netns, "a probe left the thread in another namespace");
    for (const r of results) {
      assert.ok(
        ["ok", "warn", "missing"].includes(r.status),
        `${r.check}: ${r.status}: ${r.detail}`,
      );
    }
    if (probe("ipv4_mroute_tables").status === "ok") {
      // The probe's table 7 was made in a namespace of its own, gone with it.
      const shown = new Deno.Command("ip", { args: ["-4", "mroute", "show", "table", "7"] })
        .outputSync();
      assert.ok(!shown.success || new TextDecoder().decode(shown.stdout).trim() === "");
    }
  },
});
