/**
 * `netkit version`: netkit, Deno and libnetkit versions, and where the library came from.
 *
 * @module
 */

import type { Command } from "commander";
import { NetkitError } from "../errors.ts";
import { NETKIT_VERSION } from "../version.ts";
import type { CliIo } from "./io.ts";
import type { GlobalOptions } from "./global_options.ts";
import { type OutputFlags, printResult } from "./output.ts";

/** The `version` report (JSON field names are stable). */
export interface VersionReport {
  netkit: string;
  deno: string;
  v8: string;
  typescript: string;
  library: { version: string; path: string; source: string } | { error: string };
}

/** Collects the versions; the library part reports an error instead of throwing. */
export async function versionReport(): Promise<VersionReport> {
  let library: VersionReport["library"];
  try {
    library = await (await import("../net/native_library.ts")).loadNativeLibrary();
  } catch (err) {
    library = { error: err instanceof Error ? err.message : String(err) };
  }
  return {
    netkit: NETKIT_VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    library,
  };
}

/**
 * Prints the version report (as `flags` ask) and fails, after printing, when libnetkit could not
 * be loaded. `netkit version` with only output flags runs this without commander (program.ts).
 */
export async function printVersion(io: CliIo, flags: OutputFlags): Promise<void> {
  const report = await versionReport();
  printResult(io, flags, report, () => {
    const lib = "error" in report.library
      ? "libnetkit not loaded"
      : `libnetkit ${report.library.version} (${report.library.path}, ${report.library.source})`;
    return `netkit ${report.netkit}\ndeno ${report.deno} (v8 ${report.v8}, typescript ${report.typescript})\n${lib}\n`;
  });
  if ("error" in report.library) throw new NetkitError(report.library.error);
}

/** Adds `netkit version`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("version")
    .description("show the netkit, Deno and libnetkit versions")
    .action((_options, command: Command) =>
      printVersion(io, command.optsWithGlobals<GlobalOptions>())
    );
}
