import assert from "node:assert/strict";
import { bytesEqual, bytesEqualAt, compareBytes, setU16, setU32, u16, u32 } from "./bytes.ts";

Deno.test("u16, u32 and setU16 are big-endian, in place, and u32 is unsigned", () => {
  const b = new Uint8Array([0xff, 0xfe, 0x12, 0x34, 0x56]);
  assert.equal(u16(b, 0), 0xfffe);
  assert.equal(u16(b, 3), 0x3456);
  assert.equal(u32(b, 0), 0xfffe1234);
  setU16(b, 1, 0xabcd);
  assert.deepEqual([...b], [0xff, 0xab, 0xcd, 0x34, 0x56]);
});

Deno.test("setU32 writes big-endian in place and reads back through u32", () => {
  const b = new Uint8Array(6);
  setU32(b, 1, 0xfedc_ba98);
  assert.deepEqual([...b], [0, 0xfe, 0xdc, 0xba, 0x98, 0]);
  assert.equal(u32(b, 1), 0xfedc_ba98);
});

Deno.test("bytesEqual compares whole arrays; bytesEqualAt a field in place, false past the end", () => {
  const frame = new Uint8Array([9, 1, 2, 3, 9]);
  assert.equal(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
  assert.equal(bytesEqualAt(frame, 1, new Uint8Array([1, 2, 3])), true);
  assert.equal(bytesEqualAt(frame, 2, new Uint8Array([1, 2, 3])), false);
  assert.equal(bytesEqualAt(frame, 3, new Uint8Array([3, 9, 0])), false);
  assert.equal(bytesEqualAt(frame, -1, new Uint8Array([9])), false);
});

Deno.test("compareBytes orders byte by byte, a shorter prefix first", () => {
  const b = (...bytes: number[]) => new Uint8Array(bytes);
  assert.equal(compareBytes(b(1, 2), b(1, 2)), 0);
  assert.ok(compareBytes(b(1, 2), b(1, 3)) < 0);
  assert.ok(compareBytes(b(2), b(1, 9)) > 0);
  assert.ok(compareBytes(b(1), b(1, 0)) < 0);
});
