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
  COUNTER_INFO,
  type CounterInfo,
  counterInfo,
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
