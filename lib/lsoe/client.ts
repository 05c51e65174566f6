/**
 * The contract of the `netkit lsoe` daemon for everyone who talks to it (the CLI, labs, tests,
 * benchmarks, and a BGP-SPF speaker or controller reading `-s -j` and `monitor -j`) without
 * loading the daemon or the native library: where it is found, the requests it takes and the
 * schema of every reply. The JSON is snake_case and stable: fields are added, never renamed.
 *
 * Requests, one JSON object per line (lib/ipc):
 * - `{"action": "STATUS"}`: a {@linkcode StatusReply};
 * - `{"action": "SUBSCRIBE"}`: a {@linkcode MessageReply}, then one {@linkcode LsoeEvent} a line.
 *
 * Times are ISO 8601 UTC strings; durations are seconds (numbers); MACs are lower-case
 * `aa:bb:cc:dd:ee:ff`; Local IDs and nonces are lower-case hex.
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";

/** The control socket name of the daemon for namespace `netnsId`. */
export function lsoeSocketName(netnsId: number): string {
  return `lsoe-ns${netnsId}`;
}

/** Names a request in a malformed-reply error. */
export function lsoeReply(what: string): ReplyContext {
  return { daemon: "lsoe", what };
}

/** The first line of a SUBSCRIBE stream. */
export interface MessageReply {
  /** Always `success` (a failure is an error reply). */
  status: "success";
  /** What was done, in words. */
  message: string;
}
function messageReply(): Schema<MessageReply> {
  return exactly<MessageReply>()(z.object({
    status: z.literal("success"),
    message: z.string(),
  }));
}
/** Schema of {@linkcode MessageReply}, built on first use like every schema here. */
export const MessageReply: Schema<MessageReply> = z.lazy(messageReply);

/** One address a peer announced (IPv4 or IPv6 encapsulation). */
export interface EncapsulationJson {
  /** The address, in its usual text form. */
  address: string;
  /** Its prefix length. */
  prefix_length: number;
  /** The Primary flag (0x80): the peer's address on this link. */
  primary: boolean;
  /** The Loopback flag (0x40): the peer's loopback address. */
  loopback: boolean;
}

/** One address of an MPLS-IPv4 or MPLS-IPv6 encapsulation. */
export interface MplsEncapsulationJson extends EncapsulationJson {
  /** The label stack, outermost first. */
  labels: number[];
}

/** What a peer announced, one list per encapsulation; empty until announced (or withdrawn). */
export interface EncapsulationsJson {
  /** IPv4 (PDU type 4). */
  ipv4: EncapsulationJson[];
  /** IPv6 (type 5). */
  ipv6: EncapsulationJson[];
  /** MPLS-IPv4 (type 6). */
  mpls_ipv4: MplsEncapsulationJson[];
  /** MPLS-IPv6 (type 7). */
  mpls_ipv6: MplsEncapsulationJson[];
}

/** A session's state: `opening` until both OPENs are acknowledged, then `open`. */
export type SessionState = "opening" | "open";

/** One PDU waiting for its ACK. */
export interface OutstandingJson {
  /** Its type: `open`, `ipv4`, `ipv6`, `mpls_ipv4`, `mpls_ipv6` or `vendor`. */
  type: string;
  /** How many times it was sent again. */
  retransmissions: number;
  /** Seconds until the next retransmission (or the close, after the last). */
  next_retransmit_in: number;
  /** Whether a newer PDU of the type waits for this one's ACK (latest wins). */
  deferred: boolean;
}

/** A session's counters. */
export interface SessionCountersJson {
  /** PDUs received from the peer (after reassembly). */
  pdus_received: number;
  /** PDUs sent to the peer (retransmissions included). */
  pdus_sent: number;
  /** Retransmissions. */
  retransmissions: number;
  /** KEEPALIVEs received. */
  keepalives_received: number;
  /** ACKs carrying an error, received. */
  error_acks_received: number;
  /** VENDOR PDUs received (acknowledged, not interpreted). */
  vendor_received: number;
}

/** One session (one neighbour on one interface) in a STATUS reply. */
export interface SessionJson {
  /** The interface the neighbour is on. */
  interface: string;
  /** Its index. */
  ifindex: number;
  /** The neighbour's MAC. */
  peer_mac: string;
  /** The neighbour's Local ID (hex), null before its OPEN. */
  peer_local_id: string | null;
  /** See {@linkcode SessionState}. */
  state: SessionState;
  /** Whether the peer acknowledged our OPEN. */
  our_open_acked: boolean;
  /** Our nonce for this session (hex). */
  local_nonce: string;
  /** The peer's nonce (hex), null before its OPEN. */
  peer_nonce: string | null;
  /** The peer's OPEN attributes (hex), null before its OPEN. */
  peer_attributes: string | null;
  /** When the session became `open`, or null. */
  open_since: string | null;
  /** When the peer was last heard (any PDU), or null. */
  last_keepalive: string | null;
  /** What the peer announced. */
  encapsulations: EncapsulationsJson;
  /** PDUs waiting for an ACK. */
  outstanding: OutstandingJson[];
  /** The counters. */
  counters: SessionCountersJson;
}

