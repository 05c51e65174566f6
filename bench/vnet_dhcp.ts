/**
 * Part (b) of bench/vnet.ts: DHCPv4 exchanges per second for N distinct MACs (1,000 by
 * default) through `netkit vnet` against dnsmasq serving the same MACs the same addresses, the
 * same driver (bench/dhcp_load.ts) against both, in turns.
 *
 * - netkit: a vnet daemon in its own namespace with one NIC per MAC (a vnet NIC serves one
 *   guest MAC: that is the design, as for a VM), `lan` profile, 10.64.0.0/16 with gateway
 *   10.64.0.1; the TAPs moved into a client namespace, where the driver holds one packet socket
 *   per TAP.
 * - dnsmasq: in its own namespace on one veth end with 10.64.0.1/16, a `dhcp-host=MAC,ADDRESS`
 *   line per MAC and a static range (it serves only those hosts), no DNS, `quiet-dhcp` and no
 *   lease file writes (`leasefile-ro`: netkit keeps no lease database either, the binding is
 *   the NIC's configuration); the driver sends every MAC's messages through one packet socket
 *   on the other end, in a client namespace.
 *
 * The difference is the shape each server is built for: dnsmasq serves any number of hosts on
 * one interface, netkit one guest per TAP. The driver, the MACs, the addresses, the messages,
 * the broadcast flag and the concurrency are the same; each exchange crosses one veth or one
 * TAP each way. An exchange counts when its ACK arrives with the configured address.
 *
 * @module
 */

import { delay } from "../lib/async.ts";
import { ChildDaemon } from "../lib/lab/child_daemon.ts";
import { ip, type NamespaceLab, sh } from "../lib/lab/namespace_lab.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket } from "../lib/net/packet_socket.ts";
import { formatMac } from "../lib/packet/mac.ts";
import { cpuMs, median } from "./_shared.ts";
import { type DhcpLink, type DoraResult, runDora } from "./dhcp_load.ts";
import { residentKib, VnetProcess } from "./vnet_process.ts";

/** The gateway (netkit) and server (dnsmasq) address of the benchmark's subnet. */
const SERVER = "10.64.0.1";
const IPV4 = 0x0800;

/** Client `i`'s MAC and the address both servers give it. */
export function dhcpClient(i: number): { mac: string; address: string } {
  const mac = formatMac(new Uint8Array([0x52, 0x54, 0x01, 0x00, i >> 8, i & 0xff]));
  return { mac, address: `10.64.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` };
}

/** A server set up with its clients' links, ready for rounds. */
interface DhcpSetup extends AsyncDisposable {
  readonly server: "netkit" | "dnsmasq";
  readonly links: DhcpLink[];
  readonly pid: number;
}

/** One server's rounds. */
export interface DhcpServerResult {
  server: "netkit" | "dnsmasq";
  rounds: (Omit<DoraResult, "leases"> & { serverCpuMs: number })[];
  /** The server's CPU time per completed exchange over all rounds, µs. */
  serverCpuUsPerExchange: number;
  /** Every round's every lease was the configured address. */
  allAddressesRight: boolean;
  /** The median of the rounds' exchanges per second. */
  exchangesPerSecond: number;
  /** Relative to dnsmasq. */
  vsDnsmasq: number;
  /** The server's resident memory after the rounds, KiB. */
  residentKib: number;
}

/** Part (b)'s report. */
export interface DhcpReport {
  clients: number;
  concurrency: number;
  rounds: number;
  dnsmasqVersion: string;
  /** The vnet daemon's resident memory before its NICs were added and with them, KiB. */
  vnetResidentKib: { empty: number; withNics: number };
  /** Seconds to add the NICs (one NIC_ADD request each, the state file rewritten each time). */
  nicAddSeconds: number;
  results: DhcpServerResult[];
}

function quietNamespace(netns: string): void {
  for (const key of ["all", "default"]) {
    sh("ip", "netns", "exec", netns, "sysctl", "-qw", `net.ipv6.conf.${key}.disable_ipv6=1`);
  }
}

function openLink(netns: string, dev: string): PacketSocket {
  return runInNetns(netns, () => {
    const socket = PacketSocket.open({ interface: dev, etherType: IPV4 });
    socket.ignoreOutgoing();
    return socket;
  });
}

