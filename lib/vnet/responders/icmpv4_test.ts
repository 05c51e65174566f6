import assert from "node:assert/strict";
import {
  createIcmpEchoRequest,
  decodeIcmpv4Frame,
  encodeEthernet,
  encodeIcmpv4,
  encodeIpv4,
  EtherType,
  formatIpv4,
  formatMac,
  Icmpv4Type,
  IpProtocol,
  parseIpv4,
  parseMac,
  UnreachableCode,
} from "../../packet/mod.ts";
import { decoded, fuzzDecoder } from "../../../testing/total_decoders.ts";
import { icmpv4ErrorFor, Icmpv4ErrorLimiter, respondIcmpv4Echo } from "./icmpv4.ts";
import { createIpv4NicView } from "./nic_view.ts";

const GUEST = parseMac("52:54:00:12:34:01");
const OTHER = parseMac("52:54:00:12:34:99");
const GUEST_IP = parseIpv4("10.0.0.5");
const GATEWAY_IP = parseIpv4("169.254.0.1");
const VIEW = createIpv4NicView({ guestMac: GUEST, guestIpv4: GUEST_IP, mtu: 9000 });
const DATA = new TextEncoder().encode("netkit vnet ping");

function ping(dst: Uint8Array, srcMac = GUEST, dstMac = VIEW.gatewayMac): Uint8Array {
  return createIcmpEchoRequest({
    srcMac,
    dstMac,
    src: GUEST_IP,
    dst,
    ttl: 3,
    identifier: 0x1234,
    sequence: 7,
    data: DATA,
  });
}

/** An IPv4 packet from the guest to `dst`, as the routing hands it over. */
function udpPacket(dst: string, src = "10.0.0.5", length = 1000): Uint8Array {
  return encodeIpv4({
    src: parseIpv4(src),
    dst: parseIpv4(dst),
    protocol: IpProtocol.UDP,
    ttl: 1,
    payload: new Uint8Array(length),
  });
}

Deno.test("respondIcmpv4Echo answers a ping to the gateway: same id, seq and data, TTL 64", () => {
  const result = respondIcmpv4Echo(VIEW, ping(GATEWAY_IP));
  assert.equal(result?.reason, "icmpv4_echo_reply");
  const { ethernet, ip, icmp } = decoded(decodeIcmpv4Frame(result.frames[0]!));
  assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
  assert.equal(formatIpv4(ip.src), "169.254.0.1");
  assert.equal(formatIpv4(ip.dst), "10.0.0.5");
  assert.equal(ip.ttl, 64);
  assert.ok(icmp.kind === "echo");
  assert.equal(icmp.type, Icmpv4Type.ECHO_REPLY);
  assert.deepEqual([icmp.identifier, icmp.sequence], [0x1234, 7]);
  assert.deepEqual(icmp.data, DATA);
});

Deno.test("respondIcmpv4Echo leaves a ping to any other address to the routing", () => {
  assert.equal(respondIcmpv4Echo(VIEW, ping(parseIpv4("10.0.0.6"))), undefined);
  assert.equal(respondIcmpv4Echo(VIEW, ping(parseIpv4("198.51.100.1"))), undefined);
});

Deno.test("respondIcmpv4Echo counts what reaches the gateway and is not answered", () => {
  assert.equal(respondIcmpv4Echo(VIEW, ping(GATEWAY_IP, OTHER))?.reason, "icmpv4_foreign_mac");
  assert.equal(
    respondIcmpv4Echo(VIEW, ping(GATEWAY_IP, GUEST, OTHER))?.reason,
    "icmpv4_not_for_gateway_mac",
  );
  const corrupt = ping(GATEWAY_IP);
  corrupt[14 + 20 + 8]! ^= 0xff; // a data byte: the ICMP checksum no longer holds
  assert.equal(respondIcmpv4Echo(VIEW, corrupt)?.reason, "icmpv4_malformed");
  const echoReply = encodeEthernet({
    dst: VIEW.gatewayMac,
    src: GUEST,
    etherType: EtherType.IPV4,
    payload: encodeIpv4({
      src: GUEST_IP,
      dst: GATEWAY_IP,
      protocol: IpProtocol.ICMP,
      ttl: 64,
      payload: encodeIcmpv4({ type: Icmpv4Type.ECHO_REPLY, code: 0, body: new Uint8Array(0) }),
    }),
  });
  assert.equal(respondIcmpv4Echo(VIEW, echoReply)?.reason, "icmpv4_not_echo_request");
  fuzzDecoder((frame) => respondIcmpv4Echo(VIEW, frame), [ping(GATEWAY_IP)]);
});

