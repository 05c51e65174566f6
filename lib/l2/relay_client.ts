/**
 * The contract of the `netkit relay` daemon's status socket, for everyone who asks it (the CLI,
 * labs, tests, benchmarks) without loading the relay or the native library: the socket's name,
 * the request, the schema of the reply (`netkit relay status -j`), and the defaults its command
 * line shows (rooms file, server name).
 *
 * @module
 */

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import type { PeerStatus, RelayLimits, RelayStatus } from "./relay.ts";

/** Where the relay and `netkit relay room` look by default. */
export const DEFAULT_ROOMS_FILE = "/var/lib/netkit/relay-rooms.json";

/**
 * The server name in development certificates. `.invalid` is reserved (RFC 6761), so no public
 * CA may issue a certificate for it: a second line of defence behind the pin by hash.
 */
export const DEV_SERVER_NAME = "relay.netkit.invalid";

/** Status socket names of relays in namespace `netnsId` start with this. */
export function relaySocketPrefix(netnsId: number): string {
  return `relay-ns${netnsId}-`;
}

/** The status socket name of the relay on `port` in namespace `netnsId`. */
export function relaySocketName(netnsId: number, port: number): string {
  return `${relaySocketPrefix(netnsId)}${port}`;
}

/**
 * The one request a status socket serves (the relay's, a gateway's, a client's); the daemons
 * validate it with lib/l2/status_server.ts.
 */
export interface StatusRequest {
  /** Always `status`. */
  cmd: "status";
}

/** The one request a client sends. */
export const STATUS_REQUEST: StatusRequest = { cmd: "status" };

/** Names the daemon in a malformed-reply error. */
export const RELAY_STATUS: ReplyContext = { daemon: "relay", what: "status" };

/**
 * The reply to `status`: rooms, peers, counters and limits. Built on first use (`z.lazy`):
 * `relay status` with no relay running never checks a reply.
 */
export const RelayStatusReply: Schema<RelayStatus> = z.lazy(relayStatusReply);

/** Builds {@linkcode RelayStatusReply}. */
function relayStatusReply(): Schema<RelayStatus> {
  const Counts = z.record(z.string(), z.number());
  const Ms = z.number();

  const PeerStatusSchema = exactly<PeerStatus>()(z.object({
    peer_id: z.number(),
    role: z.enum(["gateway", "client"]),
    credential: z.string(),
    mac: z.string(),
    state: z.enum(["active", "away"]),
    remote: z.string().nullable(),
    connected_ms: Ms,
    away_ms: Ms.nullable(),
    hold_remaining_ms: Ms.nullable(),
    reported: z.record(z.string(), z.unknown()).nullable(),
    fragments: z.boolean(),
    datagram_max: z.number().nullable(),
    reported_age_ms: Ms.nullable(),
    reported_fresh: z.boolean(),
    control_ignored: Counts,
    datagrams_in: z.number(),
    bytes_in: z.number(),
    frames_forwarded: z.number(),
    frames_out: z.number(),
    bytes_out: z.number(),
    malformed: z.number(),
    drops: Counts,
    frames_fragmented: z.number(),
    fragments_reassembled: z.number(),
  }));

  const LimitsSchema = exactly<RelayLimits>()(z.object({
    max_rooms: z.number(),
    room_clients: z.number(),
    max_connections: z.number(),
    max_connections_per_source: z.number(),
    max_handshakes: z.number(),
    max_handshakes_per_source: z.number(),
    handshake_timeout_ms: Ms,
    auth_failures_per_minute: z.number(),
    idle_timeout_ms: Ms,
    resume_window_ms: Ms,
    bcast_pps: z.number(),
    bcast_burst: z.number(),
    peer_bandwidth: z.number(),
    control_messages_per_second: z.number(),
    stats_wait_ms: Ms,
  }));

  return exactly<RelayStatus>()(z.object({
    listen: z.string(),
    version: z.string(),
    uptime_ms: Ms,
    rooms: z.array(z.object({
      room: z.string(),
      room_id: z.number(),
      frame_max: z.number(),
      tap_mtu: z.number(),
      clients: z.number(),
      address_guard: z.boolean(),
      bindings: Counts,
      peers: z.array(PeerStatusSchema),
    })),
    drops: Counts,
    control_ignored: Counts,
    peers_total: z.number(),
    rejected: Counts,
    refused: Counts,
    auth_failures: z.number(),
    connections: z.number(),
    handshakes: z.number(),
    sources: z.number(),
    limits: LimitsSchema,
    rooms_file: z.object({ path: z.string(), loaded_ms: Ms, error: z.string().nullable() })
      .nullable(),
  }));
}
