import assert from "node:assert/strict";
import { formatSummary, parseJunit, parseSkipRecord, summarize } from "./skip_summary.ts";

// The shape deno test --junit-path writes (Deno 2.9): a loop makes two tests at one line.
const JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="6" failures="1" errors="0" time="0.005">
    <testsuite name="./tests/integration/m_test.ts" tests="4" disabled="3" errors="0" failures="0">
        <testcase name="MrouteSocket (IPv4) works" classname="./tests/integration/m_test.ts" time="0.000" line="10" col="8">
            <skipped/>
        </testcase>
        <testcase name="MrouteSocket (IPv6) works" classname="./tests/integration/m_test.ts" time="0.000" line="10" col="8">
            <skipped/>
        </testcase>
        <testcase name="a &quot;quoted&quot; &amp; plain test" classname="./tests/integration/m_test.ts" time="0.010" line="30" col="6">
        </testcase>
        <testcase name="ignored with no reason" classname="./tests/integration/m_test.ts" time="0.000" line="40" col="6">
            <skipped/>
        </testcase>
    </testsuite>
    <testsuite name="./tests/t_test.ts" tests="3" disabled="1" errors="0" failures="1">
        <testcase name="needs tshark" classname="./tests/t_test.ts" time="0.000" line="5" col="6">
            <skipped/>
        </testcase>
        <testcase name="fails" classname="./tests/t_test.ts" time="0.001" line="9" col="6">
            <failure message="Uncaught Error: x">Error: x &lt;here&gt;</failure>
        </testcase>
        <testcase name="filtered out" classname="./tests/t_test.ts" line="20" col="6">
            <skipped/>
        </testcase>
    </testsuite>
</testsuites>
`;

const RECORDS = [
  {
    reason: "ipv4_mroute: no IPv4 multicast routing",
    file: "./tests/integration/m_test.ts",
    line: 13,
  },
  {
    reason: "ipv4_mroute: no IPv4 multicast routing",
    file: "./tests/integration/m_test.ts",
    line: 13,
  },
  {
    reason: "tshark is not installed (apt-get install tshark)",
    file: "./tests/t_test.ts",
    line: 7,
  },
];

Deno.test("parseJunit reads every test case with its module, line and whether it was skipped", () => {
  const cases = parseJunit(JUNIT);
  assert.deepEqual(cases.filter((c) => c.failed).map((c) => c.name), ["fails"]);
  assert.deepEqual(
    cases.map((c) => [c.file, c.line, c.skipped, c.filtered, c.name]),
    [
      ["./tests/integration/m_test.ts", 10, true, false, "MrouteSocket (IPv4) works"],
      ["./tests/integration/m_test.ts", 10, true, false, "MrouteSocket (IPv6) works"],
      ["./tests/integration/m_test.ts", 30, false, false, 'a "quoted" & plain test'],
      ["./tests/integration/m_test.ts", 40, true, false, "ignored with no reason"],
      ["./tests/t_test.ts", 5, true, false, "needs tshark"],
      ["./tests/t_test.ts", 9, false, false, "fails"],
      ["./tests/t_test.ts", 20, true, true, "filtered out"],
    ],
  );
});

Deno.test("summarize ties each skipped test to the reason recorded inside its options", () => {
  const summary = summarize(parseJunit(JUNIT), RECORDS);
  assert.equal(summary.total, 6);
  assert.equal(summary.skipped, 4);
  assert.deepEqual(
    [...summary.byReason].map(([reason, tests]) => [reason, tests.map((t) => t.name)]),
    [
      ["ipv4_mroute: no IPv4 multicast routing", [
        "MrouteSocket (IPv4) works",
        "MrouteSocket (IPv6) works",
      ]],
      ["tshark is not installed (apt-get install tshark)", ["needs tshark"]],
    ],
  );
  assert.deepEqual(summary.silent.map((t) => t.name), ["ignored with no reason"]);
});

Deno.test("summarize does not let a reason recorded for one test explain another", () => {
  // Recorded inside the test at line 30 (which ran), not inside the one at line 40.
  const records = [{ reason: "r", file: "./tests/integration/m_test.ts", line: 31 }];
  const summary = summarize(parseJunit(JUNIT), records);
  assert.equal(summary.byReason.size, 0);
  assert.equal(summary.silent.length, 4);
  // A record in a module the report does not have, or above its first test, explains nothing.
  const elsewhere = summarize(parseJunit(JUNIT), [
    { reason: "r", file: "./tests/other_test.ts", line: 5 },
    { reason: "r", file: "./tests/t_test.ts", line: 2 },
  ]);
  assert.equal(elsewhere.silent.length, 4);
});

Deno.test("formatSummary lists reasons by count with their modules, then the silent skips", () => {
  const text = formatSummary(summarize(parseJunit(JUNIT), RECORDS));
  assert.equal(
    text,
    "skipped 4 of 6 tests:\n" +
      "  skipped 2 tests: ipv4_mroute: no IPv4 multicast routing\n" +
      "      ./tests/integration/m_test.ts (2)\n" +
      "  skipped 1 test: tshark is not installed (apt-get install tshark)\n" +
      "      ./tests/t_test.ts (1)\n" +
      "  ignored 1 test WITHOUT A REASON (state what a test needs with needs() or skipUnless() " +
      "from tests/skip.ts):\n" +
      "      ./tests/integration/m_test.ts:40 ignored with no reason\n",
  );
  assert.equal(
    formatSummary(summarize(parseJunit(JUNIT), [])).split("\n")[0],
    "skipped 4 of 6 tests:",
  );
  const none = summarize(parseJunit(JUNIT).filter((c) => !c.skipped), []);
  assert.equal(formatSummary(none), "skipped: none of 2 tests\n");
});

Deno.test("parseSkipRecord reads JSON lines and ignores the empty last line", () => {
  const text = RECORDS.map((r) => JSON.stringify(r)).join("\n") + "\n";
  assert.deepEqual(parseSkipRecord(text), RECORDS);
  assert.deepEqual(parseSkipRecord(""), []);
});

Deno.test("formatSummary says which skipped tests ran in the kernel lane instead, and how they did", () => {
  const lane = parseJunit(`<testsuites>
    <testcase name="MrouteSocket (IPv4) works" classname="./tests/integration/m_test.ts" time="1.0" line="10" col="8">
    </testcase>
    <testcase name="MrouteSocket (IPv6) works" classname="./tests/integration/m_test.ts" time="0.000" line="10" col="8">
      <skipped/>
    </testcase>
    <testcase name="needs tshark" classname="./tests/t_test.ts" time="0.1" line="5" col="6">
      <failure message="x">x</failure>
    </testcase>
  </testsuites>`);
  const summary = summarize(parseJunit(JUNIT), RECORDS, lane);
  assert.deepEqual(summary.inLane.map((c) => [c.name, c.failed]), [
    ["MrouteSocket (IPv4) works", false],
    ["needs tshark", true],
  ]);
  const text = formatSummary(summary);
  assert.match(
    text,
    /^ {2}ran 2 tests of these in the kernel lane \(user-mode Linux\) instead: 1 passed, 1 failed\n {6}\.\/tests\/integration\/m_test\.ts \(1\)\n {6}\.\/tests\/t_test\.ts \(1\)$/m,
  );
});
