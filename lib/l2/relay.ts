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
import { errorMessage } from "../errors.ts";
import { formatMac, isMulticastMac, parseMac } from "../packet/mac.ts";
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
} from "./control.ts";
import {
  checkDatagram,
  DATAGRAM_HEADER_LEN,
  datagramFrame,
  writeDatagramHeader,
} from "./datagram.ts";
import { logFrame } from "./frame_log.ts";
import { ReasonCounts } from "./reason_counts.ts";
import { FLOOD, type Room, type RoomPeer, RoomRegistry, switchFrame } from "./room.ts";
import { classifyFrame } from "./safety.ts";
import { TokenBucket } from "./token_bucket.ts";
import { sleep, withTimeout } from "./_timeout.ts";
import { openQuicEndpoint } from "./quic_socket.ts";

const log = getLogger(["netkit", "relay"]);

/** QUIC transport parameters every netkit-l2 endpoint uses. */
export const QUIC_TRANSPORT = { keepAliveInterval: 5_000, maxIdleTimeout: 15_000 } as const;
/** Datagrams a peer may have in flight towards it before the relay drops (`congested`). */
const MAX_IN_FLIGHT = 256;
const HELLO_TIMEOUT_MS = 10_000;
/** How long the relay waits for path MTU discovery to raise a new connection's datagram size. */
const PMTU_WAIT_MS = 500;
/** How long the datagram size must hold before discovery counts as done. */
const PMTU_SETTLE_MS = 40;

/** Options for {@linkcode Relay.start}. */
export interface RelayOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key. */
  cert: string;
  key: string;
  /** Most clients per room (default 32). */
  roomClients?: number;
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

/** Counters of one peer, as `relay status` shows them. */
export interface PeerCounters {
  datagrams_in: number;
  bytes_in: number;
  frames_forwarded: number;
  frames_out: number;
  bytes_out: number;
  malformed: number;
  drops: Record<string, number>;
}

/** One peer in `relay status`. */
export interface PeerStatus extends PeerCounters {
  peer_id: number;
  role: "gateway" | "client";
  mac: string;
  state: "active" | "away";
  remote: string | null;
  connected_ms: number;
  /** The peer's own last `stats` message, without `v` and `type`. */
  reported: Record<string, unknown> | null;
}

/** `relay status`. */
export interface RelayStatus {
  listen: string;
  version: string;
  uptime_ms: number;
  rooms: {
    room: string;
    room_id: number;
    frame_max: number;
    tap_mtu: number;
    peers: PeerStatus[];
  }[];
  /** Every drop since start, by reason, including peers that left. */
  drops: Record<string, number>;
  peers_total: number;
  rejected: Record<string, number>;
}

/** The relay's side of one peer connection. */
class PeerLink {
  readonly conn: Deno.QuicConn;
  readonly writer: ControlWriter;
  readonly remote: string;
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
  /** Why this connection ends, once known: decides what the other peers are told. */
  ending: PeerLeftReason | "replaced" | "shutdown" | null = null;
  readonly broadcast: TokenBucket;
  readonly bandwidth: TokenBucket;

  constructor(conn: Deno.QuicConn, stream: Deno.QuicBidirectionalStream, limits: Limits) {
    this.conn = conn;
    this.writer = new ControlWriter(stream.writable);
    const addr = conn.remoteAddr;
    this.remote = addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    this.since = limits.now;
    this.broadcast = new TokenBucket(limits.bcastPps, limits.bcastBurst, limits.now);
    this.bandwidth = new TokenBucket(limits.peerBandwidth, limits.peerBandwidth, limits.now);
  }

  /** Sends a relay → peer message with the next sequence number. */
  send(message: Record<string, unknown> & { type: string }): Promise<void> {
    const seq = this.#controlSeq++;
    return this.writer.send({ v: 1, ...message, seq } as unknown as ControlMessage);
  }

  /** Closes the connection after `ms` unless it closed before: no timer outlives it. */
  closeAfter(ms: number, code: number, reason: string): void {
    const timer = setTimeout(() => this.close(code, reason), ms);
    this.conn.closed.finally(() => clearTimeout(timer)).catch(() => {});
  }

