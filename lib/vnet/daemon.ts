/**
 * The `netkit vnet` daemon: one per namespace. It owns its NICs' devices (a TAP it creates or
 * opens, or an interface served through AF_PACKET) and an optional uplink (a TUN device into the
 * host's kernel), runs every frame through the {@linkcode Dataplane}, keeps its NICs in a state
 * file (restored at start, re-read on SIGHUP) and serves the contract of lib/vnet/client.ts.
 *
 * Frames move in batches through one {@linkcode BufferArena} (huge pages when reserved, else
 * transparent huge pages, else normal pages; SHOW says which): one FFI call reads up to 64
 * frames from a device into receive slots, routed frames are copied once into transmit slots,
 * and each run of frames for one device is written with one FFI call.
 *
 * A device that fails (an attached interface deleted, a TAP's interface removed) is closed and
 * its NIC shown as `gone`; the daemon goes on, and SIGHUP or a new NIC_ADD tries it again.
 * Requires root (CAP_NET_ADMIN) and `--allow-all`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { delay } from "../async.ts";
import { DaemonLoop, sleepUntil } from "../daemon/loop.ts";
import { errorMessage, NetkitError } from "../errors.ts";
import { ControlServer, EventHub } from "../ipc/mod.ts";
import { BufferArena } from "../net/buffer_arena.ts";
import { FrameBatch, VLAN_HEADROOM } from "../net/frame_batch.ts";
import { getInterface, setInterfaceMac } from "../net/interfaces.ts";
import { PacketSocket } from "../net/packet_socket.ts";
import { TapDevice } from "../net/tap.ts";
import { TunDevice } from "../net/tun.ts";
import { plural } from "../text.ts";
import type { NicJson, ShowReply, VnetEvent } from "./client.ts";
import { checkNicFits, MTU_RANGE, type NicConfig, type NicSpec, resolveNic } from "./config.ts";
import { Dataplane, type FrameOutput, type ResponderEvent } from "./dataplane.ts";
import { MAX_REQUEST_BYTES, VnetRequest } from "./requests.ts";
import { registerResponders, type VnetResponders } from "./responders/mod.ts";
import { FROM_UPLINK } from "./routing.ts";
import { readVnetState, writeVnetState } from "./state_file.ts";

const log = getLogger(["netkit", "vnet"]);

/** Frames one FFI call reads or writes. */
const BATCH_SLOTS = 64;
/** Bytes per slot: the largest frame a NIC may have, room for a prepended header, aligned. */
const SLOT_SIZE = Math.ceil((MTU_RANGE.max + 14 + VLAN_HEADROOM) / 64) * 64;
/** Batches read from one device per turn, so one busy guest cannot starve the others. */
const BATCHES_PER_TURN = 4;
/**
 * How long a removed NIC's device stays open after its farewell frames: closing a TAP at once
 * deletes its interface, and a capture on it (tshark's ring) loses the frames not yet handed on.
 */
const FAREWELL_LINGER_MS = 500;
/** Where a TUN packet is read in its slot: room for the Ethernet header in front of it. */
const ETH = 14;

/** How the daemon runs. */
export interface VnetDaemonOptions {
  /** Control socket path; null serves none (the foreground one-NIC mode). */
  socketPath: string | null;
  /** Where the NICs are kept; null keeps them nowhere (the foreground one-NIC mode). */
  statePath: string | null;
  /** The uplink TUN device to create or open, or null. */
  uplink: { name: string; mtu?: number | undefined } | null;
  /** NICs to add at start besides the state file's (the foreground one-NIC mode). */
  nics?: NicSpec[] | undefined;
}

/** A NIC's device: where its frames are read and written. */
interface Port {
  readonly fd: number;
  /** Where a received frame starts in its slot. */
  readonly rxOffset: number;
  read(batch: FrameBatch): number;
  write(batch: FrameBatch, first: number, count: number): { handled: number; failed: number };
  close(): void;
}

function interfaceExists(name: string): boolean {
  try {
    getInterface(name);
    return true;
  } catch {
    return false;
  }
}

