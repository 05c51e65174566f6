// deno-lint-ignore-file camelcase
/**
 * The relay: a QUIC endpoint where gateways and clients meet in rooms. It admits peers
 * (docs/l2-protocol.md §2), forwards their Ethernet frames by the identity of their
 * connection (§3–§4), enforces the safety filters and limits, and reports every peer's
 * counters. Requires `--unstable-net` and `--allow-net`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage, NetkitError } from "../errors.ts";
import { formatMac, parseMac } from "../packet/mac.ts";
import { NETKIT_VERSION } from "../version.ts";
import {
  ALPN,
  CloseCode,
  type ControlMessage,
  ControlProtocolError,
  ControlReader,
  ControlWriter,
  type Hello,
  type PeerLeftReason,
  type RejectCode,
} from "./control.ts";
import {
  checkDatagram,
  DATAGRAM_HEADER_LEN,
  datagramFrame,
  DatagramKind,
  datagramKind,
  writeDatagramHeader,
} from "./datagram.ts";
import {
  checkFragment,
  type FragmentDropReason,
  FragmentReassembler,
  largestFrameInTwo,
  splitFrame,
} from "./fragments.ts";
import { logFrame } from "./frame_log.ts";
import { ReasonCounts } from "./reason_counts.ts";
import { AddressGuard } from "./address_guard.ts";
import { parseCredential } from "./credentials.ts";
import {
  FLOOD,
  type Room,
  type RoomPeer,
  RoomRegistry,
  switchFrame,
  UNAUTHORIZED_REASON,
} from "./room.ts";
import { readRoomsFile, type RoomsConfig } from "./rooms_file.ts";
import { sourceKey, SourceLimits } from "./source_limits.ts";
import { classifyFrame } from "./safety.ts";
import { TokenBucket } from "./token_bucket.ts";
import { delay, withTimeout } from "../async.ts";
import { plural } from "../text.ts";
import { openQuicEndpoint } from "./quic_socket.ts";

/** A message as `PeerLink.send` takes it: without `v` and `seq`, which it adds. */
type Unnumbered<M> = M extends unknown ? Omit<M, "v" | "seq"> : never;

const log = getLogger(["netkit", "relay"]);

/**
 * How long a silent connection lives, by default: a crashed relay or peer is noticed within 2 s.
 * Both ends send a keep-alive every quarter of it, so a lossy path has four chances before a
 * healthy connection would be dropped. QUIC takes the smaller of the two ends' values.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 2000;

/** QUIC transport parameters of a netkit-l2 endpoint with idle timeout `idleTimeoutMs`. */
export function quicTransport(
  idleTimeoutMs: number,
): { keepAliveInterval: number; maxIdleTimeout: number } {
  return {
    keepAliveInterval: Math.max(100, Math.round(idleTimeoutMs / 4)),
    maxIdleTimeout: idleTimeoutMs,
  };
}
/** Datagrams a peer may have in flight towards it before the relay drops (`congested`). */
const MAX_IN_FLIGHT = 256;
/** How often the relay looks whether its rooms file changed, and expires away peers. */
const HOUSEKEEPING_MS = 1000;
/**
 * Closed connections after which the relay runs V8's collector. A closed QUIC connection's
 * native memory (~30 kB) goes only when its JS object is collected, and V8 does not see that
 * memory: a flood of connections the relay closes at once grew a bare Deno 2.9.6 server by
 * 400 MB before a major collection came by itself. `gc` exists with `--v8-flags=--expose-gc`,
 * which the launcher and `deno compile` pass.
 */
const COLLECT_AFTER_CLOSED = 64;
const collectGarbage = (globalThis as { gc?: () => void }).gc;
/**
 * How long the relay waits for path MTU discovery to raise a new connection's datagram size to
 * what its room needs, before it says `mtu_too_small`. A peer that splits frames needs half a
 * frame per datagram, which every path carries at once unless the room's frames are jumbo.
 */
const PMTU_WAIT_MS = 3000;
/** Nothing to show of a dropped fragment in the debug log (the reassembler keeps the bytes). */
const NO_FRAME = new Uint8Array(0);
/**
 * How long `relay status` waits for the peers' answers to its `stats_request`s: a peer that has
 * not answered by then (an older netkit, a slow path) is shown with its last report and its age.
 */
export const STATS_WAIT_MS = 300;
/**
 * Control messages a peer may send per second (and in a burst) besides answers to the relay's
 * `stats_request`s. Peers send a few a minute; past the budget a message is ignored and the
 * stream is not read for a while, so a peer cannot make the relay work by flooding it.
 */
const CONTROL_RATE = 20;
const CONTROL_BURST = 40;

/** Options for {@linkcode Relay.start}. */
export interface RelayOptions {
  /** Address to listen on (e.g. `0.0.0.0` or `::`). */
  hostname: string;
  /** UDP port to listen on (0: any free port, see {@linkcode Relay.addr}). */
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key of the certificate. */
  key: string;
  /** The rooms, their settings and credentials. */
  rooms: RoomsConfig;
  /** The rooms file to reread whenever it changes (none: `rooms` stay as given). */
  roomsFile?: string;
  /** Most rooms (default 1024): a rooms file with more is refused. */
  maxRooms?: number;
  /** Most clients per room (default 32). */
  roomClients?: number;
  /** Most connections in total, handshakes included (default 1024). */
  maxConnections?: number;
  /** Most connections from one source address (an IPv6 /64) (default 16). */
  maxConnectionsPerSource?: number;
  /** Most handshakes under way in total (default 64). */
  maxHandshakes?: number;
  /** Most handshakes under way from one source (default 8). */
  maxHandshakesPerSource?: number;
  /** Time from a connection's first packet to its hello being answered (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** Failed authentications per minute a source may make before it is refused (default 10). */
  authFailuresPerMinute?: number;
  /** How long a silent connection lives (default {@linkcode DEFAULT_IDLE_TIMEOUT_MS}). */
  idleTimeoutMs?: number;
  /** Broadcast and multicast frames per second a client may send (default 1000; 0: no limit). */
  bcastPps?: number;
  /** Burst of the broadcast limit (default 200). */
  bcastBurst?: number;
  /** Bytes per second a client may send (default 125,000,000 = 1 Gbit/s; 0: no limit). */
  peerBandwidth?: number;
  /** Malformed datagrams (and spoofed source MACs) after which a peer is disconnected (20). */
  malformedLimit?: number;
  /** How long a lost peer keeps its identity for a resume (default 120 s). */
  resumeWindowMs?: number;
  /** Milliseconds since some epoch (tests inject a fake clock). */
  clock?: () => number;
}

