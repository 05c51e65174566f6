/**
 * Waiting for file descriptors without blocking the event loop: `epoll_wait(2)` runs on a worker
 * thread (a `nonblocking` FFI call), and an eventfd in the set lets the JS thread wake it at
 * once, e.g. to shut down. Requires `--allow-ffi`.
 *
 * epoll, not poll(2): a daemon with a thousand TAPs (netkit vnet) would otherwise have the kernel
 * visit every descriptor on every wake-up, most of its CPU time. The set is updated when a wait
 * gets another array than the last one (pass the same array while the descriptors stay the same).
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";

/** `poll(2)` event bits (epoll's have the same values). */
export const PollEvent = {
  IN: 0x1,
  PRI: 0x2,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  NVAL: 0x20,
} as const;

/** Ready descriptors one wait reports at most (libnetkit's limit); the rest come next wait. */
const MAX_EVENTS = 256;

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
  #epollFd: number;
  #pending: Promise<unknown> | null = null;
  /** `{fd, events}` pairs that `epoll_wait` fills. */
  readonly #events = new Int32Array(MAX_EVENTS * 2);
  /** The array and events the set was last made from, and its descriptors. */
  #watched: readonly number[] | null = null;
  #watchedEvents = 0;
  #inSet = new Set<number>();
  /** Descriptors epoll refuses (closed: EBADF; a regular file: EPERM): always ready, as poll(2)
   * reports them (POLLNVAL, or readable). */
  #unwatchable: number[] = [];

  /** Opens the epoll set and the wake-up eventfd in it. */
  constructor() {
    this.#eventFd = unwrap(nk.nk_eventfd_open(), "open eventfd");
    try {
      this.#epollFd = unwrap(nk.nk_epoll_open(), "open epoll");
      unwrap(nk.nk_epoll_set(this.#epollFd, this.#eventFd, PollEvent.IN), "watch eventfd");
    } catch (err) {
      nk.nk_close(this.#eventFd);
      throw err;
    }
  }

  /**
   * Makes the set `fds` with `events`. Every descriptor is set again, not only new numbers: one
   * closed and reused since is a new file, which the kernel has already dropped from the set.
   */
  #watch(fds: readonly number[], events: number): void {
    const next = new Set(fds);
    for (const fd of this.#inSet) {
      if (!next.has(fd)) unwrap(nk.nk_epoll_del(this.#epollFd, fd), "epoll del");
    }
    this.#inSet = new Set();
    this.#unwatchable = [];
    for (const fd of next) {
      const rc = nk.nk_epoll_set(this.#epollFd, fd, events);
      if (rc === -Errno.EBADF || rc === -Errno.EPERM) this.#unwatchable.push(fd);
      else {
        unwrap(rc, `watch descriptor ${fd}`);
        this.#inSet.add(fd);
      }
    }
    this.#watched = fds;
    this.#watchedEvents = events;
  }

  /**
   * Waits until one of `fds` has one of `events` (default readable), `timeoutMs` passes
   * (negative: no limit), or {@linkcode wake} is called. Wakes that came before the wait
   * count, so a wake is never lost. Passing the same array as the last wait (unchanged) skips
   * updating the set. With `settleMs`, once something is ready the wait lasts that much longer
   * (on the worker thread), so what arrives meanwhile is handled in the same turn: fewer
   * wake-ups for a steady trickle of frames, at that cost in latency.
   */
  async wait(
    fds: readonly number[],
    timeoutMs: number,
    events: number = PollEvent.IN,
    settleMs = 0,
  ): Promise<PollResult> {
    if (this.#eventFd < 0) throw new Error("Poller is closed");
    if (this.#pending !== null) throw new Error("Poller.wait() is already in progress");
    if (fds !== this.#watched || events !== this.#watchedEvents) this.#watch(fds, events);
    const call = nk.nk_epoll_wait(
      this.#epollFd,
      this.#events,
      MAX_EVENTS,
      this.#unwatchable.length > 0 ? 0 : Math.max(-1, Math.min(Math.trunc(timeoutMs), 0x7fffffff)),
      Math.max(0, Math.min(Math.trunc(settleMs), 1000)),
    );
    this.#pending = call;
    let rc: number;
    try {
      rc = await call;
    } finally {
      this.#pending = null;
    }
    unwrap(rc, "epoll_wait");
    const result: PollResult = { ready: [...this.#unwatchable], woken: false };
    for (let i = 0; i < rc; i++) {
      const fd = this.#events[2 * i]!;
      // Only what was asked for: a file closed under one number but open under a duplicate
      // stays in the set under the closed number.
      if (this.#inSet.has(fd)) result.ready.push(fd);
      else if (fd === this.#eventFd) {
        result.woken = true;
        nk.nk_eventfd_drain(this.#eventFd);
      }
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
    nk.nk_close(this.#epollFd);
    nk.nk_close(this.#eventFd);
    this.#eventFd = -1;
    this.#epollFd = -1;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
