import assert from "node:assert/strict";
import {
  hashSecret,
  newCredential,
  parseCredential,
  secretMatches,
  UNMATCHABLE_HASH,
} from "./credentials.ts";

Deno.test("newCredential gives nk1:ROOM:NAME:SECRET with 32 random bytes and the hash to keep", async () => {
  const a = await newCredential("LAN1", "alice");
  const b = await newCredential("LAN1", "alice");
  assert.match(a.text, /^nk1:LAN1:alice:[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a.text, b.text);
  const parsed = parseCredential(a.text);
  assert.deepEqual([parsed.room, parsed.name], ["LAN1", "alice"]);
  assert.equal(a.hash, await hashSecret(parsed.secret));
  assert.ok(!a.hash.includes(parsed.secret));
  assert.ok(await secretMatches(parsed.secret, a.hash));
  assert.ok(!(await secretMatches(parseCredential(b.text).secret, a.hash)));
  assert.ok(!(await secretMatches(parsed.secret, UNMATCHABLE_HASH)));
});

Deno.test("parseCredential refuses anything but a well-formed credential and never echoes it", () => {
  const secret = "s".repeat(43);
  for (
    const bad of [
      "",
      `nk2:LAN1:alice:${secret}`,
      `nk1:lan1:alice:${secret}`,
      `nk1:LAN1:Alice:${secret}`,
      `nk1:LAN1:alice:${secret}x`,
      `nk1:LAN1:alice:${secret.slice(1)}=`,
    ]
  ) {
    assert.throws(() => parseCredential(bad), (err: Error) => {
      assert.ok(!err.message.includes(secret.slice(0, 20)), "the secret is not in the message");
      return /Malformed credential/.test(err.message);
    });
  }
  assert.equal(parseCredential(`  nk1:LAN1:a-b_c:${secret}\n`).name, "a-b_c");
});
