/**
 * DHCP Unique Identifiers (RFC 8415 section 11, RFC 6355): DUID-LLT, DUID-EN, DUID-LL and
 * DUID-UUID, as DHCPv6 clients and servers name themselves. Inside messages a DUID stays bytes (a
 * server compares them as bytes); {@linkcode decodeDuid} reads one, total as the other decoders.
 *
 * @example
 * ```ts
 * import { decodeDuid, formatMac, generateDuidLl, isMalformed, parseMac } from "./mod.ts";
 *
 * const duid = decodeDuid(generateDuidLl(parseMac("52:54:00:12:34:01")));
 * if (!isMalformed(duid) && duid.kind === "ll") formatMac(duid.linkLayerAddress); // "52:54:00:12:34:01"
 * ```
 *
 * @module
 */

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { type Decoded, MalformedPacketError } from "./errors.ts";
import { checkUint } from "./field_checks.ts";
import { MAC_LEN } from "./mac.ts";

/** DUID types (RFC 8415 section 11, RFC 6355). */
export const DuidType = {
  /** Link-layer address plus time. */
  LLT: 1,
  /** Enterprise number plus identifier. */
  EN: 2,
  /** Link-layer address. */
  LL: 3,
  /** UUID (RFC 6355). */
  UUID: 4,
} as const;

/** A DUID-LLT (1): hardware type, time and link-layer address. */
export interface DuidLlt {
  /** Always `"llt"`. */
  kind: "llt";
  /** IANA hardware type; 1 is Ethernet. */
  hardwareType: number;
  /** Seconds since 2000-01-01 00:00 UTC, modulo 2^32. */
  time: number;
  /** The link-layer address. */
  linkLayerAddress: Uint8Array;
}

/** A DUID-EN (2): enterprise number and an identifier it assigns. */
export interface DuidEn {
  /** Always `"en"`. */
  kind: "en";
  /** IANA private enterprise number. */
  enterpriseNumber: number;
  /** The identifier, at least one byte. */
  identifier: Uint8Array;
}

/** A DUID-LL (3): hardware type and link-layer address. */
export interface DuidLl {
  /** Always `"ll"`. */
  kind: "ll";
  /** IANA hardware type; 1 is Ethernet. */
  hardwareType: number;
  /** The link-layer address. */
  linkLayerAddress: Uint8Array;
}

/** A DUID-UUID (4, RFC 6355). */
export interface DuidUuid {
  /** Always `"uuid"`. */
  kind: "uuid";
  /** The 16-byte UUID. */
  uuid: Uint8Array;
}

/** A DUID of another type. */
export interface RawDuid {
  /** Always `"raw"`. */
  kind: "raw";
  /** DUID type, 16 bits. */
  type: number;
  /** The bytes after the type. */
  data: Uint8Array;
}

/** A decoded DUID. */
export type Duid = DuidLlt | DuidEn | DuidLl | DuidUuid | RawDuid;

/** The shortest DUID: its 2-byte type alone. */
export const MIN_DUID_LEN = 2;
/** The longest DUID (RFC 8415 section 11.1): 128 bytes after the 2-byte type. */
export const MAX_DUID_LEN = 130;

const HARDWARE_TYPE_ETHERNET = 1;

/**
 * Encodes a DUID. Throws a `RangeError` for a field out of range or a DUID longer than 130
 * bytes (RFC 8415 section 11.1).
 *
 * @example A DUID-LLT for an Ethernet interface
 * ```ts
 * import { encodeDuid, parseMac } from "./mod.ts";
 *
 * encodeDuid({
 *   kind: "llt",
 *   hardwareType: 1,
 *   time: 0x2c5a1b00,
 *   linkLayerAddress: parseMac("52:54:00:12:34:01"),
 * }).length; // 14
 * ```
 */
