/**
 * The one run loop of every netkit daemon. A {@linkcode DaemonLoop} installs its signal handling
 * when it is made, which the CLI does before the daemon starts, so a signal during start-up is
 * never the default action (the end of the process, its socket and lock left behind):
 *
 * - SIGINT and SIGTERM stop the loop (the daemon then restores what it changed and exits 0);
 * - SIGHUP never stops it: the log file is reopened and the daemon's `reload()` hook runs
 *   (lib/daemon/hangup.ts).
 *
 * A daemon with file descriptors to watch runs {@linkcode DaemonLoop.poll} (one epoll wait on a
 * worker thread, woken at the engine's next deadline or by `stop()`); one driven by promises (the
 * relay, a gateway, a client) runs {@linkcode DaemonLoop.until}.
 *
 * @module
 */

import type { Poller } from "../net/poller.ts";
import { handleHangup, type ReloadHook } from "./hangup.ts";

/** The signals that stop a daemon. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const satisfies readonly Deno.Signal[];

/** The longest a polling loop sleeps without a deadline. */
export const MAX_SLEEP_MS = 1000;

/**
 * How long to sleep from `now` until `deadline` (both ms on one clock; null: no deadline), at
 * most {@linkcode MAX_SLEEP_MS} and never negative.
 */
export function sleepUntil(deadline: number | null, now: number): number {
  return deadline === null
    ? MAX_SLEEP_MS
    : Math.min(MAX_SLEEP_MS, Math.max(0, Math.ceil(deadline - now)));
}

/** One turn of a polling daemon: what to wait on, and for how long. */
export interface PollTurn {
  /** The descriptors to wait on. */
  fds: readonly number[];
  /** The longest wait (see {@linkcode sleepUntil}). */
  timeoutMs: number;
  /**
   * Once a descriptor is ready, wait this much longer before handling it (default 0), so one
   * turn handles what arrives meanwhile: for a daemon whose traffic is many small frames with
   * timing needs far coarser than this.
   */
  settleMs?: number;
}

/** What {@linkcode DaemonLoop.poll} asks of a daemon on every turn. */
export interface PollingDaemon {
  /** Runs the timers due and says what to wait on; null ends the loop (the daemon is done). */
  next(): PollTurn | null;
  /** Handles the descriptors that are ready (maybe none: the timeout came first). */
  ready(fds: readonly number[]): void;
}

/** Signal handling and stop/wake for one daemon run; dispose it to remove its handlers. */
export class DaemonLoop implements Disposable {
  readonly #stop = new AbortController();
  #caught: Deno.Signal | null = null;
  #poller: Poller | null = null;
  #reload: ReloadHook | undefined;
  readonly #onSignal = new Map<Deno.Signal, () => void>();
  readonly #hangup: Disposable;

  /** Installs SIGINT, SIGTERM and SIGHUP handling at once. */
  constructor(options: { reload?: ReloadHook } = {}) {
    this.#reload = options.reload;
    for (const signal of STOP_SIGNALS) {
      const listener = () => {
        this.#caught ??= signal;
        this.stop();
      };
      this.#onSignal.set(signal, listener);
      Deno.addSignalListener(signal, listener);
    }
    this.#hangup = handleHangup(() => this.#reload?.() ?? "nothing else to reload");
  }

  /** What SIGHUP reloads besides the log file; set by the daemon once it is built. */
  set reload(hook: ReloadHook | undefined) {
    this.#reload = hook;
  }

  /** Aborted once the loop is asked to stop. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Whether {@linkcode stop} was called (or a stop signal caught). */
  get stopping(): boolean {
    return this.#stop.signal.aborted;
  }

  /** The signal that stopped the loop, or null (not stopped, or stopped by a call). */
  get caught(): Deno.Signal | null {
    return this.#caught;
  }

  /** Ends {@linkcode poll} or {@linkcode until} at once (a poll under way is woken). */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#poller?.wake();
  }

  /** Runs `daemon`'s turns until it is done or the loop is stopped. */
  async poll(daemon: PollingDaemon): Promise<void> {
    // Loaded here: the poller needs the native library, which a promise-driven daemon's CLI
    // module (and its `status` subcommand) does not.
    const { Poller } = await import("../net/poller.ts");
    await using poller = new Poller();
    this.#poller = poller;
    try {
      while (!this.stopping) {
        const turn = daemon.next();
        if (turn === null) return;
        const { ready } = await poller.wait(turn.fds, turn.timeoutMs, undefined, turn.settleMs);
        if (this.stopping) return;
        daemon.ready(ready);
      }
    } finally {
      this.#poller = null;
    }
  }

  /**
   * Waits until the loop is stopped (resolving with the signal caught, or null for a
   * {@linkcode stop} call) or `done` settles (null).
   */
  async until(done: Promise<unknown> = new Promise(() => {})): Promise<Deno.Signal | null> {
    const stopped = Promise.withResolvers<void>();
    if (this.stopping) stopped.resolve();
    else this.#stop.signal.addEventListener("abort", () => stopped.resolve(), { once: true });
    await Promise.race([stopped.promise, done.then(() => {}, () => {})]);
    return this.#caught;
  }

  /** Removes the signal handlers. */
  [Symbol.dispose](): void {
    for (const [signal, listener] of this.#onSignal) Deno.removeSignalListener(signal, listener);
    this.#onSignal.clear();
    this.#hangup[Symbol.dispose]();
  }
}
