/**
 * What the `netkit lab` scenarios share in their timelines: the line format and picking the
 * events of one kind out of a run.
 *
 * @module
 */

/** `   3.41s  receiver  #4 from ...`: one timeline line, the subject in a column of 8. */
export function timelineLine(t: number, subject: string | null, text: string): string {
  return `${t.toFixed(2).padStart(7)}s  ${subject === null ? "" : `${subject.padEnd(8)}  `}${text}`;
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
