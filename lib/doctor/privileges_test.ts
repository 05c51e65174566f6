import assert from "node:assert/strict";
import { NetkitError } from "../errors.ts";
import { requirePrivilege } from "./privileges.ts";

/** A /proc/self/status with uid `uid` and effective capabilities `capEff` (hex). */
function status(uid: number, capEff: string): string {
  return `Name:\tnetkit\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nCapEff:\t${capEff}\n`;
}

Deno.test("requirePrivilege passes with the capability and names it, the command and the fix without", () => {
  // CAP_NET_RAW is bit 13 (0x2000), CAP_NET_ADMIN bit 12 (0x1000).
  requirePrivilege(
    "CAP_NET_RAW",
    "netkit gateway",
    "for its socket",
    status(1000, "0000000000002000"),
  );
  requirePrivilege("CAP_NET_ADMIN", "netkit client", "for its TAP", status(0, "000001ffffffffff"));
  assert.throws(
    () =>
      requirePrivilege(
        "CAP_NET_RAW",
        "netkit gateway",
        'for its packet socket on "eth0"',
        status(1000, "0000000000001000"),
      ),
    (err: unknown) =>
      err instanceof NetkitError &&
      err.message ===
        'netkit gateway needs CAP_NET_RAW for its packet socket on "eth0": run it as root, or ' +
          "grant it: setcap cap_net_raw,cap_net_admin+ep dist/netkit",
  );
});
