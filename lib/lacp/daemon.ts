/**
 * The `netkit lacp` daemon: runs a {@linkcode LacpSystem} on real interfaces. Each port has an
 * AF_PACKET socket for EtherType 0x8809, VLAN-tagged frames included so that they can be refused
 * and counted, with a multicast membership for 01:80:C2:00:00:02
 * (never IFF_PROMISC, so nothing about an interface outlives the daemon); carrier comes from
 * rtnetlink; timers come from one poll loop that wakes at the engine's next deadline. The
 * daemon serves its status on its own control socket, named by network namespace and pid, and
 * holds a lock per interface so two daemons never run on one.
 * Requires root (or CAP_NET_RAW and CAP_NET_ADMIN) and `--allow-all`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { DaemonLoop, sleepUntil } from "../daemon/loop.ts";
import { removeStalePidSockets } from "../daemon/stale.ts";
import { NetkitOsError } from "../errors.ts";
import { ControlServer, controlSocketPath, InstanceLock, runDir } from "../ipc/mod.ts";
import { getInterface, requireEthernet } from "../net/interfaces.ts";
import { type LinkEvent, LinkMonitor } from "../net/link_monitor.ts";
import { currentNetnsId, netnsId, runInNetns } from "../net/netns.ts";
import { PacketSocket, PacketType } from "../net/packet_socket.ts";
import { openCheckedFile } from "../net/safe_file.ts";
import { ETHERTYPE_SLOW, SLOW_PROTOCOLS_MAC } from "../packet/lacp.ts";
import { formatMac, macEquals } from "../packet/mac.ts";
import { PcapWriter } from "../packet/pcap.ts";
import { exactly } from "../zod_exact.ts";
import { controlSocketPrefix, type LacpStatusRequest } from "./client.ts";
import { LACP_DEFAULTS, type LacpDaemonOptions, lacpDaemonOptions } from "./options.ts";
import { LacpSystem } from "./lacp_system.ts";
import { type DaemonStatus, portStatuses } from "./status.ts";

const log = getLogger(["netkit", "lacp"]);

// The options live in options.ts, loadable without the daemon; these stay importable from here.
export { LACP_DEFAULTS, type LacpDaemonOptions, lacpDaemonOptions };

// The contract lives in client.ts; this stays importable from here.
export { controlSocketPrefix };

/** The control request, validated: `{"action": "status"}`. */
const LacpRequest = exactly<LacpStatusRequest>()(z.object({ action: z.literal("status") }));

/** Frames drained per socket per wake-up, so a flood cannot starve timers and status. */
const MAX_FRAMES_PER_WAKE = 512;

/** One interface the daemon runs on. */
interface PortHandle {
  name: string;
  ifindex: number;
  socket: PacketSocket | null;
  /** The interface disappeared; waiting for one of the same name to come back. */
  gone: boolean;
}

function clock(): number {
  return performance.now();
}

/** Runs a synchronous function in the daemon's namespace. */
type NetnsRunner = <T>(fn: () => T) => T;

function netnsRunner(netns: string | undefined): NetnsRunner {
  return netns === undefined ? (fn) => fn() : (fn) => runInNetns(netns, fn);
}

/** Room for bursts: LACP is a few frames a second, but a test peer may flood. */
const SOCKET_BUFFER_BYTES = 1 << 20;

function openSocket(name: string): PacketSocket {
  const socket = PacketSocket.open({
    interface: name,
    etherType: ETHERTYPE_SLOW,
    // Tagged Slow Protocols frames must be seen to be refused: bound to 0x8809 alone, a frame
    // tagged VID 0 (or a VID with no VLAN device) arrives with its tag already gone.
    includeTagged: true,
    maxFrame: 1518,
    rcvbuf: SOCKET_BUFFER_BYTES,
  });
  try {
    socket.addMulticast(SLOW_PROTOCOLS_MAC as Uint8Array);
  } catch (err) {
    socket.close();
    throw err;
  }
  return socket;
}

