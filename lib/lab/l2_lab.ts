/**
 * An L2 gateway lab: a LAN (a bridge with two hosts and the gateway's port), a WAN where the
 * relay, the gateway and each client meet, and netkit's relay, gateway and clients run as
 * real processes in their namespaces. Used by the tests, `bench/l2` and `netkit lab gateway`.
 * Requires root.
 *
 * ```
 *  h1 ─┐                                    ┌─ c1 (TAP nk0)
 *  h2 ─┼─ br0 (lan) ── eth0 gw ── wan ── relay ── c2 (TAP nk0)
 * ```
 *
 * @module
 */

import { requestChecked } from "../daemon/client.ts";
import { type PeerDaemonStatus, peerStatusContext, PeerStatusReply } from "../l2/peer_client.ts";
import { RELAY_STATUS, RelayStatusReply, STATUS_REQUEST } from "../l2/relay_client.ts";
import type { RelayStatus } from "../l2/relay.ts";
import { ChildDaemon } from "./child_daemon.ts";
import { ip, NamespaceLab, sh } from "./namespace_lab.ts";
import { clientLanAddress, clientMac, L2 } from "./lab_addresses.ts";

export { clientLanAddress, clientMac, L2 } from "./lab_addresses.ts";

/** True when the br_netfilter module is loaded (its sysctls exist). */
function bridgeNetfilterLoaded(): boolean {
  try {
    Deno.statSync("/proc/sys/net/bridge");
    return true;
  } catch {
    return false;
  }
}

/** Options for {@linkcode L2Lab}. */
export interface L2LabOptions {
  /** Number of client namespaces (default 1). */
  clients?: number;
  /** The netkit to run (default `./netkit`). */
  executable?: string;
  /** Log level of the processes (default `info`). */
  logLevel?: string;
}

/** The namespaces, links and processes of one lab. */
export class L2Lab implements AsyncDisposable {
  /** The namespaces and veth pairs, removed on dispose. */
  readonly lab: NamespaceLab = new NamespaceLab();
  /** The LAN's namespace: bridge br0 with ports p1, p2 (hosts) and pgw (the gateway). */
  readonly lan: string;
  /** Host 1's namespace: eth0 on the LAN, {@linkcode L2}`.h1`. */
  readonly h1: string;
  /** Host 2's namespace: eth0 on the LAN, {@linkcode L2}`.h2`. */
  readonly h2: string;
  /** The gateway's namespace: eth0 on the LAN, wan (10.99.0.2) towards the relay. */
  readonly gw: string;
  /** The relay's namespace: bridge wan ({@linkcode L2}`.relay`) joining gateway and clients. */
  readonly relayNs: string;
  /** Client i's namespace at index i - 1: wan at 10.99.0.(10 + i). */
  readonly clientNs: string[] = [];
  /** The lab's temporary directory (certificates, rooms, credentials, logs, sockets). */
  readonly dir: string;
  /** The relay's status socket. */
  readonly statusSocket: string;
  readonly #executable: string;
  readonly #logLevel: string;
  #roomCreated = false;
  /** The relay process, once started. */
  relay: ChildDaemon | null = null;
  /** The gateway process, once started. */
  gateway: ChildDaemon | null = null;
  /** Client i's process at index i - 1; null until started. */
  readonly clients: (ChildDaemon | null)[] = [];

