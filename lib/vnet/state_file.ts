/**
 * The `netkit vnet` daemon's NICs on disk, `{"version": 1, "nics": [NicSpec, ...]}`: written
 * atomically after every change (lib/net/safe_file.ts: a temporary file, fsync, rename), read at
 * start and on SIGHUP. A file that is a link, not ours, or writable by others is refused: its
 * NICs would be served as root.
 *
 * @module
 */

import { z } from "zod";
import { errorMessage, NetkitError } from "../errors.ts";
import { summarizeIssues } from "../ipc/mod.ts";
import { isNotFound, readCheckedFile, UnsafeFileError, writeFileAtomic } from "../net/safe_file.ts";
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
 * The NICs in the state file at `path` (their shape checked; the daemon checks their values
 * one by one); null when there is no file or it is empty. Requires `--allow-read`.
 */
export function readVnetState(path: string): NicSpec[] | null {
  let text: string;
  try {
    text = new TextDecoder().decode(
      readCheckedFile(path, { what: "state file", forbiddenModeBits: 0o022 }),
    );
  } catch (err) {
    if (isNotFound(err)) return null;
    if (err instanceof UnsafeFileError) throw err;
    throw new NetkitError(`Cannot read state file "${path}": ${errorMessage(err)}`);
  }
  if (text.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new NetkitError(`State file "${path}" is not JSON: ${errorMessage(err)}`);
  }
  const parsed = VnetStateJson.safeParse(value);
  if (!parsed.success) {
    throw new NetkitError(
      `State file "${path}" is not a valid vnet state: ${summarizeIssues(parsed.error.issues)}`,
    );
  }
  return parsed.data.nics;
}

/**
 * Replaces the state file at `path` atomically with `nics`, creating its directory when
 * missing; mode 0644. Requires `--allow-read` and `--allow-write`.
 */
export function writeVnetState(path: string, nics: readonly NicSpec[]): void {
  try {
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
    writeFileAtomic(path, formatState(nics), { what: "state file", mode: 0o644 });
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new NetkitError(`Cannot write state file "${path}": ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
