import assert from "node:assert/strict";
import { encodeEthernet, EtherType, type VlanTagInit } from "../packet/ethernet.ts";
import { encodeIpv4, IpProtocol, parseIpv4 } from "../packet/ipv4.ts";
import { encodeIpv6, parseIpv6 } from "../packet/ipv6.ts";
import { BROADCAST_MAC, macKey, parseMac } from "../packet/mac.ts";
import { encodeUdp } from "../packet/udp.ts";
import { AddressGuard } from "./address_guard.ts";
import { concat } from "../../testing/bytes.ts";

const MAC_A = parseMac("02:00:00:00:00:0a");
const MAC_B = parseMac("02:00:00:00:00:0b");
const KEY_A = macKey(MAC_A);
const KEY_B = macKey(MAC_B);
const LAN_HOST_MAC = parseMac("00:11:22:33:44:55");
const SERVER_MAC = parseMac("00:11:22:33:44:01");
const ALL_NODES_MAC = parseMac("33:33:00:00:00:01");
const DAY_MS = 24 * 3_600_000;

// ---- frame builders ----------------------------------------------------------------------------

function u32Bytes(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

interface ArpInit {
  senderMac: Uint8Array;
  senderIp: string;
  targetIp: string;
  ethSrc?: Uint8Array;
  op?: number;
  vlanTags?: readonly VlanTagInit[];
}

/** An Ethernet/IPv4 ARP frame, broadcast. */
function arpFrame(init: ArpInit): Uint8Array {
  const payload = concat(
    new Uint8Array([0, 1, 0x08, 0x00, 6, 4, 0, init.op ?? 1]),
    init.senderMac,
    parseIpv4(init.senderIp),
    new Uint8Array(6),
    parseIpv4(init.targetIp),
  );
  return encodeEthernet({
    dst: BROADCAST_MAC,
    src: init.ethSrc ?? init.senderMac,
    etherType: EtherType.ARP,
    payload,
    vlanTags: init.vlanTags ?? [],
  });
}

/** A gratuitous ARP reply: "`ip` is-at `mac`". */
function gratuitousArp(mac: Uint8Array, ip: string): Uint8Array {
  return arpFrame({ senderMac: mac, senderIp: ip, targetIp: ip, op: 2 });
}

/** A source (1) or target (2) link-layer address option. */
function lladdrOption(type: 1 | 2, mac: Uint8Array): Uint8Array {
  return concat(new Uint8Array([type, 1]), mac);
}

interface NdInit {
  type: 133 | 134 | 135 | 136 | 137;
  src: string;
  dst?: string;
  target?: string;
  options?: Uint8Array[];
  ethSrc?: Uint8Array;
  hopLimit?: number;
  /** Extension headers already chained, ending with next header 58. */
  extensions?: Uint8Array;
  firstNextHeader?: number;
}

/** An ICMPv6 Neighbor Discovery frame (checksum left zero: the guard does not verify it). */
function ndFrame(init: NdInit): Uint8Array {
  const fixed = init.type === 133 ? 8 : init.type === 134 ? 16 : init.type === 137 ? 40 : 24;
  const message = new Uint8Array(fixed);
  message[0] = init.type;
  if (init.target !== undefined) message.set(parseIpv6(init.target), 8);
  if (init.type === 137) message.set(parseIpv6(init.dst ?? "2001:db8::99"), 24);
  const payload = concat(init.extensions ?? new Uint8Array(0), message, ...(init.options ?? []));
  const ip = encodeIpv6({
    src: parseIpv6(init.src),
    dst: parseIpv6(init.dst ?? "ff02::1"),
    nextHeader: init.firstNextHeader ?? IpProtocol.ICMPV6,
    hopLimit: init.hopLimit ?? 255,
    payload,
  });
  return encodeEthernet({
    dst: ALL_NODES_MAC,
    src: init.ethSrc ?? MAC_A,
    etherType: EtherType.IPV6,
    payload: ip,
  });
}

/** A neighbor advertisement from `mac` for `target`, with a target link-layer option `lladdr`. */
function na(mac: Uint8Array, target: string, lladdr: Uint8Array = mac): Uint8Array {
  return ndFrame({
    type: 136,
    src: target,
    target,
    options: [lladdrOption(2, lladdr)],
    ethSrc: mac,
  });
}

/** A duplicate address detection probe from `mac` for `target`. */
function dadNs(mac: Uint8Array, target: string): Uint8Array {
  return ndFrame({ type: 135, src: "::", dst: "ff02::1:ff00:1", target, ethSrc: mac });
}

interface BootpInit {
  op: 1 | 2;
  type: number;
  chaddr: Uint8Array;
  ciaddr?: string;
  yiaddr?: string;
  leaseSeconds?: number;
  /** Put the message type option in the file field (option 52 overload). */
  overloadFile?: boolean;
}

/** A DHCPv4 message: BOOTP fixed header, magic cookie, options. */
function bootp(init: BootpInit): Uint8Array {
  const fixed = new Uint8Array(240);
  fixed[0] = init.op;
  fixed[1] = 1;
  fixed[2] = 6;
  fixed.set([1, 2, 3, 4], 4);
  if (init.ciaddr !== undefined) fixed.set(parseIpv4(init.ciaddr), 12);
  if (init.yiaddr !== undefined) fixed.set(parseIpv4(init.yiaddr), 16);
  fixed.set(init.chaddr, 28);
  fixed.set([99, 130, 83, 99], 236);
  const options: number[] = [];
  if (init.overloadFile === true) {
    fixed.set([53, 1, init.type, 255], 108);
    options.push(52, 1, 1);
  } else {
    options.push(53, 1, init.type);
  }
  if (init.leaseSeconds !== undefined) options.push(51, 4, ...u32Bytes(init.leaseSeconds));
  options.push(255);
  return concat(fixed, new Uint8Array(options));
}

/** A DHCPv4 frame: server → client (67 → 68, broadcast) or client → server (68 → 67). */
function dhcp4Frame(fromServer: boolean, message: Uint8Array, ethSrc: Uint8Array): Uint8Array {
  const src = parseIpv4(fromServer ? "192.168.77.1" : "0.0.0.0");
  const dst = parseIpv4("255.255.255.255");
  const udp = encodeUdp({
    src,
    dst,
    srcPort: fromServer ? 67 : 68,
    dstPort: fromServer ? 68 : 67,
    payload: message,
  });
  const ip = encodeIpv4({ src, dst, protocol: IpProtocol.UDP, ttl: 64, payload: udp });
  return encodeEthernet({
    dst: BROADCAST_MAC,
    src: ethSrc,
    etherType: EtherType.IPV4,
    payload: ip,
  });
}

function dhcpRequest(mac: Uint8Array, chaddr: Uint8Array = mac): Uint8Array {
  return dhcp4Frame(false, bootp({ op: 1, type: 3, chaddr }), mac);
}

function dhcpAck(chaddr: Uint8Array, yiaddr: string, leaseSeconds?: number): Uint8Array {
  const message = leaseSeconds === undefined
    ? bootp({ op: 2, type: 5, chaddr, yiaddr })
    : bootp({ op: 2, type: 5, chaddr, yiaddr, leaseSeconds });
  return dhcp4Frame(true, message, SERVER_MAC);
}

/** A DHCPv6 message carrying one IA_NA with the given addresses and valid lifetimes. */
function dhcp6Message(type: number, addresses: readonly [string, number][]): Uint8Array {
  const iaAddrs = addresses.map(([address, valid]) =>
    concat(
      new Uint8Array([0, 5, 0, 24]),
      parseIpv6(address),
      u32Bytes(valid),
      u32Bytes(valid),
    )
  );
  const iaBody = concat(new Uint8Array(12), ...iaAddrs);
  return concat(
    new Uint8Array([type, 0, 0, 1]),
    new Uint8Array([0, 3, iaBody.length >>> 8, iaBody.length & 0xff]),
    iaBody,
  );
}

/** A DHCPv6 frame: server Reply (547 → 546, unicast to `dstMac`) or client message (546 → 547). */
function dhcp6Frame(
  fromServer: boolean,
  message: Uint8Array,
  ethSrc: Uint8Array,
  ethDst: Uint8Array,
): Uint8Array {
  const src = parseIpv6(fromServer ? "fe80::1" : "fe80::a");
  const dst = parseIpv6(fromServer ? "fe80::a" : "ff02::1:2");
  const udp = encodeUdp({
    src,
    dst,
    srcPort: fromServer ? 547 : 546,
    dstPort: fromServer ? 546 : 547,
    payload: message,
  });
  const ip = encodeIpv6({ src, dst, nextHeader: IpProtocol.UDP, hopLimit: 1, payload: udp });
  return encodeEthernet({ dst: ethDst, src: ethSrc, etherType: EtherType.IPV6, payload: ip });
}

/** Client `mac` asks for a DHCPv4 lease and the LAN server grants `ip` for `seconds`. */
function leaseV4(guard: AddressGuard, mac: Uint8Array, ip: string, seconds: number, now: number) {
  assert.equal(guard.check(macKey(mac), mac, dhcpRequest(mac), now), null);
  guard.observe(dhcpAck(mac, ip, seconds), true, now);
}

const checkA = (guard: AddressGuard, frame: Uint8Array, now: number) =>
  guard.check(KEY_A, MAC_A, frame, now);
const checkB = (guard: AddressGuard, frame: Uint8Array, now: number) =>
  guard.check(KEY_B, MAC_B, frame, now);

// ---- ARP ---------------------------------------------------------------------------------------

Deno.test("AddressGuard passes ARP from a client for its DHCP-leased address", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  assert.equal(guard.status().dhcpv4, 1);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 10), null);
  const request = arpFrame({
    senderMac: MAC_A,
    senderIp: "192.168.77.101",
    targetIp: "192.168.77.1",
  });
  assert.equal(checkA(guard, request, 10), null);
});

