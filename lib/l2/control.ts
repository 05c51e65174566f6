/**
 * The netkit-l2 control stream (docs/l2-protocol.md §2): its messages as types (each checked on
 * receipt by a private zod schema), the framing (`u32 length (big-endian) | UTF-8 JSON object`,
 * 1 to 65,536 bytes), and a reader and writer over the QUIC bidirectional stream that carries it.
 *
 * Every problem with a received message is a {@linkcode ControlProtocolError}, which means
 * "close the connection with {@linkcode CloseCode.PROTOCOL_VIOLATION}". Messages of types this
 * version does not know are skipped, as the protocol says; unknown fields are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ControlReader, ControlWriter } from "./control.ts";
 *
 * // On a session, the two halves of `await conn.createBidirectionalStream()`; here a loopback.
 * const stream = new TransformStream<Uint8Array, Uint8Array>();
 * const writer = new ControlWriter(stream.writable);
 * const reader = new ControlReader(stream.readable);
 * const sent = writer.send({
 *   v: 1,
 *   type: "hello",
 *   role: "client",
 *   credential: "nk1:LAN1:alice:" + "A".repeat(43),
 *   mac: "02:00:00:00:00:01",
 *   budget: 1400,
 *   sw: "netkit/0.1.0",
 * });
 * // At the relay: the hello, checked; a gateway or client reads "welcome" or "reject" the same way.
 * const hello = await reader.read();
 * await sent; // a stream takes a write once it is read here
 * assert.ok(hello?.type === "hello");
 * ```
 *
 * @module
 */

// JSON field names are snake_case by protocol.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import { errorMessage } from "../errors.ts";
import { summarizeIssues } from "../ipc/mod.ts";
import { isMulticastMac, macKey, parseMac } from "../packet/mac.ts";
import { exactly } from "../zod_exact.ts";
import { CREDENTIAL_TEXT } from "./credentials.ts";

/** The TLS ALPN of netkit-l2 version 1: the major version lives here, not in the messages. */
export const ALPN = "netkit-l2/1";

/** Largest JSON body of one control message, in bytes. */
export const MAX_CONTROL_MESSAGE = 65536;

/** QUIC application close codes (§1); 7 is unassigned. */
export const CloseCode = {
  /** Graceful, after `disconnect`. */
  NORMAL: 0,
  /** Bad control frame, invalid message or sequence gap. */
  PROTOCOL_VIOLATION: 1,
  /** The relay sent `reject`. */
  REJECTED: 2,
  /** The peer sent too many malformed datagrams. */
  MALFORMED_THRESHOLD: 3,
  /** The same peer resumed on a new connection. */
  REPLACED: 4,
  /** The peer's credential was revoked or rotated, or its room removed or changed. */
  REVOKED: 5,
  /** The peer's address holds too many connections or failed too many authentications. */
  RATE_LIMITED: 6,
  /** The relay is exiting. */
  SHUTDOWN: 8,
} as const;

const LENGTH_PREFIX = 4;
const MAC_TEXT = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

const Mac = z.string().regex(MAC_TEXT, "Expected a MAC address like 02:00:00:00:00:01");
// The guards keep a malformed string to the one issue the regex reports.
const UnicastMac = Mac
  .refine((text) => !MAC_TEXT.test(text) || !isMulticastMac(parseMac(text)), {
    message: "Expected a unicast MAC address: the group bit of the first octet is set",
  })
  .refine((text) => !MAC_TEXT.test(text) || macKey(parseMac(text)) !== 0, {
    message: "Expected a nonzero MAC address",
  });
const PeerId = z.number().int().min(1).max(0xfffe);
const U32 = z.number().int().min(0).max(0xffff_ffff);
const Count = z.number().int().nonnegative();
const Seq = z.number().int().positive();
const Milliseconds = z.number().int().nonnegative();
const Interval = z.number().int().positive();

/** A peer's part in a room: the one gateway (the LAN) or one of its clients. */
export type Role = "gateway" | "client";
/** Schema of {@linkcode Role}. */
const RoleSchema = exactly<Role>()(z.enum(["gateway", "client"]));

/** Why the relay refused a `hello`. */
export type RejectCode =
  | "unauthorized"
  | "room_full"
  | "duplicate_mac"
  | "mtu_too_small"
  | "invalid_mac"
  | "internal";
