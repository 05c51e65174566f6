/**
 * The gateway's table of remote MACs: the addresses of clients on the tunnel side, learned from
 * the relay's `welcome` and `peer_joined` messages. The gateway forwards a LAN frame to the
 * relay only when its destination is in this table (or is a group address), and refreshes the
 * LAN switches' CAM entries for every MAC in it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMac } from "../packet/mac.ts";
 * import { RemoteMacTable } from "./mac_table.ts";
 *
 * const table = new RemoteMacTable();
 * table.add(7, parseMac("02:00:00:00:00:07"), performance.now());
 * const frame = new Uint8Array(60); // a frame to 02:00:00:00:00:07
 * frame.set(parseMac("02:00:00:00:00:07"), 0);
 * assert.ok(table.has(frame, 0)); // the destination is a client: send it to the relay
 * table.removePeer(7);
 * ```
 *
 * @module
 */

import { MAC_LEN, macKey } from "../packet/mac.ts";

/** One remote MAC and the peer behind it. */
export interface RemoteMacEntry {
  /** The relay's id of the peer that owns the MAC. */
  readonly peerId: number;
  /** The MAC address (6 bytes, the table's own copy). */
  readonly mac: Uint8Array;
  /** When the MAC was added or last touched, in ms on the caller's clock. */
  lastSeen: number;
}

/** Remote (tunnel-side) MACs keyed by {@linkcode macKey}, each owned by one peer. */
export class RemoteMacTable {
  readonly #entries = new Map<number, RemoteMacEntry>();

  /** How many MACs the table holds. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds `mac` (6 bytes, copied) for `peerId`, or moves it to `peerId` if another peer held it,
   * as after a client reconnects under a new peer id. Throws a `RangeError` if `mac` is not 6
   * bytes.
   */
  add(peerId: number, mac: Uint8Array, now: number): void {
    if (mac.length !== MAC_LEN) {
      throw new RangeError(`Invalid MAC address: expected ${MAC_LEN} bytes, got ${mac.length}`);
    }
    this.#entries.set(macKey(mac), { peerId, mac: mac.slice(), lastSeen: now });
  }

  /** Removes every MAC of `peerId` and returns how many there were. */
  removePeer(peerId: number): number {
    let removed = 0;
    // Deleting the current entry while iterating a Map is well defined.
    for (const [key, entry] of this.#entries) {
      if (entry.peerId === peerId) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Whether the 6 bytes at `offset` in `bytes` (such as a frame's destination at 0) are a remote
   * MAC. Allocation-free and never throws: an address past the end is simply not found.
   */
  has(bytes: Uint8Array, offset: number): boolean {
    if (offset >>> 0 !== offset || offset + MAC_LEN > bytes.length) return false;
    return this.#entries.has(macKey(bytes, offset));
  }

  /**
   * Sets `lastSeen` of the MAC at `offset` in `bytes` (such as a frame's source at 6) to `now`,
   * and says whether the MAC was in the table. Allocation-free and never throws.
   */
  touch(bytes: Uint8Array, offset: number, now: number): boolean {
    if (offset >>> 0 !== offset || offset + MAC_LEN > bytes.length) return false;
    const entry = this.#entries.get(macKey(bytes, offset));
    if (entry === undefined) return false;
    entry.lastSeen = now;
    return true;
  }

  /** Every entry, for CAM refresh and status output; do not add or remove while iterating. */
  entries(): IterableIterator<RemoteMacEntry> {
    return this.#entries.values();
  }

  /** Removes every MAC. */
  clear(): void {
    this.#entries.clear();
  }
}
