import assert from "node:assert/strict";
import {
  createIcmpv6EchoReply,
  createIcmpv6EchoRequest,
  createIcmpv6Error,
  createNeighborAdvertisement,
  createNeighborSolicitation,
  createRouterAdvertisement,
  createRouterSolicitation,
  decodeIcmpv6,
  decodeIcmpv6Frame,
  encodeIcmpv6,
  ICMPV6_ERROR_MAX_LEN,
  type Icmpv6Frame,
  type Icmpv6Message,
  Icmpv6Type,
  icmpv6TypeAt,
  ND_HOP_LIMIT,
  type NdOption,
} from "./mod.ts";
import { isMalformed } from "./errors.ts";
import { formatIpv6, IPV6_UNSPECIFIED, parseIpv6 } from "./ipv6.ts";
import { formatMac } from "./mac.ts";
import { encodeEthernet, EtherType } from "./ethernet.ts";
import { encodeIpv6 } from "./ipv6.ts";
import { IpProtocol } from "./ipv4.ts";
import { decoded, fuzzDecoder, plain, refusalReason } from "../../testing/total_decoders.ts";
import {
  GATEWAY,
  GATEWAY_MAC,
  GUEST,
  GUEST_MAC,
  oversizedPacket,
} from "../../testing/ipv6_guest.ts";
import { findOfKind } from "./tagged.ts";

const ADDRESSES = { src: GUEST, dst: GATEWAY };

const EVERY_OPTION: NdOption[] = [
  { kind: "source_link_address", address: GATEWAY_MAC },
  { kind: "target_link_address", address: GUEST_MAC },
  {
    kind: "prefix_information",
    prefixLength: 64,
    onLink: true,
    autonomous: false,
    validLifetime: 0xffff_ffff,
    preferredLifetime: 604800,
    prefix: parseIpv6("2001:db8:1::"),
  },
  { kind: "mtu", mtu: 9000 },
  {
    kind: "rdnss",
    lifetime: 1200,
    servers: [parseIpv6("2001:db8::53"), parseIpv6("2001:db8::54")],
  },
  { kind: "raw", type: 31, body: new Uint8Array([1, 2, 3, 4, 5, 6]) },
];

const MESSAGES: Icmpv6Message[] = [
  {
    kind: "echo_request",
    code: 0,
    identifier: 0xbeef,
    sequence: 7,
    data: new Uint8Array([1, 2, 3]),
  },
  { kind: "echo_reply", code: 0, identifier: 1, sequence: 0xffff, data: new Uint8Array() },
  { kind: "router_solicitation", code: 0, options: [] },
  {
    kind: "router_advertisement",
    code: 0,
    curHopLimit: 64,
    managed: true,
    other: false,
    routerLifetime: 1800,
    reachableTime: 30000,
    retransTimer: 1000,
    options: EVERY_OPTION,
  },
  {
    kind: "router_advertisement",
    code: 0,
    curHopLimit: 0,
    managed: false,
    other: true,
    routerLifetime: 0,
    reachableTime: 0,
    retransTimer: 0,
    options: [],
  },
  { kind: "neighbor_solicitation", code: 0, target: GATEWAY, options: [EVERY_OPTION[0]!] },
  {
    kind: "neighbor_advertisement",
    code: 0,
    router: true,
    solicited: false,
    override: true,
    target: GATEWAY,
    options: [EVERY_OPTION[1]!],
  },
  { kind: "destination_unreachable", code: 3, parameter: 0, invoking: new Uint8Array(48) },
  { kind: "packet_too_big", code: 0, parameter: 1280, invoking: new Uint8Array(48) },
  { kind: "time_exceeded", code: 1, parameter: 0, invoking: new Uint8Array(40) },
  { kind: "parameter_problem", code: 1, parameter: 40, invoking: new Uint8Array(41) },
  { kind: "other", type: 137, code: 0, body: new Uint8Array(36) },
];

Deno.test("every ICMPv6 message and ND option survives encodeIcmpv6 then decodeIcmpv6", () => {
  for (const message of MESSAGES) {
    const bytes = encodeIcmpv6(message, ADDRESSES);
    assert.deepEqual(
      plain(decoded(decodeIcmpv6(bytes, ADDRESSES))),
      plain(message),
      message.kind,
    );
    assert.deepEqual(
      plain(decoded(decodeIcmpv6(bytes))),
      plain(message),
      `${message.kind} unchecked`,
    );
  }
});