Deno.test("AddressGuard drops a gratuitous ARP for another client's address as arp_sender_ip", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  leaseV4(guard, MAC_B, "192.168.77.102", 3600, 0);
  // The attack: B claims A's address so LAN hosts send A's traffic to B.
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.101"), 10), "arp_sender_ip");
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.102"), 10), null);
});

Deno.test("AddressGuard drops ARP claiming a LAN address, never leased to the client", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.1"), 10), "arp_sender_ip");
  const fresh = new AddressGuard();
  assert.equal(checkA(fresh, gratuitousArp(MAC_A, "192.168.77.1"), 10), "arp_sender_ip");
});

Deno.test("AddressGuard drops ARP whose sender MAC is not the client's as arp_sender_mac", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  const forged = arpFrame({
    ethSrc: MAC_A,
    senderMac: LAN_HOST_MAC,
    senderIp: "192.168.77.101",
    targetIp: "192.168.77.1",
  });
  assert.equal(checkA(guard, forged, 10), "arp_sender_mac");
  const probe = arpFrame({
    ethSrc: MAC_A,
    senderMac: MAC_B,
    senderIp: "0.0.0.0",
    targetIp: "1.2.3.4",
  });
  assert.equal(checkA(guard, probe, 10), "arp_sender_mac");
});