export function encodeDuid(duid: Duid): Uint8Array<ArrayBuffer> {
  let out: Uint8Array<ArrayBuffer>;
  switch (duid.kind) {
    case "llt":
      checkUint(duid.hardwareType, 0xffff, "DUID hardware type");
      checkUint(duid.time, 0xffff_ffff, "DUID time");
      out = new Uint8Array(8 + duid.linkLayerAddress.length);
      setU16(out, 0, DuidType.LLT);
      setU16(out, 2, duid.hardwareType);
      setU32(out, 4, duid.time);
      out.set(duid.linkLayerAddress, 8);
      break;
    case "en":
      checkUint(duid.enterpriseNumber, 0xffff_ffff, "DUID enterprise number");
      out = new Uint8Array(6 + duid.identifier.length);
      setU16(out, 0, DuidType.EN);
      setU32(out, 2, duid.enterpriseNumber);
      out.set(duid.identifier, 6);
      break;
    case "ll":
      checkUint(duid.hardwareType, 0xffff, "DUID hardware type");
      out = new Uint8Array(4 + duid.linkLayerAddress.length);
      setU16(out, 0, DuidType.LL);
      setU16(out, 2, duid.hardwareType);
      out.set(duid.linkLayerAddress, 4);
      break;
    case "uuid":
      if (duid.uuid.length !== 16) {
        throw new RangeError(`Invalid DUID-UUID: expected 16 bytes, got ${duid.uuid.length}`);
      }
      out = new Uint8Array(18);
      setU16(out, 0, DuidType.UUID);
      out.set(duid.uuid, 2);
      break;
    case "raw":
      checkUint(duid.type, 0xffff, "DUID type");
      out = new Uint8Array(2 + duid.data.length);
      setU16(out, 0, duid.type);
      out.set(duid.data, 2);
      break;
  }
  if (out.length > MAX_DUID_LEN) {
    throw new RangeError(`DUID of ${out.length} bytes is too long: at most ${MAX_DUID_LEN}`);
  }
  return out;
}

/**
 * The DUID-LL (type 3, hardware type 1: Ethernet) of a MAC, as mvirt-net's `generate_duid_ll`
 * makes it: 10 bytes. Throws a `RangeError` for a MAC that is not 6 bytes.
 *
 * @example
 * ```ts
 * import { generateDuidLl, parseMac } from "./mod.ts";
 *
 * generateDuidLl(parseMac("52:54:00:12:34:01")); // [0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 1]
 * ```
 */
export function generateDuidLl(mac: Uint8Array): Uint8Array<ArrayBuffer> {
  if (mac.length !== MAC_LEN) {
    throw new RangeError(`Invalid MAC address: expected ${MAC_LEN} bytes, got ${mac.length}`);
  }
  return encodeDuid({ kind: "ll", hardwareType: HARDWARE_TYPE_ETHERNET, linkLayerAddress: mac });
}

/**
 * Decodes a DUID (2 to 130 bytes). Never throws on bad bytes: the result is then a
 * {@linkcode MalformedPacketError} with reason `"bad_duid_length"` (outside 2..130 bytes, or too
 * short for its type: DUID-LLT needs 9, DUID-EN 7, DUID-LL 5, DUID-UUID exactly 18).
 *
 * @example
 * ```ts
 * import { decodeDuid, formatMac, generateDuidLl, isMalformed, parseMac } from "./mod.ts";
 *
 * const duid = decodeDuid(generateDuidLl(parseMac("52:54:00:12:34:01")));
 * if (!isMalformed(duid) && duid.kind === "ll") formatMac(duid.linkLayerAddress); // "52:54:00:12:34:01"
 * ```
 */
export function decodeDuid(bytes: Uint8Array): Decoded<Duid> {
  const bad = (detail: string) =>
    new MalformedPacketError(
      "bad_duid_length",
      `DUID of ${bytes.length} bytes is malformed: ${detail}`,
    );
  if (bytes.length < MIN_DUID_LEN || bytes.length > MAX_DUID_LEN) {
    return bad(`a DUID has ${MIN_DUID_LEN} to ${MAX_DUID_LEN} bytes`);
  }
  const type = u16(bytes, 0);
  switch (type) {
    case DuidType.LLT:
      if (bytes.length < 9) return bad("a DUID-LLT has at least 9");
      return {
        kind: "llt",
        hardwareType: u16(bytes, 2),
        time: u32(bytes, 4),
        linkLayerAddress: bytes.subarray(8),
      };
    case DuidType.EN:
      if (bytes.length < 7) return bad("a DUID-EN has at least 7");
      return { kind: "en", enterpriseNumber: u32(bytes, 2), identifier: bytes.subarray(6) };
    case DuidType.LL:
      if (bytes.length < 5) return bad("a DUID-LL has at least 5");
      return { kind: "ll", hardwareType: u16(bytes, 2), linkLayerAddress: bytes.subarray(4) };
    case DuidType.UUID:
      if (bytes.length !== 18) return bad("a DUID-UUID has exactly 18");
      return { kind: "uuid", uuid: bytes.subarray(2) };
    default:
      return { kind: "raw", type, data: bytes.subarray(2) };
  }
}
