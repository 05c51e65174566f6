/**
 * The relay's per-room address guard: a client may claim, in ARP sender fields and in Neighbor
 * Discovery, only the addresses that are its own, so it cannot poison the ARP and neighbor caches
 * of LAN hosts or other clients through the tunnel (a gratuitous ARP "192.168.77.101 is-at
 * <attacker>" for another client's address is refused).
 *
 * An address is a client's when the operator configured it for the client
 * ({@linkcode AddressGuard.configure}), when the LAN's DHCP server leased it to the client (DHCPv4
 * ACK, DHCPv6 Reply, snooped in {@linkcode AddressGuard.observe}), or, for IPv6, when the client
 * claimed it first while nobody else held it (first-come-first-served source address validation,
 * RFC 6620: SLAAC addresses have no lease). IPv6 addresses the LAN side claims (its NA targets,
 * NS sources, DAD targets) are the LAN's: no client can take them.
 *
 * Pure: the clock is passed in, there is no I/O, and it needs no permissions.
 * {@linkcode AddressGuard.check} runs on every client frame: it allocates nothing and never throws
 * for frames that are neither ARP, Neighbor Discovery nor DHCP, and never throws for any frame: a
 * header cut short does not match a rule, except in ARP and ND, where a message that cannot be
 * checked is dropped (hosts ignore such messages anyway).
 *
 * @example
 * ```ts
 * import { macKey, parseMac } from "../packet/mac.ts";
 * import { AddressGuard } from "./address_guard.ts";
 *
 * const guard = new AddressGuard();
 * const mac = parseMac("02:00:00:00:00:01");
 * guard.configure(macKey(mac), ["192.168.77.101", "2001:db8::101"]);
 * const frameFromClient = new Uint8Array(60); // a minimal frame from that client, type 0x0000
 * frameFromClient.set(mac, 6);
 * const drop = guard.check(macKey(mac), mac, frameFromClient, performance.now());
 * if (drop !== null) {
 *   // count `drop` and do not forward the frame
 * }
 * ```
 *
 * @module
 */

import { u16, u32 } from "../packet/bytes.ts";
import { ethernetHeaderLengthAt, EtherType } from "../packet/ethernet.ts";
import { formatIpv4, IpProtocol, IPV4_HEADER_LEN, parseIpv4 } from "../packet/ipv4.ts";
import { formatIpv6, IPV6_ADDRESS_LEN, IPV6_HEADER_LEN, parseIpv6 } from "../packet/ipv6.ts";
import { MAC_LEN, macEquals, macKey } from "../packet/mac.ts";

/** Why a client frame was refused; also the key under which the drop is counted. */
export type GuardDrop =
  /** ARP whose sender hardware address is not the client's MAC. */
  | "arp_sender_mac"
  /** ARP whose sender protocol address is neither 0.0.0.0 nor leased/configured for the client. */
  | "arp_sender_ip"
  /** ARP too short, or with a hardware or protocol address length other than 6 and 4. */
  | "arp_malformed"
  /** ND source or target link-layer address option other than the client's MAC. */
  | "nd_lladdr"
  /** NA, DAD NS or Redirect (with a target link-layer option) for an address not the client's. */
  | "nd_target"
  /** NS or RS whose source (with a source link-layer option) is not the client's. */
  | "nd_source"
  /** A new FCFS claim refused: the client already holds `maxPerClient` bindings. */
  | "nd_client_limit"
  /** A new FCFS claim refused: the room already holds `maxBindings` bindings. */
  | "nd_table_full"
  /** ND in an IPv6 fragment (RFC 6980 forbids it; the options could hide in a later fragment). */
  | "nd_fragmented"
  /** ND cut short, or with an option of length zero or running past the message. */
  | "nd_malformed"
  /** A DHCPv4 request whose client hardware address is not the client's MAC (pool starvation). */
  | "dhcp_chaddr"
  /** A DHCPv4 RELEASE or DHCPv6 Release/Decline for an address another client or the LAN holds. */
  | "dhcp_release";

/** Limits and lifetimes of an {@linkcode AddressGuard}; all in bindings or milliseconds. */
export interface AddressGuardOptions {
  /** Most DHCP, FCFS and LAN bindings in the room together (default 4096). */
  maxBindings?: number;
  /**
   * Most LAN bindings (default: half of `maxBindings`): any LAN host can make them, so they never
   * take the clients' share.
   */
  maxLanBindings?: number;
  /** Most DHCP and FCFS bindings per client (default 32). */
  maxPerClient?: number;
  /** How long an IPv6 FCFS binding lives without a claim refreshing it (default 600,000 ms). */
  fcfsIdleMs?: number;
  /** How long an IPv6 address the LAN claimed stays the LAN's without a new claim (default 1 h). */
  lanIdleMs?: number;
  /** Longest DHCP lease recorded; longer and infinite leases are cut to it (default 7 days). */
  maxLeaseMs?: number;
}

/** How an address came to be bound. */
export type BindingKind = "configured" | "dhcpv4" | "dhcpv6" | "fcfs" | "lan";

/** One binding, as listed by {@linkcode AddressGuard.bindings}. */
export interface AddressBinding {
  /** The address as text (dotted quad or RFC 5952 IPv6). */
  address: string;
  /** How it was bound. */
  kind: BindingKind;
  /** The owning client's MAC key, or `null` for the LAN side. */
  client: number | null;
  /** When it expires, in ms on the caller's clock; `null` for configured addresses. */
  expires: number | null;
}

