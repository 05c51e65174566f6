import assert from "node:assert/strict";
import { z } from "zod";
import { formatPeerStatus } from "../lib/cli/peer_status.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { clientSocketName, counterInfo, gatewaySocketName } from "../lib/l2/peer_status.ts";
import type { PeerDaemonStatus } from "../lib/l2/peer_status.ts";
import { numericFields } from "../lib/l2/relay_session.ts";
import { currentNetnsId } from "../lib/net/netns.ts";
import { durationText, snakeCase, wrapText } from "../lib/text.ts";
import { cli } from "./_cli.ts";

const GATEWAY: PeerDaemonStatus = {
  role: "gateway",
  version: "0.1.0",
  pid: 4242,
  interface: "eth0",
  mac: "02:00:00:00:00:0a",
  counters: {
    lan_frames: 120,
    lan_to_relay: 100,
    relay_to_lan: 90,
    cam_refreshes: 3,
    mss_clamped: 0,
    checksums_completed: 4,
    gso_frames: 2,
    future_counter: 5,
  },
  drops: { mtu_exceeded: 3, unknown_destination: 17 },
  session: {
    state: "connected",
    relay: "10.99.0.1:4433",
    room: "LAB1",
    peer_id: 1,
    frame_max: 1406,
    connected_ms: 83_000,
    gateway_present: true,
    counters: {
      frames_to_relay: 100,
      frames_from_relay: 90,
      datagrams_in: 91,
      bytes_to_relay: 12_000,
      bytes_from_relay: 11_000,
      malformed: 1,
      reconnects: 2,
      seq_gaps: 5,
    },
  },
};

