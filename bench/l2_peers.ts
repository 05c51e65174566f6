/**
 * netkit's L2 tunnel against the tools users would pick instead, on one machine in the same
 * run: tinc 1.0 (switch mode, TAP) and n2n 1.3 (supernode and edges). Each tunnel has the same
 * shape: a client namespace with the tunnel's TAP, the relay namespace (netkit's relay, tinc's
 * middle node, n2n's supernode) and a gateway namespace on the LAN bridge of an
 * {@linkcode L2Lab}, the LAN host h1 at the far end. Client and gateway reach each other only
 * through the relay's process: each has a blackhole route for the other's WAN address, and
 * tinc's hosts say `IndirectData = yes`. tinc's and n2n's gateways bridge their TAP with the
 * LAN port (a Linux bridge), as their manuals do; netkit's uses its packet socket.
 *
 * 1. Latency: `ping` from each client namespace to h1, one echo every 10 ms, in interleaved
 *    rounds (kernel path, netkit, tinc, n2n, the order rotating each round) so that all see the
 *    same machine. The kernel path is a veth from netkit's client namespace into the same LAN
 *    bridge. Reported: median, p90 and p99, what each tunnel adds over the kernel path at each
 *    of them, and the ratio of the added medians to tinc's first.
 * 2. Load: 1000-byte frames at a fixed rate into each client TAP (a packet socket, batched),
 *    counted by h1's kernel; frames/s received and the CPU time of the tunnel's three processes
 *    per frame, interleaved likewise.
 * 3. Hops (`--hops N`, needs tshark): N more echoes per tunnel while tshark captures in the
 *    client's, the relay's and the gateway's namespace; kernel timestamps of one clock place
 *    each echo on the client TAP, the client's WAN link, the relay's two ports, the gateway's
 *    WAN link and LAN port, and back. The medians per hop say which process holds the frame
 *    how long. An encrypted datagram is matched to its echo as the first one on that link, in
 *    that direction, at least as long as the frame, after the echo passed the hop before.
 * 4. The floor (with the hops): a bare Deno echo server (bench/echo_floor.ts) in the relay's
 *    namespace, over UDP and over QUIC, one datagram every 10 ms from netkit's client namespace,
 *    its turnaround timed the same way: what a pass through an idle Deno process costs.
 *
 * `--baseline PATH` runs another netkit build (the `./netkit` of a checkout of an earlier
 * commit) as tunnel `netkit-baseline` in a lab of its own, in the same rounds: before and after.
 *
 * A tunnel whose tool is missing is skipped with the reason printed. Run as root:
 * `deno run -P=test bench/l2_peers.ts [--pings N] [--rounds R] [--rate F] [--seconds S]
 * [--hops N] [--tunnels netkit,tinc,n2n] [--baseline PATH] [--json]`. Everything is removed at
 * the end, also on Ctrl-C.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { delay } from "../lib/async.ts";
import { checkTool } from "../lib/doctor/tools.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import { clientLanAddress, L2, L2Lab } from "../lib/lab/l2_lab.ts";
import { ip, sh } from "../lib/lab/namespace_lab.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket } from "../lib/net/packet_socket.ts";
import { ECHO_BYTES } from "./echo_floor.ts";
import { blast, rxPackets, testFrame } from "./l2.ts";
import { cpuMs, median, percentile, runBenchmark, table } from "./_shared.ts";

/** The tunnels compared. */
export const TUNNELS = ["netkit", "tinc", "n2n"] as const;
/** A tunnel, or `netkit-baseline`: another build of netkit (`baseline`), for before and after. */
export type TunnelName = typeof TUNNELS[number] | "netkit-baseline";

/** What to run. */
export interface PeersBenchOptions {
  /** Echoes per path and round (default 250). */
  pings: number;
  /** Interleaved latency rounds (default 8). */
  rounds: number;
  /** Fixed load in frames/s (default 10,000: what all three carry on a 2-core machine). */
  rate: number;
  /** Seconds per load step (default 3); two steps per tunnel, interleaved. */
  seconds: number;
  /** Echoes per tunnel with hop captures (default 300; 0: none). */
  hops: number;
  /** The tunnels to run (default all); netkit always runs. */
  tunnels?: readonly TunnelName[];
  /**
   * Another netkit executable (e.g. the `./netkit` of a checkout of an earlier commit), run as
   * tunnel `netkit-baseline` in a lab of its own, interleaved with the others.
   */
  baseline?: string;
  signal?: AbortSignal;
}

/** Round trips of one path. */
export interface PathLatency {
  path: "kernel" | TunnelName;
  samples: number;
  lost: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
  /** Over the kernel path, at the same percentile (tunnels only). */
  added?: { medianMs: number; p90Ms: number; p99Ms: number };
}

/** One tunnel under the fixed load. */
export interface LoadResult {
  tunnel: TunnelName;
  offeredPerSecond: number;
  sent: number;
  received: number;
  receivedPerSecond: number;
  lossPercent: number;
  /** CPU time of the client's, relay's and gateway's process per frame received (µs). */
  cpuUsPerFrame: { client: number; relay: number; gateway: number; total: number };
}

