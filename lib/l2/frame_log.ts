/**
 * The per-frame debug record every L2 component writes: where the frame was (interface or
 * room), which way it went, the peer, the MACs, EtherType, length, and what was done with it.
 * Callers check the debug level once, not per frame.
 *
 * @module
 */

import { ETH_HEADER_LEN } from "../packet/ethernet.ts";
import { formatMac } from "../packet/mac.ts";

/** One frame's record. */
export interface FrameRecord {
  /** Interface (gateway, client) or room (relay). */
  where: string;
  /** e.g. `lan_to_relay`, `relay_to_tap`, `from_peer`. */
  direction: string;
  /** The peer the frame came from or goes to, when known. */
  peer: number | null;
  /** The whole Ethernet frame; only its header is logged, and only when it has a whole one. */
  frame: Uint8Array;
  /** Whether the frame was passed on or dropped. */
  action: "forward" | "drop";
  /** Why it was dropped (a drop reason counter's key), or `null` when forwarded. */
  reason: string | null;
}

/**
 * The one logger method {@linkcode logFrame} needs. A LogTape `Logger` is one; naming only this
 * keeps the logging library out of this module's public types.
 */
export interface DebugLogger {
  /** Logs `message` at debug level, its `{placeholders}` filled from `properties`. */
  debug(message: string, properties: Record<string, unknown>): void;
}

/** Logs `record` at debug level. */
export function logFrame(log: DebugLogger, record: FrameRecord): void {
  const { frame } = record;
  const whole = frame.length >= ETH_HEADER_LEN;
  log.debug(
    "{where} {direction} peer {peer}: {src} > {dst} type {ethertype} len {length}: {action}{why}",
    {
      where: record.where,
      direction: record.direction,
      peer: record.peer,
      src: whole ? formatMac(frame, 6) : null,
      dst: whole ? formatMac(frame, 0) : null,
      ethertype: whole
        ? `0x${((frame[12]! << 8) | frame[13]!).toString(16).padStart(4, "0")}`
        : null,
      length: frame.length,
      action: record.action,
      reason: record.reason,
      why: record.reason === null ? "" : ` (${record.reason})`,
    },
  );
}
