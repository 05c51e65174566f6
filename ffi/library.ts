/**
 * Finding and opening libnetkit. The same rules hold for `deno run` and for the compiled
 * binary: `NETKIT_LIB` when set, otherwise `build/libnetkit.so` relative to this module, which
 * is the copy embedded by `deno compile --include` in a compiled binary and the build
 * directory of a checkout.
 *
 * @module
 */

import { NetkitError } from "../lib/errors.ts";
import { type NetkitSymbols, SYMBOLS } from "./symbols.ts";

/** Where the library was found and by which rule. */
export interface LibraryLocation {
  /** Filesystem path passed to `Deno.dlopen`. */
  path: string;
  /** `env`: from `NETKIT_LIB`; `embedded`: inside the compiled binary; `build`: the checkout. */
  source: "env" | "embedded" | "build";
}

/**
 * Decides which library file to load. Requires `--allow-env=NETKIT_LIB` (a denied read counts
 * as unset).
 */
export function libraryLocation(): LibraryLocation {
  let override: string | undefined;
  try {
    override = Deno.env.get("NETKIT_LIB");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
  }
  if (override) return { path: override, source: "env" };
  const path = new URL("../build/libnetkit.so", import.meta.url).pathname;
  return { path, source: Deno.build.standalone ? "embedded" : "build" };
}

/** An opened libnetkit; closing it is safe to repeat. Requires `--allow-ffi`. */
export class NetkitLibrary implements Disposable {
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  #closed = false;
  /** Where it was loaded from. */
  readonly location: LibraryLocation;

  private constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>, location: LibraryLocation) {
    this.#lib = lib;
    this.location = location;
  }

  /** Opens the library at `location`, or throws a {@linkcode NetkitError} saying how to fix it. */
  static open(location: LibraryLocation = libraryLocation()): NetkitLibrary {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(location.path, SYMBOLS);
    } catch (err) {
      throw new NetkitError(loadFailureMessage(location, err), { cause: err });
    }
    return new NetkitLibrary(lib, location);
  }

  /** The bound C functions. */
  get symbols(): NetkitSymbols {
    return this.#lib.symbols;
  }

  /** The library's version string, e.g. `"0.1.0"`. */
  version(): string {
    const ptr = this.#lib.symbols.nk_version();
    return ptr === null ? "unknown" : Deno.UnsafePointerView.getCString(ptr);
  }

  /** Unloads the library; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lib.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function loadFailureMessage(location: LibraryLocation, err: unknown): string {
  const where = `"${location.path}"`;
  if (err instanceof Deno.errors.NotCapable) {
    return `Cannot load libnetkit from ${where}: FFI permission denied; run netkit with --allow-ffi`;
  }
  const reason = err instanceof Error ? err.message : String(err);
  const hint = location.source === "env"
    ? "check the NETKIT_LIB environment variable"
    : location.source === "build"
    ? 'run "make" to build it, or set NETKIT_LIB to its path'
    : 'the binary is damaged; rebuild it with "make dist"';
  if (/cannot open shared object file: No such file/.test(reason)) {
    return `Cannot load libnetkit: ${where} does not exist; ${hint}`;
  }
  if (/Could not obtain symbol|Failed to register symbol/.test(reason)) {
    return `Cannot load libnetkit from ${where}: it lacks symbols this netkit needs (${reason}); ${hint}`;
  }
  return `Cannot load libnetkit from ${where}: ${reason}; ${hint}`;
}
