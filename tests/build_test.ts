import assert from "node:assert/strict";
import { skipUnless } from "./skip.ts";

const decoder = new TextDecoder();
const compiled = (() => {
  try {
    return Deno.statSync("dist/netkit").isFile;
  } catch {
    return false;
  }
})();
const denortCached = (() => {
  try {
    Deno.statSync(".deno/dl");
    return true;
  } catch {
    return false;
  }
})();

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

Deno.test({
  name: "make dist without denort says why it cannot build and how, and fails",
  // With denort at hand make dist succeeds, so there is no refusal to see.
  ignore: skipUnless(!denortCached, "denort is cached in .deno/dl: make dist can build"),
  fn() {
    const home = Deno.makeTempDirSync();
    try {
      // An empty HOME hides any ~/.cache/deno copy; DENORT_BIN is cleared explicitly.
      const { code, err } = run("make", ["-s", "dist", "DENORT_BIN="], { HOME: home });
      assert.notEqual(code, 0);
      assert.match(err, /deno compile needs the denort runtime for Deno 2\.9\.6/);
      assert.match(err, /DENORT_BIN=\/path\/to\/denort make dist/);
    } finally {
      Deno.removeSync(home, { recursive: true });
    }
  },
});

Deno.test("make dist with a DENORT_BIN that does not exist names it and fails", () => {
  const { code, err } = run("make", ["-s", "dist", "DENORT_BIN=/nonexistent/denort"]);
  assert.notEqual(code, 0);
  assert.match(err, /DENORT_BIN=\/nonexistent\/denort does not exist/);
});

Deno.test({
  name: "the compiled dist/netkit prints the same help as ./netkit and uses its embedded library",
  ignore: skipUnless(compiled, "no dist/netkit: deno compile needs denort (see make dist)"),
  fn() {
    assert.equal(run("dist/netkit", ["--help"]).out, run("./netkit", ["--help"]).out);
    const version = JSON.parse(run("dist/netkit", ["version", "-j"]).out);
    assert.equal(version.library.source, "embedded");
  },
});
