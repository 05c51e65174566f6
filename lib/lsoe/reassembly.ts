/**
 * Reassembly of LSoE PDUs from their datagrams, per source MAC, with the reassembly timeout,
 * lsoed's MAC-to-interface binding, and hard caps on what strangers can make us hold.
 *
 * Times are milliseconds on a monotonic clock the caller passes in; nothing here reads a clock,
 * so tests drive it with plain numbers.
 *
 * @example A PDU in two datagrams, out of order
 * ```ts
 * import { DEFAULT_REASSEMBLY_LIMITS, Reassembler } from "./reassembly.ts";
 *
 * const reassembler = new Reassembler(DEFAULT_REASSEMBLY_LIMITS);
 * const mac = new Uint8Array([0x02, 0, 0, 0, 0, 1]);
 * reassembler.accept(0, 2, mac, { number: 1, last: true, chunk: new Uint8Array([3]) }).kind;
 * // "partial"
 * const result = reassembler.accept(5, 2, mac, { number: 0, last: false, chunk: new Uint8Array([1, 2]) });
 * result.kind === "pdu" && result.bytes; // Uint8Array [1, 2, 3]
 * ```
 *
 * @module
 */

import { bytesEqual } from "../packet/bytes.ts";
import { macKey } from "../packet/mac.ts";
import { type Datagram, MAX_DATAGRAMS, MAX_PDU_LEN } from "../packet/lsoe.ts";
import { DEFAULT_MAC_CACHE_TIMEOUT_MS, DEFAULT_REASSEMBLY_TIMEOUT_MS } from "./timers.ts";

/** What the reassembler keeps, and for how long. */
export interface ReassemblyLimits {
  /** `reassembly-timeout`: a partial PDU is dropped this long after its first datagram. */
  timeoutMs: number;
  /** `mac-address-cache-timeout`: a MAC stays bound to its interface this long after its last datagram. */
  macCacheTimeoutMs: number;
  /** Sources with a partial PDU at once. */
  maxPartialPdus: number;
  /** Bytes held across all partial PDUs. */
  maxPartialBytes: number;
  /**
   * MAC bindings kept at once (default 65,536): beyond, the least recently seen is forgotten,
   * so a flood of forged source MACs costs bounded memory.
   */
  maxMacBindings?: number;
}

/** lsoed's timeouts, and caps far above what a fabric's neighbours need. */
export const DEFAULT_REASSEMBLY_LIMITS: Readonly<ReassemblyLimits> = Object.freeze({
  timeoutMs: DEFAULT_REASSEMBLY_TIMEOUT_MS,
  macCacheTimeoutMs: DEFAULT_MAC_CACHE_TIMEOUT_MS,
  maxPartialPdus: 1024,
  maxPartialBytes: 8 * 1024 * 1024,
  maxMacBindings: 65_536,
});

/** What {@linkcode Reassembler.accept} made of a datagram. */
export type ReassemblyResult =
  /** A complete PDU's bytes, for `decodePdu`. */
  | { kind: "pdu"; bytes: Uint8Array }
  /** Kept, waiting for more. */
  | { kind: "partial" }
  /**
   * Refused: `"mac_on_other_interface"`, `"duplicate_fragment"`, `"fragment_out_of_range"`,
   * `"too_many_partials"`, `"too_many_partial_bytes"`, `"pdu_too_long"`.
   */
  | { kind: "drop"; reason: string };

/** Where a source MAC was last seen. */
interface MacBinding {
  ifindex: number;
  seen: number;
}

/** The datagrams of one source's PDU received so far. */
interface PartialPdu {
  ifindex: number;
  /** When its first datagram arrived: it expires timeoutMs later, however many follow. */
  started: number;
  /** Copies of the chunks, by datagram number. */
  chunks: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  /** The number of the datagram flagged last, or -1 until it arrives. */
  lastNumber: number;
}

const PARTIAL: ReassemblyResult = Object.freeze({ kind: "partial" });

/** Frozen drop results, one per reason, so a flood of refusals allocates nothing. */
const DROPS: Readonly<Record<string, ReassemblyResult>> = Object.freeze(
  Object.fromEntries(
    [
      "mac_on_other_interface",
      "duplicate_fragment",
      "fragment_out_of_range",
      "too_many_partials",
      "too_many_partial_bytes",
      "pdu_too_long",
    ].map((reason) => [reason, Object.freeze({ kind: "drop", reason } as const)]),
  ),
);

/**
 * Reassembles PDUs per source MAC. Both maps are kept in time order (a binding is moved to the
 * end when seen; a partial PDU is added when it starts), so expiry and the next deadline look
 * only at the front.
 */
export class Reassembler {
  readonly #limits: Required<ReassemblyLimits>;
  readonly #macs = new Map<number, MacBinding>();
  readonly #partials = new Map<number, PartialPdu>();
  #partialBytes = 0;

  /** A reassembler holding nothing yet. */
  constructor(limits: ReassemblyLimits) {
    this.#limits = { maxMacBindings: DEFAULT_REASSEMBLY_LIMITS.maxMacBindings!, ...limits };
  }

