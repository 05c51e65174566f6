import assert from "node:assert/strict";
import {
  BOOTP_MIN_LEN,
  BootpOp,
  type ClasslessRoute,
  createDhcpDecline,
  createDhcpDiscover,
  createDhcpInform,
  createDhcpRelease,
  createDhcpRequest,
  decodeClasslessRoutes,
  decodeDhcp,
  decodeDhcpFrame,
  DEFAULT_PARAMETER_REQUEST_LIST,
  type DhcpMessage,
  type DhcpMessageInit,
  DhcpMessageType,
  dhcpReplyDestination,
  encodeClasslessRoutes,
  encodeDhcp,
  encodeDhcpFrame,
  isDhcpv4Frame,
} from "./dhcpv4.ts";
import { formatIpv4, parseIpv4 } from "./ipv4.ts";
import { formatMac } from "./mac.ts";
import { decoded, fuzzDecoder, refusalReason as reasonOf } from "../../testing/total_decoders.ts";
import {
  GATEWAY_IP,
  GATEWAY_MAC as GATEWAY,
  GUEST_IP,
  GUEST_MAC as GUEST,
} from "../../testing/ipv4_guest.ts";

const ZERO = parseIpv4("0.0.0.0");
const ip = parseIpv4;

/** Plain data for deepEqual: typed arrays become number arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const LINKLOCAL_ROUTES: ClasslessRoute[] = [
  { destination: GATEWAY_IP, prefixLength: 32, router: ZERO },
  { destination: ZERO, prefixLength: 0, router: GATEWAY_IP },
];

const EVERY_OPTION: DhcpMessageInit = {
  op: BootpOp.REPLY,
  xid: 0xdeadbeef,
  chaddr: GUEST,
  htype: 1,
  hops: 2,
  secs: 300,
  flags: 0x0001,
  broadcast: true,
  ciaddr: ip("192.0.2.9"),
  yiaddr: GUEST_IP,
  siaddr: GATEWAY_IP,
  giaddr: ip("192.0.2.254"),
  sname: "gateway",
  file: "boot/pxelinux.0",
  options: {
    messageType: DhcpMessageType.ACK,
    subnetMask: ip("255.255.255.255"),
    routers: [GATEWAY_IP, ip("169.254.0.2")],
    dnsServers: [ip("192.0.2.53"), ip("198.51.100.53")],
    hostName: "vm0",
    domainName: "example.test",
    interfaceMtu: 1450,
    requestedIp: GUEST_IP,
    leaseTime: 86400,
    serverId: GATEWAY_IP,
    parameterRequestList: [1, 3, 6, 12, 15, 26, 121, 249],
    message: "fine",
    maxMessageSize: 1500,
    renewalTime: 43200,
    rebindingTime: 75600,
    clientId: Uint8Array.of(1, ...GUEST),
    classlessRoutes: LINKLOCAL_ROUTES,
    msClasslessRoutes: LINKLOCAL_ROUTES,
    unknown: [{ code: 60, data: new TextEncoder().encode("netkit") }, {
      code: 82,
      data: Uint8Array.of(1, 2, 3, 4),
    }],
  },
};

Deno.test("every field and option round-trips through encodeDhcp and decodeDhcp", () => {
  const bytes = encodeDhcp(EVERY_OPTION);
  const message = decoded(decodeDhcp(bytes));
  const { broadcast: _, ...fixed } = EVERY_OPTION;
  assert.deepEqual(plain(message), plain({ ...fixed, flags: 0x8001, broadcast: true }));
  assert.equal(bytes[10], 0x80, "BROADCAST is the top bit of flags");
  assert.deepEqual([...bytes.subarray(236, 243)], [99, 130, 83, 99, 53, 1, 5], "cookie, then 53");
  assert.equal(bytes.at(-1), 255, "End last");
});

Deno.test("a short message is padded to 300 bytes after its End option", () => {
  const bytes = encodeDhcp({ op: 1, xid: 1, chaddr: GUEST, options: { messageType: 1 } });
  assert.equal(bytes.length, BOOTP_MIN_LEN);
  assert.deepEqual([...bytes.subarray(240, 244)], [53, 1, 1, 255]);
  assert.ok(bytes.subarray(244).every((b) => b === 0));
  const message = decoded(decodeDhcp(bytes));
  assert.deepEqual(plain(message.options), { messageType: 1 });
  assert.equal(message.sname, "");
  assert.equal(formatMac(message.chaddr), "52:54:00:12:34:01");
});

Deno.test("options longer than 255 bytes are split (RFC 3396) and joined again", () => {
  const dnsServers = Array.from({ length: 100 }, (_, i) => ip(`192.0.2.${i + 1}`));
  const bytes = encodeDhcp({ op: 2, xid: 1, chaddr: GUEST, options: { dnsServers } });
  assert.deepEqual([...bytes.subarray(240, 242)], [6, 255]);
  assert.deepEqual([...bytes.subarray(240 + 257, 240 + 259)], [6, 145]);
  const message = decoded(decodeDhcp(bytes));
  assert.deepEqual(
    message.options.dnsServers?.map((a) => formatIpv4(a)),
    dnsServers.map((a) => formatIpv4(a)),
  );
});

Deno.test("the maximum message size is kept: 1500 by default, 576 when asked", () => {
  const unknown = (length: number) => [{ code: 224, data: new Uint8Array(length) }];
  // 240 + 4 × 257 + 203 + 1 (End) = 1472 bytes: 1500 with IPv4 and UDP headers.
  const fits = {
    op: 2,
    xid: 1,
    chaddr: GUEST,
    options: {
      unknown: [
        ...unknown(255),
        ...unknown(255),
        ...unknown(255),
        ...unknown(255),
        ...unknown(201),
      ],
    },
  };
  assert.equal(encodeDhcp(fits).length, 1472);
  const over = {
    ...fits,
    options: { unknown: [...fits.options.unknown, { code: 225, data: new Uint8Array(0) }] },
  };
  assert.throws(() => encodeDhcp(over), RangeError);
  assert.equal(encodeDhcp(over, 1502).length, 1474);
  assert.throws(
    () => encodeDhcp({ op: 1, xid: 1, chaddr: GUEST, options: { unknown: unknown(255) } }, 575),
    RangeError,
  );
  const small = {
    op: 1,
    xid: 1,
    chaddr: GUEST,
    options: { unknown: [...unknown(255), ...unknown(48)] },
  };
  assert.equal(encodeDhcp(small, 576).length, 548, "a 576-byte datagram");
  // Such a message, sent whole, decodes with its options.
  const message = decoded(decodeDhcp(encodeDhcp(small, 576)));
  assert.equal(message.options.unknown?.[0]?.data.length, 303, "two instances of 224 joined");
});

Deno.test("RFC 3442 compact encoding of /0, /9, /23, /24 and /32 both ways", () => {
  const routes: ClasslessRoute[] = [
    { destination: ip("0.0.0.0"), prefixLength: 0, router: GATEWAY_IP },
    { destination: ip("10.128.0.0"), prefixLength: 9, router: ip("192.0.2.1") },
    { destination: ip("198.51.100.0"), prefixLength: 23, router: ip("192.0.2.2") },
    { destination: ip("192.0.2.0"), prefixLength: 24, router: ip("0.0.0.0") },
    { destination: GATEWAY_IP, prefixLength: 32, router: ip("0.0.0.0") },
  ];
  const bytes = encodeClasslessRoutes(routes);
  assert.deepEqual([...bytes], [
    0,
    169,
    254,
    0,
    1,
    9,
    10,
    128,
    192,
    0,
    2,
    1,
    23,
    198,
    51,
    100,
    192,
    0,
    2,
    2,
    24,
    192,
    0,
    2,
    0,
    0,
    0,
    0,
    32,
    169,
    254,
    0,
    1,
    0,
    0,
    0,
    0,
  ]);
  assert.deepEqual(plain(decoded(decodeClasslessRoutes(bytes))), plain(routes));
  // RFC 3442's own example: 10.17.0.0/16 via 10.27.129.1 and 10.229.0.128/25 via 10.198.122.47.
  assert.deepEqual(
    [...encodeClasslessRoutes([
      { destination: ip("10.17.0.0"), prefixLength: 16, router: ip("10.27.129.1") },
      { destination: ip("10.229.0.128"), prefixLength: 25, router: ip("10.198.122.47") },
    ])],
    [16, 10, 17, 10, 27, 129, 1, 25, 10, 229, 0, 128, 10, 198, 122, 47],
  );
});

Deno.test("malformed option 121 and 249 data is refused with bad_classless_route", () => {
  const cases: [string, number[]][] = [
    ["empty", []],
    ["router cut short", [0, 169, 254, 0]],
    ["destination cut short", [24, 192, 0]],
    ["prefix above 32", [33, 1, 2, 3, 4, 5, 0, 0, 0, 0]],
    ["second route cut", [0, 1, 2, 3, 4, 8]],
    ["bits past the prefix", [9, 10, 129, 192, 0, 2, 1]],
    ["bits past a /23", [23, 198, 51, 101, 192, 0, 2, 2]],
  ];
  for (const [what, data] of cases) {
    assert.equal(
      reasonOf(decodeClasslessRoutes(Uint8Array.from(data))),
      "bad_classless_route",
      what,
    );
    for (const code of [121, 249]) {
      const bytes = encodeDhcp({
        op: 2,
        xid: 1,
        chaddr: GUEST,
        options: { unknown: [{ code: 224, data: Uint8Array.from(data) }] },
      });
      bytes[240] = code;
      assert.equal(reasonOf(decodeDhcp(bytes)), "bad_classless_route", `${what}, option ${code}`);
    }
  }
  assert.throws(() => encodeClasslessRoutes([]), RangeError);
  assert.throws(
    () => encodeClasslessRoutes([{ destination: ip("10.129.0.0"), prefixLength: 9, router: ZERO }]),
    RangeError,
  );
  assert.throws(
    () => encodeClasslessRoutes([{ destination: ZERO, prefixLength: 33, router: ZERO }]),
    RangeError,
  );
});

Deno.test("decodeDhcp refuses, with reasons, what is not a whole DHCP message", () => {
  const good = encodeDhcp({
    op: 1,
    xid: 1,
    chaddr: GUEST,
    options: { messageType: 1, serverId: GATEWAY_IP },
  });
  assert.equal(reasonOf(decodeDhcp(good.subarray(0, 239))), "truncated_dhcp");
  const change = (at: number, ...values: number[]) => {
    const copy = good.slice();
    copy.set(values, at);
    return decodeDhcp(copy);
  };
  assert.equal(reasonOf(change(236, 0, 0, 0, 0)), "bad_dhcp_cookie");
  assert.equal(reasonOf(change(2, 17)), "bad_dhcp_hardware_length");
  assert.equal(decoded(change(2, 16)).chaddr.length, 16);
  const option = (code: number, ...data: number[]) => {
    const bytes = encodeDhcp({
      op: 1,
      xid: 1,
      chaddr: GUEST,
      options: { unknown: [{ code: 224, data: Uint8Array.from(data) }] },
    });
    bytes[240] = code;
    return decodeDhcp(bytes);
  };
  for (
    const [code, data] of [
      [53, [1, 1]],
      [54, [1, 2, 3]],
      [1, [1, 2, 3, 4, 5]],
      [3, [1, 2, 3, 4, 5]],
      [6, []],
      [26, [5]],
      [51, [0, 0, 1]],
      [57, [2, 64, 0]],
      [61, [1]],
    ] as const
  ) {
    assert.equal(reasonOf(option(code, ...data)), "bad_dhcp_option_length", `option ${code}`);
  }
  assert.equal(decoded(option(12, 0x76, 0x6d)).options.hostName, "vm");
  assert.deepEqual(decoded(option(55)).options.parameterRequestList, []);
  assert.equal(reasonOf(option(52, 3)), "dhcp_option_overload");
  assert.equal(reasonOf(decodeDhcp(good.subarray(0, 245))), "truncated_dhcp_option");
  assert.equal(reasonOf(decodeDhcp(good.subarray(0, 241))), "truncated_dhcp_option");
  // No End option: the options end with the message.
  assert.deepEqual(plain(decoded(decodeDhcp(good.subarray(0, 249))).options), {
    messageType: 1,
    serverId: [...GATEWAY_IP],
  });
  // Pad options are skipped; what follows End is not read.
  assert.equal(decoded(change(249, 0, 0, 255, 53, 9)).options.messageType, 1);
});

Deno.test("the client builders send the right message from the right place to the right place", () => {
  const discover = decoded(
    decodeDhcpFrame(createDhcpDiscover({ clientMac: GUEST, xid: 7, broadcast: true })),
  );
  assert.equal(formatMac(discover.ethernet.dst), "ff:ff:ff:ff:ff:ff");
  assert.equal(formatMac(discover.ethernet.src), "52:54:00:12:34:01");
  assert.equal(formatIpv4(discover.ip.src), "0.0.0.0");
  assert.equal(formatIpv4(discover.ip.dst), "255.255.255.255");
  assert.deepEqual([discover.udp.srcPort, discover.udp.dstPort], [68, 67]);
  assert.equal(discover.dhcp.op, BootpOp.REQUEST);
  assert.ok(discover.dhcp.broadcast);
  assert.deepEqual(plain(discover.dhcp.options), {
    messageType: DhcpMessageType.DISCOVER,
    parameterRequestList: [...DEFAULT_PARAMETER_REQUEST_LIST],
  });

  const selecting = decoded(decodeDhcpFrame(createDhcpRequest({
    clientMac: GUEST,
    xid: 7,
    requestedIp: GUEST_IP,
    serverId: GATEWAY_IP,
    options: { parameterRequestList: [1, 121], hostName: "vm0" },
  })));
  assert.deepEqual(plain(selecting.dhcp.options), {
    messageType: DhcpMessageType.REQUEST,
    serverId: [...GATEWAY_IP],
    hostName: "vm0",
    requestedIp: [...GUEST_IP],
    parameterRequestList: [1, 121],
  });
  assert.ok(!selecting.dhcp.broadcast);

  const renewing = decoded(decodeDhcpFrame(createDhcpRequest({
    clientMac: GUEST,
    xid: 8,
    ciaddr: GUEST_IP,
    server: { mac: GATEWAY, ip: GATEWAY_IP },
  })));
  assert.equal(formatMac(renewing.ethernet.dst), "02:00:00:00:00:01");
  assert.equal(formatIpv4(renewing.ip.src), "169.254.0.5");
  assert.equal(formatIpv4(renewing.ip.dst), "169.254.0.1");
  assert.equal(formatIpv4(renewing.dhcp.ciaddr), "169.254.0.5");
  assert.equal(
    renewing.dhcp.options.requestedIp,
    undefined,
    "RFC 2131 4.3.2: no option 50 when renewing",
  );

  const release = decoded(decodeDhcpFrame(createDhcpRelease({
    clientMac: GUEST,
    xid: 9,
    ciaddr: GUEST_IP,
    server: { mac: GATEWAY, ip: GATEWAY_IP },
  })));
  assert.equal(release.dhcp.options.messageType, DhcpMessageType.RELEASE);
  assert.equal(formatIpv4(release.dhcp.options.serverId!), "169.254.0.1");
  assert.equal(formatIpv4(release.ip.dst), "169.254.0.1");

  const decline = decoded(decodeDhcpFrame(createDhcpDecline({
    clientMac: GUEST,
    xid: 10,
    requestedIp: GUEST_IP,
    serverId: GATEWAY_IP,
  })));
  assert.equal(decline.dhcp.options.messageType, DhcpMessageType.DECLINE);
  assert.equal(formatIpv4(decline.dhcp.ciaddr), "0.0.0.0");
  assert.equal(formatIpv4(decline.dhcp.options.requestedIp!), "169.254.0.5");

  const inform = decoded(
    decodeDhcpFrame(createDhcpInform({ clientMac: GUEST, xid: 11, ciaddr: GUEST_IP })),
  );
  assert.equal(inform.dhcp.options.messageType, DhcpMessageType.INFORM);
  assert.equal(formatIpv4(inform.ip.src), "169.254.0.5");
  assert.equal(formatIpv4(inform.ip.dst), "255.255.255.255");
});

Deno.test("isDhcpv4Frame and decodeDhcpFrame tell DHCP from other UDP and from broken frames", () => {
  const discover = createDhcpDiscover({ clientMac: GUEST, xid: 1 });
  assert.ok(isDhcpv4Frame(discover));
  const dns = discover.slice();
  dns[14 + 20 + 3] = 53; // destination port 53
  assert.ok(!isDhcpv4Frame(dns));
  assert.equal(reasonOf(decodeDhcpFrame(dns)), "bad_udp_checksum");
  const corrupt = discover.slice();
  corrupt[300] = corrupt[300]! ^ 1;
  assert.ok(isDhcpv4Frame(corrupt), "the quick test reads headers only");
  assert.equal(reasonOf(decodeDhcpFrame(corrupt)), "bad_udp_checksum");
  assert.ok(!isDhcpv4Frame(discover.subarray(0, 14 + 20 + 7)));
  const reply = encodeDhcpFrame({
    srcMac: GATEWAY,
    dstMac: GUEST,
    src: GATEWAY_IP,
    dst: GUEST_IP,
    srcPort: 67,
    dstPort: 1234,
    message: { op: 2, xid: 1, chaddr: GUEST },
  });
  assert.equal(reasonOf(decodeDhcpFrame(reply)), "not_dhcp");
  assert.equal(reasonOf(decodeDhcpFrame(new Uint8Array(3))), "runt");
});

Deno.test("dhcpReplyDestination follows RFC 2131 section 4.1", () => {
  const request = (init: Partial<DhcpMessageInit>): DhcpMessage =>
    decoded(decodeDhcp(encodeDhcp({ op: 1, xid: 1, chaddr: GUEST, ...init })));
  const where = (message: DhcpMessage, type: number, yiaddr = GUEST_IP) => {
    const { dstMac, dst, dstPort } = dhcpReplyDestination(message, type, yiaddr, GATEWAY);
    return [formatMac(dstMac), formatIpv4(dst), dstPort];
  };
  const ACK = DhcpMessageType.ACK;
  assert.deepEqual(where(request({}), ACK), ["52:54:00:12:34:01", "169.254.0.5", 68]);
  assert.deepEqual(where(request({ broadcast: true }), ACK), [
    "ff:ff:ff:ff:ff:ff",
    "255.255.255.255",
    68,
  ]);
  assert.deepEqual(where(request({ ciaddr: GUEST_IP, broadcast: true }), ACK), [
    "52:54:00:12:34:01",
    "169.254.0.5",
    68,
  ]);
  assert.deepEqual(where(request({}), DhcpMessageType.NAK, ZERO), [
    "ff:ff:ff:ff:ff:ff",
    "255.255.255.255",
    68,
  ]);
  assert.deepEqual(where(request({ ciaddr: GUEST_IP }), DhcpMessageType.NAK, ZERO), [
    "ff:ff:ff:ff:ff:ff",
    "255.255.255.255",
    68,
  ]);
  assert.deepEqual(where(request({ giaddr: ip("192.0.2.254") }), DhcpMessageType.NAK), [
    "02:00:00:00:00:01",
    "192.0.2.254",
    67,
  ]);
});

Deno.test("DHCP decoders never throw nor read past the end on truncated or mangled input", () => {
  const frames = [
    createDhcpDiscover({
      clientMac: GUEST,
      xid: 1,
      options: { hostName: "vm0", clientId: Uint8Array.of(1, ...GUEST) },
    }),
    encodeDhcpFrame({
      srcMac: GATEWAY,
      dstMac: GUEST,
      src: GATEWAY_IP,
      dst: GUEST_IP,
      srcPort: 67,
      dstPort: 68,
      message: EVERY_OPTION,
    }),
  ];
  const messages = frames.map((frame) => frame.subarray(42));
  const dhcp = fuzzDecoder(decodeDhcp, messages, { seed: 6, mutations: 1500 });
  const routes = fuzzDecoder(decodeClasslessRoutes, [encodeClasslessRoutes(LINKLOCAL_ROUTES)], {
    seed: 7,
  });
  const frame = fuzzDecoder(decodeDhcpFrame, frames, { seed: 8, mutations: 300 });
  assert.ok(dhcp.cases > 3000 && dhcp.refused > 0 && dhcp.refused < dhcp.cases);
  assert.ok(routes.cases > 500 && routes.refused > 0);
  assert.ok(frame.cases > 1000 && frame.refused > 0);
});
