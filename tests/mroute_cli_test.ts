import assert from "node:assert/strict";
import "../ffi/native.ts";
import { cli } from "./_cli.ts";

/** A socket path where no daemon listens. */
const NOWHERE = "/nonexistent/netkit-test/mroute.sock";

Deno.test("netkit mroute add without an output interface is a usage error (exit 2)", async () => {
  const { code, err } = await cli(
    "mroute",
    "add",
    "--socket",
    NOWHERE,
    "--group",
    "239.1.1.1",
    "--iif",
    "eth1",
  );
  assert.equal(code, 2);
  assert.equal(
    err,
    "netkit: error: At least one output interface is needed: --oif IF[:TTL] or --oifs A,B\n",
  );
});

Deno.test("netkit mroute refuses a bad --table and a missing required option with exit 2", async () => {
  const table = await cli("mroute", "show", "--table", "seven");
  assert.equal(table.code, 2);
  assert.equal(
    table.err,
    'netkit: error: Invalid value "seven" for --table: expected a table id from 0 to 999999999\n',
  );
  const group = await cli("mroute", "del", "--socket", NOWHERE);
  assert.equal(group.code, 2);
  assert.match(group.err, /^netkit: error: required option '--group <address>' not specified\n$/);
});

Deno.test("netkit mroute without a daemon says so and how to start it, with the same options", async () => {
  const { code, err } = await cli("mroute", "show", "--socket", NOWHERE);
  assert.equal(code, 1);
  assert.match(
    err,
    new RegExp(
      `^netkit: error: Cannot reach the netkit daemon at "${NOWHERE}": .*; ` +
        `start it with "netkit mroute daemon -d --socket ${NOWHERE}"\\n$`,
    ),
  );
});

Deno.test("netkit mroute apply names a file that is not JSON, before any daemon is asked", async () => {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, "{routes: oops");
    const { code, err } = await cli("mroute", "apply", file, "--socket", NOWHERE);
    assert.equal(code, 1);
    assert.match(err, new RegExp(`^netkit: error: Cannot read "${file}" as JSON: `));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("netkit mroute daemon refuses -j, which has no meaning for it", async () => {
  const { code, err } = await cli("-j", "mroute", "daemon", "--socket", NOWHERE);
  assert.equal(code, 2);
  assert.equal(err, "netkit: error: -j/--json and -p/--pretty do not apply to the daemon\n");
});
