/**
 * The kernel's multicast routing structs as bytes: what `MRT_*` socket options and `SIOCGET*`
 * ioctls take (`vifctl`, `mfcctl`, `mif6ctl`, `mf6cctl`, the counter requests) and the upcall
 * messages an owner socket reads, at offsets that `lib/net/mroute_structs_test.ts` compares with
 * the C compiler's (`nk_layout`). Pure: `MrouteSocket` (`mroute_socket.ts`) passes these bytes
 * to the kernel. Integers are host order (little endian on the x86_64 and aarch64
 * hosts netkit runs on); only addresses are network order, copied as bytes.
 *
 * @module
 */

import { formatIpv4 } from "../packet/ipv4.ts";
import { formatIpv6 } from "../packet/ipv6.ts";

/** IP version of a multicast routing table. */
export type IpFamily = 4 | 6;

/** VIFs (MIFs) per table and family: the kernel's `MAXVIFS` / `MAXMIFS`. */
export const MAX_VIFS = 32;

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

const AF_INET6 = 10;
const VIFF_USE_IFINDEX = 0x8;

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
  /** The table's family. */
  family: IpFamily;
  /** The VIF the packet arrived on. */
  vif: number;
  /** The packet's source address (4 or 16 bytes). */
  source: Uint8Array;
  /** The packet's destination group (4 or 16 bytes). */
  group: Uint8Array;
}

/** Packet and byte counters of one route (`SIOCGETSGCNT`). */
export interface RouteCounters {
  /** Packets that matched, wrong-interface ones included. */
  packets: bigint;
  /** Bytes of those packets. */
  bytes: bigint;
  /** Packets that arrived on another interface than the iif (dropped). */
  wrongIf: bigint;
}

/** Counters of one VIF (`SIOCGETVIFCNT`). */
export interface VifCounters {
  /** Packets received on the VIF. */
  packetsIn: bigint;
  /** Bytes received on the VIF. */
  bytesIn: bigint;
  /** Packets forwarded out of the VIF. */
  packetsOut: bigint;
  /** Bytes forwarded out of the VIF. */
  bytesOut: bigint;
}

/** A failed record of a batch: its index in the input and the errno. */
export interface BatchFailure {
  /** Index of the record in the batch. */
  index: number;
  /** The positive errno the kernel gave it. */
  errno: number;
}

