import assert from "node:assert/strict";
import {
  createDhcpv6ClientMessage,
  createDhcpv6Request,
  createDhcpv6Solicit,
  decodeDhcpv6Frame,
  type Dhcpv6ClientServerMessage,
  Dhcpv6MessageType as T,
  type Dhcpv6Option,
  Dhcpv6StatusCode,
  encodeDhcpv6Frame,
  findOfKind,
  formatIpv6,
  formatMac,
  generateDuidLl,
  linkLocalFromMac,
  parseIpv6,
  parseMac,
} from "../../packet/mod.ts";
import { type NicSpec, resolveNic } from "../config.ts";
import type { ResponderEvent } from "../dataplane.ts";
import { Dhcpv6Responder, LEASE_TIMES_S } from "./dhcpv6.ts";
import { decoded } from "../../../testing/total_decoders.ts";

const MAC = parseMac("52:54:00:12:34:01");
const SERVER_DUID = generateDuidLl(parseMac("02:00:00:00:00:01"));
const FOREIGN_DUID = generateDuidLl(parseMac("02:00:00:00:00:99"));
const SPEC: NicSpec = {
  name: "vm0",
  mac: "52:54:00:12:34:01",
  ipv6: "2001:db8::5",
  dns: ["2001:db8::53", "192.0.2.53"],
};

function setup(spec: NicSpec = SPEC) {
  const events: ResponderEvent[] = [];
  const server = new Dhcpv6Responder();
  const nic = resolveNic(spec);
  const send = (frame: Uint8Array) =>
    server.handle(nic, frame, 0, { emit: (e) => events.push(e) }).map(decodeReply);
  return { server, nic, events, send };
}

function decodeReply(frame: Uint8Array) {
  const d = decoded(decodeDhcpv6Frame(frame));
  if (d.dhcpv6.kind !== "client_server") throw new Error("relay");
  return { ...d, message: d.dhcpv6 as Dhcpv6ClientServerMessage };
}

function message(type: number, options: Dhcpv6Option[], transactionId = 0x42) {
  return createDhcpv6ClientMessage({ mac: MAC, messageType: type, transactionId, options });
}

const iaWith = (address: string, iaid = 7): Dhcpv6Option => ({
  kind: "ia_na",
  iaid,
  t1: 0,
  t2: 0,
  options: [{
    kind: "iaaddr",
    address: parseIpv6(address),
    preferredLifetime: 0,
    validLifetime: 0,
    options: [],
  }],
});
const ours: Dhcpv6Option = { kind: "server_id", duid: SERVER_DUID };
const foreign: Dhcpv6Option = { kind: "server_id", duid: FOREIGN_DUID };

function status(options: readonly Dhcpv6Option[]): number | undefined {
  return findOfKind(options, "status_code")?.status;
}

