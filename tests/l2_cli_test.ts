// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import "../ffi/native.ts";
import { parseHostPort } from "../lib/cli/l2_options.ts";
import { formatRelayStatus } from "../lib/cli/relay.ts";
import { UsageError } from "../lib/cli/errors.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { z } from "zod";
import { cli } from "./_cli.ts";

Deno.test("parseHostPort reads names, IPv4 and bracketed IPv6 and refuses the rest", () => {
  assert.deepEqual(parseHostPort("relay.example.net:443", "--relay"), {
    hostname: "relay.example.net",
    port: 443,
  });
  assert.deepEqual(parseHostPort("10.0.0.1:4433", "--relay"), { hostname: "10.0.0.1", port: 4433 });
  assert.deepEqual(parseHostPort("[2001:db8::1]:443", "--listen"), {
    hostname: "2001:db8::1",
    port: 443,
  });
  for (const bad of ["relay", "2001:db8::1:443", "host:0", "host:65536", ":443"]) {
    assert.throws(() => parseHostPort(bad, "--relay"), UsageError, bad);
  }
});

Deno.test("netkit gateway, client and relay report bad options as usage errors (exit 2)", async () => {
  const peer = ["--relay-cert", "/nonexistent"];
  const noIface = await cli("gateway", "--relay", "r:1", ...peer);
  assert.equal(noIface.code, 2);
  assert.equal(noIface.err, "netkit: error: Give the LAN interface with --iface\n");
  const badRelay = await cli("client", "--relay", "r", ...peer, "--mac", "02:00:00:00:00:01");
  assert.equal(badRelay.code, 2);
  const badMac = await cli("client", "--relay", "r:1", ...peer, "--mac", "01:00:5e:00:00:01");
  assert.equal(badMac.code, 2);
  assert.match(badMac.err, /a client MAC must be unicast/);
  const noCert = await cli("relay", "--listen", "127.0.0.1:4433");
  assert.equal(noCert.code, 2);
  const both = await cli("relay", "--listen", "127.0.0.1:1", "--dev-cert", "/x", "--cert", "c");
  assert.equal(both.code, 2);
  assert.match(both.err, /--dev-cert replaces --cert and --key/);
});

