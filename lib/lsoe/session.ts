/**
 * One LSoE session: us and one neighbour (a MAC on one interface), as lsoed runs it on the
 * wire. No explicit state: the session is Open once our OPEN is acknowledged and the peer's OPEN
 * received. At most one PDU of each acknowledged type is outstanding; a newer one waits
 * (deferred, latest wins) for the ACK, and the outstanding one is sent again at the retransmit
 * interval, doubling, until `retransmitMaxDrop` timeouts close the session.
 *
 * Times are milliseconds on a monotonic clock passed to every call: nothing here reads a clock
 * or does I/O. {@linkcode LsoeEngine} (lib/lsoe/engine.ts) owns the sessions and schedules them
 * by {@linkcode LsoeSession.deadline}.
 *
 * @module
 */

import {
  AckErrorCode,
  AckErrorType,
  type AckPdu,
  type EncapsulationPdu,
  type LsoePdu,
  type OpenPdu,
  PduType,
  type VendorPdu,
} from "../packet/lsoe.ts";
import { bytesEqual } from "../packet/bytes.ts";
import { formatMac } from "../packet/mac.ts";
import type {
  CloseReason,
  EncapsulationsJson,
  LsoeEvent,
  OutstandingJson,
  SessionCountersJson,
  SessionJson,
} from "./client.ts";
import {
  ENCAPSULATION_FAMILIES,
  encapsulationFamily,
  encapsulationKey,
  storeEntriesJson,
} from "./encapsulations.ts";
import type { LsoeTimers } from "./timers.ts";

/** What a session needs from its engine. */
export interface SessionContext {
  /** Our Local ID (10 bytes). */
  readonly localId: Uint8Array;
  /** The timers in force. */
  readonly timers: LsoeTimers;
  /** Puts a PDU on the wire to `destination` on `ifindex`. */
  send(ifindex: number, destination: Uint8Array, pdu: LsoePdu): void;
  /** Reports an event upward. */
  event(event: LsoeEvent): void;
  /** Monotonic ms → ISO 8601. */
  wallTime(now: number): string;
  /** Counts a refused PDU by reason. */
  drop(reason: string): void;
  /** The four lists (IPv4, IPv6, MPLS-IPv4, MPLS-IPv6) a session on `ifindex` announces now. */
  encapsulations(ifindex: number): readonly EncapsulationPdu[];
  /**
   * Takes `delta` more of the peers' addresses into the engine's budget (negative: gives them
   * back); false, and nothing taken, when the budget has no room.
   */
  claimPeerEntries(delta: number): boolean;
}

/** The PDUs a session sends and keeps until acknowledged. */
type AckedPdu = OpenPdu | EncapsulationPdu | VendorPdu;

/** One PDU type in flight. */
interface Outstanding {
  pdu: AckedPdu;
  retransmissions: number;
  intervalMs: number;
  dropsLeft: number;
  deadline: number;
  /** The newest PDU of the type, sent when `pdu` is acknowledged. */
  deferred: AckedPdu | null;
}

/** What {@linkcode LsoeSession.receive} asks of the engine. */
export type ReceiveOutcome =
  /** Nothing more. */
  | "done"
  /** The peer restarted: this session closed; feed the same OPEN to a fresh session. */
  | "restart";

// JSON type names of the acknowledged PDU types (the codec's pduTypeName belongs to another
// module this one only takes types from).
const ACKED_TYPE_NAMES: Readonly<Record<number, string>> = {
  [PduType.OPEN]: "open",
  [PduType.IPV4]: "ipv4",
  [PduType.IPV6]: "ipv6",
  [PduType.MPLS_IPV4]: "mpls_ipv4",
  [PduType.MPLS_IPV6]: "mpls_ipv6",
  [PduType.VENDOR]: "vendor",
};

/** The ACK a PDU of a type this revision does not define gets (with or without a session). */
export function unknownTypeAck(pduType: number): AckPdu {
  return {
    type: PduType.ACK,
    ackType: pduType,
    errorType: AckErrorType.WARNING,
    errorCode: AckErrorCode.UNKNOWN_PDU_TYPE,
    errorHint: pduType,
  };
}

/**
 * Keys of the lists we announce. The engine hands every session on an interface the same PDU
 * objects (until the address table changes), so each list is keyed once, not once per session
 * and comparison. Only for our own lists: they are never changed once made.
 */
const announcedKeys = new WeakMap<EncapsulationPdu, string>();

function announcedKey(pdu: EncapsulationPdu): string {
  let key = announcedKeys.get(pdu);
  if (key === undefined) {
    key = encapsulationKey(pdu);
    announcedKeys.set(pdu, key);
  }
  return key;
}