  /** Closes the connection (no-op when already closed). */
  close(code: number, reason: string): void {
    try {
      this.conn.close({ closeCode: code, reason });
    } catch {
      // Already closed.
    }
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
  readonly #options: Required<Omit<RelayOptions, "cert" | "key">>;
  readonly #links = new Set<PeerLink>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #drops = new ReasonCounts();
  readonly #rejected = new ReasonCounts();
  readonly #started: number;
  readonly #expiry: ReturnType<typeof setInterval>;
  /** Per-frame logs are on (checked once: the hot path must not ask per frame). */
  readonly #debug = log.isEnabledFor("debug");
  #peersTotal = 0;
  #closed = false;
  #accepting: Promise<void>;

  private constructor(
    endpoint: Deno.QuicEndpoint,
    listener: Deno.QuicListener,
    options: Required<Omit<RelayOptions, "cert" | "key">>,
  ) {
    this.#endpoint = endpoint;
    this.#listener = listener;
    this.#options = options;
    this.#registry = new RoomRegistry({ maxClients: options.roomClients });
    this.#started = options.clock();
    this.#expiry = setInterval(() => this.#expireAway(), 1000);
    this.#accepting = this.#acceptLoop();
  }

  /** Starts listening. */
  static start(options: RelayOptions): Relay {
    const endpoint = openQuicEndpoint(options.hostname, options.port);
    const listener = endpoint.listen({
      alpnProtocols: [ALPN],
      cert: options.cert,
      key: options.key,
      ...QUIC_TRANSPORT,
    });
    return new Relay(endpoint, listener, {
      hostname: options.hostname,
      port: options.port,
      roomClients: options.roomClients ?? 32,
      bcastPps: options.bcastPps ?? 1000,
      bcastBurst: options.bcastBurst ?? 200,
      peerBandwidth: options.peerBandwidth ?? 125_000_000,
      malformedLimit: options.malformedLimit ?? 20,
      resumeWindowMs: options.resumeWindowMs ?? 120_000,
      clock: options.clock ?? (() => performance.now()),
    });
  }

  /** The address the relay listens on. */
  get addr(): Deno.NetAddr {
    return this.#endpoint.addr;
  }

  async #acceptLoop(): Promise<void> {
    try {
      for await (const incoming of this.#listener) {
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
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } catch (err) {
      log.info("Handshake failed: {error}", { error: errorMessage(err) });
      return;
    }
    conn.closed.catch(() => {});
    let link: PeerLink | null = null;
    try {
      const stream = await withTimeout(
        firstStream(conn),
        HELLO_TIMEOUT_MS,
        "No control stream within 10 s",
      );
      if (stream === null) return;
      link = new PeerLink(conn, stream, { ...this.#limits(), now: this.#options.clock() });
      this.#links.add(link);
      const reader = new ControlReader(stream.readable);
      const hello = await withTimeout(reader.read(), HELLO_TIMEOUT_MS, "No hello within 10 s");
      if (hello === null || hello.type !== "hello") {
        throw new ControlProtocolError(
          hello === null
            ? "Control stream ended before hello"
            : `Expected hello, got ${hello.type}`,
        );
      }
      if (!(await this.#admit(link, hello))) return;
      await Promise.all([this.#controlLoop(link, reader), this.#datagramLoop(link)]);
    } catch (err) {
      if (err instanceof ControlProtocolError) {
        log.warning("{remote}: protocol violation: {error}", {
          remote: link?.remote ?? "peer",
          error: err.message,
        });
        link?.close(CloseCode.PROTOCOL_VIOLATION, err.message.slice(0, 100));
      } else if (!this.#closed) {
        log.info("{remote}: connection ended: {error}", {
          remote: link?.remote ?? "peer",
          error: errorMessage(err),
        });
        link?.close(CloseCode.PROTOCOL_VIOLATION, "error");
      }
    } finally {
      await conn.closed.catch(() => {});
      if (link !== null) this.#onClosed(link);
    }
  }

  /** Admits the peer (sending welcome) or rejects it; true when admitted. */
  async #admit(link: PeerLink, hello: Hello): Promise<boolean> {
    const budget = Math.min(hello.budget, await datagramSize(link.conn, hello.budget));
    const result = this.#registry.join(
      {
        role: hello.role,
        room: hello.room,
        mac: parseMac(hello.mac),
        budget,
        resume: hello.resume,
      },
      link,
    );
    if (!result.ok) {
      this.#rejected.add(result.code);
      log.info("{remote}: rejected {role} for room {room}: {reason}", {
        remote: link.remote,
        role: hello.role,
        room: hello.room,
        reason: result.reason,
      });
      await link.send({ type: "reject", code: result.code, reason: result.reason }).catch(() => {});
      await link.writer.close();
      await sleep(100); // let the reject reach the peer before the close does
      link.ending = "shutdown";
      link.close(CloseCode.REJECTED, result.code);
      return false;
    }
    const { peer, resumed, replaced } = result;
    link.peer = peer;
    if (replaced !== null) {
      replaced.ending = "replaced";
      replaced.close(CloseCode.REPLACED, "replaced");
    }
    const room = peer.room;
    if (!resumed) this.#peersTotal++;
    const joined = { type: "peer_joined", peer_id: peer.peerId, role: peer.role, mac: hello.mac };
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
      });
    } catch (err) {
      link.ending = "disconnect";
      throw err;
    }
    if (!resumed && peer.role === "gateway") this.#broadcastControl(room, peer, joined);
    log.info("{remote}: {role} {mac} {action} room {room} as peer {peer} (frames up to {max})", {
      remote: link.remote,
      role: peer.role,
      mac: hello.mac,
      action: resumed ? "resumed in" : "joined",
      room: room.code,
      peer: peer.peerId,
      max: room.frameMax,
    });
    return true;
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
    message: Record<string, unknown> & { type: string },
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
      switch (message.type) {
        case "stats": {
          const { v: _v, type: _t, ...counters } = message;
          link.reported = counters;
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

  /** Checks and forwards one datagram (the hot path: no allocation on the way through). */
  #forward(link: PeerLink, datagram: Uint8Array): void {
    const peer = link.peer!;
    const room = peer.room;
    link.datagramsIn++;
    link.bytesIn += datagram.length;
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
    if (peer.role === "client") {
      const now = this.#options.clock();
      if (!link.bandwidth.take(datagram.length, now)) {
        return this.#drop(link, "bandwidth", datagram, false);
      }
      if (isMulticastMac(frame, 0) && !link.broadcast.take(1, now)) {
        return this.#drop(link, "broadcast_rate", datagram, false);
      }
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
    // sendDatagram copies the bytes before it returns, so one buffer serves every target.
    writeDatagramHeader(datagram, from.peer!.peerId, link.datagramSeq++, to.room.tag);
    link.inFlight++;
    link.framesOut++;
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
    if (peer === null || peer.link !== link) return; // never admitted, or replaced
    if (link.ending === "disconnect" || link.ending === "malformed") {
      this.#leave(peer, link.ending);
    } else if (!this.#closed) {
      this.#registry.markAway(peer, this.#options.clock());
      log.info("{remote}: peer {peer} lost; held {window} ms for a resume", {
        remote: link.remote,
        peer: peer.peerId,
        window: this.#options.resumeWindowMs,
      });
    }
  }

  #leave(peer: RoomPeer<PeerLink>, reason: PeerLeftReason): void {
    this.#registry.remove(peer);
    this.#broadcastControl(peer.room, peer, {
      type: "peer_left",
      peer_id: peer.peerId,
      reason,
    });
    log.info("Peer {peer} left room {room} ({reason})", {
      peer: peer.peerId,
      room: peer.room.code,
      reason,
    });
  }

  #expireAway(): void {
    const gone = this.#registry.expire(this.#options.clock(), this.#options.resumeWindowMs);
    for (const peer of gone) {
      this.#broadcastControl(peer.room, peer, {
        type: "peer_left",
        peer_id: peer.peerId,
        reason: "timeout",
      });
      log.info("Peer {peer} of room {room} did not come back", {
        peer: peer.peerId,
        room: peer.room.code,
      });
    }
  }

  /** Rooms, peers and counters. */
  status(): RelayStatus {
    const now = this.#options.clock();
    const rooms = [...this.#registry.rooms()].map((room) => ({
      room: room.code,
      room_id: room.id,
      frame_max: room.frameMax,
      tap_mtu: room.frameMax - 14,
      peers: room.members.map((peer) => peerStatus(peer, now)),
    }));
    return {
      listen: `${this.addr.hostname}:${this.addr.port}`,
      version: NETKIT_VERSION,
      uptime_ms: Math.round(now - this.#started),
      rooms,
      drops: this.#drops.toJSON(),
      peers_total: this.#peersTotal,
      rejected: this.#rejected.toJSON(),
    };
  }

  /** Tells every peer the relay is going, closes every connection and the endpoint. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#expiry);
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

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function peerStatus(peer: RoomPeer<PeerLink>, now: number): PeerStatus {
  const link = peer.link;
  return {
    peer_id: peer.peerId,
    role: peer.role,
    mac: formatMac(peer.mac),
    state: link === null ? "away" : "active",
    remote: link?.remote ?? null,
    connected_ms: link === null ? 0 : Math.round(now - link.since),
    datagrams_in: link?.datagramsIn ?? 0,
    bytes_in: link?.bytesIn ?? 0,
    frames_forwarded: link?.framesForwarded ?? 0,
    frames_out: link?.framesOut ?? 0,
    bytes_out: link?.bytesOut ?? 0,
    malformed: link?.malformed ?? 0,
    drops: link?.drops.toJSON() ?? {},
    reported: link?.reported ?? null,
  };
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
 * The connection's datagram size once path MTU discovery had a moment: a new connection
 * starts at QUIC's minimum and grows within tens of milliseconds.
 */
export async function datagramSize(conn: Deno.QuicConn, wanted: number): Promise<number> {
  const start = performance.now();
  const initial = conn.maxDatagramSize;
  let size = initial;
  let changed = start;
  // Discovery is a binary search (1162 → 1382 → 1414 on loopback, a few ms apart): done when
  // the size grew and then held for a while, or when it reached what is wanted.
  while (size < wanted && performance.now() - start < PMTU_WAIT_MS) {
    if (size > initial && performance.now() - changed >= PMTU_SETTLE_MS) break;
    await sleep(5);
    if (conn.maxDatagramSize !== size) {
      size = conn.maxDatagramSize;
      changed = performance.now();
    }
  }
  return conn.maxDatagramSize;
}
