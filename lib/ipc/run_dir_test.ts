import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { withRunDir } from "../../testing/ipc.ts";
import { controlSocketPath, DEFAULT_RUN_DIR, listControlSockets, runDir } from "./run_dir.ts";

async function withEnv(value: string | undefined, fn: () => Promise<void> | void): Promise<void> {
  const saved = Deno.env.get("NETKIT_RUN_DIR");
  if (value === undefined) Deno.env.delete("NETKIT_RUN_DIR");
  else Deno.env.set("NETKIT_RUN_DIR", value);
  try {
    await fn();
  } finally {
    if (saved === undefined) Deno.env.delete("NETKIT_RUN_DIR");
    else Deno.env.set("NETKIT_RUN_DIR", saved);
  }
}

Deno.test("runDir() is /run/netkit unless NETKIT_RUN_DIR names another directory", async () => {
  await withEnv(undefined, () => assert.equal(runDir(), "/run/netkit"));
  await withEnv("", () => assert.equal(runDir(), DEFAULT_RUN_DIR));
  await withEnv("/tmp/lab1//", () => assert.equal(runDir(), "/tmp/lab1"));
});

Deno.test({
  name: "runDir() falls back to /run/netkit without permission to read the environment",
  permissions: { env: false },
  fn() {
    assert.throws(() => Deno.env.get("NETKIT_RUN_DIR"), Deno.errors.NotCapable);
    assert.equal(runDir(), DEFAULT_RUN_DIR);
  },
});

Deno.test("controlSocketPath() puts <name>.sock in the run directory", async () => {
  await withEnv("/tmp/lab1", () => {
    assert.equal(controlSocketPath("lacp-bond0"), "/tmp/lab1/lacp-bond0.sock");
  });
  await withEnv("/", () => assert.equal(controlSocketPath("relay"), "/relay.sock"));
});

Deno.test("controlSocketPath() rejects names that could escape or hide in the run directory", () => {
  for (const name of ["../etc/x", "a/b", ".hidden", "..", "", "a\0b"]) {
    assert.throws(() => controlSocketPath(name), InvalidInputError, JSON.stringify(name));
  }
  assert.throws(() => controlSocketPath("a/b"), { message: /Invalid control socket name "a\/b"/ });
});

Deno.test("listControlSockets() lists matching sockets sorted and skips everything else", async () => {
  await withRunDir(async (dir) => {
    for (
      const name of ["lacp-b.sock", "lacp-a.sock", "lacp-a.sock.lock", "mroute.sock", "lacp-c.txt"]
    ) {
      await Deno.writeTextFile(`${dir}/${name}`, "");
    }
    await Deno.mkdir(`${dir}/lacp-d.sock`);
    assert.deepEqual(await listControlSockets("lacp-", dir), [
      `${dir}/lacp-a.sock`,
      `${dir}/lacp-b.sock`,
    ]);
    assert.deepEqual(await listControlSockets("", dir), [
      `${dir}/lacp-a.sock`,
      `${dir}/lacp-b.sock`,
      `${dir}/mroute.sock`,
    ]);
    await withEnv(dir, async () => {
      assert.deepEqual(await listControlSockets("mroute"), [`${dir}/mroute.sock`]);
    });
  });
});

Deno.test("listControlSockets() finds nothing in a run directory that does not exist", async () => {
  await withRunDir(async (dir) => {
    assert.deepEqual(await listControlSockets("lacp-", `${dir}/missing`), []);
  });
});

Deno.test("listControlSockets() rejects a prefix containing a slash", async () => {
  await assert.rejects(listControlSockets("../x"), InvalidInputError);
});
