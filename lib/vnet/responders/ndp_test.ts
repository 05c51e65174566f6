// NicSpec field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import assert from "node:assert/strict";
import {
  createNeighborSolicitation,
  createRouterSolicitation,
  decodeIcmpv6Frame,
  findOfKind,
  formatIpv6,
  formatMac,
  type Icmpv6Frame,
  IPV6_UNSPECIFIED,
  linkLocalFromMac,
  parseIpv6,
  parseMac,
} from "../../packet/mod.ts";
import { type NicSpec, resolveNic } from "../config.ts";
import {
  MAX_INITIAL_RTR_ADVERT_INTERVAL_MS,
  MIN_DELAY_BETWEEN_RAS_MS,
  NdpResponder,
  ROUTER_LIFETIME_S,
} from "./ndp.ts";
import { decoded } from "../../../testing/total_decoders.ts";

const MAC = parseMac("52:54:00:12:34:01");
const GUEST_LL = linkLocalFromMac(MAC);
const LINKLOCAL: NicSpec = {
  name: "vm0",
  mac: "52:54:00:12:34:01",
  ipv6: "2001:db8::5",
  dns: ["2001:db8::53"],
};
const SLAAC: NicSpec = {
  name: "vm1",
  mac: "52:54:00:12:34:01",
  profile: "lan",
  ipv6: "2001:db8:1::5/64",
  slaac: true,
  ra_interval: 30,
};

function decode(frame: Uint8Array): Icmpv6Frame {
  return decoded(decodeIcmpv6Frame(frame));
}

/** A responder that knows `spec`'s NIC (added at `now`), with RA delays drawn as `random`. */
function setup(spec: NicSpec, random = 0, now = 0) {
  const nic = resolveNic(spec);
  const ndp = new NdpResponder({ random: () => random });
  ndp.nicAdded(nic, now);
  return { nic, ndp };
}

function ra(frame: Uint8Array) {
  const d = decode(frame);
  assert.equal(d.icmpv6.kind, "router_advertisement");
  if (d.icmpv6.kind !== "router_advertisement") throw new Error();
  return { ...d, ra: d.icmpv6 };
}

Deno.test("NDP: RS from the guest's link-local address → RA unicast to it, M=1 O=1, RDNSS", () => {
  const { nic, ndp } = setup(LINKLOCAL);
  const out = ndp.handle(nic, createRouterSolicitation({ srcMac: MAC }), 0);
  assert.equal(out.length, 1);
  const { ethernet, ip, ra: adv } = ra(out[0]!);
  assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
  assert.equal(formatIpv6(ip.src), "fe80::1");
  assert.equal(formatIpv6(ip.dst), formatIpv6(GUEST_LL));
  assert.equal(ip.hopLimit, 255);
  assert.equal(adv.managed, true);
  assert.equal(adv.other, true);
  assert.equal(adv.routerLifetime, ROUTER_LIFETIME_S);
  assert.equal(adv.curHopLimit, 64);
  assert.equal(
    formatMac(findOfKind(adv.options, "source_link_address")!.address),
    "02:00:00:00:00:01",
  );
  assert.equal(findOfKind(adv.options, "mtu")?.mtu, 1500);
  assert.equal(findOfKind(adv.options, "prefix_information"), undefined, "linklocal: no prefix");
  const rdnss = findOfKind(adv.options, "rdnss")!;
  assert.deepEqual(rdnss.servers.map((s) => formatIpv6(s)), ["2001:db8::53"]);
  assert.equal(rdnss.lifetime, 3 * 600);
});

Deno.test("NDP: lan --slaac RA has M=0, O=0 and a PIO with L=1 A=1 for the NIC's /64", () => {
  const { nic, ndp } = setup(SLAAC);
  const { ra: adv } = ra(ndp.handle(nic, createRouterSolicitation({ srcMac: MAC }), 0)[0]!);
  assert.equal(adv.managed, false);
  assert.equal(adv.other, false);
  const pio = findOfKind(adv.options, "prefix_information")!;
  assert.equal(formatIpv6(pio.prefix), "2001:db8:1::");
  assert.equal(pio.prefixLength, 64);
  assert.ok(pio.onLink && pio.autonomous);
  assert.ok(pio.validLifetime >= pio.preferredLifetime && pio.preferredLifetime > 0);
  assert.equal(findOfKind(adv.options, "rdnss"), undefined);
  // lan without SLAAC: addresses by DHCPv6.
  const dhcp = setup({ ...SLAAC, slaac: false });
  const { ra: managed } = ra(
    dhcp.ndp.handle(dhcp.nic, createRouterSolicitation({ srcMac: MAC }), 0)[0]!,
  );
  assert.equal(managed.managed, true);
  assert.equal(findOfKind(managed.options, "prefix_information"), undefined);
});

