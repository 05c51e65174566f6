/**
 * The DHCPv4 server of a vnet NIC (RFC 2131, RFC 2132, RFC 3442, RFC 6842): one fixed address
 * per NIC, served only to the NIC's guest MAC, from the gateway (its MAC, its address, UDP port
 * 67 to 68). Stateless: the binding is the configuration, so there is nothing to remember
 * between messages but what each message carries (xid, flags, chaddr, client identifier).
 *
 * | client message | answer |
 * | --- | --- |
 * | DISCOVER | OFFER of the NIC's address |
 * | REQUEST, SELECTING (option 54 and 50) | 54 ours and 50 the NIC's address: ACK; 50 another: NAK; 54 another server's: silence |
 * | REQUEST, INIT-REBOOT (50, no 54) | 50 the NIC's address: ACK; another: NAK |
 * | REQUEST, RENEWING/REBINDING (ciaddr, no 50/54) | ciaddr the NIC's address: ACK unicast to ciaddr; another: NAK |
 * | INFORM | ACK with configuration only: no yiaddr, no lease (51, 58, 59) |
 * | RELEASE, DECLINE | nothing sent; an event and a counter |
 *
 * Options. Every OFFER and ACK carries 53, 54 (the gateway address), 51, 58 (T1), 59 (T2) but
 * an INFORM's ACK, and 1 (255.255.255.255 in `linklocal`, the real mask in `lan`): the address
 * is not usable without them, and RFC 2131 section 4.3.1 lets a server add parameters not
 * asked for. 6 (DNS) goes whenever servers are configured, for the same reason. The others go
 * only when asked for in option 55, as RFC 2131 section 4.3.1 and RFC 2132 section 9.8 have it:
 * 26 (the NIC's MTU), and in `linklocal` 121 and 249 (the gateway/32 on-link, then the default
 * route via the gateway, RFC 3442). A client without option 55 gets 121 in `linklocal` too.
 * Option 3 (router) goes in `lan`, and in `linklocal` only to a client that did not ask for 121:
 * RFC 3442 says a client that asked for and got 121 ignores 3, and a server SHOULD NOT send it
 * then. A client identifier (61) is echoed (RFC 6842). A reply keeps within the client's maximum
 * message size (57; 576 bytes without it, RFC 2131 section 2) and 1500 bytes: DNS servers are
 * capped so that every reply fits 576 bytes.
 *
 * Frames are checked in place before they are decoded: a DHCP frame from another MAC, or for
 * another server, allocates nothing.
 *
 * @example DISCOVER → OFFER
 * ```ts
 * import { respondDhcpv4 } from "./dhcpv4.ts";
 * import { createIpv4NicView } from "./nic_view.ts";
 * import { createDhcpDiscover, decodeDhcpFrame, formatIpv4, isMalformed, parseIpv4, parseMac } from "../../packet/mod.ts";
 *
 * const guestMac = parseMac("52:54:00:12:34:01");
 * const view = createIpv4NicView({ guestMac, guestIpv4: parseIpv4("10.0.0.5") });
 * const result = respondDhcpv4(view, createDhcpDiscover({ clientMac: guestMac, xid: 7 }));
 * result?.reason; // "dhcp_offer"
 * const offer = decodeDhcpFrame(result!.frames[0]!);
 * !isMalformed(offer) && formatIpv4(offer.dhcp.yiaddr); // "10.0.0.5"
 * ```
 *
 * @module
 */

import {
  BOOTP_FIXED_LEN,
  BootpOp,
  type ClasslessRoute,
  decodeDhcpFrame,
  DHCP_DEFAULT_MAX_MESSAGE_SIZE,
  DHCP_MIN_MAX_MESSAGE_SIZE,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOption,
  type DhcpOptions,
  dhcpReplyDestination,
  encodeDhcpFrame,
  ETH_HEADER_LEN,
  ethernetHeaderLengthAt,
  formatIpv4,
  formatMac,
  IPV4_ADDRESS_LEN,
  isDhcpv4Frame,
  isMalformed,
  macEquals,
  UDP_HEADER_LEN,
} from "../../packet/mod.ts";
import { u16 } from "../../packet/bytes.ts";
import {
  ipv4At,
  type Ipv4NicView,
  type Ipv4ResponderEventKind,
  type ResponderResult,
  silentResult,
} from "./nic_view.ts";