const DEFAULT_MAX_BINDINGS = 4096;
const DEFAULT_MAX_PER_CLIENT = 32;
const DEFAULT_FCFS_IDLE_MS = 600_000;
const DEFAULT_LAN_IDLE_MS = 3_600_000;
const DEFAULT_MAX_LEASE_MS = 7 * 24 * 3_600_000;

/** Owner of a binding the LAN side claimed; client MAC keys are never negative. */
const LAN = -1;

const ARP_LEN = 28;
const ARP_SENDER_MAC = 8;
const ARP_SENDER_IP = 14;

const ICMPV6_ROUTER_SOLICITATION = 133;
const ICMPV6_ROUTER_ADVERTISEMENT = 134;
const ICMPV6_NEIGHBOR_SOLICITATION = 135;
const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
const ICMPV6_REDIRECT = 137;
const ND_HOP_LIMIT = 255;
const ND_OPTION_SOURCE_LLADDR = 1;
const ND_OPTION_TARGET_LLADDR = 2;
const IPV6_FRAGMENT_HEADER_LEN = 8;
const IPV6_SRC = 8;

const DHCPV4_SERVER_PORT = 67;
const DHCPV4_CLIENT_PORT = 68;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const DHCP_CIADDR = 12;
const DHCP_YIADDR = 16;
const DHCP_CHADDR = 28;
const DHCP_SNAME = 44;
const DHCP_FILE = 108;
const DHCP_COOKIE = 236;
const DHCP_OPTIONS = 240;
const DHCP_OPTION_LEASE_TIME = 51;
const DHCP_OPTION_OVERLOAD = 52;
const DHCP_OPTION_MESSAGE_TYPE = 53;
const DHCPACK = 5;
const DHCPNAK = 6;
const DHCPRELEASE = 7;

const DHCPV6_CLIENT_PORT = 546;
const DHCPV6_SERVER_PORT = 547;
const DHCPV6_REPLY = 7;
const DHCPV6_RELEASE = 8;
const DHCPV6_DECLINE = 9;
const DHCPV6_OPTION_IA_NA = 3;
const DHCPV6_OPTION_IA_TA = 4;
const DHCPV6_OPTION_IAADDR = 5;

/** What a DHCPv6 IA address walk does with each address. */
const IaWalk = { BIND: 0, VERIFY: 1, FREE: 2 } as const;
type IaWalk = typeof IaWalk[keyof typeof IaWalk];

/** Why {@linkcode AddressGuard} could not record a new binding. */
const Bind = { OK: 0, CLIENT_FULL: 1, TABLE_FULL: 2 } as const;
type Bind = typeof Bind[keyof typeof Bind];

/** An IPv4 address as an unsigned 32-bit number, or an IPv6 address as 8 UTF-16 code units. */
type AddressKey = number | string;

interface Binding {
  readonly kind: BindingKind;
  /** A client's MAC key, or {@linkcode LAN}. */
  readonly owner: number;
  /** Expiry in ms on the caller's clock; `Infinity` for configured addresses. */
  expires: number;
}

interface ClientState {
  /** Operator-configured addresses. */
  configured: AddressKey[];
  /** The client's DHCP and FCFS bindings: what `maxPerClient` limits. */
  readonly dynamic: Set<AddressKey>;
}

/** The map key of the IPv6 address at `offset`; the caller has checked bounds. */
function ipv6Key(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(
    u16(bytes, offset),
    u16(bytes, offset + 2),
    u16(bytes, offset + 4),
    u16(bytes, offset + 6),
    u16(bytes, offset + 8),
    u16(bytes, offset + 10),
    u16(bytes, offset + 12),
    u16(bytes, offset + 14),
  );
}

/** Whether the IPv6 address at `offset` can be a node's own: not multicast, not `::`. */
function isClaimableIpv6(bytes: Uint8Array, offset: number): boolean {
  if (bytes[offset] === 0xff) return false;
  for (let i = offset; i < offset + IPV6_ADDRESS_LEN; i++) if (bytes[i] !== 0) return true;
  return false;
}

