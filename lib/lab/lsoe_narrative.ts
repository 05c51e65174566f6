/**
 * What the user reads about an LSoE lab run: each event as a timeline line
 * ({@linkcode formatLsoeTimelineLine}), the adjacency table ({@linkcode adjacencyCells}) and the
 * picture of the fabric ({@linkcode fabricPicture}) under it, and at the end a plain-English
 * account of the run ({@linkcode explainLsoeLab}) with the commands that reproduce it by hand.
 * Pure: it reads the events of `lsoe_events.ts`, recorded or live, and needs neither root nor
 * the native library.
 *
 * @module
 */

import type { LsoeEvent } from "../lsoe/client.ts";
import { plural } from "../text.ts";
import {
  type EncapsulationChange,
  labLocalId,
  labLoopback,
  LSOE_LAB_FAILED_LINK as FAILED,
  LSOE_LAB_FAILURE_STEP as FAILURE_STEP,
  LSOE_LAB_LEAVES as LEAVES,
  LSOE_LAB_LINKS as LINKS,
  LSOE_LAB_NEW_ADDRESS as NEW_ADDRESS,
  LSOE_LAB_NODES as NODES,
  LSOE_LAB_SPINES as SPINES,
  LSOE_LAB_STATIC_IPV6 as STATIC_IPV6,
  LSOE_LAB_STEPS as STEP_COUNT,
  type LsoeAdjacency,
  type LsoeLabEvent,
  type LsoeLabReport,
  nodeOfLocalId,
} from "./lsoe_events.ts";
import { drawFabric, type FabricLine } from "./lsoe_picture.ts";
import {
  at,
  describedLine,
  describeRemoval,
  describeRunning,
  describeStop,
  eventsOfKind,
  type EventText,
  type ExplainOptions,
  interruptedDuring,
  removedAll,
} from "./timeline.ts";

/** A peer by its node name, else its Local ID, else its MAC. */
function peerName(localId: string | null, mac: string): string {
  return nodeOfLocalId(localId) ?? localId ?? mac;
}

/** Changes listed on one timeline line; the rest are counted. */
const CHANGES_SHOWN = 3;

/**
 * What an encapsulations event brought, in a few words: on a session's first list, the
 * addresses on the link (those flagged Primary); later, what was added (`+`), removed (`-`) and
 * whether flags changed. The whole list is in the event (`-j`) and the adjacency table.
 */
function changeText(
  e: Extract<LsoeEvent, { event: "encapsulations" }>,
  change: EncapsulationChange,
): string {
  if (change.first) {
    const onLink = e.entries.filter((entry) => entry.primary)
      .map((entry) => `${entry.address}/${entry.prefix_length}`);
    return onLink.length === 0 ? "" : `, ${onLink.join(" ")} on this link`;
  }
  const changed = [...change.added.map((a) => `+${a}`), ...change.removed.map((a) => `-${a}`)];
  const more = changed.length - CHANGES_SHOWN;
  const parts = [
    ...changed.slice(0, CHANGES_SHOWN),
    ...(more > 0 ? [`and ${more} more`] : []),
    ...(change.flags_changed ? ["flags changed"] : []),
  ];
  return parts.length === 0 ? ", unchanged" : `, ${parts.join(" ")}`;
}

/**
 * A daemon's event in words, one short line: "session_open with l1 on l1, peer nonce
 * 1a2b3c4d"; an encapsulations event with `change` as its count and what changed.
 */
function lsoeText(e: LsoeEvent, change: EncapsulationChange | undefined): string {
  const peer = `${peerName(e.peer_local_id, e.peer_mac)} on ${e.interface}`;
  switch (e.event) {
    case "session_open":
      return `session_open with ${peer}, peer nonce ${e.peer_nonce}`;
    case "session_close":
      return `session_close with ${peer}: ${e.reason}`;
    case "encapsulations":
      return `encapsulations ${e.family} from ${peer}: ${
        e.entries.length === 0
          ? "none (withdrawn)"
          : `${plural(e.entries.length, "address", "addresses")}${
            change === undefined ? "" : changeText(e, change)
          }`
      }`;
  }
}

