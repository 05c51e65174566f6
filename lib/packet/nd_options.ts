/**
 * Neighbor Discovery options (RFC 4861 section 4.6), as Router and Neighbor Solicitations and
 * Advertisements carry them: source and target link-layer addresses, Prefix Information, MTU,
 * and the Recursive DNS Server option of RFC 8106; options of other types are kept raw.
 * {@linkcode decodeNdOptions} is total: a length of 0 (which RFC 4861 says must make the
 * receiver discard the packet), an option running past the end, or a known option of the wrong
 * size gives the {@linkcode MalformedPacketError} as the result.
 *
 * @example
 * ```ts
 * import { decodeNdOptions, encodeNdOptions, isMalformed, parseMac } from "./mod.ts";
 *
 * const bytes = encodeNdOptions([
 *   { kind: "source_link_address", address: parseMac("02:00:00:00:00:01") },
 *   { kind: "mtu", mtu: 1500 },
 * ]);
 * bytes.length; // 16
 * const options = decodeNdOptions(bytes);
 * if (!isMalformed(options)) options[1]; // { kind: "mtu", mtu: 1500 }
 * ```
 *
 * @module
 */

import { setU32, u32 } from "./bytes.ts";
import { type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { checkIpv6Length, checkUint } from "./field_checks.ts";
import { IPV6_ADDRESS_LEN } from "./ipv6.ts";

/** Neighbor Discovery option types this module decodes. */
export const NdOptionType = {
  /** Source Link-Layer Address. */
  SOURCE_LINK_ADDRESS: 1,
  /** Target Link-Layer Address. */
  TARGET_LINK_ADDRESS: 2,
  /** Prefix Information. */
  PREFIX_INFORMATION: 3,
  /** MTU. */
  MTU: 5,
  /** Recursive DNS Server (RFC 8106). */
  RDNSS: 25,
} as const;

/**
 * The largest ICMPv6 error message: one that, with a 40-byte IPv6 header, fills the IPv6
 * minimum MTU of 1280 bytes (RFC 4443 section 2.4 (c)). Longer offending packets are cut.

/** A link-layer address option (types 1 and 2). */
export interface LinkAddressOption {
  /** Source (type 1) or target (type 2) link-layer address. */
  kind: "source_link_address" | "target_link_address";
  /** The bytes after type and length: 6 for Ethernet (a view when decoded). */
  address: Uint8Array;
}

/** A Prefix Information option (type 3): an on-link prefix and/or one for SLAAC. */
export interface PrefixInformationOption {
  /** Always `"prefix_information"`. */
  kind: "prefix_information";
  /** Prefix length, 0..128. */
  prefixLength: number;
  /** L flag: the prefix is on-link. */
  onLink: boolean;
  /** A flag: hosts may form addresses in it (SLAAC). */
  autonomous: boolean;
  /** Valid lifetime in seconds; 0xffffffff is infinity. */
  validLifetime: number;
  /** Preferred lifetime in seconds; 0xffffffff is infinity. */
  preferredLifetime: number;
  /** The prefix (16 bytes; a view when decoded). */
  prefix: Uint8Array;
}

/** An MTU option (type 5). */
export interface MtuOption {
  /** Always `"mtu"`. */
  kind: "mtu";
  /** The link MTU, 32 bits. */
  mtu: number;
}

/** A Recursive DNS Server option (type 25, RFC 8106). */
export interface RdnssOption {
  /** Always `"rdnss"`. */
  kind: "rdnss";
  /** Seconds the servers may be used; 0xffffffff is infinity, 0 withdraws them. */
  lifetime: number;
  /** The servers, 16 bytes each (views when decoded); at least one. */
  servers: Uint8Array[];
}

/** An option this module does not interpret, kept as it came. */
export interface RawNdOption {
  /** Always `"raw"`. */
  kind: "raw";
  /** Option type, 0..255. */
  type: number;
  /** The bytes after type and length; with those 2 bytes, a multiple of 8 (at most 2040). */
  body: Uint8Array;
}

/** One Neighbor Discovery option. */
export type NdOption =
  | LinkAddressOption
  | PrefixInformationOption
  | MtuOption
  | RdnssOption
  | RawNdOption;

const OPTION_UNIT = 8;
const PIO_ON_LINK = 0x80;
const PIO_AUTONOMOUS = 0x40;

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

/** The encoded length of `option`, after checking its fields. */
function optionLength(option: NdOption): number {
  switch (option.kind) {
    case "source_link_address":
    case "target_link_address": {
      const length = Math.ceil((2 + option.address.length) / OPTION_UNIT) * OPTION_UNIT;
      if (option.address.length === 0 || length > 255 * OPTION_UNIT) {
        throw new RangeError(
          `Invalid link-layer address of ${option.address.length} bytes: expected 1 to 2038`,
        );
      }
      return length;
    }
    case "prefix_information":
      checkUint(option.prefixLength, 128, "prefix length");
      checkUint(option.validLifetime, 0xffff_ffff, "valid lifetime");
      checkUint(option.preferredLifetime, 0xffff_ffff, "preferred lifetime");
      checkIpv6Length(option.prefix, "prefix");
      return 32;
    case "mtu":
      checkUint(option.mtu, 0xffff_ffff, "MTU");
      return 8;
    case "rdnss":
      checkUint(option.lifetime, 0xffff_ffff, "RDNSS lifetime");
      if (option.servers.length === 0 || option.servers.length > 127) {
        throw new RangeError(
          `Invalid RDNSS option with ${option.servers.length} servers: expected 1 to 127`,
        );
      }
      option.servers.forEach((server) => checkIpv6Length(server, "RDNSS server"));
      return 8 + IPV6_ADDRESS_LEN * option.servers.length;
    case "raw": {
      checkUint(option.type, 0xff, "ND option type");
      const length = 2 + option.body.length;
      if (length % OPTION_UNIT !== 0 || length > 255 * OPTION_UNIT) {
        throw new RangeError(
          `Invalid raw ND option body of ${option.body.length} bytes: with type and length it must be a multiple of 8, at most 2040`,
        );
      }
      return length;
    }
  }
}

/** Writes `option` (of `length` bytes, zero-filled) at `offset`. */
function writeOption(out: Uint8Array, offset: number, option: NdOption, length: number): void {
  out[offset + 1] = length / OPTION_UNIT;
  switch (option.kind) {
    case "source_link_address":
    case "target_link_address":
      out[offset] = option.kind === "source_link_address"
        ? NdOptionType.SOURCE_LINK_ADDRESS
        : NdOptionType.TARGET_LINK_ADDRESS;
      out.set(option.address, offset + 2);
      break;
    case "prefix_information":
      out[offset] = NdOptionType.PREFIX_INFORMATION;
      out[offset + 2] = option.prefixLength;
      out[offset + 3] = (option.onLink ? PIO_ON_LINK : 0) |
        (option.autonomous ? PIO_AUTONOMOUS : 0);
      setU32(out, offset + 4, option.validLifetime);
      setU32(out, offset + 8, option.preferredLifetime);
      out.set(option.prefix, offset + 16);
      break;
    case "mtu":
      out[offset] = NdOptionType.MTU;
      setU32(out, offset + 4, option.mtu);
      break;
    case "rdnss":
      out[offset] = NdOptionType.RDNSS;
      setU32(out, offset + 4, option.lifetime);
      option.servers.forEach((server, i) => out.set(server, offset + 8 + IPV6_ADDRESS_LEN * i));
      break;
    case "raw":
      out[offset] = option.type;
      out.set(option.body, offset + 2);
      break;
  }
}

function badOptionLength(name: string, units: number, expected: string): MalformedPacketError {
  return malformed(
    "bad_nd_option_length",
    `${name} option has length ${units} (units of 8 bytes), expected ${expected}`,
  );
}

/** Decodes one option whose type is `type` and whose whole bytes are `option`. */
function decodeOption(type: number, option: Uint8Array): Decoded<NdOption> {
  const units = option.length / OPTION_UNIT;
  switch (type) {
    case NdOptionType.SOURCE_LINK_ADDRESS:
    case NdOptionType.TARGET_LINK_ADDRESS:
      return {
        kind: type === NdOptionType.SOURCE_LINK_ADDRESS
          ? "source_link_address"
          : "target_link_address",
        address: option.subarray(2),
      };
    case NdOptionType.PREFIX_INFORMATION:
      if (units !== 4) return badOptionLength("Prefix Information", units, "4");
      return {
        kind: "prefix_information",
        prefixLength: option[2]!,
        onLink: (option[3]! & PIO_ON_LINK) !== 0,
        autonomous: (option[3]! & PIO_AUTONOMOUS) !== 0,
        validLifetime: u32(option, 4),
        preferredLifetime: u32(option, 8),
        prefix: option.subarray(16, 32),
      };
    case NdOptionType.MTU:
      if (units !== 1) return badOptionLength("MTU", units, "1");
      return { kind: "mtu", mtu: u32(option, 4) };
    case NdOptionType.RDNSS: {
      if (units < 3 || units % 2 === 0) {
        return badOptionLength("RDNSS", units, "an odd number of at least 3");
      }
      const servers: Uint8Array[] = [];
      for (let p = 8; p < option.length; p += IPV6_ADDRESS_LEN) {
        servers.push(option.subarray(p, p + IPV6_ADDRESS_LEN));
      }
      return { kind: "rdnss", lifetime: u32(option, 4), servers };
    }
    default:
      return { kind: "raw", type, body: option.subarray(2) };
  }
}

/**
 * Decodes the options in `bytes[start..]` (default: all of `bytes`), the tail of an ND message.
 * Never throws on bad bytes: the result is then a {@linkcode MalformedPacketError} with reason
 * `"zero_length_nd_option"` (RFC 4861 section 4.6: the receiver must discard the packet),
 * `"truncated_nd_option"` or `"bad_nd_option_length"` (a Prefix Information, MTU or RDNSS option
 * of the wrong size). Arrays in the options are views into `bytes`.
 *
 * @example
 * ```ts
 * import { decodeNdOptions, isMalformed } from "./mod.ts";
 *
 * const result = decodeNdOptions(new Uint8Array([1, 0, 2, 0, 0, 0, 0, 1]));
 * isMalformed(result) && result.reason; // "zero_length_nd_option"
 * ```
 */
export function decodeNdOptions(bytes: Uint8Array, start = 0): Decoded<NdOption[]> {
  const options: NdOption[] = [];
  for (let p = start; p < bytes.length;) {
    if (p + 2 > bytes.length) {
      return malformed("truncated_nd_option", `ND option at byte ${p} has no length byte`);
    }
    const units = bytes[p + 1]!;
    if (units === 0) {
      return malformed(
        "zero_length_nd_option",
        `ND option of type ${bytes[p]} at byte ${p} has length 0 (RFC 4861 section 4.6)`,
      );
    }
    const end = p + units * OPTION_UNIT;
    if (end > bytes.length) {
      return malformed(
        "truncated_nd_option",
        `ND option of type ${bytes[p]} at byte ${p} claims ${units * OPTION_UNIT} bytes, only ${
          bytes.length - p
        } remain`,
      );
    }
    const option = decodeOption(bytes[p]!, bytes.subarray(p, end));
    if (isMalformed(option)) return option;
    options.push(option);
    p = end;
  }
  return options;
}

/**
 * Encodes `options` one after the other, each padded to a multiple of 8 bytes. Throws a
 * `RangeError` for an option that cannot be encoded: a field out of range, an empty RDNSS list,
 * an empty link-layer address, a raw body of the wrong length.
 *
 * @example
 * ```ts
 * import { encodeNdOptions, parseIpv6 } from "./mod.ts";
 *
 * encodeNdOptions([{ kind: "rdnss", lifetime: 600, servers: [parseIpv6("2001:db8::53")] }]).length; // 24
 * ```
 */
export function encodeNdOptions(options: readonly NdOption[]): Uint8Array<ArrayBuffer> {
  const lengths = options.map(optionLength);
  const out = new Uint8Array(lengths.reduce((sum, length) => sum + length, 0));
  let offset = 0;
  options.forEach((option, i) => {
    writeOption(out, offset, option, lengths[i]!);
    offset += lengths[i]!;
  });
  return out;
}