Deno.test("AddressGuard passes an ARP probe from 0.0.0.0 for any target", () => {
  const guard = new AddressGuard();
  const probe = arpFrame({ senderMac: MAC_A, senderIp: "0.0.0.0", targetIp: "192.168.77.101" });
  assert.equal(checkA(guard, probe, 0), null);
});

Deno.test("AddressGuard checks ARP behind an 802.1Q tag", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  const tagged = (mac: Uint8Array, ip: string) =>
    arpFrame({ senderMac: mac, senderIp: ip, targetIp: ip, op: 2, vlanTags: [{ vid: 77 }] });
  assert.equal(checkA(guard, tagged(MAC_A, "192.168.77.101"), 1), null);
  assert.equal(checkA(guard, tagged(MAC_A, "192.168.77.102"), 1), "arp_sender_ip");
  assert.equal(
    checkA(
      guard,
      arpFrame({
        ethSrc: MAC_A,
        senderMac: MAC_B,
        senderIp: "0.0.0.0",
        targetIp: "1.1.1.1",
        vlanTags: [{ vid: 5 }],
      }),
      1,
    ),
    "arp_sender_mac",
  );
});

Deno.test("AddressGuard drops ARP with non-Ethernet address lengths or cut short as arp_malformed", () => {
  const guard = new AddressGuard();
  const frame = arpFrame({ senderMac: MAC_A, senderIp: "0.0.0.0", targetIp: "1.2.3.4" });
  const wrongLength = frame.slice();
  wrongLength[14 + 4] = 8;
  assert.equal(checkA(guard, wrongLength, 0), "arp_malformed");
  assert.equal(checkA(guard, frame.subarray(0, 14 + 27), 0), "arp_malformed");
});

// ---- DHCPv4 snooping ---------------------------------------------------------------------------

Deno.test("AddressGuard DHCPv4 lease expires at lease end", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 600, 1000);
  const garp = gratuitousArp(MAC_A, "192.168.77.101");
  assert.equal(checkA(guard, garp, 1000 + 599_999), null);
  assert.equal(checkA(guard, garp, 1000 + 600_000), "arp_sender_ip");
  assert.equal(guard.status().dhcpv4, 0);
});