Deno.test("DHCPv6 S-A-R-R: Advertise then Reply with the IAID echoed, T1/T2, lifetimes, DNS", () => {
  const { send, events } = setup();
  const [adv] = send(createDhcpv6Solicit({ mac: MAC, transactionId: 0xabcdef, iaid: 0x1234 }));
  assert.equal(adv!.message.messageType, T.ADVERTISE);
  assert.equal(adv!.message.transactionId, 0xabcdef);
  assert.equal(findOfKind(adv!.message.options, "preference")?.preference, 255);
  assert.deepEqual([...findOfKind(adv!.message.options, "server_id")!.duid], [...SERVER_DUID]);
  assert.deepEqual(
    [...findOfKind(adv!.message.options, "client_id")!.duid],
    [...generateDuidLl(MAC)],
  );
  // Every reply: from fe80::1 and the gateway MAC, port 547, to the client's link-local and MAC.
  assert.equal(formatIpv6(adv!.ip.src), "fe80::1");
  assert.equal(formatIpv6(adv!.ip.dst), formatIpv6(linkLocalFromMac(MAC)));
  assert.equal(formatMac(adv!.ethernet.src), "02:00:00:00:00:01");
  assert.equal(formatMac(adv!.ethernet.dst), "52:54:00:12:34:01");
  assert.deepEqual([adv!.udp.srcPort, adv!.udp.dstPort], [547, 546]);
  assert.equal(events.length, 0, "an Advertise leases nothing");

  const [reply] = send(createDhcpv6Request({
    mac: MAC,
    transactionId: 0x010203,
    serverDuid: SERVER_DUID,
    address: parseIpv6("2001:db8::5"),
    iaid: 0x1234,
  }));
  assert.equal(reply!.message.messageType, T.REPLY);
  const ia = findOfKind(reply!.message.options, "ia_na")!;
  assert.equal(ia.iaid, 0x1234);
  assert.deepEqual([ia.t1, ia.t2], [LEASE_TIMES_S.t1, LEASE_TIMES_S.t2]);
  const addr = findOfKind(ia.options, "iaaddr")!;
  assert.equal(formatIpv6(addr.address), "2001:db8::5");
  assert.deepEqual(
    [addr.preferredLifetime, addr.validLifetime],
    [LEASE_TIMES_S.preferred, LEASE_TIMES_S.valid],
  );
  const dns = findOfKind(reply!.message.options, "dns_servers")!;
  assert.deepEqual(dns.servers.map((s) => formatIpv6(s)), ["2001:db8::53"]);
  assert.equal(status(reply!.message.options), Dhcpv6StatusCode.SUCCESS);
  assert.deepEqual(events.map((e) => [e.event, e.address, e.message]), [[
    "lease",
    "2001:db8::5",
    "request",
  ]]);

  // Renew names us; Rebind must not name anyone.
  const [renew] = send(message(T.RENEW, [ours, iaWith("2001:db8::5", 0x1234)]));
  assert.equal(findOfKind(renew!.message.options, "ia_na")!.iaid, 0x1234);
  const [rebind] = send(message(T.REBIND, [iaWith("2001:db8::5", 0x1234)]));
  assert.equal(rebind!.message.messageType, T.REPLY);
  assert.equal(events.length, 3);
});

Deno.test("DHCPv6 server id checks (RFC 8415 §16): foreign or missing → silence", () => {
  const { send, server } = setup();
  const silent = [
    message(T.REQUEST, [foreign, iaWith("2001:db8::5")]),
    message(T.REQUEST, [iaWith("2001:db8::5")]),
    message(T.RENEW, [foreign, iaWith("2001:db8::5")]),
    message(T.RELEASE, [foreign, iaWith("2001:db8::5")]),
    message(T.SOLICIT, [ours, iaWith("2001:db8::5")]),
    message(T.CONFIRM, [ours, iaWith("2001:db8::5")]),
    message(T.REBIND, [ours, iaWith("2001:db8::5")]),
    message(T.INFORMATION_REQUEST, [foreign]),
  ];
  for (const frame of silent) assert.deepEqual(send(frame), []);
  assert.equal(server.drops.server_id, silent.length);
  // An Information-request may name us (§16.12).
  assert.equal(send(message(T.INFORMATION_REQUEST, [ours])).length, 1);
});

Deno.test("DHCPv6 Rapid Commit: Reply to a Solicit with option 14 only when the NIC allows it", () => {
  const solicit = createDhcpv6Solicit({ mac: MAC, transactionId: 1, iaid: 3, rapidCommit: true });
  const off = setup();
  assert.equal(off.send(solicit)[0]!.message.messageType, T.ADVERTISE);
  const on = setup({ ...SPEC, rapid_commit: true });
  const [reply] = on.send(solicit);
  assert.equal(reply!.message.messageType, T.REPLY);
  assert.ok(findOfKind(reply!.message.options, "rapid_commit"));
  assert.equal(findOfKind(reply!.message.options, "ia_na")!.iaid, 3);
  assert.equal(on.events[0]?.event, "lease");
  // Without option 14 the Solicit still gets an Advertise.
  const plain = createDhcpv6Solicit({ mac: MAC, transactionId: 1, iaid: 3 });
  assert.equal(on.send(plain)[0]!.message.messageType, T.ADVERTISE);
});

Deno.test("DHCPv6 Confirm: Success on-link, NotOnLink otherwise, silence without addresses", () => {
  const { send } = setup({ ...SPEC, profile: "lan", ipv6: "2001:db8:1::5/64" });
  const [ok] = send(message(T.CONFIRM, [iaWith("2001:db8:1::77")]));
  assert.equal(status(ok!.message.options), Dhcpv6StatusCode.SUCCESS);
  const [moved] = send(message(T.CONFIRM, [iaWith("2001:db8:9::5")]));
  assert.equal(status(moved!.message.options), Dhcpv6StatusCode.NOT_ON_LINK);
  assert.deepEqual(
    send(message(T.CONFIRM, [{ kind: "ia_na", iaid: 1, t1: 0, t2: 0, options: [] }])),
    [],
  );
});

