import assert from "node:assert/strict";
import { type Datagram, MAX_PDU_LEN } from "../packet/lsoe.ts";
import { parseMac } from "../packet/mac.ts";
import {
  DEFAULT_REASSEMBLY_LIMITS,
  Reassembler,
  type ReassemblyLimits,
  type ReassemblyResult,
} from "./reassembly.ts";

const A = parseMac("02:00:00:00:00:0a");
const B = parseMac("02:00:00:00:00:0b");
const ETH1 = 2;
const ETH2 = 3;

function datagram(number: number, last: boolean, ...bytes: number[]): Datagram {
  return { number, last, chunk: Uint8Array.from(bytes) };
}

function limits(overrides: Partial<ReassemblyLimits> = {}): ReassemblyLimits {
  return { ...DEFAULT_REASSEMBLY_LIMITS, ...overrides };
}

function pduBytes(result: ReassemblyResult): number[] {
  assert.equal(result.kind, "pdu", JSON.stringify(result));
  return result.kind === "pdu" ? [...result.bytes] : [];
}

function dropReason(result: ReassemblyResult): string {
  return result.kind === "drop" ? result.reason : result.kind;
}

Deno.test("reassembly: a single-datagram PDU comes back at once, uncopied", () => {
  const r = new Reassembler(limits());
  const single = datagram(0, true, 0, 0, 3);
  const result = r.accept(0, ETH1, A, single);
  assert.ok(result.kind === "pdu" && result.bytes === single.chunk);
  assert.equal(r.nextDeadline(), DEFAULT_REASSEMBLY_LIMITS.macCacheTimeoutMs);
});

Deno.test("reassembly: out-of-order datagrams, and sources kept apart", () => {
  const r = new Reassembler(limits());
  assert.equal(r.accept(0, ETH1, A, datagram(2, true, 5)).kind, "partial");
  assert.equal(r.accept(1, ETH1, B, datagram(1, true, 9)).kind, "partial");
  assert.equal(r.accept(2, ETH1, A, datagram(0, false, 1, 2)).kind, "partial");
  assert.deepEqual(pduBytes(r.accept(3, ETH1, A, datagram(1, false, 3, 4))), [1, 2, 3, 4, 5]);
  assert.deepEqual(pduBytes(r.accept(4, ETH1, B, datagram(0, false, 8))), [8, 9]);
  assert.deepEqual(r.held, { partials: 0, bytes: 0, macs: 2 });
});

Deno.test("reassembly: chunks are copied, so the receive buffer can be reused", () => {
  const r = new Reassembler(limits());
  const buffer = new Uint8Array([1, 2]);
  r.accept(0, ETH1, A, { number: 0, last: false, chunk: buffer });
  buffer.fill(0);
  assert.deepEqual(pduBytes(r.accept(0, ETH1, A, datagram(1, true, 3))), [1, 2, 3]);
});

Deno.test("reassembly: a duplicate is dropped; a different datagram of the same number starts over", () => {
  const r = new Reassembler(limits());
  r.accept(0, ETH1, A, datagram(0, false, 1));
  assert.equal(dropReason(r.accept(1, ETH1, A, datagram(0, false, 1))), "duplicate_fragment");
  assert.deepEqual(pduBytes(r.accept(2, ETH1, A, datagram(1, true, 2))), [1, 2]);
  // A lost datagram, then the sender's next PDU: its datagram 0 differs, so the stale one goes.
  r.accept(10, ETH1, A, datagram(0, false, 1));
  r.accept(10, ETH1, A, datagram(2, true, 3));
  assert.equal(r.accept(20, ETH1, A, datagram(0, false, 7)).kind, "partial");
  assert.deepEqual(r.held.partials, 1);
  assert.equal(r.nextDeadline(), 20 + DEFAULT_REASSEMBLY_LIMITS.timeoutMs);
  assert.deepEqual(pduBytes(r.accept(21, ETH1, A, datagram(1, true, 8))), [7, 8]);
});

