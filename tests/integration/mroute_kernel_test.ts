import assert from "node:assert/strict";
import { NetkitOsError } from "../../lib/errors.ts";
import { dumpKernelRoutes, dumpKernelVifs, type KernelRoute } from "../../lib/mroute/kernel.ts";
import { MrouteSocket } from "../../lib/net/mroute_socket.ts";
import {
  type IpFamily,
  type KernelMfc,
  MrtFlush,
  type Upcall,
  VifFlag,
} from "../../lib/net/mroute_structs.ts";
import { ipJson, NamespaceLab, type VethEnd } from "../../lib/lab/namespace_lab.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { PacketSocket } from "../../lib/net/packet_socket.ts";
import { Poller } from "../../lib/net/poller.ts";
import { internetChecksum } from "../../lib/packet/checksum.ts";
import { encodeEthernet } from "../../lib/packet/ethernet.ts";
import { encodeIpv4, formatIpv4, ipv4MulticastMac, parseIpv4 } from "../../lib/packet/ipv4.ts";
import { formatIpv6, parseIpv6 } from "../../lib/packet/ipv6.ts";
import { decodeUdpFrame, encodeUdpMulticastFrame } from "../../lib/packet/udp_frame.ts";
import type { ProbeKey } from "../../lib/doctor/result.ts";
import { needs } from "../skip.ts";

/** The probe of `family`'s multicast routing, or of its tables other than the default one. */
function mrouteProbe(family: 4 | 6, tables = false): ProbeKey {
  return `ipv${family}_mroute${tables ? "_tables" : ""}`;
}

/**
 * A router namespace "r" with three veths r1..r3 whose peers p1..p3 sit in namespace "p"
 * (no addresses anywhere: VIFs are given by ifindex).
 */
interface RouterLab {
  router: string;
  /** links[i]: r(i+1) in the router, p(i+1) its peer; VIF i in the tests. */
  links: { r: VethEnd; p: VethEnd }[];
}

function routerLab(lab: NamespaceLab): RouterLab {
  const router = lab.netns("r");
  const peer = lab.netns("p");
  const links = [1, 2, 3].map((n) => {
    const [r, p] = lab.veth({ netns: router, name: `r${n}` }, { netns: peer, name: `p${n}` });
    return { r, p };
  });
  return { router, links };
}

/** Per-family addresses: a source, groups, and how `ip` spells them. */
const FAMILIES = {
  4: {
    source: parseIpv4("192.0.2.2"),
    group: parseIpv4("239.10.20.30"),
    group2: parseIpv4("239.10.20.60"),
    any: new Uint8Array(4),
    format: formatIpv4,
    ipFlag: "-4",
  },
  6: {
    source: parseIpv6("2001:db8:1::2"),
    // ff0e::/16 (global scope): link-local groups are never routed.
    group: parseIpv6("ff0e::10:20:30"),
    group2: parseIpv6("ff0e::10:20:60"),
    any: new Uint8Array(16),
    format: formatIpv6,
    ipFlag: "-6",
  },
} as const;

function ttls(entries: Record<number, number>): Uint8Array {
  const out = new Uint8Array(32);
  for (const [vif, ttl] of Object.entries(entries)) out[Number(vif)] = ttl;
  return out;
}

interface ShownRoute {
  src: string;
  dst: string;
  iif?: string;
  multipath?: { oif: string; ttl?: number }[];
  packets?: number;
  "wrong_if"?: number;
}

/** `ip -j [-6] mroute show` in the router, reduced to what the tests compare. */
function shownRoutes(router: string, family: IpFamily): unknown[] {
  const shown = ipJson<ShownRoute[]>(
    "-n",
    router,
    FAMILIES[family].ipFlag,
    "mroute",
    "show",
    "table",
    family === 4 ? "253" : "254",
  );
  return shown.map((r) => ({
    src: r.src,
    dst: r.dst,
    iif: r.iif,
    oifs: (r.multipath ?? []).map((m) => `${m.oif}${m.ttl === undefined ? "" : `/${m.ttl}`}`),
  }));
}

