/**
 * The kernel's multicast routing state as rtnetlink reports it: the `RTM_GETROUTE` dump of
 * families `RTNL_FAMILY_IPMR` (128) and `RTNL_FAMILY_IP6MR` (129), one `RTM_NEWROUTE` per
 * (S,G) of every table, and the `RTM_GETLINK` dump of family 128, whose `IFLA_AF_SPEC` lists the
 * VIFs of every IPv4 table. The kernel has no such dump for IPv6 VIFs; its default table's VIFs
 * are in `/proc/net/ip6_mr_vif`, parsed here too. Encoders and parsers are pure and
 * bounds-checked; {@linkcode netlinkDump} runs a dump on an {@linkcode RtnetlinkSocket}.
 *
 * @module
 */

import { NetkitError, NetkitOsError } from "../errors.ts";
import {
  attributeU32,
  attributeU64,
  forEachAttribute,
  netlinkAlign,
  viewOf,
} from "../net/netlink_attributes.ts";
import { NetlinkFlag, type NetlinkMessage, NetlinkType } from "../net/netlink_messages.ts";
import { MAX_DUMP_ATTEMPTS, type RtnetlinkSocket } from "../net/rtnetlink.ts";

/** rtnetlink families of the multicast routing tables. */
export const RTNL_FAMILY_IPMR = 128;
/** rtnetlink family of the IPv6 multicast routing tables. */
export const RTNL_FAMILY_IP6MR = 129;

/** `rtm_protocol` of a multicast route. */
export const MrouteProtocol = {
  /** Installed by a socket that does not own the table, or by netlink: survives the owner. */
  STATIC: 4,
  /** Installed by the table's owner socket: flushed when it closes. */
  MROUTED: 17,
} as const;

const NLMSG_HDRLEN = 16;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const RTMSG_LEN = 12;
const IFINFOMSG_LEN = 16;
const RTA_DST = 1;
const RTA_SRC = 2;
const RTA_IIF = 3;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RTA_MFC_STATS = 17;
const RTA_EXPIRES = 23;
const RTNEXTHOP_LEN = 8;
const RTNH_F_UNRESOLVED = 0x20;
const IFLA_AF_SPEC = 26;
const IPMRA_TABLE_ID = 1;
const IPMRA_TABLE_VIFS = 6;
const IPMRA_VIF = 1;
const IPMRA_VIFA_IFINDEX = 1;
const IPMRA_VIFA_VIF_ID = 2;
const IPMRA_VIFA_FLAGS = 3;
const IPMRA_VIFA_BYTES_IN = 4;
const IPMRA_VIFA_BYTES_OUT = 5;
const IPMRA_VIFA_PACKETS_IN = 6;
const IPMRA_VIFA_PACKETS_OUT = 7;
/** `clock_t` ticks per second as the kernel reports them to user space (USER_HZ). */
const USER_HZ = 100;

/** One output interface of a kernel route. */
export interface KernelOif {
  ifindex: number;
  /** The TTL threshold (`mfcc_ttls[vif]`; always 1 for IPv6, which has no per-output TTL). */
  ttl: number;
}

/** One multicast route as the kernel has it. */
export interface KernelRoute {
  /** 4 or 16 bytes, network order; all zero for (*,G). */
  source: Uint8Array;
  group: Uint8Array;
  /** Ifindex of the incoming VIF, 0 when unknown (unresolved, or its VIF is gone). */
  iif: number;
  /** Outputs, in VIF order. For a native (*,G) the iif is among them. */
  oifs: KernelOif[];
  /** Packets that matched, wrong-interface ones included (`packets - wrongIf` were valid). */
  packets: bigint;
  bytes: bigint;
  wrongIf: bigint;
  /** False for an entry the kernel is waiting on (NOCACHE sent, up to 4 packets queued). */
  resolved: boolean;
  /** `rtm_protocol` STATIC: installed by a non-owner socket, survives the owner. */
  static: boolean;
  /** Milliseconds since a packet last used the entry (`RTA_EXPIRES`), null when not reported. */
  idleMs: number | null;
}

/** A route of the dump with the table it belongs to. */
export interface DumpedRoute {
  table: number;
  route: KernelRoute;
}

/** One VIF as the kernel has it. */
export interface KernelVif {
  vif: number;
  ifindex: number;
  /** `VIFF_*` / `MIFF_*` flags; the kernel adds `VIFF_STATIC` (0x8000) for non-owner VIFs. */
  flags: number;
  packetsIn: bigint;
  bytesIn: bigint;
  packetsOut: bigint;
  bytesOut: bigint;
}

/** The VIFs of one IPv4 table, from one `RTM_NEWLINK` of the family-128 dump. */
export interface DumpedVifTable {
  table: number;
  vifs: KernelVif[];
}