/** Open session ends in `rows`. */
function openCount(rows: readonly LsoeAdjacency[]): number {
  return rows.filter((r) => r.state === "open").length;
}

/**
 * Describes an event for the timeline, e.g. subject `s1`, text
 * `lsoe: session_open with l1 on l1, peer nonce 1a2b3c4d`.
 */
export function describeLsoeLabEvent(event: LsoeLabEvent): EventText {
  switch (event.event) {
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "lab":
      return {
        subject: "lab",
        text: `namespaces: ${event.netns.map((n) => `${n.node} ${n.netns}`).join(", ")}`,
      };
    case "command":
      return { subject: event.node, text: `$ ${event.command.join(" ")}` };
    case "daemon_started":
      return {
        subject: event.node,
        text: `netkit lsoe started as pid ${event.pid} in ${event.netns}`,
      };
    case "daemon_ready":
      return {
        subject: event.node,
        text: `netkit lsoe serving on ${event.socket}, local id ${event.local_id}, ${
          event.interfaces.length === 0
            ? "no interface up yet"
            : `speaking on ${event.interfaces.join(" ")}`
        }`,
      };
    case "lsoe":
      return { subject: event.node, text: `monitor: ${lsoeText(event.lsoe, event.change)}` };
    case "all_open":
      return {
        subject: "lab",
        text: `all ${event.sessions} session ends open, ${event.after_ms} ms after the links ` +
          "came up",
      };
    case "adjacency":
      return {
        subject: "lab",
        text: `adjacencies (netkit lsoe -s on every node): ${openCount(event.rows)} of ` +
          `${event.rows.length} session ends open`,
      };
    case "address_seen":
      return {
        subject: event.node,
        text: `${event.from}'s new address ${event.address} arrived, ${event.delay_ms} ms after ` +
          "ip addr add",
      };
    case "session_closed":
      return {
        subject: event.node,
        text: `session with ${event.peer} closed (${event.reason}), ${event.delay_ms} ms after ` +
          "the link went down",
      };
    case "running":
      return describeRunning(event.duration);
    case "process_stopped":
      return {
        subject: event.node,
        text: `netkit lsoe pid ${event.pid} exited with code ${event.code}${
          event.signal === null ? "" : ` (${event.signal})`
        }`,
      };
    case "removed":
      return describeRemoval(event, "with the veth pairs");
    case "stopped":
      return describeStop(event.reason);
  }
}

/** `   3.41s  s1        monitor: ...`: one timeline line. */
export function formatLsoeTimelineLine(event: LsoeLabEvent): string {
  return describedLine(event, describeLsoeLabEvent);
}

/**
 * The adjacency table as cells, a header row first: node, interface, neighbour (name and
 * Local ID), state, and the neighbour's addresses on the link.
 */
export function adjacencyCells(rows: readonly LsoeAdjacency[]): string[][] {
  return [
    ["node", "interface", "neighbour", "local id", "state", "neighbour's addresses on the link"],
    ...rows.map((r) => [
      r.node,
      r.interface,
      r.peer_node ?? r.peer_mac,
      r.peer_local_id ?? "-",
      r.state,
      r.addresses.length === 0 ? "-" : r.addresses.join(" "),
    ]),
  ];
}

/** The links both of whose ends are open in `rows`. */
export function openLinks(rows: readonly LsoeAdjacency[]): FabricLine[] {
  const open = (node: string, peer: string) =>
    rows.some((r) => r.node === node && r.peer_node === peer && r.state === "open");
  return LINKS.filter((l) => open(l.spine, l.leaf) && open(l.leaf, l.spine))
    .map((l) => ({ spine: l.spine, leaf: l.leaf }));
}

/** The fabric with a line per link open at both ends. */
export function fabricPicture(rows: readonly LsoeAdjacency[]): string[] {
  return drawFabric(SPINES, LEAVES, openLinks(rows));
}

/**
 * " l3 also told s1 ...": the failed link's leaf announcing to its other spines the addresses it
 * lost with the link (Linux removes a link's IPv6 addresses when it goes down), if it did.
 */
