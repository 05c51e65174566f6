import assert from "node:assert/strict";
import type { GatewayLabEvent, GatewayLabReport } from "./gateway_events.ts";
import {
  describeGatewayLabEvent,
  explainGatewayLab,
  formatGatewayTimelineLine,
} from "./gateway_narrative.ts";
import { readRecordedReport, readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded run, kept running for 1 s after the status. */
function recordedReport(): GatewayLabReport {
  return readRecordedReport<GatewayLabEvent>("gateway");
}

Deno.test("explainGatewayLab tells a recorded run exactly as the run itself did", () => {
  const { summary } = readRecordedRun<GatewayLabEvent>("gateway");
  assert.deepEqual(
    explainGatewayLab(recordedReport(), { netkit: "./netkit" }),
    summary.explanation,
  );
});

Deno.test("explainGatewayLab of a recorded run: topology, pings, counters, revocation, removal", () => {
  const text = explainGatewayLab(recordedReport()).join("\n");
  assert.match(text, /The LAN: bridge br0 in \S+-lan is the switch/);
  assert.match(text, /Pings through the tunnel: h1 → client \(192\.168\.50\.101\): 3 of 3 replies/);
  assert.match(text, /The relay's counters, per peer: the gateway sent it [0-9]+ datagrams/);
  assert.match(text, /rotated the client's credential .* exited with code 1/);
  assert.match(text, /Then the 6 namespaces were deleted, with every link in them; none is left\./);
  assert.match(text, /terminal 1, relay: {3}netkit -n gl-rly relay --listen 10\.99\.0\.1:4433/);
});

Deno.test("formatGatewayTimelineLine renders a recorded run line by line", () => {
  const lines = recordedReport().events.map(formatGatewayTimelineLine);
  assert.deepEqual(lines, readRecordedTimeline("gateway"));
  assert.ok(
    lines.some((l) => /^ +[0-9.]+s {2}lab {7}removed: 6 namespaces deleted, none left/.test(l)),
  );
});

Deno.test("describeGatewayLabEvent: a ping without replies has no RTT, a failed removal names what is left", () => {
  assert.deepEqual(
    describeGatewayLabEvent({
      t: 1,
      event: "ping",
      from: "h1",
      to: "192.168.50.101",
      target: "client",
      sent: 3,
      received: 0,
      rtt_min: null,
      rtt_avg: null,
      rtt_max: null,
    }),
    { subject: "ping", text: "h1 → 192.168.50.101 (client): 0/3 replies" },
  );
  assert.equal(
    describeGatewayLabEvent({
      t: 2,
      event: "removed",
      netns: ["x-lan", "x-h1"],
      left: ["x-h1"],
      files_left: true,
    }).text,
    "not all removed: x-h1 still exist (files left)",
  );
});

Deno.test("explainGatewayLab of an interrupted run that built nothing says only that", () => {
  const text = explainGatewayLab({
    reason: "signal",
    duration: 0.1,
    prefix: null,
    events: [{ t: 0.1, event: "stopped", reason: "signal" }],
  });
  assert.deepEqual(text.slice(0, 2), [
    "What happened:",
    "  The lab stopped before it built anything.",
  ]);
});
