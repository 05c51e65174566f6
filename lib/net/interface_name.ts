/**
 * Interface names as Linux accepts them, checked without asking the kernel (and without loading
 * libnetkit), so the command line can refuse a bad name before anything starts.
 *
 * @module
 */

import { InvalidInputError } from "../errors.ts";

/** `IFNAMSIZ`: the kernel's buffer for an interface name, its terminating NUL included. */
export const IFNAMSIZ = 16;

/** Throws an {@linkcode InvalidInputError} unless Linux accepts `name` for an interface. */
export function validateInterfaceName(name: string): void {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0 || bytes >= IFNAMSIZ || name === "." || name === ".." || /[\s/:]/.test(name)) {
    throw new InvalidInputError(
      `Invalid interface name "${name}": expected 1 to 15 characters without "/", ":" or spaces`,
    );
  }
}