// Offsets in the IPv4 header, the UDP header and the BOOTP fixed part.
const IP_DST = 16;
const UDP_DST_PORT = 2;
const BOOTP_OP = 0;
const BOOTP_HTYPE = 1;
const BOOTP_HLEN = 2;
const BOOTP_CHADDR = 28;

const ZERO_IP = new Uint8Array(IPV4_ADDRESS_LEN);
const BROADCAST_IP = new Uint8Array(IPV4_ADDRESS_LEN).fill(0xff);

const VLAN_TAGGED = silentResult("dhcpv4", "dhcp_vlan_tagged");
const TO_CLIENT_PORT = silentResult("dhcpv4", "dhcp_server_in_guest", "ignored");
const FOREIGN_MAC = silentResult("dhcpv4", "dhcp_foreign_mac", "ignored");
const FOREIGN_CHADDR = silentResult("dhcpv4", "dhcp_foreign_chaddr", "ignored");
const MALFORMED = silentResult("dhcpv4", "dhcp_malformed", "ignored");
const RELAYED = silentResult("dhcpv4", "dhcp_relayed", "ignored");
const BOOTP = silentResult("dhcpv4", "dhcp_bootp_unsupported", "ignored");
const NO_ADDRESS = silentResult("dhcpv4", "dhcp_no_address_configured");
const OTHER_SERVER = silentResult("dhcpv4", "dhcp_other_server");
const NO_REQUESTED_ADDRESS = silentResult("dhcpv4", "dhcp_request_without_address", "ignored");
const INFORM_WITHOUT_CIADDR = silentResult("dhcpv4", "dhcp_inform_without_ciaddr", "ignored");
const TOO_LARGE = silentResult("dhcpv4", "dhcp_reply_too_large", "ignored");
const UNEXPECTED_TYPE = silentResult("dhcpv4", "dhcp_unexpected_message_type", "ignored");

/**
 * Where the BOOTP message of `frame` starts, once it is known to be a DHCP client message to
 * this NIC's gateway from its guest; or the result that says why not (`undefined`: not the
 * DHCP server's business). Reads the frame in place.
 */
function locateClientMessage(
  view: Ipv4NicView,
  frame: Uint8Array,
): number | ResponderResult | undefined {
  const ip = ethernetHeaderLengthAt(frame);
  const udp = ip + (frame[ip]! & 0x0f) * 4;
  const toServer = u16(frame, udp + UDP_DST_PORT) === DHCP_SERVER_PORT;
  const toUs = ipv4At(frame, ip + IP_DST, BROADCAST_IP) ||
    ipv4At(frame, ip + IP_DST, view.gatewayIpv4);
  // Unicast to some other server is routed like any traffic; to port 68, a server in the guest.
  if (!toUs) return undefined;
  if (!toServer) return TO_CLIENT_PORT;
  if (ip !== ETH_HEADER_LEN) return VLAN_TAGGED;
  if (!macEquals(frame, 6, view.guestMac, 0)) return FOREIGN_MAC;
  const bootp = udp + UDP_HEADER_LEN;
  if (bootp + BOOTP_FIXED_LEN > frame.length) return MALFORMED;
  if (
    frame[bootp + BOOTP_OP] !== BootpOp.REQUEST || frame[bootp + BOOTP_HTYPE] !== 1 ||
    frame[bootp + BOOTP_HLEN] !== 6 || !macEquals(frame, bootp + BOOTP_CHADDR, view.guestMac, 0)
  ) {
    return FOREIGN_CHADDR;
  }
  return bootp;
}

/**
 * Answers one frame from the NIC's guest if it is a DHCPv4 client message to the gateway
 * (broadcast, or unicast to the gateway address); `undefined` when it is not the DHCP server's
 * business. See the module documentation for what is answered how. Never throws on the frame's
 * bytes.
 */