Deno.test("DHCPv6 Release and Decline → Reply Success, with events", () => {
  const { send, events } = setup();
  for (const type of [T.RELEASE, T.DECLINE]) {
    const [reply] = send(message(type, [ours, iaWith("2001:db8::5")]));
    assert.equal(reply!.message.messageType, T.REPLY);
    assert.equal(status(reply!.message.options), Dhcpv6StatusCode.SUCCESS);
  }
  assert.deepEqual(events.map((e) => [e.event, e.nic, e.addresses]), [
    ["release", "vm0", ["2001:db8::5"]],
    ["decline", "vm0", ["2001:db8::5"]],
  ]);
});

Deno.test("DHCPv6 Information-request → Reply with DNS and no IA", () => {
  const { send } = setup();
  const [reply] = send(message(T.INFORMATION_REQUEST, [{ kind: "oro", codes: [23] }]));
  assert.equal(reply!.message.messageType, T.REPLY);
  assert.equal(findOfKind(reply!.message.options, "ia_na"), undefined);
  assert.equal(findOfKind(reply!.message.options, "dns_servers")!.servers.length, 1);
});

Deno.test("DHCPv6: a NIC without IPv6 → NoAddrsAvail; a renewed address not ours → lifetime 0", () => {
  const v4 = setup({ name: "v4", mac: "52:54:00:12:34:01", ipv4: "192.0.2.5" });
  const [adv] = v4.send(createDhcpv6Solicit({ mac: MAC, transactionId: 1, iaid: 1 }));
  assert.equal(status(adv!.message.options), Dhcpv6StatusCode.NO_ADDRS_AVAIL);
  assert.equal(findOfKind(adv!.message.options, "ia_na"), undefined);
  const [reply] = v4.send(message(T.REQUEST, [ours, iaWith("2001:db8::5")]));
  const refused = findOfKind(reply!.message.options, "ia_na")!;
  assert.equal(status(refused.options), Dhcpv6StatusCode.NO_ADDRS_AVAIL);
  assert.deepEqual(v4.events, []);

  const { send } = setup();
  const [renewed] = send(message(T.RENEW, [ours, iaWith("2001:db8::99")]));
  const addresses = findOfKind(renewed!.message.options, "ia_na")!.options.flatMap((o) =>
    o.kind === "iaaddr" ? [[formatIpv6(o.address), o.validLifetime]] : []
  );
  assert.deepEqual(addresses, [["2001:db8::5", LEASE_TIMES_S.valid], ["2001:db8::99", 0]]);
});

/** A client message built by hand: to `dst`, with exactly `options` (no client id added). */
function raw(type: number, options: Dhcpv6Option[], dst = "ff02::1:2"): Uint8Array {
  return encodeDhcpv6Frame({
    srcMac: MAC,
    dstMac: parseMac("02:00:00:00:00:01"),
    src: linkLocalFromMac(MAC),
    dst: parseIpv6(dst),
    message: { kind: "client_server", messageType: type, transactionId: 9, options },
  });
}

Deno.test("DHCPv6: unicast to the server → UseMulticast or silence; no client id → silence", () => {
  const { send, server } = setup();
  const client: Dhcpv6Option = { kind: "client_id", duid: generateDuidLl(MAC) };
  const [use] = send(raw(T.REQUEST, [client, ours, iaWith("2001:db8::5")], "fe80::1"));
  assert.equal(status(use!.message.options), Dhcpv6StatusCode.USE_MULTICAST);
  assert.equal(findOfKind(use!.message.options, "ia_na"), undefined);
  assert.deepEqual(send(raw(T.SOLICIT, [client, iaWith("2001:db8::5")], "fe80::1")), []);
  assert.equal(server.drops.unicast, 1);
  assert.deepEqual(send(raw(T.SOLICIT, [iaWith("2001:db8::5")])), []);
  assert.equal(server.drops.no_client_id, 1);
  // An Information-request needs no client id.
  assert.equal(send(raw(T.INFORMATION_REQUEST, []))[0]!.message.messageType, T.REPLY);
  // Server messages from a guest are not answered.
  assert.deepEqual(send(raw(T.REPLY, [client, ours])), []);
});