/** Schema of {@linkcode RejectCode}. */
const RejectCodeSchema = exactly<RejectCode>()(z.enum([
  "unauthorized",
  "room_full",
  "duplicate_mac",
  "mtu_too_small",
  "invalid_mac",
  "internal",
]));

/** Why a peer left a room. */
export type PeerLeftReason = "disconnect" | "timeout" | "malformed" | "replaced" | "revoked";
/** Schema of {@linkcode PeerLeftReason}. */
const PeerLeftReasonSchema = exactly<PeerLeftReason>()(z.enum([
  "disconnect",
  "timeout",
  "malformed",
  "replaced",
  "revoked",
]));

/** Why a side says goodbye. */
export type DisconnectReason = "shutdown" | "signal" | "error";
/** Schema of {@linkcode DisconnectReason}. */
const DisconnectReasonSchema = exactly<DisconnectReason>()(
  z.enum(["shutdown", "signal", "error"]),
);

/** Peer → relay, first message on the control stream. */
export type Hello = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "hello";
  /** The role the peer claims; its credential must be of this role. */
  role: Role;
  /** `nk1:ROOM:NAME:SECRET` (lib/l2/credentials.ts): the room and who the peer is. */
  credential: string;
  /** A client's TAP MAC or the gateway's NIC MAC, as text: unicast and nonzero either way. */
  mac: string;
  /** Largest datagram the peer can send, 64 to 65,535 bytes. */
  budget: number;
  /** `netkit/<version>`. */
  sw: string;
  /** Token from an earlier `welcome`, to get the same peer id back. */
  resume?: string | undefined;
  /** The peer splits frames too big for a datagram in two and joins them (fragments.ts). */
  fragments?: boolean | undefined;
};
/** Schema of {@linkcode Hello}. */
const HelloSchema = exactly<Hello>()(z.object({
  v: z.literal(1),
  type: z.literal("hello"),
  role: RoleSchema,
  credential: z.string().regex(CREDENTIAL_TEXT, "Expected nk1:ROOM:NAME:SECRET"),
  mac: UnicastMac,
  budget: z.number().int().min(64).max(65535),
  sw: z.string(),
  resume: z.string().optional(),
  fragments: z.boolean().optional(),
}));

/** Another peer of the room, as `welcome` lists it. */
const RoomPeerJson = z.object({ peer_id: PeerId, role: RoleSchema, mac: Mac });

/** Relay → peer: admitted. */
export type Welcome = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "welcome";
  /** Sequence number of relay → peer messages: 1 here, then +1 per message. */
  seq: number;
  /** Relay-wide room id (u32); its low 16 bits tag the room's datagrams. */
  room_id: number;
  /** The peer's id in the room, 1 to 65,534. */
  peer_id: number;
  /** Largest Ethernet frame, header included, no FCS. */
  frame_max: number;
  /** `frame_max − 14`. */
  tap_mtu: number;
  /** Whether the room has a gateway now, and its peer id and MAC when it has. */
  gateway: { present: boolean; peer_id?: number | undefined; mac?: string | undefined };
  /** The other peers of the room now. */
  peers: { peer_id: number; role: Role; mac: string }[];
  /** How often the peer sends `stats`, in ms. */
  stats_interval_ms: number;
  /** How often a gateway sends CAM-refresh frames for the remote MACs, in ms. */
  cam_refresh_ms: number;
  /** Opaque token for a later `hello`. */
  resume: string;
  /** How long the relay keeps a lost peer's id and MAC for a resume, in ms. */
  resume_window_ms: number;
  /** The peer got its earlier identity back (its `hello.resume` was accepted). */
  resumed: boolean;
  /** Both ends split frames too big for a datagram in two; absent from a relay that cannot. */
  fragments?: boolean | undefined;
};
/** Schema of {@linkcode Welcome}; it also checks `tap_mtu` against `frame_max`. */
const WelcomeSchema = exactly<Welcome>()(
  z.object({
    v: z.literal(1),
    type: z.literal("welcome"),
    seq: Seq,
    room_id: U32,
    peer_id: PeerId,
    frame_max: z.number().int().min(14).max(65535 - 8),
    tap_mtu: z.number().int().nonnegative(),
    gateway: z.object({ present: z.boolean(), peer_id: PeerId.optional(), mac: Mac.optional() }),
    peers: z.array(RoomPeerJson),
    stats_interval_ms: Interval,
    cam_refresh_ms: Interval,
    resume: z.string(),
    resume_window_ms: Milliseconds,
    resumed: z.boolean(),
    fragments: z.boolean().optional(),
  }).superRefine((welcome, ctx) => {
    // Checked here so a client never sets a TAP MTU its room's frames do not fit.
    if (welcome.tap_mtu !== welcome.frame_max - 14) {
      ctx.addIssue({
        code: "custom",
        path: ["tap_mtu"],
        message: `Expected frame_max - 14 = ${welcome.frame_max - 14}, got ${welcome.tap_mtu}`,
        input: welcome.tap_mtu,
      });
    }
  }),
);