/** A running LACP daemon. */
export class LacpDaemon implements AsyncDisposable {
  readonly #options: LacpDaemonOptions;
  readonly #ports: PortHandle[];
  readonly #locks: InstanceLock[];
  readonly #monitor: LinkMonitor;
  readonly #pcap: PcapWriter | null;
  readonly #netnsId: number;
  readonly #inNetns: NetnsRunner;
  readonly #started = clock();
  #system!: LacpSystem;
  #server: ControlServer | null = null;
  #loop: DaemonLoop | null = null;
  #stopping = false;
  #closed = false;

  private constructor(
    options: LacpDaemonOptions,
    ports: PortHandle[],
    locks: InstanceLock[],
    monitor: LinkMonitor,
    pcap: PcapWriter | null,
    netnsId: number,
    inNetns: NetnsRunner,
  ) {
    this.#inNetns = inNetns;
    this.#options = options;
    this.#ports = ports;
    this.#locks = locks;
    this.#monitor = monitor;
    this.#pcap = pcap;
    this.#netnsId = netnsId;
  }

  /**
   * Checks the interfaces, claims them, opens sockets, starts the protocol and serves the
   * control socket. Any failure undoes what was done and throws one clear error.
   */
  static async start(options: LacpDaemonOptions): Promise<LacpDaemon> {
    const inNetns = netnsRunner(options.netns);
    const nsId = options.netns === undefined ? currentNetnsId() : netnsId(options.netns);
    const infos = inNetns(() =>
      options.interfaces.map((name) => {
        const info = getInterface(name);
        requireEthernet(info, "LACP");
        return info;
      })
    );
    const locks: InstanceLock[] = [];
    const ports: PortHandle[] = [];
    let monitor: LinkMonitor | null = null;
    let pcap: PcapWriter | null = null;
    try {
      await Deno.mkdir(runDir(), { recursive: true, mode: 0o755 });
      // Sockets are named by pid: those of killed daemons are never met again otherwise.
      await removeStalePidSockets(controlSocketPrefix(nsId));
      for (const info of infos) {
        locks.push(
          await InstanceLock.acquire(`${runDir()}/${controlSocketPrefix(nsId)}if-${info.name}`, {
            busyMessage: (pid) =>
              `Another netkit lacp daemon${
                pid === null ? "" : ` (pid ${pid})`
              } is running on "${info.name}"; ` +
              `stop it with "netkit lacp -k -i ${info.name}"`,
          }),
        );
      }
      for (const info of infos) {
        ports.push({
          name: info.name,
          ifindex: info.ifindex,
          socket: inNetns(() => openSocket(info.name)),
          gone: false,
        });
      }
      monitor = inNetns(() => LinkMonitor.open());
      if (options.pcap !== undefined) {
        const file = openCheckedFile(options.pcap, {
          what: "pcap file",
          write: true,
          create: true,
          truncate: true,
          mode: 0o644,
        });
        pcap = PcapWriter.create(file, { name: options.pcap });
      }
      const daemon = new LacpDaemon(options, ports, locks, monitor, pcap, nsId, inNetns);
      daemon.#system = new LacpSystem({
        actor: {
          system: options.systemId ?? infos[0]!.mac,
          systemPriority: options.systemPriority,
          key: options.key,
          active: options.active,
          shortTimeout: options.fast,
        },
        ports: infos.map((info, i) => ({
          name: info.name,
          port: i + 1,
          portPriority: options.portPriority,
          mac: info.mac,
          enabled: info.up && info.carrier,
        })),
        rules: options.rules,
        transmit: (index, frame) => daemon.#send(index, frame),
      });
      daemon.#server = await ControlServer.listen({
        path: controlSocketPath(`${controlSocketPrefix(nsId)}${Deno.pid}`),
        schema: LacpRequest,
        handle: () => daemon.status(),
      });
      daemon.#system.begin(clock());
      log.info("LACP started on {ports} as system {system} ({mode}, {rate} rate)", {
        ports: options.interfaces.join(", "),
        system: formatMac(options.systemId ?? infos[0]!.mac),
        mode: options.active ? "active" : "passive",
        rate: options.fast ? "fast" : "slow",
      });
      return daemon;
    } catch (err) {
      for (const port of ports) port.socket?.close();
      await monitor?.close();
      pcap?.close();
      for (const lock of locks) await lock.release();
      throw err;
    }
  }

  /** The control socket path this daemon serves. */
  get controlPath(): string {
    return this.#server?.path ?? "";
  }

  /** The protocol engine (for tests and status). */
  get system(): LacpSystem {
    return this.#system;
  }

  #send(index: number, frame: Uint8Array): boolean {
    const socket = this.#ports[index]!.socket;
    if (socket === null) return false;
    try {
      if (!socket.send(frame)) return false;
    } catch (err) {
      // A link going down makes sends fail until the carrier event arrives.
      log.debug("{port} send failed: {error}", {
        port: this.#ports[index]!.name,
        error: String(err),
      });
      return false;
    }
    this.#pcap?.write(frame);
    return true;
  }

  /** What `-s` reports for this daemon. */
  status(): DaemonStatus {
    this.#collectKernelDrops();
    return {
      pid: Deno.pid,
      net_ns_id: this.#netnsId,
      configured_rate_mode: this.#options.fast ? "fast" : "slow",
      active_mode: this.#options.active,
      uptime_seconds: Math.round(clock() - this.#started) / 1000,
      ports: portStatuses(this.#system, clock()),
    };
  }

  /** Adds the kernel's drop counts (PACKET_STATISTICS, which reset when read) to the ports'. */
  #collectKernelDrops(): void {
    this.#ports.forEach((port, i) => {
      if (port.socket !== null) {
        this.#system.countKernelDrops(i, port.socket.stats().drops);
      }
    });
  }

  /**
   * Runs until {@linkcode stop}, SIGINT or SIGTERM, or (with `exitAfterInject`) until an
   * injected LACPDU has been sent on every port where a rule fired. Returns the exit code.
   * `loop` is the CLI's, made before the daemon started; without one the run makes its own.
   */
  async run(loop?: DaemonLoop): Promise<number> {
    using own = loop === undefined ? new DaemonLoop() : null;
    const current = loop ?? own!;
    this.#loop = current;
    if (this.#stopping) current.stop();
    try {
      await current.poll({
        next: () => {
          const now = clock();
          this.#system.tick(now);
          if (this.#options.exitAfterInject && this.#system.injectionComplete()) {
            for (const name of this.#system.injectedPorts()) {
              log.info("Exiting after successful injection and LACPDU transmission on {port}", {
                port: name,
              });
            }
            return null;
          }
          const fds = this.#ports.flatMap((p) => p.socket === null ? [] : [p.socket.fd]);
          return {
            fds: [...fds, this.#monitor.fd],
            timeoutMs: sleepUntil(this.#system.nextDeadline(), now),
          };
        },
        ready: (ready) => {
          const woke = clock();
          this.#ports.forEach((port, i) => {
            if (port.socket !== null && ready.includes(port.socket.fd)) this.#drain(i, woke);
          });
          if (ready.includes(this.#monitor.fd)) this.#onLinkEvents(this.#monitor.poll(), woke);
        },
      });
      // A stop signal stopped the loop, not the daemon: say so as stop() does.
      if (current.stopping) this.stop();
      return 0;
    } finally {
      this.#loop = null;
    }
  }

  /** Ends {@linkcode run} at once. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    log.info("Stopping LACP on {ports}", { ports: this.#ports.map((p) => p.name).join(", ") });
    this.#loop?.stop();
  }

  #drain(index: number, now: number): void {
    const port = this.#ports[index]!;
    for (let n = 0; n < MAX_FRAMES_PER_WAKE && port.socket !== null; n++) {
      let got;
      try {
        got = port.socket.receive();
      } catch (err) {
        // ENETDOWN is reported once when the link goes down; the carrier event follows.
        if (err instanceof NetkitOsError) {
          log.debug("{port} receive failed: {error}", { port: port.name, error: err.message });
          return;
        }
        throw err;
      }
      if (got === null) return;
      // Our own host's transmissions and frames to other addresses are not LACP frames for this
      // port. Tagged ones come with their tag back in place: the engine counts and drops them.
      if (
        got.pktType === PacketType.OUTGOING ||
        !macEquals(got.frame, 0, SLOW_PROTOCOLS_MAC as Uint8Array, 0)
      ) continue;
      this.#pcap?.write(got.frame);
      this.#system.receive(index, got.frame, now);
    }
  }

  #onLinkEvents(events: LinkEvent[], now: number): void {
    for (const event of events) {
      if (event.type === "resync") {
        log.warn("Link notifications were lost; re-read the interface table");
        this.#ports.forEach((port, i) => {
          const link = this.#monitor.get(port.ifindex);
          if (link === undefined && !port.gone) this.#vanished(i, now);
          else if (link !== undefined) this.#system.setEnabled(i, link.up && link.carrier, now);
        });
        continue;
      }
      if (event.type === "added") {
        const index = this.#ports.findIndex((p) => p.gone && p.name === event.link.name);
        if (index >= 0) {
          this.#returned(
            index,
            event.link.ifindex,
            event.link.mac,
            event.link.up && event.link.carrier,
            now,
          );
        }
        continue;
      }
      const index = this.#ports.findIndex((p) => !p.gone && p.ifindex === event.link.ifindex);
      if (index < 0) continue;
      const port = this.#ports[index]!;
      switch (event.type) {
        case "removed":
          this.#vanished(index, now);
          break;
        case "admin":
        case "carrier":
          this.#system.setEnabled(index, event.link.up && event.link.carrier, now);
          break;
        case "renamed":
          log.info("{old} was renamed {port}", { old: port.name, port: event.link.name });
          port.name = event.link.name;
          this.#system.renamePort(index, event.link.name);
          break;
        case "address":
          if (event.link.mac !== null && event.link.mac.length === 6) {
            this.#system.setMac(index, event.link.mac);
          }
          break;
      }
    }
  }

  #vanished(index: number, now: number): void {
    const port = this.#ports[index]!;
    log.warn("{port} disappeared; its port is disabled until an interface of that name returns", {
      port: port.name,
    });
    port.gone = true;
    port.socket?.close();
    port.socket = null;
    this.#system.setEnabled(index, false, now);
  }

  #returned(
    index: number,
    ifindex: number,
    mac: Uint8Array | null,
    enabled: boolean,
    now: number,
  ): void {
    const port = this.#ports[index]!;
    try {
      port.socket = this.#inNetns(() => openSocket(port.name));
    } catch (err) {
      log.warn("{port} returned but cannot be used: {error}", {
        port: port.name,
        error: String(err),
      });
      return;
    }
    port.gone = false;
    port.ifindex = ifindex;
    if (mac !== null && mac.length === 6) this.#system.setMac(index, mac);
    log.info("{port} is back (index {ifindex})", { port: port.name, ifindex });
    this.#system.setEnabled(index, enabled, now);
  }

  /**
   * Stops serving and releases everything: sockets (ending their memberships), the control
   * socket, the link monitor, the capture and the interface locks. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    await this.#server?.close();
    for (const port of this.#ports) {
      port.socket?.close();
      port.socket = null;
    }
    await this.#monitor.close();
    this.#pcap?.close();
    for (const lock of this.#locks) await lock.release();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
