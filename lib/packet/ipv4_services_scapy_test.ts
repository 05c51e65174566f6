import assert from "node:assert/strict";
import {
  createArpRequest,
  createDhcpDiscover,
  createIcmpEchoRequest,
  decodeArpFrame,
  decodeDhcpFrame,
  decodeIcmpv4Frame,
  DhcpMessageType,
  formatIpv4,
  formatMac,
  isMalformed,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { scapyFrames } from "../../testing/scapy.ts";
import {
  GATEWAY_IP,
  GATEWAY_MAC as GATEWAY,
  GUEST_IP,
  GUEST_MAC as GUEST,
} from "../../testing/ipv4_guest.ts";

// Scapy builds the frames independently of netkit; one hex line per frame.
const SCAPY_FRAMES = `
from scapy.all import Ether, ARP, IP, UDP, ICMP, BOOTP, DHCP, raw, mac2str
g = "52:54:00:12:34:01"
arp = Ether(src=g, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=g, psrc="169.254.0.5", pdst="169.254.0.1")
echo = (Ether(src=g, dst="02:00:00:00:00:01")
        / IP(src="169.254.0.5", dst="169.254.0.1", id=0, ttl=64)
        / ICMP(type=8, id=0x1234, seq=7) / (b"\\x00" * 56))
discover = (Ether(src=g, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255", id=0) / UDP(sport=68, dport=67)
            / BOOTP(chaddr=mac2str(g), xid=0x12345678, flags=0x8000)
            / DHCP(options=[("message-type", "discover"), ("param_req_list", [1, 3, 6, 15, 26, 121]),
                            ("hostname", b"vm0"),
                            ("classless_static_routes",
                             ["169.254.0.1/32:0.0.0.0", "10.128.0.0/9:169.254.0.1", "0.0.0.0/0:169.254.0.1"]),
                            "end"]))
for frame in (arp, echo, discover):
    print(raw(frame).hex())
`;

/** `frame` zero-padded to the 60-byte Ethernet minimum, as our builders send it. */
function padded(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(frame.length, 60));
  out.set(frame);
  return out;
}

Deno.test({
  name: "scapy's ARP request and echo request are byte for byte ours; its DISCOVER decodes",
  ignore: needs("scapy"),
  fn() {
    const [arp, echo, discover] = scapyFrames(SCAPY_FRAMES) as [Uint8Array, Uint8Array, Uint8Array];
    assert.deepEqual(
      padded(arp),
      createArpRequest({ srcMac: GUEST, srcIp: GUEST_IP, targetIp: GATEWAY_IP }),
    );
    assert.deepEqual(
      padded(echo),
      createIcmpEchoRequest({
        srcMac: GUEST,
        dstMac: GATEWAY,
        src: GUEST_IP,
        dst: GATEWAY_IP,
        identifier: 0x1234,
        sequence: 7,
        data: new Uint8Array(56),
      }),
    );

    const arpFrame = decodeArpFrame(arp);
    assert.ok(!isMalformed(arpFrame));
    assert.equal(formatIpv4(arpFrame.arp.targetIp), "169.254.0.1");
    const echoFrame = decodeIcmpv4Frame(echo);
    assert.ok(!isMalformed(echoFrame) && echoFrame.icmp.kind === "echo");
    assert.deepEqual([echoFrame.icmp.identifier, echoFrame.icmp.sequence], [0x1234, 7]);

    const frame = decodeDhcpFrame(discover);
    assert.ok(!isMalformed(frame), String(frame));
    const { dhcp } = frame;
    assert.equal(dhcp.xid, 0x12345678);
    assert.ok(dhcp.broadcast);
    assert.equal(formatMac(dhcp.chaddr), "52:54:00:12:34:01");
    assert.equal(dhcp.options.messageType, DhcpMessageType.DISCOVER);
    assert.deepEqual(dhcp.options.parameterRequestList, [1, 3, 6, 15, 26, 121]);
    assert.equal(dhcp.options.hostName, "vm0");
    assert.deepEqual(
      dhcp.options.classlessRoutes?.map((route) =>
        `${formatIpv4(route.destination)}/${route.prefixLength}:${formatIpv4(route.router)}`
      ),
      ["169.254.0.1/32:0.0.0.0", "10.128.0.0/9:169.254.0.1", "0.0.0.0/0:169.254.0.1"],
    );

    // Scapy does not pad BOOTP to 300 bytes; with the same options ours differs only by that.
    const ours = createDhcpDiscover({
      clientMac: GUEST,
      xid: 0x12345678,
      broadcast: true,
      options: { hostName: "vm0", classlessRoutes: dhcp.options.classlessRoutes! },
    });
    const oursDecoded = decodeDhcpFrame(ours);
    assert.ok(!isMalformed(oursDecoded));
    assert.deepEqual(oursDecoded.dhcp.options, dhcp.options);
  },
});
