/**
 * A gateway's or client's session with the relay: the pinned QUIC connection, hello and
 * welcome, the control stream (peer events, stats, ping, relay sequence checks), datagrams
 * both ways, and reconnection with jittered backoff and resume (docs/l2-protocol.md §2.4).
 * Requires `--unstable-net` and `--allow-net`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { errorMessage, NetkitError } from "../errors.ts";
import { formatMac } from "../packet/mac.ts";
import { snakeCase } from "../text.ts";
import { NETKIT_VERSION } from "../version.ts";
import { Backoff } from "./backoff.ts";
import { certificateHash } from "./certs.ts";
import {
  ALPN,
  CloseCode,
  type ControlMessage,
  ControlProtocolError,
  ControlReader,
  ControlWriter,
  type DisconnectReason,
  type PeerJoined,
  type PeerLeft,
  type RejectCode,
  type Role,
  type Welcome,
} from "./control.ts";
import { parseCredential } from "./credentials.ts";
import {
  checkDatagram,
  DATAGRAM_HEADER_LEN,
  datagramFrame,
  DatagramKind,
  datagramKind,
  datagramSequence,
  datagramSourcePeer,
  SequenceTracker,
  writeDatagramHeader,
} from "./datagram.ts";
import {
  checkFragment,
  type FragmentDropReason,
  FragmentReassembler,
  largestFrameInTwo,
  splitFrame,
} from "./fragments.ts";
import { ReasonCounts } from "./reason_counts.ts";
import { openQuicEndpoint } from "./quic_socket.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, quicTransport } from "./relay.ts";
import { delay, TimeoutError, withTimeout } from "../async.ts";

const log = getLogger(["netkit", "l2"]);

const CONNECT_TIMEOUT_MS = 10_000;
/** Datagrams to the relay in flight before frames are dropped (`congested`). */
const MAX_IN_FLIGHT = 256;
/** In flight at most, for a reader to take another round of frames (see `congested`). */
const ROUND_IN_FLIGHT = MAX_IN_FLIGHT - 64;
/** How long a closing peer waits for the relay to take its disconnect. */
const DRAIN_MS = 500;

/** Where the relay is and how it is trusted. */
export interface RelayAddress {
  /** The relay's host name or IP address. */
  hostname: string;
  /** The relay's UDP port. */
  port: number;
  /** TLS server name sent to the relay (SNI). */
  serverName: string;
  /** The relay's own certificate (PEM): the only certificate the relay may present. */
  pin: string;
}

/** Options for {@linkcode RelaySession.connect}. */
export interface RelaySessionOptions {
  /** The relay to join. */
  relay: RelayAddress;
  /** Gateway or client; the credential must be one of this role. */
  role: Role;
  /** `nk1:ROOM:NAME:SECRET`, from `netkit relay room`. */
  credential: string;
  /** This peer's MAC (a client's TAP, a gateway's NIC). */
  mac: Uint8Array;
  /**
   * Largest datagram to advertise (default 65535: the relay measures the path), and to send or
   * be sent: a bigger frame goes in two fragments.
   */
  budget?: number;
  /** How long a silent connection lives (default 2 s): how soon a dead relay is noticed. */
  idleTimeoutMs?: number;
}

/** What the owner of a session (gateway or client) reacts to. */
export interface SessionHandlers {
  /** Admitted (again): the room's parameters and the other peers. */
  welcome(welcome: Welcome): void;
  /** A peer joined the room. */
  peerJoined(event: PeerJoined): void;
  /** A peer left the room. */
  peerLeft(event: PeerLeft): void;
  /** A valid frame from peer `from` (a view, valid during the call). */
  frame(frame: Uint8Array, from: number): void;
  /** The connection was lost; the session is reconnecting. */
  lost(reason: string): void;
}