/** The limits a relay enforces, as `relay status` shows them. */
export interface RelayLimits {
  /** Most rooms a rooms file may hold. */
  max_rooms: number;
  /** Most clients per room. */
  room_clients: number;
  /** Most connections in total, handshakes included. */
  max_connections: number;
  /** Most connections per source (an IPv4 address or an IPv6 /64). */
  max_connections_per_source: number;
  /** Most handshakes under way in total. */
  max_handshakes: number;
  /** Most handshakes under way per source. */
  max_handshakes_per_source: number;
  /** Time from a connection's first packet to its hello being answered, in ms. */
  handshake_timeout_ms: number;
  /** Failed authentications per minute a source may make before it is refused. */
  auth_failures_per_minute: number;
  /** How long a silent connection lives, in ms. */
  idle_timeout_ms: number;
  /** How long an away peer keeps its identity for a resume. */
  resume_window_ms: number;
  /** Broadcast/multicast frames per second per client (0: no limit), and its burst in frames. */
  bcast_pps: number;
  /** The burst of `bcast_pps`, in frames. */
  bcast_burst: number;
  /** Bytes per second per client (0: no limit). */
  peer_bandwidth: number;
  /** Control messages per second a peer may send besides answers to `stats_request`. */
  control_messages_per_second: number;
  /** How long `status` waits for the peers' fresh counters. */
  stats_wait_ms: number;
}

/** Counters of one peer, as `relay status` shows them. */
export interface PeerCounters {
  /** Datagrams received from the peer. */
  datagrams_in: number;
  /** Datagram bytes received from the peer. */
  bytes_in: number;
  /** The peer's frames the relay sent on (a flooded frame counts once). */
  frames_forwarded: number;
  /** Frames sent to the peer (a frame sent in two fragments counts once). */
  frames_out: number;
  /** Datagram bytes sent to the peer. */
  bytes_out: number;
  /** Malformed datagrams and fragments from the peer. */
  malformed: number;
  /**
   * The peer's frames not forwarded, by reason. A drop is charged to the sender: `peer_away`
   * and `congested` count against the peer whose frame found its receiver away or busy.
   */
  drops: Record<string, number>;
  /** Frames the relay sent this peer in two fragments. */
  frames_fragmented: number;
  /** Frames the relay joined from this peer's fragments. */
  fragments_reassembled: number;
}

/** One peer in `relay status`. */
export interface PeerStatus extends PeerCounters {
  /** The peer's id in the room. */
  peer_id: number;
  /** Gateway or client. */
  role: "gateway" | "client";
  /** The name of the credential it joined with. */
  credential: string;
  /** The peer's MAC, as text. */
  mac: string;
  /** `away`: its connection was lost and it may still resume. */
  state: "active" | "away";
  /** The connection's remote address (`host:port`); null while away. */
  remote: string | null;
  /** Since the peer joined or resumed on its connection; 0 while away. */
  connected_ms: number;
  /** Away: since the connection was lost, and until the relay forgets the peer; else null. */
  away_ms: number | null;
  /** Away: how long the relay still keeps the peer's id and MAC for a resume; else null. */
  hold_remaining_ms: number | null;
  /** The peer's own last `stats` message, without `v`, `type` and `id`. */
  reported: Record<string, unknown> | null;
  /** Frames too big for a datagram are split in two on this connection, both ways. */
  fragments: boolean;
  /** The connection's largest datagram now (path MTU discovery raises it); null when away. */
  datagram_max: number | null;
  /** How old `reported` is, in ms (null: never reported). */
  reported_age_ms: number | null;
  /** Whether `reported` answers this status's `stats_request` (false: an older report). */
  reported_fresh: boolean;
  /** Control messages of the peer the relay ignored, by reason (`unsolicited_stats`, `rate`). */
  control_ignored: Record<string, number>;
}

/** `relay status`. */
export interface RelayStatus {
  /** The address the relay listens on. */
  listen: string;
  /** The relay's netkit version. */
  version: string;
  /** Time since the relay started, in ms. */
  uptime_ms: number;
  /** Every room, with its settings and its peers (gateway first). */
  rooms: {
    room: string;
    room_id: number;
    frame_max: number;
    tap_mtu: number;
    /** Client credentials configured. */
    clients: number;
    address_guard: boolean;
    /** The address guard's bindings, by kind. */
    bindings: Record<string, number>;
    peers: PeerStatus[];
  }[];
  /** Every drop since start, by reason, including peers that left. */
  drops: Record<string, number>;
  /** Control messages ignored since start, by reason, including peers that left. */
  control_ignored: Record<string, number>;
  /** Peers admitted since start; resumes are not counted. */
  peers_total: number;
  /** Hellos refused, by reject code. */
  rejected: Record<string, number>;
  /** Connections refused before hello (before the handshake for the totals), by limit. */
  refused: Record<string, number>;
  /** Hellos with an unknown room or credential or a wrong secret. */
  auth_failures: number;
  /** Connections (handshakes included), handshakes under way, sources tracked. */
  connections: number;
  /** Handshakes under way now. */
  handshakes: number;
  /** Sources (IPv4 addresses, IPv6 /64s) the relay keeps track of now. */
  sources: number;
  /** The limits in force. */
  limits: RelayLimits;
  /** When the rooms file was last read, and the error if rereading it failed since. */
  rooms_file: { path: string; loaded_ms: number; error: string | null } | null;
}

/** The relay's side of one peer connection. */
class PeerLink {
  readonly conn: Deno.QuicConn;
  readonly writer: ControlWriter;
  readonly remote: string;
  /** {@linkcode sourceKey} of the remote address. */
  readonly source: string;
  readonly since: number;
  peer: RoomPeer<PeerLink> | null = null;
  /** Sequence of the next relay → peer control message. */
  #controlSeq = 1;
  /** Sequence of the next datagram to this peer. */
  datagramSeq = 0;
  inFlight = 0;
  datagramsIn = 0;
  bytesIn = 0;
  framesForwarded = 0;
  framesOut = 0;
  bytesOut = 0;
  malformed = 0;
  /** Malformed datagrams and spoofed source MACs, against the malformed limit. */
  violations = 0;
  readonly drops = new ReasonCounts();
  reported: Record<string, unknown> | null = null;
  /** When `reported` arrived (ms). */
  reportedAt = 0;
  /** Control messages ignored, by reason. */
  readonly controlIgnored = new ReasonCounts();
  /** What the peer may send on its control stream besides answers. */
  readonly controlBudget: TokenBucket;
  /** The `stats_request` awaiting its answer. */
  #statsRequest: { id: number; answered: PromiseWithResolvers<boolean> } | null = null;
  /** A request still being written: the peer does not read its stream; ask no more. */
  #requestWriting = false;
  /** Ends the connection's handshake accounting once hello is answered (set by the relay). */
  answered: () => void = () => {};
  /** Why this connection ends, once known: decides what the other peers are told. */
  ending: PeerLeftReason | "shutdown" | null = null;
  readonly broadcast: TokenBucket;
  readonly bandwidth: TokenBucket;
  /** Set at admission when the peer splits frames: its fragments are joined here. */
  reassembler: FragmentReassembler | null = null;
  /** The peer's `budget`: with fragments, the largest datagram the relay sends it too. */
  budget = 65535;
  framesFragmented = 0;

