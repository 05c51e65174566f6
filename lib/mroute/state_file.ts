/**
 * The multicast router's desired state on disk: the routes and pinned VIFs, plus the VIF index
 * each interface had (so a restart with `--keep-kernel-state` can adopt the kernel's entries).
 * The same JSON shape, without `vif_indexes`, is what `netkit mroute apply FILE` reads.
 * Written atomically: a temporary file, fsync, rename, fsync of the directory
 * (lib/daemon/json_state_file.ts over lib/net/safe_file.ts).
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import { readJsonStateFile, writeJsonStateFile } from "../daemon/json_state_file.ts";
import { NetkitError } from "../errors.ts";
import { summarizeIssues } from "../ipc/mod.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import { parseRoute } from "./route.ts";
import type { DesiredState } from "./router.ts";

/**
 * One route as a state file, an APPLY request or ADD_MFC gives it, before checking
 * (docs/mroute-protocol.md).
 */
export interface RouteJson {
  /** The unicast source; absent, null, "" or "*" for (*,G): every source. */
  source?: string | null | undefined;
  /** The multicast group address. */
  group: string;
  /** The input interface's name. */
  iif: string;
  /** At least one output: a name, `"name:ttl"` or `{name, ttl}` (TTL threshold, IPv4 only). */
  oifs: (string | { name: string; ttl?: number | undefined })[];
}

/** Schema of {@linkcode RouteJson}: the shape only; {@linkcode parseRoute} checks the values. */
export const RouteJson: Schema<RouteJson> = exactly<RouteJson>()(z.object({
  source: z.string().nullable().optional(),
  group: z.string(),
  iif: z.string(),
  oifs: z.array(
    z.union([z.string(), z.object({ name: z.string(), ttl: z.number().int().optional() })]),
  ).min(1),
}));

/** The VIF index each interface had, per family ("4", "6"), as the daemon saves it. */
export interface VifIndexesJson {
  /** IPv4: interface name → VIF index. */
  "4"?: Record<string, number> | undefined;
  /** IPv6: interface name → VIF (MIF) index. */
  "6"?: Record<string, number> | undefined;
}

/** A desired state as JSON: what `apply` takes and the daemon saves. */
export interface DesiredStateJson {
  /** The file format's version: 1 when given. */
  version?: 1 | undefined;
  /** Interfaces pinned as VIFs (kept even when no route uses them). */
  vifs?: string[] | undefined;
  /** Every route wanted; any other route is removed on apply. */
  routes: RouteJson[];
  /** Only in the daemon's state file: for `--keep-kernel-state` to adopt the kernel's VIFs. */
  vif_indexes?: VifIndexesJson | undefined;
}

/** Schema of {@linkcode DesiredStateJson}. */
export const DesiredStateJson: Schema<DesiredStateJson> = exactly<DesiredStateJson>()(z.object({
  version: z.literal(1).optional(),
  vifs: z.array(z.string()).optional(),
  routes: z.array(RouteJson),
  vif_indexes: z.object({
    "4": z.record(z.string(), z.number().int()).optional(),
    "6": z.record(z.string(), z.number().int()).optional(),
  }).optional(),
}));

/** What a state file holds, checked and normalized. */
export interface StateFile {
  /** The pinned VIFs (sorted, once each) and the normalized routes. */
  state: DesiredState;
  /** The VIF index each interface had, per family; empty when the file has none. */
  vifIndexes: Partial<Record<"4" | "6", Record<string, number>>>;
}

/** The JSON text of a desired state (routes in their normalized form), one route per line. */
export function formatDesiredState(
  state: DesiredState,
  vifIndexes?: Record<"4" | "6", Record<string, number>>,
): string {
  const head: Omit<DesiredStateJson, "routes"> = {
    version: 1,
    vifs: state.vifs,
    ...(vifIndexes === undefined ? {} : { vif_indexes: vifIndexes }),
  };
  const fields = Object.entries(head).map(([k, v]) =>
    `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`
  );
  const routes = state.routes.length === 0
    ? "[]"
    : `[\n    ${state.routes.map((r) => r.json).join(",\n    ")}\n  ]`;
  return `{\n${fields.join(",\n")},\n  "routes": ${routes}\n}\n`;
}

/** Checks a parsed JSON value as a desired state; `where` names it in errors. */
export function desiredStateFromJson(value: unknown, where: string): StateFile {
  const parsed = DesiredStateJson.safeParse(value);
  if (!parsed.success) {
    throw new NetkitError(
      `${where} is not a valid multicast routing state: ${summarizeIssues(parsed.error.issues)}`,
    );
  }
  return desiredState(parsed.data, where);
}

/**
 * Checks and normalizes the routes of a state whose shape is already checked; throws a
 * {@linkcode NetkitError} naming `where` and the route's position.
 */
export function desiredState(data: DesiredStateJson, where: string): StateFile {
  const routes = data.routes.map((r, i) => {
    try {
      return parseRoute(r);
    } catch (err) {
      throw new NetkitError(
        `${where}: route ${i + 1}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  });
  const indexes = data.vif_indexes ?? {};
  return {
    state: { vifs: [...new Set(data.vifs ?? [])].sort(), routes },
    vifIndexes: {
      ...(indexes["4"] === undefined ? {} : { "4": indexes["4"] }),
      ...(indexes["6"] === undefined ? {} : { "6": indexes["6"] }),
    },
  };
}

/**
 * The most a state file may hold. The daemon saves what APPLY (requests up to 16 MiB) and
 * ADD_MFC built, one normalized route a line; 64 MiB is far above any table it keeps, and still
 * bounds what a start or SIGHUP reads.
 */
const MAX_STATE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a state file; null when it does not exist or is empty. Opened as every file netkit
 * writes (lib/daemon/json_state_file.ts): a symbolic link, a file not ours or others may write,
 * or one larger than 64 MiB is refused, since its routes would be installed as root. Requires
 * `--allow-read`.
 */
export function readStateFile(path: string): StateFile | null {
  const data = readJsonStateFile(path, DesiredStateJson, {
    describes: "multicast routing state",
    maxBytes: MAX_STATE_BYTES,
  });
  return data === null ? null : desiredState(data, `State file "${path}"`);
}

/**
 * Replaces the state file at `path` with `text` atomically (readers see the old file or the new
 * one, never a part, and the new one survives a crash once this returns), creating its directory
 * when missing; never through a symbolic link, mode 0644 (lib/daemon/json_state_file.ts). Throws
 * a {@linkcode NetkitError} naming the file. Requires `--allow-read` and `--allow-write`.
 */
export function writeStateFile(path: string, text: string): void {
  writeJsonStateFile(path, text);
}