/** A route from the netlink dump, with names instead of indexes, for comparing. */
function summarize(route: KernelRoute, names: Map<number, string>, family: IpFamily) {
  const f = FAMILIES[family].format;
  return {
    src: f(route.source),
    dst: f(route.group),
    iif: names.get(route.iif),
    oifs: route.oifs.map((o) => `${names.get(o.ifindex)}/${o.ttl}`),
    resolved: route.resolved,
    static: route.static,
  };
}

function linkNames(links: RouterLab["links"]): Map<number, string> {
  return new Map(links.map(({ r }) => [r.ifindex, r.name]));
}

for (const family of [4, 6] as const) {
  const fam = FAMILIES[family];
  const v = `IPv${family}`;

  Deno.test({
    name:
      `MrouteSocket (${v}) installs VIFs by ifindex and (S,G) and (*,G) routes that ip mroute and the netlink dump show, and closing the owner removes them`,
    ignore: needs("root", "netns", "veth", mrouteProbe(family)),
    fn() {
      using lab = new NamespaceLab();
      const { router, links } = routerLab(lab);
      const names = linkNames(links);
      runInNetns(router, () => {
        using owner = MrouteSocket.open(family, { owner: true });
        assert.equal(owner.table, family === 4 ? 253 : 254);
        links.forEach(({ r }, vif) => owner.addVif(vif, r.ifindex));
        // (S,G) in on r1, out on r2 (TTL > 1) and r3 (TTL > 4).
        owner.addMfc({
          source: fam.source,
          group: fam.group,
          parent: 0,
          ttls: ttls({ 1: 1, 2: 4 }),
        });
        // Native (*,G): the parent is listed among the outputs.
        owner.addMfc({ source: fam.any, group: fam.group2, parent: 0, ttls: ttls({ 0: 1, 2: 1 }) });

        const anyText = family === 4 ? "0.0.0.0" : "::";
        // IPv6 has no per-output TTL: iproute2 prints none.
        const r3 = family === 4 ? "r3/4" : "r3";
        assert.deepEqual(shownRoutes(router, family), [
          { src: fam.format(fam.source), dst: fam.format(fam.group), iif: "r1", oifs: ["r2", r3] },
          { src: anyText, dst: fam.format(fam.group2), iif: "r1", oifs: ["r1", "r3"] },
        ]);
        const dumped = dumpKernelRoutes(family, 0).map((r) => summarize(r, names, family));
        const t3 = family === 4 ? 4 : 1;
        assert.deepEqual(
          dumped.sort((a, b) => a.dst.localeCompare(b.dst)),
          [
            {
              src: fam.format(fam.source),
              dst: fam.format(fam.group),
              iif: "r1",
              oifs: ["r2/1", `r3/${t3}`],
              resolved: true,
              static: false,
            },
            {
              src: anyText,
              dst: fam.format(fam.group2),
              iif: "r1",
              oifs: ["r1/1", "r3/1"],
              resolved: true,
              static: false,
            },
          ],
        );
        assert.deepEqual(
          dumpKernelVifs(family, 0).map(({ vif, ifindex, flags }) => ({ vif, ifindex, flags })),
          links.map(({ r }, vif) => ({
            vif,
            ifindex: r.ifindex,
            flags: family === 4 ? VifFlag.USE_IFINDEX : 0,
          })),
        );
        // Counters exist for installed routes (the (*,G) by source 0) and VIFs, not for others.
        assert.deepEqual(owner.routeCounters(fam.any, fam.group2), {
          packets: 0n,
          bytes: 0n,
          wrongIf: 0n,
        });
        assert.equal(owner.routeCounters(fam.source, fam.group2), null);
        assert.equal(owner.vifCounters(2)?.packetsIn, 0n);
        assert.equal(owner.vifCounters(3), null);

        owner.delMfc({ source: fam.any, group: fam.group2, parent: 0 });
        assert.throws(
          () => owner.delMfc({ source: fam.any, group: fam.group2, parent: 0 }),
          (err: unknown) => err instanceof NetkitOsError && err.code === "ENOENT",
        );
        owner.delVif(2);
        assert.equal(owner.vifCounters(2), null);
        assert.throws(
          () => owner.delVif(2),
          (err: unknown) => err instanceof NetkitOsError && err.code === "EADDRNOTAVAIL",
        );
      });
      assert.deepEqual(shownRoutes(router, family), []);
      runInNetns(router, () => assert.deepEqual(dumpKernelVifs(family, 0), []));
    },
  });

  Deno.test({
    name:
      `MrouteSocket (${v}) refuses a second owner of the default table with a clear EADDRINUSE error, and opens a non-owner beside the owner`,
    ignore: needs("root", "netns", mrouteProbe(family)),
    fn() {
      using lab = new NamespaceLab();
      runInNetns(lab.netns("r"), () => {
        using _owner = MrouteSocket.open(family, { owner: true });
        const table = family === 4 ? 253 : 254;
        assert.throws(
          () => MrouteSocket.open(family, { owner: true }),
          (err: unknown) =>
            err instanceof NetkitOsError && err.code === "EADDRINUSE" &&
            err.message ===
              `Another multicast router already owns IPv${family} table ${table} in this network namespace (EADDRINUSE): stop it, or use another --table`,
        );
        assert.throws(() => MrouteSocket.open(family, { owner: true, table }), /EADDRINUSE/);
        using editor = MrouteSocket.open(family, { owner: false });
        assert.equal(editor.owner, false);
      });
    },
  });

  Deno.test({
    name:
      `MrouteSocket (${v}) tables other than the default take owners of their own, one each, and bad table ids are explained`,
    ignore: needs("root", "netns", mrouteProbe(family, true)),
    fn() {
      using lab = new NamespaceLab();
      runInNetns(lab.netns("r"), () => {
        using _owner = MrouteSocket.open(family, { owner: true });
        using other = MrouteSocket.open(family, { owner: true, table: 7 });
        assert.equal(other.table, 7);
        assert.throws(() => MrouteSocket.open(family, { owner: true, table: 7 }), /table 7/);
        const tooBig = family === 4 ? 1_000_000_000 : 100_000_000;
        assert.throws(
          () => MrouteSocket.open(family, { owner: true, table: tooBig }),
          new RegExp(`table ${tooBig} \\(EINVAL\\): use an id below ${tooBig}$`),
        );
      });
    },
  });

  Deno.test({
    name:
      `MrouteSocket (${v}) non-owner entries are static: they outlive the owner and MRT_FLUSH with the static flags removes them`,
    ignore: needs("root", "netns", "veth", mrouteProbe(family)),
    fn() {
      using lab = new NamespaceLab();
      const { router, links } = routerLab(lab);
      const names = linkNames(links);
      runInNetns(router, () => {
        const owner = MrouteSocket.open(family, { owner: true });
        try {
          owner.addVif(2, links[2]!.r.ifindex);
          using editor = MrouteSocket.open(family, { owner: false });
          editor.addVif(0, links[0]!.r.ifindex);
          editor.addVif(1, links[1]!.r.ifindex);
          editor.addMfc({ source: fam.source, group: fam.group, parent: 0, ttls: ttls({ 1: 1 }) });
          owner.addMfc({ source: fam.source, group: fam.group2, parent: 0, ttls: ttls({ 1: 1 }) });
          const statics = dumpKernelRoutes(family, 0).map((r) => [fam.format(r.group), r.static]);
          assert.deepEqual(
            statics.sort(),
            [[fam.format(fam.group), true], [fam.format(fam.group2), false]],
          );
        } finally {
          owner.close();
        }
        // Only the owner's VIF and route went with it.
        assert.deepEqual(dumpKernelRoutes(family, 0).map((r) => summarize(r, names, family)), [
          {
            src: fam.format(fam.source),
            dst: fam.format(fam.group),
            iif: "r1",
            oifs: ["r2/1"],
            resolved: true,
            static: true,
          },
        ]);
        assert.deepEqual(
          dumpKernelVifs(family, 0).map(({ vif, flags }) => ({ vif, flags })),
          [0, 1].map((vif) => ({
            vif,
            flags: VifFlag.STATIC | (family === 4 ? VifFlag.USE_IFINDEX : 0),
          })),
        );
        assert.equal(shownRoutes(router, family).length, 1);

        // A new owner flushing its own entries leaves static ones; the static flags remove them.
        using owner2 = MrouteSocket.open(family, { owner: true });
        owner2.flush(MrtFlush.MFC | MrtFlush.VIFS);
        assert.equal(dumpKernelRoutes(family, 0).length, 1);
        owner2.flush(MrtFlush.MFC_STATIC | MrtFlush.VIFS_STATIC);
        assert.deepEqual(dumpKernelRoutes(family, 0), []);
        assert.deepEqual(dumpKernelVifs(family, 0), []);
      });
      assert.deepEqual(shownRoutes(router, family), []);
    },
  });
}

