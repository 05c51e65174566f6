/**
 * The block `make test` ends with: every test `deno test` ignored, grouped by the reason
 * `tests/skip.ts` recorded for it, with counts per reason and per test module.
 *
 *   deno run -P=test tools/skip_summary.ts JUNIT_XML SKIP_RECORD [LANE_JUNIT_XML]
 *
 * A test is tied to its reason by place: `needs()` runs inside the test's options, so its line
 * lies between that test's `Deno.test(` line (which the JUnit report gives) and the next one's.
 * A test ignored without a recorded reason is a silent skip: they are listed and the exit status
 * is 1, so nothing is skipped without saying why. The kernel lane's report, when given, tells
 * which of the tests skipped here ran inside user-mode Linux instead (tests/integration/
 * kernel_lane_test.ts), and how they did.
 *
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { plural } from "../lib/text.ts";
import type { SkipRecord } from "../tests/skip.ts";

/** One `<testcase>` of deno's JUnit report. */
export interface TestCase {
  name: string;
  file: string;
  line: number;
  skipped: boolean;
  failed: boolean;
  /** Left out by `--filter`: deno reports it as skipped too, but without a `time`. */
  filtered: boolean;
}

const ENTITIES: Record<string, string> = {
  "&quot;": '"',
  "&apos;": "'",
  "&lt;": "<",
  "&gt;": ">",
  "&amp;": "&",
};

function unescapeXml(text: string): string {
  return text.replace(/&(quot|apos|lt|gt|amp);/g, (entity) => ENTITIES[entity]!);
}

/** The test cases of a JUnit report as `deno test --junit-path` writes it. */
export function parseJunit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const pattern =
    /<testcase name="([^"]*)" classname="([^"]*)"([^>]*?)line="(\d+)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const match of xml.matchAll(pattern)) {
    const skipped = /<skipped\s*\/>/.test(match[6] ?? "");
    cases.push({
      name: unescapeXml(match[1]!),
      file: unescapeXml(match[2]!),
      line: Number(match[4]),
      skipped,
      failed: /<failure\b/.test(match[6] ?? ""),
      filtered: skipped && !/\btime="/.test(match[3]!),
    });
  }
  return cases;
}

/** The lines of the skip record (a missing file: nothing was skipped). */
export function parseSkipRecord(text: string): SkipRecord[] {
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Skipped tests by reason, and the skipped tests no reason was recorded for. */
export interface SkipSummary {
  total: number;
  skipped: number;
  byReason: Map<string, TestCase[]>;
  silent: TestCase[];
  /** The skipped tests that ran in the kernel lane instead, as the lane reported them. */
  inLane: TestCase[];
}

/** Ties each skipped test to the reason recorded inside its options. */
export function summarize(
  cases: readonly TestCase[],
  records: readonly SkipRecord[],
  laneCases: readonly TestCase[] = [],
): SkipSummary {
  const linesByFile = new Map<string, number[]>();
  for (const test of cases) {
    const lines = linesByFile.get(test.file) ?? [];
    lines.push(test.line);
    linesByFile.set(test.file, lines);
  }
  for (const lines of linesByFile.values()) lines.sort((a, b) => a - b);
  // Reasons waiting for the skipped tests declared at file:line (several when made in a loop).
  const reasons = new Map<string, string[]>();
  for (const record of records) {
    const line = linesByFile.get(record.file)?.findLast((l) => l <= record.line);
    if (line === undefined) continue;
    const key = `${record.file}:${line}`;
    reasons.set(key, [...reasons.get(key) ?? [], record.reason]);
  }
  const byReason = new Map<string, TestCase[]>();
  const silent: TestCase[] = [];
  const ran = cases.filter((c) => !c.filtered);
  for (const test of ran.filter((c) => c.skipped)) {
    const reason = reasons.get(`${test.file}:${test.line}`)?.shift();
    if (reason === undefined) silent.push(test);
    else byReason.set(reason, [...byReason.get(reason) ?? [], test]);
  }
  const ranInLane = new Map(
    laneCases.filter((c) => !c.skipped).map((c) => [`${c.file}\n${c.name}`, c]),
  );
  const inLane = ran.filter((c) => c.skipped).flatMap((c) => {
    const there = ranInLane.get(`${c.file}\n${c.name}`);
    return there === undefined ? [] : [there];
  });
  return {
    total: ran.length,
    skipped: ran.filter((c) => c.skipped).length,
    byReason,
    silent,
    inLane,
  };
}

/** The summary as printed: one block, reasons by count, then the modules of each. */
export function formatSummary(summary: SkipSummary): string {
  const tests = (n: number) => plural(n, "test");
  if (summary.skipped === 0) return `skipped: none of ${tests(summary.total)}\n`;
  const lines = [`skipped ${summary.skipped} of ${tests(summary.total)}:`];
  const groups = [...summary.byReason].sort((a, b) => b[1].length - a[1].length);
  for (const [reason, skipped] of groups) {
    lines.push(`  skipped ${tests(skipped.length)}: ${reason}`);
    const byFile = new Map<string, number>();
    for (const test of skipped) byFile.set(test.file, (byFile.get(test.file) ?? 0) + 1);
    for (const [file, count] of byFile) lines.push(`      ${file} (${count})`);
  }
  if (summary.inLane.length > 0) {
    const failed = summary.inLane.filter((c) => c.failed).length;
    lines.push(
      `  ran ${tests(summary.inLane.length)} of these in the kernel lane (user-mode Linux) ` +
        `instead: ${summary.inLane.length - failed} passed, ${failed} failed`,
    );
    const byFile = new Map<string, number>();
    for (const test of summary.inLane) byFile.set(test.file, (byFile.get(test.file) ?? 0) + 1);
    for (const [file, count] of byFile) lines.push(`      ${file} (${count})`);
  }
  if (summary.silent.length > 0) {
    lines.push(
      `  ignored ${tests(summary.silent.length)} WITHOUT A REASON ` +
        "(state what a test needs with needs() or skipUnless() from tests/skip.ts):",
    );
    for (const test of summary.silent) lines.push(`      ${test.file}:${test.line} ${test.name}`);
  }
  return lines.join("\n") + "\n";
}

function write(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  stream.writeSync(new TextEncoder().encode(text));
}

if (import.meta.main) {
  const [junit, record, lane] = Deno.args;
  if (junit === undefined || record === undefined) {
    write(Deno.stderr, "usage: skip_summary.ts JUNIT_XML SKIP_RECORD [LANE_JUNIT_XML]\n");
    Deno.exit(2);
  }
  let xml: string;
  try {
    xml = Deno.readTextFileSync(junit);
  } catch (err) {
    // deno test writes no report when it could not run at all; it said why already.
    write(
      Deno.stderr,
      `skip_summary: no test report: ${errorMessage(err)}\n`,
    );
    Deno.exit(1);
  }
  let records: SkipRecord[] = [];
  try {
    records = parseSkipRecord(Deno.readTextFileSync(record));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  let laneCases: TestCase[] = [];
  try {
    if (lane !== undefined) laneCases = parseJunit(Deno.readTextFileSync(lane));
  } catch (err) {
    // The lane did not run (nothing to do here, or no user-mode Linux): nothing to add.
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const summary = summarize(parseJunit(xml), records, laneCases);
  write(Deno.stdout, formatSummary(summary));
  Deno.exit(summary.silent.length > 0 ? 1 : 0);
}