  /**
   * One decoded datagram from `sourceMac` (6 bytes) on `ifindex` at `now`. A single-datagram PDU
   * (number 0, last) returns at once without copying when possible. A MAC bound to another
   * interface within macCacheTimeoutMs is dropped (lsoed's intent, without its crash).
   *
   * Datagrams of a source's PDU may come in any order; a repeated number with the same bytes is
   * a `"duplicate_fragment"`, with other bytes it means the sender started another PDU, so the
   * stale partial one is replaced.
   */
  accept(
    now: number,
    ifindex: number,
    sourceMac: Uint8Array,
    datagram: Datagram,
  ): ReassemblyResult {
    const key = macKey(sourceMac);
    if (!this.#bind(now, ifindex, key)) return DROPS.mac_on_other_interface!;
    const { number, last, chunk } = datagram;
    if (number === 0 && last) return { kind: "pdu", bytes: chunk };
    if (number >= MAX_DATAGRAMS || (number === MAX_DATAGRAMS - 1 && !last)) {
      return DROPS.fragment_out_of_range!; // no datagram after 127 can ever end this PDU
    }

    let partial = this.#partials.get(key);
    const held = partial?.chunks[number];
    if (partial && held) {
      if (bytesEqual(held, chunk)) return DROPS.duplicate_fragment!;
      this.#discard(key, partial);
      partial = undefined;
    }
    if (
      partial &&
      ((partial.lastNumber >= 0 && number > partial.lastNumber) ||
        (last && partial.chunks.length > number + 1))
    ) {
      return DROPS.fragment_out_of_range!;
    }
    if (partial && partial.bytes + chunk.length > MAX_PDU_LEN) {
      this.#discard(key, partial);
      return DROPS.pdu_too_long!;
    }
    if (this.#partialBytes + chunk.length > this.#limits.maxPartialBytes) {
      return DROPS.too_many_partial_bytes!;
    }
    if (!partial) {
      if (this.#partials.size >= this.#limits.maxPartialPdus) return DROPS.too_many_partials!;
      partial = { ifindex, started: now, chunks: [], received: 0, bytes: 0, lastNumber: -1 };
      this.#partials.set(key, partial);
    }

    partial.chunks[number] = chunk.slice(); // the caller's buffer is reused for the next frame
    partial.received++;
    partial.bytes += chunk.length;
    this.#partialBytes += chunk.length;
    if (last) partial.lastNumber = number;
    if (partial.received !== partial.lastNumber + 1) return PARTIAL;

    this.#discard(key, partial);
    const bytes = new Uint8Array(partial.bytes);
    let offset = 0;
    for (const part of partial.chunks) {
      bytes.set(part!, offset);
      offset += part!.length;
    }
    return { kind: "pdu", bytes };
  }

  /**
   * Drops partial PDUs older than timeoutMs and MAC bindings older than macCacheTimeoutMs;
   * returns how many partial PDUs timed out (counted as "reassembly_timeout").
   */
  expire(now: number): number {
    let timedOut = 0;
    for (const [key, partial] of this.#partials) {
      if (now < partial.started + this.#limits.timeoutMs) break;
      this.#discard(key, partial);
      timedOut++;
    }
    for (const [key, binding] of this.#macs) {
      if (now < binding.seen + this.#limits.macCacheTimeoutMs) break;
      this.#macs.delete(key);
    }
    return timedOut;
  }

  /** Forget everything learnt on an interface (it went down or away). */
  forgetInterface(ifindex: number): void {
    for (const [key, partial] of this.#partials) {
      if (partial.ifindex === ifindex) this.#discard(key, partial);
    }
    for (const [key, binding] of this.#macs) {
      if (binding.ifindex === ifindex) this.#macs.delete(key);
    }
  }

  /** Earliest time expire() has work, or null. */
  nextDeadline(): number | null {
    const partial = this.#partials.values().next();
    const binding = this.#macs.values().next();
    const partialDeadline = partial.done
      ? Infinity
      : partial.value.started + this.#limits.timeoutMs;
    const bindingDeadline = binding.done
      ? Infinity
      : binding.value.seen + this.#limits.macCacheTimeoutMs;
    const deadline = Math.min(partialDeadline, bindingDeadline);
    return deadline === Infinity ? null : deadline;
  }

  /** Partial PDUs held now, and their bytes (for STATUS counters and tests). */
  get held(): { partials: number; bytes: number; macs: number } {
    return { partials: this.#partials.size, bytes: this.#partialBytes, macs: this.#macs.size };
  }

  /**
   * Binds `key` to `ifindex` (refreshing it) unless it is bound to another interface and not yet
   * expired; an expired binding moves, and any partial PDU from the old interface goes with it.
   */
  #bind(now: number, ifindex: number, key: number): boolean {
    const binding = this.#macs.get(key);
    if (binding) {
      if (binding.ifindex !== ifindex) {
        if (now < binding.seen + this.#limits.macCacheTimeoutMs) return false;
        binding.ifindex = ifindex;
        const partial = this.#partials.get(key);
        if (partial) this.#discard(key, partial);
      }
      binding.seen = now;
      this.#macs.delete(key); // re-inserted at the end: the map stays least recently seen first
      this.#macs.set(key, binding);
      return true;
    }
    if (this.#macs.size >= this.#limits.maxMacBindings) {
      const oldest = this.#macs.keys().next();
      if (!oldest.done) this.#macs.delete(oldest.value);
    }
    this.#macs.set(key, { ifindex, seen: now });
    return true;
  }

  /** Forgets one source's partial PDU and releases its bytes. */
  #discard(key: number, partial: PartialPdu): void {
    this.#partials.delete(key);
    this.#partialBytes -= partial.bytes;
  }
}