Deno.test("encodeIcmpv6() writes RFC 4861 layouts byte for byte", () => {
  const ra = encodeIcmpv6(MESSAGES[3]!, ADDRESSES);
  assert.deepEqual([...ra.subarray(0, 2)], [134, 0]);
  assert.deepEqual([...ra.subarray(4, 16)], [
    64,
    0x80,
    0x07,
    0x08,
    0,
    0,
    0x75,
    0x30,
    0,
    0,
    3,
    0xe8,
  ]);
  // SLLAO: type 1, length 1, the MAC.
  assert.deepEqual([...ra.subarray(16, 24)], [1, 1, 2, 0, 0, 0, 0, 1]);
  // PIO: type 3, length 4, /64, L set and A clear, infinite valid lifetime.
  assert.deepEqual([...ra.subarray(32, 40)], [3, 4, 64, 0x80, 0xff, 0xff, 0xff, 0xff]);
  // MTU then RDNSS with two servers (length 1 + 2 * 2 = 5).
  assert.deepEqual([...ra.subarray(64, 72)], [5, 1, 0, 0, 0, 0, 0x23, 0x28]);
  assert.deepEqual([...ra.subarray(72, 80)], [25, 5, 0, 0, 0, 0, 0x04, 0xb0]);
  const na = encodeIcmpv6(
    { ...(MESSAGES[6] as Icmpv6Message & { kind: "neighbor_advertisement" }), solicited: true },
    ADDRESSES,
  );
  assert.equal(na[4], 0xe0); // R | S | O
  assert.equal(ra.length, 16 + 8 + 8 + 32 + 8 + 40 + 8);
});

Deno.test("the ICMPv6 checksum covers the pseudo header and is verified when addresses are given", () => {
  const bytes = encodeIcmpv6(MESSAGES[0]!, ADDRESSES);
  // Another destination changes the pseudo header (swapping the two would not: the sum commutes).
  const elsewhere = { src: GUEST, dst: parseIpv6("fe80::2") };
  assert.equal(refusalReason(decodeIcmpv6(bytes, elsewhere)), "bad_icmpv6_checksum");
  const flipped = bytes.slice();
  flipped[9] = flipped[9]! ^ 1;
  assert.equal(refusalReason(decodeIcmpv6(flipped, ADDRESSES)), "bad_icmpv6_checksum");
  assert.ok(!isMalformed(decodeIcmpv6(flipped))); // not checked without addresses
});

Deno.test("decodeIcmpv6() refuses malformed messages and options with stable reasons", () => {
  const rs = (...options: number[]) => new Uint8Array([133, 0, 0, 0, 0, 0, 0, 0, ...options]);
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(), "truncated_icmpv6"],
    [new Uint8Array([128, 0, 0]), "truncated_icmpv6"],
    [new Uint8Array([128, 0, 0, 0, 0, 1, 0]), "truncated_echo"],
    [new Uint8Array([133, 0, 0, 0, 0]), "truncated_router_solicitation"],
    [new Uint8Array(15).fill(0).map((_, i) => i === 0 ? 134 : 0), "truncated_router_advertisement"],
    [
      new Uint8Array(23).fill(0).map((_, i) => i === 0 ? 135 : 0),
      "truncated_neighbor_solicitation",
    ],
    [
      new Uint8Array(20).fill(0).map((_, i) => i === 0 ? 136 : 0),
      "truncated_neighbor_advertisement",
    ],
    [new Uint8Array([1, 0, 0, 0, 0, 0, 0]), "truncated_error"],
    [rs(1, 0, 2, 0, 0, 0, 0, 1), "zero_length_nd_option"],
    [rs(31, 0), "zero_length_nd_option"],
    [rs(1), "truncated_nd_option"],
    [rs(1, 2, 0, 0, 0, 0, 0, 0), "truncated_nd_option"],
    [rs(5, 2, ...new Array(14).fill(0)), "bad_nd_option_length"],
    [rs(3, 1, 64, 0xc0, 0, 0, 0, 0), "bad_nd_option_length"],
    [rs(25, 2, ...new Array(14).fill(0)), "bad_nd_option_length"],
    [rs(25, 4, ...new Array(30).fill(0)), "bad_nd_option_length"],
  ];
  for (const [bytes, reason] of cases) {
    assert.equal(refusalReason(decodeIcmpv6(bytes)), reason, `${bytes}`);
  }
});