/** `count` distinct (S,G) routes: sources 10.x.y.z, groups 239.1.x.y. */
function manyRoutes(count: number, parent: number, out: Uint8Array): KernelMfc[] {
  const mfcs: KernelMfc[] = [];
  for (let i = 0; i < count; i++) {
    mfcs.push({
      source: new Uint8Array([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]),
      group: new Uint8Array([239, 1, (i >> 8) & 0xff, i & 0xff]),
      parent,
      ttls: out,
    });
  }
  return mfcs;
}

Deno.test({
  name:
    "MrouteSocket.addMfcBatch installs 10,000 routes in one call, the dump returns them all, and delMfcBatch removes them",
  ignore: needs("root", "netns", "veth", mrouteProbe(4)),
  fn() {
    using lab = new NamespaceLab();
    const { router, links } = routerLab(lab);
    runInNetns(router, () => {
      using owner = MrouteSocket.open(4, { owner: true });
      owner.addVif(0, links[0]!.r.ifindex);
      owner.addVif(1, links[1]!.r.ifindex);
      const count = 10_000;
      const mfcs = manyRoutes(count, 0, ttls({ 1: 1 }));
      const start = performance.now();
      const failures = owner.addMfcBatch(mfcs);
      const ms = performance.now() - start;
      assert.deepEqual(failures, []);
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `  addMfcBatch: ${count} routes in ${ms.toFixed(1)} ms (${
            Math.round(count / ms * 1000)
          } routes/s)\n`,
        ),
      );

      const dumped = dumpKernelRoutes(4, 0);
      assert.equal(dumped.length, count);
      const keys = new Set(dumped.map((r) => `${formatIpv4(r.source)} ${formatIpv4(r.group)}`));
      for (const mfc of [mfcs[0]!, mfcs[4321]!, mfcs[count - 1]!]) {
        assert.ok(keys.has(`${formatIpv4(mfc.source)} ${formatIpv4(mfc.group)}`));
      }
      assert.ok(dumped.every((r) => r.iif === links[0]!.r.ifindex && r.oifs.length === 1));

      // Failures come back by index; the rest of the batch still applies.
      const mixed: KernelMfc[] = [
        {
          source: parseIpv4("192.0.2.9"),
          group: parseIpv4("239.2.0.1"),
          parent: 0,
          ttls: ttls({}),
        },
        { source: parseIpv4("192.0.2.9"), group: parseIpv4("10.0.0.1"), parent: 0, ttls: ttls({}) },
        {
          source: parseIpv4("192.0.2.9"),
          group: parseIpv4("239.2.0.2"),
          parent: 0,
          ttls: ttls({}),
        },
      ];
      assert.deepEqual(owner.addMfcBatch(mixed), [{ index: 1, errno: 22 }]); // EINVAL: unicast

      assert.deepEqual(owner.delMfcBatch(mfcs), []);
      assert.deepEqual(
        owner.delMfcBatch([mixed[0]!, mixed[1]!, mfcs[7]!]),
        [{ index: 1, errno: 2 }, { index: 2, errno: 2 }], // ENOENT
      );
      assert.equal(dumpKernelRoutes(4, 0).length, 1);
    });
  },
});

