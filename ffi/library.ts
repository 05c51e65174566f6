/**
 * Finding and opening libnetkit. The same rules hold for `deno run` and for the compiled
 * binary: `NETKIT_LIB` when set, otherwise `build/libnetkit.so` relative to this module, which
 * is the copy embedded by `deno compile --include` in a compiled binary and the build
 * directory of a checkout.
 *
 * `NETKIT_LIB` is a development switch. It is ignored, with a warning, when the process runs
 * with privileges its caller may not have (setuid, setgid, or file capabilities such as a
 * `setcap cap_net_raw,cap_net_admin+ep` netkit): the library's code runs with netkit's
 * privileges, so honouring it there would give them to anyone who can start netkit. The kernel
 * says so with `AT_SECURE` in the auxiliary vector, read here from `/proc/self/auxv` since
 * the library (and with it `getauxval`) is what is being chosen.
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

/** The auxiliary vector's key of the secure-execution flag (`<elf.h>`). */
const AT_SECURE = 23n;
const AT_NULL = 0n;

/**
 * Whether the kernel started this process in secure-execution mode (`AT_SECURE` non-zero): it
 * gained privileges at exec (setuid, setgid, file capabilities). `auxv` is the content of
 * `/proc/self/auxv`, pairs of 64-bit little-endian words (type, value) on x86-64, ending with
 * `AT_NULL`. `null` (unreadable: the kernel makes `/proc/self` root's for a process it started
 * that way) and a vector without `AT_SECURE` count as secure.
 */
export function secureExecution(auxv: Uint8Array | null): boolean {
  if (auxv === null) return true;
  const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  for (let at = 0; at + 16 <= auxv.length; at += 16) {
    const type = view.getBigUint64(at, true);
    if (type === AT_NULL) break;
    if (type === AT_SECURE) return view.getBigUint64(at + 8, true) !== 0n;
  }
  return true;
}

/** `/proc/self/auxv`, or null when it cannot be read. */
function readAuxv(): Uint8Array | null {
  try {
    return Deno.readFileSync("/proc/self/auxv");
  } catch {
    return null;
  }
}

/** Which library to load, and the warning to print about the choice, if any. */
export interface LibraryChoice {
  location: LibraryLocation;
  warning?: string;
}

/**
 * The choice itself: `override` (`NETKIT_LIB`) when set, unless `elevated()` (asked only then)
 * says the process runs with elevated privileges; otherwise `builtIn`.
 */
export function chooseLibrary(
  override: string | undefined,
  elevated: () => boolean,
  builtIn: LibraryLocation,
): LibraryChoice {
  if (!override) return { location: builtIn };
  if (!elevated()) return { location: { path: override, source: "env" } };
  return {
    location: builtIn,
    warning: `netkit: warning: NETKIT_LIB is ignored: netkit runs with elevated privileges ` +
      `(setuid, setgid or file capabilities); loading "${builtIn.path}"`,
  };
}

/** The library of this netkit: embedded in a compiled binary, or the checkout's build. */
function builtInLocation(): LibraryLocation {
  const path = new URL("../build/libnetkit.so", import.meta.url).pathname;
  return { path, source: Deno.build.standalone ? "embedded" : "build" };
}

/**
 * Decides which library file to load ({@linkcode chooseLibrary} with `NETKIT_LIB`, the kernel's
 * `AT_SECURE` and the built-in library), printing its warning on stderr. Requires
 * `--allow-env=NETKIT_LIB` (a denied read counts as unset) and, when it is set, a read of
 * `/proc/self/auxv` (which Deno allows with `--allow-all`; a denied read counts as elevated).
 */
export function libraryLocation(): LibraryLocation {
  let override: string | undefined;
  try {
    override = Deno.env.get("NETKIT_LIB");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
  }
  const choice = chooseLibrary(override, () => secureExecution(readAuxv()), builtInLocation());
  if (choice.warning !== undefined) {
    Deno.stderr.writeSync(new TextEncoder().encode(choice.warning + "\n"));
  }
  return choice.location;
}

