/**
 * Proves Wireshark's dissectors read what lib/packet/icmpv6.ts and dhcpv6.ts write: every frame
 * builder's output, and messages carrying every option, are written to a capture and decoded by
 * tshark, with no malformed packet or expert warning, good checksums, and the field values we
 * put in. tshark 4.0 always verifies the ICMPv6 checksum (it has no preference to switch it);
 * the UDP checksum of DHCPv6 frames is checked with `udp.check_checksum:TRUE`. A frame with a
 * deliberately wrong checksum is the control that proves the check can fail.
 */

import assert from "node:assert/strict";
import {
  createDhcpv6Request,
  createDhcpv6Solicit,
  createIcmpv6Error,
  createNeighborSolicitation,
  createRouterAdvertisement,
  createRouterSolicitation,
  Dhcpv6MessageType,
  encodeDhcpv6Frame,
  encodeDuid,
  generateDuidLl,
  IPV6_UNSPECIFIED,
  parseIpv6,
} from "./mod.ts";
import { needs } from "../../tests/skip.ts";
import { tsharkFields, withPcapOf } from "../../testing/tshark.ts";
import {
  GATEWAY,
  GATEWAY_MAC,
  gatewayNeighborAdvertisement,
  GUEST,
  GUEST_MAC,
  guestEchoRequest,
  oversizedPacket,
  slaacOptions,
} from "../../testing/ipv6_guest.ts";

/** Runs tshark over `path` with `fields`; one record per frame, occurrences joined by `;`. */
function records(path: string, fields: string[]): Record<string, string>[] {
  const all = [...fields, "_ws.malformed", "_ws.expert.message"];
  return tsharkFields(path, all, { preferences: ["udp.check_checksum:TRUE"] }).map((row) =>
    Object.fromEntries(all.map((field, i) => [field, row[i] ?? ""]))
  );
}

/** Asserts tshark saw no malformed frame and raised no expert message. */
function assertClean(record: Record<string, string>, what: string): void {
  assert.equal(record["_ws.malformed"], "", `${what}: malformed`);
  assert.equal(record["_ws.expert.message"], "", `${what}: expert message`);
}

const ICMPV6_FIELDS = [
  "ipv6.hlim",
  "ipv6.src",
  "ipv6.dst",
  "icmpv6.type",
  "icmpv6.checksum.status",
  "icmpv6.nd.ra.cur_hop_limit",
  "icmpv6.nd.ra.flag.m",
  "icmpv6.nd.ra.flag.o",
  "icmpv6.nd.ra.router_lifetime",
  "icmpv6.nd.ra.reachable_time",
  "icmpv6.nd.ra.retrans_timer",
  "icmpv6.opt.linkaddr",
  "icmpv6.opt.prefix",
  "icmpv6.opt.prefix.length",
  "icmpv6.opt.prefix.flag.l",
  "icmpv6.opt.prefix.flag.a",
  "icmpv6.opt.prefix.valid_lifetime",
  "icmpv6.opt.prefix.preferred_lifetime",
  "icmpv6.opt.mtu",
  "icmpv6.opt.rdnss.lifetime",
  "icmpv6.opt.rdnss",
  "icmpv6.nd.ns.target_address",
  "icmpv6.nd.na.target_address",
  "icmpv6.nd.na.flag.r",
  "icmpv6.nd.na.flag.s",
  "icmpv6.nd.na.flag.o",
  "icmpv6.echo.identifier",
  "icmpv6.echo.sequence_number",
  "icmpv6.mtu",
  "frame.len",
];

