import assert from "node:assert/strict";
import plugin from "./lint_plugin.ts";

/** One finding of `deno lint --json`: its rule (`netkit/...` for ours), line and message. */
export interface LintDiagnostic {
  code: string;
  line: number;
  message: string;
}

/**
 * Lints `text` as the file at `path` (relative to the project root, e.g. `lib/x.ts`) with a real
 * `deno lint` and the project's plugin, in a temporary copy of the layout (a deno.json naming
 * the plugin, tools/lint_plugin.ts), so rules that look at where a file and its imports are see
 * the same tree as in the project. Returns every diagnostic for the file, built-in rules included.
 */
export async function lintSource(path: string, text: string): Promise<LintDiagnostic[]> {
  const root = await Deno.makeTempDir({ prefix: "netkit-lint-" });
  try {
    await Deno.mkdir(`${root}/tools`);
    await Deno.copyFile(
      new URL("./lint_plugin.ts", import.meta.url),
      `${root}/tools/lint_plugin.ts`,
    );
    await Deno.writeTextFile(
      `${root}/deno.json`,
      JSON.stringify({ lint: { plugins: ["./tools/lint_plugin.ts"] } }),
    );
    const file = `${root}/${path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, text);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["lint", "--json", path],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      diagnostics: { code: string; message: string; range: { start: { line: number } } }[];
      errors: unknown[];
    };
    assert.deepEqual(report.errors, [], "deno lint could not lint the file");
    return report.diagnostics.map((d) => ({
      code: d.code,
      line: d.range.start.line,
      message: d.message,
    }));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The lines `rule` reports in `text` linted as the file at `path`. */
async function reportedLines(rule: string, path: string, text: string): Promise<number[]> {
  return (await lintSource(path, text)).filter((d) => d.code === rule).map((d) => d.line);
}

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

// Every way a module can name another; each line is one import of `target`.
function importsOf(target: string): string {
  return [
    `import { a } from "${target}";`,
    `import type { B } from "${target}";`,
    `export { c } from "${target}";`,
    `export * from "${target}";`,
    `await import("${target}");`,
    `export type D = import("${target}").D;`,
    `export const e = a;`,
  ].join("\n") + "\n";
}

Deno.test("netkit/product-never-imports-tests reports lib/, ffi/ and main.ts importing tests/ or testing/", async () => {
  const rule = "netkit/product-never-imports-tests";
  const everyImport = [1, 2, 3, 4, 5, 6];
  assert.deepEqual(
    await reportedLines(rule, "lib/x.ts", importsOf("../testing/y.ts")),
    everyImport,
  );
  assert.deepEqual(
    await reportedLines(rule, "lib/net/x.ts", importsOf("../../tests/_cli.ts")),
    everyImport,
  );
  assert.deepEqual(
    await reportedLines(rule, "ffi/x.ts", importsOf("../testing/bytes.ts")),
    everyImport,
  );
  assert.deepEqual(await reportedLines(rule, "main.ts", importsOf("./tests/skip.ts")), everyImport);
});

Deno.test("netkit/product-never-imports-tests accepts unit tests beside their modules, tests, bench and lib's own modules", async () => {
  const rule = "netkit/product-never-imports-tests";
  assert.deepEqual(await reportedLines(rule, "lib/x_test.ts", importsOf("../testing/y.ts")), []);
  assert.deepEqual(await reportedLines(rule, "tests/x_test.ts", importsOf("../testing/y.ts")), []);
  assert.deepEqual(await reportedLines(rule, "bench/x.ts", importsOf("../testing/y.ts")), []);
  // lib/testing/ is not the root's testing/; the rest are product modules and packages.
  assert.deepEqual(await reportedLines(rule, "lib/x.ts", importsOf("./testing/y.ts")), []);
  assert.deepEqual(await reportedLines(rule, "lib/x.ts", importsOf("./net/tests.ts")), []);
  assert.deepEqual(await reportedLines(rule, "lib/x.ts", importsOf("npm:testing")), []);
});
