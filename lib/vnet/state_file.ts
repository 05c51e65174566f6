/**
 * The `netkit vnet` daemon's NICs on disk, `{"version": 1, "nics": [NicSpec, ...]}`: written
 * atomically after every change, read at start and on SIGHUP (lib/daemon/json_state_file.ts).
 * A file that is a link, not ours, or writable by others is refused: its NICs would be served
 * as root.
 *
 * @module
 */

import { z } from "zod";
import { readJsonStateFile, writeJsonStateFile } from "../daemon/json_state_file.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import { MAX_NICS, NicSpec } from "./config.ts";

/** What the state file holds. */
export interface VnetStateJson {
  /** The format's version: 1. */
  version: 1;
  /** The NICs, normalized. */
  nics: NicSpec[];
}
/** Schema of {@linkcode VnetStateJson}. */
export const VnetStateJson: Schema<VnetStateJson> = exactly<VnetStateJson>()(z.object({
  version: z.literal(1),
  nics: z.array(NicSpec).max(MAX_NICS),
}));

/** The text of a state file for `nics`, one NIC a line. */
export function formatState(nics: readonly NicSpec[]): string {
  const lines = nics.map((n) => JSON.stringify(n));
  return `{\n  "version": 1,\n  "nics": [${
    lines.length === 0 ? "" : `\n    ${lines.join(",\n    ")}\n  `
  }]\n}\n`;
}

/**
 * The most a state file may hold: {@linkcode MAX_NICS} normalized NICs need well under 1 MiB
 * (each field is at most 64 characters).
 */
const MAX_STATE_BYTES = 4 * 1024 * 1024;

/**
 * The NICs in the state file at `path` (their shape checked; the daemon checks their values
 * one by one); null when there is no file or it is empty. Requires `--allow-read`.
 */
export function readVnetState(path: string): NicSpec[] | null {
  const state = readJsonStateFile(path, VnetStateJson, {
    describes: "vnet state",
    maxBytes: MAX_STATE_BYTES,
  });
  return state === null ? null : state.nics;
}

/**
 * Replaces the state file at `path` atomically with `nics`, creating its directory when
 * missing; mode 0644. Requires `--allow-read` and `--allow-write`.
 */
export function writeVnetState(path: string, nics: readonly NicSpec[]): void {
  writeJsonStateFile(path, formatState(nics));
}
