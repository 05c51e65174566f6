/**
 * The kernel side of multicast routing: the raw socket that owns (or, without owning, edits) a
 * multicast routing table, the kernel structs it takes, the upcalls it reads, and the kernel's
 * own view of routes and VIFs.
 *
 * The structs (`vifctl`, `mfcctl`, `mif6ctl`, `mf6cctl`, the counter requests and the upcall
 * messages) are built and read here as bytes, at offsets that `lib/mroute/kernel_test.ts`
 * compares with the C compiler's (`nk_layout`). Integers are host order (little endian on the
 * x86_64 and aarch64 hosts netkit runs on); only addresses are network order, copied as bytes.
 *
 * Facts worth knowing (Linux 6.18, checked by `tests/integration/mroute_kernel_test.ts`):
 * - One owner (`MRT_INIT`) per network namespace, table and family; a second gets `EADDRINUSE`.
 * - Closing the owner removes the VIFs and routes it installed. A socket that does not own the
 *   table may change it with CAP_NET_ADMIN; what it installs is static and survives the owner
 *   (but only forwards while some owner exists in the namespace). `MRT_FLUSH` with the static
 *   flags removes it.
 * - VIFs must exist before a route names them: an output on a missing VIF is silently dropped,
 *   so routes must be installed again after adding a VIF. One (S,G) has one iif: adding it again
 *   replaces the entry in place.
 * - A native (*,G) is an entry with source 0 whose TTLs include its own parent: the kernel then
 *   forwards every source without an upcall (never back out of the arriving interface).
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, NetkitOsError } from "../errors.ts";
import { interfaceIndex } from "../net/interfaces.ts";
import { OwnedFd } from "../net/owned_fd.ts";
import { RtnetlinkSocket } from "../net/rtnetlink.ts";
import { formatIpv4 } from "../packet/ipv4.ts";
import { formatIpv6 } from "../packet/ipv6.ts";
import {
  encodeGetMroutes,
  encodeGetVifTables,
  type KernelRoute,
  type KernelVif,
  netlinkDump,
  parseMroute,
  parseProcMifs,
  parseVifTable,
} from "./kernel_netlink.ts";

export type { KernelOif, KernelRoute, KernelVif } from "./kernel_netlink.ts";

/** IP version of a multicast routing table. */
export type IpFamily = 4 | 6;

/** VIFs (MIFs) per table and family: `MAXVIFS` / `MAXMIFS`. */
export const MAXVIFS = 32;

/**
 * The id of the table used when none is chosen: 253 (`RT_TABLE_DEFAULT`) for IPv4, 254
 * (`RT_TABLE_MAIN`, the kernel's `RT6_TABLE_DFLT`) for IPv6.
 */
export const DEFAULT_TABLE: Readonly<Record<IpFamily, number>> = { 4: 253, 6: 254 };

/** `MRT_FLUSH` / `MRT6_FLUSH` flags. */
export const MrtFlush = {
  /** Routes installed by the owner. */
  MFC: 1,
  /** Static routes (installed by non-owner sockets or netlink). */
  MFC_STATIC: 2,
  /** VIFs added by the owner. */
  VIFS: 4,
  /** Static VIFs. */
  VIFS_STATIC: 8,
  /** Everything. */
  ALL: 15,
} as const;

/** `vifc_flags` / `mif6c_flags` bits as the kernel reports them. */
export const VifFlag = {
  /** IPv4: IP-in-IP tunnel VIF. */
  TUNNEL: 0x1,
  /** IPv4: PIM register VIF (IPv6 `MIFF_REGISTER` is 0x1). */
  REGISTER: 0x4,
  /** IPv4: the VIF was given by ifindex (netkit always does). */
  USE_IFINDEX: 0x8,
  /** Added by the kernel to VIFs a non-owner socket created: they survive the owner. */
  STATIC: 0x8000,
} as const;