/** Waits up to `ms` for upcalls on `socket` until `enough` says so; returns all read. */
async function waitUpcalls(
  socket: MrouteSocket,
  enough: (upcalls: Upcall[]) => boolean,
  ms = 2000,
): Promise<Upcall[]> {
  await using poller = new Poller();
  const upcalls: Upcall[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    upcalls.push(...socket.readUpcalls());
    if (enough(upcalls) || Date.now() >= deadline) return upcalls;
    await poller.wait([socket.fd], deadline - Date.now());
  }
}

/** Waits up to `ms` for UDP frames with payload markers; returns the markers seen, in order. */
async function receiveMarkers(
  socket: PacketSocket,
  count: number,
  ms = 2000,
): Promise<number[]> {
  await using poller = new Poller();
  const markers: number[] = [];
  const deadline = Date.now() + ms;
  while (markers.length < count && Date.now() < deadline) {
    for (let got = socket.receive(); got !== null; got = socket.receive()) {
      try {
        const { udp } = decodeUdpFrame(got.frame);
        if (udp.dstPort === 5000 && udp.payload.length === 4) {
          markers.push(new DataView(udp.payload.buffer, udp.payload.byteOffset).getUint32(0));
        }
      } catch {
        // Not one of ours (neighbour discovery, MLD, ...).
      }
    }
    if (markers.length < count) await poller.wait([socket.fd], deadline - Date.now());
  }
  return markers;
}

