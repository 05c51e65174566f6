import assert from "node:assert/strict";
import { setU16, u16, u32 } from "./bytes.ts";

Deno.test("u16, u32 and setU16 are big-endian, in place, and u32 is unsigned", () => {
  const b = new Uint8Array([0xff, 0xfe, 0x12, 0x34, 0x56]);
  assert.equal(u16(b, 0), 0xfffe);
  assert.equal(u16(b, 3), 0x3456);
  assert.equal(u32(b, 0), 0xfffe1234);
  setU16(b, 1, 0xabcd);
  assert.deepEqual([...b], [0xff, 0xab, 0xcd, 0x34, 0x56]);
});
