import assert from "node:assert/strict";
import { parseIperf } from "./l2_tcp.ts";

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
