/**
 * The `netkit lsoe` daemon: one per network namespace. It speaks LSoE on every interface it is
 * given (or, with none given, on every Ethernet interface that is up, including those that
 * appear later), keeps the node's addresses current from rtnetlink, runs the sessions through
 * one {@linkcode LsoeEngine} and serves the contract of lib/lsoe/client.ts.
 *
 * One socket per interface, bound to the LSoE EtherType, with a `PACKET_MR_MULTICAST`
 * membership for the HELLO group (no interface flag is touched) and the kernel told to keep our
 * own transmissions away. A frame is checked once, here at the edge: its datagram header and
 * checksum, then reassembly, then the PDU's strict lengths; the engine sees only whole, valid
 * PDUs. What is refused is counted by reason and shown in STATUS.
 *
 * An interface that goes down or away closes its sessions and stops its HELLOs; one that comes
 * back (or appears) is spoken on again. Requires root (CAP_NET_RAW, CAP_NET_ADMIN for the
 * netlink groups) and `--allow-all`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { DaemonLoop, sleepUntil } from "../daemon/loop.ts";
import { errorMessage, NetkitError } from "../errors.ts";
import { ControlServer, EventHub } from "../ipc/mod.ts";
import { controlSocketPath } from "../ipc/run_dir.ts";
import { AddressMonitor } from "../net/address_monitor.ts";
import { InterfaceFlag, LinkType } from "../net/interfaces.ts";
import { LinkMonitor } from "../net/link_monitor.ts";
import { AddressFlag, type Link } from "../net/netlink_messages.ts";
import { currentNetnsId } from "../net/netns_names.ts";
import { FrameBatch } from "../net/frame_batch.ts";
import { PacketSocket, PacketType } from "../net/packet_socket.ts";
import { openCheckedFile } from "../net/safe_file.ts";
import { isMalformed } from "../packet/errors.ts";
import {
  decodeDatagram,
  decodePdu,
  encodeDatagrams,
  encodeLsoeFrame,
  encodePdu,
  type LsoePdu,
} from "../packet/lsoe.ts";
import { bytesEqual } from "../packet/bytes.ts";
import { PcapWriter } from "../packet/pcap.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import type { LsoeEvent, StatusReply } from "./client.ts";
import { lsoeSocketName } from "./client.ts";
import {
  DEFAULT_MAX_SESSIONS,
  type EngineInterface,
  type LocalAddress,
  LsoeEngine,
} from "./engine.ts";
import type { LsoeConfig } from "./config.ts";
import { Reassembler } from "./reassembly.ts";

const log = getLogger(["netkit", "lsoe"]);

/** Frames one receive call reads. */
const BATCH_SLOTS = 64;
/** Batches read from one socket per wake-up, so one busy link cannot starve the others. */
const MAX_BATCHES_PER_WAKE = 4;
/** The largest frame kept whole: a full datagram and an Ethernet header with a VLAN tag. */
const MAX_FRAME = 1522;
/**
 * Each interface socket's receive buffer: an address change sends every open session a PDU at
 * once, and their ACKs come back as one burst (1,000 neighbours: 1,000 frames, 5 ms apart from
 * the settle), more than the kernel's default buffer of ~200 frames holds.
 */
const RECEIVE_BUFFER = 4 << 20;
/** Ethernet header. */
const ETH = 14;
/** Addresses not announced: not usable (yet), so a peer must not rely on them. */
const UNUSABLE = AddressFlag.TENTATIVE | AddressFlag.DADFAILED;
/**
 * Once a frame is ready, how much longer the loop waits before reading (ms): at 1,000
 * neighbours' keepalives a second, one wake-up then reads several frames instead of one, which
 * halves the daemon's CPU; LSoE's timers (seconds) do not notice 5 ms.
 */
const SETTLE_MS = 5;
/** How soon a stale monitor (a failed re-read) is polled again, ms. */
const STALE_RETRY_MS = 100;

/** Every request the daemon accepts, checked. */
export type LsoeRequest = { action: "STATUS" } | { action: "SUBSCRIBE" };
/** Schema of {@linkcode LsoeRequest}. */
export const LsoeRequest: Schema<LsoeRequest> = exactly<LsoeRequest>()(
  z.discriminatedUnion("action", [
    z.object({ action: z.literal("STATUS") }),
    z.object({ action: z.literal("SUBSCRIBE") }),
  ]),
);

