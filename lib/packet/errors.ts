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

/**
 * What a total decoder returns: the decoded value, or, for bytes that do not form one, the
 * {@linkcode MalformedPacketError} saying why, returned and never thrown. A receive path that
 * sees strangers' frames checks with {@linkcode isMalformed} and counts `reason`, with no
 * exception on the hot path.
 */
export type Decoded<T> = T | MalformedPacketError;

/** Whether a total decoder's result is a refusal rather than a value. */
export function isMalformed<T>(result: Decoded<T>): result is MalformedPacketError {
  return result instanceof MalformedPacketError;
}

/**
 * Runs a decoder that throws {@linkcode MalformedPacketError} (the older codecs: Ethernet, IPv4,
 * UDP) and returns its refusal instead, so a total decoder can build on it. Any other error is a
 * bug and still propagates.
 *
 * @example
 * ```ts
 * import { catchMalformed, decodeEthernet, isMalformed } from "./mod.ts";
 *
 * const result = catchMalformed(() => decodeEthernet(new Uint8Array(10)));
 * isMalformed(result) && result.reason; // "runt"
 * ```
 */
export function catchMalformed<T>(decode: () => T): Decoded<T> {
  try {
    return decode();
  } catch (err) {
    if (err instanceof MalformedPacketError) return err;
    throw err;
  }
}