Deno.test("icmpv4ErrorFor sends unreachable, TTL exceeded and too big from the gateway", () => {
  const limiter = new Icmpv4ErrorLimiter(0, { burst: 10 });
  const packet = udpPacket("198.51.100.9");
  const cases = [
    ["unreachable", Icmpv4Type.DESTINATION_UNREACHABLE, UnreachableCode.NET, 0],
    ["ttl_exceeded", Icmpv4Type.TIME_EXCEEDED, 0, 0],
    ["too_big", Icmpv4Type.DESTINATION_UNREACHABLE, UnreachableCode.FRAGMENTATION_NEEDED, 1400],
  ] as const;
  for (const [verdict, type, code, mtu] of cases) {
    const result = icmpv4ErrorFor(VIEW, limiter, verdict, packet, 0, { nextHopMtu: 1400 });
    assert.equal(result.reason, `icmpv4_error_${verdict}`);
    const { ethernet, ip, icmp } = decoded(decodeIcmpv4Frame(result.frames[0]!));
    assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
    assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
    assert.equal(formatIpv4(ip.src), "169.254.0.1");
    assert.equal(formatIpv4(ip.dst), "10.0.0.5");
    assert.ok(icmp.kind === "error");
    assert.deepEqual([icmp.type, icmp.code, icmp.nextHopMtu], [type, code, mtu], verdict);
    // RFC 1812 4.3.2.3: as much of the packet as fits a 576-byte datagram.
    assert.equal(ip.totalLength, 576);
    assert.deepEqual(icmp.invoking, packet.subarray(0, 576 - 28));
  }
  const host = icmpv4ErrorFor(VIEW, limiter, "unreachable", packet, 0, {
    unreachableCode: UnreachableCode.HOST,
  });
  const { icmp } = decoded(decodeIcmpv4Frame(host.frames[0]!));
  assert.equal(icmp.code, UnreachableCode.HOST);
  const own = icmpv4ErrorFor(VIEW, limiter, "too_big", packet, 0);
  assert.ok(decoded(decodeIcmpv4Frame(own.frames[0]!)).icmp.kind === "error");
  const ownMtu = decoded(decodeIcmpv4Frame(own.frames[0]!)).icmp;
  assert.ok(ownMtu.kind === "error" && ownMtu.nextHopMtu === 9000, "default: the NIC's MTU");
});

Deno.test("icmpv4ErrorFor never answers what RFC 1812 4.3.2.7 forbids, and spends no token", () => {
  const limiter = new Icmpv4ErrorLimiter(0, { burst: 1 });
  const icmpError = encodeIpv4({
    src: GUEST_IP,
    dst: parseIpv4("198.51.100.9"),
    protocol: IpProtocol.ICMP,
    ttl: 1,
    payload: encodeIcmpv4({ type: Icmpv4Type.TIME_EXCEEDED, code: 0, body: new Uint8Array(28) }),
  });
  const fragment = udpPacket("198.51.100.9");
  fragment[7] = 0x10; // fragment offset 128: not the first fragment
  const forbidden: [Uint8Array, string][] = [
    [icmpError, "icmpv4_error_forbidden_icmp_error"],
    [fragment, "icmpv4_error_forbidden_fragment"],
    [udpPacket("239.1.2.3"), "icmpv4_error_forbidden_multicast_destination"],
    [udpPacket("255.255.255.255"), "icmpv4_error_forbidden_broadcast_destination"],
    [udpPacket("198.51.100.9", "0.0.0.0"), "icmpv4_error_forbidden_bad_source"],
    [new Uint8Array(12), "icmpv4_error_forbidden_malformed"],
  ];
  for (const [packet, reason] of forbidden) {
    assert.deepEqual(icmpv4ErrorFor(VIEW, limiter, "unreachable", packet, 0), {
      frames: [],
      reason,
    });
  }
  assert.equal(
    icmpv4ErrorFor(VIEW, limiter, "unreachable", udpPacket("198.51.100.9"), 0).frames.length,
    1,
  );
});

Deno.test("icmpv4ErrorFor keeps to the NIC's token bucket", () => {
  const limiter = new Icmpv4ErrorLimiter(1000, { ratePerSecond: 10, burst: 3 });
  const packet = udpPacket("198.51.100.9");
  const sent = (now: number) =>
    icmpv4ErrorFor(VIEW, limiter, "ttl_exceeded", packet, now).frames.length;
  assert.deepEqual([sent(1000), sent(1000), sent(1000)], [1, 1, 1], "the burst");
  const limited = icmpv4ErrorFor(VIEW, limiter, "ttl_exceeded", packet, 1000);
  assert.deepEqual(limited, { frames: [], reason: "icmpv4_error_rate_limited" });
  assert.equal(sent(1050), 0, "half a token after 50 ms");
  assert.equal(sent(1100), 1, "one token after 100 ms at 10/s");
  assert.equal(sent(1100), 0);
  fuzzDecoder(
    (bytes) => icmpv4ErrorFor(VIEW, new Icmpv4ErrorLimiter(0), "unreachable", bytes, 0),
    [packet.subarray(0, 60)],
  );
});