  /** Builds the namespaces and links (requires root); nothing runs until started. */
  constructor(options: L2LabOptions = {}) {
    this.#executable = options.executable ?? "./netkit";
    this.#logLevel = options.logLevel ?? "info";
    this.dir = Deno.makeTempDirSync({ prefix: "netkit-l2lab-" });
    this.statusSocket = `${this.dir}/relay.sock`;
    try {
      this.lan = this.lab.netns("lan");
      this.h1 = this.lab.netns("h1");
      this.h2 = this.lab.netns("h2");
      this.gw = this.lab.netns("gw");
      this.relayNs = this.lab.netns("rly");
      ip("-n", this.lan, "link", "add", "br0", "type", "bridge");
      ip("-n", this.lan, "link", "set", "br0", "up");
      // A switch, not a firewall: where br_netfilter is loaded (Docker hosts), bridged frames
      // would cross iptables and conntrack, which drop some a switch forwards (a VM's TSO
      // frame). The setting belongs to the namespace and goes with it.
      if (bridgeNetfilterLoaded()) {
        sh(
          "ip",
          "netns",
          "exec",
          this.lan,
          "sysctl",
          "-q",
          "-w",
          "net.bridge.bridge-nf-call-iptables=0",
          "net.bridge.bridge-nf-call-ip6tables=0",
          "net.bridge.bridge-nf-call-arptables=0",
        );
      }
      for (const [ns, port, addr] of [[this.h1, "p1", L2.h1], [this.h2, "p2", L2.h2]] as const) {
        this.lab.veth({ netns: this.lan, name: port }, { netns: ns, name: "eth0" });
        ip("-n", this.lan, "link", "set", port, "master", "br0");
        ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      }
      this.lab.veth({ netns: this.lan, name: "pgw" }, { netns: this.gw, name: "eth0" });
      ip("-n", this.lan, "link", "set", "pgw", "master", "br0");
      ip("-n", this.relayNs, "link", "add", "wan", "type", "bridge");
      ip("-n", this.relayNs, "link", "set", "wan", "up");
      ip("-n", this.relayNs, "addr", "add", `${L2.relay}/24`, "dev", "wan");
      this.#wan(this.gw, "w-gw", 2);
      for (let i = 1; i <= (options.clients ?? 1); i++) {
        const ns = this.lab.netns(`c${i}`);
        this.clientNs.push(ns);
        this.#wan(ns, `w-c${i}`, 10 + i);
        this.clients.push(null);
      }
    } catch (err) {
      this.lab[Symbol.dispose]();
      Deno.removeSync(this.dir, { recursive: true });
      throw err;
    }
  }

