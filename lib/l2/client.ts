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
import { TapDevice } from "../net/tap.ts";
import { formatMac, macKey } from "../packet/mac.ts";
import type { PeerJoined, PeerLeft, Welcome } from "./control.ts";
import { DEFAULT_TAP } from "./client_mac.ts";
import { logFrame } from "./frame_log.ts";
import { parseCredential } from "./credentials.ts";
import { type RelayAddress, RelaySession } from "./relay_session.ts";
import { classifyFrame } from "./safety.ts";

const log = getLogger(["netkit", "client"]);

/** Frames read from the TAP before the loop lets the event loop turn (QUIC, the relay side). */
const READS_PER_ROUND = 64;

/** Options for {@linkcode Client.start}. */
export interface ClientOptions {
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
  tapFrames: number;
  tapToRelay: number;
  relayToTap: number;
}

/** A running client. */
export class Client implements AsyncDisposable {
  readonly tap: TapDevice;
  readonly mac: Uint8Array;
  readonly counters: ClientCounters = { tapFrames: 0, tapToRelay: 0, relayToTap: 0 };
  #done: Promise<void> = Promise.resolve();
  readonly #macKey: number;
  readonly #poller = new Poller();
  readonly #debug = log.isEnabledFor("debug");
  #session!: RelaySession;
  #frameMax = 0;
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
      tap = TapDevice.open({ name, mac: options.mac, up: false });
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
    const buffer = new Uint8Array(65536);
    while (!this.#stopping) {
      if (this.#session.congested) await this.#session.drain();
      let read = 0;
      for (; read < READS_PER_ROUND; read++) {
        const n = this.tap.read(buffer);
        if (n === null) break;
        this.#fromTap(buffer.subarray(0, n));
      }
      // After a full round, a zero-timeout poll is the turn the event loop needs.
      await this.#poller.wait([this.tap.fd], read < READS_PER_ROUND ? 1000 : 0);
    }
  }

  /** A frame the kernel sent out of the TAP: to the relay, or dropped with a reason. */
  #fromTap(frame: Uint8Array): void {
    this.counters.tapFrames++;
    if (frame.length < 14) return this.#drop(frame, "tap_to_relay", null, "runt");
    // The relay would refuse it (and count it against us): a bridge or another MAC on the TAP.
    if (macKey(frame, 6) !== this.#macKey) {
      return this.#drop(frame, "tap_to_relay", null, "unauthorized_source_mac");
    }
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
    reason: "shutdown" | "signal" | "error" = "shutdown",
    text = "shutting down",
  ): Promise<void> {
    this.#closing ??= this.#close(reason, text);
    return this.#closing;
  }

  async #close(reason: "shutdown" | "signal" | "error", text: string): Promise<void> {
    this.#stopping = true;
    await this.#session.close(reason, text);
    this.#poller.wake();
    await this.done;
    await this.#poller.close();
    this.tap.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
