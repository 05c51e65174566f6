/**
 * `netkit doctor [-j]`: is this machine ready for netkit? Prints every check with its status,
 * grouped (netkit itself, kernel features, external tools), then a one-line hint per problem.
 * Exits 1 when a check fails (netkit cannot run as it is); a kernel feature or tool that is
 * `missing` only keeps the commands that need it from running, and is not a failure.
 *
 * @module
 */

import type { Command } from "commander";
import type { CheckResult } from "../doctor/result.ts";
import { NetkitError } from "../errors.ts";
import type { CliIo } from "./io.ts";
import { formatTable, printResult } from "./output.ts";
import type { GlobalOptions } from "./global_options.ts";

/** The human form: one table with a group column, then the hints. */
export function formatChecks(checks: readonly CheckResult[]): string {
  const rows = checks.map((c) => [c.group, c.check, c.status, c.detail]);
  const hints = checks
    .filter((c) => c.hint !== undefined && c.status !== "ok")
    .map((c) => `  ${c.check}: ${c.status}: ${c.hint}`);
  return formatTable([["GROUP", "CHECK", "STATUS", "DETAIL"], ...rows]) +
    (hints.length ? `\nhints:\n${hints.join("\n")}\n` : "");
}

/** Adds `netkit doctor`. */
export function register(program: Command, io: CliIo): void {
  program
    .command("doctor")
    .description("check this machine for what netkit needs")
    .action(async (_options, command: Command) => {
      const { runChecks } = await import("../doctor/checks.ts");
      const checks = await runChecks();
      printResult(io, command.optsWithGlobals<GlobalOptions>(), checks, () => formatChecks(checks));
      const failed = checks.filter((c) => c.status === "fail").map((c) => c.check);
      if (failed.length > 0) {
        throw new NetkitError(`${failed.length} check(s) failed: ${failed.join(", ")}`);
      }
    });
}