Deno.test("AddressGuard DHCPv4 renewal extends the lease", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 600, 0);
  guard.observe(dhcpAck(MAC_A, "192.168.77.101", 600), true, 500_000);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 1_000_000), null);
  assert.equal(guard.status().dhcpv4, 1);
});

Deno.test("AddressGuard caps infinite and missing DHCPv4 lease times at 7 days", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 0xffff_ffff, 0);
  assert.equal(checkB(guard, dhcpRequest(MAC_B), 0), null);
  guard.observe(dhcpAck(MAC_B, "192.168.77.102"), true, 0);
  for (const [check, ip] of [[checkA, "192.168.77.101"], [checkB, "192.168.77.102"]] as const) {
    const mac = check === checkA ? MAC_A : MAC_B;
    assert.equal(check(guard, gratuitousArp(mac, ip), 7 * DAY_MS - 1), null);
    assert.equal(check(guard, gratuitousArp(mac, ip), 7 * DAY_MS), "arp_sender_ip");
  }
});

Deno.test("AddressGuard DHCPv4 NAK clears the client's lease", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  guard.observe(dhcp4Frame(true, bootp({ op: 2, type: 6, chaddr: MAC_A }), SERVER_MAC), true, 5);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 10), "arp_sender_ip");
  assert.equal(guard.status().dhcpv4, 0);
});

Deno.test("AddressGuard DHCPv4 RELEASE from the client frees its lease", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  const release = dhcp4Frame(
    false,
    bootp({ op: 1, type: 7, chaddr: MAC_A, ciaddr: "192.168.77.101" }),
    MAC_A,
  );
  assert.equal(checkA(guard, release, 5), null);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 10), "arp_sender_ip");
  assert.equal(guard.status().dhcpv4, 0);
});

Deno.test("AddressGuard drops a DHCPv4 RELEASE of another client's address as dhcp_release", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  const release = dhcp4Frame(
    false,
    bootp({ op: 1, type: 7, chaddr: MAC_B, ciaddr: "192.168.77.101" }),
    MAC_B,
  );
  assert.equal(checkB(guard, release, 5), "dhcp_release");
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 10), null);
});

Deno.test("AddressGuard drops a client DHCPv4 request with another chaddr as dhcp_chaddr", () => {
  const guard = new AddressGuard();
  assert.equal(checkB(guard, dhcpRequest(MAC_B, MAC_A), 0), "dhcp_chaddr");
  assert.equal(checkB(guard, dhcpRequest(MAC_B), 0), null);
});

Deno.test("AddressGuard records no DHCPv4 lease for a client that never asked through it", () => {
  const guard = new AddressGuard();
  guard.observe(dhcpAck(LAN_HOST_MAC, "192.168.77.50", 3600), true, 0);
  guard.observe(dhcpAck(MAC_A, "192.168.77.101", 3600), true, 0);
  assert.equal(guard.status().dhcpv4, 0);
  assert.equal(guard.status().leases_not_recorded, 2);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 1), "arp_sender_ip");
});

Deno.test("AddressGuard ignores DHCP server messages that do not come from the gateway", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, dhcpRequest(MAC_A), 0), null);
  guard.observe(dhcpAck(MAC_A, "192.168.77.101", 3600), false, 0);
  assert.equal(guard.status().dhcpv4, 0);
});

Deno.test("AddressGuard finds the DHCPv4 message type in an overloaded file field", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, dhcpRequest(MAC_A), 0), null);
  const ack = bootp({
    op: 2,
    type: 5,
    chaddr: MAC_A,
    yiaddr: "192.168.77.101",
    leaseSeconds: 60,
    overloadFile: true,
  });
  guard.observe(dhcp4Frame(true, ack, SERVER_MAC), true, 0);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 1), null);
});

Deno.test("AddressGuard moves a DHCPv4 address the server reassigns to another client", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  leaseV4(guard, MAC_B, "192.168.77.101", 3600, 10);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 20), "arp_sender_ip");
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.101"), 20), null);
  assert.equal(guard.status().dhcpv4, 1);
});

// ---- configured addresses ----------------------------------------------------------------------

Deno.test("AddressGuard passes ARP and NA for configured addresses, and only their client's", () => {
  const guard = new AddressGuard();
  guard.configure(KEY_A, ["192.168.77.101", "2001:db8::101"]);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 0), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::101"), 0), null);
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.101"), 0), "arp_sender_ip");
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::101"), 0), "nd_target");
  // Configured addresses never expire.
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 365 * DAY_MS), null);
  assert.equal(guard.status().configured, 2);
});