/** One interface the daemon speaks on. */
export interface InterfaceJson {
  /** Its name. */
  name: string;
  /** Its index. */
  ifindex: number;
  /** Its MAC. */
  mac: string;
  /** `up`: HELLOs go out and sessions may open; `down`: admin or carrier down. */
  state: "up" | "down";
  /** HELLOs sent on it. */
  hellos_sent: number;
  /** The MPLS label given with `--mpls-label`, or null. */
  mpls_label: number | null;
}

/** The timers in force, seconds (the names of lsoed's `[lsoed]` options). */
export interface TimersJson {
  /** Between HELLOs on each interface. */
  hello_interval: number;
  /** Between KEEPALIVEs on each open session. */
  keepalive_send_interval: number;
  /** Silence after which a session closes; 0: never. */
  keepalive_receive_timeout: number;
  /** Before the first retransmission. */
  retransmit_initial_interval: number;
  /** Whether the interval doubles each time. */
  retransmit_exponential_backoff: boolean;
  /** Retransmission timeouts before the session closes. */
  retransmit_max_drop: number;
  /** How long a partial PDU is kept. */
  reassembly_timeout: number;
  /** How long a MAC stays bound to the interface it was seen on. */
  mac_address_cache_timeout: number;
}

/** The reply to STATUS (`netkit lsoe -s -j`). */
export interface StatusReply {
  /** Always `success`. */
  status: "success";
  /** The daemon's pid (what `-k` signals). */
  pid: number;
  /** Our Local ID (hex). */
  local_id: string;
  /** The EtherType spoken. */
  ethertype: number;
  /** The timers. */
  timers: TimersJson;
  /** The interfaces spoken on. */
  interfaces: InterfaceJson[];
  /** The sessions, by interface then peer MAC. */
  sessions: SessionJson[];
  /**
   * Frames and PDUs refused before reaching a session, by reason (`bad_checksum`,
   * `bad_version`, `runt`, `bad_length`, `mac_on_other_interface`, `reassembly_timeout`, ...):
   * only reasons that happened.
   */
  drops: Record<string, number>;
}

const count = () => z.number().int().nonnegative();

function encapsulationShape() {
  return {
    address: z.string(),
    prefix_length: z.number().int().min(0).max(128),
    primary: z.boolean(),
    loopback: z.boolean(),
  };
}

function ipEncapsulation(): Schema<EncapsulationJson> {
  return exactly<EncapsulationJson>()(z.object(encapsulationShape()));
}

function mplsEncapsulation(): Schema<MplsEncapsulationJson> {
  return exactly<MplsEncapsulationJson>()(z.object({
    ...encapsulationShape(),
    labels: z.array(z.number().int().min(0).max(0xfffff)),
  }));
}

function encapsulationsSchema(): Schema<EncapsulationsJson> {
  const Ip = ipEncapsulation();
  const Mpls = mplsEncapsulation();
  return exactly<EncapsulationsJson>()(z.object({
    ipv4: z.array(Ip),
    ipv6: z.array(Ip),
    mpls_ipv4: z.array(Mpls),
    mpls_ipv6: z.array(Mpls),
  }));
}

function statusReply(): Schema<StatusReply> {
  const Count = count();
  const Seconds = z.number().nonnegative();
  const Time = z.string().nullable();
  const Session = exactly<SessionJson>()(z.object({
    interface: z.string(),
    ifindex: z.number().int().positive(),
    peer_mac: z.string(),
    peer_local_id: z.string().nullable(),
    state: z.enum(["opening", "open"]),
    our_open_acked: z.boolean(),
    local_nonce: z.string(),
    peer_nonce: z.string().nullable(),
    peer_attributes: z.string().nullable(),
    open_since: Time,
    last_keepalive: Time,
    encapsulations: encapsulationsSchema(),
    outstanding: z.array(z.object({
      type: z.string(),
      retransmissions: Count,
      next_retransmit_in: Seconds,
      deferred: z.boolean(),
    })),
    counters: z.object({
      pdus_received: Count,
      pdus_sent: Count,
      retransmissions: Count,
      keepalives_received: Count,
      error_acks_received: Count,
      vendor_received: Count,
    }),
  }));
  return exactly<StatusReply>()(z.object({
    status: z.literal("success"),
    pid: z.number().int().positive(),
    local_id: z.string(),
    ethertype: z.number().int().min(0x600).max(0xffff),
    timers: z.object({
      hello_interval: Seconds,
      keepalive_send_interval: Seconds,
      keepalive_receive_timeout: Seconds,
      retransmit_initial_interval: Seconds,
      retransmit_exponential_backoff: z.boolean(),
      retransmit_max_drop: Count,
      reassembly_timeout: Seconds,
      mac_address_cache_timeout: Seconds,
    }),
    interfaces: z.array(z.object({
      name: z.string(),
      ifindex: z.number().int().positive(),
      mac: z.string(),
      state: z.enum(["up", "down"]),
      hellos_sent: Count,
      mpls_label: z.number().int().min(0).max(0xfffff).nullable(),
    })),
    sessions: z.array(Session),
    drops: z.record(z.string(), Count),
  }));
}
/** Schema of {@linkcode StatusReply}. */
export const StatusReply: Schema<StatusReply> = z.lazy(statusReply);

