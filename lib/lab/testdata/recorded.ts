/**
 * Runs recorded for the narrative tests: each `*_run.jsonl` is what `netkit lab NAME -j` printed
 * on a real run (the events, then the summary), and each `*_timeline.txt` the timeline the
 * narrative rendered from those events when they were recorded.
 *
 * @module
 */

import type { RunEnd, StopReasonOf, TimedEvent } from "../runner.ts";

/** The `-j` summary line every lab ends with. */
export interface RecordedSummary {
  /** The run's duration in seconds. */
  t: number;
  /** The tag. */
  event: "summary";
  /** Why the run ended. */
  reason: string;
  /** The explanation the run printed, line by line. */
  explanation: string[];
  /** The lab's own fields (rule, ports, count, prefix, ...). */
  [field: string]: unknown;
}

/** One recorded run: its events in order and its summary. */
export interface RecordedRun<E> {
  /** Every event, in order. */
  events: E[];
  /** The last line. */
  summary: RecordedSummary;
}

/** Reads `testdata/<name>_run.jsonl`. */
export function readRecordedRun<E>(name: string): RecordedRun<E> {
  const lines = Deno.readTextFileSync(new URL(`./${name}_run.jsonl`, import.meta.url)).trim()
    .split("\n").map((line) => JSON.parse(line));
  const summary = lines.pop() as RecordedSummary;
  return { events: lines as E[], summary };
}

/** The report of a recorded run of a lab whose report adds only its namespace prefix. */
export function readRecordedReport<E extends TimedEvent>(
  name: string,
): RunEnd<E> & { prefix: string } {
  const { events, summary } = readRecordedRun<E>(name);
  return {
    reason: summary.reason as StopReasonOf<E>,
    duration: summary.t,
    events,
    prefix: summary.prefix as string,
  };
}

/** Reads `testdata/<name>_timeline.txt` as lines. */
export function readRecordedTimeline(name: string): string[] {
  return Deno.readTextFileSync(new URL(`./${name}_timeline.txt`, import.meta.url)).trimEnd()
    .split("\n");
}
