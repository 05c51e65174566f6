import assert from "node:assert/strict";
import {
  ArpOperation,
  createArpAnnouncement,
  createArpProbe,
  createArpReply,
  createArpRequest,
  createDhcpDecline,
  createDhcpDiscover,
  createDhcpInform,
  createDhcpRelease,
  createDhcpRequest,
  createIcmpDestinationUnreachable,
  createIcmpEchoReply,
  createIcmpEchoRequest,
  createIcmpTimeExceeded,
  DhcpMessageType,
  encodeDhcpFrame,
  encodeIpv4,
  encodeUdp,
  IpProtocol,
  parseIpv4,
  UnreachableCode,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { tsharkFields, withPcapOf } from "../../testing/tshark.ts";
import {
  GATEWAY_IP,
  GATEWAY_MAC as GATEWAY,
  GUEST_IP,
  GUEST_MAC as GUEST,
} from "../../testing/ipv4_guest.ts";

const FAR = parseIpv4("198.51.100.9");
const ZERO = parseIpv4("0.0.0.0");
const SERVER = { mac: GATEWAY, ip: GATEWAY_IP };

const invoking = encodeIpv4({
  src: GUEST_IP,
  dst: FAR,
  protocol: IpProtocol.UDP,
  ttl: 1,
  dontFragment: true,
  payload: encodeUdp({
    srcPort: 40000,
    dstPort: 33434,
    src: GUEST_IP,
    dst: FAR,
    payload: new Uint8Array(1400),
  }),
});
const ERROR = { srcMac: GATEWAY, dstMac: GUEST, src: GATEWAY_IP, invoking };
const ECHO = {
  srcMac: GUEST,
  dstMac: GATEWAY,
  src: GUEST_IP,
  dst: GATEWAY_IP,
  identifier: 0x1234,
  sequence: 7,
  data: new Uint8Array(56),
};

/** What tshark reads in the packet an ICMP error quotes. */
const QUOTED = {
  // Ours and the quoted header's: both valid.
  "ip.checksum.status": "1;1",
  "udp.dstport": "33434",
  // The quoted datagram is cut short: its checksum cannot be checked.
  "udp.checksum.status": "2",
  // Wireshark's note on the quoted packet's TTL, not on ours: a note, not a warning.
  "_ws.expert.message": '"Time To Live" only 1',
};

/** The BOOTP addresses a client's message leaves zero. */
const CLIENT = {
  "udp.dstport": "67",
  "dhcp.ip.client": "0.0.0.0",
  "dhcp.ip.your": "0.0.0.0",
  "dhcp.ip.server": "0.0.0.0",
};

/** Every builder, with what tshark must read in it. Fields not named must be empty. */
const CASES: [string, Uint8Array, Record<string, string>][] = [
  ["ARP request", createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }), {
    "arp.opcode": "1",
    "arp.src.hw_mac": "52:54:00:12:34:01",
    "arp.src.proto_ipv4": "169.254.0.5",
    "arp.dst.hw_mac": "00:00:00:00:00:00",
    "arp.dst.proto_ipv4": "169.254.0.1",
  }],
  [
    "ARP reply",
    createArpReply({ srcMac: GATEWAY, srcIp: GATEWAY_IP, dstMac: GUEST, dstIp: GUEST_IP }),
    {
      "arp.opcode": "2",
      "arp.src.hw_mac": "02:00:00:00:00:01",
      "arp.src.proto_ipv4": "169.254.0.1",
      "arp.dst.hw_mac": "52:54:00:12:34:01",
      "arp.dst.proto_ipv4": "169.254.0.5",
    },
  ],
  ["ARP probe", createArpProbe({ srcMac: GUEST, targetIp: GUEST_IP }), {
    "arp.opcode": "1",
    "arp.src.hw_mac": "52:54:00:12:34:01",
    "arp.src.proto_ipv4": "0.0.0.0",
    "arp.dst.hw_mac": "00:00:00:00:00:00",
    "arp.dst.proto_ipv4": "169.254.0.5",
    "arp.isprobe": "1",
  }],
  ["ARP announcement", createArpAnnouncement({ srcMac: GUEST, ip: GUEST_IP }), {
    "arp.opcode": "1",
    "arp.src.hw_mac": "52:54:00:12:34:01",
    "arp.src.proto_ipv4": "169.254.0.5",
    "arp.dst.hw_mac": "00:00:00:00:00:00",
    "arp.dst.proto_ipv4": "169.254.0.5",
    "arp.isgratuitous": "1",
    "arp.isannouncement": "1",
  }],
  [
    "gratuitous ARP reply",
    createArpAnnouncement({ srcMac: GUEST, ip: GUEST_IP, operation: ArpOperation.REPLY }),
    {
      "arp.opcode": "2",
      "arp.src.hw_mac": "52:54:00:12:34:01",
      "arp.src.proto_ipv4": "169.254.0.5",
      "arp.dst.hw_mac": "52:54:00:12:34:01",
      "arp.dst.proto_ipv4": "169.254.0.5",
      "arp.isgratuitous": "1",
    },
  ],
  ["echo request", createIcmpEchoRequest(ECHO), {
    "ip.checksum.status": "1",
    "icmp.type": "8",
    "icmp.code": "0",
    "icmp.checksum.status": "1",
    "icmp.ident": "4660",
    "icmp.seq": "7",
  }],
  [
    "echo reply",
    createIcmpEchoReply({
      ...ECHO,
      srcMac: GATEWAY,
      dstMac: GUEST,
      src: GATEWAY_IP,
      dst: GUEST_IP,
    }),
    {
      "ip.checksum.status": "1",
      "icmp.type": "0",
      "icmp.code": "0",
      "icmp.checksum.status": "1",
      "icmp.ident": "4660",
      "icmp.seq": "7",
    },
  ],
  [
    "fragmentation needed",
    createIcmpDestinationUnreachable({
      ...ERROR,
      code: UnreachableCode.FRAGMENTATION_NEEDED,
      nextHopMtu: 1400,
    }),
    {
      "icmp.type": "3",
      "icmp.code": "4",
      "icmp.checksum.status": "1",
      "icmp.mtu": "1400",
      ...QUOTED,
    },
  ],
  ["time exceeded, RFC 1812 quote", createIcmpTimeExceeded({ ...ERROR, quote: "rfc1812" }), {
    "icmp.type": "11",
    "icmp.code": "0",
    "icmp.checksum.status": "1",
    ...QUOTED,
  }],
  ["DHCP discover", createDhcpDiscover({ clientMac: GUEST, xid: 0x12345678, broadcast: true }), {
    "ip.checksum.status": "1",
    "udp.checksum.status": "1",
    ...CLIENT,
    "dhcp.type": "1",
    "dhcp.id": "0x12345678",
    "dhcp.flags.bc": "1",
    "dhcp.hw.mac_addr": "52:54:00:12:34:01",
    "dhcp.option.dhcp": "1",
    "dhcp.option.request_list_item": "1;3;6;15;26;121",
  }],
  [
    "DHCP request",
    createDhcpRequest({
      clientMac: GUEST,
      xid: 0x12345678,
      requestedIp: GUEST_IP,
      serverId: GATEWAY_IP,
      options: { hostName: "vm0", clientId: Uint8Array.of(1, ...GUEST), maxMessageSize: 1500 },
    }),
    {
      "ip.checksum.status": "1",
      "udp.checksum.status": "1",
      ...CLIENT,
      "dhcp.type": "1",
      "dhcp.id": "0x12345678",
      "dhcp.flags.bc": "0",
      // chaddr, and option 61's type 1 identifier.
      "dhcp.hw.mac_addr": "52:54:00:12:34:01;52:54:00:12:34:01",
      "dhcp.option.dhcp": "3",
      "dhcp.option.dhcp_server_id": "169.254.0.1",
      "dhcp.option.requested_ip_address": "169.254.0.5",
      "dhcp.option.request_list_item": "1;3;6;15;26;121",
      "dhcp.option.hostname": "vm0",
      "dhcp.option.dhcp_max_message_size": "1500",
    },
  ],
  [
    "DHCP release",
    createDhcpRelease({ clientMac: GUEST, xid: 2, ciaddr: GUEST_IP, server: SERVER }),
    {
      "ip.checksum.status": "1",
      "udp.checksum.status": "1",
      ...CLIENT,
      "dhcp.type": "1",
      "dhcp.id": "0x00000002",
      "dhcp.flags.bc": "0",
      "dhcp.hw.mac_addr": "52:54:00:12:34:01",
      "dhcp.ip.client": "169.254.0.5",
      "dhcp.option.dhcp": "7",
      "dhcp.option.dhcp_server_id": "169.254.0.1",
    },
  ],
  [
    "DHCP decline",
    createDhcpDecline({ clientMac: GUEST, xid: 3, requestedIp: GUEST_IP, serverId: GATEWAY_IP }),
    {
      "ip.checksum.status": "1",
      "udp.checksum.status": "1",
      ...CLIENT,
      "dhcp.type": "1",
      "dhcp.id": "0x00000003",
      "dhcp.flags.bc": "0",
      "dhcp.hw.mac_addr": "52:54:00:12:34:01",
      "dhcp.option.dhcp": "4",
      "dhcp.option.dhcp_server_id": "169.254.0.1",
      "dhcp.option.requested_ip_address": "169.254.0.5",
    },
  ],
  ["DHCP inform", createDhcpInform({ clientMac: GUEST, xid: 4, ciaddr: GUEST_IP }), {
    "ip.checksum.status": "1",
    "udp.checksum.status": "1",
    ...CLIENT,
    "dhcp.type": "1",
    "dhcp.id": "0x00000004",
    "dhcp.flags.bc": "0",
    "dhcp.hw.mac_addr": "52:54:00:12:34:01",
    "dhcp.ip.client": "169.254.0.5",
    "dhcp.option.dhcp": "8",
    "dhcp.option.request_list_item": "1;3;6;15;26;121",
  }],
  [
    "DHCP ACK, linklocal profile",
    encodeDhcpFrame({
      srcMac: GATEWAY,
      dstMac: GUEST,
      src: GATEWAY_IP,
      dst: GUEST_IP,
      srcPort: 67,
      dstPort: 68,
      message: {
        op: 2,
        xid: 0x12345678,
        chaddr: GUEST,
        yiaddr: GUEST_IP,
        siaddr: GATEWAY_IP,
        options: {
          messageType: DhcpMessageType.ACK,
          serverId: GATEWAY_IP,
          leaseTime: 86400,
          renewalTime: 43200,
          rebindingTime: 75600,
          subnetMask: parseIpv4("255.255.255.255"),
          routers: [GATEWAY_IP],
          dnsServers: [parseIpv4("192.0.2.53"), parseIpv4("198.51.100.53")],
          domainName: "example.test",
          interfaceMtu: 1450,
          classlessRoutes: [
            { destination: GATEWAY_IP, prefixLength: 32, router: ZERO },
            { destination: parseIpv4("10.128.0.0"), prefixLength: 9, router: GATEWAY_IP },
            { destination: parseIpv4("198.51.100.0"), prefixLength: 23, router: GATEWAY_IP },
            { destination: ZERO, prefixLength: 0, router: GATEWAY_IP },
          ],
          msClasslessRoutes: [{ destination: ZERO, prefixLength: 0, router: GATEWAY_IP }],
        },
      },
    }),
    {
      "ip.checksum.status": "1",
      "udp.checksum.status": "1",
      "udp.dstport": "68",
      "dhcp.ip.client": "0.0.0.0",
      "dhcp.type": "2",
      "dhcp.id": "0x12345678",
      "dhcp.flags.bc": "0",
      "dhcp.hw.mac_addr": "52:54:00:12:34:01",
      "dhcp.ip.your": "169.254.0.5",
      "dhcp.ip.server": "169.254.0.1",
      "dhcp.option.dhcp": "5",
      "dhcp.option.dhcp_server_id": "169.254.0.1",
      "dhcp.option.ip_address_lease_time": "86400",
      "dhcp.option.renewal_time_value": "43200",
      "dhcp.option.rebinding_time_value": "75600",
      "dhcp.option.subnet_mask": "255.255.255.255",
      "dhcp.option.router": "169.254.0.1",
      "dhcp.option.domain_name_server": "192.0.2.53;198.51.100.53",
      "dhcp.option.domain_name": "example.test",
      "dhcp.option.interface_mtu": "1450",
      // Option 121's four routes, then 249's one, each as RFC 3442 encodes it.
      "dhcp.option.classless_static_route":
        "20a9fe000100000000;090a80a9fe0001;17c63364a9fe0001;00a9fe0001;00a9fe0001",
    },
  ],
];

const FIELDS = [
  ...new Set(CASES.flatMap(([, , want]) => Object.keys(want))),
  "_ws.malformed",
  "_ws.expert.message",
];

Deno.test({
  name:
    "tshark reads every ARP, ICMPv4 and DHCPv4 builder's frame as built, checksums valid, no warnings",
  ignore: needs("tshark"),
  fn() {
    withPcapOf(CASES.map(([, frame]) => frame), (path) => {
      const rows = tsharkFields(path, FIELDS, {
        preferences: ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"],
      });
      assert.equal(rows.length, CASES.length);
      rows.forEach((values, i) => {
        const [name, , want] = CASES[i]!;
        const got = Object.fromEntries(FIELDS.map((field, n) => [field, values[n] ?? ""]));
        const expected = Object.fromEntries(FIELDS.map((field) => [field, want[field] ?? ""]));
        assert.deepEqual(got, expected, name);
      });
    });
  },
});
