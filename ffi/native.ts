/**
 * The process-wide libnetkit, opened when this module is first imported, so that command
 * modules fail early with one clear message and tests see it loaded before they start. It
 * stays open for the life of the process. Requires `--allow-ffi` and `--allow-env=NETKIT_LIB`.
 *
 * @module
 */

import { NetkitLibrary } from "./library.ts";
import type { NetkitSymbols } from "./symbols.ts";

/** The shared library handle. */
export const library: NetkitLibrary = NetkitLibrary.open();

/** The bound C functions of the shared library. */
export const nk: NetkitSymbols = library.symbols;