/** An interface being spoken on. */
interface Port {
  readonly link: Link;
  readonly socket: PacketSocket;
}

/** Whether LSoE may be spoken on `link` at all (now or once it is up). */
function candidate(link: Link, wanted: readonly string[] | null): boolean {
  if (link.type !== LinkType.ETHER || (link.flags & InterfaceFlag.LOOPBACK) !== 0) return false;
  if (link.mac === null) return false;
  return wanted === null || wanted.includes(link.name);
}

/** The seconds of `ms`, as the JSON shows timers. */
function seconds(ms: number): number {
  return ms / 1000;
}

/** A running lsoe daemon. */
export class LsoeDaemon implements AsyncDisposable {
  readonly #options: LsoeConfig;
  readonly #links: LinkMonitor;
  readonly #addresses: AddressMonitor;
  readonly #pcap: PcapWriter | null;
  readonly #engine: LsoeEngine;
  readonly #reassembler: Reassembler;
  readonly #events = new EventHub<LsoeEvent>();
  readonly #drops = new Map<string, number>();
  /** Receive slots, shared by the interfaces (read one after the other). */
  readonly #rx = new FrameBatch({ slots: BATCH_SLOTS });
  /** Interfaces spoken on, by index. */
  readonly #ports = new Map<number, Port>();
  /** Interfaces whose socket could not be opened, by index: tried again on the next change. */
  readonly #failed = new Set<number>();
  /** Monotonic ms and wall-clock ms at start: event and status times in ISO 8601. */
  readonly #epoch = { mono: performance.now(), wall: Date.now() };
  #waitSet: number[] | null = null;
  #server: ControlServer | null = null;
  #loop: DaemonLoop | null = null;
  #stopping = false;
  #closed = false;

