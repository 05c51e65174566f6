/**
 * The external programs netkit's builds, tests and labs run, as listed in
 * `tools/debian-packages.txt` (the list `make test` and `.ci/run` install from), and whether each
 * is installed here. The list is read from beside the code, so `deno compile` must embed it
 * (`--include tools/debian-packages.txt`).
 *
 * @module
 */

import { type CheckResult, checkResult } from "./result.ts";

/** One row of `tools/debian-packages.txt`. */
export interface Tool {
  /** `build`: `make` needs it; `test`: tests (and some labs) need it. */
  group: "build" | "test";
  /** The executable that says the package is installed. */
  command: string;
  /** The Debian package that provides it. */
  package: string;
  /** What uses it, for people. */
  usedBy: string;
}

const PACKAGE_LIST = new URL("../../tools/debian-packages.txt", import.meta.url);

/** Parses the package list: `group command package used-by...` per line, `#` comments. */
export function parsePackageList(text: string): Tool[] {
  const tools: Tool[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(build|test)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (match === null) {
      throw new Error(`${PACKAGE_LIST.pathname}:${index + 1}: expected "group command package"`);
    }
    const [, group, command, pkg, usedBy] = match as unknown as [
      string,
      Tool["group"],
      string,
      string,
      string,
    ];
    tools.push({ group, command, package: pkg, usedBy });
  }
  return tools;
}

let list: Tool[] | undefined;

/** The tools of `tools/debian-packages.txt`, read once. */
export function tools(): Tool[] {
  list ??= parsePackageList(Deno.readTextFileSync(PACKAGE_LIST));
  return list;
}

/** Where `command` would be run from: the first executable file of that name on `path`. */
export function findOnPath(
  command: string,
  path: string = Deno.env.get("PATH") ?? "",
): string | null {
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${command}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${command}`;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const results = new Map<string, CheckResult>();

/** Whether `command` (a tool of the package list) is installed, as a check result. */
export function checkTool(command: string): CheckResult {
  let found = results.get(command);
  if (found !== undefined) return found;
  const tool = tools().find((t) => t.command === command);
  if (tool === undefined) throw new Error(`"${command}" is not in ${PACKAGE_LIST.pathname}`);
  const at = findOnPath(command);
  found = at === null
    ? checkResult(
      command,
      "tools",
      "missing",
      `${command} is not installed (apt-get install ${tool.package})`,
      `needed for ${tool.usedBy}`,
    )
    : checkResult(command, "tools", "ok", `${at} (${tool.package})`);
  results.set(command, found);
  return found;
}
