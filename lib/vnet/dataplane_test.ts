import assert from "node:assert/strict";
import { encodeEthernet, EtherType } from "../packet/ethernet.ts";
import { parseMac } from "../packet/mac.ts";
import { ipv4Frame, ipv6Frame } from "../../testing/vnet_frames.ts";
import { resolveNic } from "./config.ts";
import { Dataplane, type FrameOutput, type Responder, type ResponderEvent } from "./dataplane.ts";

const A = { name: "vm0", mac: "52:54:00:00:00:0a", ipv4: "192.0.2.10", ipv6: "2001:db8::a" };
const B = { name: "vm1", mac: "52:54:00:00:00:0b", ipv4: "192.0.2.11", ipv6: "2001:db8::b" };

class Recorder implements FrameOutput {
  nic: { nic: number; frame: Uint8Array }[] = [];
  uplink: Uint8Array[] = [];
  room = true;
  toNic(nic: number, frame: Uint8Array, length: number): boolean {
    if (this.room) this.nic.push({ nic, frame: frame.slice(0, length) });
    return this.room;
  }
  toUplink(packet: Uint8Array, offset: number, length: number): boolean {
    this.uplink.push(packet.slice(offset, offset + length));
    return true;
  }
}

function setup(uplinkMtu: number | null = null) {
  const out = new Recorder();
  const events: ResponderEvent[] = [];
  const dp = new Dataplane(out, { uplinkMtu, onEvent: (e) => events.push(e) });
  dp.setNics([resolveNic(A), resolveNic(B)]);
  return { out, dp, events };
}

const arpRequest = encodeEthernet({
  dst: parseMac("ff:ff:ff:ff:ff:ff"),
  src: parseMac(A.mac),
  etherType: EtherType.ARP,
  payload: new Uint8Array(28),
});

function dhcpDiscover(srcMac: string): Uint8Array {
  // UDP 68 -> 67 in IPv4 from 0.0.0.0 to the broadcast address.
  const udp = new Uint8Array(8 + 240);
  udp.set([0, 68, 0, 67, 0, 248, 0, 0]);
  return ipv4Frame({
    srcMac,
    dstMac: "ff:ff:ff:ff:ff:ff",
    src: "0.0.0.0",
    dst: "255.255.255.255",
    protocol: 17,
    payload: udp,
  });
}

Deno.test("Dataplane drops a frame whose source MAC is not the NIC's guest, counted", () => {
  const { dp, out } = setup();
  const frame = ipv4Frame({ srcMac: B.mac, src: "192.0.2.10", dst: "192.0.2.11" });
  dp.fromNic(0, frame, frame.length, 0);
  assert.equal(dp.counters(0).drops.source_mac, 1);
  assert.equal(dp.counters(0).rx_frames, 1);
  assert.equal(out.nic.length, 0);
  const other = dhcpDiscover(B.mac);
  dp.fromNic(0, other, other.length, 0);
  assert.equal(dp.counters(0).drops.source_mac, 2, "another MAC's DISCOVER is ignored too");
});

Deno.test("Dataplane: gateway traffic without a responder is dropped as no_responder", () => {
  const { dp, out } = setup();
  const frames = [
    arpRequest,
    dhcpDiscover(A.mac),
    ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "169.254.0.1" }),
    ipv6Frame({
      srcMac: A.mac,
      src: "fe80::a",
      dst: "ff02::2",
      payload: new Uint8Array([133, 0, 0, 0, 0, 0, 0, 0]),
    }),
    ipv6Frame({ srcMac: A.mac, src: "2001:db8::a", dst: "fe80::1" }),
  ];
  for (const f of frames) dp.fromNic(0, f, f.length, 0);
  assert.equal(dp.counters(0).drops.no_responder, frames.length);
  assert.equal(out.nic.length, 0);
});

Deno.test("Dataplane hands gateway traffic to the registered responder, by kind", () => {
  const { dp, out, events } = setup();
  const seen: string[] = [];
  const responder = (kind: string): Responder => ({
    handle(nic, frame, _now, context) {
      seen.push(`${kind}@${nic.name}`);
      context.emit({ event: "unknown", nic: nic.name, kind });
      return [frame.slice(0, 20)];
    },
  });
  for (const kind of ["arp", "icmp4", "dhcp4", "ndp", "icmp6", "dhcp6"] as const) {
    dp.register(kind, responder(kind));
  }
  assert.deepEqual(dp.responders, ["arp", "icmp4", "dhcp4", "ndp", "icmp6", "dhcp6"]);
  const dhcp6 = new Uint8Array(12);
  dhcp6.set([2, 0x22, 2, 0x23]);
  const frames = [
    arpRequest,
    ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "169.254.0.1" }),
    dhcpDiscover(A.mac),
    ipv6Frame({
      srcMac: A.mac,
      src: "::",
      dst: "ff02::2",
      payload: new Uint8Array([133, 0, 0, 0, 0, 0, 0, 0]),
    }),
    ipv6Frame({ srcMac: A.mac, src: "2001:db8::a", dst: "fe80::1" }),
    ipv6Frame({ srcMac: A.mac, src: "fe80::a", dst: "ff02::1:2", nextHeader: 17, payload: dhcp6 }),
  ];
  for (const f of frames) dp.fromNic(0, f, f.length, 0);
  assert.deepEqual(seen, [
    "arp@vm0",
    "icmp4@vm0",
    "dhcp4@vm0",
    "ndp@vm0",
    "icmp6@vm0",
    "dhcp6@vm0",
  ]);
  assert.equal(out.nic.length, 6);
  assert.equal(dp.counters(0).to_responder, 6);
  assert.equal(dp.counters(0).tx_frames, 6);
  assert.equal(events.length, 6);
});

