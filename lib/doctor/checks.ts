/**
 * Everything `netkit doctor` checks, in the order users read it: the library, the privileges,
 * the kernel features (`probes.ts`), then the external tools (`tools.ts`). The probes are loaded
 * only once the library is, so a library that does not load is reported rather than fatal.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { checkPrivileges } from "./privileges.ts";
import { type CheckResult, checkResult, probeGroup, PROBES } from "./result.ts";
import { checkTool, tools } from "./tools.ts";

async function checkLibrary(): Promise<CheckResult> {
  try {
    const library = await (await import("../net/native_library.ts")).loadNativeLibrary();
    return checkResult(
      "library",
      "netkit",
      "ok",
      `libnetkit ${library.version} from ${library.path} (${library.source})`,
    );
  } catch (err) {
    return checkResult(
      "library",
      "netkit",
      "fail",
      errorMessage(err),
      "run make, or set NETKIT_LIB to libnetkit.so",
    );
  }
}

/** Runs every check. */
export async function runChecks(): Promise<CheckResult[]> {
  const library = await checkLibrary();
  let probed: CheckResult[];
  if (library.status === "ok") {
    const { probe } = await import("./probes.ts");
    probed = PROBES.map(probe);
  } else {
    probed = [
      checkPrivileges(),
      ...PROBES.filter((key) => key !== "privileges").map((key) =>
        checkResult(key, probeGroup(key), "fail", "not probed: libnetkit is not loaded")
      ),
    ];
  }
  return [library, ...probed, ...tools().map((tool) => checkTool(tool.command))];
}
