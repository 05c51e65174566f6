/**
 * Option parsing shared by the commands.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** Argument parser of a repeatable option (`-i a -i b`): every value, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** An integer option value (decimal or 0x hex) in [min, max], or a usage error naming the option. */
export function parseIntegerOption(
  value: string,
  option: string,
  min: number,
  max: number,
): number {
  const n = /^0x[0-9a-f]+$/i.test(value)
    ? parseInt(value, 16)
    : /^[0-9]+$/.test(value)
    ? Number(value)
    : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `Invalid value "${value}" for ${option}: expected an integer from ${min} to ${max}`,
    );
  }
  return n;
}
