/**
 * What the user reads about a multicast routing lab run: each event as a timeline line
 * ({@linkcode formatMrouteTimelineLine}) and, at the end, a plain-English account of the run
 * ({@linkcode explainMrouteLab}) followed by the commands that reproduce it by hand. Pure: it
 * reads the events of `mroute_events.ts`, recorded or live, and needs neither root nor the
 * native library.
 *
 * @module
 */

import { eventText } from "../mroute/event_text.ts";
import { plural } from "../text.ts";
import { ADDR } from "./lab_addresses.ts";
import {
  ANY_GROUP,
  HEADER_BYTES,
  LAB_TTL,
  MROUTE_LAB_PORTS,
  type MrouteLabEvent,
  type MrouteLabReport,
  type MrouteVifCounters,
  routeName,
  SG_GROUP,
} from "./mroute_events.ts";
import {
  at,
  describedLine,
  describeStop,
  type EventOf as TimelineEventOf,
  eventsOfKind,
  type EventText,
  type ExplainOptions,
  interruptedDuring,
} from "./timeline.ts";

function vifText(vifs: readonly MrouteVifCounters[]): string {
  const r1 = vifs.find((v) => v.name === "r1");
  const r2 = vifs.find((v) => v.name === "r2");
  return [r1 && `r1 in ${r1.packets_in}`, r2 && `r2 out ${r2.packets_out}`].filter(Boolean)
    .join(", ");
}

/** "0.3 ms" or "2.41 s". */
function delay(after: number): string {
  return after < 1 ? `${(after * 1000).toFixed(1)} ms` : `${after.toFixed(2)} s`;
}

/**
 * Describes an event for the timeline, e.g. subject `sender`, text
 * `#4 to 239.1.2.3:5000 from 192.0.2.2, TTL 8`.
 */
export function describeMrouteLabEvent(event: MrouteLabEvent): EventText {
  switch (event.event) {
    case "lab": {
      const a = event.addresses;
      return {
        subject: "lab",
        text:
          `sender ${event.netns.sender} (s0 ${a.s0}) -- router ${event.netns.router} (r1 ${a.r1}, ` +
          `r2 ${a.r2}) -- receiver ${event.netns.receiver} (c0 ${a.c0})`,
      };
    }
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "daemon_started":
      return { subject: "daemon", text: `started as pid ${event.pid}: ${event.command.join(" ")}` };
    case "daemon_ready":
      return { subject: "daemon", text: `answers on ${event.socket}` };
    case "daemon_log":
      return {
        subject: "daemon",
        text: `${event.level === "INFO" ? "log" : event.level.toLowerCase()}: ${event.message}`,
      };
    case "subscribed":
      return { subject: "event", text: "subscribed to the daemon's events (as mroute monitor)" };
    case "joined":
      return {
        subject: "receiver",
        text: `joined ${
          event.groups.map((g) => `${g.group} (UDP ${g.port})`).join(" and ")
        } on ${event.interface}`,
      };
    case "request":
      return { subject: "netkit", text: event.command };
    case "reply":
      return { subject: "daemon", text: event.message };
    case "daemon_event":
      return {
        subject: "event",
        text: eventText(event.daemon) +
          (event.daemon.kind === "nocache"
            ? ": no route, the kernel holds the datagram and asks"
            : ""),
      };
    case "sent":
      return {
        subject: "sender",
        text:
          `${event.payload} to ${event.group}:${event.port} from ${event.source}, TTL ${event.ttl}`,
      };
    case "received":
      return {
        subject: "receiver",
        text: `${event.payload} from ${event.from} on ${event.group}:${event.port}, ${
          delay(event.after)
        } after it was sent`,
      };
    case "tally":
      return {
        subject: "receiver",
        text: event.arrived === 0
          ? `nothing arrived: ${event.sent} sent to ${event.group}`
          : `${event.arrived} of ${event.sent} arrived`,
      };
    case "counters":
      return {
        subject: "router",
        text: `${event.route}: ${
          event.installed
            ? `${
              plural(event.packets ?? 0, "packet")
            }, ${event.bytes} bytes, ${event.wrong_if} wrong_if`
            : "no route"
        }; ${vifText(event.vifs)}`,
      };
    case "daemon_stopped":
      return {
        subject: "daemon",
        text: `pid ${event.pid} exited with code ${event.code}${
          event.signal === null ? "" : ` (${event.signal})`
        }`,
      };
    case "kernel_routes":
      return {
        subject: "router",
        text: event.count === 0
          ? "ip mroute: no entries left in the kernel"
          : `ip mroute: ${event.count} entries left in the kernel`,
      };
    case "stopped":
      return describeStop(event.reason);
  }
}

