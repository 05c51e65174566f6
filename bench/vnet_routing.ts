/**
 * Part (a) of bench/vnet.ts: guest-to-guest routed packets per second through `netkit vnet`
 * against the kernel routing the same traffic between the same two guest namespaces.
 *
 * - Guests: namespaces g1 and g2, each with the same addresses for both paths (192.0.2.1/32
 *   and 192.0.2.2/32, default via 169.254.0.1, the gateway's MAC 02:00:00:00:00:01 as a
 *   permanent neighbour, as in `linklocal`).
 * - netkit: a vnet daemon in namespace r with two NICs; their TAPs vm1 and vm2 moved into g1
 *   and g2.
 * - kernel: namespace k with veth pairs k1–kv1 (g1) and k2–kv2 (g2), `ip_forward=1`, the
 *   gateway's MAC and address on k1 and k2, a /32 route and a permanent neighbour per guest.
 *
 * The generator is the same for both: a packet socket in g1 on vm1 or kv1 sends one fixed UDP
 * packet (to 192.0.2.2 port 9) in batches of 64 per system call, as fast as the kernel takes
 * them, for a window; what arrives is g2's `rx_packets` on vm2 or kv2 (the kernel's count),
 * read once it has stopped rising before and after the window, over the window's length. The
 * windows alternate between the paths; each path's rate is the median of its windows. Frames:
 * 64 bytes on the wire (60 without the FCS: UDP payload 18) and 1400-byte IP packets (UDP
 * payload 1372). Before the windows, a few packets over each path are caught in g2 to check
 * they were routed: TTL 63 (sent with 64), source MAC the gateway's.
 *
 * @module
 */

import { ip, linkStats, type NamespaceLab, sh } from "../lib/lab/namespace_lab.ts";
import { FrameBatch } from "../lib/net/frame_batch.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket } from "../lib/net/packet_socket.ts";
import { encodeUdp } from "../lib/packet/udp.ts";
import { parseIpv4 } from "../lib/packet/ipv4.ts";
import { formatMac } from "../lib/packet/mac.ts";
import { GATEWAY_MAC, LINKLOCAL_GATEWAY4 } from "../lib/vnet/config.ts";
import { ipv4Frame } from "../testing/vnet_frames.ts";
import { delay } from "../lib/async.ts";
import { cpuMs, median, settledCount } from "./_shared.ts";
import type { VnetProcess } from "./vnet_process.ts";

/** The two guests, the same on both paths. */
export const ROUTED_GUESTS = [
  { name: "vm1", kernelDev: "kv1", mac: "52:54:00:00:00:01", ipv4: "192.0.2.1" },
  { name: "vm2", kernelDev: "kv2", mac: "52:54:00:00:00:02", ipv4: "192.0.2.2" },
] as const;

/** Frame sizes measured: 64 bytes on the wire (FCS included), a 1400-byte IP packet. */
export const ROUTED_SIZES = [
  { label: "64 B frame", udpPayload: 18 },
  { label: "1400 B packet", udpPayload: 1372 },
] as const;

/** One window of one path. */
export interface RoutedWindow {
  /** Packets the sender's socket took. */
  sent: number;
  /** Packets g2 received. */
  received: number;
  /** The window's length in s. */
  seconds: number;
  /** CPU the vnet daemon used, ms per s of window (netkit path only; null for the kernel). */
  daemonCpuMsPerSecond: number | null;
}

/** One path at one size. */
export interface RoutedResult {
  path: "netkit" | "kernel";
  size: string;
  /** The IP packet's length. */
  ipBytes: number;
  windows: RoutedWindow[];
  /** The median of the windows' received packets per second. */
  packetsPerSecond: number;
  /** The median of the windows' sent packets per second. */
  sentPerSecond: number;
  /** Relative to the kernel path at this size. */
  vsKernel: number;
}

/** The routing check: what one packet looked like on arrival in g2 over each path. */
export interface RoutedCheck {
  path: "netkit" | "kernel";
  /** Its TTL (64 when sent). */
  ttl: number;
  /** Its source MAC. */
  sourceMac: string;
}

