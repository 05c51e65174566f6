/**
 * One LACP port's state machines (IEEE 802.1AX-2014 §6.4): receive, periodic transmission,
 * mux (coupled control, with WAITING and wait_while), actor and partner churn detection, and the
 * transmit limiter. Selection and Ready involve every port, so {@linkcode LacpSystem} decides
 * them and hands the results in. Times are milliseconds on a monotonic clock passed to every
 * call; nothing here reads a clock or does I/O.
 *
 * @module
 */

import { type Lacpdu, type LacpPortInfo, LacpState } from "../packet/lacp.ts";
import { formatMac, macEquals } from "../packet/mac.ts";

/** Receive machine states (§6.4.12). */
export type RxState = "INITIALIZE" | "PORT_DISABLED" | "EXPIRED" | "DEFAULTED" | "CURRENT";
/** Periodic transmission machine states (§6.4.13); PERIODIC_TX is transient. */
export type PeriodicState = "NO_PERIODIC" | "FAST_PERIODIC" | "SLOW_PERIODIC";
/** Mux machine states (§6.4.15, coupled control). */
export type MuxState = "DETACHED" | "WAITING" | "ATTACHED" | "COLLECTING_DISTRIBUTING";
/** The Selected variable (§6.4.8). */
export type Selection = "UNSELECTED" | "SELECTED" | "STANDBY";
/** Churn detection states (§6.4.17), for the actor and the partner alike. */
export type ChurnState = "NO_CHURN" | "CHURN_MONITOR" | "CHURN";

/** Timer lengths from §6.4.4, in milliseconds. */
export const LacpTimes = {
  FAST_PERIODIC: 1000,
  SLOW_PERIODIC: 30000,
  SHORT_TIMEOUT: 3000,
  LONG_TIMEOUT: 90000,
  CHURN_DETECTION: 60000,
  AGGREGATE_WAIT: 2000,
  /** At most this many LACPDUs per FAST_PERIODIC interval (§6.4.16). */
  TX_LIMIT: 3,
} as const;

const {
  ACTIVE,
  SHORT_TIMEOUT,
  AGGREGATION,
  SYNCHRONIZATION,
  COLLECTING,
  DISTRIBUTING,
  DEFAULTED,
  EXPIRED,
} = LacpState;

/** Per-port counters (JSON names in the daemon's status). */
export interface PortCounters {
  /** LACPDUs received while the port was enabled (aAggPortStatsLACPDUsRx). */
  lacpduRx: number;
  /** LACPDUs sent (aAggPortStatsLACPDUsTx). */
  lacpduTx: number;
  /** Slow Protocols frames of a known subtype that did not decode. */
  malformedRx: number;
  /** Slow Protocols frames with an illegal subtype: 0 or 11..255 (aAggPortStatsIllegalRx). */
  illegalRx: number;
  /** Frames of another Slow Protocol, subtypes 3..10 (OAM, OSSP...; aAggPortStatsUnknownRx). */
  unknownRx: number;
  /** Slow Protocols frames that carried a VLAN tag: never ours (they are untagged by definition). */
  taggedRx: number;
  /** Marker PDUs received (information and response). */
  markerRx: number;
  /** Marker Response PDUs sent. */
  markerTx: number;
  /** Marker Information PDUs left unanswered because of the response rate limit. */
  markerDropped: number;
  /** LACPDUs an injection rule said to drop. */
  injectedDrops: number;
  /** LACPDUs carrying our own system id (loopback). */
  loopbackRx: number;
  /** Frames the kernel dropped because the port's socket was full (the daemon fills this in). */
  kernelDrops: number;
}

/** What a port needs to know about its own identity. */
export interface PortIdentity {
  /** Interface name, for logs and status. */
  name: string;
  /** Actor_Port: the port number in LACPDUs. */
  port: number;
  /** Actor_Port_Priority. */
  portPriority: number;
}

