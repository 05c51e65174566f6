import assert from "node:assert/strict";
import { labLocalId, type LsoeLabEvent, type LsoeLabReport } from "./lsoe_events.ts";
import {
  adjacencyCells,
  describeLsoeLabEvent,
  explainLsoeLab,
  fabricPicture,
  formatLsoeTimelineLine,
  openLinks,
} from "./lsoe_narrative.ts";
import { eventsOfKind } from "./timeline.ts";
import { readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded run, kept running for 0.5 s after the link failure. */
function recordedReport(): LsoeLabReport {
  const { events, summary } = readRecordedRun<LsoeLabEvent>("lsoe");
  return {
    reason: summary.reason as LsoeLabReport["reason"],
    duration: summary.t,
    events,
    prefix: summary.prefix as string,
  };
}

Deno.test("explainLsoeLab tells a recorded run exactly as the run itself did", () => {
  const { summary } = readRecordedRun<LsoeLabEvent>("lsoe");
  assert.deepEqual(explainLsoeLab(recordedReport(), { netkit: "./netkit" }), summary.explanation);
});

Deno.test("explainLsoeLab of a recorded run: the fabric, discovery, the address change, the failure, the removal", () => {
  const text = explainLsoeLab(recordedReport()).join("\n");
  assert.match(text, /^ {2}- LSoE \(Link State over Ethernet, draft-ietf-lsvr-lsoe-01\)/m);
  assert.match(text, /spines s1 and s2 over leaves l1, l2, l3, .* \(6 links\)/);
  assert.match(text, /All 12 session ends were open [0-9]+ ms after the links came up/);
  assert.match(text, /s1, for one, found l1 on l1 \(192\.0\.2\.1\/31 2001:db8:0:1::2\/64\)/);
  assert.match(
    text,
    /ip addr add 198\.51\.100\.11\/32 dev lo on l1\..* arrived at s1 after [0-9]+ ms and s2 after [0-9]+ ms/,
  );
  assert.match(
    text,
    /ip link set s2 down on l3\. l3 closed its session with s2 \([a-z_]+\) after [0-9]+ ms; s2 closed its session with l3/,
  );
  assert.match(
    text,
    /The fabric then had 10 session ends open, and the picture lost the l3–s2 line/,
  );
  assert.match(text, /Then the 5 namespaces were deleted; nothing is left\./);
  assert.match(
    text,
    /^ {2}netkit -n fab-s1 lsoe --hello-interval 1 --keepalive-receive-timeout 3 --local-id 6e6b2d6c61622d2d7331 -d/m,
  );
});

Deno.test("formatLsoeTimelineLine renders a recorded run line by line", () => {
  const lines = recordedReport().events.map(formatLsoeTimelineLine);
  assert.deepEqual(lines, readRecordedTimeline("lsoe"));
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}s1 {8}monitor: session_open with l1 on l1, peer nonce [0-9a-f]{8}$/.test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}s2 {8}monitor: session_close with l3 on l3: [a-z_]+$/.test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}l3 {8}monitor: encapsulations ipv4 from s2 on s2: none \(withdrawn\)$/.test(l)
    ),
  );
});

Deno.test("the adjacency table of a recorded run names each neighbour and its addresses on the link", () => {
  const [first] = eventsOfKind(recordedReport().events, "adjacency");
  const cells = adjacencyCells(first!.rows);
  assert.deepEqual(cells[0], [
    "node",
    "interface",
    "neighbour",
    "local id",
    "state",
    "neighbour's addresses on the link",
  ]);
  assert.equal(cells.length, 13);
  assert.deepEqual(cells[1], [
    "s1",
    "l1",
    "l1",
    labLocalId("l1"),
    "open",
    "192.0.2.1/31 2001:db8:0:1::2/64",
  ]);
  assert.ok(
    cells.some((r) =>
      r.join() ===
        ["l3", "s2", "s2", labLocalId("s2"), "open", "192.0.2.10/31 2001:db8:0:6::1/64"].join()
    ),
  );
});

Deno.test("the picture has six lines with the fabric whole and loses l3–s2 after the failure", () => {
  const [whole, after] = eventsOfKind(recordedReport().events, "adjacency");
  assert.equal(openLinks(whole!.rows).length, 6);
  assert.deepEqual(openLinks(after!.rows).map((l) => `${l.leaf}-${l.spine}`), [
    "l1-s1",
    "l1-s2",
    "l2-s1",
    "l2-s2",
    "l3-s1",
  ]);
  const before = fabricPicture(whole!.rows);
  const later = fabricPicture(after!.rows);
  assert.match(before[0]!, /^ +\[ s1 \] +\[ s2 \]$/);
  assert.match(before.at(-1)!, /^\[ l1 \] +\[ l2 \] +\[ l3 \]$/);
  // The s2–l3 line is the only one reaching l3's box from the right of its centre.
  assert.ok(before.at(-2)!.trimEnd().endsWith("\\"), before.join("\n"));
  assert.ok(!later.at(-2)!.trimEnd().endsWith("\\"), later.join("\n"));
});

Deno.test("an adjacency end that is still opening draws no line", () => {
  const [whole] = eventsOfKind(recordedReport().events, "adjacency");
  const rows = whole!.rows.map((r) =>
    r.node === "s1" && r.peer_node === "l2" ? { ...r, state: "opening" as const } : r
  );
  assert.deepEqual(openLinks(rows).map((l) => `${l.leaf}-${l.spine}`), [
    "l1-s1",
    "l1-s2",
    "l2-s2",
    "l3-s1",
    "l3-s2",
  ]);
});

Deno.test("describeLsoeLabEvent: a stranger's session names its MAC, a failed removal names what is left", () => {
  assert.deepEqual(
    describeLsoeLabEvent({
      t: 1,
      event: "lsoe",
      node: "s1",
      lsoe: {
        event: "session_close",
        time: "2026-12-06T15:00:00.000Z",
        interface: "l1",
        peer_mac: "02:00:00:00:00:09",
        peer_local_id: null,
        reason: "keepalive_timeout",
      },
    }),
    {
      subject: "s1",
      text: "monitor: session_close with 02:00:00:00:00:09 on l1: keepalive_timeout",
    },
  );
  assert.equal(
    describeLsoeLabEvent({
      t: 2,
      event: "removed",
      netns: ["x-s1", "x-s2"],
      left: ["x-s2"],
      processes_left: [42],
      files_left: true,
    }).text,
    "not all removed: x-s2, pid 42, files left",
  );
});

Deno.test("explainLsoeLab of an interrupted run that built nothing says only that", () => {
  const text = explainLsoeLab({
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