/** Counters the session keeps, reported to the relay in `stats`. */
export interface SessionCounters {
  /** Frames sent to the relay (a frame sent in two fragments counts once). */
  framesToRelay: number;
  /** Valid frames received from the relay and passed to the owner. */
  framesFromRelay: number;
  /** Datagrams received from the relay, malformed ones and fragments included. */
  datagramsIn: number;
  /** Datagram bytes sent to the relay, headers included. */
  bytesToRelay: number;
  /** Datagram bytes received from the relay, headers included. */
  bytesFromRelay: number;
  /** Datagrams or fragments from the relay that failed their checks. */
  malformed: number;
  /** Successful reconnections (connections after the first). */
  reconnects: number;
  /** Frames sent in two fragments, because the connection's datagrams were too small. */
  framesFragmented: number;
  /** Frames joined from two fragments the relay sent. */
  fragmentsReassembled: number;
}

interface Connection {
  conn: Deno.QuicConn;
  reader: ControlReader;
  writer: ControlWriter;
  welcome: Welcome;
  since: number;
  /** Set when the relay agreed to fragments (`welcome.fragments`): both ways, then. */
  reassembler: FragmentReassembler | null;
}

/** A session with the relay that outlives connections. */
export class RelaySession implements AsyncDisposable {
  readonly #options: RelaySessionOptions;
  readonly #handlers: SessionHandlers;
  /** Drops by reason, of the session and its owner: reported in `stats`. */
  readonly drops = new ReasonCounts();
  /** The session's counters, across connections: reported in `stats`. */
  readonly counters: SessionCounters = {
    framesToRelay: 0,
    framesFromRelay: 0,
    datagramsIn: 0,
    bytesToRelay: 0,
    bytesFromRelay: 0,
    malformed: 0,
    reconnects: 0,
    framesFragmented: 0,
    fragmentsReassembled: 0,
  };
  readonly #sequence = new SequenceTracker();
  /** A frame and its header, or its two fragments with theirs. */
  readonly #out = new Uint8Array(65536 + 2 * DATAGRAM_HEADER_LEN);
  readonly #stop = new AbortController();
  /** One endpoint for every connection of the session (its socket's buffer is set once). */
  #endpoint: Deno.QuicEndpoint | null = null;
  #current: Connection | null = null;
  readonly #room: string;
  /** The SHA-256 of the pinned certificate, computed once. */
  #pinHash: Promise<ArrayBuffer> | null = null;
  readonly #ended = Promise.withResolvers<string>();
  #resume: string | undefined;
  /** The room's gateway as the relay last told us, or null while it has none. */
  #gatewayPeer: number | null = null;
  /**
   * The owner's own counters (a gateway's, a client's), sent with every `stats` under
   * `counters`: numeric fields only, names in snake_case.
   */
  ownerCounters: object | null = null;
  #sendSeq = 0;
  #inFlight = 0;
  /** Resolved when a reader paused by {@linkcode drain} may go on. */
  #drained: PromiseWithResolvers<void> | null = null;
  #closing: Promise<void> | null = null;
  #running: Promise<void> = Promise.resolve();

  private constructor(options: RelaySessionOptions, handlers: SessionHandlers) {
    this.#options = options;
    this.#handlers = handlers;
    this.#room = parseCredential(options.credential).room;
  }

  /**
   * Resolves with the reason when the session gives up for good: the relay no longer accepts
   * its credential (revoked or rotated) or its room. Never rejects.
   */
  get ended(): Promise<string> {
    return this.#ended.promise;
  }

  /**
   * Connects and joins the room. The first connection's failure is the caller's error (a
   * wrong certificate, an unreachable relay, a reject); later losses are reconnected.
   */
  static async connect(
    options: RelaySessionOptions,
    handlers: SessionHandlers,
  ): Promise<RelaySession> {
    const session = new RelaySession(options, handlers);
    const first = await session.#join();
    session.#running = session.#run(first);
    return session;
  }

  /** The current welcome, or null while disconnected. */
  get welcome(): Welcome | null {
    return this.#current?.welcome ?? null;
  }

