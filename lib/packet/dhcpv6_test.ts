import assert from "node:assert/strict";
import {
  ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
  createDhcpv6ClientMessage,
  createDhcpv6Request,
  createDhcpv6Solicit,
  decodeDhcpv6,
  decodeDhcpv6Frame,
  decodeDuid,
  type Dhcpv6Frame,
  type Dhcpv6Message,
  Dhcpv6MessageType,
  dhcpv6MessageTypeAt,
  type Dhcpv6Option,
  Dhcpv6StatusCode,
  encodeDhcpv6,
  encodeDhcpv6Frame,
  encodeDuid,
  generateDuidLl,
} from "./mod.ts";
import { formatIpv6, linkLocalFromMac, parseIpv6 } from "./ipv6.ts";
import { formatMac } from "./mac.ts";
import { encodeUdpMulticastFrame } from "./udp_frame.ts";
import { hex } from "../../testing/bytes.ts";
import { decoded, fuzzDecoder, plain, refusalReason } from "../../testing/total_decoders.ts";
import { GATEWAY_MAC as SERVER_MAC, GUEST_MAC as CLIENT_MAC } from "../../testing/ipv6_guest.ts";
import { findOfKind } from "./tagged.ts";

const SERVER_DUID = generateDuidLl(SERVER_MAC);
const CLIENT_DUID = generateDuidLl(CLIENT_MAC);
const ADDRESS = parseIpv6("2001:db8::5");

const EVERY_OPTION: Dhcpv6Option[] = [
  { kind: "client_id", duid: CLIENT_DUID },
  { kind: "server_id", duid: SERVER_DUID },
  {
    kind: "ia_na",
    iaid: 0xdeadbeef,
    t1: 1800,
    t2: 2880,
    options: [{
      kind: "iaaddr",
      address: ADDRESS,
      preferredLifetime: 3600,
      validLifetime: 7200,
      options: [{ kind: "status_code", status: Dhcpv6StatusCode.SUCCESS, message: "ok ✓" }],
    }],
  },
  { kind: "oro", codes: [23, 24] },
  { kind: "preference", preference: 255 },
  { kind: "elapsed_time", elapsedTime: 0xffff },
  { kind: "status_code", status: Dhcpv6StatusCode.NOT_ON_LINK, message: "" },
  { kind: "rapid_commit" },
  { kind: "dns_servers", servers: [parseIpv6("2001:db8::53"), parseIpv6("2001:db8::54")] },
  {
    kind: "ia_pd",
    iaid: 2,
    t1: 0,
    t2: 0,
    options: [{
      kind: "iaprefix",
      preferredLifetime: 100,
      validLifetime: 200,
      prefixLength: 56,
      prefix: parseIpv6("2001:db8:100::"),
      options: [],
    }],
  },
  { kind: "raw", code: 24, data: new Uint8Array([7, 101, 120, 97, 109, 112, 108, 101, 0]) },
  { kind: "raw", code: 0xfff0, data: new Uint8Array() },
];

Deno.test("every DHCPv6 message type and option survives encodeDhcpv6 then decodeDhcpv6", () => {
  for (let messageType = 1; messageType <= 11; messageType++) {
    const message: Dhcpv6Message = {
      kind: "client_server",
      messageType,
      transactionId: 0xabcdef,
      options: EVERY_OPTION,
    };
    assert.deepEqual(plain(decoded(decodeDhcpv6(encodeDhcpv6(message)))), plain(message));
  }
  for (const messageType of [12, 13]) {
    const message: Dhcpv6Message = {
      kind: "relay",
      messageType,
      hopCount: 1,
      linkAddress: ADDRESS,
      peerAddress: linkLocalFromMac(CLIENT_MAC),
      options: [{ kind: "raw", code: 9, data: new Uint8Array([1, 0, 0, 1]) }],
    };
    assert.deepEqual(plain(decoded(decodeDhcpv6(encodeDhcpv6(message)))), plain(message));
  }
});

