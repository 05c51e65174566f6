/**
 * House lint rules that `deno lint` has no built-in rule for.
 *
 * @module
 */

// The project root: this file is <root>/tools/lint_plugin.ts (a temporary copy of the layout, as
// tools/lint_plugin_test.ts makes, has its own root).
const PROJECT_ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);

/** `path` relative to the project root, or undefined when it lies outside it. */
function projectPath(path: string): string | undefined {
  return path.startsWith(PROJECT_ROOT) ? path.slice(PROJECT_ROOT.length) : undefined;
}

/** Product code: main.ts, lib/ and ffi/, except the unit tests that sit beside their modules. */
function isProductFile(path: string): boolean {
  const relative = projectPath(path);
  if (relative === undefined || relative.endsWith("_test.ts")) return false;
  return relative === "main.ts" || relative.startsWith("lib/") || relative.startsWith("ffi/");
}

/** Whether `specifier`, imported by the file at `from`, names a file under tests/ or testing/. */
function importsTestCode(from: string, specifier: string): boolean {
  if (!/^(\.{1,2}\/|\/|file:)/.test(specifier)) return false; // bare, npm:, jsr:, https:
  const target = decodeURIComponent(new URL(specifier, `file://${encodeURI(from)}`).pathname);
  const relative = projectPath(target);
  return relative !== undefined && /^(tests|testing)(\/|$)/.test(relative);
}

const plugin: Deno.lint.Plugin = {
  name: "netkit",
  rules: {
    // A test is skipped only for a stated reason: `ignore` must be needs(...) or skipUnless(...)
    // from tests/skip.ts, which record it for make test's summary.
    "test-ignore-states-reason": {
      create(context) {
        // needs(...), skipUnless(...), or several of them joined by ||.
        const statesReason = (node: Deno.lint.Node): boolean =>
          node.type === "LogicalExpression"
            ? node.operator === "||" && statesReason(node.left) && statesReason(node.right)
            : node.type === "CallExpression" && node.callee.type === "Identifier" &&
              (node.callee.name === "needs" || node.callee.name === "skipUnless");
        const isDenoTest = (node: Deno.lint.Node): boolean =>
          node.type === "MemberExpression" && node.object.type === "Identifier" &&
          node.object.name === "Deno" && node.property.type === "Identifier" &&
          node.property.name === "test";
        return {
          CallExpression(node) {
            const callee = node.callee;
            if (
              callee.type === "MemberExpression" && isDenoTest(callee.object) &&
              callee.property.type === "Identifier" && callee.property.name === "ignore"
            ) {
              context.report({
                node,
                message: "Deno.test.ignore skips without a reason: use ignore: needs(...)",
              });
              return;
            }
            if (!isDenoTest(callee)) return;
            for (const arg of node.arguments) {
              if (arg.type !== "ObjectExpression") continue;
              for (const property of arg.properties) {
                if (
                  property.type !== "Property" || property.key.type !== "Identifier" ||
                  property.key.name !== "ignore"
                ) continue;
                if (!statesReason(property.value)) {
                  context.report({
                    node: property,
                    message:
                      "A test's ignore must be needs(...) or skipUnless(...) from tests/skip.ts, so the skip has a reason",
                  });
                }
              }
            }
          },
        };
      },
    },
    // Test rigs and helpers stay out of what ships: main.ts, lib/ and ffi/ never import tests/
    // or testing/ (statically, dynamically or for types); a *_test.ts beside its module may.
    "product-never-imports-tests": {
      create(context) {
        if (!isProductFile(context.filename)) return {};
        const check = (source: Deno.lint.Node | null | undefined): void => {
          if (source?.type !== "Literal" || typeof source.value !== "string") return;
          if (!importsTestCode(context.filename, source.value)) return;
          context.report({
            node: source,
            message: `Product code imports test code "${source.value}": main.ts, lib/ and ffi/ ` +
              "never import tests/ or testing/ (only a *_test.ts beside its module may)",
          });
        };
        return {
          ImportDeclaration: (node) => check(node.source),
          ExportAllDeclaration: (node) => check(node.source),
          ExportNamedDeclaration: (node) => check(node.source),
          ImportExpression: (node) => check(node.source),
          TSImportType: (node) =>
            check(node.argument.type === "TSLiteralType" ? node.argument.literal : null),
          TSExternalModuleReference: (node) => check(node.expression),
        };
      },
    },
    "no-default-export": {
      create(context) {
        return {
          ExportDefaultDeclaration(node) {
            context.report({
              node,
              message: "Default exports are not allowed: use a named export",
            });
          },
          ExportNamedDeclaration(node) {
            for (const spec of node.specifiers) {
              if (spec.exported.type === "Identifier" && spec.exported.name === "default") {
                context.report({
                  node: spec,
                  message: 'Exporting a binding as "default" is not allowed',
                });
              }
            }
          },
        };
      },
    },
  },
};

// Deno loads lint plugins through their default export; this file is the one exception.
// deno-lint-ignore netkit/no-default-export
export default plugin;