Deno.test("AddressGuard configure replaces earlier configuration and survives forget", () => {
  const guard = new AddressGuard();
  guard.configure(KEY_A, ["192.168.77.101"]);
  guard.configure(KEY_A, ["192.168.77.111"]);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 0), "arp_sender_ip");
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.111"), 0), null);
  guard.forget(KEY_A);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.111"), 0), null);
  guard.configure(KEY_A, []);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.111"), 0), "arp_sender_ip");
  assert.deepEqual(guard.status(), {
    configured: 0,
    dhcpv4: 0,
    dhcpv6: 0,
    fcfs: 0,
    lan: 0,
    clients: 0,
    leases_not_recorded: 0,
    lan_not_recorded: 0,
  });
});

Deno.test("AddressGuard configure rejects text that is not an address and changes nothing", () => {
  const guard = new AddressGuard();
  guard.configure(KEY_A, ["192.168.77.101"]);
  assert.throws(() => guard.configure(KEY_A, ["192.168.77.102", "nope"]), TypeError);
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 0), null);
});

Deno.test("AddressGuard keeps a configured address from a DHCP lease for another client", () => {
  const guard = new AddressGuard();
  guard.configure(KEY_A, ["192.168.77.101"]);
  leaseV4(guard, MAC_B, "192.168.77.101", 3600, 0);
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.101"), 1), "arp_sender_ip");
  assert.equal(checkA(guard, gratuitousArp(MAC_A, "192.168.77.101"), 1), null);
  assert.equal(guard.status().leases_not_recorded, 1);
});

// ---- Neighbor Discovery ------------------------------------------------------------------------

Deno.test("AddressGuard drops an NA with a forged target link-layer option as nd_lladdr", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a", LAN_HOST_MAC), 0), "nd_lladdr");
  const ns = ndFrame({
    type: 135,
    src: "2001:db8::a",
    target: "2001:db8::1",
    options: [lladdrOption(1, MAC_B)],
  });
  assert.equal(checkA(guard, ns, 0), "nd_lladdr");
  const rs = ndFrame({ type: 133, src: "fe80::a", options: [lladdrOption(1, MAC_B)] });
  assert.equal(checkA(guard, rs, 0), "nd_lladdr");
  assert.equal(guard.status().fcfs, 0);
});

Deno.test("AddressGuard drops an NA for a target the LAN claimed in a gateway NA", () => {
  const guard = new AddressGuard();
  guard.observe(na(LAN_HOST_MAC, "2001:db8::1"), true, 0);
  assert.equal(guard.status().lan, 1);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 10), "nd_target");
  assert.equal(checkA(guard, dadNs(MAC_A, "2001:db8::1"), 10), "nd_target");
});

Deno.test("AddressGuard learns LAN addresses from NS sources with a link-layer option and DAD", () => {
  const guard = new AddressGuard();
  const ns = ndFrame({
    type: 135,
    src: "fe80::1",
    target: "fe80::a",
    options: [lladdrOption(1, LAN_HOST_MAC)],
    ethSrc: LAN_HOST_MAC,
  });
  guard.observe(ns, true, 0);
  guard.observe(dadNs(LAN_HOST_MAC, "2001:db8::2"), true, 0);
  assert.equal(checkA(guard, na(MAC_A, "fe80::1"), 1), "nd_target");
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::2"), 1), "nd_target");
  // The NS target (the address looked up) is not a LAN claim.
  assert.equal(checkA(guard, na(MAC_A, "fe80::a"), 1), null);
});

Deno.test("AddressGuard lets a LAN NA take an address a client bound first-come-first-served", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 0), null);
  // A LAN DAD probe does not take it: the owner may defend it.
  guard.observe(dadNs(LAN_HOST_MAC, "2001:db8::1"), true, 1);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 2), null);
  guard.observe(na(LAN_HOST_MAC, "2001:db8::1"), true, 3);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 4), "nd_target");
  assert.equal(guard.status().fcfs, 0);
});

Deno.test("AddressGuard ignores LAN claims in gateway frames from a client's own MAC", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 0), null);
  guard.observe(na(MAC_A, "2001:db8::a"), true, 1);
  guard.observe(na(MAC_A, "2001:db8::b"), true, 1);
  assert.equal(guard.status().lan, 0);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 2), null);
});