Deno.test({
  name: "tshark reads every ICMPv6 builder's frame as built, with a good checksum",
  ignore: needs("tshark"),
  fn() {
    const offending = oversizedPacket();
    const frames = [
      createRouterSolicitation({ srcMac: GUEST_MAC }),
      createRouterSolicitation({ srcMac: GUEST_MAC, src: IPV6_UNSPECIFIED }),
      createRouterAdvertisement({
        srcMac: GATEWAY_MAC,
        src: GATEWAY,
        managed: true,
        other: false,
        routerLifetime: 9000,
        reachableTime: 30000,
        retransTimer: 1000,
        options: [...slaacOptions(), { kind: "raw", type: 31, body: new Uint8Array(6) }],
      }),
      createNeighborSolicitation({ srcMac: GUEST_MAC, target: GATEWAY }),
      createNeighborSolicitation({ srcMac: GUEST_MAC, src: IPV6_UNSPECIFIED, target: GUEST }),
      gatewayNeighborAdvertisement(),
      guestEchoRequest(),
      createIcmpv6Error({
        srcMac: GATEWAY_MAC,
        dstMac: GUEST_MAC,
        src: parseIpv6("2001:db8::1"),
        kind: "packet_too_big",
        parameter: 1280,
        invoking: offending,
      }),
    ];
    const control = frames[6]!.slice();
    control[14 + 40 + 2] = control[14 + 40 + 2]! ^ 0xff;
    withPcapOf([...frames, control], (path) => {
      const [rs, rsAnonymous, ra, ns, dad, na, echo, tooBig, bad] = records(path, ICMPV6_FIELDS);
      const all = { rs, rsAnonymous, ra, ns, dad, na, echo, tooBig };
      for (const [what, record] of Object.entries(all)) {
        assertClean(record!, what);
        assert.equal(record!["icmpv6.checksum.status"]!.split(";")[0], "1", `${what}: checksum`);
      }
      assert.deepEqual(
        [rs!["ipv6.hlim"], rs!["ipv6.dst"], rs!["icmpv6.type"], rs!["icmpv6.opt.linkaddr"]],
        ["255", "ff02::2", "133", "52:54:00:12:34:01"],
      );
      assert.deepEqual([rsAnonymous!["ipv6.src"], rsAnonymous!["icmpv6.opt.linkaddr"]], ["::", ""]);
      assert.deepEqual(
        [
          ra!["ipv6.hlim"],
          ra!["ipv6.dst"],
          ra!["icmpv6.nd.ra.cur_hop_limit"],
          ra!["icmpv6.nd.ra.flag.m"],
          ra!["icmpv6.nd.ra.flag.o"],
          ra!["icmpv6.nd.ra.router_lifetime"],
          ra!["icmpv6.nd.ra.reachable_time"],
          ra!["icmpv6.nd.ra.retrans_timer"],
          ra!["icmpv6.opt.linkaddr"],
          ra!["icmpv6.opt.mtu"],
          ra!["icmpv6.opt.prefix"],
          ra!["icmpv6.opt.prefix.length"],
          ra!["icmpv6.opt.prefix.flag.l"],
          ra!["icmpv6.opt.prefix.flag.a"],
          ra!["icmpv6.opt.prefix.valid_lifetime"],
          ra!["icmpv6.opt.prefix.preferred_lifetime"],
          ra!["icmpv6.opt.rdnss.lifetime"],
          ra!["icmpv6.opt.rdnss"],
        ],
        [
          "255",
          "ff02::1",
          "64",
          "1",
          "0",
          "9000",
          "30000",
          "1000",
          "02:00:00:00:00:01",
          "1500",
          "2001:db8:1::",
          "64",
          "1",
          "1",
          "86400",
          "14400",
          "600",
          "2001:db8::53;2001:db8::54",
        ],
      );
      assert.deepEqual(
        [ns!["ipv6.dst"], ns!["icmpv6.nd.ns.target_address"], ns!["icmpv6.opt.linkaddr"]],
        ["ff02::1:ff00:1", "fe80::1", "52:54:00:12:34:01"],
      );
      assert.deepEqual(
        [dad!["ipv6.src"], dad!["ipv6.dst"], dad!["icmpv6.opt.linkaddr"], dad!["ipv6.hlim"]],
        ["::", "ff02::1:ff12:3401", "", "255"],
      );
      assert.deepEqual(
        [
          na!["icmpv6.nd.na.flag.r"],
          na!["icmpv6.nd.na.flag.s"],
          na!["icmpv6.nd.na.flag.o"],
          na!["icmpv6.nd.na.target_address"],
          na!["icmpv6.opt.linkaddr"],
        ],
        ["1", "1", "1", "fe80::1", "02:00:00:00:00:01"],
      );
      assert.deepEqual(
        [echo!["icmpv6.echo.identifier"], echo!["icmpv6.echo.sequence_number"]],
        ["0x1234", "7"],
      );
      assert.deepEqual(
        [tooBig!["icmpv6.type"]!.split(";")[0], tooBig!["icmpv6.mtu"], tooBig!["frame.len"]],
        ["2", "1280", String(14 + 1280)],
      );
      // The control: a wrong checksum is reported, so the status above means something.
      assert.equal(bad!["icmpv6.checksum.status"], "0");
      assert.notEqual(bad!["_ws.expert.message"], "");
    });
  },
});