Deno.test("NDP: RS from :: → RA to ff02::1 at the guest's all-nodes MAC", () => {
  const { nic, ndp } = setup(LINKLOCAL);
  ndp.tick(0); // the first unsolicited RA, at once
  const rs = createRouterSolicitation({ srcMac: MAC, src: IPV6_UNSPECIFIED });
  // Multicast RAs are MIN_DELAY_BETWEEN_RAS apart: the answer waits for that.
  assert.deepEqual(ndp.handle(nic, rs, 100), []);
  assert.equal(ndp.next(100), MIN_DELAY_BETWEEN_RAS_MS);
  const sent = ndp.tick(MIN_DELAY_BETWEEN_RAS_MS);
  assert.equal(sent.length, 1);
  const { ethernet, ip } = ra(sent[0]!.frame);
  assert.equal(formatIpv6(ip.dst), "ff02::1");
  assert.equal(formatMac(ethernet.dst), "33:33:00:00:00:01");
});

Deno.test("NDP: solicited RAs are delayed up to MAX_RA_DELAY_TIME and coalesced", () => {
  const { nic, ndp } = setup(LINKLOCAL, 0.5);
  ndp.tick(0);
  const rs = createRouterSolicitation({ srcMac: MAC });
  assert.deepEqual(ndp.handle(nic, rs, 1000), [], "delayed by 0.5 × 500 ms");
  assert.deepEqual(ndp.handle(nic, rs, 1100), [], "one answer covers both");
  assert.equal(ndp.next(1100), 1250);
  const sent = ndp.tick(1250);
  assert.equal(sent.length, 1);
  assert.equal(formatIpv6(ra(sent[0]!.frame).ip.dst), formatIpv6(GUEST_LL));
  // A flood gets at most one unicast answer a second.
  ndp.handle(nic, rs, 1300);
  assert.equal(ndp.tick(1600).length, 0);
  assert.equal(ndp.tick(2250).length, 1);
  // A pending unicast answer turned multicast by an RS from :: keeps multicast RAs 3 s apart.
  const fresh = setup(LINKLOCAL);
  fresh.ndp.tick(0);
  assert.equal(fresh.ndp.handle(fresh.nic, rs, 1000).length, 1);
  assert.deepEqual(fresh.ndp.handle(fresh.nic, rs, 1500), []);
  assert.equal(fresh.ndp.next(1500), 2000);
  const anyone = createRouterSolicitation({ srcMac: MAC, src: IPV6_UNSPECIFIED });
  fresh.ndp.handle(fresh.nic, anyone, 1600);
  assert.equal(fresh.ndp.next(1600), MIN_DELAY_BETWEEN_RAS_MS);
  const [multicast] = fresh.ndp.tick(MIN_DELAY_BETWEEN_RAS_MS);
  assert.equal(formatIpv6(ra(multicast!.frame).ip.dst), "ff02::1");
});

Deno.test("NDP: NS for fe80::1 → NA with R, S, O and TLLAO, unicast to the solicitor", () => {
  const { nic, ndp } = setup(LINKLOCAL);
  const out = ndp.handle(
    nic,
    createNeighborSolicitation({ srcMac: MAC, target: parseIpv6("fe80::1") }),
    0,
  );
  assert.equal(out.length, 1);
  const { ethernet, ip, icmpv6: na } = decode(out[0]!);
  assert.equal(na.kind, "neighbor_advertisement");
  if (na.kind !== "neighbor_advertisement") return;
  assert.deepEqual([na.router, na.solicited, na.override], [true, true, true]);
  assert.equal(formatIpv6(na.target), "fe80::1");
  assert.equal(
    formatMac(findOfKind(na.options, "target_link_address")!.address),
    "02:00:00:00:00:01",
  );
  assert.equal(formatIpv6(ip.src), "fe80::1");
  assert.equal(formatIpv6(ip.dst), formatIpv6(GUEST_LL));
  assert.equal(ip.hopLimit, 255);
  assert.equal(formatMac(ethernet.dst), "52:54:00:12:34:01");
});

Deno.test("NDP: NS for the lan gateway is answered; NS for another address gets silence", () => {
  const { nic, ndp } = setup(SLAAC);
  const gw = ndp.handle(
    nic,
    createNeighborSolicitation({ srcMac: MAC, target: parseIpv6("2001:db8:1::1") }),
    0,
  );
  assert.equal(formatIpv6(decode(gw[0]!).ip.src), "2001:db8:1::1");
  const other = ndp.handle(
    nic,
    createNeighborSolicitation({ srcMac: MAC, target: parseIpv6("2001:db8:1::9") }),
    0,
  );
  assert.deepEqual(other, []);
  assert.equal(ndp.drops.not_for_gateway, 1);
});