Deno.test("reassembly: datagrams beyond the last are out of range", () => {
  const r = new Reassembler(limits());
  r.accept(0, ETH1, A, datagram(1, true, 2));
  assert.equal(dropReason(r.accept(0, ETH1, A, datagram(2, false, 3))), "fragment_out_of_range");
  assert.equal(dropReason(r.accept(0, ETH1, A, datagram(3, true, 3))), "fragment_out_of_range");
  r.accept(0, ETH1, B, datagram(4, false, 2));
  assert.equal(dropReason(r.accept(0, ETH1, B, datagram(2, true, 3))), "fragment_out_of_range");
  // Datagram 127 without the last flag can never be followed.
  assert.equal(dropReason(r.accept(0, ETH1, A, datagram(127, false, 1))), "fragment_out_of_range");
  assert.deepEqual(pduBytes(r.accept(0, ETH1, A, datagram(0, false, 1))), [1, 2]);
});

Deno.test("reassembly: a missing last datagram times out after timeoutMs", () => {
  const r = new Reassembler(limits({ timeoutMs: 1000 }));
  r.accept(100, ETH1, A, datagram(0, false, 1));
  r.accept(600, ETH1, A, datagram(1, false, 2));
  r.accept(300, ETH1, B, datagram(0, false, 1));
  assert.equal(r.nextDeadline(), 1100);
  assert.equal(r.expire(1099), 0);
  assert.equal(r.expire(1100), 1);
  assert.deepEqual(r.held, { partials: 1, bytes: 1, macs: 2 });
  assert.equal(r.nextDeadline(), 1300);
  // The last datagram arriving after the timeout starts a partial of its own; it cannot finish.
  assert.equal(r.accept(1200, ETH1, A, datagram(2, true, 3)).kind, "partial");
  assert.equal(r.expire(2200), 2);
  assert.deepEqual(r.held.partials, 0);
});

Deno.test("reassembly: a MAC seen on another interface is dropped until its binding expires", () => {
  const r = new Reassembler(limits({ macCacheTimeoutMs: 300_000 }));
  assert.equal(r.accept(0, ETH1, A, datagram(0, true, 1)).kind, "pdu");
  assert.equal(dropReason(r.accept(1000, ETH2, A, datagram(0, true, 1))), "mac_on_other_interface");
  // Refusals do not refresh the binding; frames on the first interface do.
  assert.equal(r.accept(5000, ETH1, A, datagram(0, true, 1)).kind, "pdu");
  assert.equal(r.nextDeadline(), 305_000);
  assert.equal(
    dropReason(r.accept(304_999, ETH2, A, datagram(0, true, 1))),
    "mac_on_other_interface",
  );
  assert.equal(r.accept(305_000, ETH2, A, datagram(0, true, 1)).kind, "pdu");
  assert.equal(
    dropReason(r.accept(305_001, ETH1, A, datagram(0, true, 1))),
    "mac_on_other_interface",
  );
  // expire() forgets the binding, after which either interface may have it.
  r.expire(605_000);
  assert.deepEqual(r.held.macs, 0);
  assert.equal(r.nextDeadline(), null);
  assert.equal(r.accept(605_001, ETH1, A, datagram(0, true, 1)).kind, "pdu");
});

Deno.test("reassembly: a MAC that moves drops its partial PDU from the old interface", () => {
  const r = new Reassembler(limits({ timeoutMs: 10_000, macCacheTimeoutMs: 1000 }));
  r.accept(0, ETH1, A, datagram(0, false, 1));
  assert.equal(r.accept(2000, ETH2, A, datagram(1, true, 2)).kind, "partial");
  assert.deepEqual(r.held, { partials: 1, bytes: 1, macs: 1 });
});