function emptyLists(): EncapsulationsJson {
  return { ipv4: [], ipv6: [], mpls_ipv4: [], mpls_ipv6: [] };
}

/** One neighbour on one interface. */
export class LsoeSession {
  /** The interface. */
  readonly ifindex: number;
  /** Its name (for JSON and events); the engine updates it on a rename. */
  interfaceName: string;
  /** The neighbour's MAC. */
  readonly peerMac: Uint8Array;
  /** Our nonce, fixed for the session (every OPEN of this session carries it). */
  readonly localNonce: Uint8Array;
  /** Why the session closed, once it has: the engine then forgets it. */
  closedBy: CloseReason | null = null;
  /** When {@linkcode tick} next has work (Infinity: none); the engine's queue orders by it. */
  deadline: number = Infinity;
  /** The engine's queue position. */
  queueIndex: number = -1;

  readonly #context: SessionContext;
  readonly #peerMacText: string;
  #peerNonce: Uint8Array | null = null;
  #peerLocalId: Uint8Array | null = null;
  #peerAttributes: Uint8Array | null = null;
  #ourOpenAcked = false;
  #openSince: number | null = null;
  #lastHeard: number | null = null;
  #nextKeepalive: number | null = null;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Key of the newest list queued per encapsulation type (sent, outstanding or deferred). */
  readonly #announced = new Map<number, string>();
  readonly #peerKeys = new Map<number, string>();
  readonly #peerLists: EncapsulationsJson = emptyLists();
  readonly #counters: SessionCountersJson = {
    pdus_received: 0,
    pdus_sent: 0,
    retransmissions: 0,
    keepalives_received: 0,
    error_acks_received: 0,
    vendor_received: 0,
  };

  /** A session that has heard nothing yet; `now` starts its liveness clock. */
  constructor(
    context: SessionContext,
    now: number,
    ifindex: number,
    interfaceName: string,
    peerMac: Uint8Array,
    localNonce: Uint8Array,
  ) {
    this.#context = context;
    this.ifindex = ifindex;
    this.interfaceName = interfaceName;
    this.peerMac = peerMac.slice();
    this.#peerMacText = formatMac(peerMac);
    this.localNonce = localNonce.slice();
    this.#lastHeard = now;
    this.#updateDeadline();
  }

  /** Our OPEN acknowledged and the peer's received. */
  get isOpen(): boolean {
    return this.#ourOpenAcked && this.#peerNonce !== null;
  }

  /** The peer's MAC as text. */
  get peerMacText(): string {
    return this.#peerMacText;
  }

  /** One PDU from the peer. */
  receive(now: number, pdu: LsoePdu): ReceiveOutcome {
    if (this.closedBy !== null) return "done";
    const wasOpen = this.isOpen;
    this.#counters.pdus_received++;
    // Any PDU shows the peer alive (lsoed only counts some; "nothing heard" is the intent).
    this.#lastHeard = now;
    const outcome = this.#dispatch(now, pdu);
    if (this.closedBy === null && !wasOpen && this.isOpen) this.#opened(now);
    this.#updateDeadline();
    return outcome;
  }

  #dispatch(now: number, pdu: LsoePdu): ReceiveOutcome {
    switch (pdu.type) {
      case PduType.HELLO:
        this.#sendOpenIfNeeded(now);
        return "done";
      case PduType.KEEPALIVE:
        this.#counters.keepalives_received++;
        if (!this.isOpen) this.#sendOpenIfNeeded(now);
        return "done";
      case PduType.OPEN:
        return this.#receiveOpen(now, pdu);
      case PduType.ACK:
        this.#receiveAck(now, pdu);
        return "done";
      case PduType.IPV4:
      case PduType.IPV6:
      case PduType.MPLS_IPV4:
      case PduType.MPLS_IPV6:
        this.#receiveEncapsulation(now, pdu);
        return "done";
      case PduType.VENDOR:
        if (!this.isOpen) return this.#refuse("not_open");
        this.#counters.vendor_received++;
        this.#ack(now, PduType.VENDOR);
        return "done";
      case "unknown":
        this.#sendPdu(now, unknownTypeAck(pdu.pduType));
        return "done";
    }
  }

  #refuse(reason: string): ReceiveOutcome {
    this.#context.drop(reason);
    return "done";
  }

  #receiveOpen(now: number, pdu: OpenPdu): ReceiveOutcome {
    const recorded = this.#peerNonce;
    if (recorded !== null && bytesEqual(recorded, pdu.nonce)) {
      // A retransmission: our ACK was lost. Acknowledge it again (lsoed drops it unanswered,
      // so a lost ACK of an OPEN could only end in retransmit_exhausted) but change nothing.
      this.#context.drop("duplicate_open");
      this.#ack(now, PduType.OPEN);
      return "done";
    }
    if (recorded !== null) {
      this.close(now, "peer_restart");
      return "restart";
    }
    this.#peerNonce = pdu.nonce.slice();
    this.#peerLocalId = pdu.localId.slice();
    this.#peerAttributes = pdu.attributes.slice();
    this.#ack(now, PduType.OPEN);
    this.#sendOpenIfNeeded(now);
    return "done";
  }

  #receiveAck(now: number, pdu: AckPdu): void {
    if (pdu.errorType !== AckErrorType.NO_ERROR) {
      this.#counters.error_acks_received++;
      if (pdu.errorType === AckErrorType.RESTART || pdu.errorType === AckErrorType.HOPELESS) {
        this.close(now, "peer_error");
        return;
      }
    }
    const outstanding = this.#outstanding.get(pdu.ackType);
    if (outstanding === undefined) {
      this.#refuse("ack_without_outstanding");
      return;
    }
    this.#outstanding.delete(pdu.ackType);
    if (pdu.ackType === PduType.OPEN) this.#ourOpenAcked = true;
    else if (outstanding.deferred !== null) this.#sendPdu(now, outstanding.deferred);
  }

  #receiveEncapsulation(now: number, pdu: EncapsulationPdu): void {
    if (!this.isOpen) {
      this.#refuse("not_open");
      return;
    }
    const family = encapsulationFamily(pdu);
    if (!this.#context.claimPeerEntries(pdu.entries.length - this.#peerLists[family].length)) {
      this.#refuse("peer_entry_limit");
      return;
    }
    this.#ack(now, pdu.type);
    const key = encapsulationKey(pdu);
    if ((this.#peerKeys.get(pdu.type) ?? "") === key) return;
    this.#peerKeys.set(pdu.type, key);
    const entries = storeEntriesJson(this.#peerLists, pdu);
    this.#context.event({ ...this.#eventBase(now), event: "encapsulations", family, entries });
  }

  #opened(now: number): void {
    this.#openSince = now;
    this.#context.event({
      ...this.#eventBase(now),
      event: "session_open",
      peer_nonce: this.#peerNonce!.toHex(),
    });
    for (const pdu of this.#context.encapsulations(this.ifindex)) this.#announce(now, pdu);
    this.#sendKeepalive(now);
  }

  /** The node's address table changed: announce every list that differs from the last queued. */
  addressesChanged(now: number): void {
    if (this.closedBy !== null || !this.isOpen) return;
    for (const pdu of this.#context.encapsulations(this.ifindex)) {
      if (this.#announced.get(pdu.type) !== announcedKey(pdu)) this.#announce(now, pdu);
    }
    this.#updateDeadline();
  }

  #announce(now: number, pdu: EncapsulationPdu): void {
    const key = announcedKey(pdu);
    this.#announced.set(pdu.type, key);
    const outstanding = this.#outstanding.get(pdu.type);
    // Back to what is in flight: nothing newer needs to follow it.
    if (outstanding !== undefined && announcedKey(outstanding.pdu as EncapsulationPdu) === key) {
      outstanding.deferred = null;
      return;
    }
    this.#sendPdu(now, pdu);
  }

  #ack(now: number, ackType: number): void {
    this.#sendPdu(now, { type: PduType.ACK, ackType, errorType: 0, errorCode: 0, errorHint: 0 });
  }

  #sendOpenIfNeeded(now: number): void {
    if (this.#ourOpenAcked || this.#outstanding.has(PduType.OPEN)) return;
    this.#sendPdu(now, {
      type: PduType.OPEN,
      nonce: this.localNonce,
      localId: this.#context.localId,
      attributes: new Uint8Array(0),
    });
  }

  #sendKeepalive(now: number): void {
    this.#nextKeepalive = now + this.#context.timers.keepaliveSendIntervalMs;
    this.#sendPdu(now, { type: PduType.KEEPALIVE });
  }

  /** Sends, or defers behind the outstanding PDU of the same type (OPEN never waits). */
  #sendPdu(now: number, pdu: LsoePdu): void {
    if (isAcked(pdu)) {
      const outstanding = this.#outstanding.get(pdu.type);
      if (outstanding !== undefined && pdu.type !== PduType.OPEN) {
        outstanding.deferred = pdu;
        return;
      }
      const timers = this.#context.timers;
      this.#outstanding.set(pdu.type, {
        pdu,
        retransmissions: 0,
        intervalMs: timers.retransmitInitialIntervalMs,
        dropsLeft: timers.retransmitMaxDrop,
        deadline: now + timers.retransmitInitialIntervalMs,
        deferred: null,
      });
    }
    this.#transmit(pdu);
  }

  #transmit(pdu: LsoePdu): void {
    this.#counters.pdus_sent++;
    this.#context.send(this.ifindex, this.peerMac, pdu);
  }

  /** Runs what is due at `now`: liveness, retransmissions, keepalive. May close the session. */
  tick(now: number): void {
    if (this.closedBy !== null) return;
    const timeout = this.#context.timers.keepaliveReceiveTimeoutMs;
    if (timeout > 0 && now >= this.#lastHeard! + timeout) {
      this.close(now, "keepalive_timeout");
      return;
    }
    for (const outstanding of this.#outstanding.values()) {
      if (outstanding.deadline > now) continue;
      // lsoed's counting: the timeout that takes the drops left to 0 closes, without sending.
      if (--outstanding.dropsLeft <= 0) {
        this.close(now, "retransmit_exhausted");
        return;
      }
      if (this.#context.timers.retransmitExponentialBackoff) outstanding.intervalMs *= 2;
      outstanding.deadline = now + outstanding.intervalMs;
      outstanding.retransmissions++;
      this.#counters.retransmissions++;
      this.#transmit(outstanding.pdu);
    }
    if (this.isOpen && this.#nextKeepalive !== null && this.#nextKeepalive <= now) {
      this.#sendKeepalive(now);
    }
    this.#updateDeadline();
  }

  /**
   * Closes the session: the peer's non-empty lists are withdrawn (an `encapsulations` event
   * with no entries each), then `session_close`. Nothing goes on the wire, as in lsoed.
   */
  close(now: number, reason: CloseReason): void {
    if (this.closedBy !== null) return;
    this.closedBy = reason;
    const base = this.#eventBase(now);
    for (const family of ENCAPSULATION_FAMILIES) {
      if (this.#peerLists[family].length === 0) continue;
      this.#context.claimPeerEntries(-this.#peerLists[family].length);
      this.#peerLists[family] = [];
      this.#context.event({ ...base, event: "encapsulations", family, entries: [] });
    }
    this.#context.event({ ...base, event: "session_close", reason });
    this.#outstanding.clear();
    this.deadline = Infinity;
  }

  #eventBase(now: number) {
    return {
      time: this.#context.wallTime(now),
      interface: this.interfaceName,
      peer_mac: this.#peerMacText,
      peer_local_id: this.#peerLocalId === null ? null : this.#peerLocalId.toHex(),
    };
  }

  #updateDeadline(): void {
    let deadline = Infinity;
    const timeout = this.#context.timers.keepaliveReceiveTimeoutMs;
    if (timeout > 0) deadline = this.#lastHeard! + timeout;
    for (const outstanding of this.#outstanding.values()) {
      deadline = Math.min(deadline, outstanding.deadline);
    }
    if (this.isOpen && this.#nextKeepalive !== null) {
      deadline = Math.min(deadline, this.#nextKeepalive);
    }
    this.deadline = deadline;
  }

  /** The session for STATUS. */
  toJson(now: number): SessionJson {
    const wallTime = (time: number | null) => time === null ? null : this.#context.wallTime(time);
    const outstanding: OutstandingJson[] = [];
    for (const [type, entry] of this.#outstanding) {
      outstanding.push({
        type: ACKED_TYPE_NAMES[type] ?? `type_${type}`,
        retransmissions: entry.retransmissions,
        next_retransmit_in: Math.max(0, entry.deadline - now) / 1000,
        deferred: entry.deferred !== null,
      });
    }
    return {
      interface: this.interfaceName,
      ifindex: this.ifindex,
      peer_mac: this.#peerMacText,
      peer_local_id: this.#peerLocalId === null ? null : this.#peerLocalId.toHex(),
      state: this.isOpen ? "open" : "opening",
      our_open_acked: this.#ourOpenAcked,
      local_nonce: this.localNonce.toHex(),
      peer_nonce: this.#peerNonce === null ? null : this.#peerNonce.toHex(),
      peer_attributes: this.#peerAttributes === null ? null : this.#peerAttributes.toHex(),
      open_since: wallTime(this.#openSince),
      last_keepalive: wallTime(this.#lastHeard),
      encapsulations: {
        ipv4: [...this.#peerLists.ipv4],
        ipv6: [...this.#peerLists.ipv6],
        mpls_ipv4: [...this.#peerLists.mpls_ipv4],
        mpls_ipv6: [...this.#peerLists.mpls_ipv6],
      },
      outstanding,
      counters: { ...this.#counters },
    };
  }
}

function isAcked(pdu: LsoePdu): pdu is AckedPdu {
  return pdu.type === PduType.OPEN || pdu.type === PduType.VENDOR ||
    (typeof pdu.type === "number" && pdu.type >= PduType.IPV4 && pdu.type <= PduType.MPLS_IPV6);
}
