import assert from "node:assert/strict";
import plugin from "./lint_plugin.ts";

const FFI_RULE = "netkit/ffi-only-in-lib-net";
const USAGE_RULE = "netkit/usage-error-only-in-lib-cli";

/** The layer rules' findings for `source` as if it were the file `path` of a project tree. */
function layerFindings(path: string, source: string): string[] {
  return Deno.lint.runPlugin(plugin, `/tmp/netkit-lint/${path}`, source)
    .map((d) => d.id)
    .filter((id) => id === FFI_RULE || id === USAGE_RULE);
}

Deno.test("ffi-only-in-lib-net reports ffi/ imports above lib/net, static, re-exported or dynamic", () => {
  assert.deepEqual(
    layerFindings("lib/mroute/x.ts", 'import { nk } from "../../ffi/native.ts";\n'),
    [
      FFI_RULE,
    ],
  );
  assert.deepEqual(
    layerFindings("lib/cli/x.ts", 'export { library } from "../../ffi/native.ts";\n'),
    [FFI_RULE],
  );
  assert.deepEqual(
    layerFindings(
      "lib/cli/x.ts",
      'export async function f() { await import("../../ffi/library.ts"); }\n',
    ),
    [FFI_RULE],
  );
  assert.deepEqual(layerFindings("main.ts", 'import "./ffi/symbols.ts";\n'), [FFI_RULE]);
  assert.deepEqual(
    layerFindings("lib/l2/x.ts", 'import type { NetkitSymbols } from "../../ffi/symbols.ts";\n'),
    [FFI_RULE],
  );
});

Deno.test("ffi-only-in-lib-net allows lib/net, ffi/, tests, and errno names anywhere", () => {
  const native = 'import { nk } from "../../ffi/native.ts";\n';
  assert.deepEqual(layerFindings("lib/net/x.ts", native), []);
  assert.deepEqual(layerFindings("ffi/x.ts", 'import { nk } from "./native.ts";\n'), []);
  assert.deepEqual(layerFindings("lib/mroute/x_test.ts", native), []);
  assert.deepEqual(layerFindings("tests/x_test.ts", 'import "../ffi/native.ts";\n'), []);
  assert.deepEqual(layerFindings("testing/rig.ts", 'import "../ffi/native.ts";\n'), []);
  assert.deepEqual(layerFindings("bench/x.ts", 'import "../ffi/native.ts";\n'), []);
  assert.deepEqual(
    layerFindings("lib/mroute/x.ts", 'import { Errno } from "../../ffi/errno.ts";\n'),
    [],
  );
  // Only the project's ffi/ folder counts, and bare or remote specifiers are not files here.
  assert.deepEqual(layerFindings("lib/mroute/x.ts", 'import { z } from "zod";\n'), []);
  assert.deepEqual(layerFindings("lib/mroute/x.ts", 'import "./ffi/native.ts";\n'), []);
});

Deno.test("usage-error-only-in-lib-cli reports UsageError imported or re-exported outside lib/cli", () => {
  assert.deepEqual(
    layerFindings("lib/net/x.ts", 'import { UsageError } from "../cli/errors.ts";\n'),
    [USAGE_RULE],
  );
  assert.deepEqual(
    layerFindings("lib/ipc/x.ts", 'import { UsageError as U } from "../cli/errors.ts";\n'),
    [USAGE_RULE],
  );
  assert.deepEqual(
    layerFindings("lib/lacp/x.ts", 'export { UsageError } from "../cli/errors.ts";\n'),
    [USAGE_RULE],
  );
});

Deno.test("usage-error-only-in-lib-cli allows lib/cli, tests, and InvalidInputError anywhere", () => {
  const usage = 'import { UsageError } from "./errors.ts";\n';
  assert.deepEqual(layerFindings("lib/cli/lacp.ts", usage), []);
  assert.deepEqual(layerFindings("lib/l2/x_test.ts", usage), []);
  assert.deepEqual(layerFindings("tests/x_test.ts", usage), []);
  assert.deepEqual(
    layerFindings("lib/net/x.ts", 'import { InvalidInputError } from "../errors.ts";\n'),
    [],
  );
});

Deno.test({
  name: "deno lint with the project's plugin fails on an FFI import in lib/mroute, not in lib/net",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "netkit-lint-" });
    try {
      const write = async (path: string, text: string) => {
        await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
        await Deno.writeTextFile(`${root}/${path}`, text);
      };
      const pluginUrl = new URL("./lint_plugin.ts", import.meta.url).href;
      await write("deno.json", JSON.stringify({ lint: { plugins: [pluginUrl] } }));
      await write("ffi/native.ts", "export const nk = {};\n");
      const importer = 'import { nk } from "../../ffi/native.ts";\nexport const n = nk;\n';
      await write("lib/mroute/x.ts", importer);
      await write("lib/net/x.ts", importer);
      const lint = (file: string) =>
        new Deno.Command(Deno.execPath(), {
          args: ["lint", "--json", `--config=${root}/deno.json`, `${root}/${file}`],
          env: { NO_COLOR: "1" },
        }).output();
      const rejected = await lint("lib/mroute/x.ts");
      assert.equal(rejected.code, 1);
      const report = JSON.parse(new TextDecoder().decode(rejected.stdout));
      assert.deepEqual(report.diagnostics.map((d: { code: string }) => d.code), [FFI_RULE]);
      const accepted = await lint("lib/net/x.ts");
      assert.equal(accepted.code, 0, new TextDecoder().decode(accepted.stdout));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
