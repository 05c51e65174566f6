/**
 * The LSoE speaker's engine: HELLOs on every interface it speaks on, one
 * {@linkcode LsoeSession} per neighbour (MAC and interface), the node's encapsulation lists, and
 * one queue of deadlines over all of them, so that {@linkcode LsoeEngine.tick} costs nothing
 * for sessions with nothing due (1,000 open sessions at a 1 s keepalive stay far below 1 % of
 * a core).
 *
 * Pure: times are milliseconds on a monotonic clock passed to every call, PDUs go out through
 * the injected `send`, events through `event`. The daemon decodes and reassembles frames, feeds
 * PDUs to {@linkcode LsoeEngine.receive}, and sleeps until the deadline `tick` returns.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";
import {
  type EncapsulationPdu,
  LOCAL_ID_LEN,
  LSOE_HELLO_GROUP,
  type LsoePdu,
  PduType,
} from "../packet/lsoe.ts";
import { formatMac, macKey } from "../packet/mac.ts";
import type { InterfaceJson, LsoeEvent, SessionJson } from "./client.ts";
import { DeadlineQueue, type Scheduled } from "./deadline_queue.ts";
import { type AddressedInterface, encapsulationPdus, type LocalAddress } from "./encapsulations.ts";
import { LsoeSession, type SessionContext, unknownTypeAck } from "./session.ts";
import type { LsoeTimers } from "./timers.ts";

export type { LocalAddress } from "./encapsulations.ts";

/** An interface the engine speaks on (or, in the address table, any interface of the node). */
export interface EngineInterface extends AddressedInterface {
  /** Its index. */
  ifindex: number;
  /** Its name. */
  name: string;
  /** Its MAC. */
  mac: Uint8Array;
  /** `IFF_LOOPBACK`: its addresses are flagged Loopback (never spoken on). */
  loopback: boolean;
  /** `--mpls-label`: its addresses also go in the MPLS lists with `[label]`. */
  mplsLabel: number | null;
}

/** What the engine is built with. */
export interface EngineOptions {
  /** Our Local ID, 10 bytes. */
  localId: Uint8Array;
  /** The timers. */
  timers: LsoeTimers;
  /** Sessions at most (default 4096); a new neighbour beyond is dropped as `session_limit`. */
  maxSessions: number;
  /** 4 random bytes: each session's nonce (injected for tests). */
  randomNonce: () => Uint8Array;
  /** Puts a PDU on the wire. */
  send: (ifindex: number, destination: Uint8Array, pdu: LsoePdu) => void;
  /** Reports an event. */
  event: (event: LsoeEvent) => void;
  /** Monotonic ms → ISO 8601 for JSON and events. */
  wallTime: (now: number) => string;
  /** Counts a refusal by reason (`session_limit`, `ack_without_outstanding`, ...). */
  drop: (reason: string) => void;
  /**
   * Addresses kept from the peers' lists, all sessions together (default
   * {@linkcode DEFAULT_MAX_PEER_ENTRIES}): a list that would pass it is refused unacknowledged
   * (`peer_entry_limit`), so the peer retransmits and, if it insists, the session closes.
   */
  maxPeerEntries?: number;
}

/** The default of {@linkcode EngineOptions.maxSessions}. */
export const DEFAULT_MAX_SESSIONS = 4096;
/**
 * The default of {@linkcode EngineOptions.maxPeerEntries}: a few hundred bytes each, so tens of
 * MiB at most. Without it every session could hold four lists of 65,535 bytes (~14,000
 * addresses) and 4,096 strangers' sessions many GiB.
 */
export const DEFAULT_MAX_PEER_ENTRIES = 262_144;

/** One interface spoken on, scheduled by its next HELLO. */
interface Beacon extends Scheduled {
  iface: EngineInterface;
  up: boolean;
  hellosSent: number;
  sessions: Map<number, LsoeSession>;
}

function checkOptions(options: EngineOptions): void {
  const { timers } = options;
  const positive = {
    helloIntervalMs: timers.helloIntervalMs,
    keepaliveSendIntervalMs: timers.keepaliveSendIntervalMs,
    retransmitInitialIntervalMs: timers.retransmitInitialIntervalMs,
  };
  for (const [name, value] of Object.entries(positive)) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new InvalidInputError(`${name} must be a positive number of ms, not ${value}`);
    }
  }
  const receive = timers.keepaliveReceiveTimeoutMs;
  if (!(Number.isFinite(receive) && receive >= 0)) {
    throw new InvalidInputError(`keepaliveReceiveTimeoutMs must be 0 or more, not ${receive}`);
  }
  if (!Number.isInteger(timers.retransmitMaxDrop) || timers.retransmitMaxDrop < 0) {
    throw new InvalidInputError(
      `retransmitMaxDrop must be a whole number, not ${timers.retransmitMaxDrop}`,
    );
  }
  if (!Number.isInteger(options.maxSessions) || options.maxSessions < 0) {
    throw new InvalidInputError(`maxSessions must be a whole number, not ${options.maxSessions}`);
  }
  if (options.localId.length !== LOCAL_ID_LEN) {
    throw new InvalidInputError(
      `the Local ID must be ${LOCAL_ID_LEN} bytes, not ${options.localId.length}`,
    );
  }
}

