/**
 * A scripted LSoE peer for tests and bench/lsoe: one raw packet socket in a namespace that speaks
 * for any number of emulated neighbours, each with its own locally administered MAC, Local ID,
 * nonce and a small explicit state machine (HELLO, ACK of the speaker's OPEN, its own OPEN,
 * ACKs of encapsulations, KEEPALIVEs), with switches to misbehave (never ACK, stop keepalives)
 * and raw injection of any Ethernet payload (bad checksums, wrong versions, truncated PDUs,
 * crafted fragments). It records every frame it receives with its arrival time.
 *
 * PDUs are built and read with lib/packet/lsoe.ts. Only single-datagram PDUs from the speaker
 * are interpreted (what a speaker with a handful of addresses sends); a fragment is recorded
 * and otherwise ignored, so the peer does not lean on the reassembly under test.
 *
 * Requires `--allow-ffi` and root (CAP_NET_RAW, CAP_SYS_ADMIN to enter the namespace).
 *
 * @module
 */

import { FrameBatch } from "../lib/net/frame_batch.ts";
import { runInNetns } from "../lib/net/netns.ts";
import { PacketSocket, PacketType } from "../lib/net/packet_socket.ts";
import { bytesEqual, u16 } from "../lib/packet/bytes.ts";
import { type Decoded, isMalformed } from "../lib/packet/errors.ts";
import {
  type AckPdu,
  type Datagram,
  DATAGRAM_HEADER_LEN,
  decodeDatagram,
  decodePdu,
  type EncapsulationPdu,
  encodeDatagrams,
  encodeLsoeFrame,
  encodePdu,
  LOCAL_ID_LEN,
  LSOE_ETHERTYPE,
  LSOE_HELLO_GROUP,
  LSOE_VERSION,
  type LsoePdu,
  NONCE_LEN,
  type OpenPdu,
  PduType,
  sboxChecksum,
} from "../lib/packet/lsoe.ts";
import { macKey } from "../lib/packet/mac.ts";

/** Ethernet header: destination, source, EtherType. */
const ETHERNET_HEADER_LEN = 14;
/** How often the socket is read and timers run; arrival times are accurate to about this. */
const PUMP_MS = 1;
/** Frames handed to the kernel per send call. */
const SEND_BATCH = 64;

/** What a neighbour does; each switch can be flipped at any time to misbehave. */
export interface NeighbourBehaviour {
  /** ACK the speaker's OPENs (false: the speaker retransmits its OPEN, then gives up). */
  ackOpen: boolean;
  /** Send our own OPEN once the speaker's OPEN arrives (and again each second until ACKed). */
  sendOpen: boolean;
  /** ACK the speaker's encapsulation and VENDOR PDUs. */
  ackPdus: boolean;
  /** Send a KEEPALIVE every keepalive interval while open. */
  keepalives: boolean;
}

/** A well-behaved neighbour. */
export const WELL_BEHAVED: Readonly<NeighbourBehaviour> = Object.freeze({
  ackOpen: true,
  sendOpen: true,
  ackPdus: true,
  keepalives: true,
});

/**
 * Where a neighbour is: `idle` before its HELLO, `hello_sent` until OPENs flow, `opening` until
 * both OPENs are ACKed, then `open`.
 */
export type NeighbourState = "idle" | "hello_sent" | "opening" | "open";

/** A PDU the speaker sent to one neighbour, with when the peer read it (performance.now()). */
export interface HeardPdu {
  /** Arrival, performance.now() ms. */
  at: number;
  /** The PDU. */
  pdu: LsoePdu;
}

/** Every frame the peer received, as it arrived. */
export interface HeardFrame {
  /** Arrival, performance.now() ms. */
  at: number;
  /** Arrival, Date.now() ms (to line up with captures and daemon events). */
  wallMs: number;
  /** Destination MAC. */
  destination: Uint8Array;
  /** Source MAC. */
  source: Uint8Array;
  /** The Ethernet payload as received (padding included). */
  payload: Uint8Array;
  /** The payload as a datagram, or why it is not one. */
  datagram: Decoded<Datagram>;
  /** The PDU of a whole single-datagram PDU (or why it does not decode); null otherwise. */
  pdu: Decoded<LsoePdu> | null;
}

