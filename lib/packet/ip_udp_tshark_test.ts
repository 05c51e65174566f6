/**
 * Proves Wireshark's dissectors read what lib/packet/ipv4.ts, ipv6.ts, udp.ts and udp_frame.ts
 * write, and that our decoders read the same values Wireshark does: UDP over IPv4 and IPv6,
 * multicast and unicast, are written to a capture with PcapWriter, decoded by tshark with checksum
 * validation on, and compared field by field; frames with a deliberately wrong checksum are the
 * controls that prove the checksum checks can fail.
 */

import assert from "node:assert/strict";
import {
  decodeUdpFrame,
  encodeEthernet,
  encodeIpv4,
  encodeIpv6,
  encodeUdp,
  encodeUdpMulticastFrame,
  EtherType,
  formatIpv4,
  formatIpv6,
  formatMac,
  IpProtocol,
  MalformedPacketError,
  parseIpv4,
  parseIpv6,
  parseMac,
  type UdpMulticastFrameInit,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { tsharkFields, withPcapOf } from "../../testing/tshark.ts";

const SRC_MAC = parseMac("02:00:00:00:00:01");
const DST_MAC = parseMac("02:00:00:00:00:02");
const SRC4 = parseIpv4("192.0.2.1");
const GROUP4 = parseIpv4("239.10.20.30");
const UNICAST4 = parseIpv4("198.51.100.7");
const SRC6 = parseIpv6("2001:db8::1");
const GROUP6 = parseIpv6("ff0e::1:2:3");
const UNICAST6 = parseIpv6("2001:db8::2");
const NETKIT = new TextEncoder().encode("netkit");

const FIELDS = [
  "frame.len",
  "eth.dst",
  "eth.src",
  "eth.type",
  "ip.version",
  "ip.hdr_len",
  "ip.dsfield",
  "ip.len",
  "ip.id",
  "ip.flags.df",
  "ip.flags.mf",
  "ip.frag_offset",
  "ip.ttl",
  "ip.proto",
  "ip.checksum",
  "ip.checksum.status",
  "ip.src",
  "ip.dst",
  "ipv6.version",
  "ipv6.tclass",
  "ipv6.flow",
  "ipv6.plen",
  "ipv6.nxt",
  "ipv6.hlim",
  "ipv6.src",
  "ipv6.dst",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
  "udp.checksum",
  "udp.checksum.status",
  "udp.payload",
  "_ws.expert.message",
];

// Multiple occurrences of a field are joined with ";".
const AGGREGATOR = ";";

/** Runs tshark over `path` with checksum validation on; one row of field values per frame. */
function tsharkRecords(path: string): Record<string, string>[] {
  const rows = tsharkFields(path, FIELDS, {
    aggregator: AGGREGATOR,
    preferences: ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
  });
  return rows.map((values) =>
    Object.fromEntries(FIELDS.map((field, n) => [field, values[n] ?? ""]))
  );
}

function multicast4(overrides: Partial<UdpMulticastFrameInit> = {}): Uint8Array {
  return encodeUdpMulticastFrame({
    srcMac: SRC_MAC,
    src: SRC4,
    group: GROUP4,
    srcPort: 40000,
    dstPort: 5000,
    ttl: 8,
    payload: NETKIT,
    ...overrides,
  });
}

function multicast6(overrides: Partial<UdpMulticastFrameInit> = {}): Uint8Array {
  return multicast4({ src: SRC6, group: GROUP6, ...overrides });
}

/** An 8-byte payload whose UDP checksum computes to 0, so 0xffff goes on the wire. */
function zeroChecksumPayload(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = new Uint8Array([0, 0, 0x6e, 0x65, 0x74, 0x6b, 0x69, 0x74]);
  const first = encodeUdp({ srcPort: 40000, dstPort: 5000, payload, src, dst });
  payload.set(first.subarray(6, 8));
  return payload;
}

/** Flips one bit of the UDP checksum of a frame without VLAN tags. */
function breakUdpChecksum(frame: Uint8Array): Uint8Array {
  const ipHeader = frame[12] === 0x08 ? 20 : 40;
  const copy = frame.slice();
  copy[14 + ipHeader + 7] = copy[14 + ipHeader + 7]! ^ 0x01;
  return copy;
}

const UNICAST4_FRAME = encodeEthernet({
  dst: DST_MAC,
  src: SRC_MAC,
  etherType: EtherType.IPV4,
  payload: encodeIpv4({
    src: SRC4,
    dst: UNICAST4,
    protocol: IpProtocol.UDP,
    ttl: 64,
    tos: 0xb8,
    id: 0x1234,
    dontFragment: true,
    payload: encodeUdp({
      srcPort: 40001,
      dstPort: 40002,
      payload: NETKIT,
      src: SRC4,
      dst: UNICAST4,
    }),
  }),
});

const UNICAST6_FRAME = encodeEthernet({
  dst: DST_MAC,
  src: SRC_MAC,
  etherType: EtherType.IPV6,
  payload: encodeIpv6({
    src: SRC6,
    dst: UNICAST6,
    nextHeader: IpProtocol.UDP,
    hopLimit: 64,
    trafficClass: 0xb8,
    flowLabel: 0xabcde,
    payload: encodeUdp({
      srcPort: 40001,
      dstPort: 40002,
      payload: NETKIT,
      src: SRC6,
      dst: UNICAST6,
    }),
  }),
});

const IPV4_BAD_HEADER_CHECKSUM = multicast4();
IPV4_BAD_HEADER_CHECKSUM[22] = 7; // TTL 8 -> 7 without updating the header checksum

const GOOD_FRAMES = [
  multicast4(),
  multicast6(),
  UNICAST4_FRAME,
  UNICAST6_FRAME,
  multicast4({ payload: zeroChecksumPayload(SRC4, GROUP4) }),
  multicast6({ payload: zeroChecksumPayload(SRC6, GROUP6) }),
];
const CONTROL_FRAMES = [
  breakUdpChecksum(multicast4()),
  breakUdpChecksum(multicast6()),
  IPV4_BAD_HEADER_CHECKSUM,
];

const NETKIT_HEX = "6e65746b6974";
const IPV4_MULTICAST: Record<string, string> = {
  "frame.len": "60",
  "eth.dst": "01:00:5e:0a:14:1e",
  "eth.src": "02:00:00:00:00:01",
  "eth.type": "0x0800",
  "ip.version": "4",
  "ip.hdr_len": "20",
  "ip.dsfield": "0x00",
  "ip.len": "34",
  "ip.id": "0x0000",
  "ip.flags.df": "0",
  "ip.flags.mf": "0",
  "ip.frag_offset": "0",
  "ip.ttl": "8",
  "ip.proto": "17",
  "ip.checksum": "0xeda1",
  "ip.checksum.status": "1",
  "ip.src": "192.0.2.1",
  "ip.dst": "239.10.20.30",
  "udp.srcport": "40000",
  "udp.dstport": "5000",
  "udp.length": "14",
  "udp.checksum": "0x3e9a",
  "udp.checksum.status": "1",
  "udp.payload": NETKIT_HEX,
};
const IPV6_MULTICAST: Record<string, string> = {
  "frame.len": "68",
  "eth.dst": "33:33:00:02:00:03",
  "eth.src": "02:00:00:00:00:01",
  "eth.type": "0x86dd",
  // The IPv6 dissector fills in ip.version too.
  "ip.version": "6",
  "ipv6.version": "6",
  "ipv6.tclass": "0x00000000",
  "ipv6.flow": "0x000000",
  "ipv6.plen": "14",
  "ipv6.nxt": "17",
  "ipv6.hlim": "8",
  "ipv6.src": "2001:db8::1",
  "ipv6.dst": "ff0e::1:2:3",
  "udp.srcport": "40000",
  "udp.dstport": "5000",
  "udp.length": "14",
  "udp.checksum": "0xd6f5",
  "udp.checksum.status": "1",
  "udp.payload": NETKIT_HEX,
};

// Fields not listed must be empty: in particular "_ws.expert.message" for the good frames.
const EXPECTED_GOOD: Record<string, string>[] = [
  IPV4_MULTICAST,
  IPV6_MULTICAST,
  {
    ...IPV4_MULTICAST,
    "eth.dst": "02:00:00:00:00:02",
    "ip.dsfield": "0xb8",
    "ip.id": "0x1234",
    "ip.flags.df": "1",
    "ip.ttl": "64",
    "ip.checksum": "0x3ba3",
    "ip.dst": "198.51.100.7",
    "udp.srcport": "40001",
    "udp.dstport": "40002",
    "udp.checksum": "0x8ecc",
  },
  {
    ...IPV6_MULTICAST,
    "eth.dst": "02:00:00:00:00:02",
    "ipv6.tclass": "0x000000b8",
    "ipv6.flow": "0x0abcde",
    "ipv6.hlim": "64",
    "ipv6.dst": "2001:db8::2",
    "udp.srcport": "40001",
    "udp.dstport": "40002",
    "udp.checksum": "0x1f94",
  },
  // A computed checksum of 0 travels as 0xffff and verifies.
  {
    ...IPV4_MULTICAST,
    "ip.len": "36",
    "ip.checksum": "0xed9f",
    "udp.length": "16",
    "udp.checksum": "0xffff",
    "udp.payload": "3e96" + NETKIT_HEX,
  },
  {
    ...IPV6_MULTICAST,
    "frame.len": "70",
    "ipv6.plen": "16",
    "udp.length": "16",
    "udp.checksum": "0xffff",
    "udp.payload": "d6f1" + NETKIT_HEX,
  },
];

/** What our decoders read from `frame`, in tshark's notation, for the fields both cover. */
function ourFields(frame: Uint8Array): Record<string, string> {
  const { ethernet, ip, udp } = decodeUdpFrame(frame);
  const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, "0")}`;
  const common = {
    "eth.dst": formatMac(ethernet.dst),
    "eth.src": formatMac(ethernet.src),
    "eth.type": hex(ethernet.etherType, 4),
    "udp.srcport": String(udp.srcPort),
    "udp.dstport": String(udp.dstPort),
    "udp.length": String(udp.length),
    "udp.checksum": hex(udp.checksum, 4),
    "udp.payload": [...udp.payload].map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
  if (ip.version === 4) {
    return {
      ...common,
      "ip.version": "4",
      "ip.hdr_len": String(ip.headerLength),
      "ip.dsfield": hex(ip.tos, 2),
      "ip.len": String(ip.totalLength),
      "ip.id": hex(ip.id, 4),
      "ip.flags.df": ip.dontFragment ? "1" : "0",
      "ip.flags.mf": ip.moreFragments ? "1" : "0",
      "ip.frag_offset": String(ip.fragmentOffset),
      "ip.ttl": String(ip.ttl),
      "ip.proto": String(ip.protocol),
      "ip.checksum": hex(ip.checksum, 4),
      "ip.src": formatIpv4(ip.src),
      "ip.dst": formatIpv4(ip.dst),
    };
  }
  return {
    ...common,
    "ipv6.version": "6",
    "ipv6.tclass": hex(ip.trafficClass, 8),
    "ipv6.flow": hex(ip.flowLabel, 6),
    "ipv6.plen": String(ip.payloadLength),
    "ipv6.nxt": String(ip.nextHeader),
    "ipv6.hlim": String(ip.hopLimit),
    "ipv6.src": formatIpv6(ip.src),
    "ipv6.dst": formatIpv6(ip.dst),
  };
}

Deno.test({
  name: "tshark decodes UDP over IPv4 and IPv6 field by field with valid checksums and no warnings",
  ignore: needs("tshark"),
  fn() {
    withPcapOf(GOOD_FRAMES, (path) => {
      const rows = tsharkRecords(path);
      assert.equal(rows.length, EXPECTED_GOOD.length);
      rows.forEach((row, i) => {
        const want = Object.fromEntries(
          FIELDS.map((field) => [field, EXPECTED_GOOD[i]?.[field] ?? ""]),
        );
        assert.deepEqual(row, want, `frame ${i + 1}`);
        // Our decoders read the same values as Wireshark.
        const ours = ourFields(GOOD_FRAMES[i]!);
        const theirs = Object.fromEntries(Object.keys(ours).map((field) => [field, row[field]]));
        assert.deepEqual(ours, theirs, `frame ${i + 1} decoded by decodeUdpFrame()`);
      });
    });
  },
});

Deno.test({
  name: "tshark and decodeUdpFrame() both flag the frames with a wrong UDP or IPv4 checksum",
  ignore: needs("tshark"),
  fn() {
    const reasons = CONTROL_FRAMES.map((frame) => {
      try {
        decodeUdpFrame(frame);
        return "decoded";
      } catch (err) {
        if (!(err instanceof MalformedPacketError)) throw err;
        return err.reason;
      }
    });
    assert.deepEqual(reasons, ["bad_udp_checksum", "bad_udp_checksum", "bad_ipv4_checksum"]);
    withPcapOf(CONTROL_FRAMES, (path) => {
      const rows = tsharkRecords(path).map((row) => [
        row["ip.checksum.status"],
        row["udp.checksum"],
        row["udp.checksum.status"],
        row["_ws.expert.message"],
      ]);
      // Checksum status: 1 good, 0 bad; empty where the protocol is absent.
      assert.deepEqual(rows, [
        ["1", "0x3e9b", "0", "Bad checksum [should be 0x3e9a]"],
        ["", "0xd6f4", "0", "Bad checksum [should be 0xd6f5]"],
        ["0", "0x3e9a", "1", "Bad checksum [should be 0xeea1]"],
      ]);
    });
  },
});