/** Settings shared by every port of one actor. */
export interface ActorSettings {
  /** Actor_System: the system id, a MAC address (6 bytes). */
  system: Uint8Array;
  /** Actor_System_Priority. */
  systemPriority: number;
  /** Actor_Oper_Key: ports with the same key may aggregate. */
  key: number;
  /** LACP_Activity: active (true) or passive. */
  active: boolean;
  /** LACP_Timeout we ask for: short (fast rate) or long. */
  shortTimeout: boolean;
}

/** A partner we know nothing about (§6.4.7 Partner_Admin values): all zero, Individual. */
export function adminPartner(): LacpPortInfo {
  return {
    systemPriority: 0,
    system: new Uint8Array(6),
    key: 0,
    portPriority: 0,
    port: 0,
    state: 0,
  };
}

/** Whether two port descriptions name the same port of the same system (§6.4.9 comparisons). */
function sameIdentity(a: LacpPortInfo, b: LacpPortInfo): boolean {
  return a.port === b.port && a.portPriority === b.portPriority &&
    macEquals(a.system, 0, b.system, 0) &&
    a.systemPriority === b.systemPriority && a.key === b.key;
}

/** The timers a port runs (§6.4.10): deadlines in ms on the caller's clock, null when stopped. */
export interface PortTimers {
  /** current_while_timer: when the partner's information expires. */
  currentWhile: number | null;
  /** periodic_timer: when the next periodic LACPDU is due. */
  periodic: number | null;
  /** wait_while_timer: when a WAITING port may attach. */
  waitWhile: number | null;
  /** actor_churn_timer: when the actor, still out of sync, is in churn. */
  actorChurn: number | null;
  /** partner_churn_timer: when the partner, still out of sync, is in churn. */
  partnerChurn: number | null;
}

/**
 * Counters the port's owner counts for frames the port itself never sees (tagged, other Slow
 * Protocols, Marker, transmissions, kernel drops); the port counts `lacpduRx` and `loopbackRx`.
 */
export type CountedByOwner = Exclude<keyof PortCounters, "lacpduRx" | "loopbackRx">;

/**
 * One port's variables at one moment, frozen: what status and labs show. Timers are deadlines on
 * the clock the port is driven with, as {@linkcode PortTimers}.
 */
export interface LacpPortSnapshot {
  /** The port's name, number and priority. */
  readonly identity: Readonly<PortIdentity>;
  /** Our Actor information (its `state` is Actor_Oper_Port_State). */
  readonly actor: Readonly<LacpPortInfo>;
  /** Partner_Oper_*: what we know of the partner. */
  readonly partner: Readonly<LacpPortInfo>;
  /** Receive machine state. */
  readonly rxState: RxState;
  /** Periodic transmission machine state. */
  readonly periodicState: PeriodicState;
  /** Mux machine state. */
  readonly muxState: MuxState;
  /** The Selected variable. */
  readonly selected: Selection;
  /** Actor churn detection state. */
  readonly actorChurn: ChurnState;
  /** Partner churn detection state. */
  readonly partnerChurn: ChurnState;
  /** How many times the actor entered ACTOR_CHURN. */
  readonly actorChurnCount: number;
  /** How many times the partner entered PARTNER_CHURN. */
  readonly partnerChurnCount: number;
  /** Need To Transmit (§6.4.7). */
  readonly ntt: boolean;
  /** port_enabled: the link is up. */
  readonly enabled: boolean;
  /** The partner is our own system: never aggregate. */
  readonly loopback: boolean;
  /** The version of the partner's last LACPDU. */
  readonly partnerVersion: number;
  /** Whether LACPDUs may be sent (see {@linkcode LacpPort.mayTransmit}). */
  readonly mayTransmit: boolean;
  /** The port's counters. */
  readonly counters: Readonly<PortCounters>;
  /** Timer deadlines (ms), null when not running. */
  readonly timers: Readonly<PortTimers>;
}

/**
 * A port as anyone but the {@linkcode LacpSystem} that drives it sees it: its identity, the
 * getters and a snapshot, no transitions.
 */
