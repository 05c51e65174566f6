import assert from "node:assert/strict";
// Loaded before any test runs, as in the CLI, so the sanitizers do not see it as a leak.
import "../ffi/native.ts";
import type { CliIo } from "../lib/cli/io.ts";
import { formatChecks } from "../lib/cli/doctor.ts";
import { run } from "../lib/cli/program.ts";
import { checkResult } from "../lib/doctor/result.ts";
import { tools } from "../lib/doctor/tools.ts";
import { NETKIT_VERSION } from "../lib/version.ts";
import { cli, netkit } from "./_cli.ts";

Deno.test("netkit --help lists every command and exits 0", async () => {
  const { code, out } = await cli("--help");
  assert.equal(code, 0);
  assert.match(out, /^Usage: netkit \[options\] \[command\]/);
  for (const command of ["doctor", "version"]) assert.match(out, new RegExp(`^  ${command} `, "m"));
  for (
    const option of ["--log-level", "--log-file", "--log-format", "--netns", "--json", "--pretty"]
  ) {
    assert.ok(out.includes(option), option);
  }
});

Deno.test("netkit --version prints the version and exits 0", async () => {
  assert.deepEqual(await cli("--version"), { code: 0, out: `netkit ${NETKIT_VERSION}\n`, err: "" });
});

Deno.test("an unknown command is a usage error: one line, exit 2", async () => {
  const { code, err, out } = await cli("frobnicate");
  assert.equal(code, 2);
  assert.equal(out, "");
  assert.equal(err, "netkit: error: unknown command 'frobnicate'\n");
});

Deno.test("an unknown option is a usage error naming the option", async () => {
  const { code, err } = await cli("version", "--frob");
  assert.equal(code, 2);
  assert.equal(err, "netkit: error: unknown option '--frob'\n");
});

Deno.test("an invalid --log-level is a usage error listing the choices", async () => {
  const { code, err } = await cli("--log-level", "loud", "version");
  assert.equal(code, 2);
  assert.match(
    err,
    /^netkit: error: option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are debug, info, warning, error, critical\.\n$/,
  );
});

Deno.test("a runtime failure prints one error line and exits 1", async () => {
  const { code, err } = await cli("-n", "nk-no-such-netns", "version");
  assert.equal(code, 1);
  assert.equal(
    err,
    'netkit: error: Network namespace "nk-no-such-netns" does not exist (no /run/netns/nk-no-such-netns); ' +
      'create it with "ip netns add nk-no-such-netns"\n',
  );
});

Deno.test("an invalid namespace name is a usage error", async () => {
  const { code, err } = await cli("version", "-n", "../etc");
  assert.equal(code, 2);
  assert.equal(err, 'netkit: error: Invalid network namespace name "../etc"\n');
});

Deno.test("netkit version -j prints JSON with every component's version", async () => {
  const { code, out } = await cli("version", "-j");
  assert.equal(code, 0);
  assert.equal(out.split("\n").length, 2, "compact JSON is one line");
  const report = JSON.parse(out);
  assert.equal(report.netkit, NETKIT_VERSION);
  assert.equal(report.deno, Deno.version.deno);
  assert.equal(report.library.version, NETKIT_VERSION);
  assert.equal(report.library.source, "build");
});

Deno.test("-p prints indented JSON, before or after the command", async () => {
  const before = await cli("-p", "version");
  const after = await cli("version", "-p");
  assert.equal(before.out, after.out);
  assert.match(before.out, /^\{\n {2}"netkit": /);
});

Deno.test("netkit doctor -j reports every check with its group and a status", async () => {
  const { out } = await cli("doctor", "-j");
  const checks = JSON.parse(out) as { check: string; group: string; status: string }[];
  const keys = (group: string) => checks.filter((c) => c.group === group).map((c) => c.check);
  // Spelled out rather than taken from PROBES: these keys are a stable interface.
  assert.deepEqual(keys("netkit"), ["library", "privileges", "af_packet", "rtnetlink", "quic"]);
  assert.deepEqual(keys("kernel"), [
    "netns",
    "veth",
    "bridge",
    "bonding",
    "netem",
    "tun",
    "ipv4_mroute",
    "ipv6_mroute",
    "ipv4_mroute_tables",
    "ipv6_mroute_tables",
    "hugetlb",
    "hugepages",
  ]);
  assert.deepEqual(keys("tools"), tools().map((t) => t.command));
  assert.equal(checks.length, 17 + tools().length);
  for (const c of checks) assert.ok(["ok", "warn", "missing", "fail"].includes(c.status), c.check);
  assert.equal(checks[0]!.status, "ok", "library loads");
  assert.equal(checks.find((c) => c.check === "quic")?.status, "ok");
});

Deno.test("netkit doctor prints a table by group, then a hint for each problem", () => {
  const text = formatChecks([
    checkResult("library", "netkit", "ok", "libnetkit 0.1.0"),
    checkResult("ipv4_mroute", "kernel", "missing", "no IPv4 multicast routing", "no mroute"),
    checkResult("tshark", "tools", "ok", "/usr/bin/tshark (tshark)", "never shown when ok"),
  ]);
  assert.equal(
    text,
    "GROUP   CHECK        STATUS   DETAIL\n" +
      "netkit  library      ok       libnetkit 0.1.0\n" +
      "kernel  ipv4_mroute  missing  no IPv4 multicast routing\n" +
      "tools   tshark       ok       /usr/bin/tshark (tshark)\n" +
      "\nhints:\n  ipv4_mroute: missing: no mroute\n",
  );
});

Deno.test("netkit doctor exits 1 only when a check fails, not for a missing feature", () => {
  const { code, out, err } = netkit(["doctor", "-j"]);
  const checks = JSON.parse(out) as { check: string; status: string }[];
  const failed = checks.filter((c) => c.status === "fail").map((c) => c.check);
  assert.equal(code, failed.length > 0 ? 1 : 0, err);
  if (failed.length > 0) assert.match(err, new RegExp(`check\\(s\\) failed: ${failed.join(", ")}`));
});

Deno.test("./netkit prints the same help as main.ts run in-process", async () => {
  const built = netkit(["--help"]);
  assert.equal(built.code, 0);
  assert.equal(built.out, (await cli("--help")).out);
});

Deno.test("./netkit with a wrong NETKIT_LIB says which file is missing and exits 1", () => {
  const { code, err } = netkit(["version"], { NETKIT_LIB: "/nonexistent/libnetkit.so" });
  assert.equal(code, 1);
  assert.match(
    err,
    /^netkit: error: Cannot load libnetkit: "\/nonexistent\/libnetkit\.so" does not exist; check the NETKIT_LIB environment variable\n$/,
  );
});

Deno.test("./netkit --log-format json --log-file writes JSON lines to the file", () => {
  const file = Deno.makeTempFileSync({ suffix: ".log" });
  try {
    const { code } = netkit([
      "--log-format",
      "json",
      "--log-file",
      file,
      "-n",
      "nk-absent",
      "version",
    ]);
    assert.equal(code, 1);
    // Nothing logs on this path yet; the file sink must still be valid and empty or JSON lines.
    for (const line of Deno.readTextFileSync(file).split("\n").filter(Boolean)) JSON.parse(line);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("a reader that stops reading ends netkit quietly with 141, as SIGPIPE would", async () => {
  const io: CliIo = {
    out: () => {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
    err: () => {
      throw new Error("nothing may be written to stderr");
    },
  };
  assert.equal(await run(["version"], io), 141);
});