const DHCPV6_FIELDS = [
  "udp.srcport",
  "udp.dstport",
  "udp.checksum.status",
  "ipv6.dst",
  "dhcpv6.msgtype",
  "dhcpv6.xid",
  "dhcpv6.duid.type",
  "dhcpv6.duidll.link_layer_addr",
  "dhcpv6.duidllt.link_layer_addr",
  "dhcpv6.duid.bytes",
  "dhcpv6.duiden.enterprise",
  "dhcpv6.duiduuid.bytes",
  "dhcpv6.iaid",
  "dhcpv6.iaid.t1",
  "dhcpv6.iaid.t2",
  "dhcpv6.iaaddr.ip",
  "dhcpv6.iaaddr.pref_lifetime",
  "dhcpv6.iaaddr.valid_lifetime",
  "dhcpv6.requested_option_code",
  "dhcpv6.elapsed_time",
  "dhcpv6.status_code",
  "dhcpv6.status_msg",
  "dhcpv6.dns_server",
  "dhcpv6.iaprefix.pref_addr",
  "dhcpv6.iaprefix.pref_len",
  "dhcpv6.option.type",
];

Deno.test({
  name: "tshark reads DHCPv6 Solicit, Request and a Reply with every option as built",
  ignore: needs("tshark"),
  fn() {
    const serverDuid = encodeDuid({
      kind: "llt",
      hardwareType: 1,
      time: 12345,
      linkLayerAddress: GATEWAY_MAC,
    });
    const frames = [
      createDhcpv6Solicit({ mac: GUEST_MAC, transactionId: 0xabcdef, iaid: 1, rapidCommit: true }),
      createDhcpv6Request({
        mac: GUEST_MAC,
        transactionId: 2,
        serverDuid,
        address: parseIpv6("2001:db8::5"),
        iaid: 1,
        elapsedTime: 100,
      }),
      encodeDhcpv6Frame({
        srcMac: GATEWAY_MAC,
        dstMac: GUEST_MAC,
        src: GATEWAY,
        dst: GUEST,
        message: {
          kind: "client_server",
          messageType: Dhcpv6MessageType.REPLY,
          transactionId: 2,
          options: [
            { kind: "server_id", duid: serverDuid },
            { kind: "client_id", duid: generateDuidLl(GUEST_MAC) },
            {
              kind: "ia_na",
              iaid: 1,
              t1: 1800,
              t2: 2880,
              options: [{
                kind: "iaaddr",
                address: parseIpv6("2001:db8::5"),
                preferredLifetime: 3600,
                validLifetime: 7200,
                options: [{ kind: "status_code", status: 0, message: "assigned" }],
              }],
            },
            {
              kind: "ia_pd",
              iaid: 2,
              t1: 1800,
              t2: 2880,
              options: [{
                kind: "iaprefix",
                prefix: parseIpv6("2001:db8:100::"),
                prefixLength: 56,
                preferredLifetime: 3600,
                validLifetime: 7200,
                options: [],
              }],
            },
            { kind: "dns_servers", servers: [parseIpv6("2001:db8::53")] },
            { kind: "preference", preference: 255 },
            { kind: "rapid_commit" },
          ],
        },
      }),
      encodeDhcpv6Frame({
        srcMac: GATEWAY_MAC,
        dstMac: GUEST_MAC,
        src: GATEWAY,
        dst: GUEST,
        message: {
          kind: "client_server",
          messageType: Dhcpv6MessageType.ADVERTISE,
          transactionId: 3,
          options: [
            {
              kind: "server_id",
              duid: encodeDuid({
                kind: "en",
                enterpriseNumber: 32473,
                identifier: new Uint8Array([1, 2, 3, 4]),
              }),
            },
            {
              kind: "client_id",
              duid: encodeDuid({ kind: "uuid", uuid: new Uint8Array(16).fill(7) }),
            },
            { kind: "status_code", status: 2, message: "no addresses" },
          ],
        },
      }),
    ];
    withPcapOf(frames, (path) => {
      const [solicit, request, reply, advertise] = records(path, DHCPV6_FIELDS);
      for (const [what, record] of Object.entries({ solicit, request, reply, advertise })) {
        assertClean(record!, what);
        assert.equal(record!["udp.checksum.status"], "1", `${what}: UDP checksum`);
      }
      assert.deepEqual(
        [
          solicit!["udp.srcport"],
          solicit!["udp.dstport"],
          solicit!["ipv6.dst"],
          solicit!["dhcpv6.msgtype"],
          solicit!["dhcpv6.xid"],
          solicit!["dhcpv6.duidll.link_layer_addr"],
          solicit!["dhcpv6.iaid"],
          solicit!["dhcpv6.requested_option_code"],
          solicit!["dhcpv6.option.type"],
        ],
        [
          "546",
          "547",
          "ff02::1:2",
          "1",
          "0xabcdef",
          "52:54:00:12:34:01",
          "00000001",
          "23",
          "1;8;6;3;14",
        ],
      );
      assert.deepEqual(
        [
          request!["dhcpv6.msgtype"],
          request!["dhcpv6.elapsed_time"],
          request!["dhcpv6.duidllt.link_layer_addr"],
          request!["dhcpv6.iaaddr.ip"],
        ],
        ["3", "1000", "02:00:00:00:00:01", "2001:db8::5"], // elapsed time in ms,
      );
      assert.deepEqual(
        [
          reply!["udp.srcport"],
          reply!["udp.dstport"],
          reply!["dhcpv6.msgtype"],
          reply!["dhcpv6.duid.bytes"],
          reply!["dhcpv6.iaid.t1"],
          reply!["dhcpv6.iaid.t2"],
          reply!["dhcpv6.iaaddr.ip"],
          reply!["dhcpv6.iaaddr.pref_lifetime"],
          reply!["dhcpv6.iaaddr.valid_lifetime"],
          reply!["dhcpv6.status_code"],
          reply!["dhcpv6.status_msg"],
          reply!["dhcpv6.dns_server"],
          reply!["dhcpv6.iaprefix.pref_addr"],
          reply!["dhcpv6.iaprefix.pref_len"],
        ],
        [
          "547",
          "546",
          "7",
          // The DUID-LLT (time 12345 = 0x3039) and the DUID-LL, as bytes: the time field's text has commas.
          "0001000100003039020000000001;00030001525400123401",
          "1800;1800",
          "2880;2880",
          "2001:db8::5",
          "3600",
          "7200",
          "0",
          "assigned",
          "2001:db8::53",
          "2001:db8:100::",
          "56",
        ],
      );
      assert.deepEqual(
        [
          advertise!["dhcpv6.msgtype"],
          advertise!["dhcpv6.duiden.enterprise"],
          advertise!["dhcpv6.duiduuid.bytes"],
          advertise!["dhcpv6.status_code"],
          advertise!["dhcpv6.status_msg"],
        ],
        ["2", "32473", "07".repeat(16), "2", "no addresses"],
      );
    });
  },
});
