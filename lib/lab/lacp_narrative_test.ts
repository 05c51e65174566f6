import assert from "node:assert/strict";
import type { LacpLabEvent, LacpLabReport } from "./lacp_events.ts";
import { describeCondition, explainLacpLab, LacpTimeline } from "./lacp_narrative.ts";
import { parseInjectRule } from "../lacp/inject_rule.ts";
import { readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded 7 s run with the default rule (B goes silent once A distributes). */
function recordedReport(): LacpLabReport {
  const { events, summary } = readRecordedRun<LacpLabEvent>("lacp");
  return {
    reason: summary.reason as LacpLabReport["reason"],
    duration: summary.t,
    events,
    rule: summary.rule as string,
    final: { t: summary.t, ports: summary.ports as LacpLabReport["final"]["ports"] },
  };
}

Deno.test("explainLacpLab tells a recorded run exactly as the run itself did", () => {
  const { summary } = readRecordedRun<LacpLabEvent>("lacp");
  assert.deepEqual(explainLacpLab(recordedReport(), { netkit: "./netkit" }), summary.explanation);
});

Deno.test("explainLacpLab of a recorded run: aggregation, B's silence, A's expiry and the flap", () => {
  const text = explainLacpLab(recordedReport()).join("\n");
  assert.match(text, /^What happened:$/m);
  assert.match(text, /wait_while: a port selected for an aggregator waits in WAITING for 2 s/);
  assert.match(text, /Sync: .*All four ports got there by 2\.[0-9]{2}s\./);
  assert.match(text, /Injection: B's rule "P:\+CD -> drop" .*B stopped sending LACPDUs/);
  assert.match(text, /A's reaction: hearing nothing from B for 3 s .*expired B's information/);
  assert.match(
    text,
    /terminal 2: ip netns exec lacp-b netkit lacp -i b1 -i b2 --inject 'P:\+CD -> drop'/,
  );
});

Deno.test("LacpTimeline merges the ports of one actor that report the same change into one line", () => {
  const timeline = new LacpTimeline(0.05);
  const lines = recordedReport().events.flatMap((event) => timeline.add(event));
  lines.push(...timeline.flush());
  assert.deepEqual(lines, readRecordedTimeline("lacp"));
  assert.ok(lines.some((l) => /^ +[0-9.]+s {2}a1,a2 {2}mux /.test(l)));
});

Deno.test("LacpTimeline holds lines within the window and lets them out on the next event or flush", () => {
  const timeline = new LacpTimeline(0.05);
  const port = (t: number, name: string): LacpLabEvent => ({
    t,
    event: "port",
    actor: "A",
    interface: name,
    changes: [{ field: "mux", from: "ATTACHED", to: "COLLECTING_DISTRIBUTING" }],
  });
  assert.deepEqual(timeline.add(port(2, "a1")), []);
  assert.deepEqual(timeline.add(port(2.01, "a2")), []);
  assert.ok(timeline.pending);
  assert.deepEqual(timeline.add({ t: 3, event: "stopped", reason: "signal" }), [
    "   2.00s  a1,a2  mux ATTACHED -> COLLECTING_DISTRIBUTING",
  ]);
  assert.deepEqual(timeline.flush(), ["   3.00s  stopped: interrupted"]);
  assert.ok(!timeline.pending);
});

Deno.test("explainLacpLab says the rule's limit in plural words: at most 1 time, at most 2 times", () => {
  const report = recordedReport();
  for (
    const [limit, words] of [[1, "at most 1 time per port"], [
      2,
      "at most 2 times per port",
    ]] as const
  ) {
    const text = explainLacpLab({ ...report, rule: `P:+CD -> drop #${limit}` }).join("\n");
    assert.ok(text.includes(words), text);
  }
  const episode = explainLacpLab({ ...report, rule: "P:+CD -> drop #1/episode" }).join("\n");
  assert.match(episode, /at most 1 time each time that begins/);
});

Deno.test("explainLacpLab of a run stopped before the actors started says only that", () => {
  const text = explainLacpLab({
    reason: "signal",
    duration: 0,
    events: [{ t: 0, event: "stopped", reason: "signal" }],
    rule: "P:+CD -> drop",
    final: { t: 0, ports: [] },
  });
  assert.deepEqual(text.slice(0, 2), [
    "What happened:",
    "  The lab stopped before the actors started.",
  ]);
});

Deno.test("describeCondition puts a rule's condition in words from B's point of view", () => {
  assert.equal(
    describeCondition(parseInjectRule("P:+CD -> drop")),
    "A's state (as B last heard it) has C and D set",
  );
  assert.equal(describeCondition(parseInjectRule("-> drop")), "always (no condition)");
});
