/**
 * The encapsulation lists an LSoE session announces, computed from the node's address table,
 * and the JSON of the lists a peer announced.
 *
 * Like lsoed, every session announces all of the node's addresses (what `ip addr` shows in the
 * namespace), not only those of its own link: IPv4 addresses in the IPv4 list, IPv6 in the IPv6
 * list, flagged Loopback when on a loopback interface and Primary when on the session's own
 * interface (and not an IPv4 secondary). Addresses of an interface given an MPLS label also go
 * in the MPLS list of their family with that one label; MPLS lists are otherwise empty.
 *
 * @module
 */

import {
  EncapsulationFlag,
  type EncapsulationPdu,
  type IpEncapsulation,
  MAX_PDU_LEN,
  type MplsEncapsulation,
} from "../packet/lsoe.ts";
import { compareBytes } from "../packet/bytes.ts";
import { formatIpv4 } from "../packet/ipv4.ts";
import { formatIpv6 } from "../packet/ipv6.ts";
import type { EncapsulationJson, EncapsulationsJson, MplsEncapsulationJson } from "./client.ts";

/** One local address, from the kernel (the daemon feeds the whole table). */
export interface LocalAddress {
  /** The interface it is on. */
  ifindex: number;
  /** Its family. */
  family: 4 | 6;
  /** 4 or 16 bytes. */
  address: Uint8Array;
  /** Its prefix length. */
  prefixLength: number;
  /** IPv4 `IFA_F_SECONDARY`: never flagged Primary. */
  secondary: boolean;
}

/** What the lists need to know of an interface. */
export interface AddressedInterface {
  /** Its index. */
  ifindex: number;
  /** `IFF_LOOPBACK`: its addresses are flagged Loopback. */
  loopback: boolean;
  /** `--mpls-label`: its addresses also go in the MPLS lists with this label. */
  mplsLabel: number | null;
}

/** The JSON family names, in PDU type order (4, 5, 6, 7). */
export const ENCAPSULATION_FAMILIES: readonly (keyof EncapsulationsJson)[] = [
  "ipv4",
  "ipv6",
  "mpls_ipv4",
  "mpls_ipv6",
];

// Fixed size of each entry on the wire, to keep a list within one PDU's 16-bit length:
// flags, [label count, one 3-byte label,] address, prefix length.
const IPV4_ENTRY = 1 + 4 + 1;
const IPV6_ENTRY = 1 + 16 + 1;
const MPLS_EXTRA = 1 + 3;
const LIST_HEADER = 3 + 2;

function maxEntries(entrySize: number): number {
  return Math.floor((MAX_PDU_LEN - LIST_HEADER) / entrySize);
}

function compareAddresses(a: LocalAddress, b: LocalAddress): number {
  return a.ifindex - b.ifindex || compareBytes(a.address, b.address) ||
    a.prefixLength - b.prefixLength;
}

/**
 * The four encapsulation PDUs (IPv4, IPv6, MPLS-IPv4, MPLS-IPv6, in that order) a session on
 * `ifindex` announces. Entries are sorted by interface index, then address, then prefix
 * length; a list that would not fit in one PDU (over 10,000 IPv4 addresses) keeps its first
 * entries in that order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encapsulationPdus } from "./encapsulations.ts";
 *
 * const [ipv4] = encapsulationPdus(
 *   [
 *     { ifindex: 2, family: 4, address: new Uint8Array([192, 0, 2, 1]), prefixLength: 30, secondary: false },
 *     { ifindex: 1, family: 4, address: new Uint8Array([127, 0, 0, 1]), prefixLength: 8, secondary: false },
 *   ],
 *   [{ ifindex: 1, loopback: true, mplsLabel: null }, { ifindex: 2, loopback: false, mplsLabel: null }],
 *   2,
 * );
 * assert.deepEqual(ipv4?.entries.map((entry) => entry.flags), [0x40, 0x80]);
 * ```
 */
export function encapsulationPdus(
  addresses: readonly LocalAddress[],
  interfaces: readonly AddressedInterface[],
  ifindex: number,
): EncapsulationPdu[] {
  const byIndex = new Map(interfaces.map((iface) => [iface.ifindex, iface]));
  const sorted = [...addresses].sort(compareAddresses);
  const ipv4: IpEncapsulation[] = [];
  const ipv6: IpEncapsulation[] = [];
  const mplsIpv4: MplsEncapsulation[] = [];
  const mplsIpv6: MplsEncapsulation[] = [];
  for (const local of sorted) {
    const iface = byIndex.get(local.ifindex);
    let flags = 0;
    if (iface?.loopback) flags |= EncapsulationFlag.LOOPBACK;
    if (local.ifindex === ifindex && !local.secondary) flags |= EncapsulationFlag.PRIMARY;
    const entry = { flags, address: local.address, prefixLength: local.prefixLength };
    (local.family === 4 ? ipv4 : ipv6).push(entry);
    const label = iface?.mplsLabel ?? null;
    if (label !== null) {
      (local.family === 4 ? mplsIpv4 : mplsIpv6).push({ ...entry, labels: [label] });
    }
  }
  return [
    { type: 4, entries: ipv4.slice(0, maxEntries(IPV4_ENTRY)) },
    { type: 5, entries: ipv6.slice(0, maxEntries(IPV6_ENTRY)) },
    { type: 6, entries: mplsIpv4.slice(0, maxEntries(IPV4_ENTRY + MPLS_EXTRA)) },
    { type: 7, entries: mplsIpv6.slice(0, maxEntries(IPV6_ENTRY + MPLS_EXTRA)) },
  ];
}

/** The JSON family name of an encapsulation PDU. */
export function encapsulationFamily(pdu: EncapsulationPdu): keyof EncapsulationsJson {
  return ENCAPSULATION_FAMILIES[pdu.type - 4]!;
}

function entryJson(entry: IpEncapsulation): EncapsulationJson {
  return {
    address: entry.address.length === 4 ? formatIpv4(entry.address) : formatIpv6(entry.address),
    prefix_length: entry.prefixLength,
    primary: (entry.flags & EncapsulationFlag.PRIMARY) !== 0,
    loopback: (entry.flags & EncapsulationFlag.LOOPBACK) !== 0,
  };
}

function mplsEntryJson(entry: MplsEncapsulation): MplsEncapsulationJson {
  return { ...entryJson(entry), labels: [...entry.labels] };
}

/**
 * Puts a received list in `lists` as JSON (replacing that family's list, as the PDU replaces
 * the previous one in full) and returns its entries.
 */
export function storeEntriesJson(
  lists: EncapsulationsJson,
  pdu: EncapsulationPdu,
): EncapsulationJson[] | MplsEncapsulationJson[] {
  switch (pdu.type) {
    case 4:
      return lists.ipv4 = pdu.entries.map(entryJson);
    case 5:
      return lists.ipv6 = pdu.entries.map(entryJson);
    case 6:
      return lists.mpls_ipv4 = pdu.entries.map(mplsEntryJson);
    case 7:
      return lists.mpls_ipv6 = pdu.entries.map(mplsEntryJson);
  }
}

/**
 * A string equal for two PDUs exactly when they carry the same list: how a session tells
 * whether the table changed what it announces, and whether a peer's list changed.
 */
export function encapsulationKey(pdu: EncapsulationPdu): string {
  const parts: string[] = [];
  for (const entry of pdu.entries) {
    const labels = "labels" in entry ? (entry as MplsEncapsulation).labels.join(".") : "";
    parts.push(`${entry.flags}/${entry.address.join(".")}/${entry.prefixLength}/${labels}`);
  }
  return parts.join(",");
}
