import assert from "node:assert/strict";
import {
  createArpProbe,
  createArpRequest,
  createDhcpDiscover,
  createDhcpRequest,
  createDhcpv6Solicit,
  createIcmpEchoRequest,
  createIcmpv6EchoRequest,
  createNeighborSolicitation,
  createRouterSolicitation,
  decodeArpFrame,
  decodeDhcpFrame,
  decodeDhcpv6Frame,
  decodeIcmpv4Frame,
  decodeIcmpv6Frame,
  formatIpv4,
  formatMac,
  isMalformed,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "../../packet/mod.ts";
import { ipv4Frame } from "../../../testing/vnet_frames.ts";
import { type NicSpec, resolveNic } from "../config.ts";
import {
  Dataplane,
  type FrameOutput,
  type IcmpErrorSender,
  type ResponderEvent,
} from "../dataplane.ts";
import { icmpErrorsByVersion, registerResponders } from "./mod.ts";

const MAC = parseMac("52:54:00:12:34:01");
const GATEWAY_MAC = parseMac("02:00:00:00:00:01");

class Recorder implements FrameOutput {
  frames: Uint8Array[] = [];
  to: number[] = [];
  toNic(nic: number, frame: Uint8Array, length: number): boolean {
    this.frames.push(frame.slice(0, length));
    this.to.push(nic);
    return true;
  }
  toUplink(): boolean {
    return true;
  }
}

function setup() {
  const out = new Recorder();
  const dp = new Dataplane(out);
  dp.setNics([resolveNic({ name: "vm0", mac: "52:54:00:12:34:01", ipv6: "2001:db8::5" })], 0);
  const responders = registerResponders(dp, 0, { random: () => 0 });
  const send = (frame: Uint8Array) => {
    out.frames = [];
    dp.fromNic(0, frame, frame.length, 10);
    return out.frames;
  };
  return { dp, out, responders, send };
}

function icmpKind(frame: Uint8Array): string {
  const d = decodeIcmpv6Frame(frame);
  return isMalformed(d) ? d.reason : d.icmpv6.kind;
}

Deno.test("vnet responders through the dataplane: RS→RA, NS→NA, ping6, DHCPv6, ICMPv6 errors", () => {
  const { dp, out, responders, send } = setup();
  assert.deepEqual(dp.responders, ["arp", "icmp4", "dhcp4", "ndp", "icmp6", "dhcp6"]);
  // The NIC was there before the responders: it still gets its first RA at once.
  assert.equal(dp.next(0), 0);
  dp.tick(0);
  assert.deepEqual(out.frames.map(icmpKind), ["router_advertisement"]);

  assert.deepEqual(send(createRouterSolicitation({ srcMac: MAC })).map(icmpKind), [
    "router_advertisement",
  ]);
  const ns = createNeighborSolicitation({ srcMac: MAC, target: parseIpv6("fe80::1") });
  assert.deepEqual(send(ns).map(icmpKind), ["neighbor_advertisement"]);
  const ping = createIcmpv6EchoRequest({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    dst: parseIpv6("fe80::1"),
    identifier: 1,
    sequence: 1,
  });
  assert.deepEqual(send(ping).map(icmpKind), ["echo_reply"]);
  const [advertise] = send(createDhcpv6Solicit({ mac: MAC, transactionId: 5, iaid: 1 }));
  const decoded = decodeDhcpv6Frame(advertise!);
  assert.ok(!isMalformed(decoded) && decoded.dhcpv6.messageType === 2);

  // No uplink, no other guest: unreachable, sent back by the IPv6 error sender.
  const away = createIcmpv6EchoRequest({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    src: parseIpv6("2001:db8::5"),
    dst: parseIpv6("2001:db8:9::9"),
    identifier: 1,
    sequence: 1,
  });
  assert.deepEqual(send(away).map(icmpKind), ["destination_unreachable"]);
  assert.equal(dp.counters(0).icmp_errors, 1);
  assert.equal(responders.ndp.drops.hop_limit, 0);
});

Deno.test("icmpErrorsByVersion hands each frame to its IP version's sender", () => {
  const seen: string[] = [];
  const sender = (name: string): IcmpErrorSender => ({
    error: () => {
      seen.push(name);
      return [];
    },
  });
  const both = icmpErrorsByVersion({ v4: sender("v4"), v6: sender("v6") });
  const nic = resolveNic({ name: "vm0", mac: "52:54:00:12:34:01", ipv6: "2001:db8::5" });
  const decision = { verdict: "unreachable", nic: -1, length: 0, mtu: 0, reason: null } as const;
  const frame = new Uint8Array(60);
  for (const type of [0x0800, 0x86dd, 0x0806]) {
    frame[12] = type >> 8;
    frame[13] = type & 0xff;
    both.error(nic, frame, { ...decision }, 0);
  }
  assert.deepEqual(seen, ["v4", "v6"]);
  assert.deepEqual(icmpErrorsByVersion({}).error(nic, frame, { ...decision }, 0), []);
});

/** A dataplane with `specs` as its NICs and every responder; `send(i, frame)` gives the replies. */
function setupNics(specs: NicSpec[]) {
  const out = new Recorder();
  const events: ResponderEvent[] = [];
  const dp = new Dataplane(out, { onEvent: (e) => events.push(e) });
  dp.setNics(specs.map(resolveNic), 0);
  const responders = registerResponders(dp, 0, { random: () => 0 });
  const send = (nic: number, frame: Uint8Array) => {
    out.frames = [];
    out.to = [];
    dp.fromNic(nic, frame, frame.length, 10);
    return out.frames;
  };
  return { dp, out, events, responders, send };
}

function icmp4Kind(frame: Uint8Array): string {
  const d = decodeIcmpv4Frame(frame);
  if (isMalformed(d)) return d.reason;
  if (d.icmp.kind !== "error") return d.icmp.kind;
  return d.icmp.type === 3 ? "destination_unreachable" : "time_exceeded";
}

Deno.test("vnet IPv4 responders through the dataplane: ARP, ping, DORA, errors; counted per NIC", () => {
  const { dp, events, responders, send } = setupNics([
    { name: "vm0", mac: "52:54:00:12:34:01", ipv4: "10.0.0.5", dns: ["192.0.2.53"] },
    { name: "vm1", mac: "52:54:00:12:34:02", ipv4: "10.0.0.6", mtu: 1280 },
  ]);
  const gateway = parseIpv4("169.254.0.1");
  const arp = send(
    0,
    createArpRequest({ srcMac: MAC, srcIp: parseIpv4("10.0.0.5"), targetIp: gateway }),
  );
  const reply = decodeArpFrame(arp[0]!);
  assert.ok(!isMalformed(reply));
  assert.equal(formatMac(reply.arp.senderMac), "02:00:00:00:00:01");
  const ping = createIcmpEchoRequest({
    srcMac: MAC,
    dstMac: GATEWAY_MAC,
    src: parseIpv4("10.0.0.5"),
    dst: gateway,
    identifier: 7,
    sequence: 1,
  });
  assert.deepEqual(send(0, ping).map(icmp4Kind), ["echo"]);

  const [offer] = send(0, createDhcpDiscover({ clientMac: MAC, xid: 9 }));
  const decoded = decodeDhcpFrame(offer!);
  assert.ok(!isMalformed(decoded));
  assert.equal(formatIpv4(decoded.dhcp.yiaddr), "10.0.0.5");
  assert.deepEqual(decoded.dhcp.options.dnsServers?.map((a) => formatIpv4(a)), ["192.0.2.53"]);
  const [ack] = send(
    0,
    createDhcpRequest({
      clientMac: MAC,
      xid: 9,
      requestedIp: parseIpv4("10.0.0.5"),
      serverId: gateway,
    }),
  );
  assert.ok(ack !== undefined);
  assert.deepEqual(events.map((e) => [e.event, e.nic, e.address]), [["lease", "vm0", "10.0.0.5"]]);
  // Another server's REQUEST: silence (RFC 2131 4.3.2), counted.
  const foreign = createDhcpRequest({
    clientMac: MAC,
    xid: 10,
    requestedIp: parseIpv4("10.0.0.5"),
    serverId: parseIpv4("192.0.2.99"),
  });
  assert.deepEqual(send(0, foreign), []);

  // Errors: unreachable (no uplink), TTL exceeded, and too big with the OUTGOING link's MTU.
  const away = ipv4Frame({ srcMac: "52:54:00:12:34:01", src: "10.0.0.5", dst: "198.51.100.9" });
  assert.deepEqual(send(0, away).map(icmp4Kind), ["destination_unreachable"]);
  const dying = ipv4Frame({
    srcMac: "52:54:00:12:34:01",
    src: "10.0.0.5",
    dst: "10.0.0.6",
    ttl: 1,
  });
  assert.deepEqual(send(0, dying).map(icmp4Kind), ["time_exceeded"]);
  const big = ipv4Frame({
    srcMac: "52:54:00:12:34:01",
    src: "10.0.0.5",
    dst: "10.0.0.6",
    payload: new Uint8Array(1400),
    dontFragment: true,
  });
  const [tooBig] = send(0, big);
  const error = decodeIcmpv4Frame(tooBig!);
  assert.ok(!isMalformed(error) && error.icmp.kind === "error");
  assert.equal(error.icmp.nextHopMtu, 1280);
  assert.equal(dp.counters(0).icmp_errors, 3);

  assert.deepEqual(responders.counts("vm0"), {
    arp_reply: 1,
    icmpv4_echo_reply: 1,
    dhcp_offer: 1,
    dhcp_ack: 1,
    dhcp_other_server: 1,
    icmpv4_error_unreachable: 1,
    icmpv4_error_ttl_exceeded: 1,
    icmpv4_error_too_big: 1,
  });
  assert.deepEqual(responders.counts("vm1"), {});
  assert.equal(responders.ipv6Drops().ndp_hop_limit, 0);
  assert.equal(responders.ipv6Drops().icmp6_error_rate_limited, 0);
  // A NIC removed: its counts go with it.
  dp.setNics([dp.nics[1]!], 20);
  assert.deepEqual(responders.counts("vm0"), {});
});

Deno.test("vnet IPv4 responders: a NIC without IPv4 gets no answer; a chaddr not the guest's is unknown traffic", () => {
  const { events, responders, send } = setupNics([
    { name: "vm0", mac: "52:54:00:12:34:01", ipv6: "2001:db8::5" },
    { name: "vm1", mac: "52:54:00:12:34:02", ipv4: "10.0.0.6" },
  ]);
  assert.deepEqual(send(0, createDhcpDiscover({ clientMac: MAC, xid: 1 })), []);
  assert.deepEqual(responders.counts("vm0"), { ipv4_not_configured: 1 });
  const other = createDhcpDiscover({ clientMac: parseMac("52:54:00:99:99:99"), xid: 2 });
  other.set(parseMac("52:54:00:12:34:02"), 6); // the guest's Ethernet source, another's chaddr
  assert.deepEqual(send(1, other), []);
  assert.deepEqual(responders.counts("vm1"), { dhcp_foreign_chaddr: 1 });
  assert.deepEqual(events.map((e) => [e.event, e.nic, e.reason]), [[
    "unknown",
    "vm1",
    "dhcp_foreign_chaddr",
  ]]);
});

const LAN = [
  {
    name: "vm0",
    mac: "52:54:00:12:34:01",
    profile: "lan",
    ipv4: "10.0.0.5/24",
    ipv6: "2001:db8::5/64",
  },
  {
    name: "vm1",
    mac: "52:54:00:12:34:02",
    profile: "lan",
    ipv4: "10.0.0.6/24",
    ipv6: "2001:db8::6/64",
  },
  { name: "vm2", mac: "52:54:00:12:34:03", ipv4: "10.0.0.7", ipv6: "2001:db8::7" },
] satisfies NicSpec[];

Deno.test("vnet proxy ARP and NDP: only for another NIC's guest inside the asker's lan prefix", () => {
  const { send } = setupNics(LAN);
  const ask = (nic: number, mac: string, src: string, target: string) =>
    send(
      nic,
      createArpRequest({
        srcMac: parseMac(mac),
        srcIp: parseIpv4(src),
        targetIp: parseIpv4(target),
      }),
    );
  const [proxied] = ask(0, LAN[0]!.mac, "10.0.0.5", "10.0.0.6");
  const reply = decodeArpFrame(proxied!);
  assert.ok(!isMalformed(reply));
  assert.equal(formatIpv4(reply.arp.senderIp), "10.0.0.6");
  assert.equal(formatMac(reply.arp.senderMac), "02:00:00:00:00:01");
  assert.equal(formatIpv4(reply.arp.targetIp), "10.0.0.5");
  // vm2 is a guest too, of a linklocal NIC: inside vm0's prefix, so it is answered for.
  assert.equal(ask(0, LAN[0]!.mac, "10.0.0.5", "10.0.0.7").length, 1);
  // Nobody's address, and the guest's own: silence. A linklocal guest gets no proxy.
  assert.deepEqual(ask(0, LAN[0]!.mac, "10.0.0.5", "10.0.0.77"), []);
  assert.deepEqual(ask(2, LAN[2]!.mac, "10.0.0.7", "10.0.0.5"), []);
  // A DAD probe for another guest's address is not answered for it.
  const probe = createArpProbe({ srcMac: MAC, targetIp: parseIpv4("10.0.0.6") });
  assert.deepEqual(send(0, probe), []);

  const ns = (target: string) =>
    send(
      0,
      createNeighborSolicitation({
        srcMac: MAC,
        src: parseIpv6("2001:db8::5"),
        target: parseIpv6(target),
      }),
    );
  const [na] = ns("2001:db8::6");
  const decoded = decodeIcmpv6Frame(na!);
  assert.ok(!isMalformed(decoded) && decoded.icmpv6.kind === "neighbor_advertisement");
  const message = decoded.icmpv6;
  assert.deepEqual(
    [message.router, message.solicited, message.override],
    [false, true, false],
    "RFC 4861 7.2.8: a proxy NA for a host",
  );
  assert.deepEqual(ns("2001:db8::99"), []);
});
