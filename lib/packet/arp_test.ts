import assert from "node:assert/strict";
import {
  ARP_PACKET_LEN,
  ArpOperation,
  createArpAnnouncement,
  createArpProbe,
  createArpReply,
  createArpRequest,
  decodeArp,
  decodeArpFrame,
  encodeArp,
  isArpAnnouncement,
  isArpFrame,
  isArpProbe,
} from "./arp.ts";
import { encodeEthernet, EtherType } from "./ethernet.ts";
import { isMalformed } from "./errors.ts";
import { formatIpv4 } from "./ipv4.ts";
import { formatMac } from "./mac.ts";
import { decoded, fuzzDecoder, refusalReason as reasonOf } from "../../testing/total_decoders.ts";
import {
  GATEWAY_IP,
  GATEWAY_MAC as GATEWAY,
  GUEST_IP,
  GUEST_MAC as GUEST,
} from "../../testing/ipv4_guest.ts";

Deno.test("encodeArp writes RFC 826's layout and decodeArp reads it back", () => {
  const bytes = encodeArp({
    operation: ArpOperation.REQUEST,
    senderMac: GUEST,
    senderIp: GUEST_IP,
    targetIp: GATEWAY_IP,
  });
  assert.deepEqual(
    [...bytes],
    [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST, ...GUEST_IP, 0, 0, 0, 0, 0, 0, ...GATEWAY_IP],
  );
  const arp = decoded(decodeArp(bytes));
  assert.equal(arp.operation, ArpOperation.REQUEST);
  assert.equal(formatMac(arp.senderMac), "52:54:00:12:34:01");
  assert.equal(formatIpv4(arp.senderIp), "169.254.0.5");
  assert.equal(formatMac(arp.targetMac), "00:00:00:00:00:00");
  assert.equal(formatIpv4(arp.targetIp), "169.254.0.1");
});

Deno.test("the frame builders address and fill request, reply, probe and announcements", () => {
  const request = decoded(decodeArpFrame(
    createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
  ));
  assert.equal(formatMac(request.ethernet.dst), "ff:ff:ff:ff:ff:ff");
  assert.equal(formatMac(request.ethernet.src), "52:54:00:12:34:01");
  assert.ok(!isArpProbe(request.arp) && !isArpAnnouncement(request.arp));

  const unicast = decoded(decodeArpFrame(
    createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP, dstMac: GATEWAY }),
  ));
  assert.equal(formatMac(unicast.ethernet.dst), "02:00:00:00:00:01");

  const reply = decoded(decodeArpFrame(
    createArpReply({ srcMac: GATEWAY, srcIp: GATEWAY_IP, dstMac: GUEST, dstIp: GUEST_IP }),
  ));
  assert.equal(formatMac(reply.ethernet.dst), "52:54:00:12:34:01");
  assert.equal(reply.arp.operation, ArpOperation.REPLY);
  assert.equal(formatMac(reply.arp.senderMac), "02:00:00:00:00:01");
  assert.equal(formatMac(reply.arp.targetMac), "52:54:00:12:34:01");
  assert.equal(formatIpv4(reply.arp.targetIp), "169.254.0.5");

  const probe = decoded(decodeArpFrame(createArpProbe({ srcMac: GUEST, targetIp: GUEST_IP })));
  assert.equal(formatIpv4(probe.arp.senderIp), "0.0.0.0");
  assert.equal(formatMac(probe.ethernet.dst), "ff:ff:ff:ff:ff:ff");
  assert.ok(isArpProbe(probe.arp) && !isArpAnnouncement(probe.arp));

  const announcement = decoded(
    decodeArpFrame(createArpAnnouncement({ srcMac: GUEST, ip: GUEST_IP })),
  );
  assert.equal(announcement.arp.operation, ArpOperation.REQUEST);
  assert.equal(formatMac(announcement.arp.targetMac), "00:00:00:00:00:00");
  assert.ok(isArpAnnouncement(announcement.arp) && !isArpProbe(announcement.arp));

  const gratuitous = decoded(decodeArpFrame(
    createArpAnnouncement({ srcMac: GUEST, ip: GUEST_IP, operation: ArpOperation.REPLY }),
  ));
  assert.equal(gratuitous.arp.operation, ArpOperation.REPLY);
  assert.equal(formatMac(gratuitous.arp.targetMac), "52:54:00:12:34:01");
  assert.ok(isArpAnnouncement(gratuitous.arp));
});

