import assert from "node:assert/strict";
import { MalformedPacketError } from "./errors.ts";

Deno.test("MalformedPacketError carries a machine reason beside the human message", () => {
  const err = new MalformedPacketError(
    "runt",
    "Ethernet frame too short: 3 bytes, a header needs 14",
  );
  assert.ok(err instanceof Error);
  assert.equal(err.name, "MalformedPacketError");
  assert.equal(err.reason, "runt");
  assert.equal(err.message, "Ethernet frame too short: 3 bytes, a header needs 14");
  assert.match(String(err), /^MalformedPacketError: Ethernet frame too short/);
});
