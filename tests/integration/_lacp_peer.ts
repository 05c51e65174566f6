/**
 * A scripted LACP peer for conformance scenarios: a raw packet socket in the peer namespace that
 * sends crafted LACPDUs (and any other frame) and records, with arrival times, every LACPDU the
 * device under test sends. It can also play a well-behaved partner that echoes what it hears.
 *
 * @module
 */

import { waitFor } from "../../lib/async.ts";
import { runInNetns } from "../../lib/net/netns.ts";
import { PacketSocket, PacketType } from "../../lib/net/packet_socket.ts";
import {
  decodeLacpdu,
  encodeLacpdu,
  type Lacpdu,
  type LacpPortInfo,
  LacpState,
  SlowSubtype,
  slowSubtypeAt,
} from "../../lib/packet/lacp.ts";

/** A LACPDU the device under test sent, with when the peer read it (performance.now()). */
export interface HeardPdu {
  at: number;
  pdu: Lacpdu;
}

/** What the peer says about itself; `state` defaults to ATGSCD (in sync, as OVS claims at once). */
export interface PeerActor {
  system: Uint8Array;
  systemPriority?: number;
  key?: number;
  port?: number;
  portPriority?: number;
  state?: number;
}

/** ACTIVE, SHORT_TIMEOUT, AGGREGATION, SYNCHRONIZATION, COLLECTING, DISTRIBUTING. */
export const IN_SYNC = 0x3f;

/** Reads the socket every few milliseconds; timestamps are accurate to about that. */
const PUMP_MS = 2;

/** A scripted peer on one interface of a test namespace. */
export class ScriptedPeer implements Disposable {
  readonly #socket: PacketSocket;
  readonly #mac: Uint8Array;
  readonly #timer: ReturnType<typeof setInterval>;
  /** LACPDUs heard from the device under test, oldest first. */
  readonly heard: HeardPdu[] = [];
  /** When set, the peer answers as this partner: at once on a change, and every second. */
  #echo: PeerActor | null = null;
  #echoedActor = "";
  #lastSent = -Infinity;
  /** Changes the partner view the echo sends (e.g. clears the partner's Activity bit). */
  echoPartnerState: (state: number) => number = (state) => state;

  private constructor(socket: PacketSocket, mac: Uint8Array) {
    this.#socket = socket;
    this.#mac = mac;
    this.#timer = setInterval(() => this.#pump(), PUMP_MS);
  }

  /** Opens the peer on `ifname` in `netns`; frames go out from `mac`. */
  static open(netns: string, ifname: string, mac: Uint8Array): ScriptedPeer {
    const socket = runInNetns(netns, () => PacketSocket.open({ interface: ifname }));
    return new ScriptedPeer(socket, mac);
  }

  /** When the peer last sent a frame (performance.now()). */
  get lastSent(): number {
    return this.#lastSent;
  }

  /** The last LACPDU heard, or undefined. */
  get last(): Lacpdu | undefined {
    return this.heard.at(-1)?.pdu;
  }

  /** A LACPDU from `actor` describing `partner` (default: the last actor heard, as heard). */
  lacpdu(actor: PeerActor, partner?: LacpPortInfo): Lacpdu {
    return {
      version: 1,
      actor: {
        systemPriority: actor.systemPriority ?? 32768,
        system: actor.system,
        key: actor.key ?? 1,
        portPriority: actor.portPriority ?? 32768,
        port: actor.port ?? 1,
        state: actor.state ?? IN_SYNC,
      },
      partner: partner ?? this.last?.actor ?? {
        systemPriority: 0,
        system: new Uint8Array(6),
        key: 0,
        portPriority: 0,
        port: 0,
        state: 0,
      },
      collectorMaxDelay: 0,
      extraTlvs: [],
    };
  }

  /** Sends one LACPDU; returns performance.now() just before it went out. */
  sendPdu(pdu: Lacpdu): number {
    return this.send(encodeLacpdu(pdu, this.#mac));
  }

  /** Sends any frame; returns performance.now() just before it went out. */
  send(frame: Uint8Array): number {
    const at = performance.now();
    if (!this.#socket.send(frame)) throw new Error("scripted peer: socket queue full");
    this.#lastSent = at;
    return at;
  }

  /** Plays a partner that echoes the last actor heard (null: stop answering). */
  behave(actor: PeerActor | null): void {
    this.#echo = actor;
    this.#echoedActor = "";
    if (actor !== null) this.#answer(true);
  }

  /** LACPDUs heard at or after `since`. */
  heardSince(since: number): HeardPdu[] {
    return this.heard.filter((h) => h.at >= since);
  }

  /** Waits until a LACPDU heard at or after `since` satisfies `accept`; returns it. */
  async waitHeard(
    accept: (pdu: Lacpdu) => boolean,
    since: number,
    timeoutMs: number,
    what: string,
  ): Promise<HeardPdu> {
    const found = await waitFor(
      () => this.heard.find((h) => h.at >= since && accept(h.pdu)),
      (h) => h !== undefined,
      { timeoutMs, intervalMs: PUMP_MS, what: `a LACPDU with ${what}` },
    );
    return found!;
  }

  #pump(): void {
    for (let n = 0; n < 64; n++) {
      const got = this.#socket.receive();
      if (got === null) break;
      if (got.pktType === PacketType.OUTGOING || slowSubtypeAt(got.frame) !== SlowSubtype.LACP) {
        continue;
      }
      this.heard.push({ at: performance.now(), pdu: decodeLacpdu(got.frame) });
    }
    this.#answer(false);
  }

  #answer(now: boolean): void {
    const heard = this.last;
    if (this.#echo === null || heard === undefined) return;
    const actor = JSON.stringify({ ...heard.actor, system: [...heard.actor.system] });
    if (!now && actor === this.#echoedActor && performance.now() - this.#lastSent < 1000) return;
    this.#echoedActor = actor;
    const partner = { ...heard.actor, state: this.echoPartnerState(heard.actor.state) };
    this.sendPdu(this.lacpdu(this.#echo, partner));
  }

  /** Stops reading and closes the socket. */
  [Symbol.dispose](): void {
    clearInterval(this.#timer);
    this.#socket.close();
  }
}

/** Whether a LACPDU's actor claims Synchronization. */
export function claimsSync(pdu: Lacpdu): boolean {
  return (pdu.actor.state & LacpState.SYNCHRONIZATION) !== 0;
}