/** Part (a)'s report. */
export interface RoutedReport {
  windowMs: number;
  windows: number;
  checks: RoutedCheck[];
  results: RoutedResult[];
}

/** Frames per sendmmsg. */
const BATCH = 64;
const SETTLE = { gapMs: 100, maxMs: 3000 };

function guestPacket(udpPayload: number): Uint8Array {
  const [g1, g2] = ROUTED_GUESTS;
  const src = parseIpv4(g1.ipv4);
  const dst = parseIpv4(g2.ipv4);
  return ipv4Frame({
    srcMac: g1.mac,
    src: g1.ipv4,
    dst: g2.ipv4,
    protocol: 17,
    payload: encodeUdp({
      src,
      dst,
      srcPort: 40000,
      dstPort: 9,
      payload: new Uint8Array(udpPayload),
    }),
  });
}

/** Addresses, routes and the gateway's neighbour entry of a guest on `dev` in `netns`. */
function configureGuest(netns: string, dev: string, address: string, routes: boolean): void {
  ip("-n", netns, "link", "set", dev, "up");
  ip("-n", netns, "addr", "add", `${address}/32`, "dev", dev);
  if (routes) {
    ip("-n", netns, "route", "add", LINKLOCAL_GATEWAY4, "dev", dev);
    ip("-n", netns, "route", "add", "default", "via", LINKLOCAL_GATEWAY4, "dev", dev);
  }
  ip(
    "-n",
    netns,
    "neigh",
    "replace",
    LINKLOCAL_GATEWAY4,
    "lladdr",
    GATEWAY_MAC,
    "dev",
    dev,
    "nud",
    "permanent",
  );
}

/** The two guest namespaces and both paths between them. */
export interface RoutedTopology {
  guests: [string, string];
  kernelRouter: string;
}

/**
 * Builds both paths: the vnet daemon `vnet` (in `router`) gets NICs vm1 and vm2, whose TAPs go
 * into g1 and g2; the kernel router namespace gets veths to them.
 */
export async function buildRoutedTopology(
  lab: NamespaceLab,
  router: string,
  vnet: VnetProcess,
): Promise<RoutedTopology> {
  const guests: [string, string] = [lab.netns("g1"), lab.netns("g2")];
  const kernel = lab.netns("k");
  for (const ns of [...guests, kernel]) {
    // The guests' own IPv6 chatter (router solicitations, MLD) would cross both paths.
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
  }
  sh("ip", "netns", "exec", kernel, "sysctl", "-qw", "net.ipv4.ip_forward=1");
  for (const [i, g] of ROUTED_GUESTS.entries()) {
    const netns = guests[i]!;
    await vnet.addNic({ name: g.name, mac: g.mac, ipv4: g.ipv4 });
    ip("-n", router, "link", "set", g.name, "netns", netns);
    // Only the netkit TAP carries the routes: the generator does not use them, and g2's few
    // ICMP replies (rate-limited port unreachables) take one path, not both.
    configureGuest(netns, g.name, g.ipv4, true);
    const k = `k${i + 1}`;
    lab.veth({ netns: kernel, name: k }, { netns, name: g.kernelDev });
    ip("-n", netns, "link", "set", g.kernelDev, "address", g.mac);
    configureGuest(netns, g.kernelDev, g.ipv4, false);
    ip("-n", kernel, "link", "set", k, "address", GATEWAY_MAC);
    ip("-n", kernel, "addr", "add", `${LINKLOCAL_GATEWAY4}/32`, "dev", k);
    ip("-n", kernel, "route", "add", `${g.ipv4}/32`, "dev", k);
    ip("-n", kernel, "neigh", "replace", g.ipv4, "lladdr", g.mac, "dev", k, "nud", "permanent");
  }
  return { guests, kernelRouter: kernel };
}