Deno.test("unknown ND options and unknown ICMPv6 types are kept raw, and link addresses of any length", () => {
  const bytes = new Uint8Array([
    133,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    200,
    1,
    9,
    8,
    7,
    6,
    5,
    4,
    1,
    2,
    ...new Array(14).fill(0xaa),
  ]);
  const rs = decoded(decodeIcmpv6(bytes));
  assert.ok(rs.kind === "router_solicitation");
  assert.deepEqual(plain(rs.options), [
    { kind: "raw", type: 200, body: [9, 8, 7, 6, 5, 4] },
    { kind: "source_link_address", address: new Array(14).fill(0xaa) },
  ]);
  const other = decoded(decodeIcmpv6(new Uint8Array([143, 0, 0, 0, 1, 2])));
  assert.deepEqual(plain(other), { kind: "other", type: 143, code: 0, body: [1, 2] });
});

Deno.test("encodeIcmpv6() refuses options and fields it cannot encode", () => {
  const rs = (option: NdOption): Icmpv6Message => ({
    kind: "router_solicitation",
    code: 0,
    options: [option],
  });
  assert.throws(
    () => encodeIcmpv6(rs({ kind: "rdnss", lifetime: 1, servers: [] }), ADDRESSES),
    RangeError,
  );
  assert.throws(
    () => encodeIcmpv6(rs({ kind: "raw", type: 9, body: new Uint8Array(5) }), ADDRESSES),
    RangeError,
  );
  assert.throws(
    () => encodeIcmpv6(rs({ kind: "source_link_address", address: new Uint8Array() }), ADDRESSES),
    RangeError,
  );
  assert.throws(
    () => encodeIcmpv6({ ...MESSAGES[0]!, code: 256 } as Icmpv6Message, ADDRESSES),
    RangeError,
  );
  assert.throws(
    () => encodeIcmpv6({ ...MESSAGES[5]!, target: new Uint8Array(4) } as Icmpv6Message, ADDRESSES),
    RangeError,
  );
});

function frame(bytes: Uint8Array): Icmpv6Frame {
  return decoded(decodeIcmpv6Frame(bytes));
}

Deno.test("createRouterSolicitation(): to ff02::2 with hop limit 255, SLLAO only from a real source", () => {
  const rs = frame(createRouterSolicitation({ srcMac: GUEST_MAC }));
  assert.equal(formatMac(rs.ethernet.dst), "33:33:00:00:00:02");
  assert.equal(formatIpv6(rs.ip.src), "fe80::5054:ff:fe12:3401");
  assert.equal(formatIpv6(rs.ip.dst), "ff02::2");
  assert.equal(rs.ip.hopLimit, ND_HOP_LIMIT);
  assert.ok(rs.icmpv6.kind === "router_solicitation");
  assert.equal(
    formatMac(findOfKind(rs.icmpv6.options, "source_link_address")!.address),
    "52:54:00:12:34:01",
  );

  // RFC 4861 section 4.1: no SLLAO when the source is the unspecified address.
  const anonymous = frame(createRouterSolicitation({ srcMac: GUEST_MAC, src: IPV6_UNSPECIFIED }));
  assert.equal(formatIpv6(anonymous.ip.src), "::");
  assert.ok(anonymous.icmpv6.kind === "router_solicitation");
  assert.deepEqual(anonymous.icmpv6.options, []);
});

Deno.test("createRouterAdvertisement(): M/O flags, lifetimes, SLLAO first and every option", () => {
  const ra = frame(createRouterAdvertisement({
    srcMac: GATEWAY_MAC,
    src: GATEWAY,
    managed: true,
    other: true,
    routerLifetime: 9000,
    options: EVERY_OPTION.slice(2),
  }));
  assert.equal(formatIpv6(ra.ip.dst), "ff02::1");
  assert.equal(formatMac(ra.ethernet.dst), "33:33:00:00:00:01");
  assert.equal(ra.ip.hopLimit, 255);
  const message = ra.icmpv6;
  assert.ok(message.kind === "router_advertisement");
  assert.equal(message.managed, true);
  assert.equal(message.other, true);
  assert.equal(message.routerLifetime, 9000);
  assert.equal(message.curHopLimit, 64);
  assert.deepEqual(
    plain(message.options),
    plain([{ kind: "source_link_address", address: GATEWAY_MAC }, ...EVERY_OPTION.slice(2)]),
  );

  const unicast = frame(
    createRouterAdvertisement({ srcMac: GATEWAY_MAC, src: GATEWAY, dst: GUEST, dstMac: GUEST_MAC }),
  );
  assert.equal(formatMac(unicast.ethernet.dst), "52:54:00:12:34:01");
  assert.throws(
    () => createRouterAdvertisement({ srcMac: GATEWAY_MAC, src: GATEWAY, dst: GUEST }),
    RangeError,
  );
});

