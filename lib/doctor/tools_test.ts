import assert from "node:assert/strict";
import { checkTool, findOnPath, parsePackageList, tools } from "./tools.ts";

Deno.test("parsePackageList reads group, command, package and the rest as who uses it", () => {
  const list = parsePackageList(
    "# comment\n\nbuild  cc      gcc      building libnetkit\n" +
      "  test tshark tshark frame checks, by Wireshark\ntest socat socat\n",
  );
  assert.deepEqual(list, [
    { group: "build", command: "cc", package: "gcc", usedBy: "building libnetkit" },
    { group: "test", command: "tshark", package: "tshark", usedBy: "frame checks, by Wireshark" },
    { group: "test", command: "socat", package: "socat", usedBy: "" },
  ]);
});

Deno.test("parsePackageList names the line that is not group, command and package", () => {
  assert.throws(
    () => parsePackageList("test tshark tshark\nrun ping iputils-ping\n"),
    /debian-packages\.txt:2: expected "group command package"/,
  );
  assert.throws(() => parsePackageList("test onlycommand\n"), /:1: expected/);
});

Deno.test("tools() is the repository's list, with the build tools and each test tool", () => {
  const commands = tools().map((t) => `${t.group} ${t.command} ${t.package}`);
  for (const row of ["build cc gcc", "build ip iproute2", "test tshark tshark"]) {
    assert.ok(commands.includes(row), row);
  }
  assert.equal(new Set(tools().map((t) => t.command)).size, tools().length, "no command twice");
});

Deno.test("findOnPath finds the first executable file and ignores the rest", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/a`);
    Deno.mkdirSync(`${dir}/b`);
    Deno.mkdirSync(`${dir}/c/tool`, { recursive: true }); // a directory is not a program
    Deno.writeTextFileSync(`${dir}/a/tool`, "");
    Deno.chmodSync(`${dir}/a/tool`, 0o644); // not executable
    Deno.writeTextFileSync(`${dir}/b/tool`, "#!/bin/sh\n");
    Deno.chmodSync(`${dir}/b/tool`, 0o755);
    assert.equal(findOnPath("tool", `${dir}/c:${dir}/a::${dir}/b`), `${dir}/b/tool`);
    assert.equal(findOnPath("tool", `${dir}/a:${dir}/c`), null);
    assert.equal(findOnPath("tool", ""), null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkTool reports where a listed tool is, and refuses one the list does not have", () => {
  const sh = checkTool("make");
  assert.equal(sh.group, "tools");
  if (sh.status === "ok") assert.match(sh.detail, /\/make \(make\)$/);
  else assert.equal(sh.detail, "make is not installed (apt-get install make)");
  assert.throws(() => checkTool("no-such-tool"), /"no-such-tool" is not in .*debian-packages\.txt/);
});
