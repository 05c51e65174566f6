/**
 * The scenario runner every `netkit lab` shares: one {@linkcode ScenarioRun} per run records the
 * lab's typed events with their time, hands each to the caller's observer (the CLI's timeline),
 * and ends the run early, the same way in every lab, when the caller's signal aborts (Ctrl-C),
 * the observer fails or the lab calls {@linkcode ScenarioRun.fail}: every wait of the script
 * ({@linkcode ScenarioRun.pause}, {@linkcode ScenarioRun.until},
 * {@linkcode ScenarioRun.interruptible}) then throws {@linkcode Interrupted}, and
 * {@linkcode ScenarioRun.perform} still runs the cleanup before it throws the failure.
 *
 * A lab is three modules, `lib/lab/<name>_events.ts` (the event union and the report, JSON),
 * `<name>_narrative.ts` (timeline text and the explanation, pure: no root, no native library,
 * unit-tested on recorded events) and `<name>_scenario.ts` (the class that builds the lab and
 * runs it on a `ScenarioRun`). A new lab plugs in like this:
 *
 * @example A scripted lab with steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { type RunEnd, ScenarioRun, type ScenarioRunOptions, type StepEvent, type StoppedEvent } from "./runner.ts";
 *
 * type PingLabEvent =
 *   | StepEvent
 *   | { t: number; event: "pinged"; replies: number }
 *   | StoppedEvent<"done" | "signal">;
 *
 * async function runPingLab(options: ScenarioRunOptions<PingLabEvent>): Promise<RunEnd<PingLabEvent>> {
 *   using run = new ScenarioRun(options);
 *   await run.perform(async () => {
 *     run.stepTo(1, "ping the neighbour");
 *     run.emit({ event: "pinged", replies: 3 });
 *     await run.pause(10); // throws Interrupted on Ctrl-C
 *   }, () => {
 *     // Always runs: stop processes, delete namespaces.
 *   });
 *   return run.finish(run.interrupted ? "signal" : "done");
 * }
 *
 * const seen: string[] = [];
 * const end = await runPingLab({ onEvent: (e) => seen.push(e.event) });
 * assert.ok(end.reason === "done" && seen.join() === "step,pinged,stopped");
 * ```
 *
 * The CLI (`lib/cli/lab.ts`) then needs only a `LabView` for it: how to create and run the lab,
 * its timeline lines, its live block and its explanation.
 *
 * @module
 */

import { delay } from "../async.ts";

/** Anything a lab records: what happened (`event`), `t` seconds after the run started (JSON). */
export interface TimedEvent {
  /** Seconds since the run started, to the millisecond. */
  t: number;
  /** What happened, the tag of the lab's event union. */
  event: string;
}

/** The heading of one step of a scripted lab (JSON). */
export interface StepEvent {
  /** Seconds since the run started. */
  t: number;
  /** The tag. */
  event: "step";
  /** The step's number, from 1. */
  step: number;
  /** What the step does, in words. */
  title: string;
}

/** The last event of every run: why it ended (JSON). */
export interface StoppedEvent<R extends string> {
  /** Seconds since the run started. */
  t: number;
  /** The tag. */
  event: "stopped";
  /** Why the run ended ("done", "signal", ...). */
  reason: R;
}

/** Event `E` without its time: what a lab hands to {@linkcode ScenarioRun.emit}. */
export type Untimed<E extends TimedEvent> = E extends unknown ? Omit<E, "t"> : never;

/** The reasons the `stopped` events of union `E` can give. */
export type StopReasonOf<E extends TimedEvent> = Extract<E, { event: "stopped" }> extends
  { reason: infer R extends string } ? R : never;

/** What every finished run reports; each lab's report adds its own fields. */
export interface RunEnd<E extends TimedEvent> {
  /** Why the run ended, as its `stopped` event says. */
  reason: StopReasonOf<E>;
  /** Seconds from the start of the run to its end. */
  duration: number;
  /** Every event, in order. */
  events: E[];
}

/** How a run is observed and ended by its caller. */
export interface ScenarioRunOptions<E extends TimedEvent> {
  /** Ends the run early (Ctrl-C): its waits throw {@linkcode Interrupted}, the cleanup runs. */
  signal?: AbortSignal;
  /** Called for every event as it happens; once it throws it is not called again. */
  onEvent?: (event: E) => void;
}

/** Thrown by a run's waits to unwind the script once the run must end. */
export class Interrupted extends Error {}