Deno.test("encodeDhcpv6() writes RFC 8415 layouts byte for byte", () => {
  const bytes = encodeDhcpv6({
    kind: "client_server",
    messageType: Dhcpv6MessageType.REPLY,
    transactionId: 0x123456,
    options: [
      { kind: "client_id", duid: CLIENT_DUID },
      { kind: "ia_na", iaid: 1, t1: 2, t2: 3, options: [] },
      { kind: "elapsed_time", elapsedTime: 5 },
      { kind: "rapid_commit" },
    ],
  });
  assert.equal(
    hex(bytes),
    "07123456" + "0001000a00030001525400123401" + "0003000c000000010000000200000003" +
      "000800020005" +
      "000e0000",
  );
});

Deno.test("decodeDhcpv6() refuses malformed messages with stable reasons", () => {
  const message = (...bytes: number[]) => new Uint8Array([1, 0, 0, 1, ...bytes]);
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(), "truncated_dhcpv6"],
    [new Uint8Array([1, 0, 0]), "truncated_dhcpv6"],
    [new Uint8Array(33).fill(12), "truncated_dhcpv6"],
    [message(0, 8, 0), "truncated_dhcpv6_option"],
    [message(0, 8, 0, 3, 0, 0), "truncated_dhcpv6_option"],
    [message(0, 8, 0, 1, 0), "bad_dhcpv6_option_length"],
    [message(0, 14, 0, 1, 0), "bad_dhcpv6_option_length"],
    [message(0, 6, 0, 1, 0), "bad_dhcpv6_option_length"],
    [message(0, 7, 0, 0), "bad_dhcpv6_option_length"],
    [message(0, 13, 0, 1, 0), "bad_dhcpv6_option_length"],
    [message(0, 23, 0, 4, 0, 0, 0, 0), "bad_dhcpv6_option_length"],
    [message(0, 3, 0, 4, 0, 0, 0, 1), "bad_dhcpv6_option_length"],
    [message(0, 5, 0, 4, 0, 0, 0, 1), "bad_dhcpv6_option_length"],
    [message(0, 26, 0, 4, 0, 0, 0, 1), "bad_dhcpv6_option_length"],
    [message(0, 1, 0, 1, 0), "bad_duid_length"],
    // An IA_NA whose sub-option runs past the IA's own length.
    [message(0, 3, 0, 14, ...new Array(12).fill(0), 0, 5), "truncated_dhcpv6_option"],
  ];
  for (const [bytes, reason] of cases) {
    assert.equal(refusalReason(decodeDhcpv6(bytes)), reason, hex(bytes));
  }

  // IA_NA inside IAADDR inside IA_NA ...: nesting is bounded.
  let nested: Dhcpv6Option = { kind: "rapid_commit" };
  for (let i = 0; i < 6; i++) nested = { kind: "ia_na", iaid: i, t1: 0, t2: 0, options: [nested] };
  const deep = encodeDhcpv6({
    kind: "client_server",
    messageType: 1,
    transactionId: 1,
    options: [nested],
  });
  assert.equal(refusalReason(decodeDhcpv6(deep)), "dhcpv6_options_too_deep");
});

