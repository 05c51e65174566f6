import assert from "node:assert/strict";
import "../ffi/native.ts";
import { z } from "zod";
import { cli } from "./_cli.ts";
import { ControlServer } from "../lib/ipc/mod.ts";
import { newCounters } from "../lib/vnet/dataplane.ts";
import { VnetRequest } from "../lib/vnet/requests.ts";

/** A socket path where no daemon listens. */
const NOWHERE = "/nonexistent/netkit-test/vnet.sock";

const SHOW = {
  status: "success",
  pid: 4242,
  arena: "thp",
  responders: [],
  uplink: null,
  nics: [{
    name: "vm0",
    config: {
      name: "vm0",
      mac: "52:54:00:00:00:01",
      ipv4: "192.0.2.5/32",
      profile: "linklocal",
      tap: "vm0",
    },
    device: { kind: "tap", name: "vm0", state: "up" },
    counters: {
      ...newCounters(),
      rx_frames: 3,
      drops: { ...newCounters().drops, no_responder: 2 },
    },
    responder_counts: { dhcp_offer: 1, dhcp_foreign_chaddr: 2 },
  }],
  "ipv6_responder_drops": { ndp_hop_limit: 1, dhcp6_server_id: 0 },
};

async function withFakeDaemon(
  reply: (request: unknown) => unknown,
  fn: (socket: string[], asked: unknown[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-vnet-cli-" });
  const asked: unknown[] = [];
  try {
    await using _fake = await ControlServer.listen({
      path: `${dir}/vnet.sock`,
      schema: z.object({ action: z.string() }).loose(),
      handle: (request) => {
        asked.push(request);
        return reply(request);
      },
    });
    await fn(["--socket", `${dir}/vnet.sock`], asked);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("netkit vnet nic add checks the NIC before asking the daemon: one line, exit 2", async () => {
  for (
    const [args, message] of [
      [["--mac", "nope", "--ipv4", "192.0.2.5"], /NIC "vm0": Invalid MAC address "nope"/],
      [
        ["--mac", "52:54:00:00:00:01", "--ipv4", "192.0.2.5/24"],
        /linklocal profile gives the guest a \/32/,
      ],
      [
        ["--mac", "52:54:00:00:00:01", "--ipv4", "192.0.2.5", "--mtu", "big"],
        /Invalid value "big" for --mtu/,
      ],
      [
        ["--mac", "52:54:00:00:00:01", "--ipv4", "192.0.2.5", "--profile", "wan"],
        /--profile: expected linklocal or lan/,
      ],
      [["--ipv4", "192.0.2.5"], /required option '--mac <mac>' not specified/],
    ] as const
  ) {
    const { code, err } = await cli("vnet", "nic", "add", "vm0", ...args, "--socket", NOWHERE);
    assert.equal(code, 2, err);
    assert.match(err, new RegExp(`^netkit: error: .*${message.source}.*\\n$`));
  }
});

Deno.test("netkit vnet without a daemon says how to start it (exit 1)", async () => {
  const { code, err } = await cli("vnet", "show", "--socket", NOWHERE);
  assert.equal(code, 1);
  assert.match(err, /^netkit: error: Cannot reach .*; start it with "netkit vnet daemon -d"\n$/);
});

Deno.test("netkit vnet nic add sends the normalized NIC; show prints NICs and counters", async () => {
  await withFakeDaemon(
    (request) =>
      (request as { action: string }).action === "SHOW"
        ? SHOW
        : { status: "success", message: "NIC vm0 added" },
    async (socket, asked) => {
      const add = await cli(
        "vnet",
        "nic",
        "add",
        "vm0",
        "--mac",
        "52-54-00-00-00-01",
        "--ipv4",
        "192.0.2.5",
        "--dns",
        "192.0.2.53",
        "--dns",
        "2001:db8::53",
        ...socket,
      );
      assert.equal(add.err, "");
      assert.equal(add.out, "NIC vm0 added\n");
      const sent = VnetRequest.parse(asked[0]);
      assert.equal(sent.action, "NIC_ADD");
      assert.deepEqual(sent.payload, {
        name: "vm0",
        mac: "52:54:00:00:00:01",
        ipv4: "192.0.2.5/32",
        dns: ["192.0.2.53", "2001:db8::53"],
        profile: "linklocal",
        tap: "vm0",
        mtu: 1500,
        ra_interval: 600,
        slaac: false,
        rapid_commit: false,
      });
      const show = await cli("vnet", "show", "-s", ...socket);
      assert.equal(show.code, 0, show.err);
      assert.match(show.out, /Buffers: thp pages; responders: none yet/);
      assert.match(
        show.out,
        /vm0\s+52:54:00:00:00:01\s+192\.0\.2\.5\/32\s+-\s+linklocal\s+tap vm0\s+up/,
      );
      assert.match(show.out, /dropped: no_responder 2/);
      assert.match(show.out, /ipv4 responders: dhcp_offer 1, dhcp_foreign_chaddr 2\n/);
      assert.match(show.out, /IPv6 responders, all NICs, dropped: ndp_hop_limit 1\n$/);
      const json = await cli("-j", "vnet", "show", ...socket);
      assert.equal(JSON.parse(json.out).nics[0].name, "vm0");
    },
  );
});

Deno.test("netkit vnet show turns a malformed reply into one line, exit 1", async () => {
  await withFakeDaemon(() => ({ ...SHOW, arena: "gold" }), async (socket) => {
    const { code, out, err } = await cli("vnet", "show", ...socket);
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(
      err,
      /^netkit: error: The vnet daemon sent a malformed SHOW reply: arena: [^\n]+\n$/,
    );
  });
});

Deno.test("netkit vnet (the foreground mode) without --tap or --attach is a usage error", async () => {
  const { code, err } = await cli("vnet", "--mac", "52:54:00:00:00:01");
  assert.equal(code, 2);
  assert.match(err, /Serve one NIC with "netkit vnet --tap NAME/);
});
