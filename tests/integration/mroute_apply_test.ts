import assert from "node:assert/strict";
import { ipJson } from "../../lib/lab/namespace_lab.ts";
import { MrouteDaemonProcess, MrouteLab } from "./_mroute.ts";
import { needs } from "../skip.ts";

/** More routes than the old 1 MiB request cap carried (about 14,000). */
const ROUTES = 20_000;

Deno.test({
  name: "netkit mroute apply installs 20,000 routes in one atomic APPLY, dry run first",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const dir = Deno.makeTempDirSync({ prefix: "netkit-mroute-apply-" });
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", `${dir}/state.json`]);
      const routes = Array.from(
        { length: ROUTES },
        (_, i) =>
          `{"group": "239.${1 + (i >> 16)}.${(i >> 8) & 255}.${
            i & 255
          }", "iif": "r1", "oifs": ["r2"]}`,
      );
      const desired = `${dir}/desired.json`;
      Deno.writeTextFileSync(desired, `{"routes": [\n${routes.join(",\n")}\n]}\n`);
      assert.ok(Deno.statSync(desired).size > 1024 * 1024, "the file is larger than the old cap");

      const dry = lab.mroute("apply", desired, "--dry-run");
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /^Dry run: 20000 routes added, 0 changed, 0 removed\.\n/);
      assert.equal(lab.show().routes.length, 0, "a dry run changes nothing");

      const applied = lab.mroute("apply", desired);
      assert.equal(applied.code, 0, applied.err);
      assert.match(applied.out, /^Applied: 20000 routes added, 0 changed, 0 removed\.\n/);
      assert.equal(lab.show().routes.length, ROUTES);
      const kernel = ipJson<{ dst: string }[]>("-n", lab.router, "-4", "mroute", "show");
      assert.equal(kernel.length, ROUTES);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
