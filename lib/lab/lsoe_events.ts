// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * What the LSoE lab (`netkit lab lsoe`, `LsoeScenario` in `lsoe_scenario.ts`) builds and
 * records: the fabric (a small Clos: two spines, three leaves, a veth pair from each leaf to
 * each spine), its addresses, the events of a run, the snapshot of its live view and the report,
 * all JSON as `-j` prints them. Pure: the narrative, the picture and their tests read these
 * without root.
 *
 * @module
 */

import type { CloseReason, EncapsulationJson, LsoeEvent, StatusReply } from "../lsoe/client.ts";
import type { RunEnd, StepEvent, StoppedEvent } from "./runner.ts";

/** A node of the fabric: a namespace running one `netkit lsoe`. */
export type LsoeLabNode = "s1" | "s2" | "l1" | "l2" | "l3";

/** The spines, drawn on top. */
export const LSOE_LAB_SPINES: readonly LsoeLabNode[] = ["s1", "s2"];
/** The leaves, drawn below. */
export const LSOE_LAB_LEAVES: readonly LsoeLabNode[] = ["l1", "l2", "l3"];
/** Every node, spines first. */
export const LSOE_LAB_NODES: readonly LsoeLabNode[] = [...LSOE_LAB_SPINES, ...LSOE_LAB_LEAVES];