  private constructor(
    options: LsoeConfig,
    links: LinkMonitor,
    addresses: AddressMonitor,
    pcap: PcapWriter | null,
  ) {
    this.#options = options;
    this.#links = links;
    this.#addresses = addresses;
    this.#pcap = pcap;
    this.#reassembler = new Reassembler({
      timeoutMs: options.reassemblyTimeoutMs,
      macCacheTimeoutMs: options.macCacheTimeoutMs,
      maxPartialPdus: 1024,
      maxPartialBytes: 8 << 20,
    });
    this.#engine = new LsoeEngine({
      localId: options.localId,
      timers: options.timers,
      maxSessions: DEFAULT_MAX_SESSIONS,
      randomNonce: () => crypto.getRandomValues(new Uint8Array(4)),
      send: (ifindex, destination, pdu) => this.#send(ifindex, destination, pdu),
      event: (event) => this.#publish(event),
      wallTime: (now) => this.#wallTime(now),
      drop: (reason) => this.#drop(reason),
    });
  }

  /**
   * Opens the link and address monitors (subscribed before their first dump), checks the
   * interfaces named, starts speaking on those that are up and serves the control socket; a
   * failure undoes everything and throws one clear error.
   */
  static async start(options: LsoeConfig): Promise<LsoeDaemon> {
    let links: LinkMonitor | null = null;
    let addresses: AddressMonitor | null = null;
    let pcap: PcapWriter | null = null;
    let daemon: LsoeDaemon | null = null;
    try {
      links = LinkMonitor.open();
      addresses = AddressMonitor.open();
      for (const name of options.interfaces ?? []) {
        const link = links.find(name);
        if (link === undefined) throw new NetkitError(`No interface named "${name}"`);
        if (!candidate(link, null)) {
          throw new NetkitError(`"${name}" is not an Ethernet interface: LSoE needs one`);
        }
      }
      for (const name of options.mplsLabels.keys()) {
        if (options.interfaces !== null && !options.interfaces.includes(name)) {
          throw new NetkitError(
            `--mpls-label names "${name}", which is not one of the -i interfaces`,
          );
        }
      }
      if (options.pcap !== null) {
        const file = openCheckedFile(options.pcap, {
          what: "pcap file",
          write: true,
          create: true,
          truncate: true,
          mode: 0o644,
        });
        pcap = PcapWriter.create(file, { name: options.pcap });
      }
      daemon = new LsoeDaemon(options, links, addresses, pcap);
      const now = performance.now();
      daemon.#reconcile(now);
      daemon.#announceAddresses(now);
      const self = daemon;
      daemon.#server = await ControlServer.listen({
        path: controlSocketPath(lsoeSocketName(currentNetnsId())),
        schema: LsoeRequest,
        handle: (request, context) => self.#handle(request, context.signal),
      });
      log.info("LSoE started on {interfaces} as {id}, EtherType 0x{type}", {
        interfaces: options.interfaces === null
          ? "every Ethernet interface"
          : options.interfaces.join(", "),
        id: options.localId.toHex(),
        type: options.etherType.toString(16).padStart(4, "0"),
      });
      return daemon;
    } catch (err) {
      if (daemon !== null) await daemon.close();
      else {
        await links?.close();
        await addresses?.close();
        pcap?.close();
      }
      throw err;
    }
  }

  #handle(request: LsoeRequest, signal: AbortSignal): unknown {
    switch (request.action) {
      case "STATUS":
        return this.status();
      case "SUBSCRIBE": {
        // Subscribed before the acknowledgement: whatever happens after it is delivered.
        const events = this.#events.subscribe(signal);
        return (async function* () {
          yield { status: "success", message: "Subscribed to lsoe events." };
          yield* events;
        })();
      }
    }
  }

  /** What `-s` reports. */
  status(): StatusReply {
    const now = performance.now();
    // Frames the kernel had no room for, since the last STATUS: a reason like any other.
    for (const port of this.#ports.values()) {
      try {
        const { drops } = port.socket.stats();
        if (drops > 0) this.#drop("receive_buffer_full", drops);
      } catch {
        // The interface is going: its link notification closes the port.
      }
    }
    const o = this.#options;
    return {
      status: "success",
      pid: Deno.pid,
      local_id: o.localId.toHex(),
      ethertype: o.etherType,
      timers: {
        hello_interval: seconds(o.timers.helloIntervalMs),
        keepalive_send_interval: seconds(o.timers.keepaliveSendIntervalMs),
        keepalive_receive_timeout: seconds(o.timers.keepaliveReceiveTimeoutMs),
        retransmit_initial_interval: seconds(o.timers.retransmitInitialIntervalMs),
        retransmit_exponential_backoff: o.timers.retransmitExponentialBackoff,
        retransmit_max_drop: o.timers.retransmitMaxDrop,
        reassembly_timeout: seconds(o.reassemblyTimeoutMs),
        mac_address_cache_timeout: seconds(o.macCacheTimeoutMs),
      },
      interfaces: this.#engine.interfaces(),
      sessions: this.#engine.sessions(now),
      drops: Object.fromEntries([...this.#drops].sort(([a], [b]) => a.localeCompare(b))),
    };
  }

  #wallTime(now: number): string {
    return new Date(this.#epoch.wall + (now - this.#epoch.mono)).toISOString();
  }

  #drop(reason: string, count = 1): void {
    this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + count);
  }

  #publish(event: LsoeEvent): void {
    switch (event.event) {
      case "session_open":
        log.info("Session open on {interface} with {peer} (Local ID {id})", {
          interface: event.interface,
          peer: event.peer_mac,
          id: event.peer_local_id,
        });
        break;
      case "session_close":
        log.info("Session closed on {interface} with {peer}: {reason}", {
          interface: event.interface,
          peer: event.peer_mac,
          reason: event.reason,
        });
        break;
      case "encapsulations":
        log.debug("{peer} on {interface}: {family} {count}", {
          peer: event.peer_mac,
          interface: event.interface,
          family: event.family,
          count: event.entries.length,
        });
        break;
    }
    if (this.#events.size > 0) this.#events.publish(event);
  }

  /** Sends `pdu` to `destination` on `ifindex`, cut into datagrams. */
  #send(ifindex: number, destination: Uint8Array, pdu: LsoePdu): void {
    const port = this.#ports.get(ifindex);
    if (port === undefined) return;
    for (const datagram of encodeDatagrams(encodePdu(pdu))) {
      const frame = encodeLsoeFrame(destination, port.link.mac!, this.#options.etherType, datagram);
      try {
        port.socket.send(frame);
      } catch (err) {
        // A link going down makes sends fail until its notification arrives.
        this.#drop("send_failed");
        log.debug("{interface}: send failed: {error}", {
          interface: port.link.name,
          error: errorMessage(err),
        });
        return;
      }
      this.#pcap?.write(frame);
    }
  }

  /** Reads what `port`'s socket holds. */
  #drain(port: Port, now: number): void {
    const batch = this.#rx;
    for (let round = 0; round < MAX_BATCHES_PER_WAKE; round++) {
      let n: number;
      try {
        n = port.socket.receiveBatch(batch);
      } catch (err) {
        log.debug("{interface}: receive failed: {error}", {
          interface: port.link.name,
          error: errorMessage(err),
        });
        return;
      }
      for (let i = 0; i < n; i++) this.#receive(port, batch, i, now);
      if (n < batch.slots) return;
    }
  }

  /** Frame `i` of `batch`, from `port`: checked at the edge, then to the engine. */
  #receive(port: Port, batch: FrameBatch, i: number, now: number): void {
    // Our own frames (a kernel older than 4.20 still queues them) and frames for other hosts.
    const type = batch.pktType(i);
    if (type === PacketType.OUTGOING || type === PacketType.OTHERHOST) return;
    const frame = batch.frame(i);
    this.#pcap?.write(frame);
    if (batch.vlanTci(i) !== -1 || batch.truncated(i) || frame.length < ETH) {
      this.#drop(batch.vlanTci(i) !== -1 ? "vlan_tagged" : "runt");
      return;
    }
    const datagram = decodeDatagram(frame.subarray(ETH));
    if (isMalformed(datagram)) {
      this.#drop(datagram.reason);
      return;
    }
    // A view into the slot, reused by the next receive: the engine copies the MAC it keeps.
    const source = batch.source(i);
    const result = this.#reassembler.accept(now, port.link.ifindex, source, datagram);
    if (result.kind === "partial") return;
    if (result.kind === "drop") {
      this.#drop(result.reason);
      return;
    }
    const pdu = decodePdu(result.bytes);
    if (isMalformed(pdu)) {
      this.#drop(pdu.reason);
      return;
    }
    this.#engine.receive(now, port.link.ifindex, source, pdu);
  }

  /** What the engine knows of an interface. */
  #engineInterface(link: Link): EngineInterface {
    return {
      ifindex: link.ifindex,
      name: link.name,
      mac: link.mac ?? new Uint8Array(6),
      loopback: (link.flags & InterfaceFlag.LOOPBACK) !== 0,
      mplsLabel: this.#options.mplsLabels.get(link.name) ?? null,
    };
  }

  /**
   * Makes the ports match the link table: speaks on every candidate that is up with carrier,
   * closes the sessions of those that went down or away. Driven by the table, not by single
   * events, so a resync after lost notifications needs nothing more.
   */
  #reconcile(now: number): void {
    const wanted = this.#options.interfaces;
    for (const [ifindex, port] of this.#ports) {
      const link = this.#links.get(ifindex);
      const gone = link === undefined || !candidate(link, wanted);
      if (
        !gone && link.up && link.carrier && link.mac !== null &&
        bytesEqual(link.mac, port.link.mac!)
      ) {
        if (link.name !== port.link.name) this.#open(link, now, port);
        continue;
      }
      this.#close(ifindex, port, gone ? "interface_removed" : "interface_down", now);
    }
    for (const ifindex of this.#failed) {
      if (this.#links.get(ifindex) === undefined) this.#failed.delete(ifindex);
    }
    for (const link of this.#links.links()) {
      if (this.#ports.has(link.ifindex)) continue;
      if (!candidate(link, wanted) || !link.up || !link.carrier) continue;
      this.#open(link, now, null);
    }
  }

  /** Starts speaking on `link` (or, with `current`, takes its new name). */
  #open(link: Link, now: number, current: Port | null): void {
    let socket = current?.socket ?? null;
    if (socket === null) {
      try {
        socket = PacketSocket.open({
          interface: link.ifindex,
          etherType: this.#options.etherType,
          maxFrame: MAX_FRAME,
          rcvbuf: RECEIVE_BUFFER,
        });
        socket.addMulticast(this.#options.helloGroup);
        socket.ignoreOutgoing();
      } catch (err) {
        socket?.close();
        if (!this.#failed.has(link.ifindex)) {
          log.warn("{interface}: cannot speak LSoE on it: {error}", {
            interface: link.name,
            error: errorMessage(err),
          });
        }
        this.#failed.add(link.ifindex);
        return;
      }
      this.#failed.delete(link.ifindex);
      this.#waitSet = null;
      log.info("Speaking LSoE on {interface}", { interface: link.name });
    }
    this.#ports.set(link.ifindex, { link, socket });
    this.#engine.interfaceUp(now, this.#engineInterface(link));
  }

  #close(
    ifindex: number,
    port: Port,
    reason: "interface_down" | "interface_removed",
    now: number,
  ): void {
    this.#engine.interfaceDown(now, ifindex, reason);
    this.#reassembler.forgetInterface(ifindex);
    port.socket.close();
    this.#ports.delete(ifindex);
    this.#waitSet = null;
    log.info("Stopped speaking on {interface}: {reason}", {
      interface: port.link.name,
      reason: reason === "interface_down" ? "it is down" : "it is gone",
    });
  }

  /** Hands the engine the node's addresses (it sends only what changed). */
  #announceAddresses(now: number): void {
    const addresses: LocalAddress[] = this.#addresses.addresses()
      .filter((a) => (a.flags & UNUSABLE) === 0)
      .map((a) => ({
        ifindex: a.ifindex,
        family: a.family,
        address: a.address,
        prefixLength: a.prefixLength,
        secondary: (a.flags & AddressFlag.SECONDARY) !== 0,
      }));
    const interfaces = this.#links.links().map((link) => this.#engineInterface(link));
    this.#engine.setLocalAddresses(now, addresses, interfaces);
  }

  /** Link notifications: the ports follow the table. A failed re-read is logged, not fatal. */
  #pollLinks(now: number): void {
    try {
      if (this.#links.poll().length === 0) return;
    } catch (err) {
      log.warn("Interface table: {error}; trying again", { error: errorMessage(err) });
      return;
    }
    this.#reconcile(now);
    this.#announceAddresses(now);
  }

  /** Address notifications: the sessions get the new lists. */
  #pollAddresses(now: number): void {
    try {
      if (this.#addresses.poll().length === 0) return;
    } catch (err) {
      log.warn("Address table: {error}; trying again", { error: errorMessage(err) });
      return;
    }
    this.#announceAddresses(now);
  }

  #watched(): number[] {
    this.#waitSet ??= [
      this.#links.fd,
      this.#addresses.fd,
      ...[...this.#ports.values()].map((p) => p.socket.fd),
    ];
    return this.#waitSet;
  }

  /**
   * Serves until {@linkcode stop}, SIGINT or SIGTERM. `loop` is the CLI's, made before the
   * daemon started; without one the run makes its own.
   */
  async run(loop?: DaemonLoop): Promise<number> {
    using own = loop === undefined ? new DaemonLoop() : null;
    const current = loop ?? own!;
    this.#loop = current;
    current.reload = () => "the configuration is read at start only: restart to change it";
    if (this.#stopping) current.stop();
    try {
      await current.poll({
        next: () => {
          const now = performance.now();
          const timedOut = this.#reassembler.expire(now);
          if (timedOut > 0) this.#drop("reassembly_timeout", timedOut);
          const engine = this.#engine.tick(now);
          const reassembly = this.#reassembler.nextDeadline();
          const deadline = engine === null
            ? reassembly
            : reassembly === null
            ? engine
            : Math.min(engine, reassembly);
          // A monitor whose re-read failed is tried again soon: its descriptor may stay quiet.
          if (this.#links.stale) this.#pollLinks(now);
          if (this.#addresses.stale) this.#pollAddresses(now);
          const stale = this.#links.stale || this.#addresses.stale;
          return {
            fds: this.#watched(),
            timeoutMs: Math.min(sleepUntil(deadline, now), stale ? STALE_RETRY_MS : Infinity),
            settleMs: SETTLE_MS,
          };
        },
        ready: (ready) => {
          const now = performance.now();
          for (const fd of ready) {
            if (fd === this.#links.fd) this.#pollLinks(now);
            else if (fd === this.#addresses.fd) this.#pollAddresses(now);
            else {
              for (const port of this.#ports.values()) {
                if (port.socket.fd === fd) {
                  this.#drain(port, now);
                  break;
                }
              }
            }
          }
        },
      });
      if (current.stopping) this.stop();
      return 0;
    } finally {
      this.#loop = null;
    }
  }

  /** Ends {@linkcode run}. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#loop?.stop();
  }

  /** Closes every session (withdrawals reported), the sockets and the monitors. Safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.#engine.closeAll(performance.now());
    this.#events.close();
    await this.#server?.close();
    for (const port of this.#ports.values()) port.socket.close();
    this.#ports.clear();
    this.#waitSet = null;
    await this.#links.close();
    await this.#addresses.close();
    this.#pcap?.close();
    log.info("LSoE stopped");
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
