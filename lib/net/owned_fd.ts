/**
 * The base of every netkit object that owns a file descriptor.
 *
 * @module
 */

import { nk } from "../../ffi/native.ts";

/** Owns one descriptor: closed exactly once, by {@linkcode close} or `using`. */
export class OwnedFd implements Disposable {
  #fd: number;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The descriptor, for waiting on it; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Closes the descriptor; later calls do nothing. */
  close(): void {
    if (this.#fd < 0) return;
    nk.nk_close(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