Deno.test("reassembly: caps on partial PDUs, their bytes and a PDU's length", () => {
  const few = new Reassembler(limits({ maxPartialPdus: 1 }));
  assert.equal(few.accept(0, ETH1, A, datagram(0, false, 1)).kind, "partial");
  assert.equal(dropReason(few.accept(0, ETH1, B, datagram(0, false, 1))), "too_many_partials");
  assert.equal(few.accept(0, ETH1, B, datagram(0, true, 1)).kind, "pdu"); // needs no partial

  const small = new Reassembler(limits({ maxPartialBytes: 3 }));
  small.accept(0, ETH1, A, datagram(0, false, 1, 2));
  assert.equal(
    dropReason(small.accept(0, ETH1, B, datagram(0, false, 1, 2))),
    "too_many_partial_bytes",
  );
  assert.deepEqual(pduBytes(small.accept(0, ETH1, A, datagram(1, true, 3))), [1, 2, 3]);
  assert.equal(small.accept(0, ETH1, B, datagram(0, false, 1, 2)).kind, "partial"); // released

  const long = new Reassembler(limits());
  const chunk = new Uint8Array(1492);
  for (let number = 0; number < 43; number++) {
    assert.equal(long.accept(0, ETH1, A, { number, last: false, chunk }).kind, "partial");
  }
  // 43 × 1492 = 64,156 bytes held; 1,380 more would make 65,536.
  const over = { number: 43, last: true, chunk: new Uint8Array(MAX_PDU_LEN + 1 - 43 * 1492) };
  assert.equal(dropReason(long.accept(0, ETH1, A, over)), "pdu_too_long");
  assert.deepEqual(long.held, { partials: 0, bytes: 0, macs: 1 });
});

Deno.test("reassembly: MAC bindings are capped, the least recently seen forgotten first", () => {
  const r = new Reassembler(limits({ maxMacBindings: 2 }));
  r.accept(0, ETH1, A, datagram(0, true, 1));
  r.accept(1, ETH1, B, datagram(0, true, 1));
  r.accept(2, ETH1, A, datagram(0, true, 1)); // A is now the most recent
  const c = parseMac("02:00:00:00:00:0c");
  r.accept(3, ETH1, c, datagram(0, true, 1)); // B goes
  assert.equal(r.held.macs, 2);
  assert.equal(dropReason(r.accept(4, ETH2, A, datagram(0, true, 1))), "mac_on_other_interface");
  assert.equal(r.accept(5, ETH2, B, datagram(0, true, 1)).kind, "pdu"); // B was forgotten (A goes)
  assert.equal(dropReason(r.accept(6, ETH2, c, datagram(0, true, 1))), "mac_on_other_interface");
});

Deno.test("reassembly: forgetInterface drops its partial PDUs and bindings only", () => {
  const r = new Reassembler(limits());
  r.accept(0, ETH1, A, datagram(0, false, 1));
  r.accept(0, ETH2, B, datagram(0, false, 1, 2));
  r.forgetInterface(ETH1);
  assert.deepEqual(r.held, { partials: 1, bytes: 2, macs: 1 });
  assert.equal(r.accept(1, ETH2, A, datagram(0, true, 1)).kind, "pdu");
  assert.equal(dropReason(r.accept(1, ETH1, B, datagram(0, true, 1))), "mac_on_other_interface");
});

Deno.test("reassembly: nextDeadline is the earliest partial or binding expiry", () => {
  const r = new Reassembler(limits({ timeoutMs: 1000, macCacheTimeoutMs: 5000 }));
  assert.equal(r.nextDeadline(), null);
  r.accept(10, ETH1, A, datagram(0, true, 1));
  assert.equal(r.nextDeadline(), 5010);
  r.accept(20, ETH1, B, datagram(0, false, 1));
  assert.equal(r.nextDeadline(), 1020);
  assert.equal(r.expire(1020), 1);
  assert.equal(r.nextDeadline(), 5010);
  assert.equal(r.expire(5010), 0);
  assert.equal(r.nextDeadline(), 5020);
});
