import assert from "node:assert/strict";
import { NetkitError } from "../errors.ts";
import { checkPrivileges } from "./privileges.ts";
import { type Capability, requireCapabilities } from "./require.ts";
import { type CheckResult, checkResult, type CheckStatus, usable } from "./result.ts";

function fake(statuses: Record<string, CheckStatus>): (c: Capability) => CheckResult {
  return (c) => checkResult(c, "kernel", statuses[c] ?? "ok", `${c} is ${statuses[c] ?? "ok"}`);
}

Deno.test("requireCapabilities names the first missing capability, the command and doctor", () => {
  const check = fake({ veth: "ok", ipv4_mroute: "missing", ping: "missing" });
  assert.throws(
    () => requireCapabilities("netkit lab mroute", ["veth", "ipv4_mroute", "ping"], check),
    (err: unknown) =>
      err instanceof NetkitError && err.exitCode === 1 &&
      err.message ===
        'netkit lab mroute cannot run here: ipv4_mroute is missing; "netkit doctor" checks this machine',
  );
});

Deno.test("requireCapabilities lets a command run when a probe could not tell or warns", () => {
  // Without privileges a probe cannot tell; the command's own attempt will say what is wrong.
  requireCapabilities(
    "netkit lab lacp",
    ["netns", "hugepages"],
    fake({ netns: "fail", hugepages: "warn" }),
  );
});

Deno.test("usable() takes ok and warn, not missing or fail", () => {
  const statuses: CheckStatus[] = ["ok", "warn", "missing", "fail"];
  assert.deepEqual(
    statuses.map((s) => usable(checkResult("x", "kernel", s, ""))),
    [true, true, false, false],
  );
});

const STATUS = (uid: number, capEff: string) =>
  `Name:\tdeno\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nCapEff:\t${capEff}\n`;

Deno.test("checkPrivileges: root with every capability, without CAP_SYS_ADMIN, without raw sockets", () => {
  assert.equal(checkPrivileges(STATUS(0, "000001ffffffffff")).status, "ok");
  const noSysAdmin = checkPrivileges(STATUS(1000, "0000000000003000"));
  assert.equal(noSysAdmin.status, "warn");
  assert.match(
    noSysAdmin.detail,
    /^uid 1000 with CAP_NET_RAW and CAP_NET_ADMIN, without CAP_SYS_ADMIN$/,
  );
  const none = checkPrivileges(STATUS(1000, "0000000000000000"));
  assert.equal(none.status, "fail");
  assert.equal(none.detail, "uid 1000 without CAP_NET_RAW and CAP_NET_ADMIN");
  assert.match(none.hint!, /setcap cap_net_raw,cap_net_admin\+ep/);
});