/** Why a session closed. */
export type CloseReason =
  /** Nothing heard for `keepalive-receive-timeout`. */
  | "keepalive_timeout"
  /** A PDU went unacknowledged `retransmit-max-drop` times. */
  | "retransmit_exhausted"
  /** An OPEN with a new nonce: the peer restarted (the session starts again at once). */
  | "peer_restart"
  /** The interface went down (admin or carrier). */
  | "interface_down"
  /** The interface was deleted or renamed away from `-i`. */
  | "interface_removed"
  /** An ACK with error type RESTART or HOPELESS. */
  | "peer_error"
  /** The daemon stopped. */
  | "shutdown";

/** Every {@linkcode CloseReason}. */
export const CLOSE_REASONS: readonly CloseReason[] = [
  "keepalive_timeout",
  "retransmit_exhausted",
  "peer_restart",
  "interface_down",
  "interface_removed",
  "peer_error",
  "shutdown",
];

/** Fields every session event carries. */
export interface SessionEventBase {
  /** When (ISO 8601). */
  time: string;
  /** The interface. */
  interface: string;
  /** The neighbour's MAC. */
  peer_mac: string;
  /** The neighbour's Local ID (hex), null if it never sent an OPEN. */
  peer_local_id: string | null;
}

/**
 * One event of a SUBSCRIBE stream (`netkit lsoe monitor -j`):
 * - `session_open`: both OPENs acknowledged;
 * - `encapsulations`: the peer's list for one `family` (`ipv4`, `ipv6`, `mpls_ipv4`,
 *   `mpls_ipv6`) changed; on close every non-empty list is withdrawn with `entries: []`;
 * - `session_close` with `reason`.
 */
export type LsoeEvent = SessionOpenEvent | SessionCloseEvent | EncapsulationsEvent;

/** `session_open`. */
export interface SessionOpenEvent extends SessionEventBase {
  /** The kind. */
  event: "session_open";
  /** The peer's nonce for this session (hex). */
  peer_nonce: string;
}

/** `session_close`. */
export interface SessionCloseEvent extends SessionEventBase {
  /** The kind. */
  event: "session_close";
  /** Why. */
  reason: CloseReason;
}

/** `encapsulations`: the peer's new list for one family. */
export interface EncapsulationsEvent extends SessionEventBase {
  /** The kind. */
  event: "encapsulations";
  /** Which list. */
  family: keyof EncapsulationsJson;
  /** The whole list (MPLS entries carry `labels`). */
  entries: (EncapsulationJson | MplsEncapsulationJson)[];
}

function lsoeEvent(): Schema<LsoeEvent> {
  const base = {
    time: z.string(),
    interface: z.string(),
    peer_mac: z.string(),
    peer_local_id: z.string().nullable(),
  };
  // MPLS first: an object schema drops unknown keys, so IP first would strip the labels.
  const Entry = z.union([mplsEncapsulation(), ipEncapsulation()]);
  return exactly<LsoeEvent>()(z.discriminatedUnion("event", [
    z.object({ ...base, event: z.literal("session_open"), peer_nonce: z.string() }),
    z.object({
      ...base,
      event: z.literal("session_close"),
      reason: z.enum(CLOSE_REASONS as [CloseReason, ...CloseReason[]]),
    }),
    z.object({
      ...base,
      event: z.literal("encapsulations"),
      family: z.enum(["ipv4", "ipv6", "mpls_ipv4", "mpls_ipv6"]),
      entries: z.array(Entry),
    }),
  ]));
}

/** One line of a SUBSCRIBE stream: the acknowledgement, then events. */
export type MonitorLine = MessageReply | LsoeEvent;
/** Schema of {@linkcode MonitorLine}. */
export const MonitorLine: Schema<MonitorLine> = z.lazy(() =>
  z.union([messageReply(), lsoeEvent()])
);
