/**
 * Multicast routes as users give them: names and text addresses, checked for everything the
 * kernel does not check (reference §3.3): the group must be multicast and routable, the source a
 * unicast address of the same family, outputs distinct from the input, TTL thresholds in range.
 * Pure: interface existence is checked against the live table by the router.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import type { IpFamily } from "../net/mroute_structs.ts";
import { isIpv4LinkLocalMulticast, isIpv4Multicast, parseIpv4 } from "../packet/ipv4.ts";
import { formatIpv6, ipv6MulticastScope, isIpv6Multicast, parseIpv6 } from "../packet/ipv6.ts";

export type { IpFamily };

/** One output interface of a route, with its TTL threshold (forward when TTL > threshold). */
export interface Oif {
  name: string;
  ttl: number;
}

/**
 * A route, normalized: canonical address text, family known, outputs sorted by name. Made by
 * {@linkcode parseRoute} (or {@linkcode withOifs}), which also work out once what every later
 * use needs: its key, its address bytes and its JSON line.
 */
export interface Route {
  family: IpFamily;
  /** Canonical source address, or null for (*,G): every source. */
  source: string | null;
  group: string;
  iif: string;
  oifs: Oif[];
  /** Its identity, {@linkcode routeKey}. */
  key: string;
  /** Source (all zeros for (*,G)) and group as bytes, network order. */
  addresses: { source: Uint8Array; group: Uint8Array };
  /**
   * The route as one line of JSON in the form APPLY takes: no source for (*,G), outputs as
   * `"name"` or `"name:ttl"`. The state file and APPLY's reply are made of these lines.
   */
  json: string;
}

/** A route as a request gives it, before checking. */
export interface RouteInput {
  source?: string | null | undefined;
  group: string;
  iif: string;
  /** Interface names, `name:ttl` strings, or objects. */
  oifs: readonly (string | { name: string; ttl?: number | undefined })[];
}

/** A request the daemon refuses: the message is the reply's, as the Python service worded it. */
export class InvalidRouteError extends NetkitError {
  override name = "InvalidRouteError";

  /** `problem` goes after "Invalid argument: ". */
  constructor(problem: string) {
    super(`Invalid argument: ${problem}`);
  }
}

/** The default TTL threshold: forward every packet that may still be routed (TTL > 1). */
export const DEFAULT_TTL = 1;

/** Interface-local (1) and link-local (2) IPv6 multicast is never routed. */
const MIN_ROUTABLE_IPV6_SCOPE = 3;

interface ParsedAddress {
  family: IpFamily;
  bytes: Uint8Array;
  text: string;
}

/** Parses an IPv4 or IPv6 address into its family, bytes and canonical text. */
export function parseAddress(text: string, what: string): ParsedAddress {
  const value = text.trim();
  try {
    if (value.includes(":")) {
      const bytes = parseIpv6(value);
      return { family: 6, bytes, text: formatIpv6(bytes) };
    }
    // A strict dotted quad (no leading zeros, no shorthand) is already canonical.
    return { family: 4, bytes: parseIpv4(value), text: value };
  } catch {
    throw new InvalidRouteError(`${what} '${text}' is not an IPv4 or IPv6 address.`);
  }
}

function checkGroup(group: ParsedAddress): void {
  if (group.family === 4) {
    if (!isIpv4Multicast(group.bytes)) {
      throw new InvalidRouteError(
        `Group '${group.text}' is not a multicast address (224.0.0.0/4).`,
      );
    }
    if (isIpv4LinkLocalMulticast(group.bytes)) {
      throw new InvalidRouteError(
        `Group '${group.text}' is link-local (224.0.0.0/24); the kernel never routes it.`,
      );
    }
  } else {
    if (!isIpv6Multicast(group.bytes)) {
      throw new InvalidRouteError(`Group '${group.text}' is not a multicast address (ff00::/8).`);
    }
    if (ipv6MulticastScope(group.bytes) < MIN_ROUTABLE_IPV6_SCOPE) {
      throw new InvalidRouteError(
        `Group '${group.text}' has interface- or link-local scope (ff01::/16, ff02::/16); the kernel never routes it.`,
      );
    }
  }
}

function checkSource(source: ParsedAddress, group: ParsedAddress): void {
  if (source.family !== group.family) {
    throw new InvalidRouteError(
      `Source '${source.text}' and group '${group.text}' are not of the same address family.`,
    );
  }
  const multicast = source.family === 4
    ? isIpv4Multicast(source.bytes)
    : isIpv6Multicast(source.bytes);
  if (
    multicast || allBytes(source.bytes, 0) || (source.family === 4 && allBytes(source.bytes, 255))
  ) {
    throw new InvalidRouteError(`Source '${source.text}' must be a unicast address.`);
  }
}

function allBytes(bytes: Uint8Array, value: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== value) return false;
  return true;
}

/**
 * Checks an interface name's syntax (1 to 15 characters, no space, "/" or ":") and returns it;
 * `what` (e.g. "Input interface"), when given, starts the message. Throws
 * {@linkcode InvalidRouteError}, worded as the Python service did.
 */
