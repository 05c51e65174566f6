import assert from "node:assert/strict";
import { internetChecksum, ipv4PseudoHeaderSum } from "./checksum.ts";
import { encodeEthernet, EtherType } from "./ethernet.ts";
import { encodeIpv4, parseIpv4 } from "./ipv4.ts";
import { parseIpv6 } from "./ipv6.ts";
import { parseMac } from "./mac.ts";
import { completeChecksumAt, completeTransportChecksum } from "./transport_checksum.ts";
import { foldOnesComplementSum } from "./checksum.ts";
import { encodeUdpMulticastFrame } from "./udp_frame.ts";

const SRC_MAC = parseMac("02:00:00:00:00:01");
const DST_MAC = parseMac("02:00:00:00:00:02");

/** A checksum field as a sender with offload leaves it: garbage (here, a wrong value). */
function spoil(frame: Uint8Array, field: number): void {
  frame[field] = 0x12;
  frame[field + 1] = 0x34;
}

function tcpFrame(options: { fragment?: boolean } = {}): { frame: Uint8Array; expected: number } {
  const src = parseIpv4("192.0.2.1");
  const dst = parseIpv4("192.0.2.2");
  const tcp = new Uint8Array(24 + 5);
  tcp.set([0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff]);
  tcp.set([0x02, 0x04, 0x05, 0xb4], 20); // MSS 1460
  tcp.set(new TextEncoder().encode("hello"), 24);
  const expected = internetChecksum(
    tcp,
    0,
    tcp.length,
    ipv4PseudoHeaderSum(src, dst, 6, tcp.length),
  );
  const ip = encodeIpv4({ src, dst, protocol: 6, ttl: 64, payload: tcp });
  if (options.fragment) ip[6] = 0x20; // more fragments
  return {
    frame: encodeEthernet({ dst: DST_MAC, src: SRC_MAC, etherType: EtherType.IPV4, payload: ip }),
    expected,
  };
}

Deno.test("completeTransportChecksum fills in an IPv4 TCP checksum", () => {
  const { frame, expected } = tcpFrame();
  spoil(frame, 14 + 20 + 16);
  assert.equal(completeTransportChecksum(frame), true);
  assert.equal((frame[50]! << 8) | frame[51]!, expected);
});

Deno.test("completeTransportChecksum restores the UDP checksum of IPv4 and IPv6 frames", () => {
  for (const [src, group] of [["192.0.2.1", "239.1.2.3"], ["2001:db8::1", "ff0e::1"]] as const) {
    const v6 = src.includes(":");
    const frame = encodeUdpMulticastFrame({
      srcMac: SRC_MAC,
      src: v6 ? parseIpv6(src) : parseIpv4(src),
      group: v6 ? parseIpv6(group) : parseIpv4(group),
      srcPort: 4000,
      dstPort: 5000,
      ttl: 4,
      payload: new TextEncoder().encode("checksummed payload!"),
    });
    const field = 14 + (v6 ? 40 : 20) + 6;
    const good = frame.slice(field, field + 2);
    spoil(frame, field);
    assert.equal(completeTransportChecksum(frame), true, src);
    assert.deepEqual(frame.slice(field, field + 2), good, src);
  }
});

Deno.test("completeTransportChecksum works behind an 802.1Q tag", () => {
  const { frame: plain, expected } = tcpFrame();
  const tagged = new Uint8Array(plain.length + 4);
  tagged.set(plain.subarray(0, 12));
  tagged.set([0x81, 0x00, 0x00, 0x64], 12);
  tagged.set(plain.subarray(12), 16);
  spoil(tagged, 18 + 20 + 16);
  assert.equal(completeTransportChecksum(tagged), true);
  assert.equal((tagged[54]! << 8) | tagged[55]!, expected);
});

Deno.test("completeTransportChecksum leaves fragments, other protocols and runts alone", () => {
  const { frame: fragment } = tcpFrame({ fragment: true });
  const before = fragment.slice();
  assert.equal(completeTransportChecksum(fragment), false);
  assert.deepEqual(fragment, before);
  const arp = encodeEthernet({
    dst: DST_MAC,
    src: SRC_MAC,
    etherType: EtherType.ARP,
    payload: new Uint8Array(28),
  });
  assert.equal(completeTransportChecksum(arp), false);
  const { frame } = tcpFrame();
  for (let n = 0; n < 14 + 20 + 18; n++) {
    assert.equal(completeTransportChecksum(frame.slice(0, n)), false, `${n} bytes`);
  }
});

/** What a sender with offload leaves in the field: the folded pseudo-header sum. */
function partial(frame: Uint8Array, field: number, pseudo: number): void {
  const folded = foldOnesComplementSum(pseudo);
  frame[field] = folded >> 8;
  frame[field + 1] = folded & 0xff;
}

Deno.test("completeChecksumAt completes the checksum a vnet header points at", () => {
  const { frame, expected } = tcpFrame();
  const src = parseIpv4("192.0.2.1");
  const dst = parseIpv4("192.0.2.2");
  partial(frame, 34 + 16, ipv4PseudoHeaderSum(src, dst, 6, frame.length - 34));
  assert.equal(completeChecksumAt(frame, 34, 16), true);
  assert.equal((frame[50]! << 8) | frame[51]!, expected);
  assert.equal(completeChecksumAt(frame, 34, frame.length), false, "outside the frame");
  assert.equal(completeChecksumAt(frame, 4, 16), false, "inside the Ethernet header");
});

Deno.test("completeChecksumAt is right for a tunnel: the inner TCP checksum, not the outer UDP one", () => {
  const inner = tcpFrame();
  const src = parseIpv4("192.0.2.1");
  const dst = parseIpv4("192.0.2.2");
  // VXLAN: outer Ethernet/IPv4/UDP (8-byte VXLAN header) in front of the inner frame.
  const vxlan = new Uint8Array(8 + inner.frame.length);
  vxlan[0] = 0x08;
  vxlan.set(inner.frame, 8);
  const udp = new Uint8Array(8 + vxlan.length);
  udp.set([0x9c, 0x41, 0x12, 0xb5, udp.length >> 8, udp.length & 0xff, 0, 0]);
  udp.set(vxlan, 8);
  const ip = encodeIpv4({ src, dst, protocol: 17, ttl: 64, payload: udp });
  const frame = encodeEthernet({
    dst: DST_MAC,
    src: SRC_MAC,
    etherType: EtherType.IPV4,
    payload: ip,
  });
  const innerTcp = 14 + 20 + 8 + 8 + 14 + 20;
  partial(frame, innerTcp + 16, ipv4PseudoHeaderSum(src, dst, 6, frame.length - innerTcp));
  assert.equal(completeChecksumAt(frame, innerTcp, 16), true);
  assert.equal((frame[innerTcp + 16]! << 8) | frame[innerTcp + 17]!, inner.expected);
  assert.equal((frame[40]! << 8) | frame[41]!, 0, "the outer UDP checksum is left alone");
});
