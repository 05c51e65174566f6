import assert from "node:assert/strict";
import {
  BootpOp,
  createDhcpDecline,
  createDhcpDiscover,
  createDhcpInform,
  createDhcpRelease,
  createDhcpRequest,
  decodeDhcpFrame,
  type DhcpFrame,
  DhcpMessageType,
  DhcpOption,
  encodeDhcpFrame,
  formatIpv4,
  formatMac,
  parseIpv4,
  parseMac,
} from "../../packet/mod.ts";
import { decoded, fuzzDecoder } from "../../../testing/total_decoders.ts";
import { respondDhcpv4 } from "./dhcpv4.ts";
import { createIpv4NicView, type Ipv4NicView, type ResponderResult } from "./nic_view.ts";

const GUEST = parseMac("52:54:00:12:34:01");
const OTHER = parseMac("52:54:00:12:34:99");
const GUEST_IP = parseIpv4("10.0.0.5");
const GATEWAY_IP = parseIpv4("169.254.0.1");
const DNS = [parseIpv4("192.0.2.53"), parseIpv4("192.0.2.54")];
const LINKLOCAL = createIpv4NicView({
  guestMac: GUEST,
  guestIpv4: GUEST_IP,
  prefixLength: 24,
  dnsServers: DNS,
  mtu: 1400,
  leaseTime: 3600,
});
const LAN = createIpv4NicView({
  guestMac: GUEST,
  guestIpv4: GUEST_IP,
  prefixLength: 24,
  profile: "lan",
  gatewayIpv4: parseIpv4("10.0.0.1"),
});
const SERVER = { mac: LINKLOCAL.gatewayMac, ip: GATEWAY_IP };
const XID = 0x1234_5678;

/** The one frame `result` sends, decoded. */
function sent(result: ResponderResult | undefined): DhcpFrame {
  assert.ok(result, "the responder left the frame alone");
  assert.equal(result.frames.length, 1, `nothing sent: ${result.reason}`);
  return decoded(decodeDhcpFrame(result.frames[0]!));
}

function addressing(frame: DhcpFrame): string {
  const { ethernet, ip, udp } = frame;
  return `${formatMac(ethernet.src)} ${formatIpv4(ip.src)}:${udp.srcPort} -> ` +
    `${formatMac(ethernet.dst)} ${formatIpv4(ip.dst)}:${udp.dstPort}`;
}

const FROM_GATEWAY = "02:00:00:00:00:01 169.254.0.1:67";
const BROADCAST = `${FROM_GATEWAY} -> ff:ff:ff:ff:ff:ff 255.255.255.255:68`;
const UNICAST = `${FROM_GATEWAY} -> 52:54:00:12:34:01 10.0.0.5:68`;

function discover(
  view: Ipv4NicView = LINKLOCAL,
  init: Partial<Parameters<typeof createDhcpDiscover>[0]> = {},
) {
  return respondDhcpv4(view, createDhcpDiscover({ clientMac: GUEST, xid: XID, ...init }));
}

Deno.test("DORA: DISCOVER gets an OFFER, the REQUEST for it an ACK with a lease event", () => {
  const offer = sent(discover(LINKLOCAL, { broadcast: true }));
  const { dhcp } = offer;
  assert.equal(addressing(offer), BROADCAST, "the broadcast flag is honoured");
  assert.equal(dhcp.op, BootpOp.REPLY);
  assert.equal(dhcp.xid, XID);
  assert.ok(dhcp.broadcast, "flags echoed");
  assert.equal(formatMac(dhcp.chaddr), "52:54:00:12:34:01");
  assert.equal(formatIpv4(dhcp.yiaddr), "10.0.0.5");
  assert.equal(formatIpv4(dhcp.ciaddr), "0.0.0.0");
  const o = dhcp.options;
  assert.equal(o.messageType, DhcpMessageType.OFFER);
  assert.equal(formatIpv4(o.serverId!), "169.254.0.1");
  assert.deepEqual([o.leaseTime, o.renewalTime, o.rebindingTime], [3600, 1800, 3150]);
  assert.equal(formatIpv4(o.subnetMask!), "255.255.255.255");
  assert.deepEqual(o.dnsServers?.map((a) => formatIpv4(a)), ["192.0.2.53", "192.0.2.54"]);
  assert.equal(o.interfaceMtu, 1400, "26 asked for in 55");
  assert.deepEqual(
    o.classlessRoutes?.map((r) =>
      `${formatIpv4(r.destination)}/${r.prefixLength} via ${formatIpv4(r.router)}`
    ),
    ["169.254.0.1/32 via 0.0.0.0", "0.0.0.0/0 via 169.254.0.1"],
  );
  assert.equal(o.routers, undefined, "RFC 3442: no option 3 to a client that asked for 121");
  assert.equal(o.msClasslessRoutes, undefined, "249 only when asked");

  const result = respondDhcpv4(
    LINKLOCAL,
    createDhcpRequest({ clientMac: GUEST, xid: XID, requestedIp: GUEST_IP, serverId: GATEWAY_IP }),
  );
  const ack = sent(result);
  assert.equal(result?.reason, "dhcp_ack");
  assert.deepEqual(result?.event, {
    kind: "lease",
    protocol: "dhcpv4",
    reason: "dhcp_ack",
    mac: "52:54:00:12:34:01",
    address: "10.0.0.5",
  });
  assert.equal(addressing(ack), UNICAST, "no broadcast flag: unicast to yiaddr at chaddr");
  assert.equal(ack.dhcp.options.messageType, DhcpMessageType.ACK);
  assert.equal(formatIpv4(ack.dhcp.yiaddr), "10.0.0.5");
  assert.equal(ack.dhcp.options.leaseTime, 3600);
});

