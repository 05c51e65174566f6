// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * What the multicast routing lab (`netkit lab mroute`, `MrouteScenario` in
 * `mroute_scenario.ts`) records: its constants, its events, the snapshot of its live view and
 * the report of a run, all JSON as `-j` prints them. Pure: the narrative and its tests read
 * these without root.
 *
 * @module
 */

import type { RouteJsonOut } from "../mroute/protocol.ts";
import type { RunEnd, StepEvent, StoppedEvent } from "./runner.ts";

/** The group the (S,G) route is for (UDP port 5000 at the receiver). */
export const SG_GROUP = "239.1.2.3";
/** The group the (*,G) route is for (UDP port 5001 at the receiver). */
export const ANY_GROUP = "239.1.2.4";
/** A second source on the sender's subnet, for the (*,G) route. */
export const SECOND_SOURCE = "192.0.2.77";
/** The UDP port of each group at the receiver. */
export const MROUTE_LAB_PORTS: Readonly<Record<string, number>> = {
  [SG_GROUP]: 5000,
  [ANY_GROUP]: 5001,
};
/** The TTL of every datagram but the one that shows TTL 1 is not routed. */
export const LAB_TTL = 8;
/** IPv4 and UDP headers: what the route's byte counter adds to each payload. */
export const HEADER_BYTES = 28;

/** Why a lab run ended. */
export type MrouteLabStopReason = "done" | "signal";

/** Counters of one VIF, from SHOW with stats. */
export interface MrouteVifCounters {
  /** The VIF's interface, "r1". */
  name: string;
  /** Packets the kernel took in on it and forwarded. */
  packets_in: number;
  /** Packets the kernel sent out of it. */
  packets_out: number;
}

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type MrouteLabEvent =
  | {
    t: number;
    event: "lab";
    netns: { sender: string; router: string; receiver: string };
    /** The veth pairs, the sender's side first. */
    links: [string, string][];
    addresses: Record<string, string>;
  }
  | StepEvent
  | { t: number; event: "daemon_started"; pid: number; command: string[]; state_file: string }
  | { t: number; event: "daemon_ready"; socket: string }
  | { t: number; event: "daemon_log"; level: string; message: string }
  | { t: number; event: "subscribed" }
  | { t: number; event: "joined"; interface: string; groups: { group: string; port: number }[] }
  /** A request the lab sent, and the `netkit mroute` command that sends the same one. */
  | { t: number; event: "request"; command: string; request: unknown }
  | { t: number; event: "reply"; message: string }
  /** An event from the daemon's subscription, as `netkit mroute monitor -j` prints it. */
  | { t: number; event: "daemon_event"; daemon: Record<string, unknown> }
  | {
    t: number;
    event: "sent";
    seq: number;
    payload: string;
    source: string;
    group: string;
    port: number;
    ttl: number;
    /** The IPv4 packet's length, which is what the route's byte counter adds. */
    ip_bytes: number;
  }
  | {
    t: number;
    event: "received";
    seq: number;
    payload: string;
    /** The datagram's source address, as the receiving socket saw it. */
    from: string;
    group: string;
    port: number;
    /** Seconds since it was sent. */
    after: number;
  }
  /** How many of the datagrams one step sent arrived. */
  | { t: number; event: "tally"; group: string; sent: number; arrived: number }
  | {
    t: number;
    event: "counters";
    /** The route the datagrams should match, "(S, G)" or "(*, G)", and its counters (null: none). */
    route: string;
    installed: boolean;
    packets: number | null;
    bytes: number | null;
    wrong_if: number | null;
    vifs: MrouteVifCounters[];
  }
  | { t: number; event: "daemon_stopped"; pid: number; code: number; signal: string | null }
  /** IPv4 entries left in the router's kernel table after the daemon stopped (`ip mroute`). */
  | { t: number; event: "kernel_routes"; count: number }
  | StoppedEvent<MrouteLabStopReason>;

/** What a finished run leaves behind, for `explainMrouteLab` (`mroute_narrative.ts`). */
export interface MrouteLabReport extends RunEnd<MrouteLabEvent> {
  /** Datagrams the (S,G) route was given, and the pause between datagrams in seconds. */
  count: number;
  /** The pause between datagrams, in seconds. */
  interval: number;
  /** The namespaces, for the explanation. */
  netns: { sender: string; router: string; receiver: string };
}

/** The lab's state now, for a live view (JSON). */
export interface MrouteLabSnapshot {
  /** Seconds since the run started. */
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  /** The current step's title, "" before the first. */
  title: string;
  /** Datagrams sent so far. */
  sent: number;
  /** Datagrams that arrived at the receiver so far. */
  arrived: number;
  /** IPv4 routes and VIFs as the daemon last reported them (with counters). */
  routes: RouteJsonOut[];
  /** The IPv4 VIFs and their counters. */
  vifs: MrouteVifCounters[];
}

/** `(S, G)` or `(*, G)`: a route's name on the timeline and in the explanation. */
export function routeName(source: string | null, group: string): string {
  return `(${source ?? "*"}, ${group})`;
}
