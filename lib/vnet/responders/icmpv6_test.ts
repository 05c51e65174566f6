import assert from "node:assert/strict";
import {
  createIcmpv6EchoRequest,
  createIcmpv6Error,
  decodeIcmpv6Frame,
  formatIpv6,
  formatMac,
  type Icmpv6Frame,
  linkLocalFromMac,
  parseIpv6,
  parseMac,
} from "../../packet/mod.ts";
import { resolveNic } from "../config.ts";
import type { Decision } from "../routing.ts";
import { ICMPV6_ERROR_RATE, Icmpv6ErrorSender, Icmpv6Responder } from "./icmpv6.ts";
import { decoded } from "../../../testing/total_decoders.ts";

const MAC = parseMac("52:54:00:12:34:01");
const GATEWAY_MAC = parseMac("02:00:00:00:00:01");
const nic = resolveNic({ name: "vm0", mac: "52:54:00:12:34:01", ipv6: "2001:db8::5" });
const lan = resolveNic({
  name: "vm1",
  mac: "52:54:00:12:34:01",
  profile: "lan",
  ipv6: "2001:db8:1::5/64",
});

function decode(frame: Uint8Array): Icmpv6Frame {
  return decoded(decodeIcmpv6Frame(frame));
}

function echo(dst: string, src?: string) {
  return createIcmpv6EchoRequest({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    ...(src === undefined ? {} : { src: parseIpv6(src) }),
    dst: parseIpv6(dst),
    identifier: 0x1234,
    sequence: 7,
    data: new Uint8Array(56).fill(0xab),
  });
}

Deno.test("ICMPv6: ping6 of fe80::1 → echo reply from fe80::1, same id, seq and data, hop 64", () => {
  const responder = new Icmpv6Responder();
  const out = responder.handle(nic, echo("fe80::1"));
  assert.equal(out.length, 1);
  const { ethernet, ip, icmpv6 } = decode(out[0]!);
  if (icmpv6.kind !== "echo_reply") throw new Error(icmpv6.kind);
  assert.equal(icmpv6.identifier, 0x1234);
  assert.equal(icmpv6.sequence, 7);
  assert.deepEqual([...icmpv6.data], [...new Uint8Array(56).fill(0xab)]);
  assert.equal(ip.hopLimit, 64);
  assert.equal(formatIpv6(ip.src), "fe80::1");
  assert.equal(formatIpv6(ip.dst), formatIpv6(linkLocalFromMac(MAC)));
  assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
});

Deno.test("ICMPv6: echo to the lan gateway is answered from it; to ff02::1 from fe80::1", () => {
  const responder = new Icmpv6Responder();
  const global = decode(responder.handle(lan, echo("2001:db8:1::1", "2001:db8:1::5"))[0]!);
  assert.equal(formatIpv6(global.ip.src), "2001:db8:1::1");
  assert.equal(formatIpv6(global.ip.dst), "2001:db8:1::5");
  const all = decode(responder.handle(lan, echo("ff02::1"))[0]!);
  assert.equal(formatIpv6(all.ip.src), "fe80::1");
  // Not ours, from ::, or not a request: silence.
  assert.deepEqual(responder.handle(nic, echo("2001:db8:1::1")), []);
  assert.deepEqual(responder.handle(nic, echo("fe80::1", "::")), []);
  assert.equal(responder.drops.not_echo + responder.drops.bad_source, 2);
});

function decision(verdict: Decision["verdict"], mtu = 0): Decision {
  return { verdict, nic: -1, length: 0, mtu, reason: null };
}

/** A guest's packet to be routed, in a slot-sized buffer as the daemon hands it over. */
function routed(hopLimit = 64, dst = "2001:db8:2::9"): Uint8Array {
  const frame = createIcmpv6EchoRequest({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    src: parseIpv6("2001:db8:1::5"),
    dst: parseIpv6(dst),
    identifier: 1,
    sequence: 1,
    data: new Uint8Array(1400),
    hopLimit,
  });
  const slot = new Uint8Array(9216);
  slot.set(frame);
  return slot;
}

Deno.test("ICMPv6 errors: time exceeded, unreachable, too big with the MTU, quoted to 1280", () => {
  const sender = new Icmpv6ErrorSender();
  const cases = [
    ["ttl_exceeded", "time_exceeded", 0],
    ["unreachable", "destination_unreachable", 0],
    ["too_big", "packet_too_big", 1280],
  ] as const;
  for (const [verdict, kind, mtu] of cases) {
    const out = sender.error(lan, routed(1), decision(verdict, mtu), 0);
    assert.equal(out.length, 1, verdict);
    const { ip, icmpv6, ethernet } = decode(out[0]!);
    if (icmpv6.kind !== kind) throw new Error(icmpv6.kind);
    assert.equal(icmpv6.parameter, mtu);
    assert.equal(formatIpv6(ip.src), "2001:db8:1::1", "lan: from the gateway in the prefix");
    assert.equal(formatIpv6(ip.dst), "2001:db8:1::5");
    assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
    assert.equal(40 + ip.payloadLength, 1280, "as much as fits in the minimum MTU");
    assert.equal(formatIpv6(icmpv6.invoking.subarray(24, 40)), "2001:db8:2::9");
  }
  // linklocal: the only gateway address is fe80::1.
  const ll = decode(sender.error(nic, routed(1), decision("ttl_exceeded"), 0)[0]!);
  assert.equal(formatIpv6(ll.ip.src), "fe80::1");
});

Deno.test("ICMPv6 errors: none about an error, a multicast destination (too big aside), or ::", () => {
  const sender = new Icmpv6ErrorSender();
  const error = createIcmpv6Error({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    src: parseIpv6("2001:db8:1::5"),
    dst: parseIpv6("2001:db8:2::9"),
    kind: "destination_unreachable",
    invoking: routed().subarray(14, 80),
  });
  assert.deepEqual(sender.error(lan, error, decision("unreachable"), 0), []);
  const multicast = routed(64, "ff0e::1");
  assert.deepEqual(sender.error(lan, multicast, decision("ttl_exceeded"), 0), []);
  assert.equal(sender.error(lan, multicast, decision("too_big", 1500), 0).length, 1);
  const unspecified = routed();
  unspecified.fill(0, 14 + 8, 14 + 24);
  assert.deepEqual(sender.error(lan, unspecified, decision("unreachable"), 0), []);
  assert.equal(sender.suppressed.forbidden, 3);
  // Not IPv6: not this sender's.
  const v4 = routed();
  v4[14] = 0x45;
  assert.deepEqual(sender.error(lan, v4, decision("unreachable"), 0), []);
});

Deno.test("ICMPv6 errors are rate-limited per NIC by a token bucket", () => {
  const sender = new Icmpv6ErrorSender();
  let sent = 0;
  for (let i = 0; i < 100; i++) {
    sent += sender.error(lan, routed(1), decision("ttl_exceeded"), 0).length;
  }
  assert.equal(sent, ICMPV6_ERROR_RATE.burst);
  assert.equal(sender.suppressed.rate_limited, 100 - ICMPV6_ERROR_RATE.burst);
  // Another NIC has its own bucket; a second later this one has tokens again.
  assert.equal(sender.error(nic, routed(1), decision("ttl_exceeded"), 0).length, 1);
  assert.equal(sender.error(lan, routed(1), decision("ttl_exceeded"), 1000).length, 1);
});