  constructor(
    conn: Deno.QuicConn,
    stream: Deno.QuicBidirectionalStream,
    remote: string,
    source: string,
    limits: Limits,
  ) {
    this.conn = conn;
    this.writer = new ControlWriter(stream.writable);
    this.remote = remote;
    this.source = source;
    this.since = limits.now;
    this.broadcast = new TokenBucket(limits.bcastPps, limits.bcastBurst, limits.now);
    this.bandwidth = new TokenBucket(limits.peerBandwidth, limits.peerBandwidth, limits.now);
    this.controlBudget = new TokenBucket(CONTROL_RATE, CONTROL_BURST, limits.now);
  }

  /**
   * Asks the peer for its counters (`stats_request` with `id`); resolves true once it answered,
   * false after `waitMs`. A request under way is shared rather than repeated.
   */
  requestStats(id: number, waitMs: number): Promise<boolean> {
    if (this.#statsRequest !== null) return this.#statsRequest.answered.promise;
    if (this.#requestWriting) return Promise.resolve(false);
    const request = { id, answered: Promise.withResolvers<boolean>() };
    this.#statsRequest = request;
    const timer = setTimeout(() => this.#settle(request, false), waitMs);
    request.answered.promise.finally(() => clearTimeout(timer));
    this.#requestWriting = true;
    // Unnumbered (see StatsRequest): not `send`, which gives every message the next seq.
    this.writer.send({ v: 1, type: "stats_request", id }).then(
      () => this.#requestWriting = false,
      () => this.#settle(request, false),
    );
    return request.answered.promise;
  }

  /** Whether `id` answers the request under way; if so, that request is answered. */
  answers(id: number | undefined): boolean {
    const request = this.#statsRequest;
    if (id === undefined || request === null || request.id !== id) return false;
    this.#settle(request, true);
    return true;
  }

  #settle(
    request: { id: number; answered: PromiseWithResolvers<boolean> },
    answered: boolean,
  ): void {
    if (this.#statsRequest === request) this.#statsRequest = null;
    request.answered.resolve(answered);
  }

  /** Sends a relay → peer message with the next sequence number. */
  send(message: Unnumbered<ControlMessage>): Promise<void> {
    const seq = this.#controlSeq++;
    // The spread of one union member plus `v` and `seq` is that member: TS cannot see it.
    return this.writer.send({ v: 1, ...message, seq } as ControlMessage);
  }

  /** The largest datagram to send the peer now: its budget, or less while the path says so. */
  datagramMax(): number {
    return Math.min(this.budget, this.conn.maxDatagramSize);
  }

  /** Closes the connection after `ms` unless it closed before: no timer outlives it. */
  closeAfter(ms: number, code: number, reason: string): void {
    const timer = setTimeout(() => this.close(code, reason), ms);
    this.conn.closed.finally(() => clearTimeout(timer)).catch(() => {});
  }

  /** Closes the connection (no-op when already closed). */
  close(code: number, reason: string): void {
    closeQuietly(this.conn, code, reason);
  }
}

interface Limits {
  bcastPps: number;
  bcastBurst: number;
  peerBandwidth: number;
  now: number;
}

/** A running relay. */
export class Relay implements AsyncDisposable {
  readonly #endpoint: Deno.QuicEndpoint;
  readonly #listener: Deno.QuicListener;
  readonly #registry: RoomRegistry<PeerLink>;
  readonly #options: Required<Omit<RelayOptions, "cert" | "key" | "rooms" | "roomsFile">>;
  readonly #sources: SourceLimits;
  /** One address guard per room code. */
  readonly #guards = new Map<string, AddressGuard>();
  /** Where each peer was last connected from, to notice an identity moving. */
  readonly #lastRemote = new WeakMap<RoomPeer<PeerLink>, string>();
  readonly #links = new Set<PeerLink>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #drops = new ReasonCounts();
  /** Where a frame is split for a peer (sendDatagram copies, so one buffer serves all). */
  readonly #fragmentOut = new Uint8Array(65536 + 2 * DATAGRAM_HEADER_LEN);
  readonly #controlIgnored = new ReasonCounts();
  /** The connection an away peer was lost on: its counters and last report, for `status`. */
  readonly #lostLinks = new WeakMap<RoomPeer<PeerLink>, PeerLink>();
  #statsRequestId = 0;
  readonly #rejected = new ReasonCounts();
  readonly #refused = new ReasonCounts();
  readonly #started: number;
  readonly #housekeeping: ReturnType<typeof setInterval>;
  /** Per-frame logs are on (checked once: the hot path must not ask per frame). */
  readonly #debug = log.isEnabledFor("debug");
  readonly #roomsFile: string | null;
  /** The rooms file as last seen (inode, size, mtime), its load time, and a reload error. */
  #roomsStamp = "";
  #roomsLoaded = 0;
  #roomsError: string | null = null;
  #reloading = false;
  /** The rooms file read under way, for a {@linkcode rereadRooms} to wait for. */
  #roomsRead: Promise<unknown> = Promise.resolve();
  #authFailures = 0;
  /** Connections closed since the collector last ran. */
  #closedSinceCollect = 0;
  #peersTotal = 0;
  #closed = false;
  #accepting: Promise<void>;

  private constructor(
    endpoint: Deno.QuicEndpoint,
    listener: Deno.QuicListener,
    options: Required<Omit<RelayOptions, "cert" | "key" | "rooms" | "roomsFile">>,
    rooms: RoomsConfig,
    roomsFile: string | null,
    roomsStamp: string,
  ) {
    this.#endpoint = endpoint;
    this.#listener = listener;
    this.#options = options;
    this.#registry = new RoomRegistry({ maxClients: options.roomClients });
    this.#sources = new SourceLimits({
      maxConnections: options.maxConnections,
      maxConnectionsPerSource: options.maxConnectionsPerSource,
      maxHandshakes: options.maxHandshakes,
      maxHandshakesPerSource: options.maxHandshakesPerSource,
      authFailuresPerMinute: options.authFailuresPerMinute,
    });
    this.#roomsFile = roomsFile;
    this.#roomsStamp = roomsStamp;
    this.#started = options.clock();
    this.#roomsLoaded = this.#started;
    this.#configure(rooms);
    this.#housekeeping = setInterval(() => this.#housekeep(), HOUSEKEEPING_MS);
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Starts listening with `options.rooms`. Throws a NetkitError when there are more rooms than
   * `maxRooms`.
   */
  static async start(options: RelayOptions): Promise<Relay> {
    const maxRooms = options.maxRooms ?? 1024;
    // Stamped before it is read: a change in between is seen by the first reread, not lost.
    const roomsStamp = options.roomsFile === undefined ? "" : await fileStamp(options.roomsFile);
    const rooms = options.roomsFile === undefined
      ? options.rooms
      : readRoomsFile(options.roomsFile);
    checkRoomCount(rooms, maxRooms);
    const endpoint = openQuicEndpoint(options.hostname, options.port);
    const listener = endpoint.listen({
      alpnProtocols: [ALPN],
      cert: options.cert,
      key: options.key,
      ...quicTransport(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
    });
    return new Relay(
      endpoint,
      listener,
      {
        hostname: options.hostname,
        port: options.port,
        maxRooms,
        roomClients: options.roomClients ?? 32,
        maxConnections: options.maxConnections ?? 1024,
        maxConnectionsPerSource: options.maxConnectionsPerSource ?? 16,
        maxHandshakes: options.maxHandshakes ?? 64,
        maxHandshakesPerSource: options.maxHandshakesPerSource ?? 8,
        handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
        authFailuresPerMinute: options.authFailuresPerMinute ?? 10,
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        bcastPps: options.bcastPps ?? 1000,
        bcastBurst: options.bcastBurst ?? 200,
        peerBandwidth: options.peerBandwidth ?? 125_000_000,
        malformedLimit: options.malformedLimit ?? 20,
        resumeWindowMs: options.resumeWindowMs ?? 120_000,
        clock: options.clock ?? (() => performance.now()),
      },
      rooms,
      options.roomsFile ?? null,
      roomsStamp,
    );
  }

  /** The address the relay listens on. */
  get addr(): Deno.NetAddr {
    return this.#endpoint.addr;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const incoming of this.#listener) {
        // The totals only: reading who is calling would make `incoming` unusable (Deno 2.9.6).
        const refused = this.#sources.open();
        if (refused !== null) {
          this.#refused.add(refused);
          log.debug("A connection refused before its handshake ({reason})", { reason: refused });
          try {
            incoming.refuse();
          } catch {
            // Already gone.
          }
          continue;
        }
        // Each handshake runs on its own, so one slow or bad peer never stalls the others.
        this.#track(this.#serve(incoming));
      }
    } catch (err) {
      if (!this.#closed) {
        log.error("Accepting connections failed: {error}", { error: errorMessage(err) });
      }
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #serve(incoming: Deno.QuicIncoming): Promise<void> {
    // One deadline for the whole handshake: QUIC, the control stream, hello, the answer.
    const deadline = this.#options.clock() + this.#options.handshakeTimeoutMs;
    const remaining = () => Math.max(0, deadline - this.#options.clock());
    const timeoutText = `No hello within ${this.#options.handshakeTimeoutMs} ms`;
    let source: string | null = null;
    let handshaking = true;
    const handshakeDone = () => {
      if (handshaking) this.#sources.handshakeDone(source);
      handshaking = false;
    };
    let conn: Deno.QuicConn;
    try {
      const accepting = incoming.accept<false>();
      // A handshake that completes after its deadline is closed at once.
      accepting.then((late) => handshaking ? undefined : late.close(), () => {});
      conn = await withTimeout(accepting, remaining(), timeoutText);
    } catch (err) {
      handshakeDone();
      this.#sources.closed(null, this.#options.clock());
      this.#collectEvery(COLLECT_AFTER_CLOSED);
      log.info("A handshake failed: {error}", { error: errorMessage(err) });
      return;
    }
    conn.closed.catch(() => {});
    const remote = addressText(conn.remoteAddr);
    let link: PeerLink | null = null;
    try {
      const key = sourceKey(conn.remoteAddr.hostname);
      const refused = this.#sources.attach(key, this.#options.clock());
      if (refused !== null) {
        this.#refused.add(refused);
        log.debug("{remote}: refused ({reason})", { remote, reason: refused });
        closeQuietly(conn, CloseCode.RATE_LIMITED, refused);
        return;
      }
      source = key;
      const stream = await withTimeout(firstStream(conn), remaining(), timeoutText);
      if (stream === null) return;
      link = new PeerLink(conn, stream, remote, key, {
        ...this.#limits(),
        now: this.#options.clock(),
      });
      link.answered = handshakeDone;
      this.#links.add(link);
      const reader = new ControlReader(stream.readable);
      const hello = await withTimeout(reader.read(), remaining(), timeoutText);
      if (hello === null || hello.type !== "hello") {
        throw new ControlProtocolError(
          hello === null
            ? "Control stream ended before hello"
            : `Expected hello, got ${hello.type}`,
        );
      }
      // Awaited whole (its path MTU wait is bounded by the deadline): a timeout racing it could
      // leave a peer admitted on a connection already cleaned up.
      const admitted = await this.#admit(link, hello, remaining());
      handshakeDone();
      if (!admitted) return;
      await Promise.all([this.#controlLoop(link, reader), this.#datagramLoop(link)]);
    } catch (err) {
      const stranger = link === null || link.peer === null;
      // A stranger's broken or missing hello counts as a failed authentication, so it cannot
      // hold handshake slots or write log lines without limit.
      if (stranger && source !== null) this.#sources.authFailed(source, this.#options.clock());
      if (err instanceof ControlProtocolError) {
        const text = { remote, error: err.message.slice(0, 200) };
        if (stranger) log.info("{remote}: protocol violation before hello: {error}", text);
        else log.warning("{remote}: protocol violation: {error}", text);
        closeQuietly(conn, CloseCode.PROTOCOL_VIOLATION, err.message.slice(0, 100));
      } else if (!this.#closed) {
        log.info("{remote}: connection ended: {error}", { remote, error: errorMessage(err) });
        closeQuietly(conn, CloseCode.PROTOCOL_VIOLATION, "error");
      }
    } finally {
      handshakeDone();
      await conn.closed.catch(() => {});
      this.#sources.closed(source, this.#options.clock());
      this.#collectEvery(COLLECT_AFTER_CLOSED);
      if (link !== null) this.#onClosed(link);
    }
  }

  /** Authenticates and admits the peer (sending welcome) or rejects it; true when admitted. */
  async #admit(link: PeerLink, hello: Hello, waitMs: number): Promise<boolean> {
    const credential = parseCredential(hello.credential);
    const name = await this.#registry.authenticate(credential, hello.role);
    if (name === null) {
      this.#authFailures++;
      const first = this.#sources.authFailed(link.source, this.#options.clock());
      // The room and name are the peer's claim, shown so an operator recognises a stale
      // credential; the secret never appears. Once a minute per source at warning: the rest
      // are counted (auth_failures), so many sources cannot flood the log.
      const message = "{remote}: authentication failed for a {role} claiming {room}:{name}";
      const fields = {
        remote: link.remote,
        role: hello.role,
        room: credential.room,
        name: credential.name,
      };
      if (first) log.warning(message, fields);
      else log.debug(message, fields);
      await this.#reject(link, "unauthorized", UNAUTHORIZED_REASON);
      return false;
    }
    // What the room needs, not what the path may reach one day: the wait ends as soon as it fits.
    // A peer that splits frames needs half of one, which any path carries at once.
    const fragments = hello.fragments === true;
    const frameMax = this.#registry.room(credential.room)?.frameMax ?? 0;
    const needed = (fragments ? Math.ceil(frameMax / 2) : frameMax) + DATAGRAM_HEADER_LEN;
    const budget = Math.min(
      hello.budget,
      await datagramSizeReaching(
        link.conn,
        Math.min(needed, hello.budget),
        Math.min(PMTU_WAIT_MS, waitMs),
      ),
    );
    const result = this.#registry.join(
      {
        role: hello.role,
        room: credential.room,
        credential: name,
        mac: parseMac(hello.mac),
        budget,
        fragments,
        resume: hello.resume,
      },
      link,
    );
    if (!result.ok) {
      log.info("{remote}: rejected {role} {room}:{name}: {reason}", {
        remote: link.remote,
        role: hello.role,
        room: credential.room,
        name,
        reason: result.reason,
      });
      await this.#reject(link, result.code, result.reason);
      return false;
    }
    const { peer, resumed, replaced, evicted } = result;
    link.peer = peer;
    if (fragments) {
      link.budget = hello.budget;
      link.reassembler = new FragmentReassembler(
        peer.room.frameMax,
        (reason) => this.#fragmentDropped(link, reason),
      );
    }
    const previous = this.#lastRemote.get(evicted ?? peer);
    this.#lastRemote.set(peer, link.remote);
    if (previous !== undefined && hostOf(previous) !== hostOf(link.remote)) {
      log.warning(
        "{remote}: {room}:{name} {action} from a new address (it was at {previous})",
        {
          remote: link.remote,
          room: peer.room.code,
          name,
          action: resumed ? "resumed" : "started a new session",
          previous,
        },
      );
    }
    if (replaced !== null) {
      replaced.ending = "replaced";
      replaced.close(CloseCode.REPLACED, "replaced");
    }
    if (evicted !== null) this.#evicted(evicted, "replaced", peer);
    const room = peer.room;
    if (!resumed) this.#peersTotal++;
    if (peer.role === "client") {
      this.#guard(room).configure(peer.macKey, room.credential(name)?.addresses ?? []);
    }
    const joined = {
      type: "peer_joined",
      peer_id: peer.peerId,
      role: peer.role,
      mac: hello.mac,
    } as const;
    // A client is announced before it is welcomed, so the gateway knows its MAC before the
    // client's first frame; a gateway is welcomed first and then announced.
    if (!resumed && peer.role === "client") this.#broadcastControl(room, peer, joined);
    try {
      await link.send({
        type: "welcome",
        room_id: room.id,
        peer_id: peer.peerId,
        frame_max: room.frameMax,
        tap_mtu: room.frameMax - 14,
        gateway: room.gateway === null
          ? { present: false }
          : { present: true, peer_id: room.gateway.peerId, mac: formatMac(room.gateway.mac) },
        peers: room.others(peer).map((p) => ({
          peer_id: p.peerId,
          role: p.role,
          mac: formatMac(p.mac),
        })),
        stats_interval_ms: 10_000,
        cam_refresh_ms: 60_000,
        resume: peer.resumeToken,
        resume_window_ms: this.#options.resumeWindowMs,
        resumed,
        fragments,
      });
    } catch (err) {
      link.ending = "disconnect";
      throw err;
    }
    if (!resumed && peer.role === "gateway") this.#broadcastControl(room, peer, joined);
    log.info(
      "{remote}: {role} {room}:{name} ({mac}) {action} as peer {peer} (frames up to {max})",
      {
        remote: link.remote,
        role: peer.role,
        room: room.code,
        name,
        mac: hello.mac,
        action: resumed ? "resumed" : "joined",
        peer: peer.peerId,
        max: room.frameMax,
      },
    );
    return true;
  }

  /** Sends `reject` and closes: the peer learns why before the connection goes. */
  async #reject(link: PeerLink, code: RejectCode, reason: string): Promise<void> {
    this.#rejected.add(code);
    await link.send({ type: "reject", code, reason }).catch(() => {});
    link.answered();
    await link.writer.close();
    await delay(100); // let the reject reach the peer before the close does
    link.ending = "shutdown";
    link.close(CloseCode.REJECTED, code);
  }

  /**
   * A peer that lost its place while it may still be connected: a newer session of its
   * credential replaced it, or the operator revoked it. The others hear it left.
   */
  #evicted(
    peer: RoomPeer<PeerLink>,
    reason: "replaced" | "revoked",
    successor: RoomPeer<PeerLink> | null = null,
  ): void {
    const link = peer.link;
    if (link !== null) {
      link.ending = reason;
      link.close(reason === "replaced" ? CloseCode.REPLACED : CloseCode.REVOKED, reason);
    }
    this.#left(peer, reason, successor);
  }

  /** The guard of `room`, made on first use. */
  #guard(room: Room<PeerLink>): AddressGuard {
    let guard = this.#guards.get(room.code);
    if (guard === undefined) {
      guard = new AddressGuard();
      this.#guards.set(room.code, guard);
    }
    return guard;
  }

