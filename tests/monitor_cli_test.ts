import assert from "node:assert/strict";
import "../ffi/native.ts";
import { z } from "zod";
import { cli } from "./_cli.ts";
import { ControlServer } from "../lib/ipc/mod.ts";

/** A daemon whose subscription streams `lines` and ends; `fn` gets its `--socket` option. */
async function withStream(
  lines: readonly unknown[],
  fn: (socket: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netkit-monitor-cli-" });
  try {
    await using _fake = await ControlServer.listen({
      path: `${dir}/daemon.sock`,
      schema: z.object({ action: z.literal("SUBSCRIBE") }),
      handle: async function* () {
        yield* lines;
      },
    });
    await fn(["--socket", `${dir}/daemon.sock`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ACK = { status: "success", message: "Subscribed" };

const VNET_EVENTS = [
  { event: "nic_added", nic: "vm0" },
  { event: "lease", nic: "vm0", address: "10.0.0.5", lease_time: 86400 },
  { event: "dropped", count: 3 },
];

Deno.test("netkit vnet monitor prints each event as a line, the acknowledgement not", async () => {
  await withStream([ACK, ...VNET_EVENTS], async (socket) => {
    const { code, out, err } = await cli("vnet", "monitor", ...socket);
    assert.equal(code, 0, err);
    assert.equal(
      out,
      "nic_added nic vm0\nlease nic vm0 address 10.0.0.5 lease_time 86400\ndropped count 3\n",
    );
  });
});

Deno.test("netkit vnet monitor -j and -p print each event as JSON, the acknowledgement not", async () => {
  await withStream([ACK, ...VNET_EVENTS], async (socket) => {
    const json = await cli("-j", "vnet", "monitor", ...socket);
    assert.equal(json.code, 0, json.err);
    assert.equal(json.out, VNET_EVENTS.map((e) => JSON.stringify(e) + "\n").join(""));
    const pretty = await cli("-p", "vnet", "monitor", ...socket);
    assert.equal(pretty.code, 0, pretty.err);
    assert.equal(pretty.out, VNET_EVENTS.map((e) => JSON.stringify(e, null, 2) + "\n").join(""));
  });
});

Deno.test("netkit mroute monitor prints events as text or JSON, the acknowledgement not", async () => {
  const events = [
    { event: "upcall", kind: "nocache", source: "10.0.0.1", group: "239.1.1.1", iif: "eth0" },
    { event: "interface_gone", name: "eth1", routes: [] },
  ];
  await withStream([ACK, ...events], async (socket) => {
    const text = await cli("mroute", "monitor", ...socket);
    assert.equal(text.code, 0, text.err);
    assert.equal(
      text.out,
      "upcall nocache (10.0.0.1, 239.1.1.1) on eth0\ninterface eth1 gone; waiting: no routes\n",
    );
    const json = await cli("-j", "mroute", "monitor", ...socket);
    assert.equal(json.code, 0, json.err);
    assert.equal(json.out, events.map((e) => JSON.stringify(e) + "\n").join(""));
  });
});

Deno.test("netkit vnet and mroute monitor: a malformed line is one error naming the daemon, exit 1", async () => {
  await withStream([ACK, { nic: "vm0" }], async (socket) => {
    const vnet = await cli("vnet", "monitor", ...socket);
    assert.equal(vnet.code, 1);
    assert.match(
      vnet.err,
      /^netkit: error: The vnet daemon sent a malformed SUBSCRIBE reply: .*\n$/,
    );
  });
  await withStream([ACK, { event: "route_added" }], async (socket) => {
    const mroute = await cli("mroute", "monitor", ...socket);
    assert.equal(mroute.code, 1);
    assert.match(
      mroute.err,
      /^netkit: error: The mroute daemon sent a malformed SUBSCRIBE reply: .*\n$/,
    );
  });
});

Deno.test("netkit vnet and mroute monitor without a daemon say how to start one, exit 1", async () => {
  const socket = ["--socket", "/nonexistent/netkit-test/daemon.sock"];
  const vnet = await cli("vnet", "monitor", ...socket);
  assert.equal(vnet.code, 1);
  assert.match(vnet.err, /start it with "netkit vnet daemon -d"\n$/);
  const mroute = await cli("mroute", "monitor", ...socket);
  assert.equal(mroute.code, 1);
  assert.match(mroute.err, /start it with "netkit mroute daemon -d --socket \/nonexistent/);
});
