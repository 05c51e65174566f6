/**
 * On kernels that lack what `netkit mroute` needs, its daemon and lab refuse in one line before
 * they build or write anything. Each test runs only where its kernel feature is missing (the
 * probe decides), so on a full kernel they are skipped, saying why.
 */

import assert from "node:assert/strict";
import { probe } from "../../lib/doctor/probes.ts";
import { ip } from "../../lib/lab/namespace_lab.ts";
import { needs, skipUnless } from "../skip.ts";
import { netkit } from "./_lacp.ts";

const DOCTOR = '; "netkit doctor" checks this machine\n';

/**
 * The named network namespaces a multicast lab would make (sender, router, receiver). Other
 * tests make namespaces of their own meanwhile; none of them has these names where this test
 * runs, since the tests that run multicast labs need the multicast routing this kernel lacks.
 */
function labNamespaces(): string[] {
  return ip("netns", "list").split("\n").map((l) => l.split(" ")[0]!)
    .filter((name) => /-(snd|rtr|rcv)$/.test(name)).sort();
}

/** Runs netkit with a fresh directory for its socket and state; the directory must stay empty. */
function refused(args: (dir: string) => string[]): string {
  const dir = Deno.makeTempDirSync({ prefix: "netkit-refusal-" });
  try {
    const before = labNamespaces();
    const { code, out, err } = netkit(args(dir));
    assert.equal(code, 1, err);
    assert.equal(out, "");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
    assert.deepEqual(labNamespaces(), before, "no namespace built");
    return err;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "without IPv4 multicast routing, mroute daemon (with and without -d) and lab mroute refuse in one line naming CONFIG_IP_MROUTE and netkit doctor",
  ignore: needs("root") ||
    skipUnless(
      probe("ipv4_mroute").status === "missing",
      "the kernel has IPv4 multicast routing: there is no refusal to see",
    ),
  fn() {
    const daemon = (
      dir: string,
    ) => ["mroute", "daemon", "--socket", `${dir}/s`, "--state", `${dir}/j`];
    for (const args of [daemon, (dir: string) => [...daemon(dir), "-d"]]) {
      assert.equal(
        refused(args),
        "netkit: error: This kernel has no IPv4 multicast routing (ENOPROTOOPT): it needs " +
          `CONFIG_IP_MROUTE${DOCTOR}`,
      );
    }
    assert.equal(
      refused(() => ["lab", "mroute"]),
      "netkit: error: netkit lab mroute cannot run here: no IPv4 multicast routing: the kernel " +
        `lacks CONFIG_IP_MROUTE (MRT_INIT: ENOPROTOOPT)${DOCTOR}`,
    );
  },
});

Deno.test({
  name:
    "with IPv4 multicast routing but one table, mroute daemon --table 7 refuses naming CONFIG_IP_MROUTE_MULTIPLE_TABLES",
  ignore: needs("root", "ipv4_mroute") ||
    skipUnless(
      probe("ipv4_mroute_tables").status === "missing",
      "the kernel has IPv4 multicast routing tables: there is no refusal to see",
    ),
  fn() {
    assert.equal(
      refused((
        dir,
      ) => ["mroute", "daemon", "--table", "7", "--socket", `${dir}/s`, "--state", `${dir}/j`]),
      "netkit: error: This kernel has no IPv4 multicast routing tables other than the default " +
        `(ENOPROTOOPT): they need CONFIG_IP_MROUTE_MULTIPLE_TABLES${DOCTOR}`,
    );
  },
});
