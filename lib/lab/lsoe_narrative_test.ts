import assert from "node:assert/strict";
import {
  type EncapsulationChange,
  encapsulationChange,
  labLocalId,
  type LsoeLabEvent,
  type LsoeLabReport,
} from "./lsoe_events.ts";
import {
  adjacencyCells,
  describeLsoeLabEvent,
  explainLsoeLab,
  fabricPicture,
  formatLsoeTimelineLine,
  openLinks,
} from "./lsoe_narrative.ts";
import { eventsOfKind } from "./timeline.ts";
import { readRecordedReport, readRecordedRun, readRecordedTimeline } from "./testdata/recorded.ts";

/** The report of the recorded run, kept running for 0.5 s after the link failure. */
function recordedReport(): LsoeLabReport {
  return readRecordedReport<LsoeLabEvent>("lsoe");
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
  assert.match(
    text,
    /s1, for one, found l1 on l1 \(192\.0\.2\.1\/31 2001:db8:0:1::2\/64 fe80::2\/64\)/,
  );
  assert.match(
    text,
    /ip addr add 198\.51\.100\.11\/32 dev lo on l1\..* arrived at s1 after [0-9]+ ms and s2 after [0-9]+ ms/,
  );
  assert.match(
    text,
    /ip link set s2 down on l3\. l3 closed its session with s2 \([a-z_]+\) after [0-9]+ ms; s2 closed its session with l3/,
  );
  assert.match(text, /l3 also told s1 that 2001:db8:0:6::2\/64 and fe80::2\/64 were gone/);
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
  // An encapsulations event is one short line: the count and what changed, not the list.
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}s1 {8}monitor: encapsulations ipv4 from l1 on l1: 4 addresses, 192\.0\.2\.1\/31 on this link$/
        .test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /^ +[0-9.]+s {2}s2 {8}monitor: encapsulations ipv4 from l1 on l1: 5 addresses, \+198\.51\.100\.11\/32$/
        .test(l)
    ),
  );
  const encapsulations = lines.filter((l) => / monitor: encapsulations /.test(l));
  assert.ok(encapsulations.every((l) => l.length < 130), "no line carries a whole list");
  // The addresses are all there before the links come up: each list is announced once, and
  // after the discovery only the address change and the failure change one.
  assert.equal(encapsulations.filter((l) => / on this link$/.test(l)).length, 24);
  assert.equal(encapsulations.filter((l) => / [0-9]+ addresses, [-+]/.test(l)).length, 3);
});

Deno.test("an encapsulations line says what changed: added, removed, flags; a long change is cut", () => {
  const entry = (address: string, primary = false) => ({
    address,
    prefix_length: 64,
    primary,
    loopback: false,
  });
  const line = (change: EncapsulationChange, entries = [entry("2001:db8::1", true)]) =>
    describeLsoeLabEvent({
      t: 1,
      event: "lsoe",
      node: "s1",
      lsoe: {
        event: "encapsulations",
        time: "2026-12-06T15:00:00.000Z",
        interface: "l1",
        peer_mac: "02:00:00:00:00:01",
        peer_local_id: labLocalId("l1"),
        family: "ipv6",
        entries,
      },
      change,
    }).text;
  const before = [entry("2001:db8::1"), entry("2001:db8::1"), entry("2001:db8::2", true)];
  const after = [entry("2001:db8::1", true), entry("2001:db8::3")];
  const change = encapsulationChange(before, after);
  assert.deepEqual(change, {
    first: false,
    added: ["2001:db8::3/64"],
    removed: ["2001:db8::1/64", "2001:db8::2/64"],
    flags_changed: true,
  });
  assert.equal(
    line(change, after),
    "monitor: encapsulations ipv6 from l1 on l1: 2 addresses, +2001:db8::3/64 -2001:db8::1/64 " +
      "-2001:db8::2/64 flags changed",
  );
  assert.equal(
    line(encapsulationChange(undefined, after), after),
    "monitor: encapsulations ipv6 from l1 on l1: 2 addresses, 2001:db8::1/64 on this link",
  );
  assert.equal(
    line(encapsulationChange(after, after), after),
    "monitor: encapsulations ipv6 from l1 on l1: 2 addresses, unchanged",
  );
  const many = ["1", "2", "3", "4", "5"].map((n) => entry(`2001:db8::${n}`));
  assert.equal(
    line(encapsulationChange([], many), many),
    "monitor: encapsulations ipv6 from l1 on l1: 5 addresses, +2001:db8::1/64 +2001:db8::2/64 " +
      "+2001:db8::3/64 and 2 more",
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
    "192.0.2.1/31 2001:db8:0:1::2/64 fe80::2/64",
  ]);
  assert.ok(
    cells.some((r) =>
      r.join() ===
        [
          "l3",
          "s2",
          "s2",
          labLocalId("s2"),
          "open",
          "192.0.2.10/31 2001:db8:0:6::1/64 fe80::1/64",
        ].join()
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
  assert.match(before[0]!, /^\[ s1 \]-+\+/);
  assert.match(before[1]!, /^\[ s2 \]-+\|/);
  assert.match(before.at(-1)!, /^ +\[ l1 \] +\[ l2 \] +\[ l3 \]$/);
  // A drop per open link; the s2–l3 one is the rightmost, its junction the last on s2's rail.
  const drops = (picture: string[]) => [...picture.at(-2)!].filter((c) => c === "|").length;
  assert.equal(drops(before), 6, before.join("\n"));
  assert.equal(drops(later), 5, later.join("\n"));
  assert.ok(before[1]!.endsWith("+--"), before.join("\n"));
  assert.ok(later[1]!.endsWith("-----"), later.join("\n"));
  assert.deepEqual(later.slice(2), [before[2]!.slice(0, -3), before[3]]);
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
