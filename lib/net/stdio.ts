/**
 * The process's standard streams at the descriptor level, where Deno's own handles do not reach:
 * a detached daemon lets go of its terminal and of the pipe its parent waits on.
 *
 * @module
 */

import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";

/**
 * Points the standard streams, and every other descriptor open on the same pipe, socket or
 * terminal, at /dev/null. Throws a `NetkitOsError` when that fails. Requires `--allow-ffi`.
 */
export function redirectStdioToDevNull(): void {
  unwrap(nk.nk_stdio_to_devnull(), "redirect standard streams to /dev/null");
}