/** One emulated neighbour: its identity, its state and what it heard. */
export class EmulatedNeighbour {
  /** Its position in the peer, from 0. */
  readonly index: number;
  /** Its source MAC (locally administered). */
  readonly mac: Uint8Array;
  /** Its Local ID. */
  readonly localId: Uint8Array;
  /** Its OPEN nonce ({@linkcode EmulatedNeighbour.restart} draws a new one). */
  nonce: Uint8Array;
  /** What it does (change freely: the next PDU or timer sees it). */
  behaviour: NeighbourBehaviour;
  /** Where it is. */
  state: NeighbourState = "idle";
  /** The speaker's MAC, once heard. */
  speakerMac: Uint8Array | null = null;
  /** The speaker's OPEN for the current session, once received. */
  speakerOpen: OpenPdu | null = null;
  /** Whether the speaker ACKed our OPEN. */
  ourOpenAcked = false;
  /** When our first HELLO went out (performance.now()), or null. */
  helloSentAt: number | null = null;
  /** When the neighbour last became open (performance.now()), or null. */
  openedAt: number | null = null;
  /** How many times the speaker's OPEN came with a new nonce (it restarted its session). */
  speakerRestarts = 0;
  /** The speaker's last list of each encapsulation type (4–7). */
  readonly encapsulations: Map<number, EncapsulationPdu> = new Map();
  /** Every PDU the speaker sent to this neighbour (when the peer records). */
  readonly heard: HeardPdu[] = [];
  /** PDUs received from the speaker by type number, counted always (recording or not). */
  readonly received: Map<number, number> = new Map();
  #ourOpenSentAt = -Infinity;
  #nextKeepaliveAt = Infinity;

  /** Creates neighbour `index` with `mac` and `localId`. */
  constructor(index: number, mac: Uint8Array, localId: Uint8Array, behaviour: NeighbourBehaviour) {
    this.index = index;
    this.mac = mac;
    this.localId = localId;
    this.nonce = randomBytes(NONCE_LEN);
    this.behaviour = { ...behaviour };
  }

  /** Whether both OPENs are ACKed. */
  get open(): boolean {
    return this.state === "open";
  }

  /** Starts a new session on our side: a new nonce, nothing ACKed (the peer sends it). */
  restart(): void {
    this.nonce = randomBytes(NONCE_LEN);
    this.#reset();
  }

  /** ACKs the speaker sent us, oldest first (when the peer records). */
  acks(): AckPdu[] {
    return this.heard.flatMap((h) => h.pdu.type === PduType.ACK ? [h.pdu] : []);
  }

  #reset(): void {
    this.speakerOpen = null;
    this.ourOpenAcked = false;
    this.openedAt = null;
    this.#ourOpenSentAt = -Infinity;
    this.#nextKeepaliveAt = Infinity;
    if (this.state !== "idle") this.state = "hello_sent";
  }

  /** The PDUs to send in answer to `pdu` from the speaker at `now`. */
  handle(now: number, pdu: LsoePdu): LsoePdu[] {
    this.received.set(pduTypeKey(pdu), (this.received.get(pduTypeKey(pdu)) ?? 0) + 1);
    const out: LsoePdu[] = [];
    switch (pdu.type) {
      case PduType.OPEN: {
        const known = this.speakerOpen;
        if (known !== null && !bytesEqual(known.nonce, pdu.nonce)) {
          // The speaker started a new session: ours is gone with its old one.
          this.speakerRestarts++;
          this.#reset();
        }
        const first = this.speakerOpen === null; // a repeat (our ACK lost) is only ACKed again
        this.speakerOpen = pdu;
        if (this.state === "idle" || this.state === "hello_sent") this.state = "opening";
        if (this.behaviour.ackOpen) out.push(ack(PduType.OPEN));
        if (this.behaviour.sendOpen && !this.ourOpenAcked && first) {
          out.push(this.#ourOpen(now));
        }
        break;
      }
      case PduType.ACK:
        if (pdu.ackType === PduType.OPEN && !this.ourOpenAcked && this.#ourOpenSentAt > -Infinity) {
          this.ourOpenAcked = true;
        }
        break;
      case PduType.IPV4:
      case PduType.IPV6:
      case PduType.MPLS_IPV4:
      case PduType.MPLS_IPV6:
        this.encapsulations.set(pdu.type, pdu);
        if (this.behaviour.ackPdus) out.push(ack(pdu.type));
        break;
      case PduType.VENDOR:
        if (this.behaviour.ackPdus) out.push(ack(PduType.VENDOR));
        break;
      default:
        break; // HELLO, KEEPALIVE, unknown: nothing to answer
    }
    if (this.state === "opening" && this.ourOpenAcked && this.speakerOpen !== null) {
      this.state = "open";
      this.openedAt = now;
      this.#nextKeepaliveAt = now;
    }
    return out;
  }

  /** The PDUs due at `now` (KEEPALIVE, OPEN again); returns them and when to look again. */
  due(now: number, keepaliveMs: number, openRetryMs: number): LsoePdu[] {
    const out: LsoePdu[] = [];
    if (this.state === "open" && this.behaviour.keepalives && now >= this.#nextKeepaliveAt) {
      out.push({ type: PduType.KEEPALIVE });
      // From the schedule, not from now: a late pump does not slow the rate down.
      this.#nextKeepaliveAt = Math.max(this.#nextKeepaliveAt + keepaliveMs, now);
    }
    if (
      this.state === "opening" && this.behaviour.sendOpen && this.speakerOpen !== null &&
      !this.ourOpenAcked && now - this.#ourOpenSentAt >= openRetryMs
    ) {
      out.push(this.#ourOpen(now));
    }
    return out;
  }

  #ourOpen(now: number): OpenPdu {
    this.#ourOpenSentAt = now;
    return {
      type: PduType.OPEN,
      nonce: this.nonce,
      localId: this.localId,
      attributes: new Uint8Array(0),
    };
  }
}

