import assert from "node:assert/strict";
import { encodeEthernet, EtherType } from "./ethernet.ts";
import type { MalformedPacketError } from "./errors.ts";
import {
  createIcmpDestinationUnreachable,
  createIcmpEchoReply,
  createIcmpEchoRequest,
  createIcmpTimeExceeded,
  decodeIcmpv4,
  decodeIcmpv4Frame,
  encodeIcmpv4,
  icmpv4ErrorForbidden,
  icmpv4Quote,
  isIcmpv4Frame,
  TimeExceededCode,
  UnreachableCode,
} from "./icmpv4.ts";
import { encodeIpv4, formatIpv4, IpProtocol, parseIpv4 } from "./ipv4.ts";
import { formatMac } from "./mac.ts";
import { decoded, fuzzDecoder, refusalReason as reasonOf } from "../../testing/total_decoders.ts";
import {
  GATEWAY_IP,
  GATEWAY_MAC as GATEWAY,
  GUEST_IP,
  GUEST_MAC as GUEST,
} from "../../testing/ipv4_guest.ts";

const FAR = parseIpv4("198.51.100.9");

const ECHO = {
  srcMac: GUEST,
  dstMac: GATEWAY,
  src: GUEST_IP,
  dst: GATEWAY_IP,
  identifier: 0xbeef,
  sequence: 3,
  data: new TextEncoder().encode("netkit"),
};

/** A UDP packet from the guest to a far host, with `length` bytes of payload. */
function guestPacket(length: number, overrides: Partial<Parameters<typeof encodeIpv4>[0]> = {}) {
  const payload = Uint8Array.from({ length }, (_, i) => i & 0xff);
  return encodeIpv4({
    src: GUEST_IP,
    dst: FAR,
    protocol: IpProtocol.UDP,
    ttl: 1,
    payload,
    ...overrides,
  });
}

Deno.test("echo request and reply round-trip with identifier, sequence, data and checksums", () => {
  const request = decoded(decodeIcmpv4Frame(createIcmpEchoRequest(ECHO)));
  assert.equal(request.ip.ttl, 64);
  assert.equal(request.ip.protocol, IpProtocol.ICMP);
  assert.equal(formatIpv4(request.ip.dst), "169.254.0.1");
  assert.equal(formatMac(request.ethernet.dst), "02:00:00:00:00:01");
  assert.deepEqual(
    { ...request.icmp, data: [...(request.icmp as { data: Uint8Array }).data] },
    {
      kind: "echo",
      type: 8,
      code: 0,
      checksum: request.icmp.checksum,
      identifier: 0xbeef,
      sequence: 3,
      data: [...ECHO.data],
    },
  );
  const reply = decoded(decodeIcmpv4Frame(createIcmpEchoReply({ ...ECHO, ttl: 255, id: 9 })));
  assert.equal(reply.icmp.type, 0);
  assert.equal(reply.ip.ttl, 255);
  assert.equal(reply.ip.id, 9);
  // Type 8 -> 0 changes one word by 0x0800: the checksum moves by the same amount.
  assert.equal(reply.icmp.checksum, request.icmp.checksum + 0x0800);
});

Deno.test("encodeIcmpv4 matches RFC 1071 by hand and refuses out-of-range fields", () => {
  const message = encodeIcmpv4({ type: 8, code: 0, rest: 0x00010002, body: new Uint8Array(0) });
  assert.deepEqual([...message], [8, 0, 0xf7, 0xfc, 0, 1, 0, 2]);
  assert.throws(() => encodeIcmpv4({ type: 256, code: 0, body: new Uint8Array(0) }), RangeError);
  assert.throws(() => encodeIcmpv4({ type: 8, code: -1, body: new Uint8Array(0) }), RangeError);
  assert.throws(
    () => encodeIcmpv4({ type: 8, code: 0, rest: 2 ** 32, body: new Uint8Array(0) }),
    RangeError,
  );
  assert.throws(() => createIcmpEchoRequest({ ...ECHO, identifier: 0x10000 }), RangeError);
});

Deno.test("errors quote the IP header and 8 data bytes (RFC 792) and go to the source", () => {
  const invoking = guestPacket(100);
  const frame = createIcmpTimeExceeded({
    srcMac: GATEWAY,
    dstMac: GUEST,
    src: GATEWAY_IP,
    invoking,
  });
  const { ip, icmp } = decoded(decodeIcmpv4Frame(frame));
  assert.equal(formatIpv4(ip.dst), "169.254.0.5");
  assert.equal(formatIpv4(ip.src), "169.254.0.1");
  assert.equal(icmp.kind, "error");
  assert.equal(icmp.type, 11);
  assert.equal(icmp.code, TimeExceededCode.TTL);
  if (icmp.kind !== "error") return;
  assert.deepEqual([...icmp.invoking], [...invoking.subarray(0, 28)]);
  assert.equal(icmp.nextHopMtu, 0);

  const mtu = decoded(decodeIcmpv4Frame(createIcmpDestinationUnreachable({
    srcMac: GATEWAY,
    dstMac: GUEST,
    src: GATEWAY_IP,
    code: UnreachableCode.FRAGMENTATION_NEEDED,
    nextHopMtu: 1400,
    invoking: guestPacket(1480, { dontFragment: true }),
    quote: "rfc1812",
  })));
  assert.equal(mtu.icmp.kind, "error");
  if (mtu.icmp.kind !== "error") return;
  assert.equal(mtu.icmp.nextHopMtu, 1400);
  // RFC 1812: as much as fits in a 576-byte datagram.
  assert.equal(mtu.ip.totalLength, 576);
  assert.equal(mtu.icmp.invoking.length, 576 - 28);
});

