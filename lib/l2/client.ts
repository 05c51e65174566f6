/**
 * The client: a TAP device that behaves as a port of the LAN behind the relay. Frames the
 * kernel sends out of the TAP go to the relay; frames from the relay are written to it. The
 * TAP's MAC is stable (given, or derived once and kept in the state directory) and its MTU
 * follows the room's. Requires `--allow-ffi`, `--unstable-net` and CAP_NET_ADMIN.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage, NetkitError } from "../errors.ts";
import { setInterfaceMtu, setInterfaceUp } from "../net/interfaces.ts";
import { Poller } from "../net/poller.ts";
import { TapDevice, TunOffload } from "../net/tap.ts";
import {
  GsoType,
  segmentFrame,
  vnetChecksumOffset,
  vnetChecksumStart,
  vnetGsoSize,
  vnetGsoType,
  vnetNeedsChecksum,
} from "../packet/gso.ts";
import { completeChecksumAt } from "../packet/transport_checksum.ts";
import { formatMac, macKey } from "../packet/mac.ts";
import type { DisconnectReason, PeerJoined, PeerLeft, Welcome } from "./control.ts";
import { DEFAULT_TAP } from "./client_mac.ts";
import { logFrame } from "./frame_log.ts";
import { parseCredential } from "./credentials.ts";
import { type RelayAddress, RelaySession } from "./relay_session.ts";
import { classifyFrame } from "./safety.ts";

const log = getLogger(["netkit", "client"]);

/** Frames read from the TAP before the loop lets the event loop turn (QUIC, the relay side). */
const READS_PER_ROUND = 64;
/**
 * Offered to the TAP: the stack hands over 64 KiB TCP (and UDP GSO) frames with partial
 * checksums, one read instead of ~45, and the client cuts them for the room itself.
 */
const TAP_OFFLOADS = TunOffload.CSUM | TunOffload.TSO4 | TunOffload.TSO6 | TunOffload.TSO_ECN |
  TunOffload.USO4 | TunOffload.USO6;
/** A vnet header and the largest frame TSO makes (64 KiB of IP packet, a tagged header). */
const TAP_READ_SIZE = 10 + 18 + 65536;

/** Options for {@linkcode Client.start}. */
export interface ClientOptions {
  /** Where the relay is and the certificate pin it must present. */
  relay: RelayAddress;
  /** `nk1:ROOM:NAME:SECRET`, from `netkit relay room`. */
  credential: string;
  /** TAP device name (default {@linkcode DEFAULT_TAP}); an existing persistent TAP is attached. */
  tap?: string;
  /** The TAP's MAC (6 bytes). */
  mac: Uint8Array;
  /** Largest datagram to advertise to the relay. */
  budget?: number;
  /** How long a silent relay connection lives (default 2 s). */
  idleTimeoutMs?: number;
}

/** Client counters (besides the session's). */
export interface ClientCounters {
  /** Frames read from the TAP. */
  tapFrames: number;
  /** Frames sent on to the relay. */
  tapToRelay: number;
  /** Frames from the relay written to the TAP. */
  relayToTap: number;
  /** TAP frames the stack left with a partial TCP/UDP checksum, completed here. */
  checksumsCompleted: number;
  /** TAP frames the stack handed over merged (TSO/USO). */
  gsoFrames: number;
  /** The frames those were cut into for the room (counted in `tapToRelay` once sent). */
  gsoSegments: number;
}

/** A running client. */
export class Client implements AsyncDisposable {
  /** The TAP device the client's machine sees as its LAN port. */
  readonly tap: TapDevice;
  /** The TAP's MAC, announced to the relay in `hello`. */
  readonly mac: Uint8Array;
  /** Live counters, read by `client status`. */
  readonly counters: ClientCounters = {
    tapFrames: 0,
    tapToRelay: 0,
    relayToTap: 0,
    checksumsCompleted: 0,
    gsoFrames: 0,
    gsoSegments: 0,
  };
  #done: Promise<void> = Promise.resolve();
  readonly #macKey: number;
  readonly #poller = new Poller();
  readonly #debug = log.isEnabledFor("debug");
  #session!: RelaySession;
  #frameMax = 0;
  /** Where segments of a merged frame are built: one room frame. */
  #segment = new Uint8Array(0);
  readonly #forwardSegment = (segment: Uint8Array) => this.#forward(segment);
  /** The room's gateway's peer id, or null while it has none. */
  #gateway: number | null = null;
  #stopping = false;
  #closing: Promise<void> | null = null;

