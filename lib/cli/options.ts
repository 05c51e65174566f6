/**
 * Option parsing shared by the commands.
 *
 * @module
 */

/** Argument parser of a repeatable option (`-i a -i b`): every value, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
