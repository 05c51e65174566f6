/**
 * What `netkit relay status`, `netkit gateway status` and `netkit client status` show of a
 * running lab: each peer's own counters fresh at the relay, connected time, an away peer's hold,
 * and the gateway's and client's local counters through their status sockets.
 */

import assert from "node:assert/strict";
import type { PeerDaemonStatus } from "../../lib/l2/peer_status.ts";
import type { PeerStatus, RelayStatus } from "../../lib/l2/relay.ts";
import { L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { bridgedLab } from "./_l2.ts";
import { ip } from "../../lib/lab/namespace_lab.ts";
import { needs, type Requirement } from "../skip.ts";
import { netkit, waitUntil } from "./_lacp.ts";

const LAB: Requirement[] = ["root", "netns", "veth", "bridge", "tun", "ping"];

function peer(status: RelayStatus, role: "gateway" | "client"): PeerStatus {
  const found = status.rooms[0]?.peers.find((p) => p.role === role);
  assert.ok(found !== undefined, `no ${role} in ${JSON.stringify(status)}`);
  return found;
}

/** A count the peer reported, from `reported` or its `counters`. */
function reported(p: PeerStatus, key: string): number {
  const counters = p.reported?.counters as Record<string, number> | undefined;
  const value = key in (p.reported ?? {}) ? p.reported![key] : counters?.[key];
  assert.equal(typeof value, "number", `${key} in ${JSON.stringify(p.reported)}`);
  return value as number;
}

/** `netkit ARGS`, which must succeed; its standard output. */
function run(args: string[]): string {
  const result = netkit(args);
  assert.equal(result.code, 0, `netkit ${args.join(" ")}: ${result.err}`);
  return result.out;
}

/** `netkit -n NS ROLE status -j`, against the lab's socket of `name`. */
function peerStatusCli(lab: L2Lab, ns: string, role: string, name: string): PeerDaemonStatus {
  return JSON.parse(
    run(["-n", ns, role, "status", "-j", "--status-socket", lab.peerStatusSocket(name)]),
  );
}

Deno.test({
  name:
    "relay status shows a client's own counters from under a second ago and its connected time growing; gateway status and client status answer as commands",
  ignore: needs(...LAB),
  async fn() {
    await using lab = await bridgedLab();
    const c1 = lab.clientNs[0]!;
    const before = peer(await lab.status(), "client");
    assert.equal(before.reported_fresh, true, "the client answered the relay's request");
    const pings = 5;
    assert.ok(lab.ping(c1, L2.h1, pings));
    // At once: the periodic report (every 10 s) cannot be what shows the pings.
    const after = peer(await lab.status(), "client");
    assert.equal(after.reported_fresh, true);
    assert.ok(after.reported_age_ms! < 1000, `report ${after.reported_age_ms} ms old`);
    assert.ok(reported(after, "frames_to_relay") >= reported(before, "frames_to_relay") + pings);
    assert.ok(reported(after, "tap_to_relay") >= reported(before, "tap_to_relay") + pings);
    assert.ok(after.connected_ms > before.connected_ms, "connected time grows");
    assert.equal(after.hold_remaining_ms, null);

    const text = run(["-n", lab.relayNs, "relay", "status", "--status-socket", lab.statusSocket]);
    assert.match(text, /^PEER +AGE +FRESH +TO RELAY /m);
    assert.match(text, new RegExp(`^${after.peer_id} +[0-9.]+s +yes +[0-9]+ `, "m"));
    assert.match(text, /^drops \(frames, charged to the sender\): /m);

    const gateway = peerStatusCli(lab, lab.gw, "gateway", "gateway");
    assert.equal(gateway.role, "gateway");
    assert.equal(gateway.interface, "eth0");
    assert.equal(gateway.session.state, "connected");
    assert.equal(gateway.session.room, L2.room);
    assert.equal(gateway.session.relay, `${L2.relay}:${L2.port}`);
    assert.equal(gateway.session.counters.reconnects, 0);
    assert.ok(gateway.session.connected_ms! > 0);
    assert.ok(gateway.counters.lan_to_relay! >= pings, JSON.stringify(gateway));
    assert.ok(gateway.counters.relay_to_lan! >= pings, JSON.stringify(gateway));
    assert.ok(gateway.counters.cam_refreshes! >= 1, JSON.stringify(gateway));
    const gatewayText = run([
      "-n",
      lab.gw,
      "gateway",
      "status",
      "--status-socket",
      lab.peerStatusSocket("gateway"),
    ]);
    assert.match(gatewayText, /^gateway on LAN interface eth0 /m);
    assert.match(gatewayText, /^session: connected, relay 10\.99\.0\.1:4433, room LAB1, peer /m);
    assert.match(gatewayText, /^LAN +LAN→RELAY +RELAY→LAN +CAM /m);

    // A second gateway on the same interface stops at the status socket's lock, before the
    // relay hears of it (its session would have replaced the first one's).
    const second = netkit(["-n", lab.gw, "gateway", ...lab.peerArgs("gateway"), "--iface", "eth0"]);
    assert.equal(second.code, 1, second.err);
    assert.match(
      second.err,
      /Another netkit daemon \(pid [0-9]+\) is already serving .*gateway\.sock/,
    );
    const status = await lab.status();
    assert.equal(status.peers_total, 2, "the relay never heard of the second gateway");
    assert.equal(peer(status, "gateway").peer_id, gateway.session.peer_id);

    const client = peerStatusCli(lab, c1, "client", "client1");
    assert.equal(client.interface, L2.tap);
    assert.equal(client.session.gateway_present, true);
    assert.ok(client.counters.tap_to_relay! >= reported(after, "tap_to_relay"));
    assert.ok(client.counters.relay_to_tap! >= pings);
  },
});

Deno.test({
  name:
    "an away client shows its hold counting down at the relay and says it is reconnecting; a client says when the room has no gateway",
  ignore: needs(...LAB),
  async fn() {
    await using lab = await bridgedLab();
    const c1 = lab.clientNs[0]!;
    await lab.gateway!.stop();
    lab.gateway = null;
    await waitUntil(
      () => lab.peerStatus("client1"),
      (s) => !s.session.gateway_present,
      5000,
      "the client to see the gateway leave",
    );
    const absent = run([
      "-n",
      c1,
      "client",
      "status",
      "--status-socket",
      lab.peerStatusSocket("client1"),
    ]);
    assert.match(absent, /gateway absent \(the LAN is unreachable\)$/m);

    // The relay's end of the client's WAN link goes down: the relay loses it after its idle
    // timeout (2 s) and holds its place for the resume window.
    ip("-n", lab.relayNs, "link", "set", "w-c1", "down");
    const first = peer(
      await waitUntil(
        () => lab.status(),
        (s) => peer(s, "client").state === "away",
        10_000,
        "away",
      ),
      "client",
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = peer(await lab.status(), "client");
    assert.equal(second.state, "away");
    assert.ok(first.hold_remaining_ms! <= 120_000);
    assert.ok(
      second.hold_remaining_ms! <= first.hold_remaining_ms! - 1000,
      `hold ${first.hold_remaining_ms} then ${second.hold_remaining_ms} ms`,
    );
    assert.equal(second.reported_fresh, false, "an away peer cannot answer");
    assert.ok(second.reported !== null, "its last report stays");
    const text = run(["-n", lab.relayNs, "relay", "status", "--status-socket", lab.statusSocket]);
    assert.match(
      text,
      new RegExp(`^${second.peer_id} +client1 +client +\\S+ +away +- +- +1m5`, "m"),
    );
    await waitUntil(
      () => lab.peerStatus("client1"),
      (s) => s.session.state === "reconnecting" && s.session.connected_ms === null,
      10_000,
      "the client to notice",
    );

    ip("-n", lab.relayNs, "link", "set", "w-c1", "up");
    const back = await waitUntil(
      () => lab.status(),
      (s) => peer(s, "client").state === "active",
      20_000,
      "the client to resume",
    );
    assert.equal(peer(back, "client").peer_id, second.peer_id, "resumed, same peer id");
    assert.equal(peer(back, "client").hold_remaining_ms, null);
    const resumed = await lab.peerStatus("client1");
    assert.equal(resumed.session.state, "connected");
    assert.equal(resumed.session.counters.reconnects, 1);
  },
});