  private constructor(tap: TapDevice, mac: Uint8Array) {
    this.tap = tap;
    this.mac = mac;
    this.#macKey = macKey(mac);
  }

  /** Creates the TAP (refusing to start without it), joins the relay and bridges the two. */
  static async start(options: ClientOptions): Promise<Client> {
    const name = options.tap ?? DEFAULT_TAP;
    let tap: TapDevice;
    try {
      // Down until the room's MTU is known.
      tap = TapDevice.open({ name, mac: options.mac, up: false, offloads: TAP_OFFLOADS });
    } catch (err) {
      throw new NetkitError(
        `Cannot create TAP device "${name}": ${
          errorMessage(err)
        } (the client needs CAP_NET_ADMIN and /dev/net/tun)`,
      );
    }
    const client = new Client(tap, options.mac);
    try {
      client.#session = await RelaySession.connect(
        {
          relay: options.relay,
          role: "client",
          credential: options.credential,
          mac: options.mac,
          ...(options.budget === undefined ? {} : { budget: options.budget }),
          ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
        },
        {
          welcome: (w) => client.#onWelcome(w),
          peerJoined: (e) => client.#onPeerJoined(e),
          peerLeft: (e) => client.#onPeerLeft(e),
          frame: (frame, from) => client.#fromRelay(frame, from),
          lost: () => {},
        },
      );
    } catch (err) {
      tap.close();
      await client.#poller.close();
      throw err;
    }
    client.#done = client.#tapLoop();
    log.info("Client on {tap} ({mac}) in room {room}", {
      tap: tap.name,
      mac: formatMac(options.mac),
      room: parseCredential(options.credential).room,
    });
    return client;
  }

  /** Resolves when the client has stopped (rejects if its TAP failed). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The session with the relay (counters, drops). */
  get session(): RelaySession {
    return this.#session;
  }

  #onWelcome(welcome: Welcome): void {
    this.#frameMax = welcome.frame_max;
    if (this.#segment.length !== welcome.frame_max) {
      this.#segment = new Uint8Array(welcome.frame_max);
    }
    this.#gateway = welcome.gateway.peer_id ?? null;
    setInterfaceMtu(this.tap.name, welcome.tap_mtu);
    setInterfaceUp(this.tap.name, true);
    log.info("{tap}: MTU {mtu}, gateway {gateway}", {
      tap: this.tap.name,
      mtu: welcome.tap_mtu,
      gateway: welcome.gateway.present ? `present (${welcome.gateway.mac})` : "absent",
    });
  }

  /** The LAN comes and goes with the gateway: say so, since nothing else would. */
  #onPeerJoined(event: PeerJoined): void {
    if (event.role !== "gateway") return;
    this.#gateway = event.peer_id;
    log.info("The gateway ({mac}) joined the room: the LAN is reachable", { mac: event.mac });
  }

  #onPeerLeft(event: PeerLeft): void {
    if (event.peer_id !== this.#gateway) return;
    this.#gateway = null;
    log.warning("The gateway left the room ({reason}): the LAN is unreachable until it returns", {
      reason: event.reason,
    });
  }

  #fromRelay(frame: Uint8Array, from: number): void {
    try {
      if (!this.tap.write(frame)) return this.#drop(frame, "relay_to_tap", from, "tap_busy");
    } catch (err) {
      log.warning("Writing to {tap} failed: {error}", {
        tap: this.tap.name,
        error: errorMessage(err),
      });
      return this.#drop(frame, "relay_to_tap", from, "tap_error");
    }
    this.counters.relayToTap++;
    if (this.#debug) {
      logFrame(log, {
        where: this.tap.name,
        direction: "relay_to_tap",
        peer: from,
        frame,
        action: "forward",
        reason: null,
      });
    }
  }

  async #tapLoop(): Promise<void> {
    const buffer = new Uint8Array(TAP_READ_SIZE);
    const header = this.tap.headerLength;
    while (!this.#stopping) {
      let read = 0;
      for (; read < READS_PER_ROUND; read++) {
        // A merged frame can make dozens of datagrams: wait for room rather than drop them.
        if (this.#session.congested) await this.#session.drain();
        const n = this.tap.read(buffer);
        if (n === null) break;
        if (n < header) { // a frame the kernel could not hand over (see TapDevice.read)
          this.counters.tapFrames++;
          this.#drop(buffer.subarray(0, 0), "tap_to_relay", null, "gso_unsupported");
          continue;
        }
        const frame = buffer.subarray(header, n);
        if (header === 0) this.#fromTap(frame);
        else this.#fromTapWithHeader(frame, buffer);
      }
      // After a full round, a zero-timeout poll is the turn the event loop needs.
      await this.#poller.wait([this.tap.fd], read < READS_PER_ROUND ? 1000 : 0);
    }
  }

  /** A frame behind the vnet header `header`: completed or cut into segments, then sent. */
  #fromTapWithHeader(frame: Uint8Array, header: Uint8Array): void {
    const type = vnetGsoType(header);
    if (type === GsoType.NONE) {
      if (
        vnetNeedsChecksum(header) &&
        completeChecksumAt(frame, vnetChecksumStart(header), vnetChecksumOffset(header))
      ) {
        this.counters.checksumsCompleted++;
      }
      return this.#fromTap(frame);
    }
    this.counters.tapFrames++;
    this.counters.gsoFrames++;
    if (!this.#admits(frame)) return;
    const made = segmentFrame(
      frame,
      type,
      vnetGsoSize(header),
      this.#segment,
      this.#forwardSegment,
    );
    if (typeof made === "string") return this.#drop(frame, "tap_to_relay", null, made);
    this.counters.gsoSegments += made;
  }

  /** A frame the kernel sent out of the TAP: to the relay, or dropped with a reason. */
  #fromTap(frame: Uint8Array): void {
    this.counters.tapFrames++;
    if (this.#admits(frame)) this.#forward(frame);
  }

  /** Whether a TAP frame may go to the relay (otherwise it is counted as dropped). */
  #admits(frame: Uint8Array): boolean {
    if (frame.length < 14) {
      this.#drop(frame, "tap_to_relay", null, "runt");
      return false;
    }
    // The relay would refuse it (and count it against us): a bridge or another MAC on the TAP.
    if (macKey(frame, 6) !== this.#macKey) {
      this.#drop(frame, "tap_to_relay", null, "unauthorized_source_mac");
      return false;
    }
    return true;
  }

  /** A TAP frame of the room's size with a complete checksum: checked and sent. */
  #forward(frame: Uint8Array): void {
    const unsafe = classifyFrame(frame, true, this.#frameMax);
    if (unsafe !== null) return this.#drop(frame, "tap_to_relay", null, unsafe);
    if (!this.#session.sendFrame(frame)) return;
    this.counters.tapToRelay++;
    if (this.#debug) {
      logFrame(log, {
        where: this.tap.name,
        direction: "tap_to_relay",
        peer: null,
        frame,
        action: "forward",
        reason: null,
      });
    }
  }

  #drop(frame: Uint8Array, direction: string, peer: number | null, reason: string): void {
    this.#session.drops.add(reason);
    if (this.#debug) {
      logFrame(log, { where: this.tap.name, direction, peer, frame, action: "drop", reason });
    }
  }

  /** Disconnects from the relay (with `reason`) and removes the TAP. */
  close(
    reason: DisconnectReason = "shutdown",
    text = "shutting down",
  ): Promise<void> {
    this.#closing ??= this.#close(reason, text);
    return this.#closing;
  }

  async #close(reason: DisconnectReason, text: string): Promise<void> {
    this.#stopping = true;
    await this.#session.close(reason, text);
    this.#poller.wake();
    await this.done;
    await this.#poller.close();
    this.tap.close();
  }

  /** {@linkcode close}: `await using` stops the client. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
