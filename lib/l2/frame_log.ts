/**
 * The per-frame debug record every L2 component writes: where the frame was (interface or
 * room), which way it went, the peer, the MACs, EtherType, length, and what was done with it.
 * Callers check the debug level once, not per frame.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
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
  frame: Uint8Array;
  action: "forward" | "drop";
  reason: string | null;
}

/** Logs `record` at debug level. */
export function logFrame(log: Logger, record: FrameRecord): void {
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