function lostWithLink(events: readonly LsoeLabEvent[]): string {
  const failure = events.findIndex((e) => e.event === "step" && e.step === FAILURE_STEP);
  if (failure < 0) return "";
  const told = eventsOfKind(events.slice(failure), "lsoe").filter((e) =>
    e.node !== FAILED.spine && nodeOfLocalId(e.lsoe.peer_local_id) === FAILED.leaf &&
    (e.change?.removed.length ?? 0) > 0
  );
  if (told.length === 0) return "";
  const lost = [...new Set(told.flatMap((e) => e.change!.removed))];
  return ` ${FAILED.leaf} also told ${[...new Set(told.map((e) => e.node))].join(" and ")} ` +
    `that ${lost.join(" and ")} ${lost.length === 1 ? "was" : "were"} gone: Linux removes a ` +
    "link's IPv6 addresses when it goes down.";
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: what LSoE
 * is, the fabric, how long discovery took and what each node learnt, the address change and
 * the link failure arriving, and the removal; then the commands that reproduce it by hand.
 */
export function explainLsoeLab(report: LsoeLabReport, options: ExplainOptions = {}): string[] {
  const netkit = options.netkit ?? "netkit";
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const events = report.events;

  const lab = eventsOfKind(events, "lab")[0];
  if (lab === undefined) {
    lines.push("  The lab stopped before it built anything.");
  } else {
    point(
      "LSoE (Link State over Ethernet, draft-ietf-lsvr-lsoe-01) runs on each point-to-point " +
        "link of a data-centre fabric and tells each node who its neighbour is, which " +
        "addresses the neighbour has (IPv4, IPv6, MPLS) and whether it is alive, over raw " +
        "Ethernet frames: no IP configuration is needed first and no controller. BGP-SPF and " +
        "similar protocols build on what it discovers.",
    );
    point(
      `The fabric: a small Clos, spines ${SPINES.join(" and ")} over leaves ${
        LEAVES.join(", ")
      }, each leaf joined to each spine by a veth pair (${LINKS.length} links), each link a /31 ` +
        "from 192.0.2.0/24, a /64 from 2001:db8::/32 and the link-local addresses " +
        `${LINKS[0]!.link_local.join(" and ")}, each node a loopback /32 and /128. Every ` +
        "address is in place before the links come up (duplicate address detection is off in " +
        "the lab), so each node announces its lists once. " +
        `Each node is a namespace running one netkit lsoe with a HELLO every second and a ` +
        "receive timeout of 3 s.",
    );
  }
  const allOpen = eventsOfKind(events, "all_open")[0];
  const opens = eventsOfKind(events, "lsoe").filter((e) => e.lsoe.event === "session_open");
  if (allOpen !== undefined) {
    point(
      `Discovery: every node sends HELLOs to 01:80:c2:00:00:0e on each link; a HELLO from a new ` +
        "MAC starts a session, the two sides exchange OPENs (a nonce and a Local ID) and ACK " +
        "them, then each announces its addresses. All " +
        `${allOpen.sessions} session ends were open ${allOpen.after_ms} ms after the links came ` +
        `up (${plural(opens.length, "session_open event")} seen by the monitors).`,
    );
  }
  const adjacency = eventsOfKind(events, "adjacency");
  const first = adjacency[0];
  if (first !== undefined) {
    const l1 = first.rows.filter((r) => r.node === "s1" && r.state === "open");
    point(
      "The adjacency table is what the nodes learnt on their own: each neighbour by its " +
        `Local ID and the addresses it flagged Primary on that link` +
        (l1.length === 0
          ? "."
          : `; s1, for one, found ${
            l1.map((r) =>
              `${r.peer_node ?? r.peer_mac} on ${r.interface} (${r.addresses.join(" ")})`
            )
              .join(", ")
          }.`) +
        " Every session also carries the neighbour's whole address list, loopbacks included.",
    );
  }
  const seen = eventsOfKind(events, "address_seen");
  if (seen.length > 0) {
    point(
      `An address change: ip addr add ${NEW_ADDRESS.address}/${NEW_ADDRESS.prefix_length} dev ` +
        `${NEW_ADDRESS.interface} on ${NEW_ADDRESS.node}. Its netkit lsoe saw the address in the ` +
        "kernel's address monitor and sent its open sessions a new IPv4 encapsulation PDU " +
        `(the whole list; the timeline shows what changed, +${NEW_ADDRESS.address}/` +
        `${NEW_ADDRESS.prefix_length}); it arrived at ${
          seen.map((s) => `${s.node} after ${s.delay_ms} ms`).join(" and ")
        }, each an encapsulations event on that spine's monitor.`,
    );
  }
  const closed = eventsOfKind(events, "session_closed");
  if (closed.length > 0) {
    const last = adjacency.at(-1);
    point(
      `A link failure: ip link set ${FAILED.leaf_interface} down on ${FAILED.leaf}. ` +
        closed.map((c) =>
          `${c.node} closed its session with ${c.peer} (${c.reason}) after ${c.delay_ms} ms`
        )
          .join("; ") +
        ": a side whose interface goes down closes at once, withdrawing what the neighbour had " +
        "announced; a side that only stops hearing its neighbour closes after the receive " +
        "timeout." +
        lostWithLink(events) +
        (last === undefined || last === first
          ? ""
          : ` The fabric then had ${openCount(last.rows)} session ends open, and the picture ` +
            `lost the ${FAILED.leaf}–${FAILED.spine} line.`),
    );
  }
  if (report.reason === "signal") {
    point(interruptedDuring(events, STEP_COUNT));
  }
  const stopped = eventsOfKind(events, "process_stopped");
  const removed = eventsOfKind(events, "removed")[0];
  if (stopped.length > 0 || removed !== undefined) {
    const gone = removed !== undefined && removedAll(removed);
    point(
      (stopped.length === 0
        ? ""
        : `Removal: SIGTERM to the ${plural(stopped.length, "daemon")} (exit codes ${
          [...new Set(stopped.map((s) => s.code))].join(", ")
        }); each closed its sessions and removed its socket. `) +
        (removed === undefined
          ? ""
          : gone
          ? `Then the ${removed.netns.length} namespaces were deleted; nothing is left.`
          : "Yet something is left: see the last timeline line.") +
        (report.reason === "done" || allOpen === undefined ? "" : ` (at ${at(report.duration)})`),
    );
  }

  const n = (node: string) => `fab-${node}`;
  const link = LINKS[0]!;
  lines.push(
    "",
    "Reproduce it by hand (as root):",
    `  for n in ${NODES.join(" ")}; do ip netns add fab-$n; ip -n fab-$n link set lo up; ` +
      `ip netns exec fab-$n sysctl -qw ${STATIC_IPV6.join(" ")}; done`,
    `  ip -n ${n(link.spine)} link add ${link.spine_interface} type veth peer name ` +
      `${link.leaf_interface} netns ${n(link.leaf)}     (and so on for each leaf and spine)`,
    `  ip -n ${n(link.spine)} addr add ${link.ipv4[0]}/31 dev ${link.spine_interface}; ` +
      `ip -n ${n(link.spine)} addr add ${link.ipv6[0]}/64 dev ${link.spine_interface}; ` +
      `ip -n ${n(link.spine)} addr add ${link.link_local[0]}/64 dev ${link.spine_interface}; ` +
      `ip -n ${n(link.spine)} link set ${link.spine_interface} up`,
    `  ip -n ${n("s1")} addr add ${labLoopback("s1").ipv4}/32 dev lo     (and /128; each node)`,
    `  ${netkit} -n ${n("s1")} lsoe --hello-interval 1 --keepalive-receive-timeout 3 ` +
      `--local-id ${labLocalId("s1")} -d     (each node, its own --local-id)`,
    `  sessions: ${netkit} -n ${n("s1")} lsoe -s; events: ${netkit} -n ${n("s1")} lsoe monitor`,
    `  change:   ip -n ${n(NEW_ADDRESS.node)} addr add ${NEW_ADDRESS.address}/` +
      `${NEW_ADDRESS.prefix_length} dev ${NEW_ADDRESS.interface}; ip -n ${n(FAILED.leaf)} link ` +
      `set ${FAILED.leaf_interface} down`,
    `  clean up: for n in ${NODES.join(" ")}; do ${netkit} -n fab-$n lsoe -k; ip netns del ` +
      "fab-$n; done",
  );
  return lines;
}