/** Runs `ip -n NETNS -batch -` over `commands`. */
async function ipBatch(netns: string, commands: string[]): Promise<void> {
  const child = new Deno.Command("ip", {
    args: ["-n", netns, "-batch", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(commands.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`ip -batch failed: ${new TextDecoder().decode(out.stderr)}`);
}

async function vnetSetup(
  lab: NamespaceLab,
  dir: string,
  clients: number,
  signal?: AbortSignal,
): Promise<DhcpSetup & { memory: { empty: number; withNics: number }; addSeconds: number }> {
  const router = lab.netns("dv");
  const guests = lab.netns("dvc");
  quietNamespace(router);
  quietNamespace(guests);
  const vnet = await VnetProcess.start(router, dir, signal);
  const links: DhcpLink[] = [];
  try {
    const empty = residentKib(vnet.pid);
    const start = performance.now();
    const names: string[] = [];
    for (let i = 0; i < clients; i++) {
      signal?.throwIfAborted();
      const { mac, address } = dhcpClient(i);
      const name = `nkd${i}`;
      names.push(name);
      await vnet.addNic({ name, mac, ipv4: `${address}/16`, profile: "lan", gateway4: SERVER });
    }
    const addSeconds = (performance.now() - start) / 1000;
    await ipBatch(router, names.map((n) => `link set ${n} netns ${guests}`));
    await ipBatch(guests, names.map((n) => `link set ${n} up`));
    names.forEach((name, i) => {
      links.push({ socket: openLink(guests, name), macs: [macBytes(dhcpClient(i).mac)] });
    });
    return {
      server: "netkit",
      links,
      pid: vnet.pid,
      memory: { empty, withNics: residentKib(vnet.pid) },
      addSeconds,
      async [Symbol.asyncDispose]() {
        for (const l of links) l.socket.close();
        await vnet[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    for (const l of links) l.socket.close();
    await vnet[Symbol.asyncDispose]();
    throw err;
  }
}

function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}

async function dnsmasqSetup(
  lab: NamespaceLab,
  dir: string,
  clients: number,
  signal?: AbortSignal,
): Promise<DhcpSetup> {
  const server = lab.netns("ds");
  const guests = lab.netns("dsc");
  quietNamespace(server);
  quietNamespace(guests);
  lab.veth({ netns: server, name: "srv" }, { netns: guests, name: "cl" });
  ip("-n", server, "addr", "add", `${SERVER}/16`, "dev", "srv");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const conf = `${dir}/dnsmasq.conf`;
  const hosts = Array.from({ length: clients }, (_, i) => {
    const c = dhcpClient(i);
    return `dhcp-host=${c.mac},${c.address}`;
  });
  await Deno.writeTextFile(
    conf,
    [
      "port=0",
      "interface=srv",
      "bind-interfaces",
      "dhcp-range=10.64.0.0,static,255.255.0.0,1h",
      "leasefile-ro",
      "quiet-dhcp",
      `log-facility=${dir}/dnsmasq.log`,
      `pid-file=${dir}/dnsmasq.pid`,
      "user=root",
      ...hosts,
    ].join("\n") + "\n",
  );
  const daemon = ChildDaemon.spawn("dnsmasq", "ip", [
    ...["netns", "exec", server, "dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`],
  ]);
  try {
    await daemon.waitUntil(() => {
      const listening = sh("ip", "netns", "exec", server, "ss", "-Hlun", "sport", "=", ":67");
      return Promise.resolve(listening.trim() !== "");
    }, { timeoutMs: 10_000, signal });
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const link = {
    socket: openLink(guests, "cl"),
    macs: hosts.map((_, i) => macBytes(dhcpClient(i).mac)),
  };
  return {
    server: "dnsmasq",
    links: [link],
    pid: daemon.pid,
    async [Symbol.asyncDispose]() {
      link.socket.close();
      await daemon.stop();
    },
  };
}

/** `dnsmasq --version`'s first line, shortened. */
function dnsmasqVersion(): string {
  const out = sh("dnsmasq", "--version");
  return /Dnsmasq version (\S+)/.exec(out)?.[1] ?? "unknown";
}

/** Runs part (b): sets up both servers, then `rounds` rounds against each, in turns. */
export async function measureDhcp(
  lab: NamespaceLab,
  dir: string,
  options: {
    clients: number;
    concurrency: number;
    rounds: number;
    signal?: AbortSignal | undefined;
  },
): Promise<DhcpReport> {
  const expected = new Map(
    Array.from({ length: options.clients }, (_, i) => dhcpClient(i)).map((c) => [c.mac, c.address]),
  );
  await using dnsmasq = await dnsmasqSetup(lab, `${dir}/dnsmasq`, options.clients, options.signal);
  await using vnet = await vnetSetup(lab, `${dir}/b`, options.clients, options.signal);
  // The pid of `ip netns exec` is dnsmasq's: it execs.
  const setups = [vnet, dnsmasq];
  const rounds = setups.map(() => [] as (DoraResult & { serverCpuMs: number })[]);
  const dora = {
    concurrency: options.concurrency,
    retransmitMs: 1000,
    timeoutMs: 60_000,
    signal: options.signal,
  };
  // One unmeasured round each: the daemon's DHCP code compiled by the JIT, dnsmasq's caches warm.
  for (const s of setups) await runDora(s.links, dora);
  for (let r = 0; r < options.rounds; r++) {
    for (const [i, s] of setups.entries()) {
      await delay(100, options.signal);
      const before = cpuMs(s.pid);
      const result = await runDora(s.links, dora);
      rounds[i]!.push({ ...result, serverCpuMs: cpuMs(s.pid) - before });
    }
  }
  const rates = rounds.map((rs) => median(rs.map((x) => x.exchangesPerSecond)));
  const results = setups.map((s, i): DhcpServerResult => ({
    server: s.server,
    rounds: rounds[i]!.map(({ leases: _, ...rest }) => rest),
    allAddressesRight: rounds[i]!.every((x) =>
      x.leases.size === expected.size &&
      [...x.leases].every(([mac, address]) => expected.get(mac) === address)
    ),
    exchangesPerSecond: rates[i]!,
    serverCpuUsPerExchange: rounds[i]!.reduce((a, x) => a + x.serverCpuMs, 0) * 1000 /
      rounds[i]!.reduce((a, x) => a + x.completed, 0),
    vsDnsmasq: rates[i]! / rates[1]!,
    residentKib: residentKib(s.pid),
  }));
  return {
    clients: options.clients,
    concurrency: options.concurrency,
    rounds: options.rounds,
    dnsmasqVersion: dnsmasqVersion(),
    vnetResidentKib: vnet.memory,
    nicAddSeconds: vnet.addSeconds,
    results,
  };
}
