/**
 * Result output shared by every command: human tables by default, `-j` compact JSON and `-p`
 * indented JSON, as in iproute2.
 *
 * @module
 */

import type { CliIo } from "./io.ts";

/** The global output flags. */
export interface OutputFlags {
  /** `-j/--json`: compact JSON. */
  json?: boolean;
  /** `-p/--pretty`: indented JSON (implies JSON). */
  pretty?: boolean;
}

/** Prints `data` as JSON when asked to, otherwise the text `human()` returns. */
export function printResult(
  io: CliIo,
  flags: OutputFlags,
  data: unknown,
  human: () => string,
): void {
  if (flags.pretty) io.out(JSON.stringify(data, null, 2) + "\n");
  else if (flags.json) io.out(JSON.stringify(data) + "\n");
  else {
    const text = human();
    io.out(text.endsWith("\n") || text === "" ? text : text + "\n");
  }
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n") + (rows.length > 0 ? "\n" : "");
}
