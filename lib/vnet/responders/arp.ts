/**
 * The ARP responder of a vnet NIC (RFC 826, RFC 5227): the gateway answers requests for its own
 * address from the NIC's guest, and nothing else.
 *
 * - Requests for the gateway address get a reply unicast to the requester. Requests for another
 *   address get one only when the view's `proxyArp` says routing makes it necessary (RFC 1027:
 *   another NIC's guest in a `lan` prefix the guest believes on-link): the gateway's MAC for
 *   the target's address, so the guest's frames reach the router. Otherwise none.
 * - An RFC 5227 probe (sender IP 0.0.0.0) for the gateway address is answered, which defends the
 *   address (the reply's target IP is 0.0.0.0, as RFC 826 processing gives); it comes with a
 *   `conflict` event. Probes for other addresses are the guest checking its own: not answered.
 * - Announcements (gratuitous ARP) ask nothing and get nothing; one claiming an address that is
 *   not the guest's comes with a `conflict` event.
 * - Frames whose Ethernet source or ARP sender MAC is not the guest's are ignored and counted.
 *
 * The frame is read in place: a frame not answered allocates nothing.
 *
 * @example
 * ```ts
 * import { respondArp } from "./arp.ts";
 * import { createIpv4NicView } from "./nic_view.ts";
 * import { createArpRequest, decodeArpFrame, formatMac, isMalformed, parseIpv4, parseMac } from "../../packet/mod.ts";
 *
 * const guestMac = parseMac("52:54:00:12:34:01");
 * const view = createIpv4NicView({ guestMac, guestIpv4: parseIpv4("10.0.0.5") });
 * const request = createArpRequest({ srcMac: guestMac, srcIp: parseIpv4("10.0.0.5"), targetIp: view.gatewayIpv4 });
 * const result = respondArp(view, request);
 * result?.reason; // "arp_reply"
 * const reply = decodeArpFrame(result!.frames[0]!);
 * !isMalformed(reply) && formatMac(reply.arp.senderMac); // "02:00:00:00:00:01"
 * ```
 *
 * @module
 */

import {
  ArpOperation,
  createArpReply,
  ETH_HEADER_LEN,
  ethernetHeaderLengthAt,
  formatIpv4,
  formatMac,
  IPV4_ADDRESS_LEN,
  isArpFrame,
  isBroadcastMac,
  macEquals,
} from "../../packet/mod.ts";
import { u16 } from "../../packet/bytes.ts";
import { ipv4At, type Ipv4NicView, type ResponderResult, silentResult } from "./nic_view.ts";

// Offsets in the ARP packet (after the Ethernet header).
const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OPERATION = 6;
const SENDER_MAC = 8;
const SENDER_IP = 14;
const TARGET_IP = 24;

const ZERO_IP = new Uint8Array(IPV4_ADDRESS_LEN);

const VLAN_TAGGED = silentResult("arp", "arp_vlan_tagged");
const UNSUPPORTED = silentResult("arp", "arp_unsupported");
const FOREIGN_MAC = silentResult("arp", "arp_foreign_mac", "ignored");
const NOT_FOR_GATEWAY_MAC = silentResult("arp", "arp_not_for_gateway_mac");
const PROBE_IGNORED = silentResult("arp", "arp_probe_ignored");
const ANNOUNCEMENT = silentResult("arp", "arp_announcement");
const NOT_GATEWAY = silentResult("arp", "arp_not_gateway");
const REPLY_IGNORED = silentResult("arp", "arp_reply_ignored");

/**
 * Answers one frame from the NIC's guest if it is ARP; `undefined` when it is not. Never throws
 * on the frame's bytes.
 */
