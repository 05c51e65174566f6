/**
 * Proves Wireshark's dissectors read what lib/packet writes: a capture built with our Ethernet,
 * checksum and pcap encoders is decoded by tshark and compared field by field.
 */

import assert from "node:assert/strict";
import {
  BROADCAST_MAC,
  encodeEthernet,
  EtherType,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  parseMac,
  PcapWriter,
  type VlanTagInit,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { tsharkFields, withTempPcap } from "../../testing/tshark.ts";

const SRC = parseMac("02:00:00:00:00:01");
const DST = parseMac("02:00:00:00:00:02");
const SRC_IP = new Uint8Array([192, 0, 2, 1]);
const DST_IP = new Uint8Array([198, 51, 100, 7]);
const T0 = 1_700_000_000_123_456_789n;

function setU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

/** An IPv4 packet carrying UDP 40000 -> 40001 with correct checksums, unless told otherwise. */
function ipv4Udp(payload: Uint8Array, badUdpChecksum = false): Uint8Array {
  const packet = new Uint8Array(20 + 8 + payload.length);
  packet.set([0x45, 0x00], 0);
  setU16(packet, 2, packet.length);
  setU16(packet, 4, 0x1234); // identification
  setU16(packet, 6, 0x4000); // don't fragment
  packet.set([64, 17], 8); // TTL, protocol UDP
  packet.set(SRC_IP, 12);
  packet.set(DST_IP, 16);
  setU16(packet, 10, internetChecksum(packet, 0, 20));
  setU16(packet, 20, 40000);
  setU16(packet, 22, 40001);
  setU16(packet, 24, 8 + payload.length);
  packet.set(payload, 28);
  const pseudo = ipv4PseudoHeaderSum(SRC_IP, DST_IP, 17, 8 + payload.length);
  const checksum = internetChecksum(packet, 20, packet.length, pseudo) || 0xffff; // 0 means "none" in UDP
  setU16(packet, 26, badUdpChecksum ? checksum ^ 0x0100 : checksum);
  return packet;
}

/** An IPv6 ICMPv6 echo request fe80::1 -> ff02::1 with a correct checksum. */
function ipv6EchoRequest(): Uint8Array {
  const src = new Uint8Array(16);
  src.set([0xfe, 0x80]);
  src[15] = 1;
  const dst = new Uint8Array(16);
  dst.set([0xff, 0x02]);
  dst[15] = 1;
  const icmp = new Uint8Array([128, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64]);
  setU16(
    icmp,
    2,
    internetChecksum(icmp, 0, icmp.length, ipv6PseudoHeaderSum(src, dst, 58, icmp.length)),
  );
  const packet = new Uint8Array(40 + icmp.length);
  packet[0] = 0x60;
  setU16(packet, 4, icmp.length);
  packet.set([58, 255], 6); // next header ICMPv6, hop limit
  packet.set(src, 8);
  packet.set(dst, 24);
  packet.set(icmp, 40);
  return packet;
}

/** An ARP request: who has 192.0.2.2, tell 192.0.2.1. */
function arpRequest(): Uint8Array {
  const arp = new Uint8Array(28);
  setU16(arp, 0, 1); // Ethernet
  setU16(arp, 2, EtherType.IPV4);
  arp.set([6, 4], 4);
  setU16(arp, 6, 1); // request
  arp.set(SRC, 8);
  arp.set(SRC_IP, 14);
  arp.set([192, 0, 2, 2], 24);
  return arp;
}

function frame(
  etherType: number,
  payload: Uint8Array,
  vlanTags: VlanTagInit[] = [],
  dst = DST,
): Uint8Array {
  return encodeEthernet({ dst, src: SRC, etherType, payload, vlanTags });
}

Deno.test({
  name: "tshark decodes Ethernet, VLAN, QinQ, ARP, UDP and ICMPv6 frames written by PcapWriter",
  ignore: needs("tshark"),
  fn() {
    withTempPcap((path) => {
      const frames = [
        frame(EtherType.IPV4, ipv4Udp(new TextEncoder().encode("netkit"))),
        frame(EtherType.IPV4, ipv4Udp(new TextEncoder().encode("netkit"), true)),
        frame(EtherType.LOCAL_EXPERIMENTAL, new Uint8Array(50).fill(0xab), [{ vid: 100, pcp: 5 }]),
        frame(EtherType.IPV4, ipv4Udp(new Uint8Array(100)), [
          { tpid: EtherType.QINQ, vid: 200, pcp: 3 },
          { vid: 100, dei: true },
        ]),
        frame(EtherType.ARP, arpRequest(), [], BROADCAST_MAC),
        frame(EtherType.IPV6, ipv6EchoRequest(), [], parseMac("33:33:00:00:00:01")),
      ];
      {
        using pcap = PcapWriter.create(Deno.openSync(path, { write: true, truncate: true }));
        frames.forEach((f, i) => pcap.write(f, T0 + BigInt(i) * 1_000_000_001n));
      }
      const fields = [
        "frame.len",
        "frame.time_epoch",
        "eth.src",
        "eth.dst",
        "eth.type",
        "ieee8021ad.id",
        "ieee8021ad.priority",
        "ieee8021ad.dei",
        "vlan.id",
        "vlan.priority",
        "vlan.dei",
        "vlan.etype",
        "ip.checksum.status",
        "udp.checksum.status",
        "arp.opcode",
        "icmpv6.checksum.status",
      ];
      const rows = tsharkFields(path, fields, {
        aggregator: "/",
        preferences: ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
      });
      const common = { "eth.src": "02:00:00:00:00:01", "eth.dst": "02:00:00:00:00:02" };
      // Checksum status: 1 good, 0 bad. Fields not listed must be empty (protocol absent).
      const expected: Record<string, string>[] = [
        {
          ...common,
          "frame.len": "60",
          "frame.time_epoch": "1700000000.123456789",
          "eth.type": "0x0800",
          "ip.checksum.status": "1",
          "udp.checksum.status": "1",
        },
        {
          ...common,
          "frame.len": "60",
          "frame.time_epoch": "1700000001.123456790",
          "eth.type": "0x0800",
          "ip.checksum.status": "1",
          "udp.checksum.status": "0",
        },
        {
          ...common,
          "frame.len": "68",
          "frame.time_epoch": "1700000002.123456791",
          "eth.type": "0x8100",
          "vlan.id": "100",
          "vlan.priority": "5",
          "vlan.dei": "0",
          "vlan.etype": "0x88b5",
        },
        {
          ...common,
          "frame.len": "150",
          "frame.time_epoch": "1700000003.123456792",
          "eth.type": "0x88a8",
          "ieee8021ad.id": "200",
          "ieee8021ad.priority": "3",
          "ieee8021ad.dei": "0",
          "vlan.id": "100",
          "vlan.priority": "0",
          "vlan.dei": "1",
          "vlan.etype": "0x0800",
          "ip.checksum.status": "1",
          "udp.checksum.status": "1",
        },
        {
          ...common,
          "frame.len": "60",
          "frame.time_epoch": "1700000004.123456793",
          "eth.dst": "ff:ff:ff:ff:ff:ff",
          "eth.type": "0x0806",
          "arp.opcode": "1",
        },
        {
          ...common,
          "frame.len": "66",
          "frame.time_epoch": "1700000005.123456794",
          "eth.dst": "33:33:00:00:00:01",
          "eth.type": "0x86dd",
          "icmpv6.checksum.status": "1",
        },
      ];
      assert.equal(rows.length, expected.length);
      rows.forEach((row, i) => {
        const got = Object.fromEntries(fields.map((field, j) => [field, row[j]]));
        const want = Object.fromEntries(fields.map((field) => [field, expected[i]?.[field] ?? ""]));
        assert.deepEqual(got, want, `frame ${i + 1}`);
      });
    });
  },
});

Deno.test({
  name:
    "tshark reads microsecond captures and keeps the original length of snaplen-truncated frames",
  ignore: needs("tshark"),
  fn() {
    withTempPcap((path) => {
      {
        using pcap = PcapWriter.create(Deno.openSync(path, { write: true, truncate: true }), {
          nanosecond: false,
          snaplen: 64,
        });
        pcap.write(frame(EtherType.LOCAL_EXPERIMENTAL, new Uint8Array(200)), T0);
        pcap.write(frame(EtherType.LOCAL_EXPERIMENTAL, new Uint8Array(10)), T0 + 999n);
      }
      const rows = tsharkFields(path, [
        "frame.len",
        "frame.cap_len",
        "frame.time_epoch",
        "eth.type",
      ], { aggregator: "/" });
      assert.deepEqual(rows, [
        ["214", "64", "1700000000.123456000", "0x88b5"], // truncated, not rounded, to µs
        ["60", "60", "1700000000.123457000", "0x88b5"], // 123457788 ns truncates to 123457 µs
      ]);
    });
  },
});