/** Opens `nic`'s device: a TAP (created with the guest's MAC and MTU) or an attached interface. */
function openPort(nic: NicConfig): Port {
  if (nic.device.kind === "tap") {
    const existed = interfaceExists(nic.device.name);
    const tap = TapDevice.open({ name: nic.device.name, mtu: nic.mtu });
    try {
      // The kernel side of a TAP is the guest's NIC (a namespace's, say): its MAC is the guest's.
      if (!existed) setInterfaceMac(tap.name, nic.guestMac);
    } catch (err) {
      tap.close();
      throw err;
    }
    return {
      fd: tap.fd,
      rxOffset: 0,
      read: (batch) => tap.readBatch(batch, 0),
      write: (batch, first, count) => tap.writeBatch(batch, first, count),
      close: () => tap.close(),
    };
  }
  const socket = PacketSocket.open({ interface: nic.device.name, maxFrame: SLOT_SIZE });
  try {
    // The guest sends to the gateway's MAC, which is not the interface's.
    socket.addPromisc();
    socket.ignoreOutgoing();
  } catch (err) {
    socket.close();
    throw err;
  }
  return {
    fd: socket.fd,
    rxOffset: VLAN_HEADROOM,
    read: (batch) => socket.receiveBatch(batch),
    write: (batch, first, count) => ({
      handled: socket.sendBatch(batch, count, first),
      failed: 0,
    }),
    close: () => socket.close(),
  };
}

/** Frames queued for sending, in one batch; flushed as runs of one destination each. */
class TransmitQueue implements FrameOutput {
  readonly batch: FrameBatch;
  /** The NIC index (or {@linkcode FROM_UPLINK}) of each queued slot. */
  readonly #destinations = new Int32Array(BATCH_SLOTS);
  /** The arena's whole buffer: frames already in it are copied with `copyWithin`. */
  readonly #memory: Uint8Array;
  readonly #flush: (destination: number, first: number, count: number) => void;
  count = 0;

  constructor(
    arena: BufferArena,
    flush: (destination: number, first: number, count: number) => void,
  ) {
    this.batch = new FrameBatch({ slots: BATCH_SLOTS, slotSize: SLOT_SIZE, arena });
    this.#memory = new Uint8Array(this.batch.data.buffer);
    this.#flush = flush;
  }

  #queue(destination: number, bytes: Uint8Array, offset: number, length: number): boolean {
    if (length > SLOT_SIZE) return false;
    if (this.count === BATCH_SLOTS) this.flush();
    const slot = this.count++;
    const target = this.batch.data.byteOffset + slot * SLOT_SIZE;
    if (bytes.buffer === this.#memory.buffer) {
      const source = bytes.byteOffset + offset;
      this.#memory.copyWithin(target, source, source + length);
    } else {
      this.#memory.set(
        offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length),
        target,
      );
    }
    this.batch.setLength(slot, length);
    this.#destinations[slot] = destination;
    return true;
  }

  toNic(nic: number, frame: Uint8Array, length: number): boolean {
    return this.#queue(nic, frame, 0, length);
  }

  toUplink(packet: Uint8Array, offset: number, length: number): boolean {
    return this.#queue(FROM_UPLINK, packet, offset, length);
  }

  /** Writes everything queued, one call per run of frames for one destination. */
  flush(): void {
    let first = 0;
    while (first < this.count) {
      const destination = this.#destinations[first]!;
      let end = first + 1;
      while (end < this.count && this.#destinations[end] === destination) end++;
      this.#flush(destination, first, end - first);
      first = end;
    }
    this.count = 0;
  }
}

/** A running vnet daemon. */
export class VnetDaemon implements AsyncDisposable {
  readonly #options: VnetDaemonOptions;
  readonly #arena: BufferArena;
  readonly #rx: FrameBatch;
  /** Views of the receive slots, from where a TAP's (offset 0) or a packet socket's frame starts. */
  readonly #rxViews: Map<number, Uint8Array[]>;
  readonly #uplinkRx: FrameBatch;
  readonly #uplinkViews: Uint8Array[];
  readonly #tx: TransmitQueue;
  readonly #dataplane: Dataplane;
  readonly #responders: VnetResponders;
  readonly #events = new EventHub<Record<string, unknown>>();
  #uplink: TunDevice | null;
  /** The NICs' devices, by the dataplane's NIC index; null while a device is gone. */
  #ports: (Port | null)[] = [];
  /** What the loop waits on, and the NIC index of each port's descriptor; made again (null)
   * whenever a port opens or closes, not on every wake-up: the poller then keeps its set. */
  #waitSet: { fds: number[]; nicOf: Map<number, number> } | null = null;
  /** Devices of removed NICs kept open a moment for their farewell, by device name. */
  readonly #lingering = new Map<string, Port>();
  readonly #closing = new AbortController();
  #server: ControlServer | null = null;
  #loop: DaemonLoop | null = null;
  #stopping = false;
  #closed = false;

