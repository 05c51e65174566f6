/**
 * What the virtual router lab (`netkit lab vnet`, `VnetScenario` in `vnet_scenario.ts`) records:
 * its addresses, its events, the snapshot of its live view and the report of a run, all JSON as
 * `-j` prints them. Pure: the narrative and its tests read these without root.
 *
 * @module
 */

import type { ShowReply } from "../vnet/client.ts";
import type { RunEnd, StepEvent, StoppedEvent } from "./runner.ts";

/** The uplink (a TUN device in the host's namespace) and the host's addresses behind it. */
export const VNET_LAB_HOST = {
  uplink: "up0",
  ipv4: "203.0.113.1",
  ipv6: "2001:db8:ff::1",
} as const;

/** One of the lab's two "VMs": a namespace holding the TAP netkit made for it. */
export interface VnetLabGuest {
  /** The NIC's name, also its TAP's and the short name of its namespace. */
  vm: "vm1" | "vm2";
  /** The guest's MAC. */
  mac: string;
  /** The NIC's profile. */
  profile: "linklocal" | "lan";
  /** The address the NIC hands out by DHCPv4 (`vnet nic add --ipv4`). */
  ipv4: string;
  /** The IPv6 address or prefix of the NIC (`--ipv6`). */
  ipv6: string;
  /** `lan --slaac`: the guest forms its IPv6 address itself from the prefix in the RAs. */
  slaac: boolean;
  /** The gateway's IPv4 address the guest pings. */
  gateway4: string;
  /** The host's routes to the guest through the uplink (IPv4, IPv6). */
  hostRoutes: readonly [string, string];
}

/** vm1 gets its addresses by DHCPv4 and DHCPv6 (linklocal); vm2 by DHCPv4 and SLAAC (lan). */
export const VNET_LAB_GUESTS: readonly [VnetLabGuest, VnetLabGuest] = [
  {
    vm: "vm1",
    mac: "52:54:00:12:34:01",
    profile: "linklocal",
    ipv4: "192.0.2.5",
    ipv6: "2001:db8::5",
    slaac: false,
    gateway4: "169.254.0.1",
    hostRoutes: ["192.0.2.5/32", "2001:db8::5/128"],
  },
  {
    vm: "vm2",
    mac: "52:54:00:12:34:02",
    profile: "lan",
    ipv4: "198.51.100.5/24",
    ipv6: "2001:db8:1::5/64",
    slaac: true,
    gateway4: "198.51.100.1",
    hostRoutes: ["198.51.100.0/24", "2001:db8:1::/64"],
  },
];

/** The last step's number: the removal. */
export const VNET_LAB_STEPS = 11;

/** Why a lab run ended. */
export type VnetLabStopReason = "done" | "signal";

/** Where a command runs: the host's namespace (the daemon's) or a VM's. */
export type VnetLabHost = "host" | VnetLabGuest["vm"];

/** What a ping was aimed at. */
export type VnetLabTarget = "gateway" | "vm1" | "vm2" | "host";

/** `netkit vnet show -s -j` as the lab read it (the reply without its status). */
export type VnetLabShow = Omit<ShowReply, "status">;

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type VnetLabEvent =
  | StepEvent
  /** The namespaces: the host (the daemon runs there) and one per VM. */
  | {
    t: number;
    event: "lab";
    host: string;
    guests: { vm: VnetLabGuest["vm"]; netns: string }[];
  }
  /** What a user would type to do the next thing by hand ("netkit" is this netkit). */
  | { t: number; event: "command"; host: VnetLabHost; command: string[] }
  | { t: number; event: "daemon_started"; pid: number; netns: string }
  /** The daemon answers on its control socket. */
  | {
    t: number;
    event: "daemon_ready";
    socket: string;
    arena: string;
    uplink: string | null;
  }
  /** An event of the daemon's (`netkit vnet monitor -j`): NICs, leases, unknown traffic. */
  | { t: number; event: "daemon_event"; daemon: Record<string, unknown> }
  /** A VM's TAP, moved into its namespace and up. */
  | { t: number; event: "guest_link"; vm: VnetLabGuest["vm"]; netns: string; interface: string }
  /** A lease as the VM's DHCP client saw it (its script's environment). */
  | {
    t: number;
    event: "lease";
    vm: VnetLabGuest["vm"];
    family: "ipv4" | "ipv6";
    /** "udhcpc" or "dhclient -6". */
    client: string;
    address: string;
    prefix_length: number;
    /** The server identifier (DHCPv4) or DUID (DHCPv6), as the client printed it. */
    server: string | null;
    /** Option 3's routers (DHCPv4). */
    routers: string[];
    /** Option 121's routes, `destination/len via gateway` (0.0.0.0: on-link). */
    routes: string[];
    /** The lease time (DHCPv4) or valid lifetime (DHCPv6), in seconds. */
    lifetime: number | null;
  }
  /** The VM's kernel formed an address from the RA's prefix and took the gateway as router. */
  | {
    t: number;
    event: "slaac";
    vm: VnetLabGuest["vm"];
    address: string;
    prefix_length: number;
    router: string | null;
    after_ms: number;
  }
  /** One `ping -c`, from its summary lines; RTTs in milliseconds, null without replies. */
  | {
    t: number;
    event: "ping";
    from: VnetLabGuest["vm"];
    target: VnetLabTarget;
    to: string;
    family: 4 | 6;
    sent: number;
    received: number;
    /** The TTL (hop limit) of the first reply: 64 from a kernel, 63 after one router. */
    ttl: number | null;
    rtt_min: number | null;
    rtt_avg: number | null;
    rtt_max: number | null;
  }
  /** The daemon's NICs and counters, as `netkit vnet show -s -j` prints them. */
  | { t: number; event: "show"; show: VnetLabShow }
  /** The lab runs until a signal (duration null) or for `duration` seconds. */
  | { t: number; event: "running"; duration: number | null }
  | {
    t: number;
    event: "process_stopped";
    role: "daemon" | "dhclient";
    vm: VnetLabGuest["vm"] | null;
    pid: number;
    code: number;
    signal: string | null;
  }
  /**
   * The namespaces were deleted: `left` lists any still there, `processes_left` the pids of the
   * lab's processes still running, `files_left` whether the lab's directory is still there.
   */
  | {
    t: number;
    event: "removed";
    netns: string[];
    left: string[];
    processes_left: number[];
    files_left: boolean;
  }
  | StoppedEvent<VnetLabStopReason>;

/** What a finished run leaves behind, for `explainVnetLab` (`vnet_narrative.ts`). */
export interface VnetLabReport extends RunEnd<VnetLabEvent> {
  /** The namespace prefix (every name the lab made starts with it), or null if none was made. */
  prefix: string | null;
}

/** The lab's state now, for a live view (JSON). */
export interface VnetLabSnapshot {
  /** Seconds since the run started. */
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  /** The current step's title, "" before the first. */
  title: string;
  /** The daemon's NICs and counters as last read, or null before it answered. */
  show: VnetLabShow | null;
}
