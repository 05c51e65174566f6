// deno-lint-ignore-file camelcase
/**
 * What `netkit gateway status` and `netkit client status` show: a running gateway's or
 * client's own counters and its session with the relay, as one JSON object. The counters are
 * taken from the `counters` objects generically (every numeric field, in snake_case), so a
 * counter added to `GatewayCounters` or `ClientCounters` appears without a change here;
 * {@linkcode COUNTER_INFO} gives the known ones a label and a unit.
 *
 * @module
 */

import { formatMac } from "../packet/mac.ts";
import { NETKIT_VERSION } from "../version.ts";
import type { Client } from "./client.ts";
import type { Gateway } from "./gateway.ts";
import type { PeerDaemonStatus, SessionStatus } from "./peer_client.ts";
import { numericFields, type RelaySession } from "./relay_session.ts";

// The contract lives in peer_client.ts; these stay importable from here.
export {
  clientSocketName,
  gatewaySocketName,
  type PeerDaemonStatus,
  type SessionStatus,
} from "./peer_client.ts";

function sessionStatus(session: RelaySession): SessionStatus {
  const welcome = session.welcome;
  const connected = session.connectedMs;
  return {
    state: session.state,
    relay: session.relayAddress,
    room: session.room,
    peer_id: welcome?.peer_id ?? null,
    frame_max: welcome?.frame_max ?? null,
    connected_ms: connected === null ? null : Math.round(connected),
    gateway_present: session.gatewayPeer !== null,
    counters: { ...numericFields(session.counters), seq_gaps: session.seqGaps },
  };
}

/** The status of a running gateway. */
export function gatewayStatus(gateway: Gateway): PeerDaemonStatus {
  return {
    role: "gateway",
    version: NETKIT_VERSION,
    pid: Deno.pid,
    interface: gateway.iface,
    mac: formatMac(gateway.nicMac),
    counters: numericFields(gateway.counters),
    drops: gateway.session.drops.toJSON(),
    session: sessionStatus(gateway.session),
  };
}

/** The status of a running client. */
export function clientStatus(client: Client): PeerDaemonStatus {
  return {
    role: "client",
    version: NETKIT_VERSION,
    pid: Deno.pid,
    interface: client.tap.name,
    mac: formatMac(client.mac),
    counters: numericFields(client.counters),
    drops: client.session.drops.toJSON(),
    session: sessionStatus(client.session),
  };
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