export type LacpPortView = Pick<
  LacpPort,
  | "identity"
  | "actorState"
  | "partnerState"
  | "rxState"
  | "muxState"
  | "selected"
  | "enabled"
  | "loopback"
  | "mayTransmit"
  | "individual"
  | "actorInfo"
  | "snapshot"
>;

function zeroCounters(): PortCounters {
  return {
    lacpduRx: 0,
    lacpduTx: 0,
    malformedRx: 0,
    illegalRx: 0,
    unknownRx: 0,
    taggedRx: 0,
    markerRx: 0,
    markerTx: 0,
    markerDropped: 0,
    injectedDrops: 0,
    loopbackRx: 0,
    kernelDrops: 0,
  };
}

function frozenInfo(info: LacpPortInfo): Readonly<LacpPortInfo> {
  // A copy of the system id: a typed array cannot be frozen, and the port's own must not leak.
  return Object.freeze({ ...info, system: info.system.slice() });
}

/**
 * One port's machines and variables. The variables are private: {@linkcode LacpSystem} drives
 * the transitions through the methods below, hot paths read the few fields they need through
 * getters (no allocation per frame), and status and labs take a {@linkcode snapshot}.
 */
export class LacpPort {
  readonly #identity: PortIdentity;
  readonly #actor: ActorSettings;
  /** Actor_Oper_Port_State. */
  #actorState: number;
  /** Partner_Oper_*: what we know of the partner. */
  #partner: LacpPortInfo = adminPartner();
  #rxState: RxState = "INITIALIZE";
  #periodicState: PeriodicState = "NO_PERIODIC";
  #muxState: MuxState = "DETACHED";
  #selected: Selection = "UNSELECTED";
  #actorChurn: ChurnState = "CHURN_MONITOR";
  #partnerChurn: ChurnState = "CHURN_MONITOR";
  #actorChurnCount = 0;
  #partnerChurnCount = 0;
  /** Need To Transmit (§6.4.7). */
  #ntt = false;
  /** port_enabled: the link is up. */
  #enabled = false;
  /** The partner is our own system: never aggregate. */
  #loopback = false;
  /** The version of the partner's last LACPDU. */
  #partnerVersion = 0;
  readonly #counters: PortCounters = zeroCounters();
  readonly #timers: PortTimers = {
    currentWhile: null,
    periodic: null,
    waitWhile: null,
    actorChurn: null,
    partnerChurn: null,
  };
  /** When the last few LACPDUs went out, for the 3-per-second limit. */
  readonly #txTimes: number[] = [];

  /** Creates the port in its BEGIN state; call {@linkcode begin} to start it. */
  constructor(identity: PortIdentity, actor: ActorSettings) {
    this.#identity = {
      name: identity.name,
      port: identity.port,
      portPriority: identity.portPriority,
    };
    this.#actor = actor;
    this.#actorState = (actor.active ? ACTIVE : 0) | (actor.shortTimeout ? SHORT_TIMEOUT : 0) |
      AGGREGATION;
  }

  /** The port's name, number and priority. */
  get identity(): Readonly<PortIdentity> {
    return this.#identity;
  }

  /** The interface was renamed: logs and status use the new name. */
  rename(name: string): void {
    this.#identity.name = name;
  }

  /** Actor_Oper_Port_State. */
  get actorState(): number {
    return this.#actorState;
  }

  /** Partner_Oper_Port_State. */
  get partnerState(): number {
    return this.#partner.state;
  }

  /** Receive machine state. */
  get rxState(): RxState {
    return this.#rxState;
  }

  /** Mux machine state. */
  get muxState(): MuxState {
    return this.#muxState;
  }

  /** The Selected variable, as Selection Logic last set it. */
  get selected(): Selection {
    return this.#selected;
  }

  /** port_enabled: the link is up. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The partner is our own system: never aggregate. */
  get loopback(): boolean {
    return this.#loopback;
  }

  /** Every variable now, frozen (allocates: for status and labs, not for per-frame paths). */
  snapshot(): LacpPortSnapshot {
    return Object.freeze({
      identity: Object.freeze({ ...this.#identity }),
      actor: frozenInfo(this.actorInfo()),
      partner: frozenInfo(this.#partner),
      rxState: this.#rxState,
      periodicState: this.#periodicState,
      muxState: this.#muxState,
      selected: this.#selected,
      actorChurn: this.#actorChurn,
      partnerChurn: this.#partnerChurn,
      actorChurnCount: this.#actorChurnCount,
      partnerChurnCount: this.#partnerChurnCount,
      ntt: this.#ntt,
      enabled: this.#enabled,
      loopback: this.#loopback,
      partnerVersion: this.#partnerVersion,
      mayTransmit: this.mayTransmit,
      counters: Object.freeze({ ...this.#counters }),
      timers: Object.freeze({ ...this.#timers }),
    });
  }

  /** Counts `n` (default 1) events of a kind the owner sees and the port does not. */
  count(counter: CountedByOwner, n = 1): void {
    this.#counters[counter] += n;
  }

  /** Selection Logic's verdict for this port (§6.4.14). */
  setSelected(selected: Selection): void {
    this.#selected = selected;
  }

  /**
   * Sets NTT: a LACPDU goes out at the next transmit opportunity (what we send changed, or the
   * last one could not be queued).
   */
  requestTransmit(): void {
    this.#ntt = true;
  }

  /**
   * The partner half of this port's LAG ID (§6.4.14): who it would aggregate with. An
   * Individual port's includes both port numbers, so no other port shares it.
   */
  partnerLagId(): string {
    const p = this.#partner;
    const base = `${p.systemPriority}/${formatMac(p.system)}/${p.key}`;
    return this.individual
      ? `${base}/port ${p.portPriority}.${p.port}/${this.#identity.port}`
      : base;
  }

  /**
   * The partner information as it goes into our LACPDU, with `state` as given (transmit may
   * inject another state octet).
   */
  partnerInfoWithState(state: number): LacpPortInfo {
    return { ...this.#partner, system: this.#partner.system.slice(), state };
  }

  /** Our Actor information as it goes into a LACPDU (true state, before any injection). */
  actorInfo(): LacpPortInfo {
    return {
      systemPriority: this.#actor.systemPriority,
      system: this.#actor.system,
      key: this.#actor.key,
      portPriority: this.#identity.portPriority,
      port: this.#identity.port,
      state: this.#actorState,
    };
  }

  /** Whether either side is active, so LACPDUs may be sent ("speak when spoken to"). */
  get mayTransmit(): boolean {
    return this.#enabled && this.#rxState !== "PORT_DISABLED" && this.#rxState !== "INITIALIZE" &&
      ((this.#actorState & ACTIVE) !== 0 || (this.#partner.state & ACTIVE) !== 0);
  }

  /** Aggregatable on both ends and not looped back (§6.4.14: otherwise the port is Individual). */
  get individual(): boolean {
    return (this.#actorState & AGGREGATION) === 0 || (this.#partner.state & AGGREGATION) === 0;
  }

  /** BEGIN: initialize every machine; `enabled` is the link's carrier. */
  begin(now: number, enabled: boolean): void {
    this.#enabled = enabled;
    this.#initialize();
    this.#enterActorChurnMonitor(now);
    this.#enterPartnerChurnMonitor(now);
    this.#enterDetached();
    if (enabled) this.#enterExpired(now);
  }

  /** The link went up or down. */
  setEnabled(now: number, enabled: boolean): void {
    if (enabled === this.#enabled) return;
    this.#enabled = enabled;
    if (!enabled) {
      this.#rxState = "PORT_DISABLED";
      this.#partner.state &= ~SYNCHRONIZATION;
      this.#timers.currentWhile = null;
      this.#actorState &= ~EXPIRED;
      // A disabled port leaves its aggregator.
      this.#selected = "UNSELECTED";
      this.#enterActorChurnMonitor(now);
      this.#enterPartnerChurnMonitor(now);
    } else {
      this.#enterExpired(now);
    }
  }

  #initialize(): void {
    this.#rxState = "INITIALIZE";
    this.#selected = "UNSELECTED";
    this.#recordDefault();
    this.#actorState &= ~EXPIRED;
    this.#rxState = "PORT_DISABLED";
    this.#partner.state &= ~SYNCHRONIZATION;
  }

  #recordDefault(): void {
    this.#partner = adminPartner();
    // The looped-back "partner" is forgotten with every other partner.
    this.#loopback = false;
    this.#actorState |= DEFAULTED;
  }

  #enterExpired(now: number): void {
    this.#rxState = "EXPIRED";
    this.#partner.state &= ~SYNCHRONIZATION;
    this.#partner.state |= SHORT_TIMEOUT;
    this.#timers.currentWhile = now + LacpTimes.SHORT_TIMEOUT;
    this.#actorState |= EXPIRED;
  }

  /**
   * A well-formed LACPDU arrived (§6.4.12 CURRENT). `loopback` says it carries our own system
   * id. Returns false when the port ignores it (disabled).
   */
  receive(now: number, pdu: Lacpdu, loopback: boolean): boolean {
    if (!this.#enabled || this.#rxState === "PORT_DISABLED" || this.#rxState === "INITIALIZE") {
      return false;
    }
    this.#counters.lacpduRx++;
    if (loopback) this.#counters.loopbackRx++;
    this.#loopback = loopback;
    this.#partnerVersion = pdu.version;
    // update_Selected: a different partner port means a different LAG.
    const a = pdu.actor;
    if (!sameIdentity(a, this.#partner) || ((a.state ^ this.#partner.state) & AGGREGATION) !== 0) {
      this.#selected = "UNSELECTED";
    }
    // update_NTT: the partner has stale information about us.
    const mine = this.actorInfo();
    const checked = ACTIVE | SHORT_TIMEOUT | SYNCHRONIZATION | AGGREGATION;
    if (!sameIdentity(pdu.partner, mine) || ((pdu.partner.state ^ mine.state) & checked) !== 0) {
      this.#ntt = true;
    }
    this.#recordPdu(pdu);
    this.#timers.currentWhile = now +
      ((this.#actorState & SHORT_TIMEOUT) !== 0 ? LacpTimes.SHORT_TIMEOUT : LacpTimes.LONG_TIMEOUT);
    this.#actorState &= ~EXPIRED;
    this.#rxState = "CURRENT";
    return true;
  }

  /** recordPDU (§6.4.9): take the partner's Actor information; work out Partner.Synchronization. */
  #recordPdu(pdu: Lacpdu): void {
    const mine = this.actorInfo();
    const matched = (sameIdentity(pdu.partner, mine) &&
      ((pdu.partner.state ^ mine.state) & AGGREGATION) === 0) ||
      (pdu.actor.state & AGGREGATION) === 0;
    // "Actively maintained": the partner is active, or we are and the partner knows it.
    const sync = matched && (pdu.actor.state & SYNCHRONIZATION) !== 0 &&
      ((pdu.actor.state & ACTIVE) !== 0 ||
        ((mine.state & ACTIVE) !== 0 && (pdu.partner.state & ACTIVE) !== 0));
    this.#partner = {
      systemPriority: pdu.actor.systemPriority,
      system: pdu.actor.system.slice(),
      key: pdu.actor.key,
      portPriority: pdu.actor.portPriority,
      port: pdu.actor.port,
      state: sync ? pdu.actor.state | SYNCHRONIZATION : pdu.actor.state & ~SYNCHRONIZATION,
    };
    this.#actorState &= ~DEFAULTED;
  }

  /** Runs the timer-driven transitions due at `now` (receive, wait_while, churn). */
  expireTimers(now: number): void {
    const t = this.#timers;
    // Ready_N stays true once wait_while has run out; a stale deadline would wake the loop forever.
    if (t.waitWhile !== null && now >= t.waitWhile) t.waitWhile = null;
    if (t.currentWhile !== null && now >= t.currentWhile) {
      if (this.#rxState === "CURRENT") {
        this.#enterExpired(now);
      } else if (this.#rxState === "EXPIRED") {
        // update_Default_Selected, then recordDefault.
        const admin = adminPartner();
        if (
          !sameIdentity(admin, this.#partner) ||
          ((admin.state ^ this.#partner.state) & AGGREGATION) !== 0
        ) {
          this.#selected = "UNSELECTED";
        }
        this.#recordDefault();
        this.#actorState &= ~EXPIRED;
        this.#rxState = "DEFAULTED";
        t.currentWhile = null;
      }
    }
    if (t.actorChurn !== null && now >= t.actorChurn) {
      t.actorChurn = null;
      if (this.#actorChurn === "CHURN_MONITOR") {
        this.#actorChurn = "CHURN";
        this.#actorChurnCount++;
      }
    }
    if (t.partnerChurn !== null && now >= t.partnerChurn) {
      t.partnerChurn = null;
      if (this.#partnerChurn === "CHURN_MONITOR") {
        this.#partnerChurn = "CHURN";
        this.#partnerChurnCount++;
      }
    }
  }

  /**
   * The periodic machine: keeps the timer keyed on the partner's LACP_Timeout and sets NTT when
   * it expires. Silent when neither side is active or the port is down.
   */
  runPeriodic(now: number): void {
    if (!this.mayTransmit) {
      this.#periodicState = "NO_PERIODIC";
      this.#timers.periodic = null;
      return;
    }
    const fast = (this.#partner.state & SHORT_TIMEOUT) !== 0;
    const want: PeriodicState = fast ? "FAST_PERIODIC" : "SLOW_PERIODIC";
    const interval = fast ? LacpTimes.FAST_PERIODIC : LacpTimes.SLOW_PERIODIC;
    const expired = this.#timers.periodic !== null && now >= this.#timers.periodic;
    if (
      this.#periodicState === "NO_PERIODIC" || (this.#periodicState === "FAST_PERIODIC" && !fast)
    ) {
      // Fig. 6-19: a partner asking for the long timeout moves FAST_PERIODIC to SLOW_PERIODIC
      // at once, restarting the timer, with no transmission of its own.
      this.#periodicState = want;
      this.#timers.periodic = now + interval;
    } else if (expired || (this.#periodicState === "SLOW_PERIODIC" && fast)) {
      // PERIODIC_TX, then back to the interval the partner now asks for. The next deadline
      // counts from this one, not from when we woke, so wake-up latency (poll's timeout slack
      // is 0.1%) does not lengthen every interval; after a long stall, count from now.
      const due = this.#timers.periodic;
      const from = expired && due !== null && now - due < interval ? due : now;
      this.#ntt = true;
      this.#periodicState = want;
      this.#timers.periodic = from + interval;
    }
  }

  /**
   * One mux transition, if any is due; `ready` is the aggregator's Ready for this port.
   * Returns true when the state changed (the caller repeats until nothing changes).
   */
  stepMux(now: number, ready: boolean): boolean {
    switch (this.#muxState) {
      case "DETACHED":
        if (this.#selected !== "UNSELECTED") {
          this.#muxState = "WAITING";
          this.#timers.waitWhile = now + LacpTimes.AGGREGATE_WAIT;
          return true;
        }
        return false;
      case "WAITING":
        if (this.#selected === "UNSELECTED") {
          this.#enterDetached();
          return true;
        }
        if (this.#selected === "SELECTED" && ready) {
          this.#enterAttached();
          return true;
        }
        return false;
      case "ATTACHED":
        if (this.#selected !== "SELECTED") {
          this.#enterDetached();
          return true;
        }
        if ((this.#partner.state & SYNCHRONIZATION) !== 0) {
          this.#muxState = "COLLECTING_DISTRIBUTING";
          this.#actorState |= COLLECTING | DISTRIBUTING;
          this.#ntt = true;
          return true;
        }
        return false;
      case "COLLECTING_DISTRIBUTING":
        if (this.#selected !== "SELECTED" || (this.#partner.state & SYNCHRONIZATION) === 0) {
          this.#enterAttached();
          return true;
        }
        return false;
    }
  }

  /** Whether this port's wait_while has run out (Ready_N). */
  waitDone(now: number): boolean {
    return this.#timers.waitWhile === null || now >= this.#timers.waitWhile;
  }

  #enterDetached(): void {
    this.#muxState = "DETACHED";
    this.#timers.waitWhile = null;
    this.#actorState &= ~(SYNCHRONIZATION | COLLECTING | DISTRIBUTING);
    this.#ntt = true;
  }

  #enterAttached(): void {
    this.#muxState = "ATTACHED";
    this.#timers.waitWhile = null;
    this.#actorState = (this.#actorState | SYNCHRONIZATION) & ~(COLLECTING | DISTRIBUTING);
    this.#ntt = true;
  }

  /** Churn detection (§6.4.17): runs after the other machines settle. */
  runChurn(now: number): void {
    const actorSync = (this.#actorState & SYNCHRONIZATION) !== 0;
    if (actorSync && this.#actorChurn !== "NO_CHURN") {
      this.#actorChurn = "NO_CHURN";
      this.#timers.actorChurn = null;
    } else if (!actorSync && this.#actorChurn === "NO_CHURN") {
      this.#enterActorChurnMonitor(now);
    }
    const partnerSync = (this.#partner.state & SYNCHRONIZATION) !== 0;
    if (partnerSync && this.#partnerChurn !== "NO_CHURN") {
      this.#partnerChurn = "NO_CHURN";
      this.#timers.partnerChurn = null;
    } else if (!partnerSync && this.#partnerChurn === "NO_CHURN") {
      this.#enterPartnerChurnMonitor(now);
    }
  }

  #enterActorChurnMonitor(now: number): void {
    this.#actorChurn = "CHURN_MONITOR";
    this.#timers.actorChurn = now + LacpTimes.CHURN_DETECTION;
  }

  #enterPartnerChurnMonitor(now: number): void {
    this.#partnerChurn = "CHURN_MONITOR";
    this.#timers.partnerChurn = now + LacpTimes.CHURN_DETECTION;
  }

  /**
   * The transmit machine's gate: true when a LACPDU should go out now (NTT set, allowed to
   * speak, and under 3 in the last second). The caller sends, then calls {@linkcode sent}.
   */
  transmitDue(now: number): boolean {
    if (!this.#ntt || !this.mayTransmit) return false;
    while (this.#txTimes.length > 0 && now - this.#txTimes[0]! >= LacpTimes.FAST_PERIODIC) {
      this.#txTimes.shift();
    }
    return this.#txTimes.length < LacpTimes.TX_LIMIT;
  }

  /** Records a transmission (or an injected drop) at `now` and clears NTT. */
  sent(now: number): void {
    this.#ntt = false;
    this.#txTimes.push(now);
  }

  /** The earliest time this port needs attention, or null. */
  nextDeadline(): number | null {
    const t = this.#timers;
    let next: number | null = null;
    const consider = (at: number | null) => {
      if (at !== null && (next === null || at < next)) next = at;
    };
    consider(t.currentWhile);
    consider(t.periodic);
    if (this.#muxState === "WAITING") consider(t.waitWhile);
    consider(t.actorChurn);
    consider(t.partnerChurn);
    // A transmission held back by the rate limit goes out when the oldest one ages out.
    if (this.#ntt && this.mayTransmit && this.#txTimes.length >= LacpTimes.TX_LIMIT) {
      consider(this.#txTimes[0]! + LacpTimes.FAST_PERIODIC);
    }
    return next;
  }
}