/** Sends packets from g1 over `dev` and catches one in g2 on `arrival`: its TTL and source MAC. */
async function checkRouted(
  topology: RoutedTopology,
  dev: string,
  arrival: string,
): Promise<{ ttl: number; sourceMac: string }> {
  const [g1, g2] = topology.guests;
  using rx = runInNetns(g2, () => PacketSocket.open({ interface: arrival, etherType: 0x0800 }));
  using tx = runInNetns(g1, () => PacketSocket.open({ interface: dev, etherType: 0 }));
  const frame = guestPacket(18);
  for (let attempt = 0; attempt < 50; attempt++) {
    tx.send(frame);
    await delay(20);
    for (let got = rx.receive(); got !== null; got = rx.receive()) {
      const f = got.frame;
      // UDP to port 9 from our sender (the guest's kernel may send other IPv4).
      if (f[14 + 9] === 17 && f[14 + 20 + 2] === 0 && f[14 + 20 + 3] === 9) {
        return { ttl: f[14 + 8]!, sourceMac: formatMac(f.subarray(6, 12)) };
      }
    }
  }
  throw new Error(`No test packet from ${dev} in g1 reached ${arrival} in g2`);
}

/** Sends `batch` (all slots) on `socket` as fast as it takes it for `ms`; returns what went out. */
function sendFor(
  socket: PacketSocket,
  batch: FrameBatch,
  ms: number,
): { sent: number; seconds: number } {
  const start = performance.now();
  const end = start + ms;
  let sent = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) sent += socket.sendBatch(batch, BATCH);
  }
  return { sent, seconds: (performance.now() - start) / 1000 };
}

/** Runs part (a) on a built topology. */
export async function measureRouted(
  topology: RoutedTopology,
  vnet: VnetProcess,
  options: { windows: number; windowMs: number; signal?: AbortSignal | undefined },
): Promise<RoutedReport> {
  const [g1, g2] = topology.guests;
  const paths = [
    { path: "netkit" as const, tx: ROUTED_GUESTS[0].name, rx: ROUTED_GUESTS[1].name },
    { path: "kernel" as const, tx: ROUTED_GUESTS[0].kernelDev, rx: ROUTED_GUESTS[1].kernelDev },
  ];
  const checks: RoutedCheck[] = [];
  for (const p of paths) {
    checks.push({ path: p.path, ...(await checkRouted(topology, p.tx, p.rx)) });
  }

  const results: RoutedResult[] = [];
  const settle = { ...SETTLE, signal: options.signal };
  for (const size of ROUTED_SIZES) {
    const frame = guestPacket(size.udpPayload);
    const batch = new FrameBatch({ slots: BATCH, slotSize: 2048 });
    for (let i = 0; i < BATCH; i++) batch.setFrame(i, frame);
    const sockets = paths.map((p) =>
      runInNetns(g1, () => PacketSocket.open({ interface: p.tx, etherType: 0 }))
    );
    try {
      const windows: RoutedWindow[][] = paths.map(() => []);
      // A short unmeasured window per path first: the daemon's routing code compiled by the JIT.
      for (const socket of sockets) sendFor(socket, batch, Math.min(200, options.windowMs));
      for (let w = 0; w < options.windows; w++) {
        for (const [i, p] of paths.entries()) {
          options.signal?.throwIfAborted();
          const received = () => linkStats(g2, p.rx).rx.packets;
          const before = await settledCount(received, settle);
          const cpuBefore = p.path === "netkit" ? cpuMs(vnet.pid) : 0;
          const { sent, seconds } = sendFor(sockets[i]!, batch, options.windowMs);
          const cpu = p.path === "netkit" ? cpuMs(vnet.pid) - cpuBefore : 0;
          const after = await settledCount(received, settle);
          windows[i]!.push({
            sent,
            received: after.count - before.count,
            seconds,
            daemonCpuMsPerSecond: p.path === "netkit" ? cpu / seconds : null,
          });
        }
      }
      const rates = windows.map((ws) => median(ws.map((w) => w.received / w.seconds)));
      for (const [i, p] of paths.entries()) {
        results.push({
          path: p.path,
          size: size.label,
          ipBytes: frame.length - 14,
          windows: windows[i]!,
          packetsPerSecond: rates[i]!,
          sentPerSecond: median(windows[i]!.map((w) => w.sent / w.seconds)),
          vsKernel: rates[i]! / rates[1]!,
        });
      }
    } finally {
      for (const s of sockets) s.close();
    }
  }
  return { windowMs: options.windowMs, windows: options.windows, checks, results };
}