export function respondDhcpv4(view: Ipv4NicView, frame: Uint8Array): ResponderResult | undefined {
  if (!isDhcpv4Frame(frame)) return undefined;
  const located = locateClientMessage(view, frame);
  if (typeof located !== "number") return located;
  const decoded = decodeDhcpFrame(frame);
  if (isMalformed(decoded)) return MALFORMED;
  const request = decoded.dhcp;
  if (!isZero(request.giaddr)) return RELAYED;
  const type = request.options.messageType;
  if (type === undefined) return BOOTP;
  if (view.guestIpv4 === undefined) return NO_ADDRESS;
  const address = view.guestIpv4;
  switch (type) {
    case DhcpMessageType.DISCOVER:
      return reply(view, request, DhcpMessageType.OFFER, address, "dhcp_offer");
    case DhcpMessageType.REQUEST:
      return answerRequest(view, request, address);
    case DhcpMessageType.INFORM:
      if (isZero(request.ciaddr)) return INFORM_WITHOUT_CIADDR;
      return reply(view, request, DhcpMessageType.ACK, ZERO_IP, "dhcp_inform_ack", {
        kind: "inform",
        address: request.ciaddr,
      });
    case DhcpMessageType.RELEASE:
    case DhcpMessageType.DECLINE:
      return noteGivenBack(view, request, type);
    default:
      return UNEXPECTED_TYPE;
  }
}

/** RFC 2131 section 4.3.2: the client's state follows from options 54 and 50 and ciaddr. */
function answerRequest(
  view: Ipv4NicView,
  request: DhcpMessage,
  address: Uint8Array,
): ResponderResult {
  const { serverId, requestedIp } = request.options;
  if (serverId !== undefined && !ipv4At(serverId, 0, view.gatewayIpv4)) return OTHER_SERVER;
  // SELECTING and INIT-REBOOT name the address in option 50; RENEWING and REBINDING in ciaddr.
  const asked = requestedIp ?? (isZero(request.ciaddr) ? undefined : request.ciaddr);
  if (asked === undefined) return NO_REQUESTED_ADDRESS;
  if (!ipv4At(asked, 0, address)) {
    // The client's notion of its address is wrong: NAK, so it starts over (RFC 2131 4.3.2).
    return reply(view, request, DhcpMessageType.NAK, ZERO_IP, "dhcp_nak", {
      kind: "nak",
      address: asked,
    });
  }
  return reply(view, request, DhcpMessageType.ACK, address, "dhcp_ack", {
    kind: "lease",
    address,
  });
}

const GIVEN_BACK_REASONS = {
  [DhcpMessageType.RELEASE]: "dhcp_release",
  [DhcpMessageType.DECLINE]: "dhcp_decline",
} as const;

/** RELEASE and DECLINE: nothing to send (the binding is the configuration); tell and count. */
function noteGivenBack(
  view: Ipv4NicView,
  request: DhcpMessage,
  type: typeof DhcpMessageType.RELEASE | typeof DhcpMessageType.DECLINE,
): ResponderResult {
  const { serverId, requestedIp } = request.options;
  if (serverId !== undefined && !ipv4At(serverId, 0, view.gatewayIpv4)) return OTHER_SERVER;
  const reason = GIVEN_BACK_REASONS[type];
  const address = type === DhcpMessageType.RELEASE ? request.ciaddr : requestedIp ?? ZERO_IP;
  return {
    frames: [],
    reason,
    event: {
      kind: type === DhcpMessageType.RELEASE ? "release" : "decline",
      protocol: "dhcpv4",
      reason,
      mac: formatMac(view.guestMac),
      address: formatIpv4(address),
    },
  };
}

/** The event a reply comes with. */
interface ReplyEvent {
  kind: Ipv4ResponderEventKind;
  address: Uint8Array;
}

/** A subnet mask of `prefixLength` bits. */
function subnetMask(prefixLength: number): Uint8Array {
  const mask = prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
  return new Uint8Array([mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff]);
}

/** The `linklocal` routes of RFC 3442: the gateway on-link, then the default route via it. */
function linklocalRoutes(gateway: Uint8Array): ClasslessRoute[] {
  return [
    { destination: gateway, prefixLength: 32, router: ZERO_IP },
    { destination: ZERO_IP, prefixLength: 0, router: gateway },
  ];
}

