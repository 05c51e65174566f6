import assert from "node:assert/strict";
import { internetChecksum } from "../packet/checksum.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";
import { formatMac } from "../packet/mac.ts";
import { ipv4Frame, ipv6Frame } from "../../testing/vnet_frames.ts";
import { resolveNic } from "./config.ts";
import { FROM_UPLINK, PrefixTable, VnetRouter } from "./routing.ts";

const A = { name: "vm0", mac: "52:54:00:00:00:0a", ipv4: "192.0.2.10", ipv6: "2001:db8::a" };
const B = { name: "vm1", mac: "52:54:00:00:00:0b", ipv4: "192.0.2.11", ipv6: "2001:db8::b" };
const LAN = {
  name: "vm2",
  mac: "52:54:00:00:00:0c",
  profile: "lan" as const,
  ipv4: "198.51.100.20/24",
  ipv6: "2001:db8:2::20/64",
  mtu: 1280,
};

function router(uplinkMtu: number | null = null): VnetRouter {
  const r = new VnetRouter(uplinkMtu);
  r.setNics([resolveNic(A), resolveNic(B), resolveNic(LAN)]);
  return r;
}

Deno.test("PrefixTable: a host route beats a prefix, the longer prefix beats the shorter", () => {
  const table = new PrefixTable(4);
  table.rebuild([
    { prefix: parseIpv4("10.0.0.0"), length: 8, nic: 1 },
    { prefix: parseIpv4("10.1.0.0"), length: 16, nic: 2 },
    { prefix: parseIpv4("10.1.2.3"), length: 32, nic: 3 },
    { prefix: parseIpv4("10.1.2.128"), length: 25, nic: 4 },
  ]);
  assert.equal(table.lookup(parseIpv4("10.1.2.3"), 0), 3);
  assert.equal(table.lookup(parseIpv4("10.1.2.4"), 0), 2);
  assert.equal(table.lookup(parseIpv4("10.1.2.200"), 0), 4);
  assert.equal(table.lookup(parseIpv4("10.9.9.9"), 0), 1);
  assert.equal(table.lookup(parseIpv4("11.0.0.1"), 0), -1);
  const many = new PrefixTable(16);
  const routes = Array.from({ length: 300 }, (_, i) => ({
    prefix: parseIpv6(`2001:db8::${i.toString(16)}`),
    length: 128,
    nic: i,
  }));
  many.rebuild(routes);
  for (const r of routes) assert.equal(many.lookup(r.prefix, 0), r.nic);
  assert.equal(many.lookup(parseIpv6("2001:db8::1:0"), 0), -1);
});

Deno.test("VnetRouter delivers guest to guest: MACs rewritten, TTL decremented, checksum updated", () => {
  const r = router();
  const frame = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11", ttl: 64 });
  const d = r.forward(frame, frame.length, 0);
  assert.equal(d.verdict, "deliver");
  assert.equal(d.nic, 1);
  assert.equal(d.length, 14 + 28);
  assert.equal(formatMac(frame, 0), B.mac);
  assert.equal(formatMac(frame, 6), "02:00:00:00:00:01");
  assert.equal(frame[14 + 8], 63);
  assert.equal(internetChecksum(frame.subarray(14, 34)), 0, "header checksum still valid");
  const v6 = ipv6Frame({ srcMac: B.mac, src: "2001:db8::b", dst: "2001:db8::a", hopLimit: 2 });
  const d6 = r.forward(v6, v6.length, 1);
  assert.equal(d6.verdict, "deliver");
  assert.equal(d6.nic, 0);
  assert.equal(v6[14 + 7], 1);
});

Deno.test("VnetRouter: a lan prefix routes every address in it (SLAAC) to its NIC", () => {
  const r = router();
  const frame = ipv6Frame({ srcMac: A.mac, src: "2001:db8::a", dst: "2001:db8:2::5054:ff:fe00:c" });
  assert.equal(r.forward(frame, frame.length, 0).nic, 2);
  const back = ipv6Frame({
    srcMac: LAN.mac,
    src: "2001:db8:2::5054:ff:fe00:c",
    dst: "2001:db8::a",
  });
  assert.equal(r.forward(back, back.length, 2).verdict, "deliver");
});

