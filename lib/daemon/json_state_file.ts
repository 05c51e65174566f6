/**
 * A daemon's JSON state file, read at start and on SIGHUP and replaced after every change
 * (mroute's routes, vnet's NICs). Both sides go through lib/net/safe_file.ts: what is read must
 * be a regular file of ours that group and others cannot write (its content is acted on as
 * root), read up to a bound; what is written replaces the file atomically (a temporary file,
 * fsync, rename), never through a link. Every failure is one line naming the file.
 *
 * @example A state file written and read back
 * ```ts ignore
 * import { z } from "zod";
 * import { readJsonStateFile, writeJsonStateFile } from "./json_state_file.ts";
 *
 * const path = "/var/lib/netkit/foo.json";
 * writeJsonStateFile(path, '{"version": 1}\n');
 * readJsonStateFile(path, z.object({ version: z.literal(1) }), {
 *   describes: "foo state",
 *   maxBytes: 1024 * 1024,
 * }); // { version: 1 }
 * ```
 *
 * @module
 */

import { errorMessage, NetkitError } from "../errors.ts";
import { summarizeIssues } from "../ipc/mod.ts";
import {
  isNotFound,
  openCheckedFile,
  readBounded,
  UnsafeFileError,
  writeFileAtomic,
} from "../net/safe_file.ts";
import type { Schema } from "../zod_exact.ts";

/** How {@linkcode readJsonStateFile} checks a file. */
export interface JsonStateReadOptions {
  /** What a valid file is, for the error: `"vnet state"` gives `is not a valid vnet state`. */
  describes: string;
  /** A longer file is refused: more than the daemon could have written. */
  maxBytes: number;
}

/**
 * The content of the state file at `path`, its shape checked with `schema`; null when there is
 * no file or it is empty (or only white space). Throws an `UnsafeFileError` for a file that is
 * a link, not ours, writable by group or others, or longer than `options.maxBytes`, and a
 * {@linkcode NetkitError} naming the file for one that cannot be read, is not JSON or does not
 * match: `State file "PATH" is not a valid vnet state: nics[0].mac: ...`.
 * Requires `--allow-read` and `--allow-ffi`.
 */
export function readJsonStateFile<T>(
  path: string,
  schema: Schema<T>,
  options: JsonStateReadOptions,
): T | null {
  let bytes: Uint8Array | null;
  try {
    using file = openCheckedFile(path, {
      what: "state file",
      read: true,
      forbiddenModeBits: 0o022,
    });
    bytes = readBounded(file, options.maxBytes);
  } catch (err) {
    if (isNotFound(err)) return null;
    if (err instanceof UnsafeFileError) throw err;
    throw new NetkitError(`Cannot read state file "${path}": ${errorMessage(err)}`);
  }
  if (bytes === null) {
    throw new UnsafeFileError(
      path,
      `Refusing to read state file "${path}": it is larger than ${options.maxBytes} bytes`,
    );
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new NetkitError(`State file "${path}" is not JSON: ${errorMessage(err)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new NetkitError(
      `State file "${path}" is not a valid ${options.describes}: ${
        summarizeIssues(parsed.error.issues)
      }`,
    );
  }
  return parsed.data;
}

/**
 * Replaces the state file at `path` with `text` atomically (readers see the old file or the new
 * one, never a part, and the new one survives a crash once this returns), creating its directory
 * when missing; mode 0644, never written through a symbolic link. Throws an `UnsafeFileError`
 * when `path` is a link or not ours, else a {@linkcode NetkitError} naming the file.
 * Requires `--allow-read`, `--allow-write` and `--allow-ffi`.
 */
export function writeJsonStateFile(path: string, text: string): void {
  try {
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
    writeFileAtomic(path, text, { what: "state file", mode: 0o644 });
  } catch (err) {
    if (err instanceof UnsafeFileError) throw err;
    throw new NetkitError(`Cannot write state file "${path}": ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
