/**
 * A `netkit vnet` NIC's configuration: what `vnet nic add` and the state file give
 * ({@linkcode NicSpec}, JSON with snake_case keys) and what the daemon works with once it is
 * checked ({@linkcode NicConfig}: bytes, defaults of the profile filled in).
 *
 * Profiles:
 * - `linklocal` (cloud style): gateway `169.254.0.1` and `fe80::1` behind MAC
 *   `02:00:00:00:00:01`; the guest gets a /32 (IPv4) and a /128 (IPv6), so everything it reaches
 *   goes through the gateway.
 * - `lan`: the guest's real prefix with the gateway inside it (`gateway4`/`gateway6`, or the
 *   prefix's first host); SLAAC may be offered (a /64 only).
 *
 * Every check throws an {@linkcode InvalidInputError} with one line naming the NIC and the
 * value (exit 2 through lib/cli). Bounds ({@linkcode MAX_NICS}, {@linkcode MAX_DNS}, the name
 * length) keep what a request can make a root daemon allocate small.
 *
 * Pure: loads neither the daemon nor libnetkit.
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import { InvalidInputError } from "../errors.ts";
import { validateInterfaceName } from "../net/interface_name.ts";
import { formatIpv4, parseIpv4 } from "../packet/ipv4.ts";
import { formatIpv6, isIpv6Multicast, parseIpv6 } from "../packet/ipv6.ts";
import { formatMac, isMulticastMac, parseMac } from "../packet/mac.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import { bytesEqual } from "../packet/bytes.ts";

/**
 * Most NICs one daemon serves. Each is a TAP (a descriptor in every poll) and a few objects;
 * bench/vnet runs 1,000 (one per DHCP client) and reports the daemon's resident memory with
 * them (72 MiB empty, 153 MiB with 1,000 when first measured).
 */
export const MAX_NICS = 1024;
/** Most DNS servers per NIC (IPv4 and IPv6 together). */
export const MAX_DNS = 8;
/** Smallest and largest MTU a NIC may have (IPv6 needs 1280; see {@linkcode resolveNic}). */
export const MTU_RANGE = { min: 576, max: 9216 } as const;
/** RFC 4861 6.2.1: MaxRtrAdvInterval from 4 to 1800 s; 600 by default. */
export const RA_INTERVAL_RANGE = { min: 4, max: 1800, default: 600 } as const;
/** The gateway's MAC in both profiles. */
export const GATEWAY_MAC = "02:00:00:00:00:01";
/** The gateway's IPv4 address in `linklocal`. */
export const LINKLOCAL_GATEWAY4 = "169.254.0.1";
/** The gateway's link-local IPv6 address (the source of every RA and DHCPv6 reply). */
export const GATEWAY6_LINK_LOCAL = "fe80::1";

/** How a NIC's gateway and prefix are set up (see the module doc). */
export type VnetProfile = "linklocal" | "lan";

/** A NIC as `vnet nic add` sends it and the state file keeps it: unchecked text. */
export interface NicSpec {
  /** The NIC's name; also the TAP's name when neither `tap` nor `attach` is given. */
  name: string;
  /** The guest's MAC; the only source MAC accepted from it. */
  mac: string;
  /** The guest's IPv4 address, `A.B.C.D/LEN` (`linklocal`: /32 or no length). */
  ipv4?: string | undefined;
  /** The guest's IPv6 address, `ADDR/LEN` (`linklocal`: /128 or no length). */
  ipv6?: string | undefined;
  /** DNS servers handed out, IPv4 and IPv6. */
  dns?: string[] | undefined;
  /** `linklocal` (default) or `lan`. */
  profile?: VnetProfile | undefined;
  /** `lan`: the gateway's IPv4 address (default: the prefix's first host). */
  gateway4?: string | undefined;
  /** `lan`: the gateway's IPv6 address (default: the prefix's first host). */
  gateway6?: string | undefined;
  /** The TAP to create or open (an existing persistent TAP of that name is opened). */
  tap?: string | undefined;
  /** Serve this Ethernet interface (a veth end, say) through AF_PACKET instead of a TAP. */
  attach?: string | undefined;
  /** The link MTU (default 1500). */
  mtu?: number | undefined;
  /** Seconds between unsolicited RAs (default 600). */
  ra_interval?: number | undefined;
  /** `lan`: offer SLAAC (PIO with A=1). */
  slaac?: boolean | undefined;
  /** Answer a DHCPv6 Solicit with Rapid Commit by a Reply. */
  rapid_commit?: boolean | undefined;
}

