/**
 * What the narratives of `netkit lab` share: the timeline line format, an event in words,
 * picking the events of one kind out of a run, the sentence for an interrupted run, and the
 * options of every explanation. Pure.
 *
 * @module
 */

import { plural } from "../text.ts";

/** `   3.41s  receiver  #4 from ...`: one timeline line, the subject in a column of 8. */
export function timelineLine(t: number, subject: string | null, text: string): string {
  return `${t.toFixed(2).padStart(7)}s  ${subject === null ? "" : `${subject.padEnd(8)}  `}${text}`;
}

/** `event` as one timeline line, in the words of `describe`. */
export function describedLine<E extends { t: number }>(
  event: E,
  describe: (event: E) => EventText,
): string {
  const { subject, text } = describe(event);
  return timelineLine(event.t, subject, text);
}

/** An event in words: who or what it concerns (null: the lab as a whole) and what happened. */
export interface EventText {
  /** The timeline's subject column: a port, a process, "lab"; null for none. */
  subject: string | null;
  /** What happened. */
  text: string;
}

/** The last event of a scripted lab in words: "finished", or "stopped: interrupted" (Ctrl-C). */
export function describeStop(reason: "done" | "signal"): EventText {
  return { subject: "lab", text: reason === "done" ? "finished" : "stopped: interrupted" };
}

/** A lab left running: until a signal (`duration` null) or for `duration` seconds. */
export function describeRunning(duration: number | null): EventText {
  return {
    subject: "lab",
    text: duration === null
      ? "running; Ctrl-C (or SIGTERM) removes everything"
      : `running for ${duration} s (Ctrl-C ends it sooner)`,
  };
}

/** What the `removed` event of a namespace lab says is left after its removal (JSON). */
export interface RemovalCheck {
  /** The namespaces the lab deleted. */
  netns: string[];
  /** Those still there. */
  left: string[];
  /** The pids of the lab's processes still running. */
  // deno-lint-ignore camelcase -- JSON field names are snake_case by house rule.
  processes_left: number[];
  /** Whether the lab's files are still there. */
  // deno-lint-ignore camelcase -- as above.
  files_left: boolean;
}

/** Whether nothing is left after a removal. */
export function removedAll(check: RemovalCheck): boolean {
  return check.left.length === 0 && check.processes_left.length === 0 && !check.files_left;
}

/**
 * A removal in words: "removed: 3 namespaces deleted (`deletedWith`), no process left, its
 * files are gone", or what is left.
 */
export function describeRemoval(check: RemovalCheck, deletedWith: string): EventText {
  return {
    subject: "lab",
    text: removedAll(check)
      ? `removed: ${plural(check.netns.length, "namespace")} deleted (${deletedWith}), no ` +
        "process left, its files are gone"
      : `not all removed: ${
        [
          ...check.left,
          ...check.processes_left.map((p) => `pid ${p}`),
          ...(check.files_left ? ["files"] : []),
        ].join(", ")
      } left`,
  };
}

/** Options of every lab's explanation. */
export interface ExplainOptions {
  /** How the user runs netkit, for the commands to reproduce the lab (default "netkit"). */
  netkit?: string;
}

/** A time in the run, as the explanations give it: "2.05s". */
export function at(t: number): string {
  return `${t.toFixed(2)}s`;
}

/** The event of union `E` whose `event` is `K`. */
export type EventOf<E extends { event: string }, K extends E["event"]> = Extract<E, { event: K }>;

/** The events of one kind, typed as that kind. */
export function eventsOfKind<E extends { event: string }, K extends E["event"]>(
  events: readonly E[],
  kind: K,
): EventOf<E, K>[] {
  return events.filter((e): e is EventOf<E, K> => e.event === kind);
}

/** A step's heading, as {@linkcode interruptedDuring} reads it. */
interface StepHeading {
  event: "step";
  step: number;
}

/**
 * What an explanation says of a run ended by a signal: "The lab was interrupted during step N;
 * `then`", N the last step begun before `lastStep` (the removal), left out when there is none.
 */
export function interruptedDuring(
  events: readonly { event: string }[],
  lastStep: number,
  then = "it removed everything all the same.",
): string {
  const reached = events
    .filter((e): e is StepHeading => e.event === "step")
    .filter((e) => e.step < lastStep)
    .at(-1);
  return `The lab was interrupted${
    reached === undefined ? "" : ` during step ${reached.step}`
  }; ${then}`;
}