function header(total: number, type: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(total);
  const view = viewOf(bytes);
  view.setUint32(0, total, true);
  view.setUint16(4, type, true);
  view.setUint16(6, NetlinkFlag.REQUEST | NetlinkFlag.DUMP, true);
  view.setUint32(8, seq, true);
  return bytes;
}

/** Encodes the `RTM_GETROUTE` dump request of family 128 (IPv4) or 129 (IPv6), every table. */
export function encodeGetMroutes(family: 4 | 6, seq: number): Uint8Array {
  const bytes = header(NLMSG_HDRLEN + RTMSG_LEN, RTM_GETROUTE, seq);
  bytes[NLMSG_HDRLEN] = family === 4 ? RTNL_FAMILY_IPMR : RTNL_FAMILY_IP6MR;
  return bytes;
}

/** Encodes the `RTM_GETLINK` dump request of family 128: the VIFs of every IPv4 table. */
export function encodeGetVifTables(seq: number): Uint8Array {
  const bytes = header(NLMSG_HDRLEN + IFINFOMSG_LEN, NetlinkType.GETLINK, seq);
  bytes[NLMSG_HDRLEN] = RTNL_FAMILY_IPMR;
  return bytes;
}

/**
 * Decodes one `RTM_NEWROUTE` of a family-128/129 dump; null when it is another message, another
 * family, or damaged.
 */
export function parseMroute(message: NetlinkMessage, family: 4 | 6): DumpedRoute | null {
  const p = message.payload;
  const expected = family === 4 ? RTNL_FAMILY_IPMR : RTNL_FAMILY_IP6MR;
  if (message.type !== RTM_NEWROUTE || p.length < RTMSG_LEN || p[0] !== expected) return null;
  const addrLen = family === 4 ? 4 : 16;
  const view = viewOf(p);
  let table = p[4]!;
  const route: KernelRoute = {
    source: new Uint8Array(addrLen),
    group: new Uint8Array(addrLen),
    iif: 0,
    oifs: [],
    packets: 0n,
    bytes: 0n,
    wrongIf: 0n,
    resolved: (view.getUint32(8, true) & RTNH_F_UNRESOLVED) === 0,
    static: p[5] === MrouteProtocol.STATIC,
    idleMs: null,
  };
  let damaged = false;
  forEachAttribute(p.subarray(RTMSG_LEN), (type, value) => {
    switch (type) {
      case RTA_SRC:
      case RTA_DST:
        if (value.length !== addrLen) damaged = true;
        else if (type === RTA_SRC) route.source = value.slice();
        else route.group = value.slice();
        break;
      case RTA_IIF:
        route.iif = attributeU32(value) ?? 0;
        break;
      case RTA_TABLE:
        table = attributeU32(value) ?? table;
        break;
      case RTA_MULTIPATH:
        route.oifs = parseNexthops(value);
        break;
      case RTA_MFC_STATS:
        if (value.length >= 24) {
          const stats = viewOf(value);
          route.packets = stats.getBigUint64(0, true);
          route.bytes = stats.getBigUint64(8, true);
          route.wrongIf = stats.getBigUint64(16, true);
        }
        break;
      case RTA_EXPIRES: {
        const ticks = attributeU64(value);
        if (ticks !== undefined) route.idleMs = Number(ticks) * (1000 / USER_HZ);
        break;
      }
    }
  });
  return damaged ? null : { table, route };
}

/** `struct rtnexthop` records: `rtnh_hops` carries the TTL threshold, `rtnh_ifindex` the oif. */
function parseNexthops(bytes: Uint8Array): KernelOif[] {
  const view = viewOf(bytes);
  const oifs: KernelOif[] = [];
  let offset = 0;
  while (offset + RTNEXTHOP_LEN <= bytes.length) {
    const len = view.getUint16(offset, true);
    if (len < RTNEXTHOP_LEN || offset + len > bytes.length) break;
    oifs.push({ ifindex: view.getInt32(offset + 4, true), ttl: bytes[offset + 3]! });
    offset += netlinkAlign(len);
  }
  return oifs;
}

/**
 * Decodes one `RTM_NEWLINK` of the family-128 `RTM_GETLINK` dump: a table id and (part of) its
 * VIFs. A table with many VIFs may come in several messages; merge them by table. Null when it
 * is another message or has no table id.
 */
