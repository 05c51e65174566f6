import assert from "node:assert/strict";
import {
  ArpOperation,
  createArpAnnouncement,
  createArpProbe,
  createArpRequest,
  decodeArpFrame,
  encodeEthernet,
  EtherType,
  formatIpv4,
  formatMac,
  parseIpv4,
  parseMac,
} from "../../packet/mod.ts";
import { decoded, fuzzDecoder } from "../../../testing/total_decoders.ts";
import { respondArp } from "./arp.ts";
import { createIpv4NicView } from "./nic_view.ts";

const GUEST = parseMac("52:54:00:12:34:01");
const OTHER = parseMac("52:54:00:12:34:99");
const GUEST_IP = parseIpv4("10.0.0.5");
const GATEWAY_IP = parseIpv4("169.254.0.1");
const VIEW = createIpv4NicView({ guestMac: GUEST, guestIpv4: GUEST_IP, prefixLength: 24 });

Deno.test("respondArp answers a request for the gateway, unicast to the requester", () => {
  const result = respondArp(
    VIEW,
    createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
  );
  assert.equal(result?.reason, "arp_reply");
  assert.equal(result.event, undefined);
  assert.equal(result.frames.length, 1);
  const { ethernet, arp } = decoded(decodeArpFrame(result.frames[0]!));
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
  assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
  assert.equal(arp.operation, ArpOperation.REPLY);
  assert.equal(formatMac(arp.senderMac), "02:00:00:00:00:01");
  assert.equal(formatIpv4(arp.senderIp), "169.254.0.1");
  assert.equal(formatMac(arp.targetMac), "52:54:00:12:34:01");
  assert.equal(formatIpv4(arp.targetIp), "10.0.0.5");
});

Deno.test("respondArp answers a unicast re-check sent to the gateway MAC", () => {
  const request = createArpRequest({
    srcMac: GUEST,
    srcIp: GUEST_IP,
    targetIp: GATEWAY_IP,
    dstMac: VIEW.gatewayMac,
  });
  assert.equal(respondArp(VIEW, request)?.reason, "arp_reply");
  const elsewhere = createArpRequest({
    srcMac: GUEST,
    srcIp: GUEST_IP,
    targetIp: GATEWAY_IP,
    dstMac: OTHER,
  });
  assert.equal(respondArp(VIEW, elsewhere)?.reason, "arp_not_for_gateway_mac");
});

Deno.test("respondArp does not answer for any other address: no proxy ARP", () => {
  for (const target of ["10.0.0.6", "10.0.0.1", "169.254.0.2"]) {
    const result = respondArp(
      VIEW,
      createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: parseIpv4(target) }),
    );
    assert.deepEqual(result, { frames: [], reason: "arp_not_gateway" }, target);
  }
});

Deno.test("respondArp ignores and counts ARP from any MAC but the guest's", () => {
  const foreign = respondArp(
    VIEW,
    createArpRequest({ srcMac: OTHER, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
  );
  assert.equal(foreign?.reason, "arp_foreign_mac");
  assert.equal(foreign.frames.length, 0);
  assert.equal(foreign.event?.kind, "ignored");
  // The guest's Ethernet source with another sender MAC inside: ignored too.
  const frame = createArpRequest({ srcMac: OTHER, srcIp: GUEST_IP, targetIp: GATEWAY_IP });
  frame.set(GUEST, 6);
  assert.equal(respondArp(VIEW, frame)?.reason, "arp_foreign_mac");
});

Deno.test("respondArp defends the gateway against an RFC 5227 probe, with a conflict event", () => {
  const result = respondArp(VIEW, createArpProbe({ srcMac: GUEST, targetIp: GATEWAY_IP }));
  assert.equal(result?.reason, "arp_probe_defended");
  assert.deepEqual(result.event, {
    kind: "conflict",
    protocol: "arp",
    reason: "arp_probe_defended",
    mac: "52:54:00:12:34:01",
    address: "169.254.0.1",
  });
  const { ethernet, arp } = decoded(decodeArpFrame(result.frames[0]!));
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
  assert.equal(formatIpv4(arp.senderIp), "169.254.0.1");
  assert.equal(formatIpv4(arp.targetIp), "0.0.0.0");
});

Deno.test("respondArp leaves probes for other addresses unanswered", () => {
  const result = respondArp(VIEW, createArpProbe({ srcMac: GUEST, targetIp: GUEST_IP }));
  assert.deepEqual(result, { frames: [], reason: "arp_probe_ignored" });
});

Deno.test("respondArp notes announcements, with a conflict event for an address not the guest's", () => {
  for (const operation of [ArpOperation.REQUEST, ArpOperation.REPLY] as const) {
    const own = respondArp(VIEW, createArpAnnouncement({ srcMac: GUEST, ip: GUEST_IP, operation }));
    assert.deepEqual(own, { frames: [], reason: "arp_announcement" });
    const foreign = respondArp(
      VIEW,
      createArpAnnouncement({ srcMac: GUEST, ip: parseIpv4("10.0.0.77"), operation }),
    );
    assert.equal(foreign?.frames.length, 0);
    assert.deepEqual(foreign?.event, {
      kind: "conflict",
      protocol: "arp",
      reason: "arp_foreign_address_claimed",
      mac: "52:54:00:12:34:01",
      address: "10.0.0.77",
    });
    const gateway = respondArp(
      VIEW,
      createArpAnnouncement({ srcMac: GUEST, ip: GATEWAY_IP, operation }),
    );
    assert.equal(gateway?.reason, "arp_gateway_claimed");
    assert.equal(gateway.frames.length, 0);
  }
});

Deno.test("respondArp ignores replies, leaves non-ARP frames alone and never throws", () => {
  const reply = createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP });
  reply[21] = ArpOperation.REPLY;
  assert.equal(respondArp(VIEW, reply)?.reason, "arp_reply_ignored");
  const ipv4 = encodeEthernet({
    dst: VIEW.gatewayMac,
    src: GUEST,
    etherType: EtherType.IPV4,
    payload: new Uint8Array(46),
  });
  assert.equal(respondArp(VIEW, ipv4), undefined);
  const rarp = createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP });
  rarp[21] = ArpOperation.RARP_REQUEST;
  assert.equal(respondArp(VIEW, rarp)?.reason, "arp_unsupported");
  const seeds = [
    createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
    createArpProbe({ srcMac: GUEST, targetIp: GATEWAY_IP }),
  ];
  fuzzDecoder((frame) => respondArp(VIEW, frame), seeds);
});