/**
 * Schema of {@linkcode NicSpec}: the shape; {@linkcode resolveNic} checks the values. Built on
 * first use (`z.lazy`), as every vnet schema: a client command builds only the one it checks.
 */
export const NicSpec: Schema<NicSpec> = z.lazy(() =>
  exactly<NicSpec>()(z.object({
    name: z.string().max(64),
    mac: z.string().max(64),
    ipv4: z.string().max(64).optional(),
    ipv6: z.string().max(64).optional(),
    dns: z.array(z.string().max(64)).max(MAX_DNS).optional(),
    profile: z.enum(["linklocal", "lan"]).optional(),
    gateway4: z.string().max(64).optional(),
    gateway6: z.string().max(64).optional(),
    tap: z.string().max(64).optional(),
    attach: z.string().max(64).optional(),
    mtu: z.number().int().optional(),
    ra_interval: z.number().int().optional(),
    slaac: z.boolean().optional(),
    rapid_commit: z.boolean().optional(),
  }))
);

/** Where a NIC's frames come from and go to. */
export interface NicDevice {
  /** `tap`: a TAP netkit creates (or an existing persistent one); `attach`: AF_PACKET. */
  kind: "tap" | "attach";
  /** The interface's name. */
  name: string;
}

/** One address family of a NIC, checked. */
export interface NicAddress {
  /** The guest's address (4 or 16 bytes). */
  address: Uint8Array;
  /** The guest's prefix length (32 or 128 in `linklocal`). */
  prefixLength: number;
  /** The gateway's address the guest uses (`169.254.0.1`, `fe80::1`, or inside the prefix). */
  gateway: Uint8Array;
}

/** A NIC's checked configuration, the profile's defaults filled in. */
export interface NicConfig {
  /** The NIC's name. */
  name: string;
  /** The guest's MAC. */
  guestMac: Uint8Array;
  /** The gateway's MAC: the source of everything netkit sends the guest. */
  gatewayMac: Uint8Array;
  /** The profile. */
  profile: VnetProfile;
  /** IPv4, or null when the guest has none. */
  ipv4: NicAddress | null;
  /** IPv6, or null when the guest has none. */
  ipv6: NicAddress | null;
  /** The gateway's link-local IPv6 address (fe80::1): RA and DHCPv6 source. */
  gateway6LinkLocal: Uint8Array;
  /** IPv4 DNS servers. */
  dns4: Uint8Array[];
  /** IPv6 DNS servers. */
  dns6: Uint8Array[];
  /** The device. */
  device: NicDevice;
  /** The link MTU. */
  mtu: number;
  /** Seconds between unsolicited RAs. */
  raIntervalS: number;
  /** Offer SLAAC. */
  slaac: boolean;
  /** DHCPv6 Rapid Commit. */
  rapidCommit: boolean;
  /** The spec it was made from, normalized (what SHOW and the state file give back). */
  spec: NicSpec;
}

function refuse(nic: string, problem: string): never {
  throw new InvalidInputError(`NIC "${nic}": ${problem}`);
}

function checked<T>(nic: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    refuse(nic, err instanceof Error ? err.message : String(err));
  }
}

