/**
 * What the user reads about a virtual router lab run: each event as a timeline line
 * ({@linkcode formatVnetTimelineLine}) and, at the end, a plain-English account of the run
 * ({@linkcode explainVnetLab}): what a virtual router is, what each step showed, then the
 * commands that reproduce it by hand. Pure: it reads the events of `vnet_events.ts`, recorded
 * or live, and needs neither root nor the native library.
 *
 * @module
 */

import { GATEWAY6_LINK_LOCAL, GATEWAY_MAC } from "../vnet/config.ts";
import type { NicCounters } from "../vnet/dataplane.ts";
import {
  VNET_LAB_GUESTS as GUESTS,
  VNET_LAB_HOST as HOST,
  VNET_LAB_STEPS as STEP_COUNT,
  type VnetLabEvent,
  type VnetLabReport,
  type VnetLabShow,
} from "./vnet_events.ts";
import {
  describedLine,
  describeRemoval,
  describeRunning,
  describeStop,
  type EventOf as TimelineEventOf,
  eventsOfKind,
  type EventText,
  type ExplainOptions,
  interruptedDuring,
  removedAll,
} from "./timeline.ts";

type EventOf<K extends VnetLabEvent["event"]> = TimelineEventOf<VnetLabEvent, K>;

/** A `dest/len via gw` route in words: "169.254.0.1/32 on-link", "default via 169.254.0.1". */
function routeText(route: string): string {
  const [destination, , gateway] = route.split(" ");
  const to = destination === "0.0.0.0/0" ? "default" : destination;
  return gateway === "0.0.0.0" ? `${to} on-link` : `${to} via ${gateway}`;
}

function leaseText(e: EventOf<"lease">): string {
  const parts = [`${e.address}/${e.prefix_length}`];
  if (e.server !== null) parts.push(`server ${e.server}`);
  if (e.routers.length > 0) parts.push(`router ${e.routers.join(" ")}`);
  if (e.routes.length > 0) parts.push(`routes ${e.routes.map(routeText).join(", ")}`);
  if (e.lifetime !== null) parts.push(`for ${e.lifetime} s`);
  return `${e.family === "ipv4" ? "DHCPv4" : "DHCPv6"} lease (${e.client}): ${parts.join(", ")}`;
}

function rttText(e: EventOf<"ping">): string {
  return e.rtt_avg === null
    ? ""
    : `, rtt min/avg/max ${e.rtt_min!.toFixed(3)}/${e.rtt_avg.toFixed(3)}/${
      e.rtt_max!.toFixed(3)
    } ms`;
}