Deno.test("DISCOVER of 576 bytes (with option 57 = 576) gets an OFFER within 576", () => {
  const filler = [{ code: 60, data: new Uint8Array(288).fill(0x61) }];
  const frame = createDhcpDiscover({
    clientMac: GUEST,
    xid: XID,
    options: { maxMessageSize: 576, unknown: filler },
  });
  assert.equal(decoded(decodeDhcpFrame(frame)).ip.totalLength, 576);
  const offer = sent(respondDhcpv4(LINKLOCAL, frame));
  assert.equal(offer.dhcp.options.messageType, DhcpMessageType.OFFER);
  assert.ok(offer.ip.totalLength <= 576);
});

Deno.test("REQUEST in SELECTING for another server's offer is met with silence", () => {
  const result = respondDhcpv4(
    LINKLOCAL,
    createDhcpRequest({
      clientMac: GUEST,
      xid: XID,
      requestedIp: GUEST_IP,
      serverId: parseIpv4("192.0.2.99"),
    }),
  );
  assert.deepEqual(result, { frames: [], reason: "dhcp_other_server" });
});

Deno.test("REQUEST for the wrong address gets a broadcast NAK and a nak event", () => {
  for (const serverId of [GATEWAY_IP, undefined]) { // SELECTING, then INIT-REBOOT
    const result = respondDhcpv4(
      LINKLOCAL,
      createDhcpRequest({
        clientMac: GUEST,
        xid: XID,
        requestedIp: parseIpv4("10.0.0.77"),
        ...(serverId ? { serverId } : {}),
      }),
    );
    const nak = sent(result);
    assert.equal(result?.reason, "dhcp_nak");
    assert.equal(result?.event?.kind, "nak");
    assert.equal(result?.event?.address, "10.0.0.77");
    assert.equal(addressing(nak), BROADCAST, "RFC 2131 4.1: NAKs are broadcast");
    const { dhcp } = nak;
    assert.equal(dhcp.options.messageType, DhcpMessageType.NAK);
    assert.equal(formatIpv4(dhcp.yiaddr), "0.0.0.0");
    assert.equal(formatIpv4(dhcp.options.serverId!), "169.254.0.1");
    assert.equal(dhcp.options.leaseTime, undefined);
    assert.equal(dhcp.options.subnetMask, undefined);
    assert.ok(dhcp.options.message);
  }
});

Deno.test("INIT-REBOOT for the right address gets an ACK", () => {
  const result = respondDhcpv4(
    LINKLOCAL,
    createDhcpRequest({ clientMac: GUEST, xid: XID, requestedIp: GUEST_IP, broadcast: true }),
  );
  assert.equal(result?.reason, "dhcp_ack");
  assert.equal(addressing(sent(result)), BROADCAST);
});