  #limits(): Omit<Limits, "now"> {
    return {
      bcastPps: this.#options.bcastPps,
      bcastBurst: this.#options.bcastBurst,
      peerBandwidth: this.#options.peerBandwidth,
    };
  }

  /** Sends a relay message to every connected peer of `room` but `except`. */
  #broadcastControl(
    room: Room<PeerLink>,
    except: RoomPeer<PeerLink>,
    message: Unnumbered<ControlMessage>,
  ): void {
    for (const member of room.members) {
      if (member === except || member.link === null) continue;
      const link = member.link;
      link.send(message).catch((err) =>
        log.info("{remote}: {type} not delivered: {error}", {
          remote: link.remote,
          type: message.type,
          error: errorMessage(err),
        })
      );
    }
  }

  async #controlLoop(link: PeerLink, reader: ControlReader): Promise<void> {
    while (true) {
      const message = await reader.read();
      if (message === null) {
        // A peer ends its stream right after disconnect: close now, not after the grace.
        if (link.ending === "disconnect") link.close(CloseCode.NORMAL, "disconnect");
        return;
      }
      const answer = message.type === "stats" && link.answers(message.id);
      if (!answer && !link.controlBudget.take(1, this.#options.clock())) {
        this.#ignoreControl(link, "rate");
        // What the peer sends meanwhile waits in QUIC's flow-control window, not here.
        await delay(1000 / CONTROL_RATE);
        continue;
      }
      switch (message.type) {
        case "stats": {
          if (message.id !== undefined && !answer) {
            // Not what we asked for (late, or never asked): ignored, only counted.
            this.#ignoreControl(link, "unsolicited_stats");
            break;
          }
          const { v: _v, type: _t, id: _id, ...counters } = message;
          link.reported = counters;
          link.reportedAt = this.#options.clock();
          break;
        }
        case "disconnect":
          link.ending = "disconnect";
          // The peer sends its final stats first, on the same ordered stream.
          log.info("{remote}: peer {peer} disconnects ({reason}): {text}; final stats: {stats}", {
            remote: link.remote,
            peer: link.peer?.peerId,
            reason: message.reason,
            text: message.text,
            stats: link.reported === null
              ? "none"
              : `${link.reported.frames_to_relay} frames to the relay, ${link.reported.frames_from_relay} from it`,
          });
          // The peer closes; closing here as well ends a peer that does not.
          link.closeAfter(1000, CloseCode.NORMAL, "disconnect");
          break;
        case "ping":
          await link.send({ type: "pong", nonce: message.nonce, t: message.t });
          break;
        case "hello":
          throw new ControlProtocolError("A second hello on the control stream");
        default:
          break;
      }
    }
  }

  #ignoreControl(link: PeerLink, reason: string): void {
    link.controlIgnored.add(reason);
    this.#controlIgnored.add(reason);
  }

  async #datagramLoop(link: PeerLink): Promise<void> {
    while (true) {
      let datagram: Uint8Array;
      try {
        datagram = await link.conn.readDatagram();
      } catch {
        return; // the connection closed
      }
      this.#forward(link, datagram);
    }
  }

  /** Checks and forwards one datagram (the hot path: no allocation but joining fragments). */
  #forward(link: PeerLink, datagram: Uint8Array): void {
    const peer = link.peer!;
    const room = peer.room;
    link.datagramsIn++;
    link.bytesIn += datagram.length;
    if (link.reassembler !== null && datagramKind(datagram) === DatagramKind.FRAGMENT) {
      const whole = this.#reassemble(link, datagram);
      if (whole === null) return;
      datagram = whole;
    }
    const malformed = checkDatagram(datagram, room.tag, room.frameMax, peer.peerId);
    if (malformed !== null) {
      link.malformed++;
      this.#drop(link, malformed, datagram, true);
      return;
    }
    const frame = datagramFrame(datagram);
    const unsafe = classifyFrame(frame, peer.role === "client", room.frameMax);
    if (unsafe !== null) return this.#drop(link, unsafe, datagram, false);
    const target = switchFrame(peer, frame);
    if (typeof target === "string") {
      return this.#drop(link, target, datagram, target === "unauthorized_source_mac");
    }
    const guard = room.config.address_guard ? this.#guards.get(room.code) : undefined;
    if (peer.role === "client") {
      const now = this.#options.clock();
      if (!link.bandwidth.take(datagram.length, now)) {
        return this.#drop(link, "bandwidth", datagram, false);
      }
      if (target === FLOOD && !link.broadcast.take(1, now)) {
        return this.#drop(link, "broadcast_rate", datagram, false);
      }
      // After the limits: a frame dropped for rate must not bind or release an address.
      const spoof = guard?.check(peer.macKey, peer.mac, frame, now) ?? null;
      if (spoof !== null) return this.#drop(link, spoof, datagram, false);
    } else if (guard !== undefined) {
      // Leases and the LAN's own addresses are learnt from what the gateway sends on.
      guard.observe(frame, true, this.#options.clock());
    }
    link.framesForwarded++;
    if (target === FLOOD) {
      for (const member of room.members) {
        if (member !== peer) this.#send(link, member, datagram);
      }
    } else {
      this.#send(link, target, datagram);
    }
    if (this.#debug) this.#logFrame(link, datagram, "forward", null);
  }

  #send(from: PeerLink, to: RoomPeer<PeerLink>, datagram: Uint8Array): void {
    const link = to.link;
    if (link === null) return this.#drop(from, "peer_away", datagram, false);
    if (link.inFlight >= MAX_IN_FLIGHT) return this.#drop(from, "congested", datagram, false);
    if (link.reassembler !== null && datagram.length > link.datagramMax()) {
      return this.#sendInTwo(from, link, datagram);
    }
    // sendDatagram copies the bytes before it returns, so one buffer serves every target.
    writeDatagramHeader(datagram, from.peer!.peerId, link.datagramSeq++, to.room.tag);
    link.framesOut++;
    this.#transmit(from, link, datagram);
  }

  /** A frame too big for the peer's datagrams now, as two fragments (fragments.ts). */
  #sendInTwo(from: PeerLink, link: PeerLink, datagram: Uint8Array): void {
    const frame = datagramFrame(datagram);
    if (frame.length > largestFrameInTwo(link.datagramMax())) {
      return this.#drop(from, "path_too_small", datagram, false);
    }
    const sequence = link.datagramSeq;
    link.datagramSeq += 2;
    const room = link.peer!.room;
    const parts = splitFrame(frame, this.#fragmentOut, from.peer!.peerId, sequence, room.tag);
    link.framesOut++;
    link.framesFragmented++;
    for (const part of parts) this.#transmit(from, link, part);
  }

  /** Sends one datagram to `link`, counted there; a failure is charged to `from`. */
  #transmit(from: PeerLink, link: PeerLink, datagram: Uint8Array): void {
    link.inFlight++;
    link.bytesOut += datagram.length;
    link.conn.sendDatagram(datagram).then(
      () => link.inFlight--,
      () => {
        link.inFlight--;
        from.drops.add("send_failed");
        this.#drops.add("send_failed");
      },
    );
  }

  /** Checks a fragment from `link` and joins it; the whole datagram once both halves came. */
  #reassemble(link: PeerLink, fragment: Uint8Array): Uint8Array | null {
    const peer = link.peer!;
    const malformed = checkFragment(fragment, peer.room.tag, peer.room.frameMax, peer.peerId);
    if (malformed !== null) {
      link.malformed++;
      this.#drop(link, malformed, fragment, true);
      return null;
    }
    return link.reassembler!.accept(fragment, this.#options.clock());
  }

  /** A fragment the reassembler gave up on; halves that add up to a lie are malformed. */
  #fragmentDropped(link: PeerLink, reason: FragmentDropReason): void {
    const violation = reason === "fragment_oversize";
    if (violation) link.malformed++;
    this.#drop(link, reason, NO_FRAME, violation);
  }

  #drop(link: PeerLink, reason: string, datagram: Uint8Array, violation: boolean): void {
    link.drops.add(reason);
    this.#drops.add(reason);
    if (this.#debug) this.#logFrame(link, datagram, "drop", reason);
    if (!violation) return;
    link.violations++;
    if (link.violations === this.#options.malformedLimit) {
      log.warning("{remote}: peer {peer} disconnected after {n} malformed datagrams", {
        remote: link.remote,
        peer: link.peer?.peerId,
        n: link.violations,
      });
      link.ending = "malformed";
      link.close(CloseCode.MALFORMED_THRESHOLD, "malformed_threshold");
    }
  }

  #logFrame(
    link: PeerLink,
    datagram: Uint8Array,
    action: "forward" | "drop",
    reason: string | null,
  ): void {
    logFrame(log, {
      where: `room ${link.peer?.room.code}`,
      direction: "from_peer",
      peer: link.peer?.peerId ?? null,
      frame: datagram.subarray(Math.min(DATAGRAM_HEADER_LEN, datagram.length)),
      action,
      reason,
    });
  }

  #onClosed(link: PeerLink): void {
    this.#links.delete(link);
    const peer = link.peer;
    // Close codes a peer sees when the relay ends the connection decide nothing here: only
    // what the relay itself decided (link.ending) does.
    if (peer === null || peer.link !== link) return; // never admitted, or resumed elsewhere
    if (link.ending === "replaced" || link.ending === "revoked") return; // already out
    if (link.ending === "disconnect" || link.ending === "malformed") {
      this.#leave(peer, link.ending);
    } else if (!this.#closed) {
      this.#registry.markAway(peer, this.#options.clock());
      this.#lostLinks.set(peer, link);
      log.info("{remote}: peer {peer} lost; held {window} ms for a resume", {
        remote: link.remote,
        peer: peer.peerId,
        window: this.#options.resumeWindowMs,
      });
    }
  }

  #leave(peer: RoomPeer<PeerLink>, reason: PeerLeftReason): void {
    if (this.#registry.remove(peer)) this.#left(peer, reason);
  }

  /**
   * Tells the room that `peer`, already out of the registry, left; not `successor`, the new
   * session of the same credential, which learns the room from its welcome.
   */
  #left(
    peer: RoomPeer<PeerLink>,
    reason: PeerLeftReason,
    successor: RoomPeer<PeerLink> | null = null,
  ): void {
    this.#broadcastControl(peer.room, successor ?? peer, {
      type: "peer_left",
      peer_id: peer.peerId,
      reason,
    });
    const guard = this.#guards.get(peer.room.code);
    if (peer.role === "client" && guard !== undefined) {
      // Its credential's addresses go with it (a next session configures its own); its DHCP
      // leases stay with the MAC, which a restarted client keeps, and expire by themselves.
      // A revoked client keeps nothing.
      guard.configure(peer.macKey, []);
      if (reason === "revoked") guard.forget(peer.macKey);
    }
    const text = "Peer {peer} ({room}:{name}) left ({reason})";
    const fields = { peer: peer.peerId, room: peer.room.code, name: peer.credential, reason };
    if (reason === "revoked") log.warning(text, fields);
    else log.info(text, fields);
  }

  /** Runs the collector once per `closed` connections closed (a full collection: a few ms). */
  #collectEvery(closed: number): void {
    if (++this.#closedSinceCollect < closed || collectGarbage === undefined) return;
    this.#closedSinceCollect = 0;
    collectGarbage();
  }

  #housekeep(): void {
    const now = this.#options.clock();
    const gone = this.#registry.expire(now, this.#options.resumeWindowMs);
    for (const peer of gone) this.#left(peer, "timeout");
    this.#sources.sweep(now);
    for (const guard of this.#guards.values()) guard.expireDue(now);
    if (this.#roomsFile !== null && !this.#reloading) {
      this.#reloading = true;
      this.#roomsRead = this.#reloadRooms(this.#roomsFile).finally(() => this.#reloading = false);
    }
  }

  /**
   * Rereads the rooms file now, changed or not (SIGHUP: the operator asks for it, and need not
   * wait for the check every second), and says what came of it: `reread rooms file PATH: 3
   * rooms`, or why the rooms were kept as they were.
   */
  async rereadRooms(): Promise<string> {
    if (this.#roomsFile === null) return "no rooms file to reread";
    // One read at a time: the one every second may be under way.
    while (this.#reloading) await this.#roomsRead;
    this.#reloading = true;
    const read = this.#reloadRooms(this.#roomsFile, true);
    this.#roomsRead = read;
    try {
      return await read;
    } finally {
      this.#reloading = false;
    }
  }

  /**
   * Rereads the rooms file when it changed (or when `force`d); a bad file keeps the rooms as
   * they were. Returns what was done, in words.
   */
  async #reloadRooms(path: string, force = false): Promise<string> {
    let stamp: string;
    let rooms: RoomsConfig;
    try {
      stamp = await fileStamp(path);
      if (stamp === this.#roomsStamp && !force) return `rooms file ${path} unchanged`;
      // A file that vanished is a mistake, not "no rooms": nobody is cut off for it.
      if (stamp === "missing") {
        throw new NetkitError(
          `The rooms file "${path}" is gone (netkit relay room del removes rooms)`,
        );
      }
      rooms = readRoomsFile(path);
      checkRoomCount(rooms, this.#options.maxRooms);
    } catch (err) {
      const error = errorMessage(err);
      if (error !== this.#roomsError) {
        log.error("Keeping the rooms as they were: {error}", { error });
      }
      this.#roomsError = error;
      return `kept the rooms as they were: ${error}`;
    }
    if (this.#closed) return "the relay is closed";
    this.#roomsStamp = stamp;
    this.#roomsError = null;
    this.#roomsLoaded = this.#options.clock();
    this.#configure(rooms);
    log.info("Rooms file {path} reread: {rooms} rooms", { path, rooms: rooms.rooms.length });
    return `reread rooms file ${path}: ${plural(rooms.rooms.length, "room")}`;
  }

  /** Applies the operator's rooms: revoked peers go, guards learn configured addresses. */
  #configure(rooms: RoomsConfig): void {
    for (const peer of this.#registry.configure(rooms)) this.#evicted(peer, "revoked");
    const codes = new Set(rooms.rooms.map((r) => r.room));
    for (const code of this.#guards.keys()) if (!codes.has(code)) this.#guards.delete(code);
    for (const room of this.#registry.rooms()) {
      for (const client of room.clients.values()) {
        this.#guard(room).configure(
          client.macKey,
          room.credential(client.credential)?.addresses ?? [],
        );
      }
    }
  }

  /**
   * Rooms, peers and counters, with each connected peer's own counters fresh: every peer is
   * asked (`stats_request`) at once, and those that answer within `waitMs` are shown with that
   * answer; the others with their last report and its age.
   */
  async freshStatus(waitMs = STATS_WAIT_MS): Promise<RelayStatus> {
    const fresh = new Set<PeerLink>();
    await Promise.all(
      [...this.#registry.rooms()].flatMap((room) =>
        room.members.flatMap((peer) => {
          const link = peer.link;
          if (link === null) return [];
          this.#statsRequestId = (this.#statsRequestId + 1) >>> 0;
          return [
            link.requestStats(this.#statsRequestId, waitMs).then((answered) => {
              if (answered) fresh.add(link);
            }),
          ];
        })
      ),
    );
    return this.status(fresh);
  }

  /**
   * Rooms, peers and counters as they are; `fresh`: the connections whose `reported` answers a
   * request made for this status (only {@linkcode Relay.freshStatus} knows them, so it is typed
   * as opaque objects).
   */
  status(fresh: ReadonlySet<object> = new Set()): RelayStatus {
    const now = this.#options.clock();
    const o = this.#options;
    const rooms = [...this.#registry.rooms()].map((room) => ({
      room: room.code,
      room_id: room.id,
      frame_max: room.frameMax,
      tap_mtu: room.frameMax - 14,
      clients: room.config.credentials.filter((c) => c.role === "client").length,
      address_guard: room.config.address_guard,
      bindings: this.#guards.get(room.code)?.status() ?? {},
      peers: room.members.map((peer) =>
        peerStatus(peer, {
          now,
          resumeWindowMs: o.resumeWindowMs,
          lost: this.#lostLinks.get(peer) ?? null,
          fresh,
        })
      ),
    }));
    return {
      listen: addressText(this.addr),
      version: NETKIT_VERSION,
      uptime_ms: Math.round(now - this.#started),
      rooms,
      drops: this.#drops.toJSON(),
      control_ignored: this.#controlIgnored.toJSON(),
      peers_total: this.#peersTotal,
      rejected: this.#rejected.toJSON(),
      refused: this.#refused.toJSON(),
      auth_failures: this.#authFailures,
      connections: this.#sources.connections,
      handshakes: this.#sources.handshakes,
      sources: this.#sources.sources,
      limits: {
        max_rooms: o.maxRooms,
        room_clients: o.roomClients,
        max_connections: o.maxConnections,
        max_connections_per_source: o.maxConnectionsPerSource,
        max_handshakes: o.maxHandshakes,
        max_handshakes_per_source: o.maxHandshakesPerSource,
        handshake_timeout_ms: o.handshakeTimeoutMs,
        auth_failures_per_minute: o.authFailuresPerMinute,
        idle_timeout_ms: o.idleTimeoutMs,
        resume_window_ms: o.resumeWindowMs,
        bcast_pps: o.bcastPps,
        bcast_burst: o.bcastBurst,
        peer_bandwidth: o.peerBandwidth,
        control_messages_per_second: CONTROL_RATE,
        stats_wait_ms: STATS_WAIT_MS,
      },
      rooms_file: this.#roomsFile === null ? null : {
        path: this.#roomsFile,
        loaded_ms: Math.round(now - this.#roomsLoaded),
        error: this.#roomsError,
      },
    };
  }

  /** Tells every peer the relay is going, closes every connection and the endpoint. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#housekeeping);
    await Promise.all(
      [...this.#links].map(async (link) => {
        link.ending = "shutdown";
        await withTimeout(
          link.send({ type: "disconnect", reason: "shutdown", text: "relay shutting down" }),
          500,
          "disconnect",
        ).catch(() => {});
        link.close(CloseCode.SHUTDOWN, "shutdown");
      }),
    );
    this.#endpoint.close();
    await this.#accepting;
    await Promise.all([...this.#tasks]);
  }

  /** Same as {@linkcode Relay.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * One peer for `status`. An away peer shows the counters and last report of the connection it
 * was lost on (`lost`), how long it has been away and how long the relay still holds it.
 */
function peerStatus(
  peer: RoomPeer<PeerLink>,
  context: {
    now: number;
    resumeWindowMs: number;
    lost: PeerLink | null;
    fresh: ReadonlySet<object>;
  },
): PeerStatus {
  const { now } = context;
  const away = peer.link === null;
  const link = peer.link ?? context.lost;
  const awayMs = away ? Math.round(now - peer.awaySince) : null;
  return {
    peer_id: peer.peerId,
    role: peer.role,
    credential: peer.credential,
    mac: formatMac(peer.mac),
    state: away ? "away" : "active",
    remote: away ? null : link?.remote ?? null,
    connected_ms: away || link === null ? 0 : Math.round(now - link.since),
    away_ms: awayMs,
    hold_remaining_ms: awayMs === null ? null : Math.max(0, context.resumeWindowMs - awayMs),
    datagrams_in: link?.datagramsIn ?? 0,
    bytes_in: link?.bytesIn ?? 0,
    frames_forwarded: link?.framesForwarded ?? 0,
    frames_out: link?.framesOut ?? 0,
    bytes_out: link?.bytesOut ?? 0,
    malformed: link?.malformed ?? 0,
    drops: link?.drops.toJSON() ?? {},
    reported: link?.reported ?? null,
    frames_fragmented: link?.framesFragmented ?? 0,
    fragments_reassembled: link?.reassembler?.reassembled ?? 0,
    fragments: (link?.reassembler ?? null) !== null,
    datagram_max: link === null || away ? null : link.datagramMax(),
    reported_age_ms: link === null || link.reported === null
      ? null
      : Math.round(now - link.reportedAt),
    reported_fresh: link !== null && !away && context.fresh.has(link),
    control_ignored: link?.controlIgnored.toJSON() ?? {},
  };
}

/** `host:port`, `[v6]:port`. */
function addressText(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/** The host part of {@linkcode addressText}. */
function hostOf(remote: string): string {
  return remote.slice(0, remote.lastIndexOf(":"));
}

function closeQuietly(conn: Deno.QuicConn, code: number, reason: string): void {
  try {
    conn.close({ closeCode: code, reason });
  } catch {
    // Already closed.
  }
}

function checkRoomCount(rooms: RoomsConfig, maxRooms: number): void {
  if (rooms.rooms.length > maxRooms) {
    throw new NetkitError(
      `The rooms file has ${rooms.rooms.length} rooms, more than --max-rooms ${maxRooms}`,
    );
  }
}

/** What changes when a file is replaced or rewritten: inode, size, modification time. */
async function fileStamp(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    return `${info.ino}:${info.size}:${info.mtime?.getTime()}`;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "missing";
    throw err;
  }
}

/** The first bidirectional stream the peer opens: its control stream. */
async function firstStream(conn: Deno.QuicConn): Promise<Deno.QuicBidirectionalStream | null> {
  const reader = conn.incomingBidirectionalStreams.getReader();
  try {
    const { value } = await reader.read();
    return value ?? null;
  } finally {
    reader.releaseLock();
  }
}

/**
 * The connection's datagram size once it reaches `needed`, or after `waitMs`, whichever comes
 * first. A new connection starts at QUIC's minimum and path MTU discovery raises it within a few
 * round trips (1162 → 1382 → 1414 on loopback, a few ms apart; more over a slow or lossy path:
 * a heuristic that stopped once the size held for 40 ms stopped at 1280 behind 50 ms of delay).
 */
export async function datagramSizeReaching(
  conn: Deno.QuicConn,
  needed: number,
  waitMs: number,
): Promise<number> {
  const deadline = performance.now() + waitMs;
  while (conn.maxDatagramSize < needed && performance.now() < deadline) await delay(5);
  return conn.maxDatagramSize;
}
