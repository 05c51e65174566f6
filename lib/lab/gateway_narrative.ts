/**
 * What the user reads about an L2 gateway lab run: each event as a timeline line
 * ({@linkcode formatGatewayTimelineLine}) and, at the end, a plain-English account of the run
 * ({@linkcode explainGatewayLab}) followed by the commands that reproduce it by hand. Pure: it
 * reads the events of `gateway_events.ts`, recorded or live, and needs neither root nor the
 * native library.
 *
 * @module
 */

import { plural } from "../text.ts";
import {
  GATEWAY_LAB_CLIENT as CLIENT,
  GATEWAY_LAB_STEPS as STEP_COUNT,
  GATEWAY_LAB_WAN as WAN,
  type GatewayLabEvent,
  type GatewayLabPort,
  type GatewayLabReport,
} from "./gateway_events.ts";
import { clientLanAddress, L2 } from "./lab_addresses.ts";
import {
  describedLine,
  describeStop,
  type EventOf as TimelineEventOf,
  eventsOfKind,
  type EventText,
  type ExplainOptions,
  interruptedDuring,
} from "./timeline.ts";

function portText(port: GatewayLabPort): string {
  return `${port.host} ${port.interface}${port.address === null ? "" : ` ${port.address}`}`;
}

function dropsText(drops: Record<string, number>): string {
  const entries = Object.entries(drops);
  return entries.length === 0
    ? "no drops"
    : `drops ${entries.map(([k, v]) => `${k}=${v}`).join(",")}`;
}

function rttText(e: Extract<GatewayLabEvent, { event: "ping" }>): string {
  return e.rtt_avg === null
    ? ""
    : `, rtt min/avg/max ${e.rtt_min!.toFixed(3)}/${e.rtt_avg.toFixed(3)}/${
      e.rtt_max!.toFixed(3)
    } ms`;
}

/**
 * Describes an event for the timeline, e.g. subject `ping`, text
 * `h1 → 192.168.50.101 (client): 3/3 replies, rtt min/avg/max 0.061/0.093/0.126 ms`.
 */
export function describeGatewayLabEvent(event: GatewayLabEvent): EventText {
  switch (event.event) {
    case "step":
      return { subject: null, text: `== ${event.step}. ${event.title}` };
    case "network":
      return {
        subject: event.name,
        text: `bridge ${event.bridge} in ${event.netns}${
          event.address === null ? "" : ` (${event.address})`
        }: ${event.ports.map((p) => `${portText(p)} (${p.netns})`).join(", ")}`,
      };
    case "command":
      return { subject: event.host, text: `$ ${event.command.join(" ")}` };
    case "started":
      return { subject: event.role, text: `started as pid ${event.pid} in ${event.netns}` };
    case "relay_ready":
      return {
        subject: "relay",
        text: `listening on ${event.listen} (QUIC), netkit ${event.version}; peers pin ` +
          `${event.pin} for server name ${event.server_name}; status on ${event.socket}`,
      };
    case "joined":
      return {
        subject: event.role,
        text: `in room ${event.room} as peer ${event.peer_id}, MAC ${event.mac}` +
          (event.remote === null ? "" : `, from ${event.remote}`),
      };
    case "address":
      return { subject: "client", text: `${event.interface} has ${event.address}` };
    case "ping":
      return {
        subject: "ping",
        text: `${event.from} → ${event.to} (${event.target}): ${event.received}/${event.sent} ` +
          `replies${rttText(event)}`,
      };
    case "status": {
      const peers = event.status.rooms.flatMap((r) =>
        r.peers.map((p) => `${p.role} ${p.mac} ${p.state}`)
      );
      return {
        subject: "relay",
        text: `status: ${plural(event.status.rooms.length, "room")}, ${
          plural(peers.length, "peer")
        }${peers.length === 0 ? "" : ` (${peers.join(", ")})`}`,
      };
    }
    case "counters": {
      const reported = event.reported;
      return {
        subject: event.role,
        text: `peer ${event.peer_id} at the relay: ${event.datagrams_in} datagrams in ` +
          `(${event.bytes_in} bytes), ${event.frames_forwarded} forwarded, ${event.frames_out} ` +
          `frames out (${event.bytes_out} bytes), ${event.malformed} malformed, ` +
          dropsText(event.drops) +
          (reported === null
            ? ""
            : `; it reports ${reported.frames_to_relay} frames to the relay, ` +
              `${reported.frames_from_relay} from it`),
      };
    }
    case "revoked":
      return {
        subject: event.role,
        text: `pid ${event.pid} cut off ${event.after_ms} ms after the rotation, exit code ` +
          `${event.code}${event.error === "" ? "" : `: ${event.error}`}`,
      };
    case "running":
      return {
        subject: "lab",
        text: event.duration === null
          ? "running; Ctrl-C (or SIGTERM) removes everything"
          : `running for ${event.duration} s (Ctrl-C ends it sooner)`,
      };
    case "process_stopped":
      return {
        subject: event.role,
        text: `pid ${event.pid} exited with code ${event.code}${
          event.signal === null ? "" : ` (${event.signal})`
        }${event.summary === "" ? "" : `: ${event.summary}`}`,
      };
    case "removed":
      return {
        subject: "lab",
        text: event.left.length === 0 && !event.files_left
          ? `removed: ${plural(event.netns.length, "namespace")} deleted, none left; ` +
            "its files are gone"
          : `not all removed: ${
            event.left.length === 0 ? "" : `${event.left.join(", ")} still exist`
          }${event.files_left ? " (files left)" : ""}`,
      };
    case "stopped":
      return describeStop(event.reason);
  }
}

