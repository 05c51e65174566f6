/**
 * The error packet decoders throw when bytes on the wire do not form what they claim to be.
 *
 * @module
 */

/**
 * A frame, packet or capture file that cannot be decoded. `reason` is short and stable, for
 * counters and JSON output (e.g. `"runt"`, `"truncated_vlan_tag"`); `message` is for people.
 *
 * @example Count drops by reason
 * ```ts
 * import { decodeEthernet, MalformedPacketError } from "./mod.ts";
 *
 * const drops = new Map<string, number>();
 * try {
 *   decodeEthernet(new Uint8Array(10));
 * } catch (err) {
 *   if (!(err instanceof MalformedPacketError)) throw err;
 *   drops.set(err.reason, (drops.get(err.reason) ?? 0) + 1);
 * }
 * ```
 */
export class MalformedPacketError extends Error {
  /** Always `"MalformedPacketError"`, so logs and `String(err)` name the class. */
  override name = "MalformedPacketError";
  /** Machine-friendly snake_case reason, e.g. `"runt"`. */
  readonly reason: string;

  /** Creates the error with a stable `reason` and a human `message`. */
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}