/** Relay → peer: refused; the connection closes with {@linkcode CloseCode.REJECTED}. */
export type Reject = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "reject";
  /** Sequence number: 1, as it answers the `hello`. */
  seq: number;
  /** Why, for programs. */
  code: RejectCode;
  /** Why, for people (what to do about it when there is something to do). */
  reason: string;
};
/** Schema of {@linkcode Reject}. */
const RejectSchema = exactly<Reject>()(z.object({
  v: z.literal(1),
  type: z.literal("reject"),
  seq: Seq,
  code: RejectCodeSchema,
  reason: z.string(),
}));

/** Relay → peer: a peer joined the room. */
export type PeerJoined = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "peer_joined";
  /** Sequence number of relay → peer messages. */
  seq: number;
  /** The new peer's id in the room. */
  peer_id: number;
  /** The new peer's role. */
  role: Role;
  /** The new peer's MAC, as text. */
  mac: string;
};
/** Schema of {@linkcode PeerJoined}. */
const PeerJoinedSchema = exactly<PeerJoined>()(z.object({
  v: z.literal(1),
  type: z.literal("peer_joined"),
  seq: Seq,
  peer_id: PeerId,
  role: RoleSchema,
  mac: Mac,
}));

/** Relay → peer: a peer left the room. */
export type PeerLeft = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "peer_left";
  /** Sequence number of relay → peer messages. */
  seq: number;
  /** The id the peer had in the room. */
  peer_id: number;
  /** Why it left. */
  reason: PeerLeftReason;
};
/** Schema of {@linkcode PeerLeft}. */
const PeerLeftSchema = exactly<PeerLeft>()(z.object({
  v: z.literal(1),
  type: z.literal("peer_left"),
  seq: Seq,
  peer_id: PeerId,
  reason: PeerLeftReasonSchema,
}));

/** Most entries of a `stats` message's `dropped` and `counters`, and the longest name. */
export const MAX_STATS_ENTRIES = 64;
const MAX_STATS_NAME = 64;
/** Counts by name, bounded: what a peer makes the relay keep is at most a few kB. */
const NamedCounts = z.record(z.string().min(1).max(MAX_STATS_NAME), Count).refine(
  (counts) => Object.keys(counts).length <= MAX_STATS_ENTRIES,
  { message: `Expected at most ${MAX_STATS_ENTRIES} entries` },
);

/**
 * Peer → relay: the peer's counters, every `stats_interval_ms`, before it disconnects, and in
 * answer to a `stats_request` (then with its `id`). Counts are totals of the peer's session,
 * not of one connection.
 */
export type Stats = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "stats";
  /** The `id` of the `stats_request` this answers; absent from a periodic report. */
  id?: number | undefined;
  /** Frames sent to the relay (a frame sent in two fragments counts once). */
  frames_to_relay: number;
  /** Valid frames received from the relay and passed on. */
  frames_from_relay: number;
  /** Datagrams received from the relay, malformed ones and fragments included. */
  datagrams_in: number;
  /** Datagram bytes sent to the relay, headers included. */
  bytes_to_relay: number;
  /** Datagram bytes received from the relay, headers included. */
  bytes_from_relay: number;
  /** Datagrams or fragments from the relay that failed their checks. */
  malformed: number;
  /** Sequence numbers missing from the relay's datagrams when they were due (lost or late). */
  seq_gaps: number;
  /** Frames dropped, by reason. */
  dropped: Record<string, number>;
  /** Frames sent in two fragments. */
  frames_fragmented?: number | undefined;
  /** Frames joined from two fragments. */
  fragments_reassembled?: number | undefined;
  /** The peer's own counters besides the session's (a gateway's `lan_frames`, ...). */
  counters?: Record<string, number> | undefined;
};
/** Schema of {@linkcode Stats}: at most {@linkcode MAX_STATS_ENTRIES} names per record. */
const StatsSchema = exactly<Stats>()(z.object({
  v: z.literal(1),
  type: z.literal("stats"),
  id: U32.optional(),
  frames_to_relay: Count,
  frames_from_relay: Count,
  datagrams_in: Count,
  bytes_to_relay: Count,
  bytes_from_relay: Count,
  malformed: Count,
  seq_gaps: Count,
  dropped: NamedCounts,
  frames_fragmented: Count.optional(),
  fragments_reassembled: Count.optional(),
  counters: NamedCounts.optional(),
}));