export function respondArp(view: Ipv4NicView, frame: Uint8Array): ResponderResult | undefined {
  if (!isArpFrame(frame)) return undefined;
  // The guest's TAP carries untagged frames; a tagged one is not for this NIC's gateway.
  if (ethernetHeaderLengthAt(frame) !== ETH_HEADER_LEN) return VLAN_TAGGED;
  const arp = ETH_HEADER_LEN;
  if (
    u16(frame, arp + HTYPE) !== 1 || u16(frame, arp + PTYPE) !== 0x0800 ||
    frame[arp + HLEN] !== 6 || frame[arp + PLEN] !== IPV4_ADDRESS_LEN
  ) {
    return UNSUPPORTED;
  }
  if (
    !macEquals(frame, 6, view.guestMac, 0) || !macEquals(frame, arp + SENDER_MAC, view.guestMac, 0)
  ) {
    return FOREIGN_MAC;
  }
  if (!isBroadcastMac(frame, 0) && !macEquals(frame, 0, view.gatewayMac, 0)) {
    return NOT_FOR_GATEWAY_MAC;
  }
  const operation = u16(frame, arp + OPERATION);
  if (operation !== ArpOperation.REQUEST && operation !== ArpOperation.REPLY) return UNSUPPORTED;
  const senderIsZero = ipv4At(frame, arp + SENDER_IP, ZERO_IP);
  const forGateway = ipv4At(frame, arp + TARGET_IP, view.gatewayIpv4);
  const announcement = !senderIsZero &&
    frame[arp + SENDER_IP] === frame[arp + TARGET_IP] &&
    frame[arp + SENDER_IP + 1] === frame[arp + TARGET_IP + 1] &&
    frame[arp + SENDER_IP + 2] === frame[arp + TARGET_IP + 2] &&
    frame[arp + SENDER_IP + 3] === frame[arp + TARGET_IP + 3];
  if (announcement) return noteAnnouncement(view, frame, arp + SENDER_IP);
  if (operation === ArpOperation.REPLY) return REPLY_IGNORED;
  if (senderIsZero && !forGateway) return PROBE_IGNORED;
  if (!forGateway) {
    if (view.proxyArp?.(frame, arp + TARGET_IP) !== true) return NOT_GATEWAY;
    const proxied = createArpReply({
      srcMac: view.gatewayMac,
      srcIp: frame.subarray(arp + TARGET_IP, arp + TARGET_IP + IPV4_ADDRESS_LEN),
      dstMac: view.guestMac,
      dstIp: frame.subarray(arp + SENDER_IP, arp + SENDER_IP + IPV4_ADDRESS_LEN),
    });
    return { frames: [proxied], reason: "arp_proxy_reply" };
  }
  const reply = createArpReply({
    srcMac: view.gatewayMac,
    srcIp: view.gatewayIpv4,
    dstMac: view.guestMac,
    // A probe's sender IP is 0.0.0.0, and so is this reply's target IP (RFC 5227 section 2.1.1).
    dstIp: frame.subarray(arp + SENDER_IP, arp + SENDER_IP + IPV4_ADDRESS_LEN),
  });
  if (!senderIsZero) return { frames: [reply], reason: "arp_reply" };
  return {
    frames: [reply],
    reason: "arp_probe_defended",
    event: {
      kind: "conflict",
      protocol: "arp",
      reason: "arp_probe_defended",
      mac: formatMac(view.guestMac),
      address: formatIpv4(view.gatewayIpv4),
    },
  };
}

/** An announcement from the guest: fine for its own address, a conflict for any other. */
function noteAnnouncement(view: Ipv4NicView, frame: Uint8Array, senderIp: number): ResponderResult {
  if (view.guestIpv4 !== undefined && ipv4At(frame, senderIp, view.guestIpv4)) return ANNOUNCEMENT;
  const reason = ipv4At(frame, senderIp, view.gatewayIpv4)
    ? "arp_gateway_claimed"
    : "arp_foreign_address_claimed";
  return {
    frames: [],
    reason,
    event: {
      kind: "conflict",
      protocol: "arp",
      reason,
      mac: formatMac(view.guestMac),
      address: formatIpv4(frame, senderIp),
    },
  };
}