/** Where an echo is seen, in order, and the time it spends between two of them. */
export const HOPS = [
  "client TAP → WAN",
  "wire to relay",
  "relay client → gateway",
  "wire to gateway",
  "gateway WAN → LAN",
  "LAN and h1",
  "gateway LAN → WAN",
  "wire to relay",
  "relay gateway → client",
  "wire to client",
  "client WAN → TAP",
] as const;

/** The hop breakdown of one tunnel: the median time per hop (ms), in {@linkcode HOPS} order. */
export interface HopBreakdown {
  tunnel: TunnelName;
  /** Echoes found at every point. */
  matched: number;
  hopMs: number[];
  /** Median of the whole round trip, client TAP to client TAP. */
  totalMs: number;
  /** Median of ping's round trips meanwhile. */
  pingMs: number;
}

/** A bare Deno echo server in the relay's namespace (bench/echo_floor.ts): the floor per hop. */
export interface EchoFloor {
  transport: "udp" | "quic";
  samples: number;
  /** Median time the server holds a datagram: in at its link, out again (kernel timestamps). */
  turnaroundMs: number;
  /** Median round trip its driver saw, from the client's namespace. */
  rttMs: number;
}

/** The report. */
export interface PeersReport {
  versions: Partial<Record<TunnelName, string>>;
  skipped: { what: string; reason: string }[];
  latency: PathLatency[];
  /** Each tunnel's added median over tinc's (the first ratio printed). */
  addedVsTinc: Partial<Record<TunnelName, number>>;
  load: LoadResult[];
  hops: HopBreakdown[];
  floor: EchoFloor[];
}

/** One tunnel's namespaces, links and processes. */
interface Tunnel {
  name: TunnelName;
  lab: L2Lab;
  clientNs: string;
  /** The tunnel's TAP in the client namespace. */
  tap: string;
  clientWan: string;
  relayToClient: string;
  relayToGateway: string;
  gatewayNs: string;
  gatewayWan: string;
  processes: { client: number; relay: number; gateway: number };
}

const PING_INTERVAL_MS = 10;
const PING_BYTES = 98; // ping's default: 56 bytes of data, ICMP 8, IPv4 20, Ethernet 14
const LOAD_BYTES = 1000;
const KERNEL_PREFIX = "192.168.60";
const TINC_PORT = 655;
const N2N_PORT = 7654;
const N2N_COMMUNITY = "nkbench";
const FLOOR_PORTS = { udp: 4435, quic: 4436 } as const;
/** Echoes each floor driver sends before the ones counted (they compile the path). */
const FLOOR_WARMUP = 10;
const decoder = new TextDecoder();

/** Round-trip times of `count` echoes from `netns` to `address`, and how many were lost. */
function pingTimes(
  netns: string,
  address: string,
  count: number,
  intervalMs = PING_INTERVAL_MS,
): { times: number[]; lost: number } {
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", netns, "ping", "-n", "-c", String(count), "-i"]
      .concat(String(intervalMs / 1000), "-W", "1", address),
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const times = [...decoder.decode(out.stdout).matchAll(/time=([0-9.]+) ms/g)].map((m) =>
    Number(m[1])
  );
  return { times, lost: count - times.length };
}

/** Waits until `netns` has link `name`. */
async function waitForLink(daemon: ChildDaemon, netns: string, name: string): Promise<void> {
  await daemon.waitUntil(() => Promise.resolve(linkExists(netns, name)), { timeoutMs: 10_000 });
}

function linkExists(netns: string, name: string): boolean {
  try {
    ip("-n", netns, "link", "show", name);
    return true;
  } catch {
    return false;
  }
}

/** A gateway namespace for a peer tool: a port on the LAN bridge (eth0) and a WAN link. */
function peerGateway(lab: L2Lab, short: string, host: number): string {
  const ns = lab.lab.netns(short);
  lab.lab.veth({ netns: lab.lan, name: `p${short}` }, { netns: ns, name: "eth0" });
  ip("-n", lab.lan, "link", "set", `p${short}`, "master", "br0");
  lab.lab.veth({ netns: lab.relayNs, name: `w-${short}` }, { netns: ns, name: "wan" });
  ip("-n", lab.relayNs, "link", "set", `w-${short}`, "master", "wan");
  ip("-n", ns, "addr", "add", `10.99.0.${host}/24`, "dev", "wan");
  ip("-n", ns, "link", "add", "name", "br0", "type", "bridge");
  ip("-n", ns, "link", "set", "eth0", "master", "br0");
  ip("-n", ns, "link", "set", "br0", "up");
  return ns;
}

/** Client and gateway may reach each other only through the relay. */
function separate(clientNs: string, clientWan: string, gatewayNs: string, gatewayWan: string) {
  ip("-n", clientNs, "route", "add", "blackhole", `${gatewayWan}/32`);
  ip("-n", gatewayNs, "route", "add", "blackhole", `${clientWan}/32`);
}