/**
 * The options of an OFFER or ACK (see the module documentation for which and why); the lease
 * times only `withLease`, that is when an address is given (not to an INFORM).
 */
function configurationOptions(
  view: Ipv4NicView,
  request: DhcpMessage,
  withLease: boolean,
): DhcpOptions {
  const asked = request.options.parameterRequestList;
  const wants = (code: number) => asked?.includes(code) ?? false;
  const options: DhcpOptions = {};
  if (withLease) {
    options.leaseTime = view.leaseTime;
    options.renewalTime = view.renewalTime;
    options.rebindingTime = view.rebindingTime;
  }
  const linklocal = view.profile === "linklocal";
  options.subnetMask = subnetMask(linklocal ? 32 : view.prefixLength);
  const classless = linklocal && (asked === undefined || wants(DhcpOption.CLASSLESS_ROUTES));
  if (!linklocal || !wants(DhcpOption.CLASSLESS_ROUTES)) options.routers = [view.gatewayIpv4];
  if (view.dnsServers.length > 0) options.dnsServers = [...view.dnsServers];
  if (wants(DhcpOption.INTERFACE_MTU)) options.interfaceMtu = view.mtu;
  if (classless) options.classlessRoutes = linklocalRoutes(view.gatewayIpv4);
  if (linklocal && wants(DhcpOption.MS_CLASSLESS_ROUTES)) {
    options.msClasslessRoutes = linklocalRoutes(view.gatewayIpv4);
  }
  return options;
}

/** The largest reply the client takes: option 57 within 576..1500, else 576 (RFC 2131 2). */
function maxReplySize(request: DhcpMessage): number {
  const size = request.options.maxMessageSize ?? DHCP_MIN_MAX_MESSAGE_SIZE;
  return Math.min(Math.max(size, DHCP_MIN_MAX_MESSAGE_SIZE), DHCP_DEFAULT_MAX_MESSAGE_SIZE);
}

/** Builds the reply frame of `type` to `request` from the gateway, addressed per RFC 2131 4.1. */
function reply(
  view: Ipv4NicView,
  request: DhcpMessage,
  type: number,
  yiaddr: Uint8Array,
  reason: string,
  event?: ReplyEvent,
): ResponderResult {
  const nak = type === DhcpMessageType.NAK;
  const options: DhcpOptions = nak
    ? { message: "requested address is not this client's" }
    : configurationOptions(view, request, !isZero(yiaddr));
  options.messageType = type;
  options.serverId = view.gatewayIpv4;
  if (request.options.clientId !== undefined) options.clientId = request.options.clientId;
  const destination = dhcpReplyDestination(request, type, yiaddr, view.guestMac);
  const frame = catchTooLarge(() =>
    encodeDhcpFrame({
      srcMac: view.gatewayMac,
      dstMac: destination.dstMac,
      src: view.gatewayIpv4,
      dst: destination.dst,
      srcPort: DHCP_SERVER_PORT,
      dstPort: destination.dstPort,
      maxMessageSize: maxReplySize(request),
      message: {
        op: BootpOp.REPLY,
        xid: request.xid,
        flags: request.flags,
        chaddr: request.chaddr,
        // An ACK to a renewing client or an INFORM keeps its ciaddr (RFC 2131 table 3).
        ciaddr: type === DhcpMessageType.ACK ? request.ciaddr : ZERO_IP,
        yiaddr,
        options,
      },
    })
  );
  if (frame === undefined) return TOO_LARGE;
  if (event === undefined) return { frames: [frame], reason };
  return {
    frames: [frame],
    reason,
    event: {
      kind: event.kind,
      protocol: "dhcpv4",
      reason,
      mac: formatMac(view.guestMac),
      address: formatIpv4(event.address),
    },
  };
}

/**
 * `build()`, or `undefined` when the reply is too large for the client: only an echoed client
 * identifier (option 61, the client's own bytes) can make it so, as the rest is bounded.
 */
function catchTooLarge(build: () => Uint8Array): Uint8Array | undefined {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function isZero(address: Uint8Array): boolean {
  return ipv4At(address, 0, ZERO_IP);
}
