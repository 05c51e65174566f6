/**
 * libnetkit as `netkit version` and `netkit doctor` describe it. Loading it is deferred to the
 * first call, so those commands can report a library that does not load instead of failing.
 *
 * @module
 */

import type { LibraryLocation } from "../../ffi/library.ts";

export type { LibraryLocation };

/** The loaded library: its version and where it was found. */
export interface NativeLibraryInfo extends LibraryLocation {
  /** What the library says its version is. */
  version: string;
}

/**
 * Loads libnetkit (once per process) and describes it. Rejects with the loader's error when it
 * cannot be loaded. Requires `--allow-ffi` and `--allow-env=NETKIT_LIB`.
 */
export async function loadNativeLibrary(): Promise<NativeLibraryInfo> {
  const { library } = await import("../../ffi/native.ts");
  return { version: library.version(), ...library.location };
}
