/**
 * The raw IGMP (IPv4) or ICMPv6 (IPv6) socket that owns (or, without owning, edits) a multicast
 * routing table of the current network namespace: VIFs, routes one by one or in batches,
 * counters and upcalls. The structs it passes are built and read in `mroute_structs.ts`.
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
import { NetkitOsError } from "../errors.ts";
import {
  type BatchFailure,
  checkInt,
  decodeRouteCounters,
  decodeVifCounters,
  DEFAULT_TABLE,
  describeRoute,
  encodeDelVif,
  encodeFlush,
  encodeMif6ctl,
  encodeRouteCountersRequest,
  encodeVifCountersRequest,
  encodeVifctl,
  familyName,
  type IpFamily,
  type KernelMfc,
  type KernelMfcKey,
  mfcRecordSize,
  NO_TTLS,
  parseUpcall,
  recordBuffer,
  resolveTable,
  type RouteCounters,
  type Upcall,
  type VifCounters,
  writeMfcRecord,
} from "./mroute_structs.ts";
import { OwnedFd } from "./owned_fd.ts";

// Part of MrouteSocket's public face (its base class), so its documentation is complete.
export { OwnedFd };

const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const MRT_ADD_VIF = 202;
const MRT_DEL_VIF = 203;
const MRT_ADD_MFC = 204;
const MRT_DEL_MFC = 205;
const MRT_FLUSH = 212;
const SIOCGETVIFCNT = 0x89e0;
const SIOCGETSGCNT = 0x89e1;
/** Receive buffer of an owner socket unless told otherwise: room for bursts of upcalls. */
const DEFAULT_OWNER_RCVBUF = 1 << 20;
/** Upcalls are small (NOCACHE: IP header + 8 bytes); a whole-packet one is cut here. */
const UPCALL_BUFFER_BYTES = 2048;

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
    this.#set(
      MRT_DEL_VIF,
      encodeDelVif(this.family, vif),
      `delete VIF ${vif} from ${this.#what()}`,
    );
  }

  #encodeMfc(mfc: KernelMfcKey, ttls: ArrayLike<number>): Uint8Array {
    const record = recordBuffer(mfcRecordSize(this.family));
    writeMfcRecord(this.family, record, 0, mfc, ttls);
    return record.bytes;
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
    const size = mfcRecordSize(this.family);
    const records = recordBuffer(size * mfcs.length);
    mfcs.forEach((mfc, i) => {
      const ttls = withTtls ? (mfc as KernelMfc).ttls : NO_TTLS;
      writeMfcRecord(this.family, records, i * size, mfc, ttls);
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
    const req = encodeRouteCountersRequest(this.family, source, group);
    const rc = nk.nk_ioctl_buf(this.fd, SIOCGETSGCNT, req);
    if (rc === -Errno.EADDRNOTAVAIL) return null;
    if (rc < 0) {
      throw new NetkitOsError(
        `read counters of route ${describeRoute({ source, group })} in ${this.#what()}`,
        -rc,
      );
    }
    return decodeRouteCounters(this.family, req);
  }

  /** The counters of VIF `vif`, or null when there is no such VIF. */
  vifCounters(vif: number): VifCounters | null {
    const req = encodeVifCountersRequest(vif);
    const rc = nk.nk_ioctl_buf(this.fd, SIOCGETVIFCNT, req);
    // EADDRNOTAVAIL: a hole below the highest VIF; EINVAL: above it.
    if (rc === -Errno.EADDRNOTAVAIL || rc === -Errno.EINVAL) return null;
    if (rc < 0) throw new NetkitOsError(`read counters of VIF ${vif} in ${this.#what()}`, -rc);
    return decodeVifCounters(req);
  }

  /** `MRT_FLUSH` with {@linkcode MrtFlush} flags: removes routes and/or VIFs of the table. */
  flush(flags: number): void {
    this.#set(MRT_FLUSH, encodeFlush(flags), `flush ${this.#what()} (flags ${flags})`);
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