function isUnspecifiedIpv6(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + IPV6_ADDRESS_LEN; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Formats an {@linkcode AddressKey} back into text. */
function formatKey(key: AddressKey): string {
  if (typeof key === "number") {
    return formatIpv4(new Uint8Array([key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key]));
  }
  const bytes = new Uint8Array(IPV6_ADDRESS_LEN);
  for (let i = 0; i < 8; i++) {
    const word = key.charCodeAt(i);
    bytes[2 * i] = word >>> 8;
    bytes[2 * i + 1] = word & 0xff;
  }
  return formatIpv6(bytes);
}

/** Parses an operator's address text (IPv6 when it holds a ":") into its key; throws a `TypeError`. */
function parseKey(text: string): AddressKey {
  if (text.includes(":")) return ipv6Key(parseIpv6(text), 0);
  return u32(parseIpv4(text), 0);
}

// Results of ipv6UpperLayer, kept in module registers so the walk allocates nothing.
let upperProtocol = 0;
let upperFragmented = false;

/**
 * Offset of the upper-layer header of the IPv6 packet at `ip` (payload ending at `end`), with its
 * protocol in `upperProtocol` and whether a fragment header was crossed in `upperFragmented`; -1
 * when the chain runs past `end` or the packet is a later fragment (no upper-layer header).
 * Hop-by-hop, routing, destination options and fragment headers are followed, as in safety.ts.
 */
function ipv6UpperLayer(frame: Uint8Array, ip: number, end: number): number {
  let next = frame[ip + 6]!;
  let offset = ip + IPV6_HEADER_LEN;
  upperFragmented = false;
  // Every header advances at least 8 bytes, so the walk is bounded by the frame length.
  while (
    next === IpProtocol.HOP_BY_HOP || next === IpProtocol.IPV6_ROUTING ||
    next === IpProtocol.IPV6_DEST_OPTIONS || next === IpProtocol.IPV6_FRAGMENT
  ) {
    if (next === IpProtocol.IPV6_FRAGMENT) {
      if (offset + IPV6_FRAGMENT_HEADER_LEN > end) return -1;
      if ((u16(frame, offset + 2) & 0xfff8) !== 0) return -1;
      upperFragmented = true;
      next = frame[offset]!;
      offset += IPV6_FRAGMENT_HEADER_LEN;
    } else {
      if (offset + 2 > end) return -1;
      next = frame[offset]!;
      offset += (frame[offset + 1]! + 1) * 8;
    }
  }
  upperProtocol = next;
  return offset;
}

/** End of the IPv6 packet at `ip`: its payload length, or the frame's end when that is shorter. */
function ipv6End(frame: Uint8Array, ip: number): number {
  return Math.min(ip + IPV6_HEADER_LEN + u16(frame, ip + 4), frame.length);
}

// The end of the IPv4 packet ipv4Udp last looked at, kept in a register like upperProtocol.
let ipv4EndAt = 0;

/**
 * Offset of the UDP header of the IPv4 packet at `ip`, with the packet's end in `ipv4EndAt`; -1
 * unless it is a well-formed first fragment (or whole packet) of UDP holding a UDP header.
 */
function ipv4Udp(frame: Uint8Array, ip: number): number {
  if (ip + IPV4_HEADER_LEN > frame.length) return -1;
  if (frame[ip]! >>> 4 !== 4 || frame[ip + 9] !== IpProtocol.UDP) return -1;
  if ((u16(frame, ip + 6) & 0x1fff) !== 0) return -1;
  const headerLength = (frame[ip]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LEN) return -1;
  ipv4EndAt = Math.min(ip + u16(frame, ip + 2), frame.length);
  const udp = ip + headerLength;
  return udp + 8 <= ipv4EndAt ? udp : -1;
}

/** Offset of the value of option `code` in the DHCPv4 options at `start..end`, or -1. */
function scanDhcpOptions(frame: Uint8Array, start: number, end: number, code: number): number {
  let p = start;
  while (p < end) {
    const option = frame[p]!;
    if (option === 255) return -1;
    if (option === 0) {
      p++;
      continue;
    }
    if (p + 2 > end) return -1;
    const value = p + 2;
    const next = value + frame[p + 1]!;
    if (next > end) return -1;
    if (option === code) return value;
    p = next;
  }
  return -1;
}

/**
 * Offset of the value of DHCPv4 option `code` (its length is the byte before), or -1: the options
 * field first, then the file and sname fields when option 52 says they hold options (RFC 2131).
 */
function dhcpOption(frame: Uint8Array, dhcp: number, end: number, code: number): number {
  const found = scanDhcpOptions(frame, dhcp + DHCP_OPTIONS, end, code);
  if (found >= 0) return found;
  const overload = scanDhcpOptions(frame, dhcp + DHCP_OPTIONS, end, DHCP_OPTION_OVERLOAD);
  if (overload < 0 || frame[overload - 1] === 0) return -1;
  const fields = frame[overload]!;
  if ((fields & 1) !== 0) {
    const inFile = scanDhcpOptions(frame, dhcp + DHCP_FILE, dhcp + DHCP_COOKIE, code);
    if (inFile >= 0) return inFile;
  }
  if ((fields & 2) !== 0) return scanDhcpOptions(frame, dhcp + DHCP_SNAME, dhcp + DHCP_FILE, code);
  return -1;
}

/** The DHCP message type (option 53), or -1; the caller has checked the fixed header and cookie. */
function dhcpMessageType(frame: Uint8Array, dhcp: number, end: number): number {
  const at = dhcpOption(frame, dhcp, end, DHCP_OPTION_MESSAGE_TYPE);
  return at >= 0 && frame[at - 1]! >= 1 ? frame[at]! : -1;
}

/** Whether the DHCPv4 message at `dhcp` has its whole fixed header and the magic cookie. */
function hasDhcpCookie(frame: Uint8Array, dhcp: number, end: number): boolean {
  return dhcp + DHCP_OPTIONS <= end && frame[dhcp + DHCP_COOKIE] === 99 &&
    frame[dhcp + DHCP_COOKIE + 1] === 130 && frame[dhcp + DHCP_COOKIE + 2] === 83 &&
    frame[dhcp + DHCP_COOKIE + 3] === 99;
}

function checkLimit(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Invalid address guard ${what} "${value}": expected a positive integer`);
  }
  return value;
}

/**
 * Per-room bindings of addresses to clients, and the check that keeps clients' ARP and ND claims
 * to their own addresses. See the module documentation for the rules.
 *
 * Every table is bounded: DHCP, FCFS and LAN bindings together by `maxBindings`, LAN bindings
 * alone by `maxLanBindings` (half, so LAN hosts cannot crowd out the clients), each client's
 * DHCP and FCFS bindings by `maxPerClient`, clients known to the guard by `maxBindings`. A full
 * table refuses new bindings (an FCFS claim gets `"nd_client_limit"` or `"nd_table_full"`); a
 * live binding is never evicted to make room. Expired bindings go when next looked up, when a
 * full table needs room, or in {@linkcode AddressGuard.expire}. Operator-configured addresses
 * are not limited (the operator bounds them).
 */
export class AddressGuard {
  readonly #maxBindings: number;
  readonly #maxLanBindings: number;
  readonly #maxPerClient: number;
  readonly #fcfsIdleMs: number;
  readonly #lanIdleMs: number;
  readonly #maxLeaseMs: number;
  readonly #table = new Map<AddressKey, Binding>();
  readonly #clients = new Map<number, ClientState>();
  readonly #kinds: Record<BindingKind, number> = {
    configured: 0,
    dhcpv4: 0,
    dhcpv6: 0,
    fcfs: 0,
    lan: 0,
  };
  /** No binding expires before this: a full table is swept only from then on. */
  #nextExpiry = Infinity;
  #leasesNotRecorded = 0;
  #lanNotRecorded = 0;

  /** Throws a `RangeError` for a limit or lifetime that is not a positive integer. */
  constructor(options: AddressGuardOptions = {}) {
    this.#maxBindings = checkLimit(options.maxBindings ?? DEFAULT_MAX_BINDINGS, "maxBindings");
    this.#maxLanBindings = checkLimit(
      options.maxLanBindings ?? Math.max(1, Math.floor(this.#maxBindings / 2)),
      "maxLanBindings",
    );
    this.#maxPerClient = checkLimit(
      options.maxPerClient ?? DEFAULT_MAX_PER_CLIENT,
      "maxPerClient",
    );
    this.#fcfsIdleMs = checkLimit(options.fcfsIdleMs ?? DEFAULT_FCFS_IDLE_MS, "fcfsIdleMs");
    this.#lanIdleMs = checkLimit(options.lanIdleMs ?? DEFAULT_LAN_IDLE_MS, "lanIdleMs");
    this.#maxLeaseMs = checkLimit(options.maxLeaseMs ?? DEFAULT_MAX_LEASE_MS, "maxLeaseMs");
  }

  /**
   * Sets the operator-configured addresses (IPv4 or IPv6 text) of the client whose MAC key is
   * `clientMacKey`, replacing its earlier configuration; `[]` removes it. A configured address is
   * the client's whatever else held it (another client's configuration, a lease, an FCFS or LAN
   * binding). Configuration outlives {@linkcode AddressGuard.forget}: it belongs to the MAC, not
   * to one session. Throws a `TypeError` for text that is not an address, changing nothing.
   */
  configure(clientMacKey: number, addresses: readonly string[]): void {
    const keys = [...new Set(addresses.map(parseKey))];
    const state = this.#clients.get(clientMacKey);
    if (state !== undefined) {
      for (const key of state.configured) {
        const binding = this.#table.get(key);
        if (binding?.kind === "configured" && binding.owner === clientMacKey) {
          this.#remove(key, binding);
        }
      }
      state.configured = [];
    }
    if (keys.length === 0) {
      if (state !== undefined && state.dynamic.size === 0) this.#clients.delete(clientMacKey);
      return;
    }
    // The operator's word is not refused for a full client table.
    let owner = state;
    if (owner === undefined) {
      owner = { configured: [], dynamic: new Set() };
      this.#clients.set(clientMacKey, owner);
    }
    for (const key of keys) {
      const existing = this.#table.get(key);
      if (existing !== undefined) this.#remove(key, existing);
      this.#table.set(key, { kind: "configured", owner: clientMacKey, expires: Infinity });
      this.#kinds.configured++;
    }
    owner.configured = keys;
  }

  /**
   * Forgets a client that left for good: its DHCP leases and FCFS bindings go (its configured
   * addresses stay; see {@linkcode AddressGuard.configure}).
   */
  forget(clientMacKey: number): void {
    const state = this.#clients.get(clientMacKey);
    if (state === undefined) return;
    for (const key of state.dynamic) {
      const binding = this.#table.get(key);
      if (binding !== undefined) this.#remove(key, binding);
    }
    if (state.configured.length === 0) this.#clients.delete(clientMacKey);
  }

  /**
   * Learns from a frame the relay forwards from the gateway (the LAN side) or from another client
   * (`fromGateway` false: ignored, a client's claims go through {@linkcode AddressGuard.check};
   * the safety filter already dropped DHCP server messages from clients).
   *
   * From the gateway:
   * - DHCPv4 ACK (UDP 67 → 68, op 2, option 53 = 5) binds `yiaddr` to the client whose MAC is
   *   `chaddr`, until the lease (option 51; missing or infinite: the cap) ends; NAK (53 = 6)
   *   clears that client's DHCPv4 leases;
   * - DHCPv6 Reply (UDP 547 → 546) binds every IA_NA/IA_TA address to the client whose MAC is the
   *   destination MAC, for its valid lifetime (0 removes it);
   * - the LAN claims the target of an NA and the source of an NS with a source link-layer option
   *   (both take the address from an FCFS binding), and the target of a DAD NS (only when free).
   *
   * Only clients the guard knows get leases: those that sent a DHCP message through
   * {@linkcode AddressGuard.check}, or have configured addresses or bindings. DHCP overrides
   * every binding but a configured one. Never throws; allocates only for DHCP and ND frames.
   */
  observe(frame: Uint8Array, fromGateway: boolean, now: number): void {
    if (!fromGateway) return;
    const l3 = ethernetHeaderLengthAt(frame);
    if (l3 < 0) return;
    const etherType = u16(frame, l3 - 2);
    if (etherType === EtherType.IPV4) this.#observeIpv4(frame, l3, now);
    else if (etherType === EtherType.IPV6) this.#observeIpv6(frame, l3, now);
  }

  /**
   * Checks a frame from a client (its Ethernet source already verified to be `clientMac`, whose
   * key is `clientMacKey`): `null` to forward it, or why to drop it.
   *
   * - ARP: the sender hardware address must be `clientMac`; the sender protocol address must be
   *   0.0.0.0 (a probe) or leased or configured for the client.
   * - ICMPv6 RS, RA, NS, NA and Redirect with hop limit 255 and code 0 (others are not ND and
   *   pass): every source/target link-layer address option must be `clientMac`; the target of an
   *   NA, of a DAD NS (source ::) and of a Redirect with a target link-layer option, and the
   *   source of an NS or RS with a source link-layer option, must be the client's: configured,
   *   leased, or bound to it first-come-first-served. A free address is bound to the client (or
   *   refused when its or the room's table is full); each claim refreshes the binding.
   * - DHCPv4 requests must carry the client's MAC as `chaddr`; a RELEASE frees the client's lease
   *   and is dropped for an address another holds. A DHCPv6 Release or Decline frees the client's
   *   addresses and is dropped when one of them is another's.
   * - Everything else: `null`.
   *
   * Allocation-free for frames other than ARP, ND and DHCP; never throws (given a 6-byte
   * `clientMac`).
   */
  check(
    clientMacKey: number,
    clientMac: Uint8Array,
    frame: Uint8Array,
    now: number,
  ): GuardDrop | null {
    const l3 = ethernetHeaderLengthAt(frame);
    if (l3 < 0) return null;
    const etherType = u16(frame, l3 - 2);
    if (etherType === EtherType.ARP) return this.#checkArp(clientMacKey, clientMac, frame, l3, now);
    if (etherType === EtherType.IPV4) {
      const udp = ipv4Udp(frame, l3);
      if (udp < 0 || u16(frame, udp + 2) !== DHCPV4_SERVER_PORT) return null;
      return this.#checkDhcpv4Request(clientMacKey, clientMac, frame, udp + 8, ipv4EndAt, now);
    }
    if (etherType === EtherType.IPV6) {
      return this.#checkIpv6(clientMacKey, clientMac, frame, l3, now);
    }
    return null;
  }

  /** {@linkcode expire}, when a binding is due by now: cheap to call every second. */
  expireDue(now: number): number {
    return now >= this.#nextExpiry ? this.expire(now) : 0;
  }

  /**
   * Removes every binding that expired by `now` and returns how many. Optional: expired bindings
   * are never honoured, and a full table sweeps itself; call it to free memory sooner.
   */
  expire(now: number): number {
    let removed = 0;
    let next = Infinity;
    for (const [key, binding] of this.#table) {
      if (binding.expires <= now) {
        this.#remove(key, binding);
        removed++;
      } else if (binding.expires < next) next = binding.expires;
    }
    this.#nextExpiry = next;
    return removed;
  }

  /**
   * Counts for status: bindings by kind (`configured`, `dhcpv4`, `dhcpv6`, `fcfs`, `lan`), the
   * clients the guard knows (`clients`), and DHCP leases and LAN claims it could not record
   * (`leases_not_recorded`: unknown client, conflict with a configured address, or a full table;
   * `lan_not_recorded`: full table). With `now`, expired bindings are removed first.
   */
  status(now?: number): Record<string, number> {
    if (now !== undefined) this.expire(now);
    return {
      ...this.#kinds,
      clients: this.#clients.size,
      leases_not_recorded: this.#leasesNotRecorded,
      lan_not_recorded: this.#lanNotRecorded,
    };
  }

  /** Every binding, for display; with `now`, expired bindings are removed first. */
  bindings(now?: number): AddressBinding[] {
    if (now !== undefined) this.expire(now);
    return [...this.#table].map(([key, binding]) => ({
      address: formatKey(key),
      kind: binding.kind,
      client: binding.owner === LAN ? null : binding.owner,
      expires: binding.expires === Infinity ? null : binding.expires,
    }));
  }

  // ---- checks on client frames -------------------------------------------------------------

  #checkArp(
    clientMacKey: number,
    clientMac: Uint8Array,
    frame: Uint8Array,
    arp: number,
    now: number,
  ): GuardDrop | null {
    // Hosts ignore ARP whose address lengths do not fit Ethernet and IPv4; Linux accepts
    // hardware types 1 and 6 alike, so the hardware and protocol types are not trusted to skip.
    if (arp + ARP_LEN > frame.length || frame[arp + 4] !== MAC_LEN || frame[arp + 5] !== 4) {
      return "arp_malformed";
    }
    if (!macEquals(frame, arp + ARP_SENDER_MAC, clientMac, 0)) return "arp_sender_mac";
    const senderIp = u32(frame, arp + ARP_SENDER_IP);
    if (senderIp === 0) return null;
    const binding = this.#live(senderIp, now);
    return binding !== undefined && binding.owner === clientMacKey ? null : "arp_sender_ip";
  }

  #checkDhcpv4Request(
    clientMacKey: number,
    clientMac: Uint8Array,
    frame: Uint8Array,
    dhcp: number,
    end: number,
    now: number,
  ): GuardDrop | null {
    if (dhcp + DHCP_SNAME > end || frame[dhcp] !== BOOTREQUEST) return null;
    if (
      frame[dhcp + 1] !== 1 || frame[dhcp + 2] !== MAC_LEN ||
      !macEquals(frame, dhcp + DHCP_CHADDR, clientMac, 0)
    ) {
      return "dhcp_chaddr";
    }
    this.#client(clientMacKey);
    if (!hasDhcpCookie(frame, dhcp, end)) return null;
    if (dhcpMessageType(frame, dhcp, end) !== DHCPRELEASE) return null;
    const ciaddr = u32(frame, dhcp + DHCP_CIADDR);
    const binding = this.#live(ciaddr, now);
    if (binding === undefined) return null;
    if (binding.owner !== clientMacKey) return "dhcp_release";
    if (binding.kind === "dhcpv4") this.#remove(ciaddr, binding);
    return null;
  }

  #checkIpv6(
    clientMacKey: number,
    clientMac: Uint8Array,
    frame: Uint8Array,
    ip: number,
    now: number,
  ): GuardDrop | null {
    if (ip + IPV6_HEADER_LEN > frame.length || frame[ip]! >>> 4 !== 6) return null;
    const end = ipv6End(frame, ip);
    const upper = ipv6UpperLayer(frame, ip, end);
    if (upper < 0) return null;
    if (upperProtocol === IpProtocol.ICMPV6) {
      // A first fragment too short to show the ICMPv6 type could be ND whose options follow.
      if (upper >= end) return upperFragmented ? "nd_fragmented" : null;
      const type = frame[upper]!;
      if (type < ICMPV6_ROUTER_SOLICITATION || type > ICMPV6_REDIRECT) return null;
      if (upperFragmented) return "nd_fragmented";
      if (frame[ip + 7] !== ND_HOP_LIMIT) return null;
      if (upper + 2 > end) return "nd_malformed";
      if (frame[upper + 1] !== 0) return null;
      return this.#checkNd(clientMacKey, clientMac, frame, ip, upper, end, now);
    }
    if (upperProtocol === IpProtocol.UDP) {
      if (upper + 8 > end || u16(frame, upper + 2) !== DHCPV6_SERVER_PORT) return null;
      const message = upper + 8;
      if (message + 4 > end) return null;
      this.#client(clientMacKey);
      const type = frame[message]!;
      if (type !== DHCPV6_RELEASE && type !== DHCPV6_DECLINE) return null;
      if (this.#walkIa(frame, message + 4, end, IaWalk.VERIFY, clientMacKey, now)) {
        return "dhcp_release";
      }
      this.#walkIa(frame, message + 4, end, IaWalk.FREE, clientMacKey, now);
    }
    return null;
  }

  #checkNd(
    clientMacKey: number,
    clientMac: Uint8Array,
    frame: Uint8Array,
    ip: number,
    icmp: number,
    end: number,
    now: number,
  ): GuardDrop | null {
    const type = frame[icmp]!;
    const fixed = type === ICMPV6_ROUTER_SOLICITATION
      ? 8
      : type === ICMPV6_ROUTER_ADVERTISEMENT
      ? 16
      : type === ICMPV6_REDIRECT
      ? 40
      : 24;
    if (icmp + fixed > end) return "nd_malformed";
    let sourceLladdr = false;
    let targetLladdr = false;
    // RFC 4861: a node drops ND with an option of length 0; one running past the end is as bad.
    for (let p = icmp + fixed; p < end;) {
      if (p + 2 > end) return "nd_malformed";
      const length = frame[p + 1]! * 8;
      if (length === 0 || p + length > end) return "nd_malformed";
      const option = frame[p]!;
      if (option === ND_OPTION_SOURCE_LLADDR || option === ND_OPTION_TARGET_LLADDR) {
        if (!macEquals(frame, p + 2, clientMac, 0)) return "nd_lladdr";
        if (option === ND_OPTION_SOURCE_LLADDR) sourceLladdr = true;
        else targetLladdr = true;
      }
      p += length;
    }
    const target = icmp + 8;
    const fromUnspecified = isUnspecifiedIpv6(frame, ip + IPV6_SRC);
    switch (type) {
      case ICMPV6_NEIGHBOR_ADVERTISEMENT:
        return this.#claim(clientMacKey, frame, target, now, "nd_target");
      case ICMPV6_NEIGHBOR_SOLICITATION:
        if (fromUnspecified) return this.#claim(clientMacKey, frame, target, now, "nd_target");
        return sourceLladdr
          ? this.#claim(clientMacKey, frame, ip + IPV6_SRC, now, "nd_source")
          : null;
      case ICMPV6_ROUTER_SOLICITATION:
        return sourceLladdr && !fromUnspecified
          ? this.#claim(clientMacKey, frame, ip + IPV6_SRC, now, "nd_source")
          : null;
      case ICMPV6_REDIRECT:
        // A Redirect's target link-layer option updates the receiver's cache for the target.
        return targetLladdr ? this.#claim(clientMacKey, frame, target, now, "nd_target") : null;
      default:
        return null;
    }
  }

  /** A client claims the IPv6 address at `at`: `null` when it is (or now becomes) its own. */
  #claim(
    clientMacKey: number,
    frame: Uint8Array,
    at: number,
    now: number,
    reason: GuardDrop,
  ): GuardDrop | null {
    if (!isClaimableIpv6(frame, at)) return reason;
    const key = ipv6Key(frame, at);
    const binding = this.#live(key, now);
    if (binding !== undefined) {
      if (binding.owner !== clientMacKey) return reason;
      if (binding.kind === "fcfs") binding.expires = now + this.#fcfsIdleMs;
      return null;
    }
    const result = this.#bind(key, "fcfs", clientMacKey, now + this.#fcfsIdleMs, now);
    return result === Bind.OK
      ? null
      : result === Bind.CLIENT_FULL
      ? "nd_client_limit"
      : "nd_table_full";
  }

  // ---- learning from the gateway -----------------------------------------------------------

  #observeIpv4(frame: Uint8Array, ip: number, now: number): void {
    const udp = ipv4Udp(frame, ip);
    if (
      udp < 0 || u16(frame, udp) !== DHCPV4_SERVER_PORT ||
      u16(frame, udp + 2) !== DHCPV4_CLIENT_PORT
    ) {
      return;
    }
    const dhcp = udp + 8;
    const end = ipv4EndAt;
    if (!hasDhcpCookie(frame, dhcp, end) || frame[dhcp] !== BOOTREPLY) return;
    if (frame[dhcp + 1] !== 1 || frame[dhcp + 2] !== MAC_LEN) return;
    const type = dhcpMessageType(frame, dhcp, end);
    if (type !== DHCPACK && type !== DHCPNAK) return;
    const owner = macKey(frame, dhcp + DHCP_CHADDR);
    const state = this.#clients.get(owner);
    if (type === DHCPNAK) {
      if (state === undefined) return;
      for (const key of state.dynamic) {
        const binding = this.#table.get(key);
        if (binding?.kind === "dhcpv4") this.#remove(key, binding);
      }
      return;
    }
    const address = u32(frame, dhcp + DHCP_YIADDR);
    if (address === 0) return; // an ACK to DHCPINFORM leases nothing
    const leaseAt = dhcpOption(frame, dhcp, end, DHCP_OPTION_LEASE_TIME);
    const seconds = leaseAt >= 0 && frame[leaseAt - 1]! >= 4 ? u32(frame, leaseAt) : Infinity;
    this.#lease(address, "dhcpv4", owner, Math.min(seconds * 1000, this.#maxLeaseMs), now);
  }

  #observeIpv6(frame: Uint8Array, ip: number, now: number): void {
    if (ip + IPV6_HEADER_LEN > frame.length || frame[ip]! >>> 4 !== 6) return;
    const end = ipv6End(frame, ip);
    const upper = ipv6UpperLayer(frame, ip, end);
    if (upper < 0) return;
    if (upperProtocol === IpProtocol.UDP) {
      if (
        upper + 8 > end || u16(frame, upper) !== DHCPV6_SERVER_PORT ||
        u16(frame, upper + 2) !== DHCPV6_CLIENT_PORT
      ) {
        return;
      }
      const message = upper + 8;
      if (message + 4 > end || frame[message] !== DHCPV6_REPLY || (frame[0]! & 1) !== 0) return;
      this.#walkIa(frame, message + 4, end, IaWalk.BIND, macKey(frame, 0), now);
      return;
    }
    if (upperProtocol !== IpProtocol.ICMPV6 || upperFragmented) return;
    if (upper + 24 > end || frame[ip + 7] !== ND_HOP_LIMIT || frame[upper + 1] !== 0) return;
    const type = frame[upper]!;
    if (type !== ICMPV6_NEIGHBOR_ADVERTISEMENT && type !== ICMPV6_NEIGHBOR_SOLICITATION) return;
    // A client's own frame looping back through the LAN must not make its address the LAN's.
    if (this.#clients.has(macKey(frame, MAC_LEN))) return;
    if (type === ICMPV6_NEIGHBOR_ADVERTISEMENT) {
      this.#learnLan(frame, upper + 8, now, true);
    } else if (isUnspecifiedIpv6(frame, ip + IPV6_SRC)) {
      this.#learnLan(frame, upper + 8, now, false);
    } else if (hasSourceLladdr(frame, upper + 24, end)) {
      this.#learnLan(frame, ip + IPV6_SRC, now, true);
    }
  }

  /** The LAN claims the IPv6 address at `at`; `takeFcfs` lets it take one a client holds FCFS. */
  #learnLan(frame: Uint8Array, at: number, now: number, takeFcfs: boolean): void {
    if (!isClaimableIpv6(frame, at)) return;
    const key = ipv6Key(frame, at);
    const binding = this.#live(key, now);
    if (binding !== undefined) {
      if (binding.kind === "lan") {
        binding.expires = now + this.#lanIdleMs;
        return;
      }
      if (binding.kind !== "fcfs" || !takeFcfs) return;
      this.#remove(key, binding);
    }
    if (this.#bind(key, "lan", LAN, now + this.#lanIdleMs, now) !== Bind.OK) {
      this.#lanNotRecorded++;
    }
  }

  /** The DHCP server leased `key` to `owner` for `ms` (0: the lease ended). */
  #lease(key: AddressKey, kind: BindingKind, owner: number, ms: number, now: number): void {
    const binding = this.#live(key, now);
    if (ms <= 0) {
      if (binding?.kind === kind && binding.owner === owner) this.#remove(key, binding);
      return;
    }
    if (binding !== undefined) {
      if (binding.kind === "configured") {
        if (binding.owner !== owner) this.#leasesNotRecorded++;
        return;
      }
      if (binding.kind === kind && binding.owner === owner) {
        binding.expires = now + ms;
        if (binding.expires < this.#nextExpiry) this.#nextExpiry = binding.expires;
        return;
      }
      // The server is the authority: it gave the address away from whoever held it.
      this.#remove(key, binding);
    }
    if (!this.#clients.has(owner)) {
      this.#leasesNotRecorded++;
      return;
    }
    if (this.#bind(key, kind, owner, now + ms, now) !== Bind.OK) this.#leasesNotRecorded++;
  }

  /**
   * Walks the IA_NA and IA_TA options of the DHCPv6 options at `start..end`, doing `mode` to each
   * IA address: BIND it to `owner` for its valid lifetime, VERIFY it is not another's (returns
   * true at the first that is), or FREE `owner`'s DHCPv6 binding of it.
   */
  #walkIa(
    frame: Uint8Array,
    start: number,
    end: number,
    mode: IaWalk,
    owner: number,
    now: number,
  ): boolean {
    for (let p = start; p + 4 <= end;) {
      const code = u16(frame, p);
      const body = p + 4;
      const next = body + u16(frame, p + 2);
      if (next > end) return false;
      p = next;
      const inner = code === DHCPV6_OPTION_IA_NA
        ? body + 12
        : code === DHCPV6_OPTION_IA_TA
        ? body + 4
        : -1;
      if (inner < 0) continue;
      for (let q = inner; q + 4 <= next;) {
        const value = q + 4;
        const length = u16(frame, q + 2);
        const after = value + length;
        if (after > next) break;
        if (u16(frame, q) === DHCPV6_OPTION_IAADDR && length >= 24) {
          if (isClaimableIpv6(frame, value)) {
            const key = ipv6Key(frame, value);
            if (mode === IaWalk.BIND) {
              const ms = Math.min(u32(frame, value + 20) * 1000, this.#maxLeaseMs);
              this.#lease(key, "dhcpv6", owner, ms, now);
            } else {
              const binding = this.#live(key, now);
              if (binding !== undefined) {
                if (binding.owner !== owner) {
                  if (mode === IaWalk.VERIFY) return true;
                } else if (mode === IaWalk.FREE && binding.kind === "dhcpv6") {
                  this.#remove(key, binding);
                }
              }
            }
          }
        }
        q = after;
      }
    }
    return false;
  }

  // ---- the tables ----------------------------------------------------------------------------

  /** The live binding of `key`; an expired one is removed on the way. */
  #live(key: AddressKey, now: number): Binding | undefined {
    const binding = this.#table.get(key);
    if (binding === undefined || binding.expires > now) return binding;
    this.#remove(key, binding);
    return undefined;
  }

  /** The state of a client, created (it becomes known) unless the client table is full. */
  #client(clientMacKey: number): ClientState | undefined {
    let state = this.#clients.get(clientMacKey);
    if (state !== undefined) return state;
    if (this.#clients.size >= this.#maxBindings) {
      for (const [key, other] of this.#clients) {
        if (other.dynamic.size === 0 && other.configured.length === 0) this.#clients.delete(key);
      }
      if (this.#clients.size >= this.#maxBindings) return undefined;
    }
    state = { configured: [], dynamic: new Set() };
    this.#clients.set(clientMacKey, state);
    return state;
  }

  /** Records a new DHCP, FCFS or LAN binding of `key`, which has no live binding now. */
  #bind(key: AddressKey, kind: BindingKind, owner: number, expires: number, now: number): Bind {
    let state: ClientState | undefined;
    if (owner !== LAN) {
      state = this.#client(owner);
      if (state === undefined) return Bind.TABLE_FULL;
      if (state.dynamic.size >= this.#maxPerClient) {
        for (const held of state.dynamic) this.#live(held, now);
        if (state.dynamic.size >= this.#maxPerClient) return Bind.CLIENT_FULL;
      }
    }
    if (owner === LAN && this.#kinds.lan >= this.#maxLanBindings) {
      if (now >= this.#nextExpiry) this.expire(now);
      if (this.#kinds.lan >= this.#maxLanBindings) return Bind.TABLE_FULL;
    }
    if (this.#table.size - this.#kinds.configured >= this.#maxBindings) {
      if (now >= this.#nextExpiry) this.expire(now);
      if (this.#table.size - this.#kinds.configured >= this.#maxBindings) return Bind.TABLE_FULL;
    }
    this.#table.set(key, { kind, owner, expires });
    this.#kinds[kind]++;
    state?.dynamic.add(key);
    if (expires < this.#nextExpiry) this.#nextExpiry = expires;
    return Bind.OK;
  }

  #remove(key: AddressKey, binding: Binding): void {
    this.#table.delete(key);
    this.#kinds[binding.kind]--;
    if (binding.owner === LAN) return;
    const state = this.#clients.get(binding.owner);
    if (state === undefined) return;
    if (binding.kind === "configured") {
      state.configured = state.configured.filter((configured) => configured !== key);
    } else {
      state.dynamic.delete(key);
    }
  }
}

/** Whether the ND options at `start..end` hold a source link-layer address option. */
function hasSourceLladdr(frame: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p + 2 <= end;) {
    const length = frame[p + 1]! * 8;
    if (length === 0 || p + length > end) return false;
    if (frame[p] === ND_OPTION_SOURCE_LLADDR) return true;
    p += length;
  }
  return false;
}
