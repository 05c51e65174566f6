import assert from "node:assert/strict";
import plugin from "./lint_plugin.ts";

function ruleIds(source: string): string[] {
  return Deno.lint.runPlugin(plugin, "example.ts", source).map((d) => d.id);
}

Deno.test("netkit/no-default-export reports every form of default export", () => {
  assert.deepEqual(ruleIds("export default function f() {}\n"), ["netkit/no-default-export"]);
  assert.deepEqual(ruleIds("const x = 1;\nexport default x;\n"), ["netkit/no-default-export"]);
  assert.deepEqual(ruleIds("const x = 1;\nexport { x as default };\n"), [
    "netkit/no-default-export",
  ]);
});

Deno.test("netkit/no-default-export accepts named exports", () => {
  assert.deepEqual(
    ruleIds("export function f() {}\nexport const y = 2;\nconst z = 3;\nexport { z };\n"),
    [],
  );
});