Deno.test("RENEWING and REBINDING get an ACK unicast to ciaddr, ciaddr kept", () => {
  const renewing = createDhcpRequest({
    clientMac: GUEST,
    xid: XID,
    ciaddr: GUEST_IP,
    server: SERVER,
  });
  const rebinding = createDhcpRequest({ clientMac: GUEST, xid: XID, ciaddr: GUEST_IP });
  for (const frame of [renewing, rebinding]) {
    const result = respondDhcpv4(LINKLOCAL, frame);
    const ack = sent(result);
    assert.equal(result?.event?.kind, "lease");
    assert.equal(addressing(ack), UNICAST);
    assert.equal(formatIpv4(ack.dhcp.ciaddr), "10.0.0.5");
    assert.equal(formatIpv4(ack.dhcp.yiaddr), "10.0.0.5");
    assert.equal(ack.dhcp.options.rebindingTime, 3150);
  }
  const wrong = createDhcpRequest({ clientMac: GUEST, xid: XID, ciaddr: parseIpv4("10.0.0.9") });
  assert.equal(respondDhcpv4(LINKLOCAL, wrong)?.reason, "dhcp_nak");
  const nothing = createDhcpRequest({ clientMac: GUEST, xid: XID });
  assert.equal(respondDhcpv4(LINKLOCAL, nothing)?.reason, "dhcp_request_without_address");
});

Deno.test("INFORM gets an ACK with configuration only: no yiaddr, no 51/58/59", () => {
  const result = respondDhcpv4(
    LAN,
    createDhcpInform({
      clientMac: GUEST,
      xid: XID,
      ciaddr: GUEST_IP,
      server: { mac: LAN.gatewayMac, ip: LAN.gatewayIpv4 },
    }),
  );
  const ack = sent(result);
  assert.equal(result?.reason, "dhcp_inform_ack");
  assert.deepEqual(result?.event, {
    kind: "inform",
    protocol: "dhcpv4",
    reason: "dhcp_inform_ack",
    mac: "52:54:00:12:34:01",
    address: "10.0.0.5",
  });
  assert.equal(addressing(ack), "02:00:00:00:00:01 10.0.0.1:67 -> 52:54:00:12:34:01 10.0.0.5:68");
  const { dhcp } = ack;
  assert.equal(dhcp.options.messageType, DhcpMessageType.ACK);
  assert.equal(formatIpv4(dhcp.yiaddr), "0.0.0.0");
  assert.equal(formatIpv4(dhcp.ciaddr), "10.0.0.5");
  assert.deepEqual(
    [dhcp.options.leaseTime, dhcp.options.renewalTime, dhcp.options.rebindingTime],
    [undefined, undefined, undefined],
  );
  assert.equal(formatIpv4(dhcp.options.subnetMask!), "255.255.255.0");
  assert.deepEqual(dhcp.options.routers?.map((a) => formatIpv4(a)), ["10.0.0.1"]);
});

Deno.test("RELEASE and DECLINE are answered with nothing, and told as events", () => {
  const release = respondDhcpv4(
    LINKLOCAL,
    createDhcpRelease({ clientMac: GUEST, xid: XID, ciaddr: GUEST_IP, server: SERVER }),
  );
  assert.deepEqual(release, {
    frames: [],
    reason: "dhcp_release",
    event: {
      kind: "release",
      protocol: "dhcpv4",
      reason: "dhcp_release",
      mac: "52:54:00:12:34:01",
      address: "10.0.0.5",
    },
  });
  const decline = respondDhcpv4(
    LINKLOCAL,
    createDhcpDecline({ clientMac: GUEST, xid: XID, requestedIp: GUEST_IP, serverId: GATEWAY_IP }),
  );
  assert.equal(decline?.frames.length, 0);
  assert.equal(decline?.reason, "dhcp_decline");
  assert.equal(decline?.event?.kind, "decline");
  assert.equal(decline?.event?.address, "10.0.0.5");
  const elsewhere = respondDhcpv4(
    LINKLOCAL,
    createDhcpDecline({ clientMac: GUEST, xid: XID, requestedIp: GUEST_IP, serverId: DNS[0]! }),
  );
  assert.equal(elsewhere?.reason, "dhcp_other_server");
});

Deno.test("another MAC's DISCOVER is ignored and counted, whatever its Ethernet source", () => {
  const foreign = respondDhcpv4(LINKLOCAL, createDhcpDiscover({ clientMac: OTHER, xid: XID }));
  assert.equal(foreign?.reason, "dhcp_foreign_mac");
  assert.equal(foreign?.frames.length, 0);
  assert.equal(foreign?.event?.kind, "ignored");
  // The guest's MAC on the wire asking for another chaddr: ignored too.
  const frame = createDhcpDiscover({ clientMac: OTHER, xid: XID });
  frame.set(GUEST, 6);
  assert.equal(respondDhcpv4(LINKLOCAL, frame)?.reason, "dhcp_foreign_chaddr");
});

