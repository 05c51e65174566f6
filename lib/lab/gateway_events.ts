/**
 * What the L2 gateway lab (`netkit lab gateway`, `GatewayScenario` in `gateway_scenario.ts`)
 * records: its constants, its events, the snapshot of its live view and the report of a run,
 * all JSON as `-j` prints them. Pure: the narrative and its tests read these without root.
 *
 * @module
 */

import type { PeerStatus, RelayStatus } from "../l2/relay.ts";
import type { RunEnd, StepEvent, StoppedEvent, Untimed } from "./runner.ts";
import type { EventOf } from "./timeline.ts";

/** The lab's one client (its number in `L2Lab`). */
export const GATEWAY_LAB_CLIENT = 1;
/** The WAN addresses L2Lab gives the gateway and client 1. */
export const GATEWAY_LAB_WAN = { gateway: "10.99.0.2", client: "10.99.0.11" } as const;
/** The last step's number: the removal. */
export const GATEWAY_LAB_STEPS = 9;

/** Why a lab run ended. */
export type GatewayLabStopReason = "done" | "signal";

/** A process of the lab. */
export type GatewayLabRole = "relay" | "gateway" | "client";

/** One port on one of the lab's two bridges (JSON). */
export interface GatewayLabPort {
  /** Who it is: "h1", "h2", "gateway", "client". */
  host: string;
  /** The namespace it is in. */
  netns: string;
  /** Its interface there. */
  interface: string;
  /** Its IPv4 address with prefix length, or null (the gateway's LAN port has none). */
  address: string | null;
}

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type GatewayLabEvent =
  | StepEvent
  /** A bridge and its ports: the LAN (br0) or the WAN (wan, in the relay's namespace). */
  | {
    t: number;
    event: "network";
    name: "lan" | "wan";
    netns: string;
    bridge: string;
    address: string | null;
    ports: GatewayLabPort[];
  }
  /**
   * What a user would type to do the next thing by hand (argv; "netkit" is this netkit), and
   * the host it concerns: a process of the lab, or the namespace a command runs in.
   */
  | { t: number; event: "command"; host: GatewayLabRole | "h1"; command: string[] }
  | { t: number; event: "started"; role: GatewayLabRole; pid: number; netns: string }
  /** The relay answers on its status socket. */
  | {
    t: number;
    event: "relay_ready";
    listen: string;
    version: string;
    socket: string;
    pin: string;
    server_name: string;
  }
  /** The relay lists a peer as active in the room. */
  | {
    t: number;
    event: "joined";
    role: "gateway" | "client";
    room: string;
    peer_id: number;
    mac: string;
    remote: string | null;
  }
  | { t: number; event: "address"; netns: string; interface: string; address: string }
  /** One `ping -c`, from its summary lines; RTTs in milliseconds, null without replies. */
  | {
    t: number;
    event: "ping";
    from: string;
    to: string;
    /** Who answers: "client", "h2". */
    target: string;
    sent: number;
    received: number;
    rtt_min: number | null;
    rtt_avg: number | null;
    rtt_max: number | null;
  }
  /** The relay's status, as `netkit relay status -j` prints it. */
  | { t: number; event: "status"; status: RelayStatus }
  /** One peer's counters from that status, and what the peer itself last reported. */
  | {
    t: number;
    event: "counters";
    role: "gateway" | "client";
    peer_id: number;
    mac: string;
    datagrams_in: number;
    bytes_in: number;
    frames_forwarded: number;
    frames_out: number;
    bytes_out: number;
    malformed: number;
    drops: Record<string, number>;
    reported: Record<string, unknown> | null;
  }
  /**
   * The relay cut a process off when its credential was rotated: it exited with `code`,
   * `after_ms` after the rotation, saying `error`.
   */
  | {
    t: number;
    event: "revoked";
    role: GatewayLabRole;
    pid: number;
    code: number;
    after_ms: number;
    error: string;
  }
  /** The lab runs until a signal (duration null) or for `duration` seconds. */
  | { t: number; event: "running"; duration: number | null }
  | {
    t: number;
    event: "process_stopped";
    role: GatewayLabRole;
    pid: number;
    code: number;
    signal: string | null;
    /** Its last words on stderr ("gateway stopped: 12 frames LAN→relay, ..."), or "". */
    summary: string;
  }
  /** The namespaces were deleted: `left` lists any still there, `files_left` the lab's files. */
  | { t: number; event: "removed"; netns: string[]; left: string[]; files_left: boolean }
  | StoppedEvent<GatewayLabStopReason>;

/** What a finished run leaves behind, for `explainGatewayLab` (`gateway_narrative.ts`). */
export interface GatewayLabReport extends RunEnd<GatewayLabEvent> {
  /** The namespace prefix (every name the lab made starts with it), or null if none was made. */
  prefix: string | null;
}

/** The lab's state now, for a live view (JSON). */
export interface GatewayLabSnapshot {
  /** Seconds since the run started. */
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  /** The current step's title, "" before the first. */
  title: string;
  /** The relay's status as last read, or null before it answered. */
  status: RelayStatus | null;
}

/** The `counters` event of one peer of the relay's status. */
export function countersEvent(peer: PeerStatus): Untimed<EventOf<GatewayLabEvent, "counters">> {
  return {
    event: "counters",
    role: peer.role,
    peer_id: peer.peer_id,
    mac: peer.mac,
    datagrams_in: peer.datagrams_in,
    bytes_in: peer.bytes_in,
    frames_forwarded: peer.frames_forwarded,
    frames_out: peer.frames_out,
    bytes_out: peer.bytes_out,
    malformed: peer.malformed,
    drops: peer.drops,
    reported: peer.reported,
  };
}