export function checkInterfaceName(name: string, what?: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 15 || /[\s/:]/.test(name)) {
    const subject = what === undefined ? `'${name}'` : `${what} '${name}'`;
    throw new InvalidRouteError(`${subject} is not a valid interface name.`);
  }
  return name;
}

function parseOif(oif: RouteInput["oifs"][number], family: IpFamily): Oif {
  let name: string;
  let ttl: number | undefined;
  if (typeof oif === "string") {
    const at = oif.lastIndexOf(":");
    name = at < 0 ? oif : oif.slice(0, at);
    if (at >= 0) {
      const text = oif.slice(at + 1);
      ttl = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    }
  } else {
    name = oif.name;
    ttl = oif.ttl;
  }
  checkInterfaceName(name, "Output interface");
  if (ttl !== undefined) {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 254) {
      throw new InvalidRouteError(
        `TTL threshold of '${name}' must be 1 to 254 (forward when the packet's TTL is higher).`,
      );
    }
    if (family === 6 && ttl !== DEFAULT_TTL) {
      throw new InvalidRouteError(
        `IPv6 multicast routing has no per-route TTL threshold (output '${name}'); omit it.`,
      );
    }
  }
  return { name, ttl: ttl ?? DEFAULT_TTL };
}

/** Orders outputs by interface name, as a normalized route keeps them. */
export function byName(a: Oif, b: Oif): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Checks and normalizes a route; throws {@linkcode InvalidRouteError} naming the problem. */
export function parseRoute(input: RouteInput): Route {
  if (typeof input.group !== "string") throw new InvalidRouteError("A group address is required.");
  const group = parseAddress(input.group, "Group");
  checkGroup(group);
  let source: string | null = null;
  let sourceBytes: Uint8Array | null = null;
  if (
    input.source !== undefined && input.source !== null && input.source !== "" &&
    input.source !== "*"
  ) {
    const parsed = parseAddress(input.source, "Source");
    checkSource(parsed, group);
    source = parsed.text;
    sourceBytes = parsed.bytes;
  }
  const iif = checkInterfaceName(input.iif, "Input interface");
  if (!Array.isArray(input.oifs) || input.oifs.length === 0) {
    throw new InvalidRouteError("At least one output interface is required.");
  }
  const oifs: Oif[] = [];
  for (const o of input.oifs) oifs.push(parseOif(o, group.family));
  oifs.sort(byName);
  for (let i = 0; i < oifs.length; i++) {
    const name = oifs[i]!.name;
    if (name === iif) {
      throw new InvalidRouteError(`Output interface '${iif}' is also the input interface.`);
    }
    if (i > 0 && name === oifs[i - 1]!.name) {
      throw new InvalidRouteError(`Output interface '${name}' is given twice.`);
    }
  }
  return makeRoute(group.family, source, group.text, iif, oifs, {
    source: sourceBytes ?? new Uint8Array(group.bytes.length),
    group: group.bytes,
  });
}

/** `route` with outputs `oifs` instead (already checked), sorted by name. */
export function withOifs(route: Route, oifs: Oif[]): Route {
  return makeRoute(
    route.family,
    route.source,
    route.group,
    route.iif,
    [...oifs].sort(byName),
    route.addresses,
  );
}

function makeRoute(
  family: IpFamily,
  source: string | null,
  group: string,
  iif: string,
  oifs: Oif[],
  addresses: Route["addresses"],
): Route {
  // Written out rather than stringified from a temporary object: an APPLY makes thousands.
  let outputs = "";
  for (let i = 0; i < oifs.length; i++) {
    const { name, ttl } = oifs[i]!;
    outputs += (i === 0 ? "" : ",") + JSON.stringify(ttl === DEFAULT_TTL ? name : `${name}:${ttl}`);
  }
  const json = `{${source === null ? "" : `"source":"${source}",`}"group":"${group}",` +
    `"iif":${JSON.stringify(iif)},"oifs":[${outputs}]}`;
  return {
    family,
    source,
    group,
    iif,
    oifs,
    key: routeKey({ family, source, group }),
    addresses,
    json,
  };
}

/** The identity of a route: family, source (or "*") and group. */
export function routeKey(route: Pick<Route, "family" | "source" | "group">): string {
  return `${route.family}|${route.source ?? "*"}|${route.group}`;
}

/** "(10.1.1.5, 239.10.20.30)" or "(*, 239.10.20.30)": how messages name a route. */
export function routeName(route: Pick<Route, "source" | "group">): string {
  return `(${route.source ?? "*"}, ${route.group})`;
}

/** Whether two normalized routes are the same in every field. */
export function sameRoute(a: Route, b: Route): boolean {
  return a.family === b.family && a.source === b.source && a.group === b.group &&
    a.iif === b.iif && a.oifs.length === b.oifs.length &&
    a.oifs.every((o, i) => o.name === b.oifs[i]!.name && o.ttl === b.oifs[i]!.ttl);
}
