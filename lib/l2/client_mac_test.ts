import assert from "node:assert/strict";
import { formatMac, isLocallyAdministeredMac, isMulticastMac } from "../packet/mac.ts";
import { clientMacPath, deriveMac, stableClientMac } from "./client_mac.ts";

Deno.test("deriveMac gives a stable locally administered unicast MAC", async () => {
  const a = await deriveMac("seed");
  assert.deepEqual(a, await deriveMac("seed"));
  assert.notDeepEqual(a, await deriveMac("other"));
  assert.ok(isLocallyAdministeredMac(a));
  assert.ok(!isMulticastMac(a));
});

Deno.test("stableClientMac keeps the first MAC across calls", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await stableClientMac("tap7", `${dir}/state`);
    assert.equal(
      (await Deno.readTextFile(clientMacPath("tap7", `${dir}/state`))).trim(),
      formatMac(first),
    );
    assert.deepEqual(await stableClientMac("tap7", `${dir}/state`), first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stableClientMac refuses a damaged MAC file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(clientMacPath("tap7", dir), "not a mac\n");
    await assert.rejects(stableClientMac("tap7", dir), /fix or delete the file, or give --mac/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stableClientMac that cannot keep the MAC says to give --mac", async () => {
  // sysfs refuses mkdir even to root: the same error a user without write access gets.
  await assert.rejects(
    stableClientMac("nk0", "/sys/netkit-client-mac-test"),
    /Cannot keep the client's MAC in "\/sys\/netkit-client-mac-test" .*: give the TAP a MAC with --mac, or run as root/,
  );
});