/**
 * Relay → peer: send `stats` now, with this `id`. It carries no `seq`: a peer that does not know
 * the type skips it (§2), and a number it never saw would read as a gap to it.
 */
export type StatsRequest = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "stats_request";
  /** The request's id (u32), echoed in the `stats` that answers it. */
  id: number;
};
/** Schema of {@linkcode StatsRequest}. */
const StatsRequestSchema = exactly<StatsRequest>()(z.object({
  v: z.literal(1),
  type: z.literal("stats_request"),
  id: U32,
}));

/**
 * Either way: a graceful goodbye. `seq` is there when the relay sends it, as on every relay →
 * peer message.
 */
export type Disconnect = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "disconnect";
  /** Sequence number, when the relay sends it; absent from a peer. */
  seq?: number | undefined;
  /** Why, for programs. */
  reason: DisconnectReason;
  /** Why, for people. */
  text: string;
};
/** Schema of {@linkcode Disconnect}. */
const DisconnectSchema = exactly<Disconnect>()(z.object({
  v: z.literal(1),
  type: z.literal("disconnect"),
  seq: Seq.optional(),
  reason: DisconnectReasonSchema,
  text: z.string(),
}));

/** Relay → peer: something went wrong; `fatal` says whether the connection ends. */
export type ErrorMessage = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "error";
  /** Sequence number of relay → peer messages. */
  seq: number;
  /** What went wrong, for programs. */
  code: string;
  /** What went wrong, for people. */
  text: string;
  /** The relay closes the connection after this message. */
  fatal: boolean;
};
/** Schema of {@linkcode ErrorMessage}. */
const ErrorMessageSchema = exactly<ErrorMessage>()(z.object({
  v: z.literal(1),
  type: z.literal("error"),
  seq: Seq,
  code: z.string(),
  text: z.string(),
  fatal: z.boolean(),
}));

/** Either way: a liveness and round-trip probe (`seq` when the relay sends it). */
export type Ping = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "ping";
  /** Sequence number, when the relay sends it; absent from a peer. */
  seq?: number | undefined;
  /** A u32 the `pong` echoes, to match it to this ping. */
  nonce: number;
  /** The sender's clock, in ms; echoed, so the sender alone computes the round trip. */
  t: number;
};
/** Schema of {@linkcode Ping}. */
const PingSchema = exactly<Ping>()(z.object({
  v: z.literal(1),
  type: z.literal("ping"),
  seq: Seq.optional(),
  nonce: U32,
  t: z.number(),
}));

/** The answer to a `ping`, echoing its `nonce` and `t` (`seq` when the relay sends it). */
export type Pong = {
  /** Protocol version: always 1. */
  v: 1;
  /** The message type. */
  type: "pong";
  /** Sequence number, when the relay sends it; absent from a peer. */
  seq?: number | undefined;
  /** The `ping`'s nonce. */
  nonce: number;
  /** The `ping`'s `t`, unchanged. */
  t: number;
};
/** Schema of {@linkcode Pong}. */
const PongSchema = exactly<Pong>()(z.object({
  v: z.literal(1),
  type: z.literal("pong"),
  seq: Seq.optional(),
  nonce: U32,
  t: z.number(),
}));

/** Every control message of version 1. */
export type ControlMessage =
  | Hello
  | Welcome
  | Reject
  | PeerJoined
  | PeerLeft
  | Stats
  | StatsRequest
  | Disconnect
  | ErrorMessage
  | Ping
  | Pong;

