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

const Counts = z.record(z.string(), z.number());

/** The reply to `status`. */
export const PeerStatusReply: Schema<PeerDaemonStatus> = exactly<PeerDaemonStatus>()(z.object({
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

/** Names the daemon in a malformed-reply error. */
export function peerStatusContext(role: PeerRole): ReplyContext {
  return { daemon: role, what: "status" };
}
