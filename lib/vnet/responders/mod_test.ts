import assert from "node:assert/strict";
import {
  createDhcpv6Solicit,
  createIcmpv6EchoRequest,
  createNeighborSolicitation,
  createRouterSolicitation,
  decodeDhcpv6Frame,
  decodeIcmpv6Frame,
  isMalformed,
  parseIpv6,
  parseMac,
} from "../../packet/mod.ts";
import { resolveNic } from "../config.ts";
import { Dataplane, type FrameOutput, type IcmpErrorSender } from "../dataplane.ts";
import { icmpErrorsByVersion, registerResponders } from "./mod.ts";

const MAC = parseMac("52:54:00:12:34:01");
const GATEWAY_MAC = parseMac("02:00:00:00:00:01");

class Recorder implements FrameOutput {
  frames: Uint8Array[] = [];
  toNic(_nic: number, frame: Uint8Array, length: number): boolean {
    this.frames.push(frame.slice(0, length));
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
  assert.deepEqual(dp.responders, ["ndp", "icmp6", "dhcp6"]);
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
