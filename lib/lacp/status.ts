// JSON field names are snake_case by house rule (and the original lacpd's names).
// deno-lint-ignore-file camelcase

/**
 * What `netkit lacp -s` reports: one object per daemon, keeping the field names of the original
 * lacpd (`pid`, `net_ns_id`, `ports[].interface`, `mux_state`, `selected`, `actor{...}`,
 * `partner{...}`) and adding the state machines, timers, counters and injection rules.
 *
 * @module
 */

import {
  formatStateLetters,
  type LacpPortInfo,
  LacpState,
  stateFlagNames,
} from "../packet/lacp.ts";
import { formatMac } from "../packet/mac.ts";
import type { LacpPortSnapshot } from "./lacp_port.ts";
import type { LacpSystem } from "./lacp_system.ts";

/** Actor or partner information (JSON). */
export interface PartyStatus {
  /** System priority. */
  system_priority: number;
  /** System id, `aa:bb:cc:dd:ee:ff`. */
  system: string;
  /** Operational key. */
  key: number;
  /** Port priority. */
  port_priority: number;
  /** Port number. */
  port: number;
  /** The state octet as a number. */
  state: number;
  /** The state as letters of ATGSCDFE, "N" when empty. */
  state_letters: string;
  /** Names of the set state bits. */
  state_flags: string[];
}

/** One injection rule on one port (JSON). */
export interface RuleStatus {
  /** The rule as written on the command line. */
  rule: string;
  /** How many LACPDUs it changed (or dropped) on this port. */
  fired: number;
  /** The `#N` limit, or null when unlimited. */
  limit: number | null;
  /** `#N/episode`: the limit applies to each episode of the condition, not to the port's life. */
  per_episode: boolean;
}

/** One port (JSON). */
export interface PortStatus {
  /** Interface name. */
  interface: string;
  /** Our port number. */
  port_number: number;
  /** The rate we ask the partner for (`--fast` or not). */
  configured_rate_mode: "fast" | "slow";
  /** The rate the partner asks us to transmit at. */
  effective_rate_mode: "fast" | "slow";
  /** We are active (LACP_Activity). */
  active_mode: boolean;
  /** The partner is active. */
  partner_active: boolean;
  /** LACPDUs may be sent: the link is up and either side is active. */
  should_send: boolean;
  /** The link's carrier. */
  link_up: boolean;
  /** Receive machine state. */
  rx_state: string;
  /** Periodic transmission machine state. */
  periodic_state: string;
  /** Mux machine state. */
  mux_state: string;
  /** `selection` is SELECTED (the original lacpd's field). */
  selected: boolean;
  /** The Selected variable: SELECTED, STANDBY or UNSELECTED. */
  selection: string;
  /** The partner is our own system. */
  loopback: boolean;
  /** The version of the partner's last LACPDU. */
  partner_version: number;
  /** Churn detection states, and how often each side entered churn. */
  churn: { actor: string; partner: string; actor_count: number; partner_count: number };
  /** Seconds until each running timer expires; null when it is not running. */
  timers: Record<
    "current_while" | "periodic" | "wait_while" | "actor_churn" | "partner_churn",
    number | null
  >;
  /** The port's counters (see `PortCounters` in lib/lacp/lacp_port.ts). */
  counters: {
    lacpdu_rx: number;
    lacpdu_tx: number;
    malformed_rx: number;
    illegal_rx: number;
    unknown_rx: number;
    tagged_rx: number;
    marker_rx: number;
    marker_tx: number;
    marker_dropped: number;
    injected_drops: number;
    loopback_rx: number;
    kernel_drops: number;
  };
  /** Every injection rule and how often it fired here. */
  inject_rules: RuleStatus[];
  /** Our information, true state (before any injection). */
  actor: PartyStatus;
  /** What we know of the partner. */
  partner: PartyStatus;
}

/** One daemon (JSON): an element of the `-s -j` array. */
export interface DaemonStatus {
  /** The daemon's process id. */
  pid: number;
  /** Inode of the daemon's network namespace (as in `net:[4026531840]`). */
  net_ns_id: number;
  /** The rate every port asks its partner for. */
  configured_rate_mode: "fast" | "slow";
  /** Active (true) or passive. */
  active_mode: boolean;
  /** Seconds since the daemon started. */
  uptime_seconds: number;
  /** One entry per `-i` interface, in order. */
  ports: PortStatus[];
}

function party(info: Readonly<LacpPortInfo>): PartyStatus {
  return {
    system_priority: info.systemPriority,
    system: formatMac(info.system),
    key: info.key,
    port_priority: info.portPriority,
    port: info.port,
    state: info.state,
    state_letters: formatStateLetters(info.state),
    state_flags: stateFlagNames(info.state),
  };
}

function remaining(at: number | null, now: number): number | null {
  return at === null ? null : Math.max(0, Math.round(at - now)) / 1000;
}