/** Gives a peer tool's client TAP its MAC and the client's LAN address. */
function clientTap(ns: string, tap: string, mac: string, address: string): void {
  ip("-n", ns, "link", "set", tap, "address", mac, "up");
  ip("-n", ns, "addr", "add", `${address}/24`, "dev", tap);
}

/** Puts a peer tool's gateway TAP on the gateway's bridge, with no address of its own. */
function bridgeTap(ns: string, tap: string): void {
  ip("-n", ns, "addr", "flush", "dev", tap);
  ip("-n", ns, "link", "set", tap, "master", "br0", "up");
}

async function waitForPing(daemon: ChildDaemon, ns: string, address: string): Promise<void> {
  await daemon.waitUntil(
    () => Promise.resolve(pingTimes(ns, address, 1, 10).lost === 0),
    { timeoutMs: 20_000 },
  );
}

function version(command: string[], pattern: RegExp): string {
  const out = new Deno.Command(command[0]!, {
    args: command.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  return text.match(pattern)?.[1] ?? "unknown";
}

const TINC_NODES = ["relay", "client", "gateway"] as const;

/**
 * Writes the configuration and keys of tinc's three nodes under `base` and returns each node's
 * directory: switch mode, the relay reachable at the lab's relay address, and every node knowing
 * every host; client and gateway take no direct connection (`IndirectData`).
 */
function configureTinc(base: string): (node: string) => string {
  const dir = (node: string) => `${base}/tinc-${node}`;
  for (const node of TINC_NODES) {
    Deno.mkdirSync(`${dir(node)}/hosts`, { recursive: true });
    Deno.writeTextFileSync(
      `${dir(node)}/tinc.conf`,
      [
        `Name = ${node}`,
        "Mode = switch",
        "AddressFamily = ipv4",
        `Port = ${TINC_PORT}`,
        // The relay carries the others' frames but has no LAN of its own.
        ...(node === "relay"
          ? ["DeviceType = dummy"]
          : ["DeviceType = tap", "Interface = tinc0", "ConnectTo = relay"]),
      ].join("\n") + "\n",
    );
    const keygen = new Deno.Command("tincd", {
      args: ["-c", dir(node), "-K2048"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!keygen.success) throw new Error(`tincd -K: ${decoder.decode(keygen.stderr)}`);
  }
  for (const node of TINC_NODES) {
    const key = Deno.readTextFileSync(`${dir(node)}/hosts/${node}`);
    const head = node === "relay"
      ? `Address = ${L2.relay}\nPort = ${TINC_PORT}\n`
      : "IndirectData = yes\n";
    for (const other of TINC_NODES) {
      Deno.writeTextFileSync(`${dir(other)}/hosts/${node}`, head + key);
    }
  }
  return dir;
}

/** tinc 1.0: `relay` in the relay namespace, `client` and `gateway` connecting to it. */
async function startTinc(lab: L2Lab, daemons: ChildDaemon[]): Promise<Tunnel> {
  const clientNs = lab.clientNs[1]!;
  const gatewayNs = peerGateway(lab, "gt", 3);
  const [clientWan, gatewayWan] = ["10.99.0.12", "10.99.0.3"];
  separate(clientNs, clientWan, gatewayNs, gatewayWan);
  const dir = configureTinc(lab.dir);
  const start = (node: typeof TINC_NODES[number], ns: string) => {
    const daemon = ChildDaemon.spawn(`tincd (${node})`, "ip", [
      "netns",
      "exec",
      ns,
      "tincd",
      "-D",
      "-c",
      dir(node),
      "--pidfile",
      `${dir(node)}/pid`,
    ], { detached: true });
    daemons.push(daemon);
    return daemon;
  };
  const relay = start("relay", lab.relayNs);
  const client = start("client", clientNs);
  const gateway = start("gateway", gatewayNs);
  await waitForLink(client, clientNs, "tinc0");
  await waitForLink(gateway, gatewayNs, "tinc0");
  clientTap(clientNs, "tinc0", "02:00:00:00:02:01", clientLanAddress(21));
  bridgeTap(gatewayNs, "tinc0");
  await waitForPing(client, clientNs, L2.h1);
  return {
    name: "tinc",
    lab,
    clientNs,
    tap: "tinc0",
    clientWan,
    relayToClient: "w-c2",
    relayToGateway: "w-gt",
    gatewayNs,
    gatewayWan,
    processes: { client: client.pid, relay: relay.pid, gateway: gateway.pid },
  };
}

/** n2n 1.3: a supernode in the relay namespace, an edge as client and one as gateway. */
async function startN2n(lab: L2Lab, daemons: ChildDaemon[]): Promise<Tunnel> {
  const clientNs = lab.clientNs[2]!;
  const gatewayNs = peerGateway(lab, "gn", 4);
  const [clientWan, gatewayWan] = ["10.99.0.13", "10.99.0.4"];
  separate(clientNs, clientWan, gatewayNs, gatewayWan);
  const key = crypto.randomUUID();
  const spawn = (what: string, ns: string, args: string[]) => {
    const daemon = ChildDaemon.spawn(what, "ip", ["netns", "exec", ns, ...args], {
      detached: true,
    });
    daemons.push(daemon);
    return daemon;
  };
  const edge = (what: string, ns: string, address: string, extra: string[]) =>
    spawn(what, ns, [
      "env",
      `N2N_KEY=${key}`, // not in argv
      "edge",
      "-d",
      "n2n0",
      "-a",
      address,
      "-s",
      "255.255.255.0",
      "-c",
      N2N_COMMUNITY,
      "-l",
      `${L2.relay}:${N2N_PORT}`,
      ...extra,
    ]);
  const relay = spawn("supernode", lab.relayNs, ["supernode", "-l", String(N2N_PORT)]);
  const client = edge("edge (client)", clientNs, clientLanAddress(31), [
    "-m",
    "02:00:00:00:03:01",
  ]);
  // -r: forward frames of other MACs (the LAN's) through the community.
  const gateway = edge("edge (gateway)", gatewayNs, `${L2.lanPrefix}.4`, ["-r"]);
  await waitForLink(client, clientNs, "n2n0");
  await waitForLink(gateway, gatewayNs, "n2n0");
  bridgeTap(gatewayNs, "n2n0");
  await waitForPing(client, clientNs, L2.h1);
  return {
    name: "n2n",
    lab,
    clientNs,
    tap: "n2n0",
    clientWan,
    relayToClient: "w-c3",
    relayToGateway: "w-gn",
    gatewayNs,
    gatewayWan,
    processes: { client: client.pid, relay: relay.pid, gateway: gateway.pid },
  };
}

async function startNetkit(lab: L2Lab, name: TunnelName = "netkit"): Promise<Tunnel> {
  const relay = await lab.startRelay(["--peer-bandwidth", "0", "--bcast-pps", "0"]);
  const gateway = await lab.startGateway();
  const client = await lab.startClient(1);
  const [clientWan, gatewayWan] = ["10.99.0.11", "10.99.0.2"];
  separate(lab.clientNs[0]!, clientWan, lab.gw, gatewayWan);
  return {
    name,
    lab,
    clientNs: lab.clientNs[0]!,
    tap: L2.tap,
    clientWan,
    relayToClient: "w-c1",
    relayToGateway: "w-gw",
    gatewayNs: lab.gw,
    gatewayWan,
    processes: { client: client.pid, relay: relay.pid, gateway: gateway.pid },
  };
}

/** `counts` rotated by `by`: each round starts with another path. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Runs the benchmark. */
export async function benchL2Peers(options: PeersBenchOptions): Promise<PeersReport> {
  const signal = options.signal;
  const skipped: PeersReport["skipped"] = [];
  const versions: PeersReport["versions"] = {};
  const daemons: ChildDaemon[] = [];
  await using lab = new L2Lab({ clients: 3 });
  await using baseline = options.baseline === undefined
    ? null
    : new L2Lab({ clients: 1, executable: options.baseline });
  try {
    const tunnels: Tunnel[] = [await startNetkit(lab)];
    versions.netkit = version(["./netkit", "version"], /netkit\s+(\S+)/);
    if (baseline !== null) {
      tunnels.push(await startNetkit(baseline, "netkit-baseline"));
      versions["netkit-baseline"] = options.baseline!;
    }
    const c1 = lab.clientNs[0]!;
    // The kernel path: a veth from netkit's client namespace into the same LAN bridge.
    lab.lab.veth({ netns: c1, name: "direct" }, { netns: lab.lan, name: "pk" });
    ip("-n", lab.lan, "link", "set", "pk", "master", "br0");
    ip("-n", c1, "addr", "add", `${KERNEL_PREFIX}.101/24`, "dev", "direct");
    ip("-n", lab.h1, "addr", "add", `${KERNEL_PREFIX}.11/24`, "dev", "eth0");
    for (
      const [name, tools, start] of [
        ["tinc", ["tincd"], startTinc],
        ["n2n", ["supernode", "edge"], startN2n],
      ] as const
    ) {
      signal?.throwIfAborted();
      if (!(options.tunnels ?? TUNNELS).includes(name)) continue;
      const missing = tools.map(checkTool).find((c) => c.status !== "ok");
      if (missing !== undefined) {
        skipped.push({ what: name, reason: missing.detail });
        continue;
      }
      tunnels.push(await start(lab, daemons));
      versions[name] = name === "tinc"
        ? version(["tincd", "--version"], /tinc version (\S+)/)
        : version(["edge", "-h"], /n2n v\.?(\S+)/);
    }
    const paths = [
      { path: "kernel" as const, ns: c1, target: `${KERNEL_PREFIX}.11` },
      ...tunnels.map((t) => ({ path: t.name, ns: t.clientNs, target: L2.h1 })),
    ];
    // Warm up every path (ARP, MAC learning, each process's JIT).
    for (const p of paths) pingTimes(p.ns, p.target, 50);

    const samples = new Map(paths.map((p) => [p.path, { times: [] as number[], lost: 0 }]));
    for (let round = 0; round < options.rounds; round++) {
      for (const p of rotate(paths, round)) {
        signal?.throwIfAborted();
        const { times, lost } = pingTimes(p.ns, p.target, options.pings);
        const into = samples.get(p.path)!;
        into.times.push(...times);
        into.lost += lost;
      }
    }
    const stats = (times: number[]) => ({
      medianMs: median(times),
      p90Ms: percentile(times, 0.9),
      p99Ms: percentile(times, 0.99),
    });
    const kernel = stats(samples.get("kernel")!.times);
    const latency: PathLatency[] = paths.map((p) => {
      const { times, lost } = samples.get(p.path)!;
      const s = stats(times);
      return {
        path: p.path,
        samples: times.length,
        lost,
        ...s,
        ...(p.path === "kernel" ? {} : {
          added: {
            medianMs: s.medianMs - kernel.medianMs,
            p90Ms: s.p90Ms - kernel.p90Ms,
            p99Ms: s.p99Ms - kernel.p99Ms,
          },
        }),
      };
    });
    const tincAdded = latency.find((l) => l.path === "tinc")?.added?.medianMs;
    const addedVsTinc: PeersReport["addedVsTinc"] = {};
    if (tincAdded !== undefined) {
      for (const l of latency) {
        if (l.added !== undefined) addedVsTinc[l.path as TunnelName] = l.added.medianMs / tincAdded;
      }
    }

    const load = await measureLoad(tunnels, options);
    const hops: HopBreakdown[] = [];
    let floor: EchoFloor[] = [];
    if (options.hops > 0) {
      const tshark = checkTool("tshark");
      if (tshark.status !== "ok") skipped.push({ what: "hops", reason: tshark.detail });
      else {
        for (const tunnel of tunnels) {
          signal?.throwIfAborted();
          hops.push(await captureHops(tunnel, options.hops));
        }
        floor = await measureFloor(lab, options.hops);
      }
    }
    return { versions, skipped, latency, addedVsTinc, load, hops, floor };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }
}

/** Every tunnel under the same fixed load, twice, interleaved. */
async function measureLoad(
  tunnels: Tunnel[],
  options: PeersBenchOptions,
): Promise<LoadResult[]> {
  const sums = new Map(tunnels.map((t) => [t.name, { sent: 0, received: 0, cpu: [0, 0, 0] }]));
  for (let round = 0; round < 2; round++) {
    for (const tunnel of rotate(tunnels, round)) {
      options.signal?.throwIfAborted();
      const lab = tunnel.lab;
      const h1Mac = lab.lab.link(lab.h1, "eth0").mac;
      using socket = runInNetns(
        tunnel.clientNs,
        () => PacketSocket.open({ interface: tunnel.tap }),
      );
      const frame = testFrame(LOAD_BYTES, h1Mac, lab.lab.link(tunnel.clientNs, tunnel.tap).mac);
      const pids = Object.values(tunnel.processes);
      const idleStart = rxPackets(lab.h1, "eth0");
      await delay(250, options.signal);
      options.signal?.throwIfAborted();
      const idle = (rxPackets(lab.h1, "eth0") - idleStart) * options.seconds * 4;
      const before = rxPackets(lab.h1, "eth0");
      const cpuBefore = pids.map((pid) => cpuMs(pid));
      const sent = await blast(socket, frame, options.rate, options.seconds);
      await delay(300, options.signal); // the last frames on their way
      options.signal?.throwIfAborted();
      const sum = sums.get(tunnel.name)!;
      sum.sent += sent;
      sum.received += Math.max(0, rxPackets(lab.h1, "eth0") - before - idle);
      pids.forEach((pid, i) => sum.cpu[i]! += cpuMs(pid) - cpuBefore[i]!);
    }
  }
  return tunnels.map((t) => {
    const { sent, received, cpu } = sums.get(t.name)!;
    const perFrame = (ms: number) => received === 0 ? NaN : (ms * 1000) / received;
    return {
      tunnel: t.name,
      offeredPerSecond: options.rate,
      sent,
      received,
      receivedPerSecond: received / (2 * options.seconds),
      lossPercent: sent === 0 ? 100 : (Math.max(0, sent - received) / sent) * 100,
      cpuUsPerFrame: {
        client: perFrame(cpu[0]!),
        relay: perFrame(cpu[1]!),
        gateway: perFrame(cpu[2]!),
        total: perFrame(cpu[0]! + cpu[1]! + cpu[2]!),
      },
    };
  });
}

/** One captured packet: when (ms after the first), where, and what of it matters. */
interface Seen {
  t: number;
  where: string;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  udpLength: number;
  icmpType: number;
  icmpSeq: number;
}

/** tshark on `interfaces` of `netns`, writing to `file`, started once it captures. */
async function startCapture(netns: string, interfaces: string[], file: string) {
  let capturing = false;
  const daemon = ChildDaemon.spawn("tshark", "ip", [
    "netns",
    "exec",
    netns,
    "tshark",
    "-q",
    "-s",
    "128",
    ...interfaces.flatMap((i) => ["-i", i]),
    "-w",
    file,
  ], {
    detached: true,
    onStderrLine: (line) => {
      if (line.startsWith("Capturing on")) capturing = true;
      return capturing; // what came before says why it did not start
    },
  });
  try {
    await daemon.waitUntil(() => Promise.resolve(capturing), { timeoutMs: 15_000 });
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return daemon;
}

function readCapture(file: string, label: string, base: number): Seen[] {
  const out = new Deno.Command("tshark", {
    args: ["-n", "-r", file, "-T", "fields", "-E", "occurrence=f"].concat(
      ...["frame.time_epoch", "frame.interface_name", "ip.src", "ip.dst", "udp.length"]
        .concat("icmp.type", "icmp.seq", "udp.srcport", "udp.dstport").map((f) => ["-e", f]),
    ),
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`tshark -r ${file}: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout).split("\n").filter((l) => l !== "").map((line) => {
    const [time, iface, src, dst, udp, type, seq, srcPort, dstPort] = line.split("\t");
    const [s, f = "0"] = time!.split(".");
    return {
      t: (Number(s) - base) * 1000 + Number(`0.${f}`) * 1000,
      where: `${label}:${iface}`,
      src: src ?? "",
      dst: dst ?? "",
      srcPort: Number(srcPort || 0),
      dstPort: Number(dstPort || 0),
      udpLength: Number(udp || 0),
      icmpType: type === "" || type === undefined ? -1 : Number(type),
      icmpSeq: seq === "" || seq === undefined ? -1 : Number(seq),
    };
  });
}

/**
 * Pings `count` times through `tunnel` while tshark captures in its three namespaces, and
 * returns the median time per hop of the echoes seen at every point.
 */
async function captureHops(tunnel: Tunnel, count: number): Promise<HopBreakdown> {
  const lab = tunnel.lab;
  const files = {
    client: `${lab.dir}/hops-${tunnel.name}-client.pcapng`,
    relay: `${lab.dir}/hops-${tunnel.name}-relay.pcapng`,
    gateway: `${lab.dir}/hops-${tunnel.name}-gateway.pcapng`,
  };
  const captures: ChildDaemon[] = [];
  let pings: number[] = [];
  try {
    const started = await Promise.allSettled([
      startCapture(tunnel.clientNs, [tunnel.tap, "wan"], files.client),
      startCapture(lab.relayNs, [tunnel.relayToClient, tunnel.relayToGateway], files.relay),
      startCapture(tunnel.gatewayNs, ["wan", "eth0"], files.gateway),
    ]);
    for (const s of started) if (s.status === "fulfilled") captures.push(s.value);
    for (const s of started) if (s.status === "rejected") throw s.reason;
    pings = pingTimes(tunnel.clientNs, L2.h1, count).times;
    await delay(500);
  } finally {
    // SIGTERM: tshark finishes its file.
    await Promise.all(captures.map((c) => c.stop()));
  }
  const base = Math.floor(Date.now() / 1000) - 3600;
  const seen = [
    ...readCapture(files.client, "client", base),
    ...readCapture(files.relay, "relay", base),
    ...readCapture(files.gateway, "gateway", base),
  ].sort((a, b) => a.t - b.t);
  const carrier = (where: string, from: string | null, to: string | null) => (p: Seen) =>
    p.where === where && p.udpLength >= PING_BYTES && (from === null || p.src === from) &&
    (to === null || p.dst === to);
  const echo = (where: string, type: number) => (p: Seen, seq: number) =>
    p.where === where && p.icmpType === type && p.icmpSeq === seq;
  const c = (i: string) => `client:${i}`;
  const r = (i: string) => `relay:${i}`;
  const g = (i: string) => `gateway:${i}`;
  // The points in order; an echo point matches its sequence number, a carrier the next
  // datagram long enough on that link in that direction.
  const points: ((p: Seen, seq: number) => boolean)[] = [
    echo(c(tunnel.tap), 8),
    carrier(c("wan"), tunnel.clientWan, null),
    carrier(r(tunnel.relayToClient), tunnel.clientWan, null),
    carrier(r(tunnel.relayToGateway), null, tunnel.gatewayWan),
    carrier(g("wan"), null, tunnel.gatewayWan),
    echo(g("eth0"), 8),
    echo(g("eth0"), 0),
    carrier(g("wan"), tunnel.gatewayWan, null),
    carrier(r(tunnel.relayToGateway), tunnel.gatewayWan, null),
    carrier(r(tunnel.relayToClient), null, tunnel.clientWan),
    carrier(c("wan"), null, tunnel.clientWan),
    echo(c(tunnel.tap), 0),
  ];
  const perHop: number[][] = HOPS.map(() => []);
  const totals: number[] = [];
  const starts = seen.filter((p) => points[0]!(p, p.icmpSeq));
  for (const start of starts) {
    const seq = start.icmpSeq;
    const times = [start.t];
    let from = seen.indexOf(start);
    for (const point of points.slice(1)) {
      const at = seen.findIndex((p, i) => i > from && point(p, seq));
      // Lost, or matched past the next echo (10 ms later): not this echo's.
      if (at < 0 || seen[at]!.t - start.t > PING_INTERVAL_MS) break;
      times.push(seen[at]!.t);
      from = at;
    }
    if (times.length !== points.length) continue;
    for (let i = 0; i < HOPS.length; i++) perHop[i]!.push(times[i + 1]! - times[i]!);
    totals.push(times[times.length - 1]! - times[0]!);
  }
  return {
    tunnel: tunnel.name,
    matched: totals.length,
    hopMs: perHop.map((h) => median(h)),
    totalMs: median(totals),
    pingMs: median(pings),
  };
}

/** The floor: bench/echo_floor.ts over UDP and QUIC, client namespace → relay namespace. */
async function measureFloor(lab: L2Lab, count: number): Promise<EchoFloor[]> {
  const script = new URL("./echo_floor.ts", import.meta.url).pathname;
  const deno = (netns: string, args: string[]) =>
    ["netns", "exec", netns, Deno.execPath(), "run", "--quiet", "-A", "--unstable-net", script]
      .concat(args);
  const certs = `${lab.dir}/certs`;
  const servers = [
    ChildDaemon.spawn(
      "bench/echo_floor.ts serve udp",
      "ip",
      deno(lab.relayNs, ["serve", "udp", String(FLOOR_PORTS.udp)]),
      { detached: true },
    ),
    ChildDaemon.spawn(
      "bench/echo_floor.ts serve quic",
      "ip",
      deno(lab.relayNs, ["serve", "quic", String(FLOOR_PORTS.quic)])
        .concat(`${certs}/relay.pem`, `${certs}/relay-key.pem`),
      { detached: true },
    ),
  ];
  const file = `${lab.dir}/floor.pcapng`;
  const rtt: Record<string, number[]> = {};
  let capture: ChildDaemon | null = null;
  try {
    for (
      const [server, port] of [[servers[0]!, FLOOR_PORTS.udp], [
        servers[1]!,
        FLOOR_PORTS.quic,
      ]] as const
    ) {
      await server.waitUntil(
        () =>
          Promise.resolve(
            sh("ip", "netns", "exec", lab.relayNs, "ss", "-Hlun", `sport = :${port}`) !== "",
          ),
        { timeoutMs: 15_000 },
      );
    }
    capture = await startCapture(lab.relayNs, ["w-c1"], file);
    const drivers = {
      udp: [L2.relay, String(FLOOR_PORTS.udp)],
      quic: [L2.relay, String(FLOOR_PORTS.quic), L2.serverName, lab.pin],
    };
    for (const [transport, args] of Object.entries(drivers)) {
      const out = await new Deno.Command("ip", {
        args: deno(lab.clientNs[0]!, ["drive", transport, ...args, String(count + FLOOR_WARMUP)]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`bench/echo_floor.ts drive ${transport}: ${decoder.decode(out.stderr)}`);
      }
      rtt[transport] = JSON.parse(decoder.decode(out.stdout)).rttMs.slice(FLOOR_WARMUP);
    }
    await delay(300);
  } finally {
    await capture?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }
  const seen = readCapture(file, "relay", Math.floor(Date.now() / 1000) - 3600)
    .sort((a, b) => a.t - b.t);
  return (["udp", "quic"] as const).map((transport) => {
    const port = FLOOR_PORTS[transport];
    const turnarounds: number[] = [];
    let arrived: number | null = null;
    for (const p of seen) {
      if (p.udpLength < ECHO_BYTES) continue; // QUIC's acknowledgements
      if (p.dstPort === port) arrived = p.t;
      else if (p.srcPort === port && arrived !== null) {
        turnarounds.push(p.t - arrived);
        arrived = null;
      }
    }
    const counted = turnarounds.slice(FLOOR_WARMUP);
    return {
      transport,
      samples: counted.length,
      turnaroundMs: median(counted),
      rttMs: median(rtt[transport] ?? []),
    };
  });
}

function ms(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(3);
}

/** The report as text: the ratio to tinc first. */
export function formatPeersReport(report: PeersReport): string {
  const named = (t: string) =>
    report.versions[t as TunnelName] === undefined ? t : `${t} ${report.versions[t as TunnelName]}`;
  const added = (t: string) => report.latency.find((l) => l.path === t)?.added?.medianMs;
  const lines = [
    "bench/l2_peers: client → relay → gateway → LAN host, netkit against tinc and n2n, interleaved",
    "",
  ];
  if (report.addedVsTinc.tinc !== undefined) {
    for (
      const t of (["netkit", "netkit-baseline", "n2n"] as const).filter((t) =>
        added(t) !== undefined
      )
    ) {
      lines.push(
        `${t} adds ${ms(added(t))} ms median round trip over the kernel path: ${
          report.addedVsTinc[t]!.toFixed(2)
        }x tinc's ${ms(added("tinc"))} ms`,
      );
    }
  } else lines.push("no ratio to tinc: tinc did not run");
  for (const s of report.skipped) lines.push(`skipped ${s.what}: ${s.reason}`);
  const kernel = report.latency.find((l) => l.path === "kernel");
  lines.push(
    "",
    `round trip, ping every ${PING_INTERVAL_MS} ms, ${PING_BYTES}-byte frames, ${
      kernel?.samples ?? 0
    } kernel-path samples; added = the tunnel's percentile − the kernel path's:`,
    ...table(
      ["path", "samples", "lost", "median", "p90", "p99", "added median", "p90", "p99", "vs tinc"],
      report.latency.map((l) => [
        named(l.path),
        String(l.samples),
        String(l.lost),
        ms(l.medianMs),
        ms(l.p90Ms),
        ms(l.p99Ms),
        ms(l.added?.medianMs),
        ms(l.added?.p90Ms),
        ms(l.added?.p99Ms),
        l.path === "kernel"
          ? ""
          : `${report.addedVsTinc[l.path as TunnelName]?.toFixed(2) ?? "-"}x`,
      ]),
    ),
    "  (ms)",
    "",
  );
  if (report.load.length > 0) {
    const tinc = report.load.find((l) => l.tunnel === "tinc");
    lines.push(
      `fixed load: ${LOAD_BYTES}-byte frames offered at ${report.load[0]!.offeredPerSecond}/s:`,
      ...table(
        ["tunnel", "sent", "received", "received/s", "loss", "CPU/frame c/r/g", "total", "vs tinc"],
        report.load.map((l) => [
          named(l.tunnel),
          String(l.sent),
          String(l.received),
          l.receivedPerSecond.toFixed(0),
          `${l.lossPercent.toFixed(2)} %`,
          [l.cpuUsPerFrame.client, l.cpuUsPerFrame.relay, l.cpuUsPerFrame.gateway]
            .map((u) => u.toFixed(1)).join("/"),
          `${l.cpuUsPerFrame.total.toFixed(1)} µs`,
          tinc === undefined
            ? "-"
            : `${(l.cpuUsPerFrame.total / tinc.cpuUsPerFrame.total).toFixed(2)}x`,
        ]),
      ),
      "  (CPU: the client's, relay's and gateway's processes, per frame received)",
      "",
    );
  }
  if (report.hops.length > 0) {
    lines.push(
      "where one echo spends its time (median ms per hop, from kernel timestamps of tshark captures):",
      ...table(
        ["hop", ...report.hops.map((h) => `${h.tunnel} (${h.matched})`)],
        [
          ...HOPS.map((hop, i) => [hop, ...report.hops.map((h) => ms(h.hopMs[i]))]),
          ["round trip, TAP to TAP", ...report.hops.map((h) => ms(h.totalMs))],
          ["ping's round trip meanwhile", ...report.hops.map((h) => ms(h.pingMs))],
        ],
      ),
    );
  }
  if (report.floor.length > 0) {
    const relay = report.hops.find((h) => h.tunnel === "netkit");
    lines.push(
      "",
      `the floor: a bare Deno echo server in the relay's namespace, one ${ECHO_BYTES}-byte datagram every ${PING_INTERVAL_MS} ms:`,
      ...table(
        ["transport", "samples", "turnaround", "echo round trip"],
        report.floor.map((f) => [f.transport, String(f.samples), ms(f.turnaroundMs), ms(f.rttMs)]),
      ),
      `  (ms; netkit's relay holds a frame ${ms(relay?.hopMs[2])} ms on the way to the gateway, ${
        ms(relay?.hopMs[8])
      } ms on the way back)`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pings: { type: "string", default: "250" },
      rounds: { type: "string", default: "8" },
      rate: { type: "string", default: "10000" },
      seconds: { type: "string", default: "3" },
      hops: { type: "string", default: "300" },
      tunnels: { type: "string", default: TUNNELS.join(",") },
      baseline: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  await runBenchmark(
    "l2_peers",
    values.json,
    (signal) =>
      benchL2Peers({
        pings: Number(values.pings),
        rounds: Number(values.rounds),
        rate: Number(values.rate),
        seconds: Number(values.seconds),
        hops: Number(values.hops),
        tunnels: values.tunnels.split(",") as TunnelName[],
        ...(values.baseline === undefined ? {} : { baseline: values.baseline }),
        signal,
      }),
    formatPeersReport,
  );
}