const SCHEMAS: Readonly<Record<ControlMessage["type"], z.ZodType<ControlMessage>>> = {
  hello: HelloSchema,
  welcome: WelcomeSchema,
  reject: RejectSchema,
  peer_joined: PeerJoinedSchema,
  peer_left: PeerLeftSchema,
  stats: StatsSchema,
  stats_request: StatsRequestSchema,
  disconnect: DisconnectSchema,
  error: ErrorMessageSchema,
  ping: PingSchema,
  pong: PongSchema,
};

/**
 * A control stream that breaks the protocol: bad framing, invalid UTF-8 or JSON, or a message
 * its schema rejects. The receiver closes the connection with
 * {@linkcode CloseCode.PROTOCOL_VIOLATION}.
 */
export class ControlProtocolError extends Error {
  /** Always `"ControlProtocolError"`, so logs and `String(err)` name the class. */
  override name = "ControlProtocolError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Frames `message` for the control stream: a big-endian u32 length, then the JSON. The message
 * is trusted (built by netkit), not validated. Throws a `RangeError` when the JSON is over
 * {@linkcode MAX_CONTROL_MESSAGE} bytes.
 */
export function encodeControl(message: ControlMessage): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(JSON.stringify(message));
  if (json.length > MAX_CONTROL_MESSAGE) {
    throw new RangeError(
      `Control message of ${json.length} bytes exceeds ${MAX_CONTROL_MESSAGE}`,
    );
  }
  const framed = new Uint8Array(LENGTH_PREFIX + json.length);
  new DataView(framed.buffer).setUint32(0, json.length);
  framed.set(json, LENGTH_PREFIX);
  return framed;
}

/**
 * Decodes one control message body (the bytes after the length). Returns the validated
 * message, or `null` for a well-formed message of a type this version does not know (the
 * protocol says to ignore it). Throws {@linkcode ControlProtocolError} for invalid UTF-8,
 * invalid JSON, anything but an object with `"v": 1` and a string `type`, or a known type that
 * fails its schema (the error names the fields, e.g.
 * `Invalid "welcome" message: "tap_mtu": ...`).
 */
