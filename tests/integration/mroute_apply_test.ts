import assert from "node:assert/strict";
import { ipJson } from "../../lib/lab/namespace_lab.ts";
import { MrouteDaemonProcess, MrouteLab } from "./_mroute.ts";
import { needs } from "../skip.ts";

/** More routes than the old 1 MiB request cap carried (about 14,000). */
const ROUTES = 20_000;
/**
 * The target: 100,000 routes make a 5.6 MB file and a 5.0 MB APPLY request (compact
 * route JSON, about 50 bytes a route), one request within the daemon's 16 MiB cap, so the apply
 * stays one transaction. Checked only against the kernel: in the kernel lane each step over
 * 100,000 routes (dry run, show) costs 10-17 s.
 */
const MANY_ROUTES = 100_000;

/** The apply file of `count` (*,G) routes from r1 to r2. */
function applyFile(count: number): string {
  const routes = Array.from(
    { length: count },
    (_, i) =>
      `{"group": "239.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}", "iif": "r1", "oifs": ["r2"]}`,
  );
  return `{"routes": [\n${routes.join(",\n")}\n]}\n`;
}

Deno.test({
  name:
    "netkit mroute apply installs 20,000 routes in one atomic APPLY, dry run first, then 100,000",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    const dir = Deno.makeTempDirSync({ prefix: "netkit-mroute-apply-" });
    try {
      await using _daemon = await MrouteDaemonProcess.start(lab, ["--state", `${dir}/state.json`]);
      const desired = `${dir}/desired.json`;
      Deno.writeTextFileSync(desired, applyFile(ROUTES));
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

      const many = `${dir}/many.json`;
      Deno.writeTextFileSync(many, applyFile(MANY_ROUTES));
      const grown = lab.mroute("apply", many);
      assert.equal(grown.code, 0, grown.err);
      assert.match(grown.out, /^Applied: 80000 routes added, 0 changed, 0 removed\.\n/);
      const all = ipJson<{ dst: string }[]>("-n", lab.router, "-4", "mroute", "show");
      assert.equal(all.length, MANY_ROUTES);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