Deno.test("createNeighborSolicitation(): to the solicited-node group; a DAD probe from :: has no SLLAO", () => {
  const target = parseIpv6("2001:db8::12:3456");
  const ns = frame(createNeighborSolicitation({ srcMac: GUEST_MAC, target }));
  assert.equal(formatIpv6(ns.ip.dst), "ff02::1:ff12:3456");
  assert.equal(formatMac(ns.ethernet.dst), "33:33:ff:12:34:56");
  assert.equal(ns.ip.hopLimit, 255);
  assert.ok(ns.icmpv6.kind === "neighbor_solicitation");
  assert.equal(formatIpv6(ns.icmpv6.target), "2001:db8::12:3456");
  assert.equal(ns.icmpv6.options.length, 1);

  const dad = frame(
    createNeighborSolicitation({ srcMac: GUEST_MAC, src: IPV6_UNSPECIFIED, target: GUEST }),
  );
  assert.equal(formatIpv6(dad.ip.src), "::");
  assert.equal(formatIpv6(dad.ip.dst), "ff02::1:ff12:3401");
  assert.ok(dad.icmpv6.kind === "neighbor_solicitation");
  assert.deepEqual(dad.icmpv6.options, []);

  const probe = frame(
    createNeighborSolicitation({
      srcMac: GUEST_MAC,
      target: GATEWAY,
      dst: GATEWAY,
      dstMac: GATEWAY_MAC,
    }),
  );
  assert.equal(formatIpv6(probe.ip.dst), "fe80::1");
});

Deno.test("createNeighborAdvertisement(): R/S/O flags as given, TLLAO of the sender, answer to DAD", () => {
  const na = frame(createNeighborAdvertisement({
    srcMac: GATEWAY_MAC,
    dstMac: GUEST_MAC,
    src: GATEWAY,
    dst: GUEST,
    router: true,
    solicited: true,
  }));
  assert.ok(na.icmpv6.kind === "neighbor_advertisement");
  assert.deepEqual([na.icmpv6.router, na.icmpv6.solicited, na.icmpv6.override], [true, true, true]);
  assert.equal(formatIpv6(na.icmpv6.target), "fe80::1");
  assert.equal(
    formatMac(findOfKind(na.icmpv6.options, "target_link_address")!.address),
    "02:00:00:00:00:01",
  );
  assert.equal(na.ip.hopLimit, 255);

  const dadAnswer = frame(createNeighborAdvertisement({
    srcMac: GATEWAY_MAC,
    src: GATEWAY,
    dst: parseIpv6("ff02::1"),
    router: true,
    override: false,
    targetLinkAddress: false,
  }));
  assert.equal(formatMac(dadAnswer.ethernet.dst), "33:33:00:00:00:01");
  assert.ok(dadAnswer.icmpv6.kind === "neighbor_advertisement");
  assert.deepEqual(
    [dadAnswer.icmpv6.router, dadAnswer.icmpv6.solicited, dadAnswer.icmpv6.override],
    [true, false, false],
  );
  assert.deepEqual(dadAnswer.icmpv6.options, []);
});

Deno.test("createIcmpv6EchoRequest() and -Reply(): identifiers, data and hop limit", () => {
  const data = new TextEncoder().encode("netkit");
  const request = frame(
    createIcmpv6EchoRequest({
      srcMac: GUEST_MAC,
      dstMac: GATEWAY_MAC,
      dst: GATEWAY,
      identifier: 0x1234,
      sequence: 9,
      data,
    }),
  );
  assert.equal(request.ip.hopLimit, 64);
  assert.equal(formatIpv6(request.ip.src), "fe80::5054:ff:fe12:3401");
  assert.deepEqual(plain(request.icmpv6), {
    kind: "echo_request",
    code: 0,
    identifier: 0x1234,
    sequence: 9,
    data: [...data],
  });
  const reply = frame(
    createIcmpv6EchoReply({
      srcMac: GATEWAY_MAC,
      dstMac: GUEST_MAC,
      src: GATEWAY,
      dst: GUEST,
      identifier: 0x1234,
      sequence: 9,
      data,
      hopLimit: 255,
    }),
  );
  assert.equal(reply.ip.hopLimit, 255);
  assert.equal(reply.icmpv6.kind, "echo_reply");
});