export function parseControl(json: Uint8Array): ControlMessage | null {
  let text: string;
  try {
    text = decoder.decode(json);
  } catch {
    throw new ControlProtocolError("Control message is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ControlProtocolError(`Control message is not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ControlProtocolError("Control message is not a JSON object");
  }
  const { v, type } = value as { v?: unknown; type?: unknown };
  if (v !== 1) {
    throw new ControlProtocolError(
      `Control message has version ${JSON.stringify(v)?.slice(0, 32) ?? "(none)"}: expected "v": 1`,
    );
  }
  if (typeof type !== "string") {
    throw new ControlProtocolError('Control message has no "type" string');
  }
  // `hasOwn` so that "constructor" or "__proto__" count as unknown types.
  if (!Object.hasOwn(SCHEMAS, type)) return null;
  const parsed = SCHEMAS[type as ControlMessage["type"]].safeParse(value);
  if (!parsed.success) {
    throw new ControlProtocolError(
      `Invalid "${type}" message: ${summarizeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data;
}

/**
 * Reads control messages from the receive side of the control stream, however the bytes are
 * split into chunks. Each byte is copied at most once: a message inside one chunk is parsed
 * from a view of it. Call {@linkcode ControlReader.read} one at a time.
 */
export class ControlReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  // Received bytes not yet consumed: `#chunks[#first]` from `#offset` on, then whole chunks.
  #chunks: Uint8Array[] = [];
  #first = 0;
  #offset = 0;
  #buffered = 0;
  #reading = false;
  #cancelled = false;

  /** Takes the stream's reader (locking it) until {@linkcode ControlReader.cancel}. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /**
   * The next message of a known type (unknown types are skipped), or `null` when the stream
   * ended cleanly between two messages or the reader was cancelled. Throws
   * {@linkcode ControlProtocolError} when the stream ends inside a message, for a length of 0
   * or over {@linkcode MAX_CONTROL_MESSAGE} (before reading the body), and for an invalid
   * message; errors of the stream itself (a reset) are passed through.
   */
  async read(): Promise<ControlMessage | null> {
    if (this.#reading) throw new Error("ControlReader.read() called while another read is pending");
    this.#reading = true;
    try {
      while (true) {
        if (!await this.#fill(LENGTH_PREFIX)) {
          if (this.#buffered === 0 || this.#cancelled) return null;
          throw new ControlProtocolError(
            `Control stream ended inside a length prefix: ${this.#buffered} of ${LENGTH_PREFIX} bytes`,
          );
        }
        const length = this.#peekLength();
        if (length === 0) {
          throw new ControlProtocolError(
            `Control message of 0 bytes: a length must be 1 to ${MAX_CONTROL_MESSAGE}`,
          );
        }
        if (length > MAX_CONTROL_MESSAGE) {
          throw new ControlProtocolError(
            `Control message of ${length} bytes exceeds ${MAX_CONTROL_MESSAGE}`,
          );
        }
        if (!await this.#fill(LENGTH_PREFIX + length)) {
          if (this.#cancelled) return null;
          throw new ControlProtocolError(
            `Control stream ended inside a message: ${
              this.#buffered - LENGTH_PREFIX
            } of ${length} bytes`,
          );
        }
        this.#take(LENGTH_PREFIX);
        const message = parseControl(this.#take(length));
        if (message !== null) return message;
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Cancels the stream (a QUIC STOP_SENDING) and releases it; safe to call twice. */
  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#chunks = [];
    this.#first = this.#offset = this.#buffered = 0;
    try {
      await this.#reader.cancel();
    } catch {
      // Already errored: nothing left to release but the lock.
    }
    this.#reader.releaseLock();
  }

  /** Same as {@linkcode ControlReader.cancel}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.cancel();
  }

  /** Reads chunks until `n` bytes are buffered; false if the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#cancelled) return false;
      const { done, value } = await this.#reader.read();
      if (done) return false;
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  /** The big-endian u32 at the read position, which may span chunks. */
  #peekLength(): number {
    let length = 0;
    let index = this.#first;
    let offset = this.#offset;
    for (let i = 0; i < LENGTH_PREFIX; i++) {
      let chunk = this.#chunks[index]!;
      if (offset === chunk.length) {
        chunk = this.#chunks[++index]!;
        offset = 0;
      }
      length = length * 256 + chunk[offset++]!;
    }
    return length;
  }

  /** Consumes `n` buffered bytes: a view when they lie in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    const head = this.#chunks[this.#first]!;
    let bytes: Uint8Array;
    if (head.length - this.#offset >= n) {
      bytes = head.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
    } else {
      bytes = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.#chunks[this.#first]!;
        const count = Math.min(chunk.length - this.#offset, n - filled);
        bytes.set(chunk.subarray(this.#offset, this.#offset + count), filled);
        filled += count;
        this.#offset += count;
        if (this.#offset === chunk.length) {
          this.#first++;
          this.#offset = 0;
        }
      }
    }
    this.#buffered -= n;
    if (this.#first < this.#chunks.length && this.#offset === this.#chunks[this.#first]!.length) {
      this.#first++;
      this.#offset = 0;
    }
    // Drop consumed chunks; at most one partly read chunk stays, so this is cheap.
    if (this.#first > 0) {
      this.#chunks.splice(0, this.#first);
      this.#first = 0;
    }
    return bytes;
  }
}

/**
 * Writes control messages to the send side of the control stream. Each message goes out as
 * one chunk through one writer, so concurrent senders never interleave and messages leave in
 * call order.
 */
export class ControlWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #closing: Promise<void> | undefined;

  /** Takes the stream's writer (locking it). */
  constructor(stream: WritableStream<Uint8Array>) {
    this.#writer = stream.getWriter();
  }

  /**
   * Sends `message`; resolves once the stream has taken it. Rejects with a `RangeError` for a
   * message over {@linkcode MAX_CONTROL_MESSAGE} bytes (nothing is written), with an `Error`
   * after {@linkcode ControlWriter.close}, or with the stream's error.
   */
  send(message: ControlMessage): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new Error(`Cannot send "${message.type}": the control stream is closed`),
      );
    }
    let framed: Uint8Array;
    try {
      framed = encodeControl(message);
    } catch (err) {
      return Promise.reject(err);
    }
    // Queued synchronously: the writer keeps chunks in call order.
    return this.#writer.write(framed);
  }

  /**
   * Closes the stream after the messages already sent (a QUIC FIN). Safe to call twice; never
   * rejects, since a stream that already failed has nothing left to close.
   */
  close(): Promise<void> {
    this.#closing ??= this.#writer.close().catch(() => {});
    return this.#closing;
  }

  /** Same as {@linkcode ControlWriter.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
