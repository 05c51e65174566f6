/**
 * A multicast routing lab: sender → router → receiver namespaces over two veth pairs, with IPv4
 * and IPv6 addresses; multicast UDP sent from the sender with an exact TTL (raw frames, so any
 * source address and TTL can be used), and real UDP sockets in the receiver joined to groups.
 * Used by the tests, `bench/mroute` and `netkit lab mroute`. Requires root.
 *
 * @module
 */

import { delay } from "../async.ts";
import { ip, NamespaceLab, type VethEnd } from "./namespace_lab.ts";
import { runInNetns } from "../net/netns.ts";
import { PacketSocket } from "../net/packet_socket.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";
import { encodeUdpMulticastFrame } from "../packet/udp_frame.ts";
import { ADDR } from "./lab_addresses.ts";

export { ADDR } from "./lab_addresses.ts";

/** The three namespaces and the veth ends: s0 (sender) — r1, r2 (router) — c0 (receiver). */
export class MulticastLab implements Disposable {
  /** The namespaces and veth pairs, removed on dispose. */
  readonly lab: NamespaceLab = new NamespaceLab();
  /** The sender's namespace (s0). */
  readonly sender: string;
  /** The router's namespace (r1 towards the sender, r2 towards the receiver). */
  readonly router: string;
  /** The receiver's namespace (c0). */
  readonly receiver: string;
  /** The sender's interface. */
  readonly s0: VethEnd;
  /** The receiver's interface. */
  readonly c0: VethEnd;

  /** Builds the three namespaces, links and IPv4/IPv6 addresses ({@linkcode ADDR}); needs root. */
  constructor() {
    this.sender = this.lab.netns("snd");
    this.router = this.lab.netns("rtr");
    this.receiver = this.lab.netns("rcv");
    const [s0] = this.lab.veth({ netns: this.sender, name: "s0" }, {
      netns: this.router,
      name: "r1",
    });
    const [, c0] = this.lab.veth({ netns: this.router, name: "r2" }, {
      netns: this.receiver,
      name: "c0",
    });
    this.s0 = s0;
    this.c0 = c0;
    const addr = (ns: string, dev: string, ...a: string[]) =>
      ip("-n", ns, "addr", "add", ...a, "dev", dev);
    addr(this.sender, "s0", `${ADDR.sender4}/24`);
    addr(this.router, "r1", `${ADDR.router4in}/24`);
    addr(this.router, "r2", `${ADDR.router4out}/24`);
    addr(this.receiver, "c0", `${ADDR.receiver4}/24`);
    addr(this.sender, "s0", `${ADDR.sender6}/64`, "nodad");
    addr(this.router, "r1", `${ADDR.router6in}/64`, "nodad");
    addr(this.router, "r2", `${ADDR.router6out}/64`, "nodad");
    addr(this.receiver, "c0", `${ADDR.receiver6}/64`, "nodad");
  }

  /** Removes the namespaces (and with them their links and anything the kernel holds there). */
  [Symbol.dispose](): void {
    this.lab[Symbol.dispose]();
  }

  /** `ip -s -j mroute` (or -6) in the router. */
  kernelRoutes(family: 4 | 6): Record<string, unknown>[] {
    return JSON.parse(
      ip("-n", this.router, ...(family === 6 ? ["-6"] : []), "-s", "-j", "mroute", "show"),
    );
  }

  /** Sends `count` UDP datagrams from the sender to `group`:`port` with `ttl`, from `source`. */
  send(
    group: string,
    options: { source?: string; ttl?: number; count?: number; port?: number; tag?: string } = {},
  ): void {
    const v6 = group.includes(":");
    const src = options.source ?? (v6 ? ADDR.sender6 : ADDR.sender4);
    using socket = runInNetns(this.sender, () => PacketSocket.open({ interface: "s0" }));
    for (let i = 0; i < (options.count ?? 3); i++) {
      socket.send(encodeUdpMulticastFrame({
        srcMac: this.s0.mac,
        src: v6 ? parseIpv6(src) : parseIpv4(src),
        group: v6 ? parseIpv6(group) : parseIpv4(group),
        srcPort: 40000,
        dstPort: options.port ?? 5000,
        ttl: options.ttl ?? 8,
        payload: new TextEncoder().encode(`${options.tag ?? "hello"}-${i}`),
      }));
    }
  }

  /** A UDP socket in the receiver joined to `group` on c0. */
  async listen(group: string, port = 5000): Promise<UdpReceiver> {
    const v6 = group.includes(":");
    const conn = runInNetns(
      this.receiver,
      () =>
        Deno.listenDatagram({
          transport: "udp",
          hostname: v6 ? "::" : "0.0.0.0",
          port,
          reuseAddress: true,
        }),
    );
    try {
      if (v6) await conn.joinMulticastV6(group, this.c0.ifindex);
      else await conn.joinMulticastV4(group, ADDR.receiver4);
    } catch (err) {
      conn.close();
      throw err;
    }
    return new UdpReceiver(conn);
  }
}

/** Collects datagrams on a joined UDP socket. */
export class UdpReceiver implements Disposable {
  readonly #conn: Deno.DatagramConn;
  /** Datagrams received and not yet collected, decoded as UTF-8, oldest first. */
  readonly received: string[] = [];
  readonly #loop: Promise<void>;

  /** Starts receiving on `conn`, which it owns from now on. */
  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    this.#loop = (async () => {
      try {
        for (;;) {
          const [data] = await conn.receive();
          this.received.push(new TextDecoder().decode(data));
        }
      } catch {
        // Closed.
      }
    })();
  }

  /** Waits up to `ms` for `count` datagrams (or just `ms` when expecting none) and returns them. */
  async collect(count: number, ms = 2000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && (count === 0 || this.received.length < count)) {
      await delay(20);
    }
    return this.received.splice(0);
  }

  /** Closes the socket; the receive loop ends on its own. */
  [Symbol.dispose](): void {
    this.#conn.close();
  }

  /** Closes and waits for the receive loop to end. */
  async close(): Promise<void> {
    this.#conn.close();
    await this.#loop;
  }
}