Deno.test("AddressGuard binds a SLAAC address to the first client, refuses the second, expires it", () => {
  const guard = new AddressGuard({ fcfsIdleMs: 1000 });
  assert.equal(checkA(guard, dadNs(MAC_A, "2001:db8::a"), 0), null);
  assert.equal(guard.status().fcfs, 1);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::a"), 10), "nd_target");
  assert.equal(checkB(guard, dadNs(MAC_B, "2001:db8::a"), 10), "nd_target");
  // Each claim refreshes the binding.
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 900), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::a"), 1500), "nd_target");
  // Idle for fcfsIdleMs: the address is free again.
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::a"), 1900), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 1901), "nd_target");
});

Deno.test("AddressGuard treats an NS source with a link-layer option as a claim: nd_source", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 0), null);
  const poison = ndFrame({
    type: 135,
    src: "2001:db8::a",
    target: "2001:db8::1",
    options: [lladdrOption(1, MAC_B)],
    ethSrc: MAC_B,
  });
  assert.equal(checkB(guard, poison, 1), "nd_source");
  const rs = ndFrame({
    type: 133,
    src: "2001:db8::a",
    dst: "ff02::2",
    options: [lladdrOption(1, MAC_B)],
    ethSrc: MAC_B,
  });
  assert.equal(checkB(guard, rs, 1), "nd_source");
  // Without the option, an NS is only a question.
  const question = ndFrame({ type: 135, src: "2001:db8::a", target: "2001:db8::1", ethSrc: MAC_B });
  assert.equal(checkB(guard, question, 1), null);
});

Deno.test("AddressGuard drops a Redirect whose target option claims another's address", () => {
  const guard = new AddressGuard();
  guard.observe(na(LAN_HOST_MAC, "fe80::1"), true, 0);
  const redirect = ndFrame({
    type: 137,
    src: "fe80::1",
    dst: "2001:db8::99",
    target: "fe80::1",
    options: [lladdrOption(2, MAC_A)],
  });
  assert.equal(checkA(guard, redirect, 1), "nd_target");
});

Deno.test("AddressGuard refuses multicast and unspecified ND targets", () => {
  const guard = new AddressGuard();
  assert.equal(checkA(guard, na(MAC_A, "ff02::1"), 0), "nd_target");
  assert.equal(checkA(guard, na(MAC_A, "::"), 0), "nd_target");
  assert.equal(guard.status().fcfs, 0);
});

Deno.test("AddressGuard passes ICMPv6 ND types with a hop limit below 255: not ND", () => {
  const guard = new AddressGuard();
  guard.observe(na(LAN_HOST_MAC, "2001:db8::1"), true, 0);
  const frame = ndFrame({
    type: 136,
    src: "2001:db8::1",
    target: "2001:db8::1",
    options: [lladdrOption(2, LAN_HOST_MAC)],
    hopLimit: 64,
  });
  assert.equal(checkA(guard, frame, 1), null);
});

Deno.test("AddressGuard checks ND behind extension headers and drops fragmented ND", () => {
  const guard = new AddressGuard();
  guard.observe(na(LAN_HOST_MAC, "2001:db8::1"), true, 0);
  const hopByHop = new Uint8Array([60, 0, 1, 4, 0, 0, 0, 0]);
  const destOptions = new Uint8Array([58, 0, 1, 4, 0, 0, 0, 0]);
  const behindOptions = ndFrame({
    type: 136,
    src: "2001:db8::1",
    target: "2001:db8::1",
    options: [lladdrOption(2, MAC_A)],
    extensions: concat(hopByHop, destOptions),
    firstNextHeader: IpProtocol.HOP_BY_HOP,
  });
  assert.equal(checkA(guard, behindOptions, 1), "nd_target");
  const fragment = new Uint8Array([58, 0, 0, 1, 0, 0, 0, 7]); // offset 0, more fragments
  const fragmented = ndFrame({
    type: 136,
    src: "2001:db8::a",
    target: "2001:db8::a",
    extensions: fragment,
    firstNextHeader: IpProtocol.IPV6_FRAGMENT,
  });
  assert.equal(checkA(guard, fragmented, 1), "nd_fragmented");
});

Deno.test("AddressGuard drops ND with an option of length zero as nd_malformed", () => {
  const guard = new AddressGuard();
  const frame = ndFrame({
    type: 136,
    src: "2001:db8::a",
    target: "2001:db8::a",
    options: [new Uint8Array([2, 0, ...MAC_A])],
  });
  assert.equal(checkA(guard, frame, 0), "nd_malformed");
});

