import assert from "node:assert/strict";
import { endProvenance, formatProvenance, provenance, settledCount } from "../bench/_shared.ts";
import { parseIperf } from "../bench/l2_tcp.ts";

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

Deno.test("parseIperf takes the receiver's rate and bytes and the sender's retransmits", () => {
  const json = JSON.stringify({
    start: {},
    end: {
      sum_sent: { bytes: 125_100_000, bits_per_second: 1.0008e9, retransmits: 3 },
      sum_received: { bytes: 125_000_000, bits_per_second: 1e9 },
    },
  });
  assert.deepEqual(parseIperf(json), { mbitPerSecond: 1000, bytes: 125_000_000, retransmits: 3 });
});

Deno.test("parseIperf returns iperf3's error, or says the output was not its JSON", () => {
  assert.equal(
    parseIperf(JSON.stringify({ error: "unable to connect to server: Connection refused" })),
    "unable to connect to server: Connection refused",
  );
  assert.match(parseIperf("iperf3: error") as string, /^no JSON from iperf3/);
  assert.equal(parseIperf("{}"), "iperf3 reported no sum_received");
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