  private constructor(options: VnetDaemonOptions, arena: BufferArena, uplink: TunDevice | null) {
    this.#options = options;
    this.#arena = arena;
    this.#uplink = uplink;
    this.#rx = new FrameBatch({ slots: BATCH_SLOTS, slotSize: SLOT_SIZE, arena });
    const views = (batch: FrameBatch, offset: number) =>
      Array.from(
        { length: batch.slots },
        (_, i) => batch.data.subarray(i * SLOT_SIZE + offset, (i + 1) * SLOT_SIZE),
      );
    this.#rxViews = new Map([[0, views(this.#rx, 0)], [
      VLAN_HEADROOM,
      views(this.#rx, VLAN_HEADROOM),
    ]]);
    this.#uplinkRx = new FrameBatch({ slots: BATCH_SLOTS, slotSize: SLOT_SIZE, arena });
    this.#uplinkViews = views(this.#uplinkRx, 0);
    this.#tx = new TransmitQueue(
      arena,
      (destination, first, count) => this.#write(destination, first, count),
    );
    this.#dataplane = new Dataplane(this.#tx, {
      uplinkMtu: uplink?.mtu ?? null,
      onEvent: (event: ResponderEvent) => this.#publish(event),
    });
    this.#responders = registerResponders(this.#dataplane, performance.now());
  }

  /**
   * Maps the arena, opens the uplink, restores the state file's NICs (a NIC whose device cannot
   * be opened is kept as `gone`) and serves the control socket; a failure undoes everything.
   */
  static async start(options: VnetDaemonOptions): Promise<VnetDaemon> {
    const arena = BufferArena.map(3 * BATCH_SLOTS * (SLOT_SIZE + 64) + 64 * 1024);
    let uplink: TunDevice | null = null;
    let daemon: VnetDaemon | null = null;
    try {
      if (options.uplink !== null) {
        uplink = TunDevice.open({
          name: options.uplink.name,
          ...(options.uplink.mtu === undefined ? {} : { mtu: options.uplink.mtu }),
        });
      }
      daemon = new VnetDaemon(options, arena, uplink);
      const saved = options.statePath === null ? null : readVnetState(options.statePath);
      for (const spec of [...saved ?? [], ...options.nics ?? []]) {
        try {
          daemon.#add(resolveNic(spec), false);
        } catch (err) {
          log.warn("Cannot restore NIC {name}: {error}", {
            name: spec.name,
            error: errorMessage(err),
          });
        }
      }
      daemon.#save();
      if (options.socketPath !== null) {
        const self = daemon;
        daemon.#server = await ControlServer.listen({
          path: options.socketPath,
          schema: VnetRequest,
          maxMessageBytes: MAX_REQUEST_BYTES,
          handle: (request, context) => self.#handle(request, context.signal),
        });
      }
      log.info("vnet started: {nics}, uplink {uplink}, buffers on {arena} pages{state}", {
        nics: plural(daemon.#dataplane.nics.length, "NIC"),
        uplink: uplink === null ? "none" : `${uplink.name} (MTU ${uplink.mtu})`,
        arena: arena.backing,
        state: options.statePath === null ? "" : `, state ${options.statePath}`,
      });
      return daemon;
    } catch (err) {
      if (daemon !== null) await daemon.close();
      else {
        uplink?.close();
        arena.close();
      }
      throw err;
    }
  }

  /** The dataplane (to register responders; for tests). */
  get dataplane(): Dataplane {
    return this.#dataplane;
  }

  /** The control socket path, or null. */
  get socketPath(): string | null {
    return this.#options.socketPath;
  }

  #handle(request: VnetRequest, signal: AbortSignal): unknown {
    switch (request.action) {
      case "NIC_ADD": {
        const nic = resolveNic(request.payload);
        const replaced = this.#dataplane.nics.some((n) => n.name === nic.name);
        this.#add(nic, true);
        this.#save();
        return { status: "success", message: `NIC ${nic.name} ${replaced ? "replaced" : "added"}` };
      }
      case "NIC_DEL": {
        if (!this.#remove(request.payload.name)) {
          throw new NetkitError(`No NIC named "${request.payload.name}"`);
        }
        this.#save();
        return { status: "success", message: `NIC ${request.payload.name} removed` };
      }
      case "SHOW":
        return this.show(request.payload?.stats === true);
      case "SUBSCRIBE": {
        // Subscribed before the acknowledgement: whatever happens after it is delivered.
        const events = this.#events.subscribe(signal);
        return (async function* () {
          yield { status: "success", message: "Subscribed to vnet events." };
          yield* events;
        })();
      }
    }
  }

  #publish(event: VnetEvent | ResponderEvent): void {
    if (this.#events.size > 0) this.#events.publish({ ...event });
  }

  /**
   * Adds `nic` (replacing one of the same name), opening its device. With `strict` a device that
   * cannot be opened is an error; without (at start, on SIGHUP) the NIC is kept as gone.
   */
  #add(nic: NicConfig, strict: boolean): void {
    const nics = [...this.#dataplane.nics];
    const at = nics.findIndex((n) => n.name === nic.name);
    checkNicFits(nics.filter((_, i) => i !== at), nic);
    // A replaced NIC's device goes first: the new one may be the same interface.
    if (at >= 0) this.#ports[at]?.close();
    this.#lingering.get(nic.device.name)?.close();
    this.#lingering.delete(nic.device.name);
    let port: Port | null = null;
    try {
      port = openPort(nic);
    } catch (err) {
      if (strict) {
        if (at >= 0) this.#drop(at);
        throw err;
      }
      log.warn("NIC {name}: cannot open {device}: {error}; kept as gone", {
        name: nic.name,
        device: nic.device.name,
        error: errorMessage(err),
      });
    }
    if (at >= 0) {
      nics[at] = nic;
      this.#ports[at] = port;
    } else {
      nics.push(nic);
      this.#ports.push(port);
    }
    this.#waitSet = null;
    this.#dataplane.setNics(nics, performance.now());
    this.#publish({ event: "nic_added", nic: nic.name, device: nic.device.name });
  }

  /** Removes NIC `index` from the lists (its device already closed). */
  #drop(index: number): void {
    const nics = this.#dataplane.nics.filter((_, i) => i !== index);
    this.#ports.splice(index, 1);
    this.#waitSet = null;
    this.#dataplane.setNics(nics, performance.now());
  }

  #remove(name: string): boolean {
    const index = this.#dataplane.nics.findIndex((n) => n.name === name);
    if (index < 0) return false;
    const port = this.#ports[index];
    if (port !== null && port !== undefined) {
      if (this.#farewell(index) > 0) this.#linger(this.#dataplane.nics[index]!.device.name, port);
      else port.close();
    }
    this.#drop(index);
    this.#publish({ event: "nic_removed", nic: name });
    return true;
  }

  /**
   * Sends NIC `index`'s guest what the responders say before it goes (the final RA); returns
   * how many frames.
   */
  #farewell(index: number): number {
    if (this.#ports[index] === null) return 0;
    const frames = this.#responders.farewell(this.#dataplane.nics[index]!);
    for (const frame of frames) this.#tx.toNic(index, frame, frame.length);
    this.#tx.flush();
    return frames.length;
  }

  /** Closes `port` (device `name`, its NIC removed) after {@linkcode FAREWELL_LINGER_MS}. */
  #linger(name: string, port: Port): void {
    this.#lingering.set(name, port);
    void delay(FAREWELL_LINGER_MS, this.#closing.signal).then(() => {
      if (this.#lingering.get(name) !== port) return; // closed already: reopened or stopped
      this.#lingering.delete(name);
      port.close();
    });
  }

  #save(): void {
    if (this.#options.statePath === null) return;
    writeVnetState(this.#options.statePath, this.#dataplane.nics.map((n) => n.spec));
  }

  /** A device that failed: closed, its NIC kept as gone. */
  #portFailed(index: number, err: unknown): void {
    const nic = this.#dataplane.nics[index]!;
    log.warn("NIC {name}: device {device} failed: {error}; kept as gone", {
      name: nic.name,
      device: nic.device.name,
      error: errorMessage(err),
    });
    this.#ports[index]?.close();
    this.#ports[index] = null;
    this.#waitSet = null;
    this.#publish({ event: "nic_gone", nic: nic.name, device: nic.device.name });
  }

  /**
   * The uplink failed (its TUN deleted, say): closed once, with one line, rather than reported
   * ready and failing again on every turn. Traffic for it is then counted as `tx_error`.
   */
  #uplinkFailed(uplink: TunDevice, err: unknown): void {
    log.warn("Uplink {name} failed: {error}; closed until the daemon restarts", {
      name: uplink.name,
      error: errorMessage(err),
    });
    uplink.close();
    this.#uplink = null;
    this.#waitSet = null;
  }

  #write(destination: number, first: number, count: number): void {
    const batch = this.#tx.batch;
    if (destination === FROM_UPLINK) {
      const uplink = this.#uplink;
      if (uplink === null) {
        this.#dataplane.countDrop(FROM_UPLINK, "tx_error", count);
        return;
      }
      try {
        const { handled, failed } = uplink.writeBatch(batch, first, count);
        if (handled < count) this.#dataplane.countDrop(FROM_UPLINK, "tx_full", count - handled);
        if (failed > 0) this.#dataplane.countDrop(FROM_UPLINK, "tx_error", failed);
      } catch (err) {
        this.#dataplane.countDrop(FROM_UPLINK, "tx_error", count);
        this.#uplinkFailed(uplink, err);
      }
      return;
    }
    const port = this.#ports[destination];
    if (port === null || port === undefined) {
      this.#dataplane.countDrop(destination, "tx_error", count);
      return;
    }
    try {
      const { handled, failed } = port.write(batch, first, count);
      if (handled < count) this.#dataplane.countDrop(destination, "tx_full", count - handled);
      if (failed > 0) this.#dataplane.countDrop(destination, "tx_error", failed);
    } catch (err) {
      this.#dataplane.countDrop(destination, "tx_error", count);
      this.#portFailed(destination, err);
    }
  }

  #readPort(index: number, port: Port, now: number): void {
    const views = this.#rxViews.get(port.rxOffset)!;
    const batch = this.#rx;
    for (let round = 0; round < BATCHES_PER_TURN; round++) {
      let n: number;
      try {
        n = port.read(batch);
      } catch (err) {
        this.#portFailed(index, err);
        return;
      }
      for (let i = 0; i < n; i++) {
        if (batch.offset(i) !== port.rxOffset) {
          // A packet socket put back an 802.1Q tag: guests send untagged frames.
          this.#dataplane.countDrop(index, "unsupported_ethertype");
          continue;
        }
        this.#dataplane.fromNic(index, views[i]!, batch.length(i), now);
      }
      this.#tx.flush();
      if (n < batch.slots) return;
    }
  }

  #readUplink(uplink: TunDevice, now: number): void {
    const batch = this.#uplinkRx;
    for (let round = 0; round < BATCHES_PER_TURN; round++) {
      let n: number;
      try {
        n = uplink.readBatch(batch, ETH);
      } catch (err) {
        this.#uplinkFailed(uplink, err);
        return;
      }
      for (let i = 0; i < n; i++) {
        this.#dataplane.fromUplink(this.#uplinkViews[i]!, batch.length(i), now);
      }
      this.#tx.flush();
      if (n < batch.slots) return;
    }
  }

  /** The descriptors to wait on (made again after a port changed), and their NICs. */
  #watched(): { fds: number[]; nicOf: Map<number, number> } {
    if (this.#waitSet !== null) return this.#waitSet;
    const fds: number[] = [];
    const nicOf = new Map<number, number>();
    this.#ports.forEach((port, index) => {
      if (port === null) return;
      fds.push(port.fd);
      nicOf.set(port.fd, index);
    });
    if (this.#uplink !== null) fds.push(this.#uplink.fd);
    this.#waitSet = { fds, nicOf };
    return this.#waitSet;
  }

  /** NICs, their config and device, counters when `stats`, the uplink and the arena. */
  show(stats: boolean): ShowReply {
    const dp = this.#dataplane;
    const nics: NicJson[] = dp.nics.map((nic, i) => ({
      name: nic.name,
      config: nic.spec,
      device: {
        kind: nic.device.kind,
        name: nic.device.name,
        state: this.#ports[i] === null ? "gone" : "up",
      },
      counters: stats ? structuredClone(dp.counters(i)) : null,
      responder_counts: stats ? this.#responders.counts(nic.name) : null,
    }));
    return {
      status: "success",
      pid: Deno.pid,
      arena: this.#arena.backing,
      responders: dp.responders,
      uplink: this.#uplink === null ? null : {
        name: this.#uplink.name,
        mtu: this.#uplink.mtu,
        counters: stats ? structuredClone(dp.uplink) : null,
      },
      nics: nics.sort((a, b) => a.name.localeCompare(b.name)),
      ipv6_responder_drops: stats ? this.#responders.ipv6Drops() : null,
    };
  }

  /**
   * Serves until {@linkcode stop}, SIGINT or SIGTERM; SIGHUP re-reads the state file. `loop` is
   * the CLI's, made before the daemon started; without one the run makes its own.
   */
  async run(loop?: DaemonLoop): Promise<number> {
    using own = loop === undefined ? new DaemonLoop() : null;
    const current = loop ?? own!;
    this.#loop = current;
    current.reload = () => this.reload();
    if (this.#stopping) current.stop();
    try {
      await current.poll({
        next: () => {
          const now = performance.now();
          this.#dataplane.tick(now);
          this.#tx.flush();
          return {
            fds: this.#watched().fds,
            timeoutMs: sleepUntil(this.#dataplane.next(now), now),
          };
        },
        ready: (ready) => {
          const now = performance.now();
          for (const fd of ready) {
            // Looked up in the current set: a NIC added or removed during the wait moved indices.
            const index = this.#watched().nicOf.get(fd);
            if (index !== undefined) {
              const port = this.#ports[index];
              if (port !== null && port !== undefined) this.#readPort(index, port, now);
            } else if (this.#uplink !== null && fd === this.#uplink.fd) {
              this.#readUplink(this.#uplink, now);
            }
          }
        },
      });
      return 0;
    } finally {
      this.#loop = null;
    }
  }

  /**
   * SIGHUP: makes the state file's NICs the daemon's again (an operator may have edited it):
   * NICs it lacks are removed, new or changed ones (re)added, gone devices tried again. Returns
   * what was done, in words.
   */
  reload(): string {
    const path = this.#options.statePath;
    if (path === null) return "no state file";
    const specs = readVnetState(path) ?? [];
    const wanted = new Map<string, NicConfig>();
    const refused: string[] = [];
    for (const spec of specs) {
      try {
        wanted.set(spec.name, resolveNic(spec));
      } catch (err) {
        refused.push(errorMessage(err));
      }
    }
    let removed = 0;
    let added = 0;
    for (const nic of [...this.#dataplane.nics]) {
      if (!wanted.has(nic.name)) removed += this.#remove(nic.name) ? 1 : 0;
    }
    for (const nic of wanted.values()) {
      const index = this.#dataplane.nics.findIndex((n) => n.name === nic.name);
      const current = this.#dataplane.nics[index];
      const same = current !== undefined &&
        JSON.stringify(current.spec) === JSON.stringify(nic.spec);
      if (same && this.#ports[index] !== null) continue;
      try {
        this.#add(nic, false);
        added++;
      } catch (err) {
        refused.push(errorMessage(err));
      }
    }
    this.#save();
    for (const problem of refused) log.warn("State file {path}: {problem}", { path, problem });
    return `re-read state file ${path}: ${plural(this.#dataplane.nics.length, "NIC")}, ` +
      `${added} (re)opened, ${removed} removed${
        refused.length === 0
          ? ""
          : `, ${plural(refused.length, "refused entry", "refused entries")}`
      }`;
  }

  /** Ends {@linkcode run}. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#loop?.stop();
  }

  /** Stops serving and closes every device (TAPs netkit created go with them). Safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.#events.close();
    await this.#server?.close();
    this.#ports.forEach((_, index) => this.#farewell(index));
    for (const port of this.#ports) port?.close();
    this.#ports = [];
    for (const port of this.#lingering.values()) port.close();
    this.#lingering.clear();
    this.#closing.abort();
    this.#waitSet = null;
    this.#uplink?.close();
    this.#uplink = null;
    this.#arena.close();
    log.info("vnet stopped");
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