/** `struct vifctl` (IPv4 `MRT_ADD_VIF`/`MRT_DEL_VIF`), offsets checked against C. */
export const VIFCTL = {
  size: 16,
  vifi: 0,
  flags: 2,
  threshold: 3,
  rateLimit: 4,
  ifindex: 8,
  remoteAddr: 12,
} as const;
/** `struct mfcctl`: 60 bytes, 2 padding bytes at 42 (after the TTLs). */
export const MFCCTL = { size: 60, origin: 0, group: 4, parent: 8, ttls: 10, pktCount: 44 } as const;
/** `struct mif6ctl` (IPv6 `MRT6_ADD_MIF`). */
export const MIF6CTL = {
  size: 12,
  mifi: 0,
  flags: 2,
  threshold: 3,
  ifindex: 4,
  rateLimit: 8,
} as const;
/** `struct sockaddr_in6`. */
export const SOCKADDR_IN6 = { size: 28, family: 0, addr: 8 } as const;
/** `struct mf6cctl`: 92 bytes, 2 padding bytes at 58, the `if_set` bitmap at 60. */
export const MF6CCTL = { size: 92, origin: 0, group: 28, parent: 56, ifset: 60 } as const;
/** `struct sioc_sg_req` (`SIOCGETSGCNT`); counters are 8-byte `unsigned long`. */
export const SIOC_SG_REQ = {
  size: 32,
  src: 0,
  grp: 4,
  pktcnt: 8,
  bytecnt: 16,
  wrongIf: 24,
} as const;
/** `struct sioc_sg_req6` (`SIOCGETSGCNT_IN6`). */
export const SIOC_SG_REQ6 = {
  size: 80,
  src: 0,
  grp: 28,
  pktcnt: 56,
  bytecnt: 64,
  wrongIf: 72,
} as const;
/** `struct sioc_vif_req` (`SIOCGETVIFCNT`); `struct sioc_mif_req6` has the same layout. */
export const SIOC_VIF_REQ = {
  size: 40,
  vifi: 0,
  icount: 8,
  ocount: 16,
  ibytes: 24,
  obytes: 32,
} as const;
/** `struct igmpmsg`: an IPv4 upcall, overlaid on a copy of the packet's IPv4 header. */
export const IGMPMSG = {
  size: 20,
  msgtype: 8,
  mbz: 9,
  vif: 10,
  vifHi: 11,
  src: 12,
  dst: 16,
} as const;
/** `struct mrt6msg`: an IPv6 upcall, the whole payload of the ICMPv6 raw read. */
export const MRT6MSG = { size: 40, mbz: 0, msgtype: 1, mif: 2, src: 8, dst: 24 } as const;

const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const AF_INET6 = 10;
const MRT_ADD_VIF = 202;
const MRT_DEL_VIF = 203;
const MRT_ADD_MFC = 204;
const MRT_DEL_MFC = 205;
const MRT_FLUSH = 212;
const SIOCGETVIFCNT = 0x89e0;
const SIOCGETSGCNT = 0x89e1;
const VIFF_USE_IFINDEX = 0x8;
// Not in ffi/errno.ts's Errno (which lists the values netkit tests for by name).
/** Receive buffer of an owner socket unless told otherwise: room for bursts of upcalls. */
const DEFAULT_OWNER_RCVBUF = 1 << 20;
/** Upcalls are small (NOCACHE: IP header + 8 bytes); a whole-packet one is cut here. */
const UPCALL_BUFFER_BYTES = 2048;

/** One kernel route to install: (S,G) or (*,G), its iif VIF and its outputs. */
export interface KernelMfc {
  /** 4 or 16 bytes, network order; all zero for (*,G). */
  source: Uint8Array;
  /** 4 or 16 bytes, network order. */
  group: Uint8Array;
  /** The iif VIF. */
  parent: number;
  /**
   * TTL threshold per VIF (at most 32 entries; missing ones are 0): 0 = not an output, N = forward
   * when the packet's TTL > N (1 is usual). For (*,G) the parent must be included with a non-zero
   * TTL so that the kernel forwards every source natively. IPv6 has no per-output TTL: any value
   * > 0 makes the VIF an output. A plain array will do: the daemon builds one per route.
   */
  ttls: ArrayLike<number>;
}

/** The key of a kernel route: the kernel matches (S,G) only, `parent` is passed along. */
export type KernelMfcKey = Pick<KernelMfc, "source" | "group" | "parent">;

/** Upcall kinds: `IGMPMSG_*` / `MRT6MSG_*` 1..4. */
export const UPCALL_KINDS = ["nocache", "wrongvif", "wholepkt", "wrvifwhole"] as const;