/** Milliseconds as seconds, to the millisecond: the `t` of every event. */
export function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** The longest a single timer may wait (setTimeout overflows beyond it). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One run of a lab: its events, its clock, and the way it ends early. Create it when the run
 * starts, dispose of it when the run is over (that stops listening to the caller's signal).
 */
export class ScenarioRun<E extends TimedEvent> implements Disposable {
  /** Every event so far, in order. */
  readonly events: E[] = [];
  readonly #started = performance.now();
  /** Aborted once the run must end: the caller's signal, a failure, a failed observer. */
  readonly #stop = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort = () => this.#stop.abort();
  #onEvent: ((event: E) => void) | undefined;
  #failed = false;
  #failure: unknown = undefined;
  /** Waits that end early on the next event. */
  #wake: (() => void)[] = [];
  #step = 0;
  #title = "";

  /** Starts the clock and follows `options.signal`. */
  constructor(options: ScenarioRunOptions<E> = {}) {
    this.#caller = options.signal;
    this.#onEvent = options.onEvent;
    this.#caller?.addEventListener("abort", this.#onCallerAbort, { once: true });
    if (this.#caller?.aborted) this.#stop.abort();
  }

  /** Aborted once the run must end; pass it to what the script starts (commands, sockets). */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Whether the caller's signal ended the run (the report's "signal" reason). */
  get interrupted(): boolean {
    return this.#caller?.aborted ?? false;
  }

  /** Whether the run failed ({@linkcode fail}); {@linkcode perform} then throws the failure. */
  get failed(): boolean {
    return this.#failed;
  }

  /** The current step (0 before the first) and its title, for a live view. */
  get step(): { step: number; title: string } {
    return { step: this.#step, title: this.#title };
  }

  /** Seconds since the run started. */
  elapsed(): number {
    return seconds(performance.now() - this.#started);
  }

  /**
   * Records `event` at `t` (default: now), wakes the waits that wait for an event, and shows it
   * to the observer. An observer that throws ends the run with its error and is not called again.
   */
  emit(event: Untimed<E>, t: number = this.elapsed()): void {
    const timed = { t, ...event } as E;
    this.events.push(timed);
    for (const wake of this.#wake.splice(0)) wake();
    const observer = this.#onEvent;
    if (observer === undefined) return;
    try {
      observer(timed);
    } catch (err) {
      this.#onEvent = undefined;
      this.fail(err);
    }
  }

  /** Emits the heading of step `step`, kept for {@linkcode step}. */
  stepTo(...[step, title]: StepEvent extends E ? [step: number, title: string] : never): void {
    this.#step = step;
    this.#title = title;
    // The parameters' type makes sure StepEvent is one of E.
    const event: Untimed<StepEvent> = { event: "step", step, title };
    this.emit(event as unknown as Untimed<E>);
  }

  /** Ends the run with `err` (the first failure wins), which {@linkcode perform} throws. */
  fail(err: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#failure = err;
    }
    this.#stop.abort();
  }

  /** Throws {@linkcode Interrupted} once the run must end. */
  check(): void {
    if (this.#stop.signal.aborted) throw new Interrupted();
  }

  /**
   * Waits for `promise`, or throws {@linkcode Interrupted} as soon as the run must end (the
   * promise is then left to settle on its own: the cleanup stops what it waits for).
   */
  async interruptible<T>(promise: Promise<T>): Promise<T> {
    this.check();
    promise.catch(() => {});
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Interrupted());
      this.#stop.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([promise, aborted]);
    } finally {
      this.#stop.signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Waits `ms` (or, with `wakeOnEvent`, until the next event), throwing {@linkcode Interrupted}
   * once the run must end.
   */
  async pause(ms: number, wakeOnEvent = false): Promise<void> {
    this.check();
    const signals = [this.#stop.signal];
    if (wakeOnEvent) {
      const woken = new AbortController();
      this.#wake.push(() => woken.abort());
      signals.push(woken.signal);
    }
    await delay(Math.min(Math.max(0, ms), MAX_TIMER_MS), AbortSignal.any(signals));
    this.check();
  }

  /** Ends the waits of {@linkcode until} early, so they test again (for a change without event). */
  wake(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  /**
   * Waits until `test()` holds (tested again on every event and {@linkcode wake}) or `ms` pass
   * (Infinity: no limit); says which. Throws {@linkcode Interrupted} once the run must end.
   */
  async until(test: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!test()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.pause(left, true);
    }
    return true;
  }

  /**
   * Runs `script` (unless the run already had to end), then `cleanup` on every way out; throws
   * the run's failure, if any, after the cleanup. An {@linkcode Interrupted} from the script is
   * the normal early end; any other error becomes the run's failure.
   */
  async perform(
    script: () => Promise<void>,
    cleanup: () => Promise<void> | void,
  ): Promise<void> {
    try {
      if (!this.#stop.signal.aborted) await script();
    } catch (err) {
      if (!(err instanceof Interrupted)) this.fail(err);
    }
    await cleanup();
    if (this.#failed) throw this.#failure;
  }

  /** Emits the `stopped` event and returns what every report holds. */
  finish(reason: StopReasonOf<E>): RunEnd<E> {
    // StopReasonOf<E> is never unless StoppedEvent is one of E.
    const event: Untimed<StoppedEvent<string>> = { event: "stopped", reason };
    this.emit(event as unknown as Untimed<E>);
    return { reason, duration: this.elapsed(), events: this.events };
  }

  /** Stops following the caller's signal. */
  [Symbol.dispose](): void {
    this.#caller?.removeEventListener("abort", this.#onCallerAbort);
  }
}