Deno.test("AddressGuard refuses FCFS claims beyond maxPerClient as nd_client_limit", () => {
  const guard = new AddressGuard({ maxPerClient: 2, fcfsIdleMs: 1000 });
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 0), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::2"), 0), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::3"), 0), "nd_client_limit");
  // Its live bindings keep working; another client is not limited by A's.
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 1), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::3"), 1), null);
  // Once a binding expires (::2, not refreshed since 0), there is room again.
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 600), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::3"), 600), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::3"), 1001), "nd_target"); // B holds ::3
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::4"), 1001), null);
});

Deno.test("AddressGuard refuses claims beyond maxBindings as nd_table_full, evicting nothing live", () => {
  const guard = new AddressGuard({ maxBindings: 3, fcfsIdleMs: 1000 });
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 0), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::2"), 500), null);
  leaseV4(guard, MAC_B, "192.168.77.102", 3600, 0); // leases count too
  assert.equal(guard.status().dhcpv4, 1);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::b"), 600), "nd_table_full");
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 600), null);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::2"), 600), null);
  assert.equal(checkB(guard, gratuitousArp(MAC_B, "192.168.77.102"), 600), null);
  // A LAN claim is not recorded either.
  guard.observe(na(LAN_HOST_MAC, "2001:db8::99"), true, 600);
  assert.equal(guard.status().lan_not_recorded, 1);
  // ::1 and ::2 refreshed at 600, so nothing expires until 1600.
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::b"), 1599), "nd_table_full");
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::b"), 1600), null);
  assert.equal(guard.status().fcfs, 1);
});

Deno.test("AddressGuard forget drops a client's leases and FCFS bindings", () => {
  const guard = new AddressGuard();
  leaseV4(guard, MAC_A, "192.168.77.101", 3600, 0);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 0), null);
  guard.forget(KEY_A);
  assert.equal(guard.status().dhcpv4, 0);
  assert.equal(guard.status().fcfs, 0);
  assert.equal(guard.status().clients, 0);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::a"), 1), null);
});

// ---- DHCPv6 snooping ---------------------------------------------------------------------------

Deno.test("AddressGuard binds DHCPv6 Reply addresses to the destination client", () => {
  const guard = new AddressGuard();
  const solicit = dhcp6Frame(false, dhcp6Message(1, []), MAC_A, parseMac("33:33:00:01:00:02"));
  assert.equal(checkA(guard, solicit, 0), null);
  const reply = dhcp6Message(7, [["2001:db8::100", 3600], ["2001:db8::200", 0xffff_ffff]]);
  guard.observe(dhcp6Frame(true, reply, SERVER_MAC, MAC_A), true, 0);
  assert.equal(guard.status().dhcpv6, 2);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::100"), 1), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::100"), 1), "nd_target");
  // The lease ends with its valid lifetime; an infinite one is capped at 7 days.
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::100"), 3_600_000), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::200"), 7 * DAY_MS - 1), "nd_target");
  // A valid lifetime of 0 ends the lease at once.
  const ended = dhcp6Message(7, [["2001:db8::200", 0]]);
  guard.observe(dhcp6Frame(true, ended, SERVER_MAC, MAC_A), true, 10);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::200"), 11), null);
});

Deno.test("AddressGuard DHCPv6 Release frees the client's addresses and not another's", () => {
  const guard = new AddressGuard();
  const solicit = dhcp6Frame(false, dhcp6Message(1, []), MAC_A, parseMac("33:33:00:01:00:02"));
  assert.equal(checkA(guard, solicit, 0), null);
  const reply = dhcp6Message(7, [["2001:db8::100", 3600]]);
  guard.observe(dhcp6Frame(true, reply, SERVER_MAC, MAC_A), true, 0);
  const release = dhcp6Message(8, [["2001:db8::100", 0]]);
  const fromB = dhcp6Frame(false, release, MAC_B, parseMac("33:33:00:01:00:02"));
  assert.equal(checkB(guard, fromB, 1), "dhcp_release");
  const fromA = dhcp6Frame(false, release, MAC_A, parseMac("33:33:00:01:00:02"));
  assert.equal(checkA(guard, fromA, 1), null);
  assert.equal(guard.status().dhcpv6, 0);
});