/** The node's Local ID: "nk-lab--" and its name in ASCII, 10 bytes, as lower-case hex. */
export function labLocalId(node: LsoeLabNode): string {
  return [...new TextEncoder().encode(`nk-lab--${node}`)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The node whose Local ID is `localId`, or null for a stranger's. */
export function nodeOfLocalId(localId: string | null): LsoeLabNode | null {
  return LSOE_LAB_NODES.find((n) => labLocalId(n) === localId?.toLowerCase()) ?? null;
}

/** The loopback addresses of each node (`lo`, /32 and /128). */
export function labLoopback(node: LsoeLabNode): { ipv4: string; ipv6: string } {
  const i = LSOE_LAB_NODES.indexOf(node) + 1;
  return { ipv4: `192.0.2.${200 + i}`, ipv6: `2001:db8:ffff::${i}` };
}

/** One leaf–spine link: a veth pair, named after the node at its other end. */
export interface LsoeLabLink {
  /** The spine. */
  spine: LsoeLabNode;
  /** The leaf. */
  leaf: LsoeLabNode;
  /** The spine's interface (named after the leaf). */
  spine_interface: string;
  /** The leaf's interface (named after the spine). */
  leaf_interface: string;
  /** The spine's and the leaf's IPv4 addresses, /31 from 192.0.2.0/24. */
  ipv4: readonly [string, string];
  /** The spine's and the leaf's IPv6 addresses, a /64 from 2001:db8::/32. */
  ipv6: readonly [string, string];
  /** The spine's and the leaf's IPv6 link-local addresses (/64), the same on every link. */
  link_local: readonly [string, string];
}

/** The six links: each leaf to each spine, in order l1–s1, l1–s2, l2–s1, ... */
export const LSOE_LAB_LINKS: readonly LsoeLabLink[] = LSOE_LAB_LEAVES.flatMap((leaf) =>
  LSOE_LAB_SPINES.map((spine) => ({ leaf, spine }))
).map(({ leaf, spine }, i) => ({
  spine,
  leaf,
  spine_interface: leaf,
  leaf_interface: spine,
  ipv4: [`192.0.2.${2 * i}`, `192.0.2.${2 * i + 1}`] as const,
  ipv6: [`2001:db8:0:${i + 1}::1`, `2001:db8:0:${i + 1}::2`] as const,
  link_local: ["fe80::1", "fe80::2"] as const,
}));

/**
 * The sysctls set in each namespace before its links are made, so that every IPv6 address is
 * usable at once: no duplicate address detection, and no link-local address made up when a
 * link comes up (the lab adds its own, {@linkcode LsoeLabLink.link_local}, before).
 */
export const LSOE_LAB_STATIC_IPV6: readonly string[] = [
  "net.ipv6.conf.all.accept_dad=0",
  "net.ipv6.conf.default.accept_dad=0",
  "net.ipv6.conf.default.addr_gen_mode=1",
];

/** Open session ends when the fabric is whole: each link's two ends. */
export const LSOE_LAB_SESSION_ENDS = 2 * LSOE_LAB_LINKS.length;

/** The change of step 5: an address added on a leaf's loopback. */
export const LSOE_LAB_NEW_ADDRESS = {
  node: "l1",
  interface: "lo",
  address: "198.51.100.11",
  prefix_length: 32,
} as const satisfies { node: LsoeLabNode; [k: string]: unknown };

/** The failure of step 6: a leaf's link to a spine set down at the leaf. */
export const LSOE_LAB_FAILED_LINK: LsoeLabLink = LSOE_LAB_LINKS.find((l) =>
  l.leaf === "l3" && l.spine === "s2"
)!;

/** The step of the link failure. */
export const LSOE_LAB_FAILURE_STEP = 6;

/** The last step's number: the removal. */
export const LSOE_LAB_STEPS = 8;

/** Why a lab run ended. */
export type LsoeLabStopReason = "done" | "signal";

/** One session end as a node's `netkit lsoe -s` shows it: one row of the adjacency table. */
export interface LsoeAdjacency {
  /** The node whose daemon reported it. */
  node: LsoeLabNode;
  /** Its interface. */
  interface: string;
  /** The neighbour's MAC. */
  peer_mac: string;
  /** The neighbour's Local ID (hex), null before its OPEN. */
  peer_local_id: string | null;
  /** The neighbour, named from its Local ID; null for a stranger. */
  peer_node: LsoeLabNode | null;
  /** `opening` or `open`. */
  state: "opening" | "open";
  /** The neighbour's addresses on the link (its Primary entries), `address/len`. */
  addresses: string[];
}

/** The adjacency rows of one node's STATUS. */
export function adjacencyRows(node: LsoeLabNode, status: StatusReply): LsoeAdjacency[] {
  return status.sessions.map((s) => ({
    node,
    interface: s.interface,
    peer_mac: s.peer_mac,
    peer_local_id: s.peer_local_id,
    peer_node: nodeOfLocalId(s.peer_local_id),
    state: s.state,
    addresses: [...s.encapsulations.ipv4, ...s.encapsulations.ipv6].filter((e) => e.primary)
      .map((e) => `${e.address}/${e.prefix_length}`),
  }));
}

/**
 * How a neighbour's list of one family differs from the one it announced before on the same
 * session: what the timeline shows instead of the whole list (which stays in the event).
 * A list may hold an address more than once (one per interface of the neighbour's), so the
 * entries are compared as multisets.
 */
export interface EncapsulationChange {
  /** Whether this is the session's first list of that family (everything in it is new). */
  first: boolean;
  /** Entries (`address/len`) in this list and not in the one before. */
  added: string[];
  /** Entries in the one before and not in this list. */
  removed: string[];
  /** Whether an entry in both changed its flags (primary, loopback). */
  flags_changed: boolean;
}

/** What `after` has more of than `before`, with multiplicity, in `after`'s order. */
function multisetMinus(after: readonly string[], before: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const k of before) left.set(k, (left.get(k) ?? 0) + 1);
  return after.filter((k) => {
    const n = left.get(k) ?? 0;
    left.set(k, n - 1);
    return n <= 0;
  });
}

/** `previous` (undefined: none yet on this session) → `entries`, as an {@linkcode EncapsulationChange}. */
export function encapsulationChange(
  previous: readonly EncapsulationJson[] | undefined,
  entries: readonly EncapsulationJson[],
): EncapsulationChange {
  const address = (e: EncapsulationJson) => `${e.address}/${e.prefix_length}`;
  const flagged = (e: EncapsulationJson) => `${address(e)} ${e.primary} ${e.loopback}`;
  const before = previous ?? [];
  const added = multisetMinus(entries.map(address), before.map(address));
  return {
    first: previous === undefined,
    added,
    removed: multisetMinus(before.map(address), entries.map(address)),
    // More entries differ once flags count than addresses alone: some changed their flags.
    flags_changed: multisetMinus(entries.map(flagged), before.map(flagged)).length > added.length,
  };
}

/** Something that happened in the lab, `t` seconds after the run started (JSON). */
export type LsoeLabEvent =
  | StepEvent
  /** The namespaces, one per node. */
  | { t: number; event: "lab"; netns: { node: LsoeLabNode; netns: string }[] }
  /** What a user would type to do the next thing by hand ("netkit" is this netkit). */
  | { t: number; event: "command"; node: LsoeLabNode; command: string[] }
  | { t: number; event: "daemon_started"; node: LsoeLabNode; pid: number; netns: string }
  /** The daemon answers STATUS on its control socket. */
  | {
    t: number;
    event: "daemon_ready";
    node: LsoeLabNode;
    socket: string;
    local_id: string;
    /** The interfaces it speaks on (those up; the lab's links are still down then). */
    interfaces: string[];
  }
  /**
   * An event of a node's daemon (`netkit lsoe monitor -j`); an `encapsulations` event with
   * its `change` from the session's list before.
   */
  | { t: number; event: "lsoe"; node: LsoeLabNode; lsoe: LsoeEvent; change?: EncapsulationChange }
  /** Every session end of the fabric is open, `after_ms` after the links came up. */
  | { t: number; event: "all_open"; sessions: number; after_ms: number }
  /** The adjacency table, read from every node's STATUS. */
  | { t: number; event: "adjacency"; rows: LsoeAdjacency[] }
  /** The address of step 5 reached a neighbour: its `encapsulations` event, `delay_ms` later. */
  | {
    t: number;
    event: "address_seen";
    node: LsoeLabNode;
    from: LsoeLabNode;
    address: string;
    delay_ms: number;
  }
  /** A session end of the failed link closed, `delay_ms` after the link went down. */
  | {
    t: number;
    event: "session_closed";
    node: LsoeLabNode;
    peer: LsoeLabNode;
    reason: CloseReason;
    delay_ms: number;
  }
  /** The lab runs until a signal (duration null) or for `duration` seconds. */
  | { t: number; event: "running"; duration: number | null }
  | {
    t: number;
    event: "process_stopped";
    node: LsoeLabNode;
    pid: number;
    code: number;
    signal: string | null;
  }
  /**
   * The namespaces were deleted: `left` lists any still there, `processes_left` the pids of the
   * lab's processes still running, `files_left` whether the lab's files are still there.
   */
  | {
    t: number;
    event: "removed";
    netns: string[];
    left: string[];
    processes_left: number[];
    files_left: boolean;
  }
  | StoppedEvent<LsoeLabStopReason>;

/** What a finished run leaves behind, for `explainLsoeLab` (`lsoe_narrative.ts`). */
export interface LsoeLabReport extends RunEnd<LsoeLabEvent> {
  /** The namespace prefix (every name the lab made starts with it), or null if none was made. */
  prefix: string | null;
}

/** The lab's state now, for a live view (JSON). */
export interface LsoeLabSnapshot {
  /** Seconds since the run started. */
  t: number;
  /** The current step, 0 before the first. */
  step: number;
  /** The current step's title, "" before the first. */
  title: string;
  /** The adjacency table as last read, or null before the daemons answered. */
  rows: LsoeAdjacency[] | null;
}
