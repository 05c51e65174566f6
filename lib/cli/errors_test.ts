import assert from "node:assert/strict";
import { ExitCode, InvalidInputError, NetkitError, NetkitOsError } from "../errors.ts";
import { exitCodeOf, UsageError } from "./errors.ts";

Deno.test("exitCodeOf: invalid input exits 2 whichever layer found it, other failures 1", () => {
  assert.equal(exitCodeOf(new InvalidInputError('Invalid interface name "a/b"')), ExitCode.USAGE);
  assert.equal(exitCodeOf(new UsageError("--relay needs a port")), ExitCode.USAGE);
  assert.equal(exitCodeOf(new NetkitError("the daemon is not running")), ExitCode.RUNTIME);
  assert.equal(exitCodeOf(new NetkitOsError("open packet socket", 19)), ExitCode.RUNTIME);
  assert.equal(exitCodeOf(new Error("bug")), ExitCode.RUNTIME);
  assert.equal(exitCodeOf("thrown text"), ExitCode.RUNTIME);
});

Deno.test("exitCodeOf keeps an exit code the CLI chose, such as a detached child's", () => {
  assert.equal(exitCodeOf(new NetkitError("the child failed", { exitCode: 3 })), 3);
});

Deno.test("UsageError is invalid input found by the command line, and says exit 2 itself", () => {
  const err = new UsageError("bad", { cause: "why" });
  assert.ok(err instanceof InvalidInputError);
  assert.equal(err.name, "UsageError");
  assert.equal(err.exitCode, ExitCode.USAGE);
  assert.equal(err.cause, "why");
});