Deno.test("createIcmpv6Error() quotes the offending packet, cut to fit 1280 bytes", () => {
  const offending = oversizedPacket(0x5a);
  const error = frame(createIcmpv6Error({
    srcMac: GATEWAY_MAC,
    dstMac: GUEST_MAC,
    src: parseIpv6("2001:db8::1"),
    kind: "packet_too_big",
    parameter: 1280,
    invoking: offending,
  }));
  assert.equal(formatIpv6(error.ip.dst), "2001:db8::5");
  assert.equal(40 + error.ip.payload.length, 1280);
  assert.equal(error.ip.payload.length, ICMPV6_ERROR_MAX_LEN);
  assert.ok(error.icmpv6.kind === "packet_too_big");
  assert.equal(error.icmpv6.parameter, 1280);
  assert.deepEqual([...error.icmpv6.invoking], [...offending.subarray(0, 1232)]);

  const small = frame(createIcmpv6Error({
    srcMac: GATEWAY_MAC,
    dstMac: GUEST_MAC,
    src: parseIpv6("2001:db8::1"),
    kind: "destination_unreachable",
    code: 0,
    invoking: offending.subarray(0, 100),
  }));
  assert.ok(small.icmpv6.kind === "destination_unreachable");
  assert.equal(small.icmpv6.invoking.length, 100);
  assert.throws(
    () =>
      createIcmpv6Error({
        srcMac: GATEWAY_MAC,
        dstMac: GUEST_MAC,
        src: GATEWAY,
        kind: "time_exceeded",
        invoking: new Uint8Array(10),
      }),
    RangeError,
  );
});

Deno.test("decodeIcmpv6Frame() refuses what is not ICMPv6 over IPv6, and icmpv6TypeAt() sorts frames", () => {
  const udp = encodeEthernet({
    dst: GATEWAY_MAC,
    src: GUEST_MAC,
    etherType: EtherType.IPV6,
    payload: encodeIpv6({
      src: GUEST,
      dst: GATEWAY,
      nextHeader: IpProtocol.UDP,
      hopLimit: 64,
      payload: new Uint8Array(8),
    }),
  });
  assert.equal(refusalReason(decodeIcmpv6Frame(udp)), "not_icmpv6");
  assert.equal(icmpv6TypeAt(udp), -1);
  const arp = encodeEthernet({
    dst: GATEWAY_MAC,
    src: GUEST_MAC,
    etherType: EtherType.ARP,
    payload: new Uint8Array(28),
  });
  assert.equal(refusalReason(decodeIcmpv6Frame(arp)), "not_ipv6");
  assert.equal(icmpv6TypeAt(arp), -1);
  assert.equal(refusalReason(decodeIcmpv6Frame(new Uint8Array(5))), "runt");
  assert.equal(icmpv6TypeAt(new Uint8Array(5)), -1);

  const rs = createRouterSolicitation({ srcMac: GUEST_MAC });
  assert.equal(icmpv6TypeAt(rs), Icmpv6Type.ROUTER_SOLICITATION);
  const broken = rs.slice();
  broken[14 + 40 + 2] = broken[14 + 40 + 2]! ^ 0xff;
  assert.equal(refusalReason(decodeIcmpv6Frame(broken)), "bad_icmpv6_checksum");
  const truncated = rs.slice(0, 14 + 40 + 4);
  assert.equal(refusalReason(decodeIcmpv6Frame(truncated)), "truncated_ipv6_packet");
});

const VALID_FRAMES = [
  createRouterSolicitation({ srcMac: GUEST_MAC }),
  createRouterAdvertisement({ srcMac: GATEWAY_MAC, src: GATEWAY, options: EVERY_OPTION.slice(2) }),
  createNeighborSolicitation({ srcMac: GUEST_MAC, target: GATEWAY }),
  createNeighborAdvertisement({
    srcMac: GATEWAY_MAC,
    dstMac: GUEST_MAC,
    src: GATEWAY,
    dst: GUEST,
    router: true,
  }),
  createIcmpv6EchoRequest({
    srcMac: GUEST_MAC,
    dstMac: GATEWAY_MAC,
    dst: GATEWAY,
    identifier: 1,
    sequence: 1,
    data: new Uint8Array(8),
  }),
];

Deno.test("fuzz: truncated and bit-flipped ICMPv6 messages never throw or read out of bounds", () => {
  const messages = MESSAGES.map((message) => encodeIcmpv6(message, ADDRESSES));
  const strict = { guardViews: true };
  fuzzDecoder((bytes) => decodeIcmpv6(bytes), messages, { seed: 0x1c6, mutations: 300, ...strict });
  fuzzDecoder((bytes) => decodeIcmpv6(bytes, ADDRESSES), messages, {
    seed: 0x1c7,
    mutations: 50,
    ...strict,
  });
  fuzzDecoder(decodeIcmpv6Frame, VALID_FRAMES, { seed: 0xf4a, mutations: 100, ...strict });
  fuzzDecoder(icmpv6TypeAt, VALID_FRAMES, { seed: 0xf4b, mutations: 50, ...strict });
});