/** A message from the kernel to the table's owner. */
export interface Upcall {
  /**
   * `nocache`: a packet matched no route (up to 4 are queued for 10 s while the daemon decides);
   * `wrongvif`: a packet arrived on a VIF that is an output of its route but not its iif (at
   * most one per route per 3 s); the others are PIM register messages.
   */
  kind: (typeof UPCALL_KINDS)[number];
  family: IpFamily;
  /** The VIF the packet arrived on. */
  vif: number;
  source: Uint8Array;
  group: Uint8Array;
}

/** Packet and byte counters of one route (`SIOCGETSGCNT`). */
export interface RouteCounters {
  /** Packets that matched, wrong-interface ones included. */
  packets: bigint;
  bytes: bigint;
  /** Packets that arrived on another interface than the iif (dropped). */
  wrongIf: bigint;
}

/** Counters of one VIF (`SIOCGETVIFCNT`). */
export interface VifCounters {
  packetsIn: bigint;
  bytesIn: bigint;
  packetsOut: bigint;
  bytesOut: bigint;
}

/** A failed record of a batch: its index in the input and the errno. */
export interface BatchFailure {
  index: number;
  errno: number;
}

function checkInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from ${min} to ${max}`);
  }
}

function checkAddress(address: Uint8Array, length: number, what: string): void {
  if (address.length !== length) {
    throw new RangeError(`Invalid ${what}: expected ${length} bytes, got ${address.length}`);
  }
}

function addressLength(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

function familyName(family: IpFamily): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** The id `table` names: 0 is the family's default table. */
function resolveTable(family: IpFamily, table: number): number {
  return table === 0 ? DEFAULT_TABLE[family] : table;
}

/** An address for messages (already checked to be 4 or 16 bytes). */
function formatAddress(address: Uint8Array): string {
  return address.length === 4 ? formatIpv4(address) : formatIpv6(address);
}

function describeRoute(mfc: KernelMfcKey): string {
  return `(${formatAddress(mfc.source)}, ${formatAddress(mfc.group)})`;
}

function checkTtls(ttls: ArrayLike<number>): void {
  if (ttls.length > MAXVIFS) {
    throw new RangeError(
      `Invalid TTL vector: expected at most ${MAXVIFS} entries, got ${ttls.length}`,
    );
  }
  for (let vif = 0; vif < ttls.length; vif++) {
    const ttl = ttls[vif]!;
    if (!(ttl >= 0 && ttl <= 255 && Number.isInteger(ttl))) {
      checkInt(ttl, 0, 255, `TTL of VIF ${vif}`);
    }
  }
}

/**
 * Encodes `struct vifctl` for `MRT_ADD_VIF` (and, with any ifindex, `MRT_DEL_VIF`): the VIF is
 * given by interface index (`VIFF_USE_IFINDEX`), so the interface needs no IPv4 address.
 * `threshold`: packets leave through this VIF only when their TTL is greater.
 */
export function encodeVifctl(vif: number, ifindex: number, threshold: number): Uint8Array {
  checkInt(vif, 0, MAXVIFS - 1, "VIF");
  checkInt(ifindex, 0, 0x7fffffff, "interface index");
  checkInt(threshold, 0, 255, "TTL threshold");
  const bytes = new Uint8Array(VIFCTL.size);
  const view = new DataView(bytes.buffer);
  view.setUint16(VIFCTL.vifi, vif, true);
  bytes[VIFCTL.flags] = VIFF_USE_IFINDEX;
  bytes[VIFCTL.threshold] = threshold;
  view.setInt32(VIFCTL.ifindex, ifindex, true);
  return bytes;
}

/** Encodes `struct mif6ctl` for `MRT6_ADD_MIF` (the ifindex field is 16 bits wide). */
export function encodeMif6ctl(vif: number, ifindex: number, threshold: number): Uint8Array {
  checkInt(vif, 0, MAXVIFS - 1, "VIF");
  checkInt(ifindex, 0, 0xffff, "interface index (IPv6 VIFs take 16 bits)");
  checkInt(threshold, 0, 255, "TTL threshold");
  const bytes = new Uint8Array(MIF6CTL.size);
  const view = new DataView(bytes.buffer);
  view.setUint16(MIF6CTL.mifi, vif, true);
  bytes[MIF6CTL.threshold] = threshold;
  view.setUint16(MIF6CTL.ifindex, ifindex, true);
  return bytes;
}

/**
 * A buffer of zeroed records and a view on it. Records are written in place at their offset:
 * a batch holds thousands, and a view per record would cost more than the record.
 */
interface RecordBuffer {
  bytes: Uint8Array;
  view: DataView;
}

function recordBuffer(size: number): RecordBuffer {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

/** Writes `struct mfcctl` (60 bytes) at `offset`, which must be zeroed. */
function writeMfcctl(
  { bytes, view }: RecordBuffer,
  offset: number,
  mfc: KernelMfcKey,
  ttls: ArrayLike<number>,
): void {
  checkAddress(mfc.source, 4, "IPv4 source address");
  checkAddress(mfc.group, 4, "IPv4 group address");
  checkInt(mfc.parent, 0, MAXVIFS - 1, "parent VIF");
  checkTtls(ttls);
  bytes.set(mfc.source, offset + MFCCTL.origin);
  bytes.set(mfc.group, offset + MFCCTL.group);
  view.setUint16(offset + MFCCTL.parent, mfc.parent, true);
  bytes.set(ttls, offset + MFCCTL.ttls);
}

/** Writes `struct mf6cctl` (92 bytes) at `offset`, which must be zeroed. */
function writeMf6cctl(
  { bytes, view }: RecordBuffer,
  offset: number,
  mfc: KernelMfcKey,
  ttls: ArrayLike<number>,
): void {
  checkAddress(mfc.source, 16, "IPv6 source address");
  checkAddress(mfc.group, 16, "IPv6 group address");
  checkInt(mfc.parent, 0, MAXVIFS - 1, "parent VIF");
  checkTtls(ttls);
  view.setUint16(offset + MF6CCTL.origin + SOCKADDR_IN6.family, AF_INET6, true);
  bytes.set(mfc.source, offset + MF6CCTL.origin + SOCKADDR_IN6.addr);
  view.setUint16(offset + MF6CCTL.group + SOCKADDR_IN6.family, AF_INET6, true);
  bytes.set(mfc.group, offset + MF6CCTL.group + SOCKADDR_IN6.addr);
  view.setUint16(offset + MF6CCTL.parent, mfc.parent, true);
  // if_set: MIF n is bit n % 32 of the host-order word n / 32; MAXMIFS keeps it in word 0.
  let word = 0;
  for (let vif = 0; vif < ttls.length; vif++) if (ttls[vif]! > 0) word |= 1 << vif;
  view.setUint32(offset + MF6CCTL.ifset, word >>> 0, true);
}

const NO_TTLS = new Uint8Array(0);

/** Encodes `struct mfcctl` (60 bytes) for `MRT_ADD_MFC`/`MRT_DEL_MFC`. */
export function encodeMfcctl(mfc: KernelMfc): Uint8Array {
  const record = recordBuffer(MFCCTL.size);
  writeMfcctl(record, 0, mfc, mfc.ttls);
  return record.bytes;
}

/** Encodes `struct mf6cctl` (92 bytes): `ttls[i] > 0` sets bit i of the output set. */
export function encodeMf6cctl(mfc: KernelMfc): Uint8Array {
  const record = recordBuffer(MF6CCTL.size);
  writeMf6cctl(record, 0, mfc, mfc.ttls);
  return record.bytes;
}

/**
 * Decodes an upcall read from the owner socket: for IPv4 an `igmpmsg` over a copy of the
 * packet's IP header, for IPv6 an `mrt6msg`. Returns null for anything else: real IGMP/ICMPv6
 * traffic queued on the same socket (IPv4: its protocol byte, `im_mbz`, is 2 rather than 0),
 * unknown message types, or short reads.
 */
export function parseUpcall(family: IpFamily, bytes: Uint8Array): Upcall | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (family === 4) {
    if (bytes.length < IGMPMSG.size || bytes[IGMPMSG.mbz] !== 0) return null;
    if (bytes[0]! >> 4 !== 4) return null;
    const kind = UPCALL_KINDS[bytes[IGMPMSG.msgtype]! - 1];
    if (kind === undefined) return null;
    return {
      kind,
      family,
      vif: bytes[IGMPMSG.vif]! | (bytes[IGMPMSG.vifHi]! << 8),
      source: bytes.slice(IGMPMSG.src, IGMPMSG.src + 4),
      group: bytes.slice(IGMPMSG.dst, IGMPMSG.dst + 4),
    };
  }
  if (bytes.length < MRT6MSG.size || bytes[MRT6MSG.mbz] !== 0) return null;
  const kind = UPCALL_KINDS[bytes[MRT6MSG.msgtype]! - 1];
  if (kind === undefined) return null;
  return {
    kind,
    family,
    vif: view.getUint16(MRT6MSG.mif, true),
    source: bytes.slice(MRT6MSG.src, MRT6MSG.src + 16),
    group: bytes.slice(MRT6MSG.dst, MRT6MSG.dst + 16),
  };
}

/** Options for {@linkcode MrouteSocket.open}. */
export interface MrouteSocketOptions {
  /** Table id; 0 or absent: the family's default ({@linkcode DEFAULT_TABLE}). */
  table?: number;
  /**
   * Become the table's router (`MRT_INIT`): receive upcalls, and have everything this socket
   * installs removed when it closes. Without it, what the socket installs is static.
   */
  owner: boolean;
  /** Receive buffer in bytes; bounds a burst of upcalls (default 1 MiB for an owner). */
  rcvbuf?: number;
}

/** Explains why the kernel refused to open a multicast routing socket. */
function openError(family: IpFamily, table: number, owner: boolean, errno: number): NetkitOsError {
  const what = `${familyName(family)} table ${table}`;
  const err = new NetkitOsError(
    `open ${owner ? "owner " : ""}multicast routing socket for ${what}`,
    errno,
  );
  const config = family === 4 ? "CONFIG_IP_MROUTE" : "CONFIG_IPV6_MROUTE";
  switch (errno) {
    case Errno.EADDRINUSE:
      err.message =
        `Another multicast router already owns ${what} in this network namespace (EADDRINUSE): stop it, or use another --table`;
      break;
    case Errno.ENOPROTOOPT:
    case Errno.EOPNOTSUPP:
      err.message = table === DEFAULT_TABLE[family]
        ? `This kernel has no ${
          familyName(family)
        } multicast routing (${err.code}): it needs ${config}`
        : `This kernel has no ${
          familyName(family)
        } multicast routing tables other than the default (${err.code}): they need ${config}_MULTIPLE_TABLES`;
      err.message += '; "netkit doctor" checks this machine';
      break;
    case Errno.EAFNOSUPPORT:
      err.message = `This kernel has ${familyName(family)} disabled (EAFNOSUPPORT)`;
      break;
    case Errno.EPERM:
    case Errno.EACCES:
      err.message = `Opening a multicast routing socket for ${what} needs CAP_NET_RAW${
        owner ? "" : " and CAP_NET_ADMIN"
      } (${err.code}): run as root`;
      break;
    case Errno.EINVAL:
      if (table !== DEFAULT_TABLE[family]) {
        // ipmr takes ids below 1e9, ip6mr below 1e8 (Linux 6.18).
        err.message = `The kernel refused ${
          familyName(family)
        } multicast routing table ${table} (EINVAL): use an id below ${
          family === 4 ? "1000000000" : "100000000"
        }`;
      }
      break;
  }
  return err;
}

/**
 * A raw IGMP (IPv4) or ICMPv6 (IPv6) socket bound to one multicast routing table of the current
 * network namespace, nonblocking and close-on-exec. Requires `--allow-ffi`, CAP_NET_RAW, and
 * CAP_NET_ADMIN to change a table the socket does not own.
 */
export class MrouteSocket extends OwnedFd {
  /** IP version of the table. */
  readonly family: IpFamily;
  /** The table id (the default table's real id when none was chosen). */
  readonly table: number;
  /** Whether this socket is the table's router (`MRT_INIT`). */
  readonly owner: boolean;
  readonly #level: number;
  readonly #upcallBuffer = new Uint8Array(UPCALL_BUFFER_BYTES);

  private constructor(fd: number, family: IpFamily, table: number, owner: boolean) {
    super(fd);
    this.family = family;
    this.table = table;
    this.owner = owner;
    this.#level = family === 4 ? IPPROTO_IP : IPPROTO_IPV6;
  }

  /**
   * Opens the socket for `options.table` (default: the family's default table). With `owner`,
   * it becomes the table's router, with `MRT_ASSERT` on (WRONGVIF upcalls) and `MRT_PIM` off.
   * Throws a {@linkcode NetkitOsError} with a readable message when another router owns the
   * table (`EADDRINUSE`), the kernel lacks multicast routing, or privileges are missing.
   */
  static open(family: IpFamily, options: MrouteSocketOptions): MrouteSocket {
    if (family !== 4 && family !== 6) throw new RangeError(`Invalid IP family "${family}"`);
    const requested = options.table ?? 0;
    checkInt(requested, 0, 0xffff_ffff, "multicast routing table");
    const table = resolveTable(family, requested);
    const rcvbuf = options.rcvbuf ?? (options.owner ? DEFAULT_OWNER_RCVBUF : 0);
    checkInt(rcvbuf, 0, 0x7fff_ffff, "receive buffer size");
    // Asking for the default table by id is the same as not asking (and needs no MRT_TABLE).
    const rc = nk.nk_mroute_open(
      family,
      table === DEFAULT_TABLE[family] ? 0 : table,
      options.owner ? 1 : 0,
      rcvbuf,
    );
    if (rc < 0) throw openError(family, table, options.owner, -rc);
    return new MrouteSocket(rc, family, table, options.owner);
  }

  #what(): string {
    return `${familyName(this.family)} multicast table ${this.table}`;
  }

  #set(name: number, value: Uint8Array, op: string): void {
    const rc = nk.nk_sockopt_set(this.fd, this.#level, name, value, value.length);
    if (rc < 0) throw new NetkitOsError(op, -rc);
  }

  /**
   * Adds VIF `vif` (0..31) for interface `ifindex`; packets leave through it only when their
   * TTL is greater than `threshold` (default 1). The kernel does not check that the interface
   * is multicast-capable or not already a VIF: the caller must. `EADDRINUSE` when `vif` is taken.
   */
  addVif(vif: number, ifindex: number, threshold = 1): void {
    const op = `add VIF ${vif} (ifindex ${ifindex}) to ${this.#what()}`;
    if (this.family === 4) this.#set(MRT_ADD_VIF, encodeVifctl(vif, ifindex, threshold), op);
    else this.#set(MRT_ADD_VIF, encodeMif6ctl(vif, ifindex, threshold), op);
  }

  /** Deletes VIF `vif`; `EADDRNOTAVAIL` when there is none. Routes keep naming it. */
  delVif(vif: number): void {
    const op = `delete VIF ${vif} from ${this.#what()}`;
    if (this.family === 4) {
      // Linux wants a whole vifctl here; only the index is read.
      this.#set(MRT_DEL_VIF, encodeVifctl(vif, 0, 0), op);
    } else {
      checkInt(vif, 0, MAXVIFS - 1, "VIF");
      const mifi = new Uint8Array(2);
      new DataView(mifi.buffer).setUint16(0, vif, true);
      this.#set(MRT_DEL_VIF, mifi, op);
    }
  }

  #encodeMfc(mfc: KernelMfcKey, ttls: ArrayLike<number>): Uint8Array {
    const record = recordBuffer(this.#mfcSize());
    this.#writeMfc(record, 0, mfc, ttls);
    return record.bytes;
  }

  #mfcSize(): number {
    return this.family === 4 ? MFCCTL.size : MF6CCTL.size;
  }

  #writeMfc(
    records: RecordBuffer,
    offset: number,
    mfc: KernelMfcKey,
    ttls: ArrayLike<number>,
  ): void {
    if (this.family === 4) writeMfcctl(records, offset, mfc, ttls);
    else writeMf6cctl(records, offset, mfc, ttls);
  }

  /**
   * Installs (or replaces: the kernel keys routes on (S,G) only) one route. Outputs on VIFs
   * that do not exist are silently dropped by the kernel. `EINVAL` for a non-multicast group,
   * `ENFILE` for a parent >= 32.
   */
  addMfc(mfc: KernelMfc): void {
    const bytes = this.#encodeMfc(mfc, mfc.ttls);
    this.#set(MRT_ADD_MFC, bytes, `add route ${describeRoute(mfc)} to ${this.#what()}`);
  }

  /** Removes one route; `ENOENT` when the kernel has none. */
  delMfc(mfc: KernelMfcKey): void {
    const bytes = this.#encodeMfc(mfc, NO_TTLS);
    this.#set(MRT_DEL_MFC, bytes, `delete route ${describeRoute(mfc)} from ${this.#what()}`);
  }

  #batch(name: number, mfcs: readonly KernelMfcKey[], withTtls: boolean): BatchFailure[] {
    if (mfcs.length === 0) return [];
    const size = this.#mfcSize();
    const records = recordBuffer(size * mfcs.length);
    mfcs.forEach((mfc, i) => {
      const ttls = withTtls ? (mfc as KernelMfc).ttls : NO_TTLS;
      this.#writeMfc(records, i * size, mfc, ttls);
    });
    const errnos = new Int32Array(mfcs.length);
    const rc = nk.nk_sockopt_set_batch(
      this.fd,
      this.#level,
      name,
      records.bytes,
      size,
      mfcs.length,
      new Uint8Array(errnos.buffer),
    );
    if (rc < 0) throw new NetkitOsError(`change routes of ${this.#what()}`, -rc);
    const failures: BatchFailure[] = [];
    if (rc === mfcs.length) return failures;
    errnos.forEach((errno, index) => {
      if (errno !== 0) failures.push({ index, errno });
    });
    return failures;
  }

  /**
   * Installs many routes with one call into the library (one `setsockopt` each). Every entry is
   * validated before any is sent; returns the ones the kernel refused, with their errno.
   */
  addMfcBatch(mfcs: readonly KernelMfc[]): BatchFailure[] {
    return this.#batch(MRT_ADD_MFC, mfcs, true);
  }

  /** Removes many routes with one call; returns the ones that failed (`ENOENT`: none). */
  delMfcBatch(mfcs: readonly KernelMfcKey[]): BatchFailure[] {
    return this.#batch(MRT_DEL_MFC, mfcs, false);
  }

  /**
   * The counters of route (source, group) (source all zero for a (*,G)), or null when the
   * kernel has no such route.
   */
  routeCounters(source: Uint8Array, group: Uint8Array): RouteCounters | null {
    const len = addressLength(this.family);
    checkAddress(source, len, `${familyName(this.family)} source address`);
    checkAddress(group, len, `${familyName(this.family)} group address`);
    const layout = this.family === 4 ? SIOC_SG_REQ : SIOC_SG_REQ6;
    const req = new Uint8Array(layout.size);
    const view = new DataView(req.buffer);
    if (this.family === 4) {
      req.set(source, SIOC_SG_REQ.src);
      req.set(group, SIOC_SG_REQ.grp);
    } else {
      view.setUint16(SIOC_SG_REQ6.src + SOCKADDR_IN6.family, AF_INET6, true);
      req.set(source, SIOC_SG_REQ6.src + SOCKADDR_IN6.addr);
      view.setUint16(SIOC_SG_REQ6.grp + SOCKADDR_IN6.family, AF_INET6, true);
      req.set(group, SIOC_SG_REQ6.grp + SOCKADDR_IN6.addr);
    }
    const rc = nk.nk_ioctl_buf(this.fd, SIOCGETSGCNT, req);
    if (rc === -Errno.EADDRNOTAVAIL) return null;
    if (rc < 0) {
      throw new NetkitOsError(
        `read counters of route (${formatAddress(source)}, ${
          formatAddress(group)
        }) in ${this.#what()}`,
        -rc,
      );
    }
    return {
      packets: view.getBigUint64(layout.pktcnt, true),
      bytes: view.getBigUint64(layout.bytecnt, true),
      wrongIf: view.getBigUint64(layout.wrongIf, true),
    };
  }

  /** The counters of VIF `vif`, or null when there is no such VIF. */
  vifCounters(vif: number): VifCounters | null {
    checkInt(vif, 0, MAXVIFS - 1, "VIF");
    const req = new Uint8Array(SIOC_VIF_REQ.size);
    const view = new DataView(req.buffer);
    view.setUint16(SIOC_VIF_REQ.vifi, vif, true);
    const rc = nk.nk_ioctl_buf(this.fd, SIOCGETVIFCNT, req);
    // EADDRNOTAVAIL: a hole below the highest VIF; EINVAL: above it.
    if (rc === -Errno.EADDRNOTAVAIL || rc === -Errno.EINVAL) return null;
    if (rc < 0) throw new NetkitOsError(`read counters of VIF ${vif} in ${this.#what()}`, -rc);
    return {
      packetsIn: view.getBigUint64(SIOC_VIF_REQ.icount, true),
      bytesIn: view.getBigUint64(SIOC_VIF_REQ.ibytes, true),
      packetsOut: view.getBigUint64(SIOC_VIF_REQ.ocount, true),
      bytesOut: view.getBigUint64(SIOC_VIF_REQ.obytes, true),
    };
  }

  /** `MRT_FLUSH` with {@linkcode MrtFlush} flags: removes routes and/or VIFs of the table. */
  flush(flags: number): void {
    checkInt(flags, 0, MrtFlush.ALL, "flush flags");
    const value = new Uint8Array(4);
    new DataView(value.buffer).setInt32(0, flags, true);
    this.#set(MRT_FLUSH, value, `flush ${this.#what()} (flags ${flags})`);
  }

  /**
   * Reads up to `max` queued upcalls without blocking (wait for readability on {@linkcode fd}
   * first). Other traffic on the socket is read and dropped. Only an owner gets upcalls.
   */
  readUpcalls(max = 64): Upcall[] {
    const upcalls: Upcall[] = [];
    const buffer = this.#upcallBuffer;
    // Bound the reads, not just the upcalls, so a flood of other traffic cannot hold us here.
    for (let reads = 0; upcalls.length < max && reads < max * 4; reads++) {
      const n = nk.nk_read(this.fd, buffer, buffer.length);
      if (n === -Errno.EAGAIN) break;
      if (n < 0) throw new NetkitOsError(`read upcalls of ${this.#what()}`, -n);
      const upcall = parseUpcall(this.family, buffer.subarray(0, n));
      if (upcall !== null) upcalls.push(upcall);
    }
    return upcalls;
  }
}