// ---- robustness --------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("AddressGuard never throws on truncated or random frames", () => {
  const random = prng(0x5eed);
  const guard = new AddressGuard({ maxBindings: 64, maxPerClient: 8 });
  guard.configure(KEY_A, ["192.168.77.101", "2001:db8::101"]);
  const seeds = [
    gratuitousArp(MAC_A, "192.168.77.101"),
    arpFrame({
      senderMac: MAC_A,
      senderIp: "0.0.0.0",
      targetIp: "1.2.3.4",
      vlanTags: [{ vid: 9 }],
    }),
    na(MAC_A, "2001:db8::a"),
    dadNs(MAC_A, "2001:db8::b"),
    ndFrame({ type: 137, src: "fe80::1", target: "fe80::2", options: [lladdrOption(2, MAC_A)] }),
    dhcpRequest(MAC_A),
    dhcpAck(MAC_A, "192.168.77.101", 60),
    dhcp6Frame(true, dhcp6Message(7, [["2001:db8::100", 60]]), SERVER_MAC, MAC_A),
    dhcp6Frame(false, dhcp6Message(8, [["2001:db8::100", 0]]), MAC_A, MAC_B),
  ];
  let drops = 0;
  const run = (frame: Uint8Array, now: number) => {
    if (checkA(guard, frame, now) !== null) drops++;
    guard.observe(frame, true, now);
  };
  let now = 0;
  for (const seed of seeds) {
    for (let length = 0; length <= seed.length; length++) run(seed.subarray(0, length), now++);
  }
  for (let i = 0; i < 20_000; i++) {
    const base = seeds[Math.floor(random() * seeds.length)]!;
    const frame = random() < 0.3
      ? new Uint8Array(Math.floor(random() * 120)).map(() => Math.floor(random() * 256))
      : base.slice(0, Math.floor(random() * (base.length + 1)));
    // Flip a few bytes, often in the headers where lengths and types live.
    for (let flips = Math.floor(random() * 4); flips > 0 && frame.length > 0; flips--) {
      const at = Math.floor(random() * Math.min(frame.length, random() < 0.7 ? 80 : frame.length));
      frame[at] = Math.floor(random() * 256);
    }
    run(frame, now++);
  }
  assert.ok(drops > 0, "the fuzz loop should reach the drop rules");
  const status = guard.status(now);
  assert.ok(status.fcfs! + status.dhcpv4! + status.dhcpv6! + status.lan! <= 64);
});

Deno.test("AddressGuard check passes frames that are neither ARP, ND nor DHCP", () => {
  const guard = new AddressGuard();
  const udp = encodeUdp({
    src: parseIpv4("192.168.77.101"),
    dst: parseIpv4("192.168.77.1"),
    srcPort: 5000,
    dstPort: 53,
    payload: new Uint8Array(20),
  });
  const ip = encodeIpv4({
    src: parseIpv4("192.168.77.101"),
    dst: parseIpv4("192.168.77.1"),
    protocol: IpProtocol.UDP,
    ttl: 64,
    payload: udp,
  });
  const frame = encodeEthernet({
    dst: SERVER_MAC,
    src: MAC_A,
    etherType: EtherType.IPV4,
    payload: ip,
  });
  assert.equal(checkA(guard, frame, 0), null);
  assert.equal(checkA(guard, new Uint8Array(0), 0), null);
});

Deno.test("AddressGuard rejects limits that are not positive integers", () => {
  assert.throws(() => new AddressGuard({ maxBindings: 0 }), RangeError);
  assert.throws(() => new AddressGuard({ fcfsIdleMs: 1.5 }), RangeError);
});

Deno.test("AddressGuard lists bindings with text addresses", () => {
  const guard = new AddressGuard();
  guard.configure(KEY_A, ["192.168.77.101"]);
  guard.observe(na(LAN_HOST_MAC, "2001:db8::1"), true, 0);
  assert.deepEqual(guard.bindings(), [
    { address: "192.168.77.101", kind: "configured", client: KEY_A, expires: null },
    { address: "2001:db8::1", kind: "lan", client: null, expires: 3_600_000 },
  ]);
});

Deno.test("AddressGuard keeps LAN bindings to their share: a LAN flood cannot crowd out the clients", () => {
  const guard = new AddressGuard({ maxBindings: 4 });
  for (let i = 1; i <= 10; i++) guard.observe(na(LAN_HOST_MAC, `2001:db8::${i}`), true, 0);
  assert.equal(guard.status().lan, 2, "half of the table");
  assert.equal(guard.status().lan_not_recorded, 8);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::a"), 0), null);
  assert.equal(checkB(guard, na(MAC_B, "2001:db8::b"), 0), null);
  assert.equal(guard.status().fcfs, 2);
  assert.equal(checkA(guard, na(MAC_A, "2001:db8::1"), 0), "nd_target", "the LAN's stay the LAN's");
  assert.throws(() => new AddressGuard({ maxLanBindings: 0 }), RangeError);
});