Deno.test("VnetRouter verdicts: ttl_exceeded, too_big, unreachable, uplink, drops", () => {
  const r = router();
  const expired = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11", ttl: 1 });
  const copy = expired.slice();
  assert.equal(r.forward(expired, expired.length, 0).verdict, "ttl_exceeded");
  assert.deepEqual(expired, copy, "the offending frame is left unchanged");
  const big = ipv6Frame({
    srcMac: A.mac,
    src: "2001:db8::a",
    dst: "2001:db8:2::20",
    payload: new Uint8Array(1300),
  });
  const d = r.forward(big, big.length, 0);
  assert.equal(d.verdict, "too_big");
  assert.equal(d.mtu, 1280);
  const big4 = (df: boolean) =>
    ipv4Frame({
      srcMac: A.mac,
      src: "192.0.2.10",
      dst: "198.51.100.20",
      payload: new Uint8Array(1300),
      dontFragment: df,
    });
  assert.equal(r.forward(big4(true), 1500, 0).verdict, "too_big");
  assert.equal(r.forward(big4(false), 1500, 0).reason, "needs_fragmentation");
  const away = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "203.0.113.1" });
  assert.equal(r.forward(away, away.length, 0).verdict, "unreachable");
  const withUplink = router(1500);
  const out = withUplink.forward(away, away.length, 0);
  assert.equal(out.verdict, "uplink");
  assert.equal(out.length, 14 + 28);
  const spoofed = ipv4Frame({ srcMac: A.mac, src: "192.0.2.11", dst: "192.0.2.10" });
  assert.equal(r.forward(spoofed, spoofed.length, 0).reason, "source_address");
  const multicast = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "239.1.1.1" });
  assert.equal(r.forward(multicast, multicast.length, 0).reason, "not_routable");
  const linkLocal = ipv6Frame({ srcMac: A.mac, src: "2001:db8::a", dst: "fe80::2" });
  assert.equal(r.forward(linkLocal, linkLocal.length, 0).reason, "not_routable");
  const corrupt = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11" });
  corrupt[14 + 10]! ^= 1;
  assert.equal(r.forward(corrupt, corrupt.length, 0).reason, "bad_header");
  const short = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11" });
  assert.equal(r.forward(short, 30, 0).reason, "bad_header");
});

Deno.test("VnetRouter: from the uplink to a guest, never back to the uplink", () => {
  const r = router(1500);
  const frame = ipv4Frame({ srcMac: A.mac, src: "203.0.113.1", dst: "192.0.2.11" });
  const d = r.forward(frame, frame.length, FROM_UPLINK);
  assert.equal(d.verdict, "deliver");
  assert.equal(d.nic, 1);
  const nowhere = ipv4Frame({ srcMac: A.mac, src: "203.0.113.1", dst: "203.0.113.2" });
  assert.equal(r.forward(nowhere, nowhere.length, FROM_UPLINK).reason, "no_route");
});

Deno.test("VnetRouter.forward allocates nothing per packet (a quick loop)", () => {
  const r = router();
  const frame = ipv4Frame({ srcMac: A.mac, src: "192.0.2.10", dst: "192.0.2.11", ttl: 255 });
  const start = performance.now();
  const rounds = 200_000;
  for (let i = 0; i < rounds; i++) {
    frame[14 + 8] = 255;
    frame[14 + 10] = 0;
    frame[14 + 11] = 0;
    const sum = internetChecksum(frame.subarray(14, 34));
    frame[14 + 10] = sum >> 8;
    frame[14 + 11] = sum & 0xff;
    r.forward(frame, frame.length, 0);
  }
  const nsPerPacket = (performance.now() - start) * 1e6 / rounds;
  // Generous: the point is no pathological cost, the bench measures throughput.
  assert.ok(nsPerPacket < 20_000, `${nsPerPacket} ns per packet`);
});
