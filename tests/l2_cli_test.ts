// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import "../ffi/native.ts";
import type { CliIo } from "../lib/cli/io.ts";
import { parseHostPort, parseRoom } from "../lib/cli/l2_options.ts";
import { run } from "../lib/cli/program.ts";
import { formatRelayStatus } from "../lib/cli/relay.ts";
import { UsageError } from "../lib/errors.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { z } from "zod";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (t) => out += t, err: (t) => err += t };
  return { code: await run(args, io), out, err };
}

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

Deno.test("parseRoom accepts 4 to 16 capitals and digits only", () => {
  assert.equal(parseRoom("LAN1"), "LAN1");
  assert.equal(parseRoom("A".repeat(16)), "A".repeat(16));
  for (const bad of ["LAN", "lan1", "LAN-1", "A".repeat(17)]) {
    assert.throws(() => parseRoom(bad), /Invalid room/);
  }
});

Deno.test("netkit gateway, client and relay report bad options as usage errors (exit 2)", async () => {
  const peer = ["--server-name", "r", "--relay-cert", "/nonexistent", "--room", "LAN1"];
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
  const { code, err } = await cli(
    "client",
    "--relay",
    "127.0.0.1:9",
    "--server-name",
    "r",
    "--relay-cert",
    "/nonexistent/ca.pem",
    "--room",
    "LAN1",
    "--mac",
    "02:00:00:00:00:01",
  );
  assert.equal(code, 1);
  assert.match(err, /Certificate file "\/nonexistent\/ca.pem" does not exist/);
});

Deno.test("netkit relay status --status-socket asks that socket, before or after status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-relay-status-" });
  const status = { listen: "127.0.0.1:4433", version: "test", uptime_ms: 5, rooms: [] };
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

Deno.test("formatRelayStatus shows each room's peers with their counters and drops", () => {
  const peer = {
    datagrams_in: 10,
    bytes_in: 1000,
    frames_forwarded: 9,
    frames_out: 7,
    bytes_out: 700,
    malformed: 1,
    connected_ms: 5000,
    reported: null,
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
      peers: [
        {
          ...peer,
          peer_id: 1,
          role: "gateway",
          mac: "02:00:00:00:00:01",
          state: "active",
          remote: "10.0.0.2:5000",
          drops: {},
        },
        {
          ...peer,
          peer_id: 2,
          role: "client",
          mac: "02:00:00:00:00:02",
          state: "away",
          remote: null,
          drops: { runt: 1, broadcast_rate: 2 },
        },
      ],
    }],
    drops: { runt: 1, broadcast_rate: 2 },
    peers_total: 2,
    rejected: {},
  });
  assert.match(text, /^relay 0\.0\.0\.0:443 up 1m5s, 1 room, 2 peers$/m);
  assert.match(text, /^room LAN1 id 1 frame_max 1406 tap_mtu 1392$/m);
  assert.match(
    text,
    /^2\s+client\s+02:00:00:00:00:02\s+away\s+-\s+10\s+9\s+7\s+1\s+runt=1,broadcast_rate=2$/m,
  );
  assert.match(text, /^drops: runt=1,broadcast_rate=2$/m);
  assert.match(text, /^rejected: -$/m);
});
