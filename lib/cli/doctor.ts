/**
 * `netkit doctor [-j]`: is this machine ready for netkit? Exits 1 when a check fails.
 *
 * @module
 */

import type { Command } from "commander";
import { NetkitError } from "../errors.ts";
import type { CliIo } from "./io.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./program.ts";

/** Adds `netkit doctor`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("doctor")
    .description("check this machine for what netkit needs")
    .action(async (_options, command: Command) => {
      const { runChecks } = await import("../doctor/checks.ts");
      const checks = await runChecks();
      printResult(io, command.optsWithGlobals<GlobalOptions>(), checks, () => {
        const rows = checks.map((c) => [c.check, c.status, c.detail]);
        const hints = checks.filter((c) => c.hint).map((c) => `  ${c.check}: ${c.hint}`);
        return formatTable(rows) + (hints.length ? `\nhints:\n${hints.join("\n")}\n` : "");
      });
      const failed = checks.filter((c) => c.status === "fail").map((c) => c.check);
      if (failed.length > 0) {
        throw new NetkitError(`${failed.length} check(s) failed: ${failed.join(", ")}`);
      }
    });
}