Deno.test("netkit client with an unreadable pinned certificate fails before touching anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-client-" });
  try {
    const credential = `${dir}/client.cred`;
    await Deno.writeTextFile(credential, `nk1:LAN1:alice:${"A".repeat(43)}\n`, { mode: 0o600 });
    const { code, err } = await cli(
      "client",
      "--relay",
      "127.0.0.1:9",
      "--relay-cert",
      "/nonexistent/ca.pem",
      "--credential-file",
      credential,
      "--mac",
      "02:00:00:00:00:01",
    );
    assert.equal(code, 1);
    assert.match(err, /Certificate file "\/nonexistent\/ca.pem" does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit relay status --status-socket asks that socket, before or after status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-relay-status-" });
  // A whole reply, as the contract (lib/l2/relay_client.ts) requires.
  const status = {
    listen: "127.0.0.1:4433",
    version: "test",
    uptime_ms: 5,
    rooms: [],
    drops: {},
    control_ignored: {},
    peers_total: 0,
    rejected: {},
    refused: {},
    auth_failures: 0,
    connections: 0,
    handshakes: 0,
    sources: 0,
    limits: {
      max_rooms: 1024,
      room_clients: 32,
      max_connections: 1024,
      max_connections_per_source: 16,
      max_handshakes: 64,
      max_handshakes_per_source: 8,
      handshake_timeout_ms: 5000,
      auth_failures_per_minute: 10,
      idle_timeout_ms: 2000,
      resume_window_ms: 120_000,
      bcast_pps: 1000,
      bcast_burst: 200,
      peer_bandwidth: 0,
      control_messages_per_second: 20,
      stats_wait_ms: 300,
    },
    rooms_file: null,
  };
  try {
    await using _server = await ControlServer.listen({
      path: `${dir}/relay.sock`,
      schema: z.object({ cmd: z.literal("status") }),
      handle: () => status,
    });
    for (
      const args of [
        ["relay", "status", "-j", "--status-socket", `${dir}/relay.sock`],
        ["relay", "--status-socket", `${dir}/relay.sock`, "status", "-j"],
      ]
    ) {
      const result = await cli(...args);
      assert.equal(result.err, "", args.join(" "));
      assert.equal(result.code, 0);
      assert.deepEqual(JSON.parse(result.out), status);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit relay status and gateway status turn a malformed reply into one line, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-relay-status-" });
  try {
    await using _server = await ControlServer.listen({
      path: `${dir}/fake.sock`,
      schema: z.object({ cmd: z.literal("status") }),
      handle: () => ({ listen: "127.0.0.1:4433", version: "test", uptime_ms: 5, rooms: 7 }),
    });
    for (const role of ["relay", "gateway", "client"]) {
      const result = await cli(role, "status", "--status-socket", `${dir}/fake.sock`);
      assert.equal(result.code, 1);
      assert.equal(result.out, "");
      assert.match(
        result.err,
        new RegExp(`^netkit: error: The ${role} daemon sent a malformed status reply: [^\n]+\n$`),
      );
    }
    const relay = await cli("relay", "status", "--status-socket", `${dir}/fake.sock`);
    assert.match(relay.err, /reply: rooms: expected array, received number; /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatRelayStatus shows each room's peers with units, connected time, hold, drops charged to the sender, and the peers' own counters", () => {
  const peer = {
    datagrams_in: 10,
    bytes_in: 1000,
    frames_forwarded: 9,
    frames_out: 7,
    bytes_out: 700,
    malformed: 1,
    frames_fragmented: 0,
    fragments_reassembled: 0,
    fragments: true,
    datagram_max: 1414,
    control_ignored: {},
  };
  const text = formatRelayStatus({
    listen: "0.0.0.0:443",
    version: "0.1.0",
    uptime_ms: 65_000,
    rooms: [{
      room: "LAN1",
      room_id: 1,
      frame_max: 1406,
      tap_mtu: 1392,
      clients: 3,
      address_guard: true,
      bindings: { dhcpv4: 1 },
      peers: [
        {
          ...peer,
          peer_id: 1,
          credential: "gateway",
          role: "gateway",
          mac: "02:00:00:00:00:01",
          state: "active",
          remote: "10.0.0.2:5000",
          connected_ms: 125_000,
          away_ms: null,
          hold_remaining_ms: null,
          drops: {},
          reported: {
            frames_to_relay: 12,
            frames_from_relay: 8,
            datagrams_in: 8,
            bytes_to_relay: 1200,
            bytes_from_relay: 800,
            malformed: 0,
            seq_gaps: 1,
            dropped: { mtu_exceeded: 3 },
            counters: { lan_frames: 20, gso_frames: 2 },
          },
          reported_age_ms: 40,
          reported_fresh: true,
        },
        {
          ...peer,
          peer_id: 2,
          credential: "alice",
          role: "client",
          mac: "02:00:00:00:00:02",
          state: "away",
          remote: null,
          connected_ms: 0,
          away_ms: 25_000,
          hold_remaining_ms: 95_000,
          drops: { runt: 1, broadcast_rate: 2 },
          reported: null,
          reported_age_ms: null,
          reported_fresh: false,
        },
      ],
    }],
    drops: { runt: 1, broadcast_rate: 2 },
    control_ignored: { unsolicited_stats: 1 },
    peers_total: 2,
    rejected: { unauthorized: 3 },
    refused: { auth_failures: 2 },
    auth_failures: 3,
    connections: 2,
    handshakes: 0,
    sources: 2,
    limits: {
      max_rooms: 1024,
      room_clients: 32,
      max_connections: 1024,
      max_connections_per_source: 16,
      max_handshakes: 64,
      max_handshakes_per_source: 8,
      handshake_timeout_ms: 5000,
      auth_failures_per_minute: 10,
      idle_timeout_ms: 2000,
      resume_window_ms: 120_000,
      bcast_pps: 1000,
      bcast_burst: 200,
      peer_bandwidth: 0,
      control_messages_per_second: 20,
      stats_wait_ms: 300,
    },
    rooms_file: { path: "/var/lib/netkit/relay-rooms.json", loaded_ms: 3000, error: null },
  });
  assert.match(text, /^relay 0\.0\.0\.0:443 up 1m05s, 1 room, 2 peers$/m);
  assert.match(
    text,
    /^room LAN1 id 1 frame_max 1406 tap_mtu 1392 clients 3 address_guard on bindings dhcpv4=1$/m,
  );
  // Each number column has its unit under its name.
  assert.match(
    text,
    /^PEER +CREDENTIAL +ROLE +MAC +STATE +REMOTE +CONNECTED +HOLD +IN +IN +FWD +OUT +OUT +MALFORMED +DROPS$/m,
  );
  assert.match(
    text,
    /^ +time +time left +datagrams +bytes +frames +frames +bytes +datagrams +frames$/m,
  );
  assert.match(
    text,
    /^1 +gateway +gateway +02:00:00:00:00:01 +active +10\.0\.0\.2:5000 +2m05s +- +10 +1000 +9 +7 +700 +1 +-$/m,
  );
  assert.match(
    text,
    /^2 +alice +client +02:00:00:00:00:02 +away +- +- +1m35s +10 +1000 +9 +7 +700 +1 +runt=1,broadcast_rate=2$/m,
  );
  // The peers' own counters: fresh or not, with their age.
  assert.match(
    text,
    /^PEER +AGE +FRESH +TO RELAY +TO RELAY +FROM RELAY +FROM RELAY +IN +MALFORMED +SEQ GAPS +DROPS +COUNTERS$/m,
  );
  assert.match(
    text,
    /^1 +0\.0s +yes +12 +1200 +8 +800 +8 +0 +1 +mtu_exceeded=3 +lan_frames=20,gso_frames=2$/m,
  );
  assert.match(text, /^2 +- +no +- +- +- +- +- +- +- +- +-$/m);
  const legend = text.replaceAll("\n", " ");
  assert.match(legend, /legend: CONNECTED: since the peer joined or resumed; HOLD: /);
  assert.match(legend, /A drop is charged to the peer that sent the frame/);
  assert.match(legend, /FRESH yes when it answered this request/);
  assert.match(text, /^drops \(frames, charged to the sender\): runt=1,broadcast_rate=2$/m);
  assert.match(text, /^control messages ignored: unsolicited_stats=1$/m);
  assert.match(text, /^rejected: unauthorized=3$/m);
  assert.match(text, /^auth failures: 3$/m);
  assert.match(text, /^refused before handshake: auth_failures=2$/m);
  assert.match(text, /^connections 2\/1024 \(per source 16\), handshakes 0\/64 /m);
  assert.match(
    text,
    /^per client: broadcast 1000 frames\/s \(burst 200 frames\), bandwidth unlimited; per peer: control 20 messages\/s; away peers held 2m00s; fresh counters waited for 300 ms$/m,
  );
  assert.match(text, /^rooms file \/var\/lib\/netkit\/relay-rooms.json, read 3\.0s ago$/m);
  for (const line of text.split("\n").filter((l) => l.startsWith("legend"))) {
    assert.ok(line.length <= 100, line);
  }
});

Deno.test("netkit relay room: credentials are printed or written once, listed by name only, revoked and rotated in the rooms file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-rooms-" });
  const rooms = `${dir}/rooms.json`;
  try {
    const added = await cli("relay", "room", "add", "LAN1", "--rooms", rooms, "--tap-mtu", "1300");
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /^nk1:LAN1:gateway:[A-Za-z0-9_-]{43}\n$/);
    assert.match(added.err, /shown only now/);
    assert.equal((await Deno.stat(rooms)).mode! & 0o777, 0o600);
    const file = `${dir}/alice.cred`;
    const client = await cli(
      "relay",
      "room",
      "add-client",
      "LAN1",
      "alice",
      "--address",
      "192.168.1.5",
      "--rooms",
      rooms,
      "-o",
      file,
    );
    assert.equal(client.code, 0, client.err);
    assert.equal(client.out, "");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const alice = (await Deno.readTextFile(file)).trim();
    assert.match(alice, /^nk1:LAN1:alice:/);
    const stored = await Deno.readTextFile(rooms);
    for (const secret of [added.out.trim(), alice].map((c) => c.split(":")[3]!)) {
      assert.ok(!stored.includes(secret), "the rooms file keeps hashes, not secrets");
    }
    const list = await cli("relay", "room", "list", "--rooms", rooms, "-j");
    assert.deepEqual(
      JSON.parse(list.out).map((r: { credentials: { name: string; addresses: string[] }[] }) =>
        r.credentials.map((c) => [c.name, c.addresses])
      ),
      [[["gateway", []], ["alice", ["192.168.1.5"]]]],
    );
    assert.ok(!list.out.includes(alice.split(":")[3]!));
    const rotated = await cli("relay", "room", "rotate", "LAN1", "alice", "--rooms", rooms);
    assert.match(rotated.out, /^nk1:LAN1:alice:/);
    assert.notEqual(rotated.out.trim(), alice);
    assert.equal(
      (await cli("relay", "room", "del-client", "LAN1", "alice", "--rooms", rooms)).code,
      0,
    );
    const gone = await cli("relay", "room", "del-client", "LAN1", "alice", "--rooms", rooms);
    assert.equal(gone.code, 1);
    assert.equal(gone.err, 'netkit: error: Room "LAN1" has no client "alice"\n');
    const bad = await cli("relay", "room", "add", "lan1", "--rooms", rooms);
    assert.equal(bad.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit relay room -o never writes through an existing file or a planted symlink, and changes nothing then", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-rooms-" });
  const rooms = `${dir}/rooms.json`;
  try {
    const target = `${dir}/victim`;
    await Deno.writeTextFile(target, "precious\n");
    await Deno.symlink(target, `${dir}/link.cred`);
    for (const output of [`${dir}/link.cred`, target]) {
      const result = await cli("relay", "room", "add", "LAN1", "--rooms", rooms, "-o", output);
      assert.equal(result.code, 1);
      assert.match(result.err, /Cannot create ".*" for the credential: .*give a new file/);
    }
    assert.equal(await Deno.readTextFile(target), "precious\n");
    await assert.rejects(Deno.stat(rooms), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netkit relay refuses a rooms file others may write, and a peer a credential file others may read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-rooms-" });
  try {
    const rooms = `${dir}/rooms.json`;
    const added = await cli("relay", "room", "add", "LAN1", "--rooms", rooms);
    await Deno.chmod(rooms, 0o620);
    const list = await cli("relay", "room", "list", "--rooms", rooms);
    assert.equal(list.code, 1);
    assert.match(list.err, /Refusing to read rooms file ".*": its mode 0620 lets its group write/);
    const credential = `${dir}/gw.cred`;
    await Deno.writeTextFile(credential, added.out, { mode: 0o644 });
    await Deno.chmod(credential, 0o644);
    const peer = [
      "gateway",
      "--relay",
      "127.0.0.1:9",
      "--relay-cert",
      "/nonexistent",
      "--iface",
      "lo",
    ];
    const open = await cli(...peer, "--credential-file", credential);
    assert.equal(open.code, 1);
    assert.match(
      open.err,
      /Refusing to read credential file ".*": its mode 0644 lets .*chmod go-rwx/,
    );
    const none = await cli(...peer);
    assert.equal(none.code, 2);
    assert.match(none.err, /--credential-file FILE or in \$NETKIT_CREDENTIAL/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
