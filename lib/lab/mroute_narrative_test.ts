import assert from "node:assert/strict";
import type { MrouteLabEvent, MrouteLabReport } from "./mroute_events.ts";
import { explainMrouteLab, formatMrouteTimelineLine } from "./mroute_narrative.ts";
import { readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded run: 3 datagrams for the (S,G) route, one every 0.3 s. */
function recordedReport(): MrouteLabReport {
  const { events, summary } = readRecordedRun<MrouteLabEvent>("mroute");
  const lab = events.find((e) => e.event === "lab");
  assert.ok(lab?.event === "lab");
  return {
    reason: summary.reason as MrouteLabReport["reason"],
    duration: summary.t,
    events,
    count: summary.count as number,
    interval: summary.interval as number,
    netns: lab.netns,
  };
}

Deno.test("explainMrouteLab tells a recorded run exactly as the run itself did", () => {
  const { summary } = readRecordedRun<MrouteLabEvent>("mroute");
  assert.deepEqual(explainMrouteLab(recordedReport(), { netkit: "./netkit" }), summary.explanation);
});

Deno.test("explainMrouteLab of a recorded run: upcall, held datagrams, counters in step, TTL 1, empty kernel", () => {
  const text = explainMrouteLab(recordedReport()).join("\n");
  assert.match(
    text,
    /No route: none of the 3 datagrams .* NOCACHE upcall for \(192\.0\.2\.2, 239\.1\.2\.3\)/,
  );
  assert.match(text, /forwarded the 3 held datagrams at once/);
  assert.match(text, /counters rose in step with every datagram.*: 6 packets, 180 bytes/);
  assert.match(text, /The datagram sent with TTL 1 did not: the route counted it/);
  assert.match(text, /ip mroute in the router showed no entries/);
  assert.match(text, /terminal 1, daemon: {3}ip netns exec mr-rtr netkit mroute daemon/);
  assert.doesNotMatch(text, /interrupted/);
});

Deno.test("formatMrouteTimelineLine renders a recorded run line by line", () => {
  const lines = recordedReport().events.map(formatMrouteTimelineLine);
  assert.deepEqual(lines, readRecordedTimeline("mroute"));
  assert.ok(lines.includes("   1.30s  == 2. no route yet: 3 datagrams for (192.0.2.2, 239.1.2.3)"));
});

Deno.test("explainMrouteLab of a run interrupted in step 3 says so and tells only what happened", () => {
  const report = recordedReport();
  const step4 = report.events.findIndex((e) => e.event === "step" && e.step === 4);
  const events: MrouteLabEvent[] = [
    ...report.events.slice(0, step4),
    { t: 3.2, event: "stopped", reason: "signal" },
  ];
  const text = explainMrouteLab({ ...report, reason: "signal", events }).join("\n");
  assert.match(text, /The \(S,G\) route: mroute add installed/);
  assert.doesNotMatch(text, /The \(\*,G\) route/);
  assert.match(text, /The lab was interrupted during step 3; the daemon was stopped/);
});

Deno.test("explainMrouteLab of a run stopped before the daemon started says only that", () => {
  const report = recordedReport();
  const text = explainMrouteLab({
    ...report,
    reason: "signal",
    events: [{ t: 0, event: "stopped", reason: "signal" }],
  });
  assert.deepEqual(text.slice(0, 2), [
    "What happened:",
    "  The lab stopped before the daemon started.",
  ]);
});