/** A daemon event as `netkit vnet monitor` prints it: "lease nic vm1 family ipv4 ...". */
function monitorText(daemon: Record<string, unknown>): string {
  const { event, nic, ...rest } = daemon;
  const fields = Object.entries(rest).map(([k, v]) =>
    `${k} ${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  return [String(event), ...(nic === undefined ? [] : [`nic ${nic}`]), ...fields].join(" ");
}

function dropsText(drops: Record<string, number>): string {
  const happened = Object.entries(drops).filter(([, n]) => n > 0);
  return happened.length === 0
    ? "no drops"
    : `drops ${happened.map(([k, n]) => `${k}=${n}`).join(",")}`;
}

function countersText(c: NicCounters): string {
  return `rx ${c.rx_frames} tx ${c.tx_frames} frames, routed ${c.routed}, to responders ` +
    `${c.to_responder}, icmp errors ${c.icmp_errors}, ${dropsText(c.drops)}`;
}

/** The `show` event in one line: every NIC's and the uplink's counters. */
function showText(show: VnetLabShow): string {
  const parts = show.nics.map((n) =>
    `${n.name} ${n.device.state}${n.counters === null ? "" : `: ${countersText(n.counters)}`}`
  );
  const uplink = show.uplink;
  if (uplink !== null) {
    parts.push(
      `uplink ${uplink.name}${
        uplink.counters === null ? "" : `: ${countersText(uplink.counters)}`
      }`,
    );
  }
  return `counters: ${parts.join("; ")}`;
}

/**
 * Describes an event for the timeline, e.g. subject `ping`, text
 * `vm1 → 198.51.100.5 (vm2): 3/3 replies, ttl 63, rtt min/avg/max 0.061/0.093/0.126 ms`.
 */
export function describeVnetLabEvent(event: VnetLabEvent): EventText {
  switch (event.event) {
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "lab":
      return {
        subject: "lab",
        text: `namespaces: host ${event.host}, ${
          event.guests.map((g) => `${g.vm} ${g.netns}`).join(", ")
        }`,
      };
    case "command":
      return { subject: event.host, text: `$ ${event.command.join(" ")}` };
    case "daemon_started":
      return { subject: "vnet", text: `started as pid ${event.pid} in ${event.netns}` };
    case "daemon_ready":
      return {
        subject: "vnet",
        text: `serving on ${event.socket}; uplink ${event.uplink ?? "none"}; frame buffers in ` +
          `${event.arena} pages`,
      };
    case "daemon_event":
      return { subject: "vnet", text: `monitor: ${monitorText(event.daemon)}` };
    case "guest_link":
      return {
        subject: event.vm,
        text: `TAP ${event.interface} is its NIC now, in ${event.netns}, up`,
      };
    case "lease":
      return { subject: event.vm, text: leaseText(event) };
    case "slaac":
      return {
        subject: event.vm,
        text: `SLAAC: ${event.address}/${event.prefix_length} formed from the RA's prefix` +
          `${event.router === null ? "" : `, default via ${event.router}`}, ${event.after_ms} ms ` +
          "after the link came up",
      };
    case "ping":
      return {
        subject: "ping",
        text: `${event.from} → ${event.to} (${event.target}): ${event.received}/${event.sent} ` +
          `replies${event.ttl === null ? "" : `, ttl ${event.ttl}`}${rttText(event)}`,
      };
    case "show":
      return { subject: "vnet", text: showText(event.show) };
    case "running":
      return describeRunning(event.duration);
    case "process_stopped":
      return {
        subject: event.role === "daemon" ? "vnet" : event.vm ?? event.role,
        text: `${event.role === "daemon" ? "daemon" : event.role} pid ${event.pid} exited with ` +
          `code ${event.code}${event.signal === null ? "" : ` (${event.signal})`}`,
      };
    case "removed":
      return describeRemoval(event, "with the TAPs and the uplink");
    case "stopped":
      return describeStop(event.reason);
  }
}

/** `   3.41s  ping      vm1 → 169.254.0.1 ...`: one timeline line. */
export function formatVnetTimelineLine(event: VnetLabEvent): string {
  return describedLine(event, describeVnetLabEvent);
}

function pingSentence(p: EventOf<"ping">): string {
  return `${p.from} → ${p.to}: ${p.received} of ${p.sent}` +
    (p.ttl === null ? "" : ` (TTL ${p.ttl})`);
}

