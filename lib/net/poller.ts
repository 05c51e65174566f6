/**
 * Waiting for file descriptors without blocking the event loop: `poll(2)` runs on a worker
 * thread (a `nonblocking` FFI call), and an eventfd in every poll set lets the JS thread wake
 * it at once, e.g. to shut down. Requires `--allow-ffi`.
 *
 * @module
 */

import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";

/** `poll(2)` event bits. */
export const PollEvent = {
  IN: 0x1,
  PRI: 0x2,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  NVAL: 0x20,
} as const;

const POLLFD_SIZE = 8;

/** The outcome of one {@linkcode Poller.wait}. */
export interface PollResult {
  /** Descriptors with any of the requested events, or with an error or hang-up. */
  ready: number[];
  /** True when {@linkcode Poller.wake} ended the wait. */
  woken: boolean;
}

/** Waits on a set of descriptors; one wait at a time. */
export class Poller implements AsyncDisposable {
  #eventFd: number;
  #pending: Promise<unknown> | null = null;
  #fds = new Uint8Array(0);
  #view = new DataView(this.#fds.buffer);

  /** Opens the wake-up eventfd. */
  constructor() {
    this.#eventFd = unwrap(nk.nk_eventfd_open(), "open eventfd");
  }

  /**
   * Waits until one of `fds` has one of `events` (default readable), `timeoutMs` passes
   * (negative: no limit), or {@linkcode wake} is called. Wakes that came before the wait
   * count, so a wake is never lost.
   */
  async wait(
    fds: readonly number[],
    timeoutMs: number,
    events: number = PollEvent.IN,
  ): Promise<PollResult> {
    if (this.#eventFd < 0) throw new Error("Poller is closed");
    if (this.#pending !== null) throw new Error("Poller.wait() is already in progress");
    const n = fds.length + 1;
    if (this.#fds.length < n * POLLFD_SIZE) {
      this.#fds = new Uint8Array(n * POLLFD_SIZE);
      this.#view = new DataView(this.#fds.buffer);
    }
    const view = this.#view;
    for (let i = 0; i < n; i++) {
      view.setInt32(i * POLLFD_SIZE, i < fds.length ? fds[i]! : this.#eventFd, true);
      view.setInt16(i * POLLFD_SIZE + 4, i < fds.length ? events : PollEvent.IN, true);
      view.setInt16(i * POLLFD_SIZE + 6, 0, true);
    }
    const call = nk.nk_poll(
      this.#fds,
      n,
      Math.max(-1, Math.min(Math.trunc(timeoutMs), 0x7fffffff)),
    );
    this.#pending = call;
    let rc: number;
    try {
      rc = await call;
    } finally {
      this.#pending = null;
    }
    unwrap(rc, "poll");
    const result: PollResult = { ready: [], woken: false };
    if (rc === 0) return result;
    for (let i = 0; i < fds.length; i++) {
      if (view.getInt16(i * POLLFD_SIZE + 6, true) !== 0) result.ready.push(fds[i]!);
    }
    if (view.getInt16(fds.length * POLLFD_SIZE + 6, true) !== 0) {
      result.woken = true;
      nk.nk_eventfd_drain(this.#eventFd);
    }
    return result;
  }

  /** Ends the current (or next) wait early. */
  wake(): void {
    if (this.#eventFd >= 0) unwrap(nk.nk_eventfd_signal(this.#eventFd), "signal eventfd");
  }

  /** Wakes any wait in progress, lets it finish, then closes the eventfd; safe to repeat. */
  async close(): Promise<void> {
    if (this.#eventFd < 0) return;
    if (this.#pending !== null) {
      this.wake();
      await this.#pending.catch(() => {});
    }
    if (this.#eventFd < 0) return;
    nk.nk_close(this.#eventFd);
    this.#eventFd = -1;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
