import assert from "node:assert/strict";
import { formatMac, parseMac } from "../packet/mac.ts";
import { RemoteMacTable } from "./mac_table.ts";

const MAC_A = parseMac("02:00:00:00:00:0a");
const MAC_B = parseMac("02:00:00:00:00:0b");
const MAC_C = parseMac("02:00:00:00:00:0c");

/** A minimal frame: destination, source, EtherType 0x88b5. */
function frame(dst: Uint8Array, src: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(60);
  bytes.set(dst, 0);
  bytes.set(src, 6);
  bytes.set([0x88, 0xb5], 12);
  return bytes;
}

Deno.test("RemoteMacTable finds an added MAC inside a frame", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 0);
  assert.equal(table.has(frame(MAC_A, MAC_C), 0), true);
  assert.equal(table.has(frame(MAC_C, MAC_A), 0), false);
  assert.equal(table.has(frame(MAC_C, MAC_A), 6), true);
  assert.equal(table.size, 1);
});

Deno.test("RemoteMacTable keeps its own copy of the MAC", () => {
  const table = new RemoteMacTable();
  const mac = MAC_A.slice();
  table.add(1, mac, 0);
  mac.fill(0);
  const [entry] = table.entries();
  assert.equal(formatMac(entry!.mac), "02:00:00:00:00:0a");
  assert.equal(table.has(MAC_A, 0), true);
});

Deno.test("RemoteMacTable removePeer removes every MAC of that peer only", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 0);
  table.add(1, MAC_B, 0);
  table.add(2, MAC_C, 0);
  assert.equal(table.removePeer(1), 2);
  assert.equal(table.has(MAC_A, 0), false);
  assert.equal(table.has(MAC_B, 0), false);
  assert.equal(table.has(MAC_C, 0), true);
  assert.equal(table.size, 1);
  assert.equal(table.removePeer(1), 0);
});

Deno.test("RemoteMacTable moves a MAC added again by another peer", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 0);
  table.add(2, MAC_A, 10);
  assert.equal(table.size, 1);
  assert.equal(table.removePeer(1), 0);
  assert.equal(table.has(MAC_A, 0), true);
  const [entry] = table.entries();
  assert.equal(entry!.peerId, 2);
});

Deno.test("RemoteMacTable touch updates lastSeen of a known MAC", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 100);
  assert.equal(table.touch(frame(MAC_C, MAC_A), 6, 250), true);
  assert.equal(table.touch(frame(MAC_C, MAC_B), 6, 300), false);
  assert.deepEqual([...table.entries()].map((e) => e.lastSeen), [250]);
});

Deno.test("RemoteMacTable entries lists every MAC with its peer", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 5);
  table.add(2, MAC_B, 6);
  const listed = [...table.entries()].map((e) => [e.peerId, formatMac(e.mac), e.lastSeen]);
  assert.deepEqual(listed, [[1, "02:00:00:00:00:0a", 5], [2, "02:00:00:00:00:0b", 6]]);
});

Deno.test("RemoteMacTable has and touch return false for addresses out of bounds", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 0);
  const short = MAC_A.subarray(0, 5);
  for (const offset of [-1, 0.5, 1, 60, NaN]) {
    assert.equal(table.has(MAC_A, offset), false, `offset ${offset}`);
    assert.equal(table.touch(MAC_A, offset, 1), false, `offset ${offset}`);
  }
  assert.equal(table.has(short, 0), false);
  assert.equal(table.touch(short, 0, 1), false);
});

Deno.test("RemoteMacTable rejects a MAC that is not 6 bytes", () => {
  const table = new RemoteMacTable();
  assert.throws(() => table.add(1, new Uint8Array(5), 0), RangeError);
  assert.throws(() => table.add(1, new Uint8Array(7), 0), RangeError);
  assert.equal(table.size, 0);
});

Deno.test("RemoteMacTable clear empties the table", () => {
  const table = new RemoteMacTable();
  table.add(1, MAC_A, 0);
  table.add(2, MAC_B, 0);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.has(MAC_A, 0), false);
  assert.deepEqual([...table.entries()], []);
});