export function parseVifTable(message: NetlinkMessage): DumpedVifTable | null {
  const p = message.payload;
  if (message.type !== NetlinkType.NEWLINK || p.length < IFINFOMSG_LEN) return null;
  if (p[0] !== RTNL_FAMILY_IPMR) return null;
  let table: number | undefined;
  const vifs: KernelVif[] = [];
  forEachAttribute(p.subarray(IFINFOMSG_LEN), (type, spec) => {
    if (type !== IFLA_AF_SPEC) return;
    forEachAttribute(spec, (type, value) => {
      if (type === IPMRA_TABLE_ID) table = attributeU32(value);
      if (type !== IPMRA_TABLE_VIFS) return;
      forEachAttribute(value, (type, nested) => {
        if (type !== IPMRA_VIF) return;
        const vif = parseVif(nested);
        if (vif !== null) vifs.push(vif);
      });
    });
  });
  return table === undefined ? null : { table, vifs };
}

function parseVif(bytes: Uint8Array): KernelVif | null {
  const vif: KernelVif = {
    vif: -1,
    ifindex: 0,
    flags: 0,
    packetsIn: 0n,
    bytesIn: 0n,
    packetsOut: 0n,
    bytesOut: 0n,
  };
  forEachAttribute(bytes, (type, value) => {
    switch (type) {
      case IPMRA_VIFA_IFINDEX:
        vif.ifindex = attributeU32(value) ?? 0;
        break;
      case IPMRA_VIFA_VIF_ID:
        vif.vif = attributeU32(value) ?? -1;
        break;
      case IPMRA_VIFA_FLAGS:
        vif.flags = value.length >= 2 ? viewOf(value).getUint16(0, true) : 0;
        break;
      case IPMRA_VIFA_BYTES_IN:
        vif.bytesIn = attributeU64(value) ?? 0n;
        break;
      case IPMRA_VIFA_BYTES_OUT:
        vif.bytesOut = attributeU64(value) ?? 0n;
        break;
      case IPMRA_VIFA_PACKETS_IN:
        vif.packetsIn = attributeU64(value) ?? 0n;
        break;
      case IPMRA_VIFA_PACKETS_OUT:
        vif.packetsOut = attributeU64(value) ?? 0n;
        break;
    }
  });
  return vif.vif < 0 ? null : vif;
}

/** One line of `/proc/net/ip6_mr_vif`: a VIF of the default IPv6 table, by interface name. */
export interface ProcMif {
  vif: number;
  name: string;
  flags: number;
  packetsIn: bigint;
  bytesIn: bigint;
  packetsOut: bigint;
  bytesOut: bigint;
}

/**
 * Parses `/proc/net/ip6_mr_vif` (`Interface BytesIn PktsIn BytesOut PktsOut Flags`, each line
 * `vif name bytes_in pkts_in bytes_out pkts_out flags-hex`). Lines that do not parse are skipped.
 */
export function parseProcMifs(text: string): ProcMif[] {
  const mifs: ProcMif[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7 || !/^\d+$/.test(f[0]!) || !/^[0-9a-fA-F]+$/.test(f[6]!)) continue;
    if (!f.slice(2, 6).every((n) => /^\d+$/.test(n))) continue;
    mifs.push({
      vif: Number(f[0]),
      name: f[1]!,
      bytesIn: BigInt(f[2]!),
      packetsIn: BigInt(f[3]!),
      bytesOut: BigInt(f[4]!),
      packetsOut: BigInt(f[5]!),
      flags: parseInt(f[6]!, 16),
    });
  }
  return mifs;
}

/**
 * Sends the dump request `encode(seq)` and passes every message of the reply to `visit`,
 * until `NLMSG_DONE`. A dump the kernel flags as interrupted (the state changed while it ran) is
 * started again, up to {@linkcode MAX_DUMP_ATTEMPTS} times; `begin` is called before each
 * attempt so the caller can drop what the previous one collected. Throws
 * {@linkcode NetkitOsError} for `op` when the kernel refuses the dump.
 */
export function netlinkDump(
  socket: RtnetlinkSocket,
  encode: (seq: number) => Uint8Array,
  op: string,
  begin: () => void,
  visit: (message: NetlinkMessage) => void,
): void {
  for (let attempt = 1;; attempt++) {
    begin();
    const seq = socket.nextSeq();
    socket.send(encode(seq));
    let interrupted = false;
    for (let done = false; !done;) {
      const messages = socket.receive();
      if (messages.length === 0) {
        throw new NetkitError(`rtnetlink gave no reply to "${op}"; the kernel is not answering`);
      }
      for (const message of messages) {
        if (message.seq !== seq) continue;
        if ((message.flags & NetlinkFlag.DUMP_INTR) !== 0) interrupted = true;
        if (message.type === NetlinkType.ERROR || message.type === NetlinkType.DONE) {
          // Both start with an int: 0, or -errno when the dump failed.
          const code = message.payload.length >= 4 ? viewOf(message.payload).getInt32(0, true) : 0;
          if (code < 0) throw new NetkitOsError(op, -code);
          done = true;
          break;
        }
        visit(message);
      }
    }
    if (!interrupted || attempt >= MAX_DUMP_ATTEMPTS) return;
  }
}