  /** `connected`, `reconnecting` (between connections), or `closed`. */
  get state(): "connected" | "reconnecting" | "closed" {
    if (this.#current !== null) return "connected";
    return this.#stop.signal.aborted ? "closed" : "reconnecting";
  }

  /** How long the current connection has been up (ms), or null while disconnected. */
  get connectedMs(): number | null {
    const current = this.#current;
    return current === null ? null : performance.now() - current.since;
  }

  /** The relay's address, `host:port`. */
  get relayAddress(): string {
    return addressText(this.#options.relay);
  }

  /** The room of the session's credential. */
  get room(): string {
    return this.#room;
  }

  /** The peer id of the room's gateway, as the relay last told us; null while it has none. */
  get gatewayPeer(): number | null {
    return this.#gatewayPeer;
  }

  /** Datagram gaps seen on the relay → peer link. */
  get seqGaps(): number {
    return this.#sequence.gaps;
  }

  /**
   * True when a reader should not take another round of (up to 64) frames from its kernel
   * queue before {@linkcode drain}: frames wait there, rather than being dropped here.
   */
  get congested(): boolean {
    return this.#inFlight > ROUND_IN_FLIGHT;
  }

  /** Resolves once the session is no longer {@linkcode congested}. */
  drain(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  #sent(): void {
    this.#inFlight--;
    if (this.#drained !== null && !this.congested) {
      this.#drained.resolve();
      this.#drained = null;
    }
  }

  /**
   * Sends one frame to the relay; false (and a counted drop) when disconnected or when too
   * many datagrams are in flight.
   */
  sendFrame(frame: Uint8Array): boolean {
    const current = this.#current;
    if (current === null) {
      this.drops.add("relay_down");
      return false;
    }
    if (this.#inFlight >= MAX_IN_FLIGHT) {
      this.drops.add("congested");
      return false;
    }
    const welcome = current.welcome;
    const out = this.#out;
    const length = DATAGRAM_HEADER_LEN + frame.length;
    if (current.reassembler !== null) {
      const datagramMax = Math.min(this.#options.budget ?? 65535, current.conn.maxDatagramSize);
      if (length > datagramMax) return this.#sendInTwo(current, frame, datagramMax);
    }
    writeDatagramHeader(out, welcome.peer_id, this.#sendSeq++, welcome.room_id & 0xffff);
    out.set(frame, DATAGRAM_HEADER_LEN);
    this.counters.framesToRelay++;
    this.#transmit(current, out.subarray(0, length));
    return true;
  }

  /** A frame too big for the connection's datagrams now, as two fragments (fragments.ts). */
  #sendInTwo(current: Connection, frame: Uint8Array, datagramMax: number): boolean {
    if (frame.length > largestFrameInTwo(datagramMax)) {
      this.drops.add("path_too_small");
      return false;
    }
    const welcome = current.welcome;
    const tag = welcome.room_id & 0xffff;
    const parts = splitFrame(frame, this.#out, welcome.peer_id, this.#sendSeq, tag);
    this.#sendSeq += 2;
    this.counters.framesToRelay++;
    this.counters.framesFragmented++;
    for (const part of parts) this.#transmit(current, part);
    return true;
  }

  /** Sends one datagram; sendDatagram copies the bytes, so the buffer is free again at once. */
  #transmit(current: Connection, datagram: Uint8Array): void {
    this.#inFlight++;
    this.counters.bytesToRelay += datagram.length;
    current.conn.sendDatagram(datagram).then(
      () => this.#sent(),
      () => {
        this.#sent();
        this.drops.add("send_failed");
      },
    );
  }

  /** Connects, says hello and returns the connection; throws on failure or a reject. */
  async #join(): Promise<Connection> {
    const relay = this.#options.relay;
    let conn: Deno.QuicConn;
    try {
      // An IPv4 relay needs an IPv4 socket; "::" takes IPv6 and names (IPv4-mapped too).
      this.#endpoint ??= openQuicEndpoint(/^[0-9.]+$/.test(relay.hostname) ? "0.0.0.0" : "::");
      this.#pinHash ??= certificateHash(relay.pin);
      conn = await withTimeout(
        Promise.resolve(Deno.connectQuic({
          ...pinnedConnectOptions(relay, await this.#pinHash),
          endpoint: this.#endpoint,
          ...quicTransport(this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS),
        })),
        CONNECT_TIMEOUT_MS,
        `No answer from the relay at ${addressText(relay)} within 10 s`,
      );
    } catch (err) {
      throw connectError(err, relay);
    }
    conn.closed.catch(() => {});
    try {
      const stream = await conn.createBidirectionalStream();
      const reader = new ControlReader(stream.readable);
      const writer = new ControlWriter(stream.writable);
      // The path sets the datagram size as QUIC learns it; frames that do not fit go in two.
      const budget = this.#options.budget ?? 65535;
      await writer.send({
        v: 1,
        type: "hello",
        role: this.#options.role,
        credential: this.#options.credential,
        mac: formatMac(this.#options.mac),
        budget,
        sw: `netkit/${NETKIT_VERSION}`,
        fragments: true,
        ...(this.#resume === undefined ? {} : { resume: this.#resume }),
      });
      const answer = await withTimeout(
        reader.read(),
        CONNECT_TIMEOUT_MS,
        "The relay did not answer hello within 10 s",
      );
      if (answer === null) throw new NetkitError("The relay closed the control stream");
      if (answer.type === "reject") {
        conn.close({ closeCode: CloseCode.NORMAL, reason: "rejected" });
        throw new RelayRejected(answer.code, answer.reason);
      }
      if (answer.type !== "welcome") {
        throw new ControlProtocolError(`Expected welcome, got ${answer.type}`);
      }
      if (answer.seq !== 1) throw new ControlProtocolError(`welcome has seq ${answer.seq}`);
      this.#resume = answer.resume;
      this.#gatewayPeer = answer.gateway.peer_id ?? null;
      this.#sendSeq = 0;
      this.#sequence.reset();
      log.info(
        "{action} room {room} as peer {peer}: frames up to {frameMax} bytes, gateway {gateway}",
        {
          action: answer.resumed ? "Resumed in" : "Joined",
          room: this.#room,
          peer: answer.peer_id,
          frameMax: answer.frame_max,
          gateway: answer.gateway.present ? "present" : "absent",
        },
      );
      const connection = {
        conn,
        reader,
        writer,
        welcome: answer,
        since: performance.now(),
        reassembler: answer.fragments === true
          ? new FragmentReassembler(answer.frame_max, (reason) => this.#fragmentDropped(reason))
          : null,
      };
      this.#current = connection;
      this.#handlers.welcome(answer);
      return connection;
    } catch (err) {
      conn.close({ closeCode: CloseCode.PROTOCOL_VIOLATION, reason: "handshake" });
      throw err;
    }
  }

  /** Serves connections until closed, reconnecting after each loss. */
  async #run(first: Connection): Promise<void> {
    const backoff = new Backoff();
    let connection: Connection | null = first;
    while (!this.#stop.signal.aborted) {
      if (connection !== null) {
        const reason = await this.#serve(connection);
        this.#current = null;
        if (this.#stop.signal.aborted) return;
        if (performance.now() - connection.since > 60_000) backoff.reset();
        log.warning("Lost the relay: {reason}; reconnecting", { reason });
        this.#handlers.lost(reason);
      }
      await delay(backoff.next(), this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      try {
        connection = await this.#join();
        this.counters.reconnects++;
      } catch (err) {
        if (err instanceof RelayRejected && err.code === "unauthorized") {
          // Revoked, rotated or removed: retrying would only count as an attack.
          log.error("{error}", { error: err.message });
          this.#ended.resolve(err.message);
          return;
        }
        log.info("Reconnect failed: {error}", { error: errorMessage(err) });
        connection = null;
      }
    }
  }

  /** Runs one connection until it ends; returns why. */
  async #serve(connection: Connection): Promise<string> {
    const { conn } = connection;
    const stats = setInterval(
      () => this.#sendStats(connection).catch(() => {}),
      connection.welcome.stats_interval_ms,
    );
    try {
      const ended = await Promise.race([
        this.#controlLoop(connection),
        this.#datagramLoop(connection),
        conn.closed.then(
          (info) => `closed by the relay (code ${info.closeCode}: ${info.reason})`,
          (err) => errorMessage(err),
        ),
      ]);
      try {
        conn.close({ closeCode: CloseCode.PROTOCOL_VIOLATION, reason: "ended" });
      } catch {
        // already closed
      }
      return ended;
    } finally {
      clearInterval(stats);
    }
  }

  async #controlLoop(connection: Connection): Promise<string> {
    let expected = 2;
    try {
      while (true) {
        const message: ControlMessage | null = await connection.reader.read();
        if (message === null) return "the relay ended the control stream";
        if ("seq" in message && typeof message.seq === "number") {
          if (message.seq !== expected) {
            throw new ControlProtocolError(
              `relay message seq ${message.seq}, expected ${expected}`,
            );
          }
          expected++;
        }
        switch (message.type) {
          case "peer_joined":
            if (message.role === "gateway") this.#gatewayPeer = message.peer_id;
            this.#handlers.peerJoined(message);
            break;
          case "peer_left":
            if (message.peer_id === this.#gatewayPeer) this.#gatewayPeer = null;
            this.#handlers.peerLeft(message);
            break;
          case "stats_request":
            await this.#sendStats(connection, message.id);
            break;
          case "disconnect":
            return `the relay disconnected us (${message.reason}): ${message.text}`;
          case "error":
            log.warning("Relay error {code}: {text}", { code: message.code, text: message.text });
            if (message.fatal) return `relay error ${message.code}`;
            break;
          case "ping":
            await connection.writer.send({
              v: 1,
              type: "pong",
              nonce: message.nonce,
              t: message.t,
            });
            break;
          default:
            break;
        }
      }
    } catch (err) {
      if (this.#stop.signal.aborted) return "closing";
      if (err instanceof ControlProtocolError) {
        try {
          connection.conn.close({
            closeCode: CloseCode.PROTOCOL_VIOLATION,
            reason: err.message.slice(0, 100),
          });
        } catch {
          // already closed
        }
        return `protocol violation: ${err.message}`;
      }
      return errorMessage(err);
    }
  }

  async #datagramLoop(connection: Connection): Promise<string> {
    const { conn, welcome, reassembler } = connection;
    const tag = welcome.room_id & 0xffff;
    const counters = this.counters;
    while (true) {
      let datagram: Uint8Array;
      try {
        datagram = await conn.readDatagram();
      } catch (err) {
        return errorMessage(err);
      }
      counters.datagramsIn++;
      counters.bytesFromRelay += datagram.length;
      // A fragment counts in the sequence as it comes; the frame it completes does not again.
      let joined = false;
      if (reassembler !== null && datagramKind(datagram) === DatagramKind.FRAGMENT) {
        const malformed = checkFragment(datagram, tag, welcome.frame_max, -1);
        if (malformed !== null) {
          counters.malformed++;
          this.drops.add(malformed);
          continue;
        }
        this.#sequence.observe(datagramSequence(datagram));
        const whole = reassembler.accept(datagram, performance.now());
        if (whole === null) continue;
        counters.fragmentsReassembled++;
        datagram = whole;
        joined = true;
      }
      const malformed = checkDatagram(datagram, tag, welcome.frame_max, -1);
      if (malformed !== null) {
        counters.malformed++;
        this.drops.add(malformed);
        continue;
      }
      if (!joined) this.#sequence.observe(datagramSequence(datagram));
      counters.framesFromRelay++;
      this.#handlers.frame(datagramFrame(datagram), datagramSourcePeer(datagram));
    }
  }

  /** A fragment the reassembler gave up on; halves that add up to a lie are malformed. */
  #fragmentDropped(reason: FragmentDropReason): void {
    if (reason === "fragment_oversize") this.counters.malformed++;
    this.drops.add(reason);
  }

  /** Sends `stats`; `id` when it answers a `stats_request`. */
  #sendStats(connection: Connection, id?: number): Promise<void> {
    const c = this.counters;
    return connection.writer.send({
      v: 1,
      type: "stats",
      ...(id === undefined ? {} : { id }),
      frames_to_relay: c.framesToRelay,
      frames_from_relay: c.framesFromRelay,
      datagrams_in: c.datagramsIn,
      bytes_to_relay: c.bytesToRelay,
      bytes_from_relay: c.bytesFromRelay,
      malformed: c.malformed,
      seq_gaps: this.#sequence.gaps,
      dropped: this.drops.toJSON(),
      frames_fragmented: c.framesFragmented,
      fragments_reassembled: c.fragmentsReassembled,
      ...(this.ownerCounters === null ? {} : { counters: numericFields(this.ownerCounters) }),
    });
  }

  /**
   * Leaves: final stats, `disconnect` with the reason, a short drain, then close. Safe to
   * call twice.
   */
  close(
    reason: DisconnectReason = "shutdown",
    text = "shutting down",
  ): Promise<void> {
    this.#closing ??= this.#close(reason, text);
    return this.#closing;
  }

  async #close(reason: DisconnectReason, text: string): Promise<void> {
    this.#stop.abort();
    const current = this.#current;
    if (current !== null) await this.#leave(current, reason, text);
    // Not connected: a connect in progress (to a relay that does not answer, it would wait 10 s)
    // ends now with the endpoint, so closing never waits for it.
    else this.#endpoint?.close();
    await this.#running;
    // A reconnect under way when close() was called may have been admitted since: leave it too.
    const late = this.#current;
    if (late !== null && late !== current) await this.#leave(late, reason, text);
    this.#current = null;
    this.#endpoint?.close();
  }

  /** Final stats, `disconnect`, a short drain, then close. */
  async #leave(
    current: Connection,
    reason: DisconnectReason,
    text: string,
  ): Promise<void> {
    try {
      await withTimeout(
        (async () => {
          await this.#sendStats(current);
          await current.writer.send({ v: 1, type: "disconnect", reason, text });
          await current.writer.close();
          await current.conn.closed;
        })(),
        DRAIN_MS,
        "drain",
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) {
        log.debug("Disconnect: {error}", { error: errorMessage(err) });
      }
    }
    try {
      current.conn.close({ closeCode: CloseCode.NORMAL, reason });
    } catch {
      // already closed
    }
  }

  /** Same as {@linkcode RelaySession.close} with its defaults, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * How to reach `relay` and trust it: exactly the certificate whose SHA-256 is `pinHash`
 * ({@linkcode certificateHash} of `relay.pin`). `serverCertificateHashes` is not in Deno's types
 * for `connectQuic`, but it is honoured: rustls then asks no certificate store (Mozilla's, the
 * system's, `DENO_CERT`) at all.
 */
export function pinnedConnectOptions(
  relay: RelayAddress,
  pinHash: ArrayBuffer,
): Deno.ConnectQuicOptions<false> {
  return {
    hostname: relay.hostname,
    port: relay.port,
    serverName: relay.serverName,
    alpnProtocols: [ALPN],
    serverCertificateHashes: [{ algorithm: "sha-256", value: pinHash }],
  } as Deno.ConnectQuicOptions<false>;
}

/** The relay refused the hello. */
export class RelayRejected extends NetkitError {
  /** Always `"RelayRejected"`, so logs and `String(err)` name the class. */
  override name = "RelayRejected";
  /** The reject code, for deciding whether to retry (`unauthorized` ends the peer). */
  readonly code: RejectCode;

  /** The error for a `reject` with `code` and `reason`; the message says what to do. */
  constructor(code: RejectCode, reason: string) {
    super(
      code === "unauthorized"
        ? `The relay refused our credential (${reason}): ask its operator for a new one`
        : `The relay rejected us (${code}): ${reason}`,
    );
    this.code = code;
  }
}

/** The numeric fields of `counters`, named in snake_case (`lanFrames` → `lan_frames`). */
export function numericFields(counters: object): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const [name, value] of Object.entries(counters)) {
    if (typeof value === "number") fields[snakeCase(name)] = value;
  }
  return fields;
}

function addressText(relay: RelayAddress): string {
  return relay.hostname.includes(":")
    ? `[${relay.hostname}]:${relay.port}`
    : `${relay.hostname}:${relay.port}`;
}

/** A connection failure, explained: certificate problems name the options to check. */
function connectError(err: unknown, relay: RelayAddress): Error {
  if (err instanceof NetkitError || err instanceof TimeoutError) {
    return err instanceof NetkitError ? err : new NetkitError(err.message);
  }
  const text = errorMessage(err);
  if (/certificate|BadSignature|UnknownIssuer/i.test(text)) {
    return new NetkitError(
      `The relay at ${
        addressText(relay)
      } does not present the pinned certificate (${text}): check --relay-cert`,
    );
  }
  if (/peer doesn't support any known protocol/i.test(text)) {
    return new NetkitError(
      `The relay at ${addressText(relay)} does not speak ${ALPN} (${text})`,
    );
  }
  return new NetkitError(`Cannot connect to the relay at ${addressText(relay)}: ${text}`);
}