/**
 * The engine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsoeEngine } from "./engine.ts";
 * import { DEFAULT_TIMERS } from "./timers.ts";
 *
 * const sent: number[] = [];
 * const engine = new LsoeEngine({
 *   localId: new Uint8Array(10),
 *   timers: DEFAULT_TIMERS,
 *   maxSessions: 4096,
 *   randomNonce: () => new Uint8Array([1, 2, 3, 4]),
 *   send: (_ifindex, _destination, pdu) => sent.push(pdu.type as number),
 *   event: () => {},
 *   wallTime: (now) => new Date(now).toISOString(),
 *   drop: () => {},
 * });
 * const mac = new Uint8Array([2, 0, 0, 0, 0, 1]);
 * engine.interfaceUp(0, { ifindex: 2, name: "eth0", mac, loopback: false, mplsLabel: null });
 * assert.deepEqual(sent, [0]); // a HELLO at once
 * assert.equal(engine.tick(0), 60_000); // the next one
 * ```
 */
export class LsoeEngine {
  readonly #options: EngineOptions;
  readonly #context: SessionContext;
  readonly #queue = new DeadlineQueue<Scheduled>();
  readonly #beacons = new Map<number, Beacon>();
  #sessionCount = 0;
  /** Addresses kept from the peers' lists, every session together. */
  #peerEntries = 0;
  #addresses: readonly LocalAddress[] = [];
  #addressed: readonly AddressedInterface[] = [];
  /** The lists per session interface, computed once per address-table change. */
  readonly #lists = new Map<number, readonly EncapsulationPdu[]>();

  /** An engine speaking on no interface yet; throws InvalidInputError for bad options. */
  constructor(options: EngineOptions) {
    checkOptions(options);
    this.#options = options;
    this.#context = {
      localId: options.localId.slice(),
      timers: { ...options.timers },
      send: options.send,
      event: options.event,
      wallTime: options.wallTime,
      drop: options.drop,
      encapsulations: (ifindex) => this.#encapsulations(ifindex),
      claimPeerEntries: (delta) => {
        const limit = options.maxPeerEntries ?? DEFAULT_MAX_PEER_ENTRIES;
        if (delta > 0 && this.#peerEntries + delta > limit) return false;
        this.#peerEntries += delta;
        return true;
      },
    };
  }

  /** Addresses kept from the peers' lists, every session together. */
  get peerEntries(): number {
    return this.#peerEntries;
  }

  #encapsulations(ifindex: number): readonly EncapsulationPdu[] {
    let lists = this.#lists.get(ifindex);
    if (lists === undefined) {
      lists = encapsulationPdus(this.#addresses, this.#addressed, ifindex);
      this.#lists.set(ifindex, lists);
    }
    return lists;
  }

  /** Start (or update) speaking on an interface that is up: a HELLO now, then every helloInterval. */
  interfaceUp(now: number, iface: EngineInterface): void {
    const copy = { ...iface, mac: iface.mac.slice() };
    const beacon = this.#beacons.get(iface.ifindex);
    if (beacon !== undefined && beacon.up) {
      beacon.iface = copy;
      for (const session of beacon.sessions.values()) session.interfaceName = copy.name;
      return;
    }
    const fresh: Beacon = beacon ?? {
      iface: copy,
      up: true,
      hellosSent: 0,
      sessions: new Map(),
      deadline: Infinity,
      queueIndex: -1,
    };
    fresh.iface = copy;
    fresh.up = true;
    this.#beacons.set(iface.ifindex, fresh);
    this.#hello(now, fresh);
  }