Deno.test("formatPeerStatus shows every counter with a label and a unit row, drops, the session and a legend", () => {
  const text = formatPeerStatus(GATEWAY);
  assert.match(
    text,
    /^gateway on LAN interface eth0 \(02:00:00:00:00:0a\), pid 4242, netkit 0\.1\.0$/m,
  );
  assert.match(
    text,
    /^session: connected, relay 10\.99\.0\.1:4433, room LAB1, peer 1, frames up to 1406 bytes, connected 1m23s$/m,
  );
  assert.match(text, /^LAN +LAN→RELAY +RELAY→LAN +CAM +MSS +CSUM +MERGED +FUTURE COUNTER$/m);
  assert.match(text, /^frames +frames +frames +frames +frames +frames +frames +count$/m);
  assert.match(text, /^120 +100 +90 +3 +0 +4 +2 +5$/m);
  assert.match(
    text,
    /^TO RELAY +FROM RELAY +IN +TO RELAY +FROM RELAY +MALFORMED +RECONNECTS +SEQ GAPS$/m,
  );
  assert.match(text, /^frames +frames +datagrams +bytes +bytes +datagrams +count +count$/m);
  assert.match(text, /^100 +90 +91 +12000 +11000 +1 +2 +5$/m);
  assert.match(text, /^drops \(frames, by reason\): mtu_exceeded=3 unknown_destination=17$/m);
  const legend = text.slice(text.indexOf("legend:")).replaceAll("\n", " ");
  assert.match(legend, /LAN \(frames\): read from the LAN interface;/);
  assert.match(legend, /MERGED \(frames\): frames the kernel had merged/);
  assert.match(
    legend,
    /FUTURE COUNTER \(count\): future_counter;/,
    "an unknown counter still explained",
  );
  assert.match(legend, /SEQ GAPS \(count\): gaps in the relay's datagram sequence/);
  assert.doesNotMatch(text, /gateway (present|absent)/, "a gateway is the room's gateway");
});

Deno.test("formatPeerStatus of a client says whether the room has a gateway, and what a reconnecting session lacks", () => {
  const client: PeerDaemonStatus = {
    ...GATEWAY,
    role: "client",
    interface: "nk0",
    counters: { tap_frames: 9, tap_to_relay: 8, relay_to_tap: 7 },
    drops: {},
    session: {
      ...GATEWAY.session,
      state: "reconnecting",
      peer_id: null,
      frame_max: null,
      connected_ms: null,
      gateway_present: false,
    },
  };
  const text = formatPeerStatus(client);
  assert.match(text, /^client on TAP nk0 /m);
  assert.match(
    text,
    /^session: reconnecting, relay 10\.99\.0\.1:4433, room LAB1, gateway absent \(the LAN is unreachable\)$/m,
  );
  assert.match(text, /^TAP +TAP→RELAY +RELAY→TAP$/m);
  assert.match(text, /^9 +8 +7$/m);
  assert.match(text, /^drops \(frames, by reason\): -$/m);
  const present = formatPeerStatus({
    ...client,
    session: { ...GATEWAY.session, gateway_present: true },
  });
  assert.match(present, /connected 1m23s, gateway present$/m);
});

Deno.test("counter names: camelCase fields become snake_case keys, numbers only, and unknown keys a generic label", () => {
  assert.equal(snakeCase("checksumsCompleted"), "checksums_completed");
  assert.deepEqual(numericFields({ lanFrames: 1, gsoSegmentsMade: 2, label: "x", on: true }), {
    lan_frames: 1,
    gso_segments_made: 2,
  });
  assert.deepEqual(counterInfo("lan_frames"), {
    label: "LAN",
    unit: "frames",
    meaning: "read from the LAN interface",
  });
  assert.deepEqual(counterInfo("segments_made"), {
    label: "SEGMENTS MADE",
    unit: "count",
    meaning: "segments_made",
  });
  assert.equal(counterInfo("constructor").label, "CONSTRUCTOR", "not Object.prototype's");
});

Deno.test("durationText and wrapText", () => {
  assert.deepEqual(
    [0, 40, 9_950, 10_000, 59_999, 60_000, 125_000, 3_600_000, 7_380_000, 90_000_000].map(
      durationText,
    ),
    ["0.0s", "0.0s", "9.9s", "10s", "59s", "1m00s", "2m05s", "1h00m", "2h03m", "1d01h"],
  );
  assert.equal(wrapText("aa bb cc dd", 5), "aa bb\ncc dd");
  assert.equal(wrapText("aaaaaaa b", 5), "aaaaaaa\nb", "a long word stays whole");
  assert.equal(wrapText("a  b\nc", 80, "  "), "  a b c");
});

Deno.test("netkit gateway status and client status find the only daemon of this namespace, or take --status-socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-peer-status-" });
  const saved = Deno.env.get("NETKIT_RUN_DIR");
  Deno.env.set("NETKIT_RUN_DIR", dir);
  try {
    const serve = (name: string, status: unknown) =>
      ControlServer.listen({
        path: `${dir}/${name}.sock`,
        schema: z.object({ cmd: z.literal("status") }),
        handle: () => status,
      });
    const none = await cli("gateway", "status");
    assert.equal(none.code, 1);
    assert.match(none.err, /No gateway runs in this network namespace \(or give --status-socket\)/);
    const id = currentNetnsId();
    await using _gateway = await serve(gatewaySocketName(id, "eth0"), GATEWAY);
    const found = await cli("gateway", "status", "-j");
    assert.equal(found.code, 0, found.err);
    assert.deepEqual(JSON.parse(found.out), GATEWAY);
    const text = await cli("gateway", "status");
    assert.match(text.out, /^gateway on LAN interface eth0 /);
    // A client elsewhere in the run directory is not the gateway's.
    const client = { ...GATEWAY, role: "client", interface: "nk0" };
    await using _client = await serve(clientSocketName(id, "nk0"), client);
    assert.deepEqual(JSON.parse((await cli("client", "status", "-j")).out), client);
    await using _other = await serve(gatewaySocketName(id, "eth1"), GATEWAY);
    const two = await cli("gateway", "status");
    assert.equal(two.code, 1);
    assert.match(two.err, /Several gateways run here: give --status-socket/);
    for (
      const args of [
        [
          "gateway",
          "status",
          "-j",
          "--status-socket",
          `${dir}/${gatewaySocketName(id, "eth1")}.sock`,
        ],
        [
          "gateway",
          "--status-socket",
          `${dir}/${gatewaySocketName(id, "eth1")}.sock`,
          "status",
          "-j",
        ],
      ]
    ) {
      const chosen = await cli(...args);
      assert.equal(chosen.code, 0, chosen.err);
      assert.deepEqual(JSON.parse(chosen.out), GATEWAY);
    }
    // The daemons themselves print no JSON, and still need the relay.
    const json = await cli("gateway", "-j", "--iface", "eth0");
    assert.equal(json.code, 2);
    assert.match(json.err, /-j\/--json and -p\/--pretty apply to gateway status/);
    const noRelay = await cli("client", "--mac", "02:00:00:00:00:01");
    assert.equal(noRelay.code, 2);
    assert.match(noRelay.err, /Give the relay's address with --relay HOST:PORT/);
  } finally {
    if (saved === undefined) Deno.env.delete("NETKIT_RUN_DIR");
    else Deno.env.set("NETKIT_RUN_DIR", saved);
    await Deno.remove(dir, { recursive: true });
  }
});
