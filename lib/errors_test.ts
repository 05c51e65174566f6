import assert from "node:assert/strict";
import { UsageError } from "./cli/errors.ts";
import { ExitCode, NetkitError, NetkitOsError, unwrap } from "./errors.ts";

Deno.test("NetkitOsError names the operation, errno and its meaning", () => {
  const err = new NetkitOsError('open packet socket on "eth9"', 19);
  assert.equal(err.message, 'open packet socket on "eth9": ENODEV (No such device)');
  assert.equal(err.code, "ENODEV");
  assert.equal(err.errno, 19);
  assert.equal(err.exitCode, ExitCode.RUNTIME);
  assert.ok(err instanceof NetkitError);
});

Deno.test("unwrap() passes results through and throws for -errno", () => {
  assert.equal(unwrap(7, "x"), 7);
  assert.equal(unwrap(0, "x"), 0);
  assert.throws(() => unwrap(-1, "set sysctl"), {
    name: "NetkitOsError",
    message: "set sysctl: EPERM (Operation not permitted)",
  });
});

Deno.test("UsageError exits 2 and NetkitError exits 1 by default", () => {
  assert.equal(new UsageError("bad").exitCode, 2);
  assert.equal(new NetkitError("bad").exitCode, 1);
  assert.equal(new NetkitError("bad", { exitCode: 3 }).exitCode, 3);
  const cause = new Error("inner");
  assert.equal(new NetkitError("outer", { cause }).cause, cause);
});