/** Throws a RangeError naming `what` unless `value` is an integer from `min` to `max`. */
export function checkInt(value: number, min: number, max: number, what: string): void {
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

/** "IPv4" or "IPv6", for messages. */
export function familyName(family: IpFamily): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** The id `table` names: 0 is the family's default table. */
export function resolveTable(family: IpFamily, table: number): number {
  return table === 0 ? DEFAULT_TABLE[family] : table;
}

/** An address for messages (already checked to be 4 or 16 bytes). */
function formatAddress(address: Uint8Array): string {
  return address.length === 4 ? formatIpv4(address) : formatIpv6(address);
}

/** `(source, group)` of a route, for messages. */
export function describeRoute(mfc: Pick<KernelMfcKey, "source" | "group">): string {
  return `(${formatAddress(mfc.source)}, ${formatAddress(mfc.group)})`;
}

function checkTtls(ttls: ArrayLike<number>): void {
  if (ttls.length > MAX_VIFS) {
    throw new RangeError(
      `Invalid TTL vector: expected at most ${MAX_VIFS} entries, got ${ttls.length}`,
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
  checkInt(vif, 0, MAX_VIFS - 1, "VIF");
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
  checkInt(vif, 0, MAX_VIFS - 1, "VIF");
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
export interface RecordBuffer {
  /** The records. */
  bytes: Uint8Array;
  /** A view on all of `bytes`. */
  view: DataView;
}

/** `size` zeroed bytes and their view. */
export function recordBuffer(size: number): RecordBuffer {
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
  checkInt(mfc.parent, 0, MAX_VIFS - 1, "parent VIF");
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
  checkInt(mfc.parent, 0, MAX_VIFS - 1, "parent VIF");
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

/** The TTLs of a route key: no outputs (what a delete sends). */
export const NO_TTLS: ArrayLike<number> = new Uint8Array(0);

/** Bytes of one route record of `family`: `mfcctl` or `mf6cctl`. */
export function mfcRecordSize(family: IpFamily): number {
  return family === 4 ? MFCCTL.size : MF6CCTL.size;
}

/** Writes the route record of `family` at `offset` of zeroed `records`. */
export function writeMfcRecord(
  family: IpFamily,
  records: RecordBuffer,
  offset: number,
  mfc: KernelMfcKey,
  ttls: ArrayLike<number>,
): void {
  if (family === 4) writeMfcctl(records, offset, mfc, ttls);
  else writeMf6cctl(records, offset, mfc, ttls);
}

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

/**
 * Encodes what `MRT_DEL_VIF` / `MRT6_DEL_MIF` take for VIF `vif`: IPv4 wants a whole `vifctl`
 * (only the index is read), IPv6 the 16-bit `mifi_t`.
 */
export function encodeDelVif(family: IpFamily, vif: number): Uint8Array {
  if (family === 4) return encodeVifctl(vif, 0, 0);
  checkInt(vif, 0, MAX_VIFS - 1, "VIF");
  const mifi = new Uint8Array(2);
  new DataView(mifi.buffer).setUint16(0, vif, true);
  return mifi;
}

/** Encodes the `int` of `MRT_FLUSH` from {@linkcode MrtFlush} flags. */
export function encodeFlush(flags: number): Uint8Array {
  checkInt(flags, 0, MrtFlush.ALL, "flush flags");
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, flags, true);
  return value;
}

/**
 * Encodes the `SIOCGETSGCNT` request (`sioc_sg_req` or `sioc_sg_req6`) for route (source,
 * group); the kernel writes the counters into the same bytes ({@linkcode decodeRouteCounters}).
 */
export function encodeRouteCountersRequest(
  family: IpFamily,
  source: Uint8Array,
  group: Uint8Array,
): Uint8Array {
  const len = addressLength(family);
  checkAddress(source, len, `${familyName(family)} source address`);
  checkAddress(group, len, `${familyName(family)} group address`);
  const req = new Uint8Array(family === 4 ? SIOC_SG_REQ.size : SIOC_SG_REQ6.size);
  if (family === 4) {
    req.set(source, SIOC_SG_REQ.src);
    req.set(group, SIOC_SG_REQ.grp);
  } else {
    const view = new DataView(req.buffer);
    view.setUint16(SIOC_SG_REQ6.src + SOCKADDR_IN6.family, AF_INET6, true);
    req.set(source, SIOC_SG_REQ6.src + SOCKADDR_IN6.addr);
    view.setUint16(SIOC_SG_REQ6.grp + SOCKADDR_IN6.family, AF_INET6, true);
    req.set(group, SIOC_SG_REQ6.grp + SOCKADDR_IN6.addr);
  }
  return req;
}

/** The counters the kernel wrote into a {@linkcode encodeRouteCountersRequest} request. */
export function decodeRouteCounters(family: IpFamily, req: Uint8Array): RouteCounters {
  const layout = family === 4 ? SIOC_SG_REQ : SIOC_SG_REQ6;
  const view = new DataView(req.buffer, req.byteOffset, req.byteLength);
  return {
    packets: view.getBigUint64(layout.pktcnt, true),
    bytes: view.getBigUint64(layout.bytecnt, true),
    wrongIf: view.getBigUint64(layout.wrongIf, true),
  };
}

/**
 * Encodes the `SIOCGETVIFCNT` request (`sioc_vif_req`; `sioc_mif_req6` has the same layout)
 * for VIF `vif`; the kernel writes the counters into the same bytes.
 */
export function encodeVifCountersRequest(vif: number): Uint8Array {
  checkInt(vif, 0, MAX_VIFS - 1, "VIF");
  const req = new Uint8Array(SIOC_VIF_REQ.size);
  new DataView(req.buffer).setUint16(SIOC_VIF_REQ.vifi, vif, true);
  return req;
}

/** The counters the kernel wrote into a {@linkcode encodeVifCountersRequest} request. */
export function decodeVifCounters(req: Uint8Array): VifCounters {
  const view = new DataView(req.buffer, req.byteOffset, req.byteLength);
  return {
    packetsIn: view.getBigUint64(SIOC_VIF_REQ.icount, true),
    bytesIn: view.getBigUint64(SIOC_VIF_REQ.ibytes, true),
    packetsOut: view.getBigUint64(SIOC_VIF_REQ.ocount, true),
    bytesOut: view.getBigUint64(SIOC_VIF_REQ.obytes, true),
  };
}
