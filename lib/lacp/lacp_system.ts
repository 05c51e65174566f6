/**
 * An LACP actor: one system (id, priority, key) with several ports that aggregate together.
 * It owns the cross-port parts of IEEE 802.1AX: Selection Logic by LAG ID (ports whose partner
 * differs from the aggregator's go STANDBY), Ready for the mux machines, loopback detection,
 * the Marker Responder, and the transmit path where injection rules change outgoing LACPDUs
 * (the machines keep their true state, so they never fight an injection).
 *
 * Pure: the caller supplies time and a transmit function, and feeds received frames and link
 * changes in. {@linkcode LacpSystem.nextDeadline} says when to call {@linkcode LacpSystem.tick}.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  formatInjection,
  InjectionEngine,
  type InjectRule,
  type OutgoingPdu,
} from "./inject_rule.ts";
import { type ActorSettings, LacpPort, type LacpPortView, type PortIdentity } from "./lacp_port.ts";
import {
  decodeLacpdu,
  decodeMarker,
  encodeLacpdu,
  encodeMarker,
  formatStateLetters,
  type Lacpdu,
  LacpState,
  markerResponse,
  SlowSubtype,
  slowSubtypeAt,
} from "../packet/lacp.ts";
import { ETH_HEADER_LEN, ethernetHeaderLengthAt } from "../packet/ethernet.ts";
import { formatMac, macEquals } from "../packet/mac.ts";
import { MalformedPacketError } from "../packet/errors.ts";

const log = getLogger(["netkit", "lacp"]);

/** Kinds of frame the system transmits. */
export type FrameKind = "lacpdu" | "marker";

/** Sends one frame on port `index`; returns false when it could not be queued. */
export type Transmit = (index: number, frame: Uint8Array, kind: FrameKind) => boolean;

/** One port to run. */
export interface PortSetup extends PortIdentity {
  /** Source MAC for frames sent on the port. */
  mac: Uint8Array;
  /** Carrier at start. */
  enabled: boolean;
}

/** Options for {@linkcode LacpSystem}. */
export interface LacpSystemOptions {
  /** The actor every port speaks for. */
  actor: ActorSettings;
  /** The ports, in index order (the index every method takes). */
  ports: readonly PortSetup[];
  /** Injection rules applied to outgoing LACPDUs, on every port. */
  rules?: readonly InjectRule[];
  /** Sends a frame; called from within the system's methods. */
  transmit: Transmit;
}

/** Slow Protocols subtypes 3..10 belong to other protocols (OAM, OSSP...); 0 and 11..255 are illegal. */
const FIRST_OTHER_SUBTYPE = 3;
const LAST_SLOW_SUBTYPE = 10;

/** Most Marker responses per port per second: Slow Protocols allow 10 frames/s, LACP takes 3. */
const MARKER_RESPONSES_PER_SECOND = 5;

/** "A:ATG|P:F": the states as the original lacpd logs them. */
export function formatStatePair(actor: number, partner: number): string {
  return `A:${formatStateLetters(actor)}|P:${formatStateLetters(partner)}`;
}

/** The LACP actor of one daemon. */
export class LacpSystem {
  readonly #ports: readonly LacpPort[];
  readonly #macs: Uint8Array[];
  readonly #actor: ActorSettings;
  readonly #transmit: Transmit;
  /** One engine per port: rule limits (`#N`) and fire counts are per port. */
  readonly #injection: InjectionEngine[];
  /** The injection rules, as given. */
  readonly rules: readonly InjectRule[];
  /** Per port: the state pair last logged, the injection rules last active. */
  readonly #logged: string[];
  readonly #activeRules: string[];
  readonly #markerTimes: number[][];
  readonly #enabledAtStart: boolean[];
  /** Ports where an injection rule has fired. */
  readonly #firedOn = new Set<number>();
  /** Ports where an injected LACPDU went out (or was dropped, as a rule asked). */
  readonly #injectedOn = new Set<number>();
  /** The partner part of the LAG ID the aggregated ports share, or null while none is chosen. */
  #aggregatorLag: string | null = null;
  readonly #observers = new Set<(now: number) => void>();