Deno.test("Dataplane routes guest to guest and to the uplink, and counts the verdicts", () => {
  const { dp, out } = setup(1500);
  const frame = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11" });
  dp.fromNic(0, frame, frame.length, 0);
  assert.equal(out.nic.length, 1);
  assert.equal(out.nic[0]!.nic, 1);
  assert.equal(dp.counters(0).routed, 1);
  assert.equal(dp.counters(1).tx_frames, 1);
  const away = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "203.0.113.1" });
  dp.fromNic(0, away, away.length, 0);
  assert.equal(out.uplink.length, 1);
  assert.equal(out.uplink[0]![0]! >> 4, 4, "the uplink gets the IP packet, no Ethernet");
  assert.equal(dp.uplink.tx_frames, 1);
  const expired = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11", ttl: 1 });
  dp.fromNic(0, expired, expired.length, 0);
  assert.equal(dp.counters(0).drops.ttl_exceeded, 1);
  const wrongMac = ipv4Frame({
    srcMac: A.mac,
    dstMac: B.mac,
    src: "192.0.2.10",
    dst: "192.0.2.11",
  });
  dp.fromNic(0, wrongMac, wrongMac.length, 0);
  assert.equal(dp.counters(0).drops.destination_mac, 1);
  const tcpToGateway = ipv4Frame({
    srcMac: A.mac,
    src: "192.0.2.10",
    dst: "169.254.0.1",
    protocol: 6,
  });
  dp.fromNic(0, tcpToGateway, tcpToGateway.length, 0);
  assert.equal(dp.counters(0).drops.gateway_unsupported, 1);
});

Deno.test("Dataplane hands the ICMP error sender the offending frame alone, not its slot", () => {
  const { dp, out } = setup();
  const seen: Uint8Array[] = [];
  dp.setIcmpErrors({
    error(_nic, frame) {
      seen.push(frame.slice());
      return [new Uint8Array(60)];
    },
  });
  const expired = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11", ttl: 1 });
  // In a receive slot: the bytes after the frame are another frame's leftovers.
  const slot = new Uint8Array(2048).fill(0xee);
  slot.set(expired);
  dp.fromNic(0, slot, expired.length, 0);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], expired);
  assert.equal(dp.counters(0).icmp_errors, 1);
  assert.equal(out.nic.length, 1);
});

Deno.test("Dataplane: a packet from the uplink gets an Ethernet header and goes to its guest", () => {
  const { dp, out } = setup(1500);
  const frame = ipv4Frame({ srcMac: A.mac, src: "203.0.113.1", dst: "192.0.2.11" });
  frame.fill(0, 0, 14);
  dp.fromUplink(frame, 28, 0);
  assert.equal(out.nic.length, 1);
  assert.equal(out.nic[0]!.nic, 1);
  assert.deepEqual([...out.nic[0]!.frame.subarray(0, 14)], [
    0x52,
    0x54,
    0,
    0,
    0,
    0x0b,
    2,
    0,
    0,
    0,
    0,
    1,
    0x08,
    0x00,
  ]);
  assert.equal(dp.uplink.rx_frames, 1);
});

Deno.test("Dataplane keeps a NIC's counters across setNics and tells responders of changes", () => {
  const { dp } = setup();
  const changes: string[] = [];
  dp.register("arp", {
    handle: () => [],
    nicAdded: (nic) => changes.push(`+${nic.name}`),
    nicRemoved: (nic) => changes.push(`-${nic.name}`),
  });
  dp.fromNic(1, arpRequest, arpRequest.length, 0);
  const b = dp.nics[1]!;
  dp.setNics([b]);
  assert.equal(dp.counters(0).rx_frames, 1);
  assert.deepEqual(changes, ["+vm0", "+vm1", "-vm0"]);
});

Deno.test("Dataplane runs responder timers: next() is the earliest, tick() sends", () => {
  const { dp, out } = setup();
  dp.register("ndp", {
    handle: () => [],
    next: () => 5000,
    tick: (now) => now >= 5000 ? [{ nic: "vm1", frame: new Uint8Array(60) }] : [],
  });
  dp.register("arp", { handle: () => [], next: () => null });
  assert.equal(dp.next(0), 5000);
  dp.tick(5000);
  assert.equal(out.nic.length, 1);
  assert.equal(out.nic[0]!.nic, 1);
});

Deno.test("Dataplane: DHCP to a server that is not the gateway is routed, not answered", () => {
  const { dp, out } = setup();
  const seen: string[] = [];
  dp.register("dhcp4", { handle: () => (seen.push("dhcp4"), []) });
  const udp = new Uint8Array(8 + 240);
  udp.set([0, 68, 0, 67, 0, 248, 0, 0]);
  const toGuest = ipv4Frame({
    srcMac: A.mac,
    src: A.ipv4,
    dst: B.ipv4,
    protocol: 17,
    payload: udp,
  });
  dp.fromNic(0, toGuest, toGuest.length, 0);
  assert.deepEqual(seen, []);
  assert.equal(dp.counters(0).routed, 1);
  assert.equal(out.nic[0]?.nic, 1);
  const toGateway = ipv4Frame({
    srcMac: A.mac,
    src: A.ipv4,
    dst: "169.254.0.1",
    protocol: 17,
    payload: udp,
  });
  dp.fromNic(0, toGateway, toGateway.length, 0);
  assert.deepEqual(seen, ["dhcp4"], "a renewal unicast to the gateway is the server's");
});