function openOn(end: VethEnd, etherType: number): PacketSocket {
  return runInNetns(end.netns, () => PacketSocket.open({ interface: end.name, etherType }));
}

for (const family of [4, 6] as const) {
  const fam = FAMILIES[family];
  const etherType = family === 4 ? 0x0800 : 0x86dd;

  Deno.test({
    name:
      `MrouteSocket (IPv${family}) reports NOCACHE for an unknown (S,G), forwards it once routed with counters, and reports WRONGVIF for traffic on another VIF`,
    ignore: needs("root", "netns", "veth", mrouteProbe(family)),
    async fn() {
      using lab = new NamespaceLab();
      const { router, links } = routerLab(lab);
      const [l1, l2, l3] = links as [
        RouterLab["links"][0],
        RouterLab["links"][0],
        RouterLab["links"][0],
      ];
      using owner = runInNetns(router, () => MrouteSocket.open(family, { owner: true }));
      links.forEach(({ r }, vif) => owner.addVif(vif, r.ifindex));
      using tx1 = openOn(l1.p, etherType);
      using tx3 = openOn(l3.p, etherType);
      using rx2 = openOn(l2.p, etherType);
      const frame = (from: VethEnd, marker: number) => {
        const payload = new Uint8Array(4);
        new DataView(payload.buffer).setUint32(0, marker);
        return encodeUdpMulticastFrame({
          srcMac: from.mac,
          src: fam.source,
          group: fam.group,
          srcPort: 40000,
          dstPort: 5000,
          ttl: 8,
          payload,
        });
      };

      if (family === 4) {
        // The IGMP socket also queues real IGMP, whose TTL byte looks like a NOCACHE type:
        // a general query to 224.0.0.1 must not read as an upcall.
        const query = new Uint8Array([0x11, 100, 0, 0, 0, 0, 0, 0]);
        new DataView(query.buffer).setUint16(2, internetChecksum(query));
        const allHosts = parseIpv4("224.0.0.1");
        assert.ok(tx1.send(encodeEthernet({
          dst: ipv4MulticastMac(allHosts),
          src: l1.p.mac,
          etherType,
          payload: encodeIpv4({
            src: fam.source,
            dst: allHosts,
            protocol: 2,
            ttl: 1,
            payload: query,
          }),
        })));
      }
      // Unknown (S,G): the kernel asks, and keeps the packet while it waits.
      assert.ok(tx1.send(frame(l1.p, 1)));
      const asked = await waitUpcalls(owner, (u) => u.length > 0);
      assert.deepEqual(asked, [{
        kind: "nocache",
        family,
        vif: 0,
        source: fam.source,
        group: fam.group,
      }]);

      // Routing it releases the queued packet; later ones follow.
      owner.addMfc({ source: fam.source, group: fam.group, parent: 0, ttls: ttls({ 1: 1, 2: 1 }) });
      for (const marker of [2, 3, 4]) assert.ok(tx1.send(frame(l1.p, marker)));
      assert.deepEqual(await receiveMarkers(rx2, 4), [1, 2, 3, 4]);
      const counters = owner.routeCounters(fam.source, fam.group);
      assert.equal(counters?.packets, 4n);
      assert.equal(counters?.wrongIf, 0n);
      // Bytes are whole IP packets: header + UDP header + 4-byte payload.
      assert.equal(counters?.bytes, 4n * (family === 4 ? 32n : 52n));
      assert.equal(owner.vifCounters(0)?.packetsIn, 4n);
      assert.equal(owner.vifCounters(1)?.packetsOut, 4n);
      assert.equal(owner.vifCounters(2)?.packetsOut, 4n);

      // The same (S,G) arriving on r3, one of its outputs, is dropped and reported once.
      assert.ok(tx3.send(frame(l3.p, 5)));
      assert.ok(tx3.send(frame(l3.p, 6)));
      const wrong = await waitUpcalls(owner, (u) => u.length > 0);
      assert.deepEqual(wrong, [{
        kind: "wrongvif",
        family,
        vif: 2,
        source: fam.source,
        group: fam.group,
      }]);
      // Nothing is forwarded (this wait also lets the second frame through the router).
      assert.deepEqual(await receiveMarkers(rx2, 1, 200), []);
      const after = owner.routeCounters(fam.source, fam.group);
      assert.equal(after?.wrongIf, 2n);
      assert.equal(after?.packets, 6n); // wrong-interface packets count as matched
      const [route] = runInNetns(router, () => dumpKernelRoutes(family, 0));
      assert.equal(route?.packets, 6n);
      assert.equal(route?.wrongIf, 2n);
      const [shown] = ipJson<ShownRoute[]>(
        "-n",
        router,
        "-s",
        fam.ipFlag,
        "mroute",
        "show",
        "table",
        family === 4 ? "253" : "254",
      );
      assert.deepEqual([shown?.packets, shown?.["wrong_if"]], [6, 2]);
      assert.ok(route !== undefined && route.idleMs !== null && route.idleMs < 5000);
      // A second read finds nothing more: at most one WRONGVIF per route per 3 s.
      assert.deepEqual(owner.readUpcalls(), []);

      // A native (*,G) (parent among the outputs) forwards any source with no upcall.
      owner.addMfc({ source: fam.any, group: fam.group2, parent: 0, ttls: ttls({ 0: 1, 1: 1 }) });
      assert.ok(tx1.send(
        encodeUdpMulticastFrame({
          srcMac: l1.p.mac,
          src: family === 4 ? parseIpv4("198.51.100.7") : parseIpv6("2001:db8:7::7"),
          group: fam.group2,
          srcPort: 40000,
          dstPort: 5000,
          ttl: 8,
          payload: new Uint8Array([0, 0, 0, 7]),
        }),
      ));
      assert.deepEqual(await receiveMarkers(rx2, 1), [7]);
      assert.deepEqual(owner.readUpcalls(), []);
      assert.equal(owner.routeCounters(fam.any, fam.group2)?.packets, 1n);
    },
  });
}
