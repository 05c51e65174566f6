/**
 * Cross-checks lib/packet/icmpv6.ts and dhcpv6.ts against scapy, an independent builder: frames
 * scapy builds from the same fields must equal ours byte for byte (checksums included), and
 * frames only scapy builds (a Reply with DUID-LLT, IA_PD and status codes) must decode to the
 * values scapy was given.
 */

import assert from "node:assert/strict";
import {
  createDhcpv6Request,
  createDhcpv6Solicit,
  createNeighborSolicitation,
  createRouterAdvertisement,
  createRouterSolicitation,
  decodeDhcpv6Frame,
  decodeDuid,
  decodeIcmpv6Frame,
  findOfKind,
  formatIpv6,
  formatMac,
  generateDuidLl,
  isMalformed,
  parseIpv6,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { scapyFrames } from "../../testing/scapy.ts";
import { hex } from "../../testing/bytes.ts";
import {
  GATEWAY,
  GATEWAY_MAC,
  gatewayNeighborAdvertisement,
  GUEST_MAC,
  guestEchoRequest,
  slaacOptions,
} from "../../testing/ipv6_guest.ts";

// Scapy builds the frames from the fields alone; one hex line per frame.
const SCAPY_FRAMES = `
from scapy.all import *
g, gw = "52:54:00:12:34:01", "02:00:00:00:00:01"
ll = "fe80::5054:ff:fe12:3401"
rs = Ether(src=g, dst="33:33:00:00:00:02") / IPv6(src=ll, dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=g)
ra = (Ether(src=gw, dst="33:33:00:00:00:01") / IPv6(src="fe80::1", dst="ff02::1", hlim=255)
      / ICMPv6ND_RA(chlim=64, M=1, O=0, prf=0, routerlifetime=1800) / ICMPv6NDOptSrcLLAddr(lladdr=gw)
      / ICMPv6NDOptMTU(mtu=1500)
      / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=86400, preferredlifetime=14400, prefix="2001:db8:1::")
      / ICMPv6NDOptRDNSS(lifetime=600, dns=["2001:db8::53", "2001:db8::54"]))
ns = (Ether(src=g, dst="33:33:ff:00:00:01") / IPv6(src=ll, dst="ff02::1:ff00:1", hlim=255)
      / ICMPv6ND_NS(tgt="fe80::1") / ICMPv6NDOptSrcLLAddr(lladdr=g))
na = (Ether(src=gw, dst=g) / IPv6(src="fe80::1", dst=ll, hlim=255)
      / ICMPv6ND_NA(R=1, S=1, O=1, tgt="fe80::1") / ICMPv6NDOptDstLLAddr(lladdr=gw))
echo = (Ether(src=g, dst=gw) / IPv6(src=ll, dst="fe80::1", hlim=64)
        / ICMPv6EchoRequest(id=0x1234, seq=7, data=b"\\x00" * 56))
client = DHCP6OptClientId(duid=DUID_LL(lladdr=g))
solicit = (Ether(src=g, dst="33:33:00:01:00:02") / IPv6(src=ll, dst="ff02::1:2", hlim=1) / UDP(sport=546, dport=547)
           / DHCP6_Solicit(trid=0xabcdef) / client / DHCP6OptElapsedTime(elapsedtime=0)
           / DHCP6OptOptReq(reqopts=[23]) / DHCP6OptIA_NA(iaid=1, T1=0, T2=0) / DHCP6OptRapidCommit())
request = (Ether(src=g, dst="33:33:00:01:00:02") / IPv6(src=ll, dst="ff02::1:2", hlim=1) / UDP(sport=546, dport=547)
           / DHCP6_Request(trid=2) / client / DHCP6OptElapsedTime(elapsedtime=0)
           / DHCP6OptServerId(duid=DUID_LL(lladdr=gw)) / DHCP6OptOptReq(reqopts=[23])
           / DHCP6OptIA_NA(iaid=7, T1=0, T2=0, ianaopts=[DHCP6OptIAAddress(addr="2001:db8::5", preflft=0, validlft=0)]))
reply = (Ether(src=gw, dst=g) / IPv6(src="fe80::1", dst=ll) / UDP(sport=547, dport=546)
         / DHCP6_Reply(trid=2) / DHCP6OptServerId(duid=DUID_LLT(lladdr=gw, timeval=12345)) / client
         / DHCP6OptIA_NA(iaid=7, T1=1800, T2=2880, ianaopts=[DHCP6OptIAAddress(addr="2001:db8::5", preflft=3600, validlft=7200,
                                                                                   iaaddropts=[DHCP6OptStatusCode(statuscode=0, statusmsg="ok")])])
         / DHCP6OptIA_PD(iaid=9, T1=100, T2=200, iapdopt=[DHCP6OptIAPrefix(prefix="2001:db8:100::", plen=56, preflft=10, validlft=20)])
         / DHCP6OptDNSServers(dnsservers=["2001:db8::53"]) / DHCP6OptPref(prefval=255))
for frame in (rs, ra, ns, na, echo, solicit, request, reply):
    print(raw(frame).hex())
`;

Deno.test({
  name: "scapy builds our ICMPv6 and DHCPv6 frames byte for byte, and its Reply decodes",
  ignore: needs("scapy"),
  fn() {
    const [rs, ra, ns, na, echo, solicit, request, reply] = scapyFrames(
      SCAPY_FRAMES,
    ) as Uint8Array[];
    const ours = [
      createRouterSolicitation({ srcMac: GUEST_MAC }),
      createRouterAdvertisement({
        srcMac: GATEWAY_MAC,
        src: GATEWAY,
        managed: true,
        options: slaacOptions(),
      }),
      createNeighborSolicitation({ srcMac: GUEST_MAC, target: GATEWAY }),
      gatewayNeighborAdvertisement(),
      guestEchoRequest(),
      createDhcpv6Solicit({ mac: GUEST_MAC, transactionId: 0xabcdef, iaid: 1, rapidCommit: true }),
      createDhcpv6Request({
        mac: GUEST_MAC,
        transactionId: 2,
        serverDuid: generateDuidLl(GATEWAY_MAC),
        address: parseIpv6("2001:db8::5"),
        iaid: 7,
      }),
    ];
    const theirs = [rs, ra, ns, na, echo, solicit, request];
    ours.forEach((frame, i) => assert.equal(hex(frame), hex(theirs[i]!), `frame ${i}`));
    for (const frame of [rs, ra, ns, na, echo]) {
      assert.ok(!isMalformed(decodeIcmpv6Frame(frame!)));
    }

    const decoded = decodeDhcpv6Frame(reply!);
    if (isMalformed(decoded)) assert.fail(decoded.message);
    const message = decoded.dhcpv6;
    assert.ok(message.kind === "client_server");
    assert.deepEqual([message.messageType, message.transactionId], [7, 2]);
    const serverId = decodeDuid(findOfKind(message.options, "server_id")!.duid);
    assert.ok(!isMalformed(serverId) && serverId.kind === "llt");
    assert.deepEqual([serverId.time, formatMac(serverId.linkLayerAddress)], [
      12345,
      "02:00:00:00:00:01",
    ]);
    const ia = findOfKind(message.options, "ia_na")!;
    assert.deepEqual([ia.iaid, ia.t1, ia.t2], [7, 1800, 2880]);
    const address = findOfKind(ia.options, "iaaddr")!;
    assert.deepEqual(
      [formatIpv6(address.address), address.preferredLifetime, address.validLifetime],
      ["2001:db8::5", 3600, 7200],
    );
    const status = findOfKind(address.options, "status_code")!;
    assert.deepEqual([status.status, status.message], [0, "ok"]);
    const pd = findOfKind(message.options, "ia_pd")!;
    const prefix = findOfKind(pd.options, "iaprefix")!;
    assert.deepEqual(
      [pd.iaid, formatIpv6(prefix.prefix), prefix.prefixLength, prefix.validLifetime],
      [9, "2001:db8:100::", 56, 20],
    );
    assert.deepEqual(
      findOfKind(message.options, "dns_servers")!.servers.map((s) => formatIpv6(s)),
      ["2001:db8::53"],
    );
    assert.equal(findOfKind(message.options, "preference")!.preference, 255);
  },
});
