// deno-lint-ignore-file camelcase
/**
 * The contract of a running gateway's or client's status socket, for everyone who asks it (the
 * CLI, labs, tests) without loading the peer or the native library: the socket names and the
 * schema of the reply (`netkit gateway status -j`, `netkit client status -j`). The request is the
 * relay's, `{"cmd": "status"}` (relay_client.ts).
 *
 * @module
 */

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";

/** Which daemon: the gateway (one per LAN interface) or a client (one per TAP). */
export type PeerRole = "gateway" | "client";

/** Status socket names of `role` daemons in namespace `netnsId` start with this. */
export function peerSocketPrefix(role: PeerRole, netnsId: number): string {
  return `${role}-ns${netnsId}-`;
}

/** The status socket name of the gateway on LAN interface `iface` in namespace `netnsId`. */
export function gatewaySocketName(netnsId: number, iface: string): string {
  return `${peerSocketPrefix("gateway", netnsId)}${iface}`;
}

/** The status socket name of the client on TAP `tap` in namespace `netnsId`. */
export function clientSocketName(netnsId: number, tap: string): string {
  return `${peerSocketPrefix("client", netnsId)}${tap}`;
}

/** A peer's session with the relay, as its status shows it. */
export interface SessionStatus {
  /** `connected`, `reconnecting` (between connections) or `closed`. */
  state: "connected" | "reconnecting" | "closed";
  /** The relay's address, `host:port`. */
  relay: string;
  /** The room's name. */
  room: string;
  /** Our peer id in the room; null while disconnected. */
  peer_id: number | null;
  /** Largest Ethernet frame of the room; null while disconnected. */
  frame_max: number | null;
  /** Since the current connection was admitted; null while disconnected. */
  connected_ms: number | null;
  /** Whether the room has a gateway (the LAN), as the relay last said. */
  gateway_present: boolean;
  /** `frames_to_relay`, `bytes_to_relay`, ..., `reconnects`, `seq_gaps`. */
  counters: Record<string, number>;
}

/** `netkit gateway status` and `netkit client status`. */
export interface PeerDaemonStatus {
  /** Which daemon answered. */
  role: "gateway" | "client";
  /** Its netkit version. */
  version: string;
  /** Its process id. */
  pid: number;
  /** The LAN interface (gateway) or the TAP (client). */
  interface: string;
  /** The MAC it uses in the room. */
  mac: string;
  /** The gateway's or client's own counters, by snake_case name. */
  counters: Record<string, number>;
  /** Frames dropped, by reason (the session's and its owner's). */
  drops: Record<string, number>;
  /** Its session with the relay. */
  session: SessionStatus;
}

/**
 * The reply to `status`. Built on first use (`z.lazy`): `status` with no daemon running never
 * checks a reply.
 */
export const PeerStatusReply: Schema<PeerDaemonStatus> = z.lazy(peerStatusReply);

/** Builds {@linkcode PeerStatusReply}. */
function peerStatusReply(): Schema<PeerDaemonStatus> {
  const Counts = z.record(z.string(), z.number());

  return exactly<PeerDaemonStatus>()(z.object({
    role: z.enum(["gateway", "client"]),
    version: z.string(),
    pid: z.number().int().positive(),
    interface: z.string(),
    mac: z.string(),
    counters: Counts,
    drops: Counts,
    session: z.object({
      state: z.enum(["connected", "reconnecting", "closed"]),
      relay: z.string(),
      room: z.string(),
      peer_id: z.number().nullable(),
      frame_max: z.number().nullable(),
      connected_ms: z.number().nullable(),
      gateway_present: z.boolean(),
      counters: Counts,
    }),
  }));
}

/** Names the daemon in a malformed-reply error. */
export function peerStatusContext(role: PeerRole): ReplyContext {
  return { daemon: role, what: "status" };
}

/** How a counter is shown: a short column label, its unit, and what it counts. */
export interface CounterInfo {
  /** The column header in `gateway status` and `client status` tables. */
  label: string;
  /** What one unit of the counter is. */
  unit: "frames" | "bytes" | "datagrams" | "count";
  /** What it counts, for the legend line `LABEL (unit): meaning`. */
  meaning: string;
}

/**
 * The counters netkit knows how to name, by snake_case key. A counter missing here is shown
 * under its key, as a count.
 */
export const COUNTER_INFO: Readonly<Record<string, CounterInfo>> = {
  // The gateway's own.
  lan_frames: { label: "LAN", unit: "frames", meaning: "read from the LAN interface" },
  lan_to_relay: { label: "LAN→RELAY", unit: "frames", meaning: "LAN frames sent to the relay" },
  relay_to_lan: { label: "RELAY→LAN", unit: "frames", meaning: "relay frames put on the LAN" },
  cam_refreshes: {
    label: "CAM",
    unit: "frames",
    meaning: "CAM-refresh frames sent so the LAN switch learns remote MACs",
  },
  mss_clamped: { label: "MSS", unit: "frames", meaning: "TCP SYNs whose MSS was clamped" },
  checksums_completed: {
    label: "CSUM",
    unit: "frames",
    meaning: "frames whose offloaded TCP/UDP checksum was completed",
  },
  gso_frames: {
    label: "MERGED",
    unit: "frames",
    meaning: "frames the kernel had merged (GRO, TSO), cut for the room",
  },
  gso_segments: {
    label: "SEGMENTS",
    unit: "frames",
    meaning: "the room-sized frames merged frames were cut into",
  },
  // The client's own.
  tap_frames: { label: "TAP", unit: "frames", meaning: "read from the TAP" },
  tap_to_relay: { label: "TAP→RELAY", unit: "frames", meaning: "TAP frames sent to the relay" },
  relay_to_tap: { label: "RELAY→TAP", unit: "frames", meaning: "relay frames written to the TAP" },
  // The session's, both.
  frames_to_relay: {
    label: "TO RELAY",
    unit: "frames",
    meaning: "frames sent to the relay, one datagram each (two when fragmented)",
  },
  bytes_to_relay: {
    label: "TO RELAY",
    unit: "bytes",
    meaning: "bytes sent to the relay, 8-byte datagram headers included",
  },
  datagrams_in: { label: "IN", unit: "datagrams", meaning: "datagrams from the relay" },
  frames_from_relay: {
    label: "FROM RELAY",
    unit: "frames",
    meaning: "valid frames from the relay",
  },
  bytes_from_relay: {
    label: "FROM RELAY",
    unit: "bytes",
    meaning: "bytes of every datagram from the relay",
  },
  malformed: { label: "MALFORMED", unit: "datagrams", meaning: "datagrams from the relay refused" },
  reconnects: { label: "RECONNECTS", unit: "count", meaning: "connections made after the first" },
  frames_fragmented: {
    label: "SPLIT",
    unit: "frames",
    meaning: "frames sent to the relay in two fragments (a small path)",
  },
  fragments_reassembled: {
    label: "JOINED",
    unit: "frames",
    meaning: "frames from the relay joined from two fragments",
  },
  seq_gaps: {
    label: "SEQ GAPS",
    unit: "count",
    meaning: "gaps in the relay's datagram sequence: datagrams lost on the way to us",
  },
};

/** {@linkcode COUNTER_INFO} of `key`, or its key as a count. */
export function counterInfo(key: string): CounterInfo {
  return Object.hasOwn(COUNTER_INFO, key)
    ? COUNTER_INFO[key]!
    : { label: key.toUpperCase().replaceAll("_", " "), unit: "count", meaning: key };
}