Deno.test("icmpv4Quote never quotes past the total length nor the bytes present", () => {
  const short = guestPacket(3);
  const padded = new Uint8Array(60);
  padded.set(short);
  assert.equal(icmpv4Quote(padded).length, 23, "Ethernet padding is not quoted");
  assert.equal(icmpv4Quote(padded, "rfc1812").length, 23);
  assert.equal(icmpv4Quote(guestPacket(100).subarray(0, 25)).length, 25);
  assert.equal(icmpv4Quote(new Uint8Array(0)).length, 0);
  assert.throws(
    () =>
      createIcmpTimeExceeded({
        srcMac: GATEWAY,
        dstMac: GUEST,
        src: GATEWAY_IP,
        invoking: short.subarray(0, 19),
      }),
    RangeError,
  );
});

Deno.test("icmpv4ErrorForbidden names what a router must not answer (RFC 1812 4.3.2.7)", () => {
  assert.equal(icmpv4ErrorForbidden(guestPacket(8)), undefined);
  assert.equal(
    icmpv4ErrorForbidden(guestPacket(8, { dst: parseIpv4("239.1.2.3") })),
    "multicast_destination",
  );
  assert.equal(
    icmpv4ErrorForbidden(guestPacket(8, { dst: parseIpv4("255.255.255.255") })),
    "broadcast_destination",
  );
  assert.equal(icmpv4ErrorForbidden(guestPacket(8, { src: parseIpv4("0.0.0.0") })), "bad_source");
  assert.equal(icmpv4ErrorForbidden(guestPacket(8, { src: parseIpv4("127.0.0.1") })), "bad_source");
  assert.equal(icmpv4ErrorForbidden(guestPacket(8, { src: parseIpv4("224.0.0.1") })), "bad_source");
  const fragment = guestPacket(8);
  fragment[7] = 1; // offset 8 bytes; the checksum does not matter here
  assert.equal(icmpv4ErrorForbidden(fragment), "fragment");
  const error = createIcmpTimeExceeded({
    srcMac: GATEWAY,
    dstMac: GUEST,
    src: GATEWAY_IP,
    invoking: guestPacket(8),
  });
  assert.equal(icmpv4ErrorForbidden(error.subarray(14)), "icmp_error");
  const echo = createIcmpEchoRequest(ECHO);
  assert.equal(icmpv4ErrorForbidden(echo.subarray(14)), undefined);
  assert.equal(icmpv4ErrorForbidden(new Uint8Array(19)), "malformed");
});

Deno.test("decoders refuse, with reasons, bad checksums, truncation and other protocols", () => {
  const message = encodeIcmpv4({ type: 8, code: 0, rest: 1, body: new Uint8Array(4) });
  assert.equal(reasonOf(decodeIcmpv4(message.subarray(0, 7))), "truncated_icmpv4");
  const flipped = message.slice();
  flipped[9] = 1;
  const bad = decodeIcmpv4(flipped);
  assert.equal(reasonOf(bad), "bad_icmpv4_checksum");
  assert.match((bad as MalformedPacketError).message, /checksum is 0xf7fe, expected 0xf7fd/);
  const other = decoded(
    decodeIcmpv4(encodeIcmpv4({ type: 13, code: 0, rest: 5, body: new Uint8Array(12) })),
  );
  assert.equal(other.kind, "other");
  const udp = guestPacket(8);
  const udpFrame = encodeEthernet({
    dst: GATEWAY,
    src: GUEST,
    etherType: EtherType.IPV4,
    payload: udp,
  });
  assert.equal(reasonOf(decodeIcmpv4Frame(udpFrame)), "not_icmpv4");
  assert.ok(!isIcmpv4Frame(udpFrame));
  const arp = encodeEthernet({ dst: GATEWAY, src: GUEST, etherType: EtherType.ARP, payload: udp });
  assert.equal(reasonOf(decodeIcmpv4Frame(arp)), "not_ipv4");
  const echo = createIcmpEchoRequest(ECHO);
  assert.ok(isIcmpv4Frame(echo));
  assert.equal(echo.length, 60, "padded");
  assert.ok(isIcmpv4Frame(echo.subarray(0, 48)));
  assert.ok(!isIcmpv4Frame(echo.subarray(0, 47)), "cut inside the IPv4 total length");
  const broken = echo.slice();
  broken[24] = broken[24]! ^ 0xff; // IPv4 header checksum
  assert.equal(reasonOf(decodeIcmpv4Frame(broken)), "bad_ipv4_checksum");
});

Deno.test("ICMPv4 decoders never throw nor read past the end on truncated or mangled input", () => {
  const frames = [
    createIcmpEchoRequest(ECHO),
    createIcmpTimeExceeded({
      srcMac: GATEWAY,
      dstMac: GUEST,
      src: GATEWAY_IP,
      invoking: guestPacket(20),
    }),
    createIcmpDestinationUnreachable({
      srcMac: GATEWAY,
      dstMac: GUEST,
      src: GATEWAY_IP,
      code: UnreachableCode.FRAGMENTATION_NEEDED,
      nextHopMtu: 1280,
      invoking: guestPacket(20),
    }),
  ];
  const messages = frames.map((frame) => frame.subarray(34));
  const icmp = fuzzDecoder(decodeIcmpv4, messages, { seed: 3 });
  const frame = fuzzDecoder(decodeIcmpv4Frame, frames, { seed: 4 });
  const quote = fuzzDecoder(
    (bytes) => icmpv4ErrorForbidden(bytes),
    frames.map((f) => f.subarray(14)),
    {
      seed: 5,
    },
  );
  assert.ok(icmp.cases > 1500 && icmp.refused > 0);
  assert.ok(frame.cases > 1500 && frame.refused > 0);
  assert.ok(quote.cases > 1500);
});