Deno.test("encodeDhcpv6() refuses fields out of range and relay kinds that do not match their type", () => {
  const base: Dhcpv6Message = {
    kind: "client_server",
    messageType: 1,
    transactionId: 0,
    options: [],
  };
  assert.throws(() => encodeDhcpv6({ ...base, transactionId: 0x100_0000 }), RangeError);
  assert.throws(() => encodeDhcpv6({ ...base, messageType: 12 }), RangeError);
  assert.throws(
    () =>
      encodeDhcpv6({
        kind: "relay",
        messageType: 1,
        hopCount: 0,
        linkAddress: ADDRESS,
        peerAddress: ADDRESS,
        options: [],
      }),
    RangeError,
  );
  assert.throws(
    () => encodeDhcpv6({ ...base, options: [{ kind: "client_id", duid: new Uint8Array(1) }] }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeDhcpv6({ ...base, options: [{ kind: "raw", code: 1, data: new Uint8Array(0x10000) }] }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeDhcpv6({ ...base, options: [{ kind: "dns_servers", servers: [new Uint8Array(4)] }] }),
    RangeError,
  );
});

function frame(bytes: Uint8Array): Dhcpv6Frame {
  return decoded(decodeDhcpv6Frame(bytes));
}

Deno.test("createDhcpv6Solicit(): from the link-local address to ff02::1:2, IA_NA, ORO and Rapid Commit", () => {
  const solicit = frame(
    createDhcpv6Solicit({ mac: CLIENT_MAC, transactionId: 0xabcdef, iaid: 7, rapidCommit: true }),
  );
  assert.equal(formatMac(solicit.ethernet.dst), "33:33:00:01:00:02");
  assert.equal(formatIpv6(solicit.ip.src), "fe80::5054:ff:fe12:3401");
  assert.equal(formatIpv6(solicit.ip.dst), "ff02::1:2");
  assert.equal(solicit.ip.hopLimit, 1);
  assert.deepEqual([solicit.udp.srcPort, solicit.udp.dstPort], [546, 547]);
  const message = solicit.dhcpv6;
  assert.ok(message.kind === "client_server");
  assert.equal(message.messageType, Dhcpv6MessageType.SOLICIT);
  assert.equal(message.transactionId, 0xabcdef);
  assert.deepEqual(
    plain(message.options),
    plain([
      { kind: "client_id", duid: CLIENT_DUID },
      { kind: "elapsed_time", elapsedTime: 0 },
      { kind: "oro", codes: [23] },
      { kind: "ia_na", iaid: 7, t1: 0, t2: 0, options: [] },
      { kind: "rapid_commit" },
    ]),
  );
  const plainSolicit = frame(createDhcpv6Solicit({ mac: CLIENT_MAC, transactionId: 1, iaid: 1 }));
  assert.ok(plainSolicit.dhcpv6.kind === "client_server");
  assert.equal(findOfKind(plainSolicit.dhcpv6.options, "rapid_commit"), undefined);
});

Deno.test("createDhcpv6Request(): server id, IA_NA with the advertised address (the mvirt-net signature)", () => {
  const request = frame(createDhcpv6Request({
    mac: CLIENT_MAC,
    clientDuid: encodeDuid({ kind: "uuid", uuid: new Uint8Array(16).fill(1) }),
    serverDuid: SERVER_DUID,
    address: ADDRESS,
    iaid: 0x11223344,
    transactionId: 0x000102,
    elapsedTime: 150,
  }));
  const message = request.dhcpv6;
  assert.ok(message.kind === "client_server");
  assert.equal(message.messageType, Dhcpv6MessageType.REQUEST);
  assert.equal(findOfKind(message.options, "elapsed_time")?.elapsedTime, 150);
  assert.equal(hex(findOfKind(message.options, "server_id")!.duid), hex(SERVER_DUID));
  const clientId = decoded(decodeDuid(findOfKind(message.options, "client_id")!.duid));
  assert.equal(clientId.kind, "uuid");
  const ia = findOfKind(message.options, "ia_na")!;
  assert.equal(ia.iaid, 0x11223344);
  assert.equal(formatIpv6(findOfKind(ia.options, "iaaddr")!.address), "2001:db8::5");
});

Deno.test("encodeDhcpv6Frame(): a server's Reply goes from 547 to 546; the client's Renew the other way", () => {
  const reply = frame(encodeDhcpv6Frame({
    srcMac: SERVER_MAC,
    dstMac: CLIENT_MAC,
    src: parseIpv6("fe80::1"),
    dst: linkLocalFromMac(CLIENT_MAC),
    message: {
      kind: "client_server",
      messageType: Dhcpv6MessageType.REPLY,
      transactionId: 5,
      options: EVERY_OPTION,
    },
  }));
  assert.deepEqual([reply.udp.srcPort, reply.udp.dstPort], [547, 546]);
  assert.equal(reply.ip.hopLimit, 64);
  assert.equal(formatMac(reply.ethernet.dst), "52:54:00:12:34:01");
  assert.deepEqual(plain(reply.dhcpv6.options), plain(EVERY_OPTION));

  const renew = frame(createDhcpv6ClientMessage({
    mac: CLIENT_MAC,
    messageType: Dhcpv6MessageType.RENEW,
    transactionId: 6,
    options: [{ kind: "server_id", duid: SERVER_DUID }],
  }));
  assert.deepEqual([renew.udp.srcPort, renew.udp.dstPort], [546, 547]);
  assert.equal(
    dhcpv6MessageTypeAt(createDhcpv6ClientMessage({
      mac: CLIENT_MAC,
      messageType: Dhcpv6MessageType.INFORMATION_REQUEST,
      transactionId: 6,
      options: [],
    })),
    Dhcpv6MessageType.INFORMATION_REQUEST,
  );
});

Deno.test("decodeDhcpv6Frame() refuses other UDP, other protocols and bad checksums; dhcpv6MessageTypeAt() sorts", () => {
  const otherPort = encodeUdpMulticastFrame({
    srcMac: CLIENT_MAC,
    src: linkLocalFromMac(CLIENT_MAC),
    group: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
    srcPort: 5353,
    dstPort: 5353,
    ttl: 1,
    payload: new Uint8Array([1, 0, 0, 1]),
  });
  assert.equal(refusalReason(decodeDhcpv6Frame(otherPort)), "not_dhcpv6");
  assert.equal(dhcpv6MessageTypeAt(otherPort), -1);
  const v4 = encodeUdpMulticastFrame({
    srcMac: CLIENT_MAC,
    src: new Uint8Array([192, 0, 2, 1]),
    group: new Uint8Array([239, 0, 0, 1]),
    srcPort: 546,
    dstPort: 547,
    ttl: 1,
    payload: new Uint8Array([1, 0, 0, 1]),
  });
  assert.equal(refusalReason(decodeDhcpv6Frame(v4)), "not_ipv6");
  assert.equal(dhcpv6MessageTypeAt(v4), -1);

  const solicit = createDhcpv6Solicit({ mac: CLIENT_MAC, transactionId: 1, iaid: 1 });
  assert.equal(dhcpv6MessageTypeAt(solicit), Dhcpv6MessageType.SOLICIT);
  const icmp = solicit.slice();
  icmp[14 + 6] = 58;
  assert.equal(refusalReason(decodeDhcpv6Frame(icmp)), "not_udp");
  assert.equal(dhcpv6MessageTypeAt(icmp), -1);
  const broken = solicit.slice();
  broken[broken.length - 1] = broken[broken.length - 1]! ^ 1;
  assert.equal(refusalReason(decodeDhcpv6Frame(broken)), "bad_udp_checksum");
});

Deno.test("fuzz: truncated and bit-flipped DHCPv6 messages never throw or read out of bounds", () => {
  const messages: Dhcpv6Message[] = [
    { kind: "client_server", messageType: 7, transactionId: 9, options: EVERY_OPTION },
    {
      kind: "relay",
      messageType: 12,
      hopCount: 0,
      linkAddress: ADDRESS,
      peerAddress: ADDRESS,
      options: [{
        kind: "raw",
        code: 9,
        data: encodeDhcpv6({
          kind: "client_server",
          messageType: 1,
          transactionId: 1,
          options: EVERY_OPTION.slice(0, 3),
        }),
      }],
    },
  ];
  const strict = { guardViews: true };
  fuzzDecoder(decodeDhcpv6, messages.map(encodeDhcpv6), { seed: 0xd6, mutations: 400, ...strict });
  const frames = [
    createDhcpv6Solicit({ mac: CLIENT_MAC, transactionId: 1, iaid: 1, rapidCommit: true }),
    createDhcpv6Request({
      mac: CLIENT_MAC,
      transactionId: 2,
      serverDuid: SERVER_DUID,
      address: ADDRESS,
      iaid: 1,
    }),
  ];
  fuzzDecoder(decodeDhcpv6Frame, frames, { seed: 0xd7, mutations: 100, ...strict });
  fuzzDecoder(dhcpv6MessageTypeAt, frames, { seed: 0xd8, mutations: 50, ...strict });
});
