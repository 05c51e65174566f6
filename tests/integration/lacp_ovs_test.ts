import assert from "node:assert/strict";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { OvsPeer } from "../../testing/ovs_peer.ts";
import { formatMac } from "../../lib/packet/mac.ts";
import { interfaceState, netkit, startLacp, tshark } from "./_lacp.ts";
import { needs } from "../skip.ts";

/** Open vSwitch in `peer` with an active fast LACP bond on p1,p2, facing e1,e2 in `dut`. */
async function ovsLab(lab: NamespaceLab) {
  const peer = lab.netns("ovs");
  const dut = lab.netns("dut");
  const [, e1] = lab.veth({ netns: peer, name: "p1" }, { netns: dut, name: "e1" });
  const [, e2] = lab.veth({ netns: peer, name: "p2" }, { netns: dut, name: "e2" });
  const ovs = await OvsPeer.start(peer);
  try {
    await ovs.addBond({ members: ["p1", "p2"], lacp: "active", time: "fast" });
  } catch (err) {
    await ovs.close();
    throw err;
  }
  return { ovs, dut, e1: e1!, e2: e2! };
}

Deno.test({
  name:
    "netkit lacp negotiates with Open vSwitch, which expires us 3 s and defaults us 6 s after -k",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd", "tshark"),
  async fn() {
    using lab = new NamespaceLab();
    const { ovs, dut, e1, e2 } = await ovsLab(lab);
    await using _ovs = ovs;
    const before = [interfaceState(dut, "e1"), interfaceState(dut, "e2")];
    const pcap = Deno.makeTempFileSync({ suffix: ".pcap" });
    try {
      await using netkitLacp = startLacp(dut, ["-i", "e1", "-i", "e2", "--pcap", pcap]);
      const ours = await netkitLacp.aggregated(10000);
      assert.deepEqual(ours.ports.map((p) => p.partner.state_letters), ["ATGSCD", "ATGSCD"]);
      const lacp = await ovs.waitFor(
        () => ovs.lacpShow(),
        (s) =>
          s.negotiated &&
          ["p1", "p2"].every((m) =>
            s.members[m]?.status === "current attached" && s.members[m]?.mayEnable &&
            s.members[m]?.partner.state.includes("distributing") &&
            !s.members[m]?.partner.state.includes("expired")
          ),
        10000,
        "Open vSwitch to negotiate with netkit",
      );
      assert.equal(lacp.members.p1!.partner.sysId, formatMac(e1.mac), "OVS sees our system id");
      assert.deepEqual([lacp.members.p1!.partner.portId, lacp.members.p2!.partner.portId], [1, 2]);
      assert.equal(lacp.members.p1!.partner.key, 1);
      const bond = await ovs.bondShow();
      assert.equal(bond.lacpStatus, "negotiated");
      assert.ok(bond.members.p1!.enabled && bond.members.p2!.enabled, "both members carry traffic");
      assert.equal((await ovs.lacpStats()).p1!.rxBadPdus, 0, "OVS accepted every LACPDU we sent");

      const stopped = netkit(["-n", dut, "lacp", "-k"]);
      assert.equal(stopped.code, 0);
      const t0 = Date.now();
      await ovs.waitFor(
        () => ovs.lacpStats(),
        (s) => s.p1!.linkExpired > 0 && s.p2!.linkExpired > 0,
        10000,
        "OVS to expire us",
      );
      const expired = Date.now() - t0;
      await ovs.waitFor(
        () => ovs.lacpStats(),
        (s) => s.p1!.linkDefaulted > 0 && s.p2!.linkDefaulted > 0,
        10000,
        "OVS to default us",
      );
      const defaulted = Date.now() - t0;
      // Our last LACPDU went out up to 1 s before -k; OVS times out 3 s after it, then 3 s more.
      assert.ok(expired >= 1500 && expired <= 4500, `expired ${expired} ms after -k`);
      assert.ok(defaulted >= 4500 && defaulted <= 7500, `defaulted ${defaulted} ms after -k`);
      assert.deepEqual([interfaceState(dut, "e1"), interfaceState(dut, "e2")], before);

      const { rows, expert } = tshark(pcap, ["eth.src", "lacp.actor.sysid"]);
      assert.ok(rows.filter((r) => r[1] === formatMac(e1.mac)).length >= 6);
      assert.ok(rows.some((r) => r[0] === formatMac(e2.mac)), "each port sends from its own MAC");
      assert.deepEqual(expert, [], "no dissector complaints about any frame, ours or OVS's");
    } finally {
      Deno.removeSync(pcap);
    }
  },
});

Deno.test({
  name: "an injected LACPDU field shows in what Open vSwitch reports about us",
  ignore: needs("root", "netns", "veth", "tun", "ovs-vswitchd"),
  async fn() {
    using lab = new NamespaceLab();
    const { ovs, dut } = await ovsLab(lab);
    await using _ovs = ovs;
    await using netkitLacp = startLacp(dut, [
      "-i",
      "e1",
      "-i",
      "e2",
      "--inject",
      "P:+CD -> A:-CD",
      "--system-priority",
      "100",
    ]);
    await netkitLacp.aggregated(10000);
    const lacp = await ovs.waitFor(
      () => ovs.lacpShow(),
      (s) =>
        s.members.p1?.status === "current attached" &&
        s.members.p1.partner.state.includes("synchronized"),
      10000,
      "OVS to hear the injected state",
    );
    const partner = lacp.members.p1!.partner;
    assert.equal(partner.sysPriority, 100, "--system-priority reaches the wire");
    assert.ok(
      !partner.state.includes("collecting") && !partner.state.includes("distributing"),
      partner.state.join(" "),
    );
    // Our true state is collecting and distributing; only the wire says otherwise.
    const port = await netkitLacp.port("e1");
    assert.equal(port.actor.state_letters, "ATGSCD");
    assert.ok(port.inject_rules[0]!.fired > 0);
    assert.match(netkitLacp.log(), /Inject rule triggered on e1: Actor state ATGSCD -> ATGS/);
  },
});
