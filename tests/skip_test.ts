import assert from "node:assert/strict";
import { needs, recordSkip, type SkipRecord, skipUnless } from "./skip.ts";

Deno.test("recordSkip appends whole lines and says whether the reason is new to the record", () => {
  const path = Deno.makeTempFileSync({ suffix: ".jsonl" });
  try {
    const a: SkipRecord = { reason: "tshark is not installed", file: "./tests/a_test.ts", line: 3 };
    const b: SkipRecord = {
      reason: "no IPv4 multicast routing",
      file: "./tests/b_test.ts",
      line: 9,
    };
    assert.equal(recordSkip(path, a), true);
    assert.equal(recordSkip(path, { ...a, line: 12 }), false);
    assert.equal(recordSkip(path, b), true);
    const lines = Deno.readTextFileSync(path).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [a, { ...a, line: 12 }, b]);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("needs() with nothing to need and skipUnless() with its condition met skip nothing", () => {
  assert.equal(needs(), false);
  assert.equal(skipUnless(true, "never shown"), false);
});

Deno.test("needs() refuses a requirement that is neither a probe nor a listed tool", () => {
  assert.throws(() => needs("tsharkk"), /"tsharkk" is not in .*debian-packages\.txt/);
});