  /** Creates the actor; nothing runs until {@linkcode begin}. */
  constructor(options: LacpSystemOptions) {
    this.#actor = options.actor;
    this.#transmit = options.transmit;
    this.rules = options.rules ?? [];
    this.#injection = options.ports.map(() => new InjectionEngine(this.rules));
    this.#ports = options.ports.map((p) => new LacpPort(p, options.actor));
    this.#macs = options.ports.map((p) => p.mac);
    this.#logged = this.#ports.map(() => "");
    this.#activeRules = this.#ports.map(() => "");
    this.#markerTimes = this.#ports.map(() => []);
    this.#enabledAtStart = options.ports.map((p) => p.enabled);
  }

  /** The ports, read-only: the system alone drives their machines. */
  get ports(): readonly LacpPortView[] {
    return this.#ports;
  }

  /** The actor's settings (system id, priority, key, activity, timeout). */
  get actor(): ActorSettings {
    return this.#actor;
  }

  /** Starts every port (BEGIN) and sends what is due. */
  begin(now: number): void {
    this.#ports.forEach((port, i) => port.begin(now, this.#enabledAtStart[i]!));
    this.#settle(now);
  }

  /** The carrier of port `index` changed. */
  setEnabled(index: number, enabled: boolean, now: number): void {
    const port = this.#ports[index]!;
    if (port.enabled === enabled) return;
    log.info("{port} link {state}", { port: port.identity.name, state: enabled ? "up" : "down" });
    port.setEnabled(now, enabled);
    this.#settle(now);
  }

  /** Port `index`'s interface was renamed. */
  renamePort(index: number, name: string): void {
    this.#ports[index]!.rename(name);
  }

  /** Adds frames the kernel dropped on port `index`'s socket to its `kernelDrops`. */
  countKernelDrops(index: number, drops: number): void {
    this.#ports[index]!.count("kernelDrops", drops);
  }

  /** Replaces the source MAC of port `index` (the interface's address changed). */
  setMac(index: number, mac: Uint8Array): void {
    this.#macs[index] = mac.slice();
  }

  /**
   * A Slow Protocols frame to 01:80:C2:00:00:02 arrived on port `index`, with any VLAN tag the
   * kernel took off put back in place (the caller filters destination and direction). Tagged
   * frames, other Slow Protocols, illegal subtypes and malformed PDUs are counted and change
   * nothing.
   */
  receive(index: number, frame: Uint8Array, now: number): void {
    const port = this.#ports[index]!;
    if (ethernetHeaderLengthAt(frame) > ETH_HEADER_LEN) {
      // Slow Protocols frames are untagged by definition (802.3 Annex 57A).
      port.count("taggedRx");
      return;
    }
    const subtype = slowSubtypeAt(frame);
    try {
      if (subtype === SlowSubtype.LACP) {
        const pdu = decodeLacpdu(frame);
        this.#receiveLacpdu(index, pdu, now);
      } else if (subtype === SlowSubtype.MARKER) {
        this.#receiveMarker(index, frame, now);
      } else if (subtype >= FIRST_OTHER_SUBTYPE && subtype <= LAST_SLOW_SUBTYPE) {
        // Other Slow Protocols (OAM, OSSP...) are not ours to answer.
        port.count("unknownRx");
        return;
      } else {
        // Subtype 0 and 11..255 are illegal; so is a frame too short to have one.
        port.count("illegalRx");
        return;
      }
    } catch (err) {
      if (!(err instanceof MalformedPacketError)) throw err;
      port.count("malformedRx");
      log.debug("{port} dropped a malformed PDU: {reason}", {
        port: port.identity.name,
        reason: err.message,
      });
      return;
    }
    this.#settle(now);
  }

  #receiveLacpdu(index: number, pdu: Lacpdu, now: number): void {
    const port = this.#ports[index]!;
    const loopback = macEquals(pdu.actor.system, 0, this.#actor.system, 0);
    if (loopback && !port.loopback) {
      log.warn(
        "{port} loopback detected: the partner's system {system} is our own; not aggregating",
        {
          port: port.identity.name,
          system: formatMac(pdu.actor.system),
        },
      );
    }
    port.receive(now, pdu, loopback);
  }