/**
 * The routes of `table` (0: the default) as the kernel has them, resolved or not, from an
 * rtnetlink dump (works for every table, owned or not). Requires `--allow-ffi`.
 */
export function dumpKernelRoutes(family: IpFamily, table: number): KernelRoute[] {
  const id = resolveTable(family, table);
  using socket = RtnetlinkSocket.open();
  let routes: KernelRoute[] = [];
  netlinkDump(
    socket,
    (seq) => encodeGetMroutes(family, seq),
    `dump ${familyName(family)} multicast routes`,
    () => routes = [],
    (message) => {
      const dumped = parseMroute(message, family);
      if (dumped !== null && dumped.table === id) routes.push(dumped.route);
    },
  );
  return routes;
}

/**
 * The VIFs of `table` (0: the default) as the kernel has them, in VIF order.
 *
 * IPv4 comes from the rtnetlink `RTM_GETLINK` dump of family 128, which covers every table.
 * The kernel has no such dump for IPv6: its VIFs are read from `/proc/net/ip6_mr_vif` (by the
 * calling thread's namespace), which shows the default table only, by interface name (mapped to
 * an ifindex here; 0 when the name no longer resolves). Any other IPv6 table throws a
 * {@linkcode NetkitError}. Requires `--allow-ffi`, and `--allow-read=/proc` for IPv6.
 */
export function dumpKernelVifs(family: IpFamily, table: number): KernelVif[] {
  const id = resolveTable(family, table);
  if (family === 6) {
    if (id !== DEFAULT_TABLE[6]) {
      throw new NetkitError(
        `Cannot list the VIFs of IPv6 multicast table ${id}: the kernel reports IPv6 VIFs only for the default table (${
          DEFAULT_TABLE[6]
        })`,
      );
    }
    const text = Deno.readTextFileSync("/proc/thread-self/net/ip6_mr_vif");
    return parseProcMifs(text).map(({ name, ...mif }) => {
      let ifindex = 0;
      try {
        ifindex = interfaceIndex(name);
      } catch {
        // Renamed or gone since the kernel printed it.
      }
      return { ...mif, ifindex };
    });
  }
  using socket = RtnetlinkSocket.open();
  let vifs: KernelVif[] = [];
  netlinkDump(
    socket,
    encodeGetVifTables,
    "dump IPv4 multicast VIFs",
    () => vifs = [],
    (message) => {
      const dumped = parseVifTable(message);
      if (dumped !== null && dumped.table === id) vifs.push(...dumped.vifs);
    },
  );
  return vifs.sort((a, b) => a.vif - b.vif);
}
