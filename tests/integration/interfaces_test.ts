import assert from "node:assert/strict";
import { NetkitError, NetkitOsError } from "../../lib/errors.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import {
  getInterface,
  interfaceIndex,
  interfaceName,
  LinkType,
  requireEthernet,
  setInterfaceMac,
  setInterfaceMtu,
  setInterfaceUp,
} from "../../lib/net/interfaces.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { formatMac, parseMac } from "../../lib/packet/mod.ts";
import { needs } from "../skip.ts";

Deno.test({
  name:
    "getInterface() reports index, MAC, type, MTU, flags and carrier from the namespace's kernel",
  ignore: needs("root", "netns", "veth"),
  fn() {
    using lab = new NamespaceLab();
    const [a, b] = lab.veth({ netns: lab.netns("a"), name: "i0" }, {
      netns: lab.netns("b"),
      name: "i1",
    });
    ip("-n", a.netns, "link", "set", a.name, "mtu", "1400");
    const info = runInNetns(a.netns, () => getInterface(a.name));
    assert.equal(info.ifindex, a.ifindex);
    assert.equal(formatMac(info.mac), formatMac(a.mac));
    assert.equal(info.type, LinkType.ETHER);
    assert.equal(info.mtu, 1400);
    assert.equal(info.up, true);
    assert.equal(info.carrier, true);
    // Carrier follows the peer; the interface itself stays administratively up.
    ip("-n", b.netns, "link", "set", b.name, "down");
    const lost = runInNetns(a.netns, () => getInterface(a.name));
    assert.equal(lost.up, true);
    assert.equal(lost.carrier, false);
    assert.equal(runInNetns(a.netns, () => interfaceName(a.ifindex)), "i0");
    assert.equal(runInNetns(a.netns, () => interfaceIndex("i0")), a.ifindex);
  },
});

Deno.test({
  name: "interface lookups see the namespace they run in, not the caller's",
  ignore: needs("root", "netns", "veth"),
  fn() {
    using lab = new NamespaceLab();
    const [a] = lab.veth({ netns: lab.netns("a"), name: "only0" }, {
      netns: lab.netns("b"),
      name: "only1",
    });
    assert.equal(runInNetns(a.netns, () => getInterface("only0")).ifindex, a.ifindex);
    assert.throws(() => getInterface("only0"), {
      name: "NetkitOsError",
      message: 'look up interface "only0": ENODEV (No such device)',
    });
  },
});

Deno.test({
  name: "setInterfaceMtu/Mac/Up change the interface as ip link shows it",
  ignore: needs("root", "netns", "veth"),
  fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("set");
    ip("-n", ns, "link", "add", "s0", "type", "veth", "peer", "name", "s1");
    runInNetns(ns, () => {
      setInterfaceMtu("s0", 1280);
      setInterfaceMac("s0", parseMac("02:00:00:00:12:80"));
      setInterfaceUp("s0", true);
    });
    const [link] = JSON.parse(ip("-j", "-n", ns, "link", "show", "s0"));
    assert.equal(link.mtu, 1280);
    assert.equal(link.address, "02:00:00:00:12:80");
    assert.ok(link.flags.includes("UP"));
    assert.throws(
      () => runInNetns(ns, () => setInterfaceMtu("s0", 10)),
      (err: unknown) =>
        err instanceof NetkitOsError && err.code === "EINVAL" &&
        /set MTU 10 on "s0"/.test(err.message),
    );
  },
});

Deno.test({
  name: "requireEthernet() refuses loopback and names the link type",
  ignore: needs("root", "netns"),
  fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("lo");
    const lo = runInNetns(ns, () => getInterface("lo"));
    assert.equal(lo.type, LinkType.LOOPBACK);
    assert.throws(
      () => requireEthernet(lo, "LACP"),
      (err: unknown) =>
        err instanceof NetkitError &&
        err.message ===
          'Interface "lo" is not Ethernet (link type loopback): LACP needs an Ethernet interface',
    );
  },
});