/** How an {@linkcode LsoePeer} is opened. */
export interface LsoePeerOptions {
  /** The namespace of its interface. */
  netns: string;
  /** The interface it sends and listens on. */
  interface: string;
  /** Neighbours to emulate (default 1): MACs 02:4c:53:00:00:01 and up, from `macBase`. */
  neighbours?: number;
  /** The 4th byte of the neighbours' MACs (default 0): two peers with the same base share MACs. */
  macBase?: number;
  /** EtherType (default {@linkcode LSOE_ETHERTYPE}). */
  etherType?: number;
  /** Between KEEPALIVEs of an open neighbour (default 1000 ms). */
  keepaliveIntervalMs?: number;
  /** Before our unACKed OPEN is sent again (default 1000 ms). */
  openRetryMs?: number;
  /** How every neighbour starts (default {@linkcode WELL_BEHAVED}). */
  behaviour?: NeighbourBehaviour;
  /** Keep every frame and PDU heard (default true; a long bench turns it off). */
  record?: boolean;
}

/** A scripted peer of one `netkit lsoe` interface. */
export class LsoePeer implements Disposable {
  readonly #socket: PacketSocket;
  readonly #etherType: number;
  readonly #keepaliveMs: number;
  readonly #openRetryMs: number;
  readonly #record: boolean;
  readonly #byMac = new Map<number, EmulatedNeighbour>();
  readonly #receive = new FrameBatch({ slots: 64, slotSize: 2048 });
  readonly #send = new FrameBatch({ slots: SEND_BATCH, slotSize: 2048 });
  readonly #queue: Uint8Array[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;
  /** The neighbours, by index. */
  readonly neighbours: readonly EmulatedNeighbour[];
  /** Every frame received, oldest first (when recording). */
  readonly frames: HeardFrame[] = [];
  /** The speaker's MAC, from the first frame it sent. */
  speakerMac: Uint8Array | null = null;
  /** Frames received, counted always. */
  framesReceived = 0;
  /** Frames sent, counted always. */
  framesSent = 0;

  private constructor(socket: PacketSocket, options: LsoePeerOptions) {
    this.#socket = socket;
    this.#etherType = options.etherType ?? LSOE_ETHERTYPE;
    this.#keepaliveMs = options.keepaliveIntervalMs ?? 1000;
    this.#openRetryMs = options.openRetryMs ?? 1000;
    this.#record = options.record ?? true;
    const count = options.neighbours ?? 1;
    const base = options.macBase ?? 0;
    if (!Number.isInteger(count) || count < 1 || count > 0xffff) {
      throw new RangeError(`neighbours must be 1 to 65535, got ${count}`);
    }
    const neighbours: EmulatedNeighbour[] = [];
    for (let i = 0; i < count; i++) {
      const n = neighbourMac(base, i);
      const localId = new Uint8Array(LOCAL_ID_LEN);
      localId.set([0x70, 0x65, 0x65, 0x72, base, (i + 1) >> 8, (i + 1) & 0xff]); // "peer"...
      const neighbour = new EmulatedNeighbour(
        i,
        n,
        localId,
        options.behaviour ?? WELL_BEHAVED,
      );
      neighbours.push(neighbour);
      this.#byMac.set(macKey(n), neighbour);
    }
    this.neighbours = neighbours;
    this.#timer = setInterval(() => this.pump(), PUMP_MS);
  }