function portStatus(
  system: LacpSystem,
  port: LacpPortSnapshot,
  index: number,
  now: number,
): PortStatus {
  const rate = (state: number) => (state & LacpState.SHORT_TIMEOUT) !== 0 ? "fast" : "slow";
  const t = port.timers;
  const c = port.counters;
  const counts = system.ruleFireCounts(index);
  return {
    interface: port.identity.name,
    port_number: port.identity.port,
    configured_rate_mode: system.actor.shortTimeout ? "fast" : "slow",
    effective_rate_mode: rate(port.partner.state),
    active_mode: system.actor.active,
    partner_active: (port.partner.state & LacpState.ACTIVE) !== 0,
    should_send: port.mayTransmit,
    link_up: port.enabled,
    rx_state: port.rxState,
    periodic_state: port.periodicState,
    mux_state: port.muxState,
    selected: port.selected === "SELECTED",
    selection: port.selected,
    loopback: port.loopback,
    partner_version: port.partnerVersion,
    churn: {
      actor: port.actorChurn,
      partner: port.partnerChurn,
      actor_count: port.actorChurnCount,
      partner_count: port.partnerChurnCount,
    },
    timers: {
      current_while: remaining(t.currentWhile, now),
      periodic: remaining(t.periodic, now),
      wait_while: port.muxState === "WAITING" ? remaining(t.waitWhile, now) : null,
      actor_churn: remaining(t.actorChurn, now),
      partner_churn: remaining(t.partnerChurn, now),
    },
    counters: {
      lacpdu_rx: c.lacpduRx,
      lacpdu_tx: c.lacpduTx,
      malformed_rx: c.malformedRx,
      illegal_rx: c.illegalRx,
      unknown_rx: c.unknownRx,
      tagged_rx: c.taggedRx,
      marker_rx: c.markerRx,
      marker_tx: c.markerTx,
      marker_dropped: c.markerDropped,
      injected_drops: c.injectedDrops,
      loopback_rx: c.loopbackRx,
      kernel_drops: c.kernelDrops,
    },
    inject_rules: system.rules.map((rule, i) => ({
      rule: rule.text,
      fired: counts[i] ?? 0,
      limit: rule.limit,
      per_episode: rule.perEpisode,
    })),
    actor: party(port.actor),
    partner: party(port.partner),
  };
}

/** The status of every port of `system` at `now` (monotonic ms). */
export function portStatuses(system: LacpSystem, now: number): PortStatus[] {
  return system.ports.map((port, i) => portStatus(system, port.snapshot(), i, now));
}

function describeParty(label: string, p: PartyStatus): string[] {
  return [
    `  ${label} system ${p.system} priority ${p.system_priority}, key ${p.key}, port ${p.port} priority ${p.port_priority}`,
    `  ${" ".repeat(label.length)} state ${
      p.state.toString(2).padStart(8, "0")
    } ${p.state_letters} (${p.state_flags.join(", ") || "none"})`,
  ];
}

function seconds(value: number | null): string | null {
  return value === null ? null : `${value.toFixed(1)}s`;
}

/** The human form of `-s`: a header per daemon and one block per port. */
export function formatDaemonStatus(status: DaemonStatus): string {
  const lines = [
    `--- Daemon PID: ${status.pid} (Namespace: net:[${status.net_ns_id}], Mode: ${
      status.active_mode ? "active" : "passive"
    }, Configured Rate: ${status.configured_rate_mode}) ---`,
  ];
  for (const p of status.ports) {
    const timers = Object.entries(p.timers)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${seconds(v)}`);
    lines.push(
      `Interface: ${p.interface} (port ${p.port_number}, link ${p.link_up ? "up" : "down"})`,
      `  Mux State: ${p.mux_state}  Selected: ${p.selection}  Rx: ${p.rx_state}  Periodic: ${p.periodic_state}`,
      `  Mode: ${
        p.active_mode ? "active" : "passive"
      }  Configured Rate: ${p.configured_rate_mode}  Effective Rate: ${p.effective_rate_mode}  Partner Active: ${
        p.partner_active ? "yes" : "no"
      }  Should Send: ${p.should_send ? "yes" : "no"}${p.loopback ? "  LOOPBACK" : ""}`,
      ...describeParty("Actor:  ", p.actor),
      ...describeParty("Partner:", p.partner),
      `  Churn: actor ${p.churn.actor} (${p.churn.actor_count}), partner ${p.churn.partner} (${p.churn.partner_count})`,
      `  Timers: ${timers.length > 0 ? timers.join(", ") : "none running"}`,
      `  Counters: lacpdu rx ${p.counters.lacpdu_rx} tx ${p.counters.lacpdu_tx}, malformed rx ${p.counters.malformed_rx}, illegal rx ${p.counters.illegal_rx}, unknown rx ${p.counters.unknown_rx}, tagged rx ${p.counters.tagged_rx}, marker rx ${p.counters.marker_rx} tx ${p.counters.marker_tx}, kernel drops ${p.counters.kernel_drops}`,
    );
    for (const r of p.inject_rules) {
      lines.push(
        `  Inject: "${r.rule}" fired ${r.fired}${
          r.limit === null
            ? ""
            : r.per_episode
            ? `, at most ${r.limit} per episode`
            : ` of ${r.limit}`
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
