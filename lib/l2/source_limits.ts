/**
 * What the relay lets one source address, and everyone together, hold: connections, handshakes
 * under way, and failed authentications per minute. Pure: the clock is passed in.
 *
 * Two checks, because Deno's `QuicIncoming` cannot tell the relay who is calling without
 * becoming unusable (reading `remoteAddr` takes the resource: `accept()` then fails, Deno
 * 2.9.6): {@linkcode SourceLimits.open} applies the totals before the TLS handshake (a refused
 * QUIC Initial costs nothing), {@linkcode SourceLimits.attach} the per-source limits as soon as
 * the handshake gives the address, before the peer may say anything.
 *
 * A source is an IPv4 address or an IPv6 /64 (one subscriber usually holds a whole /64), and
 * the table of sources is bounded: a source holding nothing is forgotten once its failure budget
 * has refilled, and the oldest such entry gives way when the table is full.
 *
 * @module
 */

import { parseIpv6 } from "../packet/ipv6.ts";
import { TokenBucket } from "./token_bucket.ts";

/** The limits, each configurable (`netkit relay --max-...`). */
export interface SourceLimitsOptions {
  /** Connections (admitted or in handshake) in total. */
  maxConnections: number;
  /** Connections per source. */
  maxConnectionsPerSource: number;
  /** Handshakes under way (before the relay answered hello) in total. */
  maxHandshakes: number;
  /** Handshakes under way per source. */
  maxHandshakesPerSource: number;
  /** Failed authentications a source may make per minute (also its burst). */
  authFailuresPerMinute: number;
  /** Most sources tracked at once. */
  maxSources?: number;
}

/** Why a connection attempt was refused before its handshake. */
export type RefuseReason =
  | "connections"
  | "connections_per_source"
  | "handshakes"
  | "handshakes_per_source"
  | "auth_failures"
  | "sources";

interface Source {
  connections: number;
  handshakes: number;
  failures: TokenBucket;
  /** Whether a failure was counted since the bucket was last full. */
  failed: boolean;
  lastFailure: number;
}

const DEFAULT_MAX_SOURCES = 65536;
const MINUTE_MS = 60_000;

/** The source key of an address as `Deno.NetAddr.hostname` gives it. */
export function sourceKey(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  let bytes: Uint8Array;
  try {
    bytes = parseIpv6(hostname);
  } catch {
    return hostname;
  }
  // An IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.subarray(12).join(".");
  }
  const hextets: string[] = [];
  for (let i = 0; i < 8; i += 2) hextets.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${hextets.join(":")}::/64`;
}

/** Connection, handshake and authentication-failure accounting per source. */
export class SourceLimits {
  readonly #options: Required<SourceLimitsOptions>;
  readonly #sources = new Map<string, Source>();
  #connections = 0;
  #handshakes = 0;

  /** Limits with nothing held yet; `maxSources` defaults to 65,536. */
  constructor(options: SourceLimitsOptions) {
    this.#options = { maxSources: DEFAULT_MAX_SOURCES, ...options };
  }

  /** Connections held now (admitted or in handshake). */
  get connections(): number {
    return this.#connections;
  }

  /** Handshakes under way now. */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Sources tracked now. */
  get sources(): number {
    return this.#sources.size;
  }

  /**
   * Whether one more connection may start its handshake: null, and it counts as a connection
   * and a handshake until {@linkcode handshakeDone} and {@linkcode closed}; otherwise which
   * total it would exceed, and nothing is counted.
   */
  open(): "connections" | "handshakes" | null {
    if (this.#connections >= this.#options.maxConnections) return "connections";
    if (this.#handshakes >= this.#options.maxHandshakes) return "handshakes";
    this.#connections++;
    this.#handshakes++;
    return null;
  }

  /**
   * Charges an opened connection to `source`: null, or why that source may not have it (the
   * caller closes it; it still counts in the totals until {@linkcode closed}).
   */
  attach(source: string, now: number): RefuseReason | null {
    const o = this.#options;
    const entry = this.#sources.get(source);
    if (entry !== undefined && entry.failed && !entry.failures.holds(1, now)) {
      return "auth_failures";
    }
    if ((entry?.connections ?? 0) >= o.maxConnectionsPerSource) return "connections_per_source";
    if ((entry?.handshakes ?? 0) >= o.maxHandshakesPerSource) return "handshakes_per_source";
    const held = entry ?? this.#add(source, now);
    if (held === null) return "sources";
    held.connections++;
    held.handshakes++;
    return null;
  }

  /** The handshake of an opened connection ended; `source` if it was attached. */
  handshakeDone(source: string | null): void {
    this.#handshakes--;
    const entry = source === null ? undefined : this.#sources.get(source);
    if (entry !== undefined && entry.handshakes > 0) entry.handshakes--;
  }

  /** An opened connection closed; `source` if it was attached. */
  closed(source: string | null, now: number): void {
    this.#connections--;
    const entry = source === null ? undefined : this.#sources.get(source);
    if (entry === undefined || entry.connections === 0) return;
    entry.connections--;
    this.#forgetIfIdle(source!, entry, now);
  }

  /**
   * `source` presented a bad credential (or no hello); past its budget it is refused until it
   * refills. True for its first failure in a minute: the one worth a warning.
   */
  authFailed(source: string, now: number): boolean {
    const entry = this.#sources.get(source);
    if (entry === undefined) return false;
    const first = !entry.failed || now - entry.lastFailure >= MINUTE_MS;
    entry.failures.take(1, now);
    entry.failed = true;
    entry.lastFailure = now;
    return first;
  }

  /**
   * Forgets every source that holds nothing and has no failure in the last minute: what a
   * source's last close left behind once its failures are old. The relay calls it every second.
   */
  sweep(now: number): void {
    for (const [key, entry] of this.#sources) this.#forgetIfIdle(key, entry, now);
  }

  #add(source: string, now: number): Source | null {
    if (this.#sources.size >= this.#options.maxSources) {
      // Make room from the oldest entries holding nothing (Map keeps insertion order), and of
      // those, one without a recent failure first: evicting a failure would forgive it.
      let idle: string | null = null;
      for (const [key, entry] of this.#sources) {
        if (entry.connections > 0 || entry.handshakes > 0) continue;
        if (!entry.failed || now - entry.lastFailure >= MINUTE_MS) {
          idle = key;
          break;
        }
        idle ??= key;
      }
      if (idle === null) return null;
      this.#sources.delete(idle);
    }
    const perMinute = this.#options.authFailuresPerMinute;
    const entry: Source = {
      connections: 0,
      handshakes: 0,
      failures: new TokenBucket(perMinute / 60, perMinute, now),
      failed: false,
      lastFailure: 0,
    };
    this.#sources.set(source, entry);
    return entry;
  }

  /** Drops a source holding nothing whose failure budget has surely refilled. */
  #forgetIfIdle(source: string, entry: Source, now: number): void {
    if (entry.connections > 0 || entry.handshakes > 0) return;
    if (entry.failed && now - entry.lastFailure < MINUTE_MS) return;
    this.#sources.delete(source);
  }
}