  #hello(now: number, beacon: Beacon): void {
    beacon.hellosSent++;
    beacon.deadline = now + this.#context.timers.helloIntervalMs;
    this.#queue.update(beacon);
    this.#options.send(beacon.iface.ifindex, LSOE_HELLO_GROUP.slice(), { type: PduType.HELLO });
  }

  /** Stop speaking on it: its sessions close (withdrawals first) with `reason`; no more HELLOs. */
  interfaceDown(
    now: number,
    ifindex: number,
    reason: "interface_down" | "interface_removed",
  ): void {
    const beacon = this.#beacons.get(ifindex);
    if (beacon === undefined) return;
    for (const session of [...beacon.sessions.values()]) {
      session.close(now, reason);
      this.#forget(beacon, session);
    }
    beacon.up = false;
    this.#queue.remove(beacon);
    beacon.deadline = Infinity;
    if (reason === "interface_removed") this.#beacons.delete(ifindex);
  }

  /**
   * The node's whole address table changed (`interfaces`: every interface of the node, for the
   * Loopback flag and the MPLS labels): each open session whose lists differ from what it last
   * sent gets the new PDU(s) at once (latest-wins if one is outstanding).
   */
  setLocalAddresses(
    now: number,
    addresses: readonly LocalAddress[],
    interfaces: readonly EngineInterface[],
  ): void {
    this.#addresses = addresses.map((local) => ({ ...local, address: local.address.slice() }));
    this.#addressed = interfaces.map(({ ifindex, loopback, mplsLabel }) => ({
      ifindex,
      loopback,
      mplsLabel,
    }));
    this.#lists.clear();
    for (const beacon of this.#beacons.values()) {
      for (const session of beacon.sessions.values()) {
        session.addressesChanged(now);
        this.#queue.update(session);
      }
    }
  }

  /** One decoded PDU from `source` on `ifindex` (`source` is not kept: copied where needed). */
  receive(now: number, ifindex: number, source: Uint8Array, pdu: LsoePdu): void {
    const beacon = this.#beacons.get(ifindex);
    if (beacon === undefined || !beacon.up) {
      this.#options.drop("interface_down");
      return;
    }
    const key = macKey(source);
    let session = beacon.sessions.get(key);
    if (session === undefined) {
      if (pdu.type === "unknown") {
        this.#options.send(ifindex, source.slice(), unknownTypeAck(pdu.pduType));
        return;
      }
      // Only what starts a session creates one: a stray ACK or list makes no state.
      if (
        pdu.type !== PduType.HELLO && pdu.type !== PduType.KEEPALIVE && pdu.type !== PduType.OPEN
      ) {
        this.#options.drop("no_session");
        return;
      }
      session = this.#open(now, beacon, key, source);
      if (session === undefined) return;
    }
    if (session.receive(now, pdu) === "restart") {
      this.#forget(beacon, session);
      session = this.#open(now, beacon, key, source)!;
      session.receive(now, pdu);
    }
    this.#settle(beacon, session);
  }

  #open(now: number, beacon: Beacon, key: number, source: Uint8Array): LsoeSession | undefined {
    if (this.#sessionCount >= this.#options.maxSessions) {
      this.#options.drop("session_limit");
      return undefined;
    }
    const session = new LsoeSession(
      this.#context,
      now,
      beacon.iface.ifindex,
      beacon.iface.name,
      source,
      this.#options.randomNonce(),
    );
    beacon.sessions.set(key, session);
    this.#sessionCount++;
    return session;
  }

  /** After a session ran: forget it if it closed, else move it in the queue. */
  #settle(beacon: Beacon, session: LsoeSession): void {
    if (session.closedBy !== null) this.#forget(beacon, session);
    else this.#queue.update(session);
  }

  #forget(beacon: Beacon, session: LsoeSession): void {
    const key = macKey(session.peerMac);
    if (beacon.sessions.get(key) !== session) return;
    beacon.sessions.delete(key);
    this.#sessionCount--;
    this.#queue.remove(session);
  }

  /**
   * Runs what is due at `now` (HELLOs, keepalives, retransmissions, timeouts); returns the next
   * deadline (ms, always after `now`) or null. The daemon calls it every turn; tests call it on
   * a virtual clock.
   */
  tick(now: number): number | null {
    for (;;) {
      const due = this.#queue.peek();
      if (due === undefined || due.deadline > now) break;
      if (due instanceof LsoeSession) {
        due.tick(now);
        this.#settle(this.#beacons.get(due.ifindex)!, due);
      } else {
        this.#hello(now, due as Beacon);
      }
    }
    return this.#queue.nextDeadline();
  }

  /** Closes every session (reason `shutdown`, withdrawals first). */
  closeAll(now: number): void {
    for (const beacon of this.#beacons.values()) {
      for (const session of [...beacon.sessions.values()]) {
        session.close(now, "shutdown");
        this.#forget(beacon, session);
      }
    }
  }

  /** The sessions for STATUS, by interface name then peer MAC. */
  sessions(now: number): SessionJson[] {
    const all: LsoeSession[] = [];
    for (const beacon of this.#beacons.values()) all.push(...beacon.sessions.values());
    all.sort((a, b) =>
      a.interfaceName < b.interfaceName
        ? -1
        : a.interfaceName > b.interfaceName
        ? 1
        : a.peerMacText < b.peerMacText
        ? -1
        : a.peerMacText > b.peerMacText
        ? 1
        : 0
    );
    return all.map((session) => session.toJson(now));
  }

  /** The interfaces spoken on (and those down, until removed), by index. */
  interfaces(): InterfaceJson[] {
    return [...this.#beacons.values()]
      .sort((a, b) => a.iface.ifindex - b.iface.ifindex)
      .map(({ iface, up, hellosSent }) => ({
        name: iface.name,
        ifindex: iface.ifindex,
        mac: formatMac(iface.mac),
        state: up ? "up" : "down",
        hellos_sent: hellosSent,
        mpls_label: iface.mplsLabel,
      }));
  }

  /** How many sessions exist (opening or open). */
  get sessionCount(): number {
    return this.#sessionCount;
  }
}
