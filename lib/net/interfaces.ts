/**
 * Network interfaces: lookup by name or index, hardware address and type, flags, MTU and
 * carrier, all from the kernel of the current network namespace (ioctl and rtnetlink; never
 * `/sys`, which shows the namespace it was mounted in). Requires `--allow-ffi`.
 *
 * @module
 */

import { cString, readCString } from "../../ffi/c_string.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, unwrap } from "../errors.ts";
import { IFNAMSIZ, validateInterfaceName } from "./interface_name.ts";
import { getLink } from "./rtnetlink.ts";

/** ARPHRD_* link types netkit names in messages. */
export const LinkType = {
  ETHER: 1,
  LOOPBACK: 772,
  SIT: 776,
  IPGRE: 778,
  NONE: 0xfffe,
} as const;

/** `IFF_*` interface flags. */
export const InterfaceFlag = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** What the kernel says about one interface. */
export interface InterfaceInfo {
  name: string;
  ifindex: number;
  /** ARPHRD_* link type; {@linkcode LinkType.ETHER} for Ethernet. */
  type: number;
  /** Hardware address (6 bytes; zeros for links without one). */
  mac: Uint8Array;
  /** `IFF_*` flags as `SIOCGIFFLAGS` reports them (16 bits). */
  flags: number;
  mtu: number;
  /** Administratively up. */
  up: boolean;
  /** Carrier present (the kernel's `IFLA_CARRIER`). */
  carrier: boolean;
}

const INFO_SIZE = 20;

/** Looks up `name`; throws `look up interface "eth9": ENODEV (No such device)` when absent. */
export function getInterface(name: string): InterfaceInfo {
  validateInterfaceName(name);
  const out = new Uint8Array(INFO_SIZE);
  unwrap(nk.nk_iface_info(cString(name), out), `look up interface "${name}"`);
  const view = new DataView(out.buffer);
  const ifindex = view.getUint32(0, true);
  const flags = view.getUint32(4, true);
  return {
    name,
    ifindex,
    flags,
    mtu: view.getUint32(8, true),
    type: view.getUint16(12, true),
    mac: out.slice(14, 20),
    up: (flags & InterfaceFlag.UP) !== 0,
    carrier: getLink({ ifindex }).carrier,
  };
}

/** The index of interface `name`. */
export function interfaceIndex(name: string): number {
  return getInterface(name).ifindex;
}

/** The current name of interface `ifindex`. */
export function interfaceName(ifindex: number): string {
  const out = new Uint8Array(IFNAMSIZ);
  unwrap(nk.nk_iface_name(ifindex, out), `look up interface index ${ifindex}`);
  return readCString(out);
}

/** A readable name for an ARPHRD_* link type. */
export function linkTypeName(type: number): string {
  const names: Record<number, string> = {
    [LinkType.ETHER]: "ether",
    [LinkType.LOOPBACK]: "loopback",
    [LinkType.SIT]: "sit",
    [LinkType.IPGRE]: "gre",
    [LinkType.NONE]: "none",
  };
  return names[type] ?? `type ${type}`;
}

/** Throws unless `info` is an Ethernet interface; `purpose` says who needs it. */
export function requireEthernet(info: InterfaceInfo, purpose: string): void {
  if (info.type !== LinkType.ETHER) {
    throw new NetkitError(
      `Interface "${info.name}" is not Ethernet (link type ${
        linkTypeName(info.type)
      }): ${purpose} needs an Ethernet interface`,
    );
  }
}

/** Sets the MTU of `name`. Requires CAP_NET_ADMIN. */
export function setInterfaceMtu(name: string, mtu: number): void {
  unwrap(nk.nk_iface_set_mtu(cString(name), mtu), `set MTU ${mtu} on "${name}"`);
}

/** Sets the hardware address of `name` (6 bytes). Requires CAP_NET_ADMIN. */
export function setInterfaceMac(name: string, mac: Uint8Array): void {
  if (mac.length !== 6) throw new RangeError(`MAC address must be 6 bytes, got ${mac.length}`);
  unwrap(nk.nk_iface_set_mac(cString(name), mac), `set MAC address on "${name}"`);
}

/** Brings `name` administratively up or down. Requires CAP_NET_ADMIN. */
export function setInterfaceUp(name: string, up: boolean): void {
  unwrap(nk.nk_iface_set_up(cString(name), up ? 1 : 0), `set "${name}" ${up ? "up" : "down"}`);
}