Deno.test("NDP: a DAD probe for a gateway address is defended: NA to ff02::1 with S=0", () => {
  const { nic, ndp } = setup(LINKLOCAL);
  const dad = createNeighborSolicitation({
    srcMac: MAC,
    src: IPV6_UNSPECIFIED,
    target: parseIpv6("fe80::1"),
  });
  const { ip, icmpv6: na, ethernet } = decode(ndp.handle(nic, dad, 0)[0]!);
  if (na.kind !== "neighbor_advertisement") throw new Error(na.kind);
  assert.equal(formatIpv6(ip.dst), "ff02::1");
  assert.equal(formatMac(ethernet.dst), "33:33:00:00:00:01");
  assert.deepEqual([na.router, na.solicited, na.override], [true, false, true]);
  // The guest's own DAD is none of the gateway's business.
  const own = createNeighborSolicitation({ srcMac: MAC, src: IPV6_UNSPECIFIED, target: GUEST_LL });
  assert.deepEqual(ndp.handle(nic, own, 0), []);
  // DAD must go to the solicited-node group (RFC 4861 §7.1.1).
  const misaddressed = createNeighborSolicitation({
    srcMac: MAC,
    src: IPV6_UNSPECIFIED,
    target: parseIpv6("fe80::1"),
    dst: parseIpv6("ff02::1"),
  });
  assert.deepEqual(ndp.handle(nic, misaddressed, 0), []);
  assert.equal(ndp.drops.invalid, 1);
});

Deno.test("NDP: hop limit other than 255 → dropped and counted (RFC 4861 §6.1, §7.1)", () => {
  const { nic, ndp } = setup(LINKLOCAL);
  for (
    const frame of [
      createRouterSolicitation({ srcMac: MAC }),
      createNeighborSolicitation({ srcMac: MAC, target: parseIpv6("fe80::1") }),
    ]
  ) {
    frame[14 + 7] = 64; // the ICMPv6 checksum does not cover the hop limit
    assert.deepEqual(ndp.handle(nic, frame, 0), []);
  }
  assert.equal(ndp.drops.hop_limit, 2);
  const bad = createRouterSolicitation({ srcMac: MAC });
  bad[bad.length - 1]! ^= 1;
  assert.deepEqual(ndp.handle(nic, bad, 0), []);
  assert.equal(ndp.drops.malformed, 1);
});

Deno.test("NDP: periodic RAs, the first 3 within 16 s, then between Min and MaxRtrAdvInterval", () => {
  // random 1: every interval is the longest allowed, so the cap shows.
  const { ndp } = setup({ ...LINKLOCAL, ra_interval: 60 }, 1, 1000);
  assert.equal(ndp.next(1000), 1000, "the first at once");
  const times: number[] = [];
  let now = 1000;
  for (let i = 0; i < 5; i++) {
    now = ndp.next(now)!;
    const sent = ndp.tick(now);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.nic, "vm0");
    assert.equal(formatIpv6(ra(sent[0]!.frame).ip.dst), "ff02::1");
    times.push(now);
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.deepEqual(gaps, [
    MAX_INITIAL_RTR_ADVERT_INTERVAL_MS,
    MAX_INITIAL_RTR_ADVERT_INTERVAL_MS,
    60_000,
    60_000,
  ]);
  // random 0: MinRtrAdvInterval, 0.33 × MaxRtrAdvInterval.
  const fast = setup({ ...LINKLOCAL, ra_interval: 30 }, 0, 0).ndp;
  fast.tick(0);
  assert.equal(fast.next(0), 0.33 * 30 * 1000);
  // Short intervals: never under 3 s.
  const short = setup({ ...LINKLOCAL, ra_interval: 4 }, 0, 0).ndp;
  short.tick(0);
  assert.equal(short.next(0), 3000);
});

Deno.test("NDP: a NIC without IPv6 gets no RAs; a removed one a final RA with lifetime 0", () => {
  const v4 = setup({ name: "v4", mac: "52:54:00:12:34:02", ipv4: "192.0.2.5" });
  assert.equal(v4.ndp.next(0), null);
  assert.deepEqual(v4.ndp.handle(v4.nic, createRouterSolicitation({ srcMac: MAC }), 0), []);
  assert.deepEqual(v4.ndp.farewell(v4.nic), []);

  const { nic, ndp } = setup(LINKLOCAL);
  const [last] = ndp.farewell(nic);
  const { ip, ra: adv } = ra(last!);
  assert.equal(adv.routerLifetime, 0);
  assert.equal(formatIpv6(ip.dst), "ff02::1");
  ndp.nicRemoved(nic);
  assert.equal(ndp.next(0), null);
  assert.deepEqual(ndp.tick(10_000_000), []);
});