/** `   3.41s  ping      h1 → 192.168.50.101 ...`: one timeline line. */
export function formatGatewayTimelineLine(event: GatewayLabEvent): string {
  return describedLine(event, describeGatewayLabEvent);
}

type EventOf<K extends GatewayLabEvent["event"]> = TimelineEventOf<GatewayLabEvent, K>;

function pingSentence(p: EventOf<"ping">): string {
  return `${p.from} → ${p.target} (${p.to}): ${p.received} of ${p.sent} replies` +
    (p.rtt_avg === null ? "" : `, ${p.rtt_avg.toFixed(3)} ms on average`);
}

/**
 * A plain-English account of a run, as lines of text, from what the run observed: the
 * topology, the relay and its certificate, the gateway, the client, the pings, the counters and
 * the removal; then the commands that reproduce the lab by hand.
 */
export function explainGatewayLab(
  report: GatewayLabReport,
  options: ExplainOptions = {},
): string[] {
  const netkit = options.netkit ?? "netkit";
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);
  const events = report.events;

  const lan = eventsOfKind(events, "network").find((e) => e.name === "lan");
  if (lan === undefined) {
    lines.push("  The lab stopped before it built anything.");
  } else {
    point(
      `The LAN: bridge br0 in ${lan.netns} is the switch; h1 (${L2.h1}) and h2 (${L2.h2}) ` +
        "hang off it, and so does the gateway's eth0, with no address: the gateway only moves " +
        `frames. The WAN: bridge wan in the relay's namespace (${L2.relay}), where the gateway ` +
        `(${WAN.gateway}) and the client (${WAN.client}) reach the relay. The client has no ` +
        "link to the LAN at all.",
    );
  }
  const ready = eventsOfKind(events, "relay_ready")[0];
  if (ready !== undefined) {
    point(
      `The operator made room ${L2.room} with netkit relay room: the gateway and the client ` +
        "each got a credential of their own, in a new 0600 file; the relay keeps only their " +
        "SHA-256, so a stranger who knows the room's name is refused like a wrong secret. " +
        `The client's credential allows it ${clientLanAddress(CLIENT)}: the relay drops ARP ` +
        "and NDP from it that claim any other address. " +
        `The relay listens on ${ready.listen} for QUIC. With --dev-cert it wrote a certificate ` +
        `for ${ready.server_name}; the gateway and the client accept exactly that certificate ` +
        `(--relay-cert ${ready.pin}, compared by its SHA-256) and no certificate authority.`,
    );
  }
  const joined = eventsOfKind(events, "joined");
  const gw = joined.find((e) => e.role === "gateway");
  if (gw !== undefined) {
    point(
      `The gateway opened a packet socket on its eth0, the LAN port, and joined room ${gw.room} ` +
        `as peer ${gw.peer_id}: every frame on the LAN now goes to the relay in QUIC datagrams, ` +
        "and every frame from the room goes out on the LAN.",
    );
  }
  const cl = joined.find((e) => e.role === "client");
  if (cl !== undefined) {
    const address = eventsOfKind(events, "address")[0];
    point(
      `The client created TAP ${L2.tap} with MAC ${cl.mac} and joined the same room as peer ` +
        `${cl.peer_id}` +
        (address === undefined
          ? "."
          : `; the lab gave ${L2.tap} ${address.address}, an address on the LAN's subnet, so ` +
            "the client is a host of that LAN as far as anyone can tell."),
    );
  }
  const revoked = eventsOfKind(events, "revoked")[0];
  // The pings of step 5; the one after the rotation belongs to its own point.
  const pings = eventsOfKind(events, "ping").filter((p) =>
    revoked === undefined || p.t < revoked.t
  );
  if (pings.length > 0) {
    const ok = pings.every((p) => p.received > 0);
    point(
      `Pings through the tunnel: ${pings.map(pingSentence).join("; ")}. ` +
        (ok
          ? "Each one started with ARP, broadcast on the LAN and flooded by the relay to the " +
            "other side, then ICMP went LAN → gateway → relay → client and back. The round trip " +
            "includes two QUIC hops and the user-space processes on the way."
          : "A ping without any reply means frames were lost on the way: the counters below " +
            "tell on which hop."),
    );
  }
  const counters = eventsOfKind(events, "counters");
  if (counters.length > 0) {
    const gateway = counters.find((c) => c.role === "gateway");
    const client = counters.find((c) => c.role === "client");
    point(
      "The relay's counters, per peer: " +
        counters.map((c) =>
          `the ${c.role} sent it ${c.datagrams_in} datagrams, of which it forwarded ` +
          `${c.frames_forwarded}, and got ${c.frames_out} frames from it (${dropsText(c.drops)})`
        ).join("; ") +
        ". A frame one peer sends (IN) is checked and switched (FWD) and goes out (OUT) to " +
        "the other" +
        (gateway !== undefined && client !== undefined &&
            gateway.frames_forwarded > client.frames_out &&
            Object.keys(gateway.drops).length === 0
          ? `; the gateway's ${gateway.frames_forwarded - client.frames_out} forwarded frames ` +
            "that never went out to the client are broadcasts from the LAN flooded while the " +
            "gateway was still alone in the room."
          : "."),
    );
  }
  if (revoked !== undefined) {
    const again = eventsOfKind(events, "ping").find((p) => p.t > revoked.t);
    point(
      "Then the operator rotated the client's credential (netkit relay room rotate): the relay " +
        `reread its rooms file and closed the client's session ${revoked.after_ms} ms later ` +
        "(QUIC close code 5, revoked); its reconnect with the old credential was refused, and " +
        `it exited with code ${revoked.code}${
          revoked.error === "" ? "" : ` ("${revoked.error}")`
        }. Started again with the new credential, the client joined as a new session` +
        (again === undefined ? "." : `, and ${pingSentence(again)}.`),
    );
  }
  const stopped = eventsOfKind(events, "process_stopped");
  const removed = eventsOfKind(events, "removed")[0];
  if (report.reason === "signal") {
    point(interruptedDuring(events, STEP_COUNT));
  }
  if (stopped.length > 0 || removed !== undefined) {
    point(
      (stopped.length === 0
        ? ""
        : `Removal: SIGTERM to ${
          stopped.map((s) => `the ${s.role} (exit code ${s.code})`).join(", ")
        }` +
          (stopped.some((s) => s.role !== "relay")
            ? "; a peer that stops says goodbye to the relay and closes its socket or TAP. "
            : ". ")) +
        (removed === undefined
          ? ""
          : removed.left.length === 0 && !removed.files_left
          ? `Then the ${removed.netns.length} namespaces were deleted, with every link in ` +
            "them; none is left."
          : `Yet ${removed.left.join(", ")} ${removed.files_left ? "and files " : ""}are left.`),
    );
  }

  const n = (ns: string, command: string) => `${netkit} -n gl-${ns} ${command}`;
  const peer = (name: string) =>
    `--relay ${L2.relay}:${L2.port} --relay-cert /var/lib/netkit/gl/relay.pem ` +
    `--credential-file /var/lib/netkit/gl/${name}.cred`;
  const room = (command: string) =>
    `${netkit} relay room ${command} --rooms /var/lib/netkit/gl/rooms.json`;
  lines.push(
    "",
    "Reproduce it by hand (as root):",
    "  for ns in lan h1 h2 gw rly c1; do ip netns add gl-$ns; done",
    "  ip -n gl-lan link add br0 type bridge; ip -n gl-lan link set br0 up",
    "  ip -n gl-lan link add p1 type veth peer name eth0 netns gl-h1    (p2 to gl-h2, pgw to gl-gw)",
    "  ip -n gl-lan link set p1 master br0 up; ip -n gl-h1 link set eth0 up      (p2, pgw likewise)",
    `  ip -n gl-h1 addr add ${L2.h1}/24 dev eth0; ip -n gl-h2 addr add ${L2.h2}/24 dev eth0`,
    `  ip -n gl-rly link add wan type bridge; ip -n gl-rly addr add ${L2.relay}/24 dev wan; ` +
      "ip -n gl-rly link set wan up",
    "  ip -n gl-rly link add w-gw type veth peer name wan netns gl-gw      (w-c1 to gl-c1)",
    "  ip -n gl-rly link set w-gw master wan up; ip -n gl-gw link set wan up   (w-c1 likewise)",
    `  ip -n gl-gw addr add ${WAN.gateway}/24 dev wan; ip -n gl-c1 addr add ${WAN.client}/24 dev wan`,
    "  install -d -m 700 /var/lib/netkit/gl    # private: the relay refuses a directory others can write",
    `  ${room(`add ${L2.room} -o /var/lib/netkit/gl/gateway.cred`)}`,
    `  ${
      room(
        `add-client ${L2.room} client1 --address ${
          clientLanAddress(CLIENT)
        } -o /var/lib/netkit/gl/client1.cred`,
      )
    }`,
    `  terminal 1, relay:   ${
      n(
        "rly",
        `relay --listen ${L2.relay}:${L2.port} --rooms /var/lib/netkit/gl/rooms.json ` +
          "--dev-cert /var/lib/netkit/gl",
      )
    }`,
    `  terminal 2, gateway: ${n("gw", `gateway ${peer("gateway")} --iface eth0`)}`,
    `  terminal 3, client:  ${n("c1", `client ${peer("client1")} --tap ${L2.tap}`)}`,
    `  then: ip -n gl-c1 addr add ${clientLanAddress(CLIENT)}/24 dev ${L2.tap}`,
    `  ping:   ip netns exec gl-h1 ping ${
      clientLanAddress(CLIENT)
    }; ip netns exec gl-c1 ping ${L2.h2}`,
    `  status: ${n("rly", "relay status")}`,
    `  revoke the client (it is disconnected within a second): ${
      room(`del-client ${L2.room} client1`)
    }`,
    "  clean up: Ctrl-C in terminals 3, 2, 1; for ns in lan h1 h2 gw rly c1; do ip netns del gl-$ns; done",
  );
  return lines;
}
