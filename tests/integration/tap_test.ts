import assert from "node:assert/strict";
import { runInNetns } from "../../lib/net/netns.ts";
import { Poller } from "../../lib/net/poller.ts";
import { TapDevice } from "../../lib/net/tap.ts";
import {
  BROADCAST_MAC,
  decodeEthernet,
  encodeEthernet,
  EtherType,
  formatMac,
  parseMac,
} from "../../lib/packet/mod.ts";
import { ip, ipJson, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { needs } from "../skip.ts";

/** An ARP request "who has `target`? tell `sender`" (RFC 826, Ethernet/IPv4). */
function arpRequest(senderMac: Uint8Array, senderIp: number[], targetIp: number[]): Uint8Array {
  const arp = new Uint8Array(28);
  const view = new DataView(arp.buffer);
  view.setUint16(0, 1); // hardware type: Ethernet
  view.setUint16(2, EtherType.IPV4);
  arp[4] = 6;
  arp[5] = 4;
  view.setUint16(6, 1); // request
  arp.set(senderMac, 8);
  arp.set(senderIp, 14);
  arp.set(targetIp, 24);
  return encodeEthernet({
    dst: BROADCAST_MAC,
    src: senderMac,
    etherType: EtherType.ARP,
    payload: arp,
  });
}

Deno.test({
  name: "TapDevice carries a frame to the kernel and the kernel's answer back",
  ignore: needs("root", "netns", "tun"),
  async fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("tap");
    const mac = parseMac("02:00:5e:10:00:01");
    using tap = runInNetns(ns, () => TapDevice.open({ name: "nktap0", mtu: 1400, mac }));
    const [link] = ipJson<{ mtu: number; address: string; flags: string[] }[]>(
      "-n",
      ns,
      "link",
      "show",
      "nktap0",
    );
    assert.equal(link?.mtu, 1400);
    assert.equal(link?.address, "02:00:5e:10:00:01");
    assert.ok(link?.flags.includes("UP"));
    ip("-n", ns, "addr", "add", "192.0.2.1/24", "dev", "nktap0");

    const peer = parseMac("02:00:5e:10:00:02");
    assert.equal(tap.write(arpRequest(peer, [192, 0, 2, 2], [192, 0, 2, 1])), true);

    await using poller = new Poller();
    const buffer = new Uint8Array(2048);
    let reply: Uint8Array | null = null;
    const deadline = Date.now() + 2000;
    while (reply === null && Date.now() < deadline) {
      await poller.wait([tap.fd], deadline - Date.now());
      for (let n = tap.read(buffer); n !== null; n = tap.read(buffer)) {
        const frame = buffer.slice(0, n);
        const eth = decodeEthernet(frame);
        // The kernel also sends IPv6 router solicitations and MLD reports: skip them.
        if (eth.etherType === EtherType.ARP && eth.payload[7] === 2) reply = frame;
      }
    }
    assert.ok(reply, "no ARP reply from the kernel");
    const eth = decodeEthernet(reply);
    assert.equal(formatMac(eth.dst), formatMac(peer));
    assert.equal(formatMac(eth.src), formatMac(mac));
    assert.deepEqual([...eth.payload.subarray(14, 18)], [192, 0, 2, 1], "sender IP");
    assert.deepEqual([...eth.payload.subarray(24, 28)], [192, 0, 2, 2], "target IP");
    const [stats] = ipJson<{ stats64: { rx: { packets: number } } }[]>(
      "-s",
      "-n",
      ns,
      "link",
      "show",
      "nktap0",
    );
    assert.ok((stats?.stats64.rx.packets ?? 0) >= 1);
  },
});

Deno.test({
  name: "TapDevice disappears when closed",
  ignore: needs("root", "netns", "tun"),
  fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("tapgone");
    const tap = runInNetns(ns, () => TapDevice.open({ name: "nktap1" }));
    assert.equal(ipJson("-n", ns, "link", "show", "nktap1").length, 1);
    tap.close();
    tap.close();
    assert.throws(() => ip("-n", ns, "link", "show", "nktap1"), /does not exist/);
  },
});

Deno.test({
  name: "TapDevice attaches to an existing persistent TAP and leaves it in place",
  ignore: needs("root", "netns", "tun"),
  fn() {
    using lab = new NamespaceLab();
    const ns = lab.netns("tappersist");
    ip("-n", ns, "tuntap", "add", "dev", "nkptap", "mode", "tap");
    const before = ipJson<{ ifindex: number }[]>("-n", ns, "link", "show", "nkptap")[0]!.ifindex;
    {
      using tap = runInNetns(ns, () => TapDevice.open({ name: "nkptap" }));
      assert.equal(tap.ifindex, before);
      assert.ok(
        ipJson<{ flags: string[] }[]>("-n", ns, "link", "show", "nkptap")[0]!.flags.includes("UP"),
      );
    }
    assert.equal(
      ipJson<{ ifindex: number }[]>("-n", ns, "link", "show", "nkptap")[0]!.ifindex,
      before,
    );
  },
});