Deno.test("frames are padded to 60 bytes and isArpFrame finds them, tagged too", () => {
  const frame = createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP });
  assert.equal(frame.length, 60);
  assert.ok(isArpFrame(frame));
  const tagged = encodeEthernet({
    dst: GATEWAY,
    src: GUEST,
    etherType: EtherType.ARP,
    vlanTags: [{ vid: 7 }],
    payload: frame.subarray(14, 14 + ARP_PACKET_LEN),
  });
  assert.ok(isArpFrame(tagged));
  assert.equal(decoded(decodeArpFrame(tagged)).ethernet.vlanTags[0]?.vid, 7);
  assert.ok(!isArpFrame(frame.subarray(0, 14 + ARP_PACKET_LEN - 1)));
  assert.ok(!isArpFrame(new Uint8Array(5)));
});

Deno.test("decodeArp refuses, with a reason, what is not Ethernet/IPv4 ARP", () => {
  const good = encodeArp({
    operation: 1,
    senderMac: GUEST,
    senderIp: GUEST_IP,
    targetIp: GATEWAY_IP,
  });
  assert.equal(reasonOf(decodeArp(good.subarray(0, 27))), "truncated_arp");
  const withChange = (at: number, value: number) => {
    const copy = good.slice();
    copy[at] = value;
    return decodeArp(copy);
  };
  assert.equal(reasonOf(withChange(1, 6)), "unsupported_arp_hardware"); // IEEE 802
  assert.equal(reasonOf(withChange(4, 8)), "unsupported_arp_hardware");
  assert.equal(reasonOf(withChange(2, 0x86)), "unsupported_arp_protocol");
  assert.equal(reasonOf(withChange(5, 16)), "unsupported_arp_protocol");
  assert.equal(decoded(withChange(7, 9)).operation, 9, "unknown operations are kept");
  const ipFrame = encodeEthernet({
    dst: GATEWAY,
    src: GUEST,
    etherType: EtherType.IPV4,
    payload: good,
  });
  assert.equal(reasonOf(decodeArpFrame(ipFrame)), "not_arp");
  assert.equal(reasonOf(decodeArpFrame(new Uint8Array(12))), "runt");
  assert.ok(isMalformed(decodeArpFrame(ipFrame)));
});

Deno.test("encodeArp refuses addresses of the wrong length and bad operations", () => {
  const init = { operation: 1, senderMac: GUEST, senderIp: GUEST_IP, targetIp: GATEWAY_IP };
  assert.throws(() => encodeArp({ ...init, senderMac: GUEST.subarray(0, 5) }), RangeError);
  assert.throws(() => encodeArp({ ...init, targetIp: new Uint8Array(16) }), RangeError);
  assert.throws(() => encodeArp({ ...init, operation: 0x10000 }), RangeError);
  assert.throws(() => encodeArp({ ...init, operation: 1.5 }), RangeError);
});

Deno.test("ARP decoders never throw nor read past the end on truncated or mangled input", () => {
  const frames = [
    createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
    createArpReply({ srcMac: GATEWAY, srcIp: GATEWAY_IP, dstMac: GUEST, dstIp: GUEST_IP }),
  ];
  const packets = frames.map((frame) => frame.subarray(14, 14 + ARP_PACKET_LEN));
  const arp = fuzzDecoder(decodeArp, packets, { seed: 1 });
  const frame = fuzzDecoder(decodeArpFrame, frames, { seed: 2 });
  assert.ok(arp.cases > 1000 && arp.refused > 0 && arp.refused < arp.cases);
  assert.ok(frame.cases > 1000 && frame.refused > 0 && frame.refused < frame.cases);
});