  /** A WAN link from `ns` to the relay's bridge, address 10.99.0.`host`. */
  #wan(ns: string, port: string, host: number): void {
    this.lab.veth({ netns: this.relayNs, name: port }, { netns: ns, name: "wan" });
    ip("-n", this.relayNs, "link", "set", port, "master", "wan");
    ip("-n", ns, "addr", "add", `10.99.0.${host}/24`, "dev", "wan");
  }

  /** The pinned certificate: the relay's own, which its `--dev-cert` writes. */
  get pin(): string {
    return `${this.dir}/certs/relay.pem`;
  }

  /** The relay's rooms file, where {@linkcode createRoom} puts the lab's room. */
  get roomsFile(): string {
    return `${this.dir}/rooms.json`;
  }

  /** The credential file of `name` (`gateway` or `client<i>`), made by {@linkcode createRoom}. */
  credentialFile(name: string): string {
    return `${this.dir}/${name}.cred`;
  }

  /**
   * Creates the lab's room the way an operator does, with `netkit relay room`: the gateway's
   * credential, and one per client allowed its static LAN address. Each goes to a new 0600
   * file. Done once, by the first {@linkcode startRelay}.
   */
  createRoom(): void {
    this.#roomCreated = true;
    const room = (...args: string[]) =>
      sh(this.#executable, "relay", "room", ...args, "--rooms", this.roomsFile);
    room("add", L2.room, "-o", this.credentialFile("gateway"));
    for (let i = 1; i <= this.clientNs.length; i++) {
      room(
        "add-client",
        L2.room,
        `client${i}`,
        "--address",
        clientLanAddress(i),
        "-o",
        this.credentialFile(`client${i}`),
      );
    }
  }

  /** Log file of a process of the lab. */
  logFile(name: string): string {
    return `${this.dir}/${name}.log`;
  }

  /** The log of `name` so far. */
  log(name: string): string {
    try {
      return Deno.readTextFileSync(this.logFile(name));
    } catch {
      return "";
    }
  }

  #spawn(name: string, ns: string, args: string[]): ChildDaemon {
    return ChildDaemon.spawn(`netkit ${name}`, this.#executable, [
      "-n",
      ns,
      "--log-level",
      this.#logLevel,
      "--log-file",
      this.logFile(name),
      ...args,
    ], { detached: true }); // Ctrl-C reaches the lab, which stops them in order
  }

  /** The `netkit` arguments that give client `i` a new credential (see {@linkcode rotateClient}). */
  rotateClientArgs(i: number): string[] {
    return [
      "relay",
      "room",
      "rotate",
      L2.room,
      `client${i}`,
      "--rooms",
      this.roomsFile,
      "-o",
      `${this.credentialFile(`client${i}`)}.new`,
    ];
  }

  /**
   * Rotates client `i`'s credential with `netkit relay room rotate`: the relay ends the session
   * of the old one, and the new one takes its file's place for the next {@linkcode startClient}.
   */
  rotateClient(i: number): void {
    sh(this.#executable, ...this.rotateClientArgs(i));
    Deno.renameSync(`${this.credentialFile(`client${i}`)}.new`, this.credentialFile(`client${i}`));
  }

  /** The relay's command line (after `netkit`): the lab's address, rooms and dev certificate. */
  relayArgs(): string[] {
    return [
      "relay",
      "--listen",
      `${L2.relay}:${L2.port}`,
      "--rooms",
      this.roomsFile,
      "--dev-cert",
      `${this.dir}/certs`,
    ];
  }

  /** Starts the relay and waits until its status socket answers. */
  async startRelay(extra: string[] = []): Promise<ChildDaemon> {
    if (!this.#roomCreated) this.createRoom();
    const relay = this.#spawn("relay", this.relayNs, [
      ...this.relayArgs(),
      "--status-socket",
      this.statusSocket,
      ...extra,
    ]);
    this.relay = relay;
    await relay.waitUntil(async () => (await this.status(), true), { timeoutMs: 10_000 });
    return relay;
  }

  /** The status socket of peer `name` (`gateway`, `client<i>`), in the lab's directory. */
  peerStatusSocket(name: string): string {
    return `${this.dir}/${name}.sock`;
  }

  /** What peer `name` (`gateway`, `client<i>`) answers on its status socket. */
  async peerStatus(name: string): Promise<PeerDaemonStatus> {
    const role = name === "gateway" ? "gateway" : "client";
    return await requestChecked(
      this.peerStatusSocket(name),
      STATUS_REQUEST,
      PeerStatusReply,
      peerStatusContext(role),
      { timeoutMs: 2000 },
    );
  }

  /**
   * The options that point peer `name` (`gateway`, `client<i>`) at the lab's relay, with its
   * status socket in the lab's directory.
   */
  peerArgs(name: string): string[] {
    return [
      "--relay",
      `${L2.relay}:${L2.port}`,
      "--server-name",
      L2.serverName,
      "--relay-cert",
      this.pin,
      "--credential-file",
      this.credentialFile(name),
      "--status-socket",
      this.peerStatusSocket(name),
    ];
  }

  /** Starts the gateway on the LAN and waits until the relay lists it. */
  async startGateway(extra: string[] = []): Promise<ChildDaemon> {
    const gateway = this.#spawn("gateway", this.gw, [
      "gateway",
      ...this.peerArgs("gateway"),
      "--iface",
      "eth0",
      ...extra,
    ]);
    this.gateway = gateway;
    await gateway.waitUntil(() => this.#hasPeer("gateway", null), { timeoutMs: 15_000 });
    return gateway;
  }

  /**
   * Starts client `i` (1-based) with its fixed MAC, waits until the relay lists it and its
   * TAP is up, and gives the TAP the static LAN address unless `address` is false.
   */
  async startClient(
    i: number,
    options: { extra?: string[]; address?: boolean } = {},
  ): Promise<ChildDaemon> {
    const ns = this.clientNs[i - 1]!;
    const client = this.#spawn(`client${i}`, ns, [
      "client",
      ...this.peerArgs(`client${i}`),
      "--tap",
      L2.tap,
      "--mac",
      clientMac(i),
      ...(options.extra ?? []),
    ]);
    this.clients[i - 1] = client;
    await client.waitUntil(async () => {
      if (!(await this.#hasPeer("client", clientMac(i)))) return false;
      const [link] = JSON.parse(ip("-j", "-n", ns, "link", "show", L2.tap));
      return (link?.flags ?? []).includes("UP");
    }, { timeoutMs: 15_000 });
    if (options.address ?? true) {
      ip("-n", ns, "addr", "add", `${clientLanAddress(i)}/24`, "dev", L2.tap);
    }
    return client;
  }

  async #hasPeer(role: string, mac: string | null): Promise<boolean> {
    const status = await this.status();
    return status.rooms.some((r) =>
      r.peers.some((p) =>
        p.role === role && p.state === "active" && (mac === null || p.mac === mac)
      )
    );
  }

  /** The relay's status. */
  async status(): Promise<RelayStatus> {
    return await requestChecked(this.statusSocket, STATUS_REQUEST, RelayStatusReply, RELAY_STATUS, {
      timeoutMs: 2000,
    });
  }

  /** `ping -c count` from namespace `ns`; true when every reply came. */
  ping(ns: string, address: string, count = 3, extra: string[] = []): boolean {
    try {
      sh(
        "ip",
        "netns",
        "exec",
        ns,
        "ping",
        "-q",
        "-c",
        String(count),
        "-i",
        "0.2",
        "-W",
        "2",
        ...extra,
        address,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Stops every process (SIGTERM first), removes the namespaces and the lab's files. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(
      [...this.clients, this.gateway].map((p) => p?.stop()),
    );
    await this.relay?.stop();
    this.lab[Symbol.dispose]();
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Already gone.
    }
  }
}