Deno.test("the lan profile sends its real mask and router, and no classless routes", () => {
  const { dhcp } = sent(
    discover(LAN, { options: { parameterRequestList: [1, 3, 6, 121, 249] } }),
  );
  assert.equal(formatIpv4(dhcp.options.subnetMask!), "255.255.255.0");
  assert.deepEqual(dhcp.options.routers?.map((a) => formatIpv4(a)), ["10.0.0.1"]);
  assert.equal(formatIpv4(dhcp.options.serverId!), "10.0.0.1");
  assert.equal(dhcp.options.classlessRoutes, undefined);
  assert.equal(dhcp.options.msClasslessRoutes, undefined);
  assert.equal(dhcp.options.dnsServers, undefined, "no DNS configured");
  assert.equal(dhcp.options.interfaceMtu, undefined, "26 not asked for");
});

Deno.test("linklocal: 249 when asked for, 3 to clients that did not ask for 121", () => {
  const ms = sent(discover(LINKLOCAL, { options: { parameterRequestList: [1, 3, 249] } })).dhcp;
  assert.equal(ms.options.msClasslessRoutes?.length, 2);
  assert.equal(ms.options.classlessRoutes, undefined);
  assert.deepEqual(ms.options.routers?.map((a) => formatIpv4(a)), ["169.254.0.1"]);
  // Without option 55 the client gets what it needs either way: 121 and 3.
  const frame = encodeDhcpFrame({
    srcMac: GUEST,
    dstMac: SERVER.mac,
    src: parseIpv4("0.0.0.0"),
    dst: parseIpv4("255.255.255.255"),
    srcPort: 68,
    dstPort: 67,
    message: {
      op: BootpOp.REQUEST,
      xid: XID,
      chaddr: GUEST,
      options: { messageType: DhcpMessageType.DISCOVER },
    },
  });
  const bare = sent(respondDhcpv4(LINKLOCAL, frame)).dhcp;
  assert.equal(bare.options.classlessRoutes?.length, 2);
  assert.equal(bare.options.routers?.length, 1);
});

Deno.test("the client identifier is echoed (RFC 6842), within the client's maximum size", () => {
  const clientId = new Uint8Array([1, ...GUEST]);
  const { dhcp } = sent(discover(LINKLOCAL, { options: { clientId } }));
  assert.deepEqual(dhcp.options.clientId, clientId);
  const huge = new Uint8Array(255).fill(7);
  const tooLarge = discover(LINKLOCAL, { options: { clientId: huge } });
  assert.equal(tooLarge?.reason, "dhcp_reply_too_large");
  assert.equal(tooLarge?.frames.length, 0);
  const fits = sent(discover(LINKLOCAL, { options: { clientId: huge, maxMessageSize: 1500 } }));
  assert.deepEqual(fits.dhcp.options.clientId, huge);
});

Deno.test("respondDhcpv4 leaves other traffic alone and never throws on a frame's bytes", () => {
  const toOtherServer = createDhcpRequest({
    clientMac: GUEST,
    xid: XID,
    ciaddr: GUEST_IP,
    server: { mac: SERVER.mac, ip: parseIpv4("192.0.2.67") },
  });
  assert.equal(respondDhcpv4(LINKLOCAL, toOtherServer), undefined);
  const fromServerInGuest = encodeDhcpFrame({
    srcMac: GUEST,
    dstMac: OTHER,
    src: GUEST_IP,
    dst: parseIpv4("255.255.255.255"),
    srcPort: 67,
    dstPort: 68,
    message: { op: BootpOp.REPLY, xid: 1, chaddr: OTHER, options: { messageType: 2 } },
  });
  assert.equal(respondDhcpv4(LINKLOCAL, fromServerInGuest)?.reason, "dhcp_server_in_guest");
  const noAddress = createIpv4NicView({ guestMac: GUEST });
  assert.equal(discover(noAddress)?.reason, "dhcp_no_address_configured");
  const options = { parameterRequestList: [DhcpOption.CLASSLESS_ROUTES] };
  fuzzDecoder((frame) => respondDhcpv4(LINKLOCAL, frame), [
    createDhcpDiscover({ clientMac: GUEST, xid: XID, options }),
    createDhcpRequest({ clientMac: GUEST, xid: XID, ciaddr: GUEST_IP }),
  ], { mutations: 300 });
});
