/**
 * The file `netkit mroute apply` reads, checked once at the edge with the daemon's own
 * validators (route.ts, state_file.ts): its size bounds, and every route and VIF name checked
 * with the line it is on, so `apply --dry-run` can check a file without a daemon. Pure.
 *
 * @module
 */

import { summarizeIssues } from "../ipc/mod.ts";
import { checkInterfaceName, parseRoute, type Route, routeName } from "./route.ts";
import type { DesiredState } from "./router.ts";
import { DesiredStateJson } from "./state_file.ts";

/**
 * The largest control request the daemon accepts. An APPLY is one request, so that it stays one
 * transaction. A route takes 50 bytes as (*,G) with one output to 105 as (S,G) with three
 * (measured: 100,000 routes make a 5.0 MB and a 10.5 MB request), so this carries 160,000 to
 * 330,000 routes; a larger state is refused by the CLI before it is sent, naming its size.
 */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** The largest apply file read: room for an indented file whose compact request fits. */
export const MAX_APPLY_FILE_BYTES = 2 * MAX_REQUEST_BYTES;

/** Errors reported at most, the first ones. */
const MAX_ERRORS = 5;

/** A checked apply file: the state, or the first problems, each naming its line. */
export type CheckedApply = { ok: true; state: DesiredState } | { ok: false; errors: string[] };

/**
 * The offset where each element of the top-level `"routes"` array begins in `text`, which must
 * be valid JSON (JSON.parse gives values, not positions). Empty when there is no such array.
 */
export function routeOffsets(text: string): number[] {
  const offsets: number[] = [];
  let depth = 0;
  let lastKey: string | null = null;
  let inRoutes = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") continue;
    if (inRoutes && depth === 2 && expectElement && c !== "]") {
      offsets.push(i);
      expectElement = false;
    }
    if (c === '"') {
      const start = i + 1;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) lastKey = text.slice(start, i);
      continue;
    }
    if (c === "{" || c === "[") {
      depth++;
      if (c === "[" && depth === 2 && lastKey === "routes") {
        inRoutes = true;
        expectElement = true;
      }
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 1) inRoutes = false;
    } else if (c === "," && inRoutes && depth === 2) {
      expectElement = true;
    } else if (c === "," && depth === 1) {
      lastKey = null;
    }
  }
  return offsets;
}

/** Line numbers (from 1) of `offsets`, which are ascending. */
function linesOf(text: string, offsets: number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let at = 0;
  for (const offset of offsets) {
    for (; at < offset; at++) if (text.charCodeAt(at) === 10) line++;
    lines.push(line);
  }
  return lines;
}

/**
 * Checks the text of an apply file as the daemon would: JSON, the state's shape, every route
 * (and that no (S,G) is given twice) and every VIF name. Problems name the route's line.
 */
export function checkApplyText(text: string): CheckedApply {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`not JSON: ${err instanceof Error ? err.message : String(err)}`] };
  }
  const parsed = DesiredStateJson.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      errors: [`not a multicast routing state: ${summarizeIssues(parsed.error.issues)}`],
    };
  }
  const errors: string[] = [];
  const routes: Route[] = [];
  const seen = new Set<string>();
  let lines: number[] | null = null;
  const where = (i: number) => {
    lines ??= linesOf(text, routeOffsets(text));
    return lines[i] === undefined ? `route ${i + 1}` : `line ${lines[i]}: route ${i + 1}`;
  };
  for (let i = 0; i < parsed.data.routes.length && errors.length < MAX_ERRORS; i++) {
    try {
      const route = parseRoute(parsed.data.routes[i]!);
      if (seen.has(route.key)) {
        errors.push(`${where(i)}: ${routeName(route)} is given twice`);
      }
      seen.add(route.key);
      routes.push(route);
    } catch (err) {
      errors.push(`${where(i)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const name of parsed.data.vifs ?? []) {
    if (errors.length >= MAX_ERRORS) break;
    try {
      checkInterfaceName(name, "VIF interface");
    } catch (err) {
      errors.push(`"vifs": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, state: { vifs: [...new Set(parsed.data.vifs ?? [])].sort(), routes } };
}