  /**
   * Opens the peer on `options.interface` in `options.netns`: bound to the EtherType,
   * promiscuous (through a membership) so it sees the frames sent to the MACs it emulates.
   */
  static open(options: LsoePeerOptions): LsoePeer {
    const socket = runInNetns(options.netns, () =>
      PacketSocket.open({
        interface: options.interface,
        etherType: options.etherType ?? LSOE_ETHERTYPE,
        rcvbuf: 4 << 20,
      }));
    try {
      socket.addPromisc();
      socket.ignoreOutgoing();
      return new LsoePeer(socket, options);
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /** Neighbour `index`. */
  neighbour(index: number): EmulatedNeighbour {
    const n = this.neighbours[index];
    if (n === undefined) throw new RangeError(`no neighbour ${index}`);
    return n;
  }

  /** How many neighbours are open. */
  openCount(): number {
    return this.neighbours.reduce((sum, n) => sum + (n.open ? 1 : 0), 0);
  }

  /**
   * Sends a HELLO from each of `neighbours` (default all), to the HELLO group; returns when the
   * first went out (performance.now()).
   */
  hello(neighbours: readonly EmulatedNeighbour[] = this.neighbours): number {
    const at = performance.now();
    for (const n of neighbours) {
      n.helloSentAt ??= performance.now();
      if (n.state === "idle") n.state = "hello_sent";
      this.sendPdu(n, { type: PduType.HELLO }, LSOE_HELLO_GROUP);
    }
    return at;
  }

  /**
   * Sends `pdu` from neighbour `n` to `destination` (default: the speaker's MAC once heard, else
   * the HELLO group), cut into datagrams as needed; returns when it went out.
   */
  sendPdu(n: EmulatedNeighbour, pdu: LsoePdu, destination?: Uint8Array): number {
    const at = performance.now();
    for (const datagram of encodeDatagrams(encodePdu(pdu))) {
      this.sendPayload(n, datagram, destination);
    }
    return at;
  }

  /** Sends any Ethernet payload from neighbour `n` (see {@linkcode sendPdu}); returns when. */
  sendPayload(n: EmulatedNeighbour, payload: Uint8Array, destination?: Uint8Array): number {
    const at = performance.now();
    const to = destination ?? n.speakerMac ?? this.speakerMac ?? LSOE_HELLO_GROUP;
    this.#queue.push(encodeLsoeFrame(to, n.mac, this.#etherType, payload));
    this.#flush();
    return at;
  }

  /** Reads what arrived and sends what is due; the peer's timer calls it every millisecond. */
  pump(): void {
    if (this.#closed) return;
    const batch = this.#receive;
    for (let rounds = 0; rounds < 16; rounds++) {
      const count = this.#socket.receiveBatch(batch);
      if (count === 0) break;
      const at = performance.now();
      const wallMs = Date.now();
      for (let i = 0; i < count; i++) {
        if (batch.pktType(i) === PacketType.OUTGOING) continue;
        this.#heard(at, wallMs, batch.frame(i));
      }
      if (count < batch.slots) break;
    }
    const now = performance.now();
    for (const n of this.neighbours) {
      if (n.state !== "open" && n.state !== "opening") continue;
      for (const pdu of n.due(now, this.#keepaliveMs, this.#openRetryMs)) this.sendPdu(n, pdu);
    }
    this.#flush();
  }

  #heard(at: number, wallMs: number, view: Uint8Array): void {
    if (view.length < ETHERNET_HEADER_LEN) return;
    this.framesReceived++;
    const frame = view.slice(); // the slot is reused by the next receive
    const destination = frame.subarray(0, 6);
    const source = frame.subarray(6, 12);
    const payload = frame.subarray(ETHERNET_HEADER_LEN);
    const datagram = decodeDatagram(payload);
    const single = !isMalformed(datagram) && datagram.number === 0 && datagram.last;
    const pdu = single ? decodePdu(datagram.chunk) : null;
    if (this.#record) {
      this.frames.push({ at, wallMs, destination, source, payload, datagram, pdu });
    }
    this.speakerMac ??= source.slice();
    // The speaker's HELLOs go to the group (nothing to answer: our HELLO started the session);
    // its session PDUs go to one neighbour.
    const n = this.#byMac.get(macKey(destination));
    if (n === undefined || pdu === null || isMalformed(pdu)) return;
    n.speakerMac ??= source.slice();
    if (this.#record) n.heard.push({ at, pdu });
    for (const answer of n.handle(at, pdu)) this.sendPdu(n, answer);
  }

  #flush(): void {
    while (this.#queue.length > 0) {
      const count = Math.min(this.#queue.length, SEND_BATCH);
      for (let i = 0; i < count; i++) this.#send.setFrame(i, this.#queue[i]!);
      const sent = this.#socket.sendBatch(this.#send, count);
      this.#queue.splice(0, sent);
      this.framesSent += sent;
      if (sent < count) return; // the queue is full: the next pump tries again
    }
  }

  /** Frames received at or after `since` (performance.now()) that `accept` takes. */
  framesSince(since: number, accept: (f: HeardFrame) => boolean = () => true): HeardFrame[] {
    return this.frames.filter((f) => f.at >= since && accept(f));
  }

  /** Stops the timers and closes the socket; safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#socket.close();
  }

  /** {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The MAC of neighbour `index`: 02:4c:53:BASE:hi:lo, with hi:lo = index + 1. */
export function neighbourMac(base: number, index: number): Uint8Array {
  const n = index + 1;
  return new Uint8Array([0x02, 0x4c, 0x53, base & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** How {@linkcode craftDatagram} builds a datagram; everything not given is right. */
export interface CraftedDatagram {
  /** Its bytes after the header (a PDU or a part of one). */
  chunk: Uint8Array;
  /** Datagram number (default 0). */
  number?: number;
  /** The Last flag (default true). */
  last?: boolean;
  /** The version byte (default {@linkcode LSOE_VERSION}). */
  version?: number;
  /** The length field (default the real length). */
  length?: number;
  /** Corrupt the checksum (default false: the right S-box checksum). */
  badChecksum?: boolean;
}

/** One Ethernet payload, right or wrong in exactly the ways asked for. */
export function craftDatagram(spec: CraftedDatagram): Uint8Array {
  const bytes = new Uint8Array(DATAGRAM_HEADER_LEN + spec.chunk.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = spec.version ?? LSOE_VERSION;
  bytes[1] = ((spec.number ?? 0) & 0x7f) | ((spec.last ?? true) ? 0x80 : 0);
  view.setUint16(2, spec.length ?? bytes.length);
  bytes.set(spec.chunk, DATAGRAM_HEADER_LEN);
  const checksum = sboxChecksum(bytes); // over the header with the checksum field still 0
  view.setUint32(4, spec.badChecksum ? (checksum ^ 0x5a5a5a5a) >>> 0 : checksum);
  return bytes;
}

/** A PDU whose TLV length says more than the bytes that follow (cut `missing` bytes short). */
export function truncatedPdu(pdu: LsoePdu, missing: number): Uint8Array {
  const bytes = encodePdu(pdu);
  if (missing < 1 || missing >= bytes.length) {
    throw new RangeError(`cannot cut ${missing} bytes off a ${bytes.length}-byte PDU`);
  }
  return bytes.subarray(0, bytes.length - missing);
}

/** The PDU type a datagram carries (its first chunk byte), or -1. */
export function pduTypeOf(payload: Uint8Array): number {
  return payload.length > DATAGRAM_HEADER_LEN ? payload[DATAGRAM_HEADER_LEN]! : -1;
}

/** The length field of a datagram's PDU header, or -1 (for readable test failures). */
export function pduLengthOf(payload: Uint8Array): number {
  return payload.length >= DATAGRAM_HEADER_LEN + 3 ? u16(payload, DATAGRAM_HEADER_LEN + 1) : -1;
}

/** A PDU's received-count key: its type number (unknown types by their byte). */
function pduTypeKey(pdu: LsoePdu): number {
  return pdu.type === "unknown" ? pdu.pduType : pdu.type;
}

function ack(type: number): AckPdu {
  return { type: PduType.ACK, ackType: type, errorType: 0, errorCode: 0, errorHint: 0 };
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