function pingsOf(events: readonly VnetLabEvent[], test: (p: EventOf<"ping">) => boolean): string {
  return eventsOfKind(events, "ping").filter(test).map(pingSentence).join(", ");
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: what a
 * virtual router is, the daemon and its uplink, the two NICs and their profiles, how each VM got
 * its addresses, the pings to the gateway, between the VMs and to the host, the counters and
 * the removal; then the commands that reproduce the lab by hand.
 */
export function explainVnetLab(report: VnetLabReport, options: ExplainOptions = {}): string[] {
  const netkit = options.netkit ?? "netkit";
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const events = report.events;
  const [vm1, vm2] = GUESTS;

  const lab = eventsOfKind(events, "lab")[0];
  if (lab === undefined) {
    lines.push("  The lab stopped before it built anything.");
  } else {
    point(
      "A virtual router: netkit vnet gives each VM a NIC, a TAP device whose other side is the " +
        "VM's network card (here a namespace plays the VM). Whatever the VM sends arrives at " +
        "netkit, which plays its gateway: it answers ARP, DHCP, NDP and ping for the gateway's " +
        "addresses itself and routes everything else at L3, to another NIC's VM or, through " +
        "the uplink (a TUN device), to the host's kernel. No bridge, and no kernel routing " +
        "between the VMs.",
    );
  }
  const ready = eventsOfKind(events, "daemon_ready")[0];
  if (ready !== undefined && lab !== undefined) {
    point(
      `The daemon runs in ${lab.host}, the host's namespace, with uplink ${ready.uplink}: the ` +
        `host reaches it at ${HOST.ipv4} and ${HOST.ipv6}, and routes the guests' addresses ` +
        `(${GUESTS.flatMap((g) => g.hostRoutes).join(", ")}) to ${HOST.uplink}, as it would ` +
        `to any router. Its frame buffers are ${ready.arena} pages.`,
    );
  }
  const links = eventsOfKind(events, "guest_link");
  if (links.length > 0) {
    point(
      `NIC ${vm1.vm} has the linklocal profile, the cloud's: its gateway is ` +
        `${vm1.gateway4} and ${GATEWAY6_LINK_LOCAL} behind ${GATEWAY_MAC}, and the VM gets a ` +
        "/32 and a /128, so every packet it sends goes through the gateway. NIC " +
        `${vm2.vm} has the lan profile: the real prefix (${vm2.ipv4}, ${vm2.ipv6}) with the ` +
        `gateway inside it (${vm2.gateway4}), and SLAAC offered in its Router Advertisements. ` +
        "netkit made both TAPs in the host's namespace; the lab moved each into its VM, as a " +
        "hypervisor hands a TAP to a VM.",
    );
  }
  const leases = eventsOfKind(events, "lease");
  const v4 = (vm: string) => leases.find((l) => l.vm === vm && l.family === "ipv4");
  const v6 = (vm: string) => leases.find((l) => l.vm === vm && l.family === "ipv6");
  const vm1v4 = v4(vm1.vm);
  const vm1v6 = v6(vm1.vm);
  if (vm1v4 !== undefined) {
    point(
      `${vm1.vm} asked by DHCPv4 (busybox udhcpc, asking for option 121) and got ` +
        `${vm1v4.address}/${vm1v4.prefix_length} from ${vm1v4.server ?? "the gateway"}` +
        (vm1v4.routes.length === 0
          ? "."
          : ` with the routes ${vm1v4.routes.map(routeText).join(" and ")}: a /32 has no ` +
            "subnet to find a router in, so option 121 (RFC 3442) first puts the gateway " +
            "on-link, then the default route through it.") +
        (vm1v6 === undefined
          ? ""
          : ` Its Router Advertisements say M=1 and carry no prefix, so it asked DHCPv6 ` +
            `(dhclient -6) and got ${vm1v6.address}/${vm1v6.prefix_length}, from ` +
            `${GATEWAY6_LINK_LOCAL}; its default route came from the RA itself.`),
    );
  }
  const vm2v4 = v4(vm2.vm);
  const slaac = eventsOfKind(events, "slaac")[0];
  if (vm2v4 !== undefined) {
    point(
      `${vm2.vm} got ${vm2v4.address}/${vm2v4.prefix_length} by DHCPv4` +
        (vm2v4.routers.length === 0 ? "" : ` with router ${vm2v4.routers.join(" ")} (option 3)`) +
        (slaac === undefined
          ? "."
          : `. For IPv6 it asked no one: its kernel took the prefix from the RA (A=1), formed ` +
            `${slaac.address} from it and its MAC, and took ${
              slaac.router ?? GATEWAY6_LINK_LOCAL
            } as its default router, ${slaac.after_ms} ms after the link came up.`),
    );
  }
  const seen = eventsOfKind(events, "daemon_event").filter((e) => e.daemon.event === "lease");
  if (seen.length > 0) {
    point(
      `The daemon reported each lease it gave (${
        seen.map((e) => `${e.daemon.nic} ${e.daemon.family} ${e.daemon.address}`).join(", ")
      }), as netkit vnet monitor shows them.`,
    );
  }
  const gateway = pingsOf(events, (p) => p.target === "gateway");
  if (gateway !== "") {
    point(
      `Pings to the gateway: ${gateway}. netkit answered them itself: TTL 64 is a fresh reply, ` +
        "no router in between.",
    );
  }
  const between = pingsOf(events, (p) => p.target === "vm1" || p.target === "vm2");
  if (between !== "") {
    point(
      `Pings between the VMs: ${between}. The other VM's kernel answered; netkit routed each ` +
        "packet from one TAP to the other, rewriting the Ethernet header and taking one off " +
        "the TTL: 63.",
    );
  }
  const host = pingsOf(events, (p) => p.target === "host");
  if (host !== "") {
    point(
      `Pings to the host: ${host}. netkit had no VM for ${HOST.ipv4} or ${HOST.ipv6}, so it sent ` +
        `the packets up ${HOST.uplink}; the host's kernel answered, and its route sent the ` +
        "replies back down the uplink.",
    );
  }
  const shown = eventsOfKind(events, "show").at(-1);
  if (shown !== undefined) {
    const nics = shown.show.nics.filter((n) => n.counters !== null);
    point(
      "The counters (netkit vnet show -s): " +
        nics.map((n) =>
          `${n.name} sent netkit ${n.counters!.rx_frames} frames, of which ` +
          `${n.counters!.to_responder} went to the responders (ARP, DHCP, NDP, ping) and ` +
          `${n.counters!.routed} were routed`
        ).join("; ") +
        (shown.show.uplink?.counters
          ? `; the uplink carried ${shown.show.uplink.counters.tx_frames} packets to the host ` +
            `and ${shown.show.uplink.counters.rx_frames} back`
          : "") +
        ". Frames netkit does not answer or route are dropped and counted by reason.",
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
        : `Removal: SIGTERM to ${
          stopped.map((s) =>
            `${s.role === "daemon" ? "the daemon" : `${s.role} in ${s.vm}`} (exit code ${s.code})`
          ).join(", ")
        }; the daemon closed its TAPs and the uplink, and removed its socket. `) +
        (removed === undefined
          ? ""
          : gone
          ? `Then the ${removed.netns.length} namespaces were deleted; nothing is left.`
          : "Yet something is left: see the last timeline line."),
    );
  }

  const n = (ns: string, command: string) => `${netkit} -n vl-${ns} ${command}`;
  lines.push(
    "",
    "Reproduce it by hand (as root):",
    "  for ns in host vm1 vm2; do ip netns add vl-$ns; done",
    `  ${n("host", `vnet daemon -d --uplink ${HOST.uplink}`)}`,
    `  ${
      n("host", `vnet nic add ${vm1.vm} --mac ${vm1.mac} --ipv4 ${vm1.ipv4} --ipv6 ${vm1.ipv6}`)
    }`,
    `  ${
      n(
        "host",
        `vnet nic add ${vm2.vm} --mac ${vm2.mac} --profile lan --ipv4 ${vm2.ipv4} --ipv6 ` +
          `${vm2.ipv6} --slaac`,
      )
    }`,
    "  ip -n vl-host link set vm1 netns vl-vm1; ip -n vl-vm1 link set vm1 up     (vm2 likewise)",
    `  ip -n vl-host addr add ${HOST.ipv4}/32 dev ${HOST.uplink}; ` +
      `ip -n vl-host -6 addr add ${HOST.ipv6}/128 dev ${HOST.uplink}`,
    `  ip -n vl-host route add ${vm1.hostRoutes[0]} dev ${HOST.uplink}   (and ${
      [vm1.hostRoutes[1], ...vm2.hostRoutes].join(", ")
    }, with -6 for IPv6)`,
    "  ip netns exec vl-vm1 busybox udhcpc -i vm1 -f -q -n -O staticroutes -s SCRIPT",
    "  ip netns exec vl-vm1 dhclient -6 -d -sf SCRIPT vm1",
    "  ip netns exec vl-vm2 busybox udhcpc -i vm2 -f -q -n -s SCRIPT",
    "    (SCRIPT: a client script; the lab's only records the lease and applies it with the ip",
    "    commands of the timeline, so that nothing outside the namespaces changes)",
    `  ping:     ip netns exec vl-vm1 ping ${vm2v4?.address ?? vm2.ipv4.split("/")[0]}; ` +
      `ip netns exec vl-vm2 ping ${HOST.ipv4}`,
    `  counters: ${n("host", "vnet show -s")}; events: ${n("host", "vnet monitor")}`,
    `  clean up: ${n("host", "vnet daemon -k")}; rm /var/lib/netkit/vnet-vl-host.json; ` +
      "for ns in host vm1 vm2; do ip netns del vl-$ns; done",
  );
  return lines;
}
