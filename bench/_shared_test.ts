import assert from "node:assert/strict";
import { endProvenance, formatProvenance, provenance, settledCount } from "./_shared.ts";

Deno.test("settledCount waits until two reads are equal and returns the last count", async () => {
  const counts = [10, 25, 40, 40, 41];
  let reads = 0;
  const result = await settledCount(() => counts[Math.min(reads++, counts.length - 1)]!, {
    gapMs: 1,
    maxMs: 1000,
  });
  assert.deepEqual(result, { count: 40, settled: true });
  assert.equal(reads, 4);
});

Deno.test("settledCount gives up after maxMs and says the counter never settled", async () => {
  let count = 0;
  const start = performance.now();
  const result = await settledCount(() => count++, { gapMs: 5, maxMs: 50 });
  assert.equal(result.settled, false);
  assert.equal(result.count, count - 1);
  assert.ok(performance.now() - start >= 50);
});

Deno.test("provenance names the run's date, machine, kernel, commit and Deno in one line", () => {
  const p = provenance();
  assert.equal(p.kernel, Deno.osRelease());
  assert.equal(p.deno, Deno.version.deno);
  assert.equal(p.cores, navigator.hardwareConcurrency);
  assert.match(p.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(p.load.end, null);
  assert.equal(endProvenance(p).load.end!.length, 3);
  const line = formatProvenance({
    ...p,
    cpu: "Test CPU",
    load: { start: [0.5, 0.25, 0.125], end: [2, 1, 0] },
  });
  assert.match(
    line,
    /^run \S+Z: Test CPU, \d+ cores, kernel \S+, netkit \S+, Deno \S+, load 0.50 0.25 0.13 at start, 2.00 1.00 0.00 at end$/,
  );
});
