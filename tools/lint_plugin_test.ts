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

Deno.test("netkit/test-ignore-states-reason accepts needs() and skipUnless() as a test's ignore", () => {
  assert.deepEqual(
    ruleIds(
      'Deno.test({ name: "a", ignore: needs("root", "veth"), fn() {} });\n' +
        'Deno.test({ name: "b", ignore: skipUnless(ok, "why"), fn() {} });\n' +
        'Deno.test("c", () => {});\nDeno.test({ name: "d", fn() {} });\n' +
        'Deno.test({ name: "e", ignore: needs("root") || skipUnless(ok, "why"), fn() {} });\n',
    ),
    [],
  );
});

Deno.test("netkit/test-ignore-states-reason reports an ignore that gives no reason", () => {
  const rule = "netkit/test-ignore-states-reason";
  assert.deepEqual(ruleIds('Deno.test({ name: "a", ignore: true, fn() {} });\n'), [rule]);
  assert.deepEqual(ruleIds('const x = f();\nDeno.test({ name: "a", ignore: x, fn() {} });\n'), [
    rule,
  ]);
  assert.deepEqual(ruleIds('Deno.test({ name: "a", ignore: !ok(), fn() {} });\n'), [rule]);
  assert.deepEqual(ruleIds('Deno.test({ name: "a", ignore: needs("root") || x, fn() {} });\n'), [
    rule,
  ]);
  assert.deepEqual(
    ruleIds('Deno.test({ name: "a", ignore: needs("a") && needs("b"), fn() {} });\n'),
    [
      rule,
    ],
  );
  assert.deepEqual(ruleIds('Deno.test.ignore("a", () => {});\n'), [rule]);
});