/** A libnetkit symbol name. */
type SymbolName = keyof typeof SYMBOLS;

/**
 * Bound when the library opens: `nk_version`, which proves the file is a libnetkit, and the
 * non-blocking functions, which Deno calls through the handle (they cost nothing to bind).
 */
const AT_OPEN = Object.fromEntries(
  Object.entries(SYMBOLS).filter(([name, def]) =>
    name === "nk_version" || ("nonblocking" in def && def.nonblocking)
  ),
) as Partial<typeof SYMBOLS>;

/**
 * An opened libnetkit; closing it is safe to repeat. Requires `--allow-ffi`.
 *
 * The synchronous C functions are bound on first use, not at open: Deno compiles a call stub
 * for each (about 0.2 ms, 8 ms for the whole table: a fifth of a client command's start). A
 * library that lacks a symbol this netkit needs is refused when that symbol is first used, with
 * the message of a failed open.
 */
export class NetkitLibrary implements Disposable {
  /** Keeps the library mapped for every bound function (dlopen counts references). */
  readonly #lib: Deno.DynamicLibrary<Partial<typeof SYMBOLS>>;
  readonly #symbols: NetkitSymbols;
  #closed = false;
  /** Where it was loaded from. */
  readonly location: LibraryLocation;

  private constructor(
    lib: Deno.DynamicLibrary<Partial<typeof SYMBOLS>>,
    location: LibraryLocation,
  ) {
    this.#lib = lib;
    this.location = location;
    const symbols: Partial<Record<SymbolName, unknown>> = { ...lib.symbols };
    for (const name of Object.keys(SYMBOLS) as SymbolName[]) {
      if (name in symbols) continue;
      // Replaced by the bound function on first use, so later calls read a plain property.
      Object.defineProperty(symbols, name, {
        configurable: true,
        enumerable: true,
        get: () => {
          const bound = this.#bind(name);
          Object.defineProperty(symbols, name, { value: bound, enumerable: true });
          return bound;
        },
      });
    }
    this.#symbols = symbols as NetkitSymbols;
  }

  /** Opens the library at `location`, or throws a {@linkcode NetkitError} saying how to fix it. */
  static open(location: LibraryLocation = libraryLocation()): NetkitLibrary {
    let lib: Deno.DynamicLibrary<Partial<typeof SYMBOLS>>;
    try {
      lib = Deno.dlopen(location.path, AT_OPEN);
    } catch (err) {
      throw new NetkitError(loadFailureMessage(location, err), { cause: err });
    }
    return new NetkitLibrary(lib, location);
  }

  /**
   * Binds the synchronous C function `name` through a handle of its own, closed at once: a
   * synchronous function keeps its own call data, and the code stays mapped as long as `#lib`
   * is open. Closing it also keeps a test's resource sanitizer from seeing a library opened by
   * the first call. (Deno is pinned, and tests/ffi_test.ts calls functions bound this way.)
   */
  #bind<K extends SymbolName>(name: K): NetkitSymbols[K] {
    if (this.#closed) throw new Error(`libnetkit is closed; cannot bind ${name}`);
    let handle: Deno.DynamicLibrary<Pick<typeof SYMBOLS, K>>;
    try {
      handle = Deno.dlopen(
        this.location.path,
        { [name]: SYMBOLS[name] } as Pick<typeof SYMBOLS, K>,
      );
    } catch (err) {
      throw new NetkitError(loadFailureMessage(this.location, err), { cause: err });
    }
    const bound = handle.symbols[name] as NetkitSymbols[K];
    handle.close();
    return bound;
  }

  /** The C functions, each bound on first use. */
  get symbols(): NetkitSymbols {
    return this.#symbols;
  }

  /** The library's version string, e.g. `"0.1.0"`. */
  version(): string {
    const ptr = this.#symbols.nk_version();
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
