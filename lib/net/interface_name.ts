/**
 * Interface names as Linux accepts them, checked without asking the kernel (and without loading
 * libnetkit), so the command line can refuse a bad name before anything starts.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** `IFNAMSIZ`: the kernel's buffer for an interface name, its terminating NUL included. */
export const IFNAMSIZ = 16;

/** Throws a {@linkcode UsageError} unless `name` is a name Linux accepts for an interface. */
export function validateInterfaceName(name: string): void {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0 || bytes >= IFNAMSIZ || name === "." || name === ".." || /[\s/:]/.test(name)) {
    throw new UsageError(
      `Invalid interface name "${name}": expected 1 to 15 characters without "/", ":" or spaces`,
    );
  }
}