/** `   3.41s  receiver  #4 from 192.0.2.2 ...`: one timeline line. */
export function formatMrouteTimelineLine(event: MrouteLabEvent): string {
  return describedLine(event, describeMrouteLabEvent);
}

type EventOf<K extends MrouteLabEvent["event"]> = TimelineEventOf<MrouteLabEvent, K>;

/** Each step's events (0: before the first step). */
function byStep(events: readonly MrouteLabEvent[]): Map<number, MrouteLabEvent[]> {
  const steps = new Map<number, MrouteLabEvent[]>();
  let step = 0;
  for (const event of events) {
    if (event.event === "step") step = event.step;
    steps.set(step, [...(steps.get(step) ?? []), event]);
  }
  return steps;
}

function upcallsFor(events: readonly MrouteLabEvent[], group: string): EventOf<"daemon_event">[] {
  return eventsOfKind(events, "daemon_event").filter((e) =>
    e.daemon.event === "upcall" && e.daemon.kind === "nocache" && e.daemon.group === group
  );
}

/**
 * Whether every counters event of `events` for `route` read exactly the datagrams of `group`
 * that had arrived by then (packets, and bytes as IPv4 sizes).
 */
function countersInStep(
  events: readonly MrouteLabEvent[],
  all: readonly MrouteLabEvent[],
  route: string,
  group: string,
  before: { packets: number; bytes: number },
): boolean {
  const sizes = new Map(eventsOfKind(all, "sent").map((e) => [e.seq, e.ip_bytes]));
  let packets = before.packets;
  let bytes = before.bytes;
  let checked = 0;
  for (const e of events) {
    if (e.event === "received" && e.group === group) {
      packets++;
      bytes += sizes.get(e.seq) ?? 0;
    } else if (e.event === "counters" && e.route === route) {
      checked++;
      if (e.packets !== packets || e.bytes !== bytes) return false;
    }
  }
  return checked > 0;
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: the daemon,
 * the datagrams before the route, the (S,G) route and its counters, the (*,G) route and TTL 1,
 * the deletion and the daemon's exit; then the commands that reproduce the lab by hand.
 */
export function explainMrouteLab(
  report: MrouteLabReport,
  options: ExplainOptions = {},
): string[] {
  const netkit = options.netkit ?? "netkit";
  const steps = byStep(report.events);
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const step = (n: number) => steps.get(n) ?? [];
  const sg = routeName(ADDR.sender4, SG_GROUP);
  const any = routeName(null, ANY_GROUP);

  const started = eventsOfKind(report.events, "daemon_started")[0];
  if (started === undefined) {
    lines.push("  The lab stopped before the daemon started.");
  } else {
    const ready = eventsOfKind(report.events, "daemon_ready")[0];
    point(
      `The daemon: netkit mroute daemon ran in ${report.netns.router} as pid ${started.pid} and ` +
        "took the kernel's multicast routing table there (MRT_INIT: one owner per namespace and " +
        "table)" +
        (ready === undefined
          ? ", but stopped before it answered on its control socket."
          : `; it answered on its control socket ${(ready.t - started.t).toFixed(2)} s later. ` +
            "The lab sent it the requests netkit mroute sends, one JSON line per command, and " +
            "followed its events as netkit mroute monitor does."),
    );
  }
  if (eventsOfKind(step(1), "request").length > 0) {
    point(
      "VIFs: the kernel's multicast routing only looks at traffic arriving on one of its " +
        "virtual interfaces (VIFs). The lab pinned r1 and r2 first (mroute vif add) so that it " +
        "sees datagrams before any route; adding a route creates the VIFs it needs by itself.",
    );
  }

  const early = eventsOfKind(step(2), "sent");
  if (early.length > 0) {
    const tally = eventsOfKind(step(2), "tally")[0];
    const upcalls = upcallsFor(step(2), SG_GROUP);
    const counters = eventsOfKind(step(2), "counters")[0];
    const arrived = tally?.arrived ?? eventsOfKind(step(2), "received").length;
    point(
      `No route: ${arrived === 0 ? "none" : arrived} of the ${
        plural(early.length, "datagram")
      } sent for ${sg} reached the receiver` +
        // The kernel counts a datagram on its VIF only when it forwards it.
        ((counters?.vifs.find((v) => v.name === "r1")?.packets_in ?? 0) > 0
          ? `, though r1 took them in (${vifText(counters!.vifs)})`
          : "") +
        ". " +
        (upcalls.length === 0
          ? "The kernel raised no NOCACHE upcall."
          : `The kernel raised a NOCACHE upcall for ${sg} at ${at(upcalls[0]!.t)}` +
            (upcalls.length === 1 ? ", for the first datagram only," : "") +
            " and held the datagrams (at most 4, for 10 s) waiting for a route. The daemon " +
            "only reports upcalls; a PIM daemon would decide on a route here."),
    );
  }

  const add = eventsOfKind(step(3), "request")[0];
  if (add !== undefined) {
    const earlySeqs = new Set(early.map((e) => e.seq));
    const held = eventsOfKind(step(3), "received").filter((e) => earlySeqs.has(e.seq));
    const sent = eventsOfKind(step(3), "sent");
    const sentSeqs = new Set(sent.map((e) => e.seq));
    const arrived = eventsOfKind(step(3), "received").filter((e) => sentSeqs.has(e.seq));
    const last = eventsOfKind(step(3), "counters").at(-1);
    const worst = Math.max(0, ...arrived.map((e) => e.after));
    const inStep = countersInStep(step(3), report.events, sg, SG_GROUP, { packets: 0, bytes: 0 });
    point(
      `The (S,G) route: mroute add installed ${sg} iif r1 oif r2 in the kernel (an MFC entry). ` +
        (held.length === 0
          ? ""
          : `The kernel forwarded the ${plural(held.length, "held datagram")} at once, ` +
            `${delay(Math.max(...held.map((e) => e.after)))} after the first was sent. `) +
        (sent.length === 0
          ? ""
          : `${arrived.length === sent.length ? "Every one" : `${arrived.length}`} of the ${
            plural(sent.length, "datagram")
          } sent after it arrived` +
            (arrived.length === 0 ? ". " : `, within ${delay(worst)}. `)) +
        (last === undefined || !last.installed
          ? ""
          : inStep
          ? "The route's counters rose in step with every datagram, by one packet and its " +
            `IPv4 size (${HEADER_BYTES} header bytes plus the payload): ${last.packets} packets, ` +
            `${last.bytes} bytes for the ${last.packets} datagrams forwarded.`
          : `The route's counters read ${last.packets} packets, ${last.bytes} bytes at the end.`),
    );
  }

  const starSent = eventsOfKind(step(4), "sent");
  if (starSent.length > 0) {
    const received = eventsOfKind(step(4), "received").filter((e) => e.group === ANY_GROUP);
    const sources = [...new Set(received.map((e) => e.from))];
    const ttl1 = starSent.find((e) => e.ttl === 1);
    // The counters just before and just after the TTL 1 datagram.
    const events4 = step(4);
    const ttl1At = ttl1 === undefined ? -1 : events4.indexOf(ttl1);
    const beforeTtl1 = eventsOfKind(events4.slice(0, Math.max(0, ttl1At)), "counters").at(-1);
    const afterTtl1 = ttl1At < 0 ? undefined : eventsOfKind(events4.slice(ttl1At), "counters")[0];
    const r2Out = (c: EventOf<"counters"> | undefined) =>
      c?.vifs.find((v) => v.name === "r2")?.packets_out;
    const countedOnly = afterTtl1 !== undefined && beforeTtl1 !== undefined &&
      (afterTtl1.packets ?? 0) > (beforeTtl1.packets ?? 0) &&
      r2Out(afterTtl1) === r2Out(beforeTtl1);
    const ttl1Arrived = ttl1 !== undefined && received.some((e) => e.seq === ttl1.seq);
    point(
      `The (*,G) route: ${any} matches every source: ` +
        (sources.length === 0
          ? "yet nothing arrived. "
          : `datagrams from ${sources.join(" and ")} arrived. `) +
        (ttl1 === undefined
          ? ""
          : ttl1Arrived
          ? "The datagram sent with TTL 1 arrived too, which a router should not allow. "
          : "The datagram sent with TTL 1 did not: " +
            (countedOnly
              ? `the route counted it (${afterTtl1.packets} packets) but r2 sent nothing more ` +
                `(r2 out stayed at ${r2Out(afterTtl1)}). `
              : "") +
            "A copy goes out of an interface only when the TTL is above that output's " +
            "threshold (1 unless --oif r2:TTL sets another), since forwarding decrements it. " +
            "Hosts send multicast with TTL 1 by default: multicast meant to be routed needs a " +
            "higher TTL (socat's ip-multicast-ttl below)."),
    );
  }

  const after = eventsOfKind(step(5), "sent");
  if (eventsOfKind(step(5), "request").length > 0) {
    const arrived = eventsOfKind(step(5), "received").length;
    const upcalls = upcallsFor(step(5), SG_GROUP);
    point(
      "Deleting the routes (mroute del) took them out of the kernel at once" +
        (after.length === 0
          ? "."
          : `: ${arrived === 0 ? "none" : arrived} of the ${
            plural(after.length, "datagram")
          } sent afterwards arrived` +
            (upcalls.length > 0 ? `, and the kernel asked again (NOCACHE) for ${sg}.` : ".")),
    );
  }

  const stopped = eventsOfKind(report.events, "daemon_stopped")[0];
  if (stopped !== undefined) {
    const kernel = eventsOfKind(report.events, "kernel_routes")[0];
    point(
      `Stopping the daemon (SIGTERM to pid ${stopped.pid}; exit code ${stopped.code}) closed ` +
        "its MRT_INIT socket, and the kernel dropped every route and VIF that socket owned" +
        (kernel === undefined
          ? "."
          : kernel.count === 0
          ? ": ip mroute in the router showed no entries."
          : `, yet ip mroute in the router still showed ${
            plural(kernel.count, "entry", "entries")
          }.`) +
        " The lab removes the namespaces last.",
    );
  }
  if (report.reason === "signal") {
    point(
      interruptedDuring(
        report.events,
        6,
        "the daemon was stopped and everything removed all the same.",
      ),
    );
  }

  const x = (ns: string, command: string) => `ip netns exec ${ns} ${command}`;
  const mroute = (args: string) => x("mr-rtr", `${netkit} mroute ${args}`);
  lines.push(
    "",
    "Reproduce it by hand (as root; socat plays the sender and the receiver):",
    "  ip netns add mr-snd; ip netns add mr-rtr; ip netns add mr-rcv",
    "  ip -n mr-snd link add s0 type veth peer name r1 netns mr-rtr",
    "  ip -n mr-rtr link add r2 type veth peer name c0 netns mr-rcv",
    `  ip -n mr-snd addr add ${ADDR.sender4}/24 dev s0; ip -n mr-snd link set s0 up`,
    `  ip -n mr-rtr addr add ${ADDR.router4in}/24 dev r1; ip -n mr-rtr link set r1 up`,
    `  ip -n mr-rtr addr add ${ADDR.router4out}/24 dev r2; ip -n mr-rtr link set r2 up`,
    `  ip -n mr-rcv addr add ${ADDR.receiver4}/24 dev c0; ip -n mr-rcv link set c0 up`,
    `  terminal 1, daemon:   ${mroute("daemon --state /tmp/mr-lab.json")}`,
    `  terminal 2, events:   ${mroute("monitor")}`,
    `  terminal 3, receiver: ${
      x(
        "mr-rcv",
        `socat -u UDP4-RECV:${MROUTE_LAB_PORTS[SG_GROUP]},ip-add-membership=${SG_GROUP}:c0 -`,
      )
    }`,
    `  terminal 4, sender:   ${
      x(
        "mr-snd",
        `socat -u - UDP4-DATAGRAM:${SG_GROUP}:${
          MROUTE_LAB_PORTS[SG_GROUP]
        },ip-multicast-if=${ADDR.sender4},ip-multicast-ttl=${LAB_TTL}`,
      )
    }`,
    "                        (each line typed there is one datagram)",
    `  route:    ${mroute(`add --source ${ADDR.sender4} --group ${SG_GROUP} --iif r1 --oif r2`)}`,
    `  counters: ${mroute("show -s")}     (the kernel's own view: ip -n mr-rtr -s mroute)`,
    `  remove:   ${mroute(`del --source ${ADDR.sender4} --group ${SG_GROUP}`)}`,
    `  NOCACHE upcalls before any route: ${mroute("vif add r1")} (and r2) first`,
    "  clean up: Ctrl-C in terminal 1; ip netns del mr-snd; ip netns del mr-rtr; ip netns del mr-rcv",
  );
  return lines;
}