/** `A/LEN` (or `A` alone, for `defaultLength`) split and checked. */
function parsePrefix(
  nic: string,
  text: string,
  family: 4 | 6,
  defaultLength: number | null,
): { address: Uint8Array; prefixLength: number } {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = checked(
    nic,
    () => family === 4 ? parseIpv4(addressText) : parseIpv6(addressText),
  );
  const max = family === 4 ? 32 : 128;
  if (slash < 0) {
    if (defaultLength === null) {
      refuse(nic, `--ipv${family} "${text}" needs a prefix length: ${addressText}/LEN`);
    }
    return { address, prefixLength: defaultLength };
  }
  const lengthText = text.slice(slash + 1);
  const prefixLength = /^[0-9]{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  if (!(prefixLength >= 1 && prefixLength <= max)) {
    refuse(nic, `--ipv${family} "${text}": prefix length must be 1 to ${max}`);
  }
  return { address, prefixLength };
}

/** Whether `a` and `b` agree in their first `length` bits. */
export function samePrefix(a: Uint8Array, b: Uint8Array, length: number): boolean {
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

/** The first host of `address`'s `length`-bit prefix (network address + 1). */
function firstHost(address: Uint8Array, length: number): Uint8Array {
  const host = new Uint8Array(address.length);
  for (let bit = 0; bit < length; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    host[byte]! |= address[byte]! & mask;
  }
  host[host.length - 1]! |= 1;
  return host;
}

function resolveIpv4(spec: NicSpec, lan: boolean): NicAddress | null {
  if (spec.ipv4 === undefined) {
    if (spec.gateway4 !== undefined) refuse(spec.name, "--gateway4 needs --ipv4");
    return null;
  }
  const { address, prefixLength } = parsePrefix(spec.name, spec.ipv4, 4, lan ? null : 32);
  if (!lan) {
    if (prefixLength !== 32) {
      refuse(
        spec.name,
        `--ipv4 "${spec.ipv4}": the linklocal profile gives the guest a /32; use --profile lan for a prefix`,
      );
    }
    if (spec.gateway4 !== undefined) refuse(spec.name, "--gateway4 needs --profile lan");
    return { address, prefixLength, gateway: parseIpv4(LINKLOCAL_GATEWAY4) };
  }
  if (prefixLength > 30) refuse(spec.name, `--ipv4 "${spec.ipv4}": a lan prefix is /1 to /30`);
  const gateway = spec.gateway4 === undefined
    ? firstHost(address, prefixLength)
    : checked(spec.name, () => parseIpv4(spec.gateway4!));
  if (!samePrefix(gateway, address, prefixLength)) {
    refuse(spec.name, `--gateway4 ${formatIpv4(gateway)} is outside ${spec.ipv4}`);
  }
  if (bytesEqual(gateway, address)) {
    refuse(spec.name, `the gateway and the guest cannot both be ${formatIpv4(address)}`);
  }
  return { address, prefixLength, gateway };
}

function resolveIpv6(spec: NicSpec, lan: boolean): NicAddress | null {
  const linkLocal = parseIpv6(GATEWAY6_LINK_LOCAL);
  if (spec.ipv6 === undefined) {
    if (spec.gateway6 !== undefined) refuse(spec.name, "--gateway6 needs --ipv6");
    return null;
  }
  const { address, prefixLength } = parsePrefix(spec.name, spec.ipv6, 6, lan ? null : 128);
  if (isIpv6Multicast(address) || address.every((b) => b === 0)) {
    refuse(spec.name, `--ipv6 "${spec.ipv6}" is not a unicast address`);
  }
  if (!lan) {
    if (prefixLength !== 128) {
      refuse(
        spec.name,
        `--ipv6 "${spec.ipv6}": the linklocal profile gives the guest a /128; use --profile lan for a prefix`,
      );
    }
    if (spec.gateway6 !== undefined) refuse(spec.name, "--gateway6 needs --profile lan");
    return { address, prefixLength, gateway: linkLocal };
  }
  if (prefixLength > 126) refuse(spec.name, `--ipv6 "${spec.ipv6}": a lan prefix is /1 to /126`);
  const gateway = spec.gateway6 === undefined
    ? firstHost(address, prefixLength)
    : checked(spec.name, () => parseIpv6(spec.gateway6!));
  if (!samePrefix(gateway, address, prefixLength)) {
    refuse(spec.name, `--gateway6 ${formatIpv6(gateway)} is outside ${spec.ipv6}`);
  }
  if (bytesEqual(gateway, address)) {
    refuse(spec.name, `the gateway and the guest cannot both be ${formatIpv6(address)}`);
  }
  return { address, prefixLength, gateway };
}

function inRange(nic: string, option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    refuse(nic, `${option} ${value} is out of range: ${min} to ${max}`);
  }
  return value;
}

/** Checks `spec` and fills in the profile's defaults; throws {@linkcode InvalidInputError}. */
export function resolveNic(spec: NicSpec): NicConfig {
  const name = spec.name;
  checked(name, () => validateInterfaceName(name));
  const profile = spec.profile ?? "linklocal";
  const lan = profile === "lan";
  const guestMac = checked(name, () => parseMac(spec.mac));
  const gatewayMac = parseMac(GATEWAY_MAC);
  if (isMulticastMac(guestMac) || guestMac.every((b) => b === 0)) {
    refuse(name, `--mac ${spec.mac} is not a unicast MAC`);
  }
  if (bytesEqual(guestMac, gatewayMac)) refuse(name, `--mac ${spec.mac} is the gateway's MAC`);
  const ipv4 = resolveIpv4(spec, lan);
  const ipv6 = resolveIpv6(spec, lan);
  if (ipv4 === null && ipv6 === null) refuse(name, "give the guest --ipv4, --ipv6 or both");
  const dns = spec.dns ?? [];
  if (dns.length > MAX_DNS) refuse(name, `at most ${MAX_DNS} DNS servers, got ${dns.length}`);
  const dns4: Uint8Array[] = [];
  const dns6: Uint8Array[] = [];
  for (const server of dns) {
    if (server.includes(":")) dns6.push(checked(name, () => parseIpv6(server)));
    else dns4.push(checked(name, () => parseIpv4(server)));
  }
  if (spec.tap !== undefined && spec.attach !== undefined) {
    refuse(name, "--tap and --attach cannot be used together");
  }
  const device: NicDevice = spec.attach !== undefined
    ? { kind: "attach", name: spec.attach }
    : { kind: "tap", name: spec.tap ?? name };
  checked(name, () => validateInterfaceName(device.name));
  const mtu = inRange(
    name,
    "--mtu",
    spec.mtu ?? 1500,
    ipv6 === null ? MTU_RANGE.min : 1280,
    MTU_RANGE.max,
  );
  const raIntervalS = inRange(
    name,
    "--ra-interval",
    spec.ra_interval ?? RA_INTERVAL_RANGE.default,
    RA_INTERVAL_RANGE.min,
    RA_INTERVAL_RANGE.max,
  );
  const slaac = spec.slaac ?? false;
  if (slaac && (!lan || ipv6?.prefixLength !== 64)) {
    refuse(name, "--slaac needs --profile lan and an --ipv6 /64");
  }
  const normalized: NicSpec = {
    name,
    mac: formatMac(guestMac),
    ...(ipv4 === null ? {} : { ipv4: `${formatIpv4(ipv4.address)}/${ipv4.prefixLength}` }),
    ...(ipv6 === null ? {} : { ipv6: `${formatIpv6(ipv6.address)}/${ipv6.prefixLength}` }),
    ...(dns.length === 0
      ? {}
      : { dns: [...dns4.map((a) => formatIpv4(a)), ...dns6.map((a) => formatIpv6(a))] }),
    profile,
    ...(lan && ipv4 !== null ? { gateway4: formatIpv4(ipv4.gateway) } : {}),
    ...(lan && ipv6 !== null ? { gateway6: formatIpv6(ipv6.gateway) } : {}),
    ...(device.kind === "tap" ? { tap: device.name } : { attach: device.name }),
    mtu,
    ra_interval: raIntervalS,
    slaac,
    rapid_commit: spec.rapid_commit ?? false,
  };
  return {
    name,
    guestMac,
    gatewayMac,
    profile,
    ipv4,
    ipv6,
    gateway6LinkLocal: parseIpv6(GATEWAY6_LINK_LOCAL),
    dns4,
    dns6,
    device,
    mtu,
    raIntervalS,
    slaac,
    rapidCommit: spec.rapid_commit ?? false,
    spec: normalized,
  };
}

/**
 * Throws unless `nic` can join `others` (the NICs a daemon serves): names, devices, guest MACs
 * and guest addresses are each one NIC's, and the count stays within {@linkcode MAX_NICS}.
 */
export function checkNicFits(others: readonly NicConfig[], nic: NicConfig): void {
  if (others.length >= MAX_NICS) {
    refuse(nic.name, `this daemon already serves ${MAX_NICS} NICs, the most it takes`);
  }
  for (const other of others) {
    const clash = other.name === nic.name
      ? "the name"
      : other.device.name === nic.device.name
      ? `interface "${nic.device.name}"`
      : bytesEqual(other.guestMac, nic.guestMac)
      ? `MAC ${formatMac(nic.guestMac)}`
      : nic.ipv4 !== null && other.ipv4 !== null &&
          bytesEqual(other.ipv4.address, nic.ipv4.address)
      ? `address ${formatIpv4(nic.ipv4.address)}`
      : nic.ipv6 !== null && other.ipv6 !== null &&
          bytesEqual(other.ipv6.address, nic.ipv6.address)
      ? `address ${formatIpv6(nic.ipv6.address)}`
      : null;
    if (clash !== null) refuse(nic.name, `${clash} is already NIC "${other.name}"'s`);
  }
}