  #receiveMarker(index: number, frame: Uint8Array, now: number): void {
    const port = this.#ports[index]!;
    const marker = decodeMarker(frame);
    port.count("markerRx");
    if (marker.tlv !== "information" || !port.enabled) return;
    const times = this.#markerTimes[index]!;
    while (times.length > 0 && now - times[0]! >= 1000) times.shift();
    if (times.length >= MARKER_RESPONSES_PER_SECOND) {
      port.count("markerDropped");
      return;
    }
    times.push(now);
    if (this.#transmit(index, encodeMarker(markerResponse(marker), this.#macs[index]!), "marker")) {
      port.count("markerTx");
    }
  }

  /** Runs every machine whose timer is due at `now`, then transmits what is due. */
  tick(now: number): void {
    for (const port of this.#ports) port.expireTimers(now);
    this.#settle(now);
  }

  /** The earliest time {@linkcode tick} has work, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const port of this.#ports) {
      const at = port.nextDeadline();
      if (at !== null && (next === null || at < next)) next = at;
    }
    return next;
  }

  /** Selection, mux, periodic and churn machines until nothing changes; then transmit. */
  #settle(now: number): void {
    for (let round = 0; round < 16; round++) {
      this.#select();
      let changed = false;
      for (const port of this.#ports) {
        while (port.stepMux(now, this.#ready(port, now))) changed = true;
      }
      if (!changed) break;
    }
    for (const port of this.#ports) {
      port.runPeriodic(now);
      port.runChurn(now);
    }
    this.#ports.forEach((_, i) => this.#noticeInjectionChange(i));
    this.#ports.forEach((_, i) => this.#transmitLacpdu(i, now));
    this.#ports.forEach((_, i) => this.#logStateChange(i));
    for (const observer of this.#observers) observer(now);
  }

  /**
   * Calls `observer` each time the machines come to rest after an input (start, timer, frame,
   * carrier), so it sees every state, even one that lasts a millisecond. It must not throw.
   * Returns a function that removes it.
   */
  observe(observer: (now: number) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Selection Logic. Individual ports each get an aggregator of their own. The aggregatable
   * ports share one: it keeps its LAG ID while any port is selected to it, otherwise it takes the
   * LAG ID most ports could join (ties: the lowest port number). Ports with another LAG ID are
   * STANDBY; looped-back ports stay UNSELECTED. Selection applies only to a port that is not
   * attached (§6.4.14.1): an UNSELECTED port stays so until its mux has reached DETACHED, so a
   * new partner always costs a detach and a fresh wait_while.
   */
  #select(): void {
    const candidates = this.#ports.filter((p) =>
      p.enabled && !p.loopback && p.rxState !== "PORT_DISABLED" && p.rxState !== "INITIALIZE"
    );
    const members = candidates.filter((p) => !p.individual && p.selected === "SELECTED");
    if (members.length === 0) {
      const groups = new Map<string, LacpPort[]>();
      for (const p of candidates) {
        if (p.individual) continue;
        const lag = p.partnerLagId();
        groups.set(lag, [...(groups.get(lag) ?? []), p]);
      }
      let best: string | null = null;
      let bestPorts: LacpPort[] = [];
      for (const [lag, ports] of groups) {
        const lowest = Math.min(...ports.map((p) => p.identity.port));
        const bestLowest = Math.min(...bestPorts.map((p) => p.identity.port));
        if (
          ports.length > bestPorts.length ||
          (ports.length === bestPorts.length && lowest < bestLowest)
        ) {
          best = lag;
          bestPorts = ports;
        }
      }
      this.#aggregatorLag = best;
    }
    for (const p of this.#ports) {
      if (!candidates.includes(p)) {
        p.setSelected("UNSELECTED");
      } else if (p.selected === "UNSELECTED" && p.muxState !== "DETACHED") {
        continue;
      } else if (p.individual) {
        if (p.selected !== "SELECTED") p.setSelected("SELECTED");
      } else if (p.selected !== "SELECTED") {
        p.setSelected(p.partnerLagId() === this.#aggregatorLag ? "SELECTED" : "STANDBY");
      }
    }
  }

  /** Ready: every port waiting to join the same aggregator has its wait_while done. */
  #ready(port: LacpPort, now: number): boolean {
    if (port.individual) return port.waitDone(now);
    return this.#ports.every((p) =>
      p.individual || p.selected !== "SELECTED" || p.muxState !== "WAITING" || p.waitDone(now)
    );
  }

  /** What we would send on port `index` before injection. */
  #outgoing(index: number): OutgoingPdu {
    const port = this.#ports[index]!;
    return { version: 1, actor: port.actorInfo(), partner: { state: port.partnerState } };
  }

  /** A change in which rules apply changes what we send: transmit it at once. */
  #noticeInjectionChange(index: number): void {
    if (this.rules.length === 0) return;
    const port = this.#ports[index]!;
    const engine = this.#injection[index]!;
    engine.noteStates(port.actorState, port.partnerState);
    const active = engine.active(port.actorState, port.partnerState).join(",");
    if (active !== this.#activeRules[index]) {
      this.#activeRules[index] = active;
      port.requestTransmit();
    }
  }

  #transmitLacpdu(index: number, now: number): void {
    const port = this.#ports[index]!;
    if (!port.transmitDue(now)) return;
    const truth = this.#outgoing(index);
    let pdu: OutgoingPdu | null = truth;
    let fired = false;
    if (this.rules.length > 0) {
      const result = this.#injection[index]!.apply(truth, port.actorState, port.partnerState);
      pdu = result.pdu;
      fired = result.fired.length > 0;
      if (fired) {
        this.#firedOn.add(index);
        log.info("Inject rule triggered on {port}: {change}", {
          port: port.identity.name,
          change: formatInjection(truth, pdu),
        });
      }
    }
    port.sent(now);
    if (pdu === null) {
      port.count("injectedDrops");
      this.#injectedOn.add(index);
      return;
    }
    // Injection may only change the partner's state octet; the rest is what we know of it.
    const frame = encodeLacpdu(
      {
        version: pdu.version,
        actor: pdu.actor,
        partner: port.partnerInfoWithState(pdu.partner.state),
        collectorMaxDelay: 0,
        extraTlvs: [],
      },
      this.#macs[index]!,
    );
    if (!this.#transmit(index, frame, "lacpdu")) {
      // The socket queue is full: try again on the next tick.
      port.requestTransmit();
      return;
    }
    port.count("lacpduTx");
    if (fired) this.#injectedOn.add(index);
    log.debug("Sent LACPDU on {port}: {states}", {
      port: port.identity.name,
      states: formatStatePair(pdu.actor.state, pdu.partner.state),
    });
  }

  #logStateChange(index: number): void {
    const port = this.#ports[index]!;
    const pair = formatStatePair(port.actorState, port.partnerState);
    const before = this.#logged[index]!;
    if (pair === before) return;
    this.#logged[index] = pair;
    if (before !== "") {
      log.info("{port} state changed: {change}", {
        port: port.identity.name,
        change: `${before} -> ${pair}`,
      });
    }
  }

  /** How many times each rule has fired on port `index`, in rule order. */
  ruleFireCounts(index: number): number[] {
    return this.#injection[index]!.fireCounts();
  }

  /**
   * True once at least one rule has fired and every port where one fired has sent an injected
   * LACPDU (or dropped it, as its rule said): the condition for `--exit-after-inject`.
   */
  injectionComplete(): boolean {
    if (this.#firedOn.size === 0) return false;
    for (const index of this.#firedOn) if (!this.#injectedOn.has(index)) return false;
    return true;
  }

  /** Names of the ports where an injected LACPDU was sent (or dropped). */
  injectedPorts(): string[] {
    return [...this.#injectedOn].sort((a, b) => a - b).map((i) => this.#ports[i]!.identity.name);
  }

  /** Whether the partner of port `index` is in sync and we are collecting and distributing. */
  isAggregated(index: number): boolean {
    const port = this.#ports[index]!;
    return port.muxState === "COLLECTING_DISTRIBUTING" &&
      (port.partnerState & LacpState.SYNCHRONIZATION) !== 0;
  }
}
