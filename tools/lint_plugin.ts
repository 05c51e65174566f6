/**
 * House lint rules that `deno lint` has no built-in rule for.
 *
 * @module
 */

/** The checkout this plugin belongs to: the parent of `tools/`. */
const CHECKOUT_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The project's top-level folders, for placing a file that is not under CHECKOUT_ROOT. */
const TOP_LEVEL = new Set(["lib", "ffi", "tests", "testing", "bench", "tools"]);

/**
 * The root of the project tree `filename` belongs to: this checkout, or for a file outside it (a
 * test's temporary tree) the folder above the last top-level folder name in its path.
 */
function treeRoot(filename: string): string {
  if (filename.startsWith(CHECKOUT_ROOT)) return CHECKOUT_ROOT;
  const parts = filename.split("/");
  for (let i = parts.length - 2; i >= 0; i--) {
    if (TOP_LEVEL.has(parts[i]!)) return parts.slice(0, i).join("/") + "/";
  }
  return filename.slice(0, filename.lastIndexOf("/") + 1);
}

/** `path` relative to `root`, e.g. `lib/net/poller.ts`; a path outside it stays absolute. */
function pathInTree(root: string, path: string): string {
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/** Tests and the rigs and benchmarks beside them may reach below any layer. */
function isTestCode(path: string): boolean {
  return path.endsWith("_test.ts") || /^(tests|testing|bench)\//.test(path);
}

/**
 * A string-literal module specifier naming a file (`./`, `../`, `/`, `file:`), resolved against
 * the importing file; null for anything else (bare, `npm:`, `jsr:`, `https:`, not a literal).
 */
function resolveSpecifier(filename: string, specifier: unknown): string | null {
  if (typeof specifier !== "string" || !/^(\.{1,2}\/|\/|file:)/.test(specifier)) return null;
  return decodeURIComponent(new URL(specifier, `file://${encodeURI(filename)}`).pathname);
}

/**
 * Where a file imports from: static imports, re-exports, `import("...")` with a literal, and
 * the type-only forms (`import("...").T` in a type, `import x = require("...")`).
 */
function moduleSources(
  visit: (node: Deno.lint.Node, specifier: unknown) => void,
): Deno.lint.LintVisitor {
  return {
    ImportDeclaration: (node) => visit(node, node.source.value),
    ExportNamedDeclaration: (node) => {
      if (node.source) visit(node, node.source.value);
    },
    ExportAllDeclaration: (node) => visit(node, node.source.value),
    ImportExpression: (node) => {
      if (node.source.type === "Literal") visit(node, node.source.value);
    },
    TSImportType: (node) => {
      if (node.argument.type === "TSLiteralType" && node.argument.literal.type === "Literal") {
        visit(node, node.argument.literal.value);
      }
    },
    TSExternalModuleReference: (node) => {
      if (node.expression.type === "Literal") visit(node, node.expression.value);
    },
  };
}

/** Product code: main.ts, lib/ and ffi/, except the unit tests that sit beside their modules. */
function isProductCode(path: string): boolean {
  return !path.endsWith("_test.ts") && (path === "main.ts" || /^(lib|ffi)\//.test(path));
}

/**
 * `ffi/` files anyone may import: errno names are a table (lib/errors.ts words every OS error
 * with it) and load nothing.
 */
const PURE_FFI_FILES = new Set(["ffi/errno.ts"]);

const plugin: Deno.lint.Plugin = {
  name: "netkit",
  rules: {
    // Only lib/net and ffi/ touch the native library: everything else reaches libnetkit through
    // lib/net, so the layers above stay testable without it and the CLI can avoid loading it.
    "ffi-only-in-lib-net": {
      create(context) {
        const root = treeRoot(context.filename);
        const importer = pathInTree(root, context.filename);
        if (/^(lib\/net|ffi)\//.test(importer) || isTestCode(importer)) return {};
        return moduleSources((node, specifier) => {
          const target = resolveSpecifier(context.filename, specifier);
          if (target === null) return;
          const path = pathInTree(root, target);
          if (!path.startsWith("ffi/") || PURE_FFI_FILES.has(path)) return;
          context.report({
            node,
            message:
              `${importer} imports ${path}: only lib/net/ and ffi/ may touch the native library; use (or add) a lib/net module`,
          });
        });
      },
    },
    // UsageError means "exit 2" to the CLI: lib/cli alone decides exit codes. Below it, invalid
    // input is an InvalidInputError (lib/errors.ts), which lib/cli maps to 2 (exitCodeOf).
    "usage-error-only-in-lib-cli": {
      create(context) {
        const importer = pathInTree(treeRoot(context.filename), context.filename);
        if (importer.startsWith("lib/cli/") || isTestCode(importer)) return {};
        const names = (node: Deno.lint.ImportDeclaration | Deno.lint.ExportNamedDeclaration) =>
          node.specifiers.map((spec) => {
            const name = spec.type === "ImportSpecifier"
              ? spec.imported
              : spec.type === "ExportSpecifier"
              ? spec.local
              : null;
            return name === null ? "" : name.type === "Identifier" ? name.name : name.value;
          });
        const check = (node: Deno.lint.ImportDeclaration | Deno.lint.ExportNamedDeclaration) => {
          if (!names(node).includes("UsageError")) return;
          context.report({
            node,
            message:
              `${importer} imports UsageError: only lib/cli/ maps errors to exit codes; throw InvalidInputError (lib/errors.ts) for invalid input`,
          });
        };
        return {
          ImportDeclaration: check,
          ExportNamedDeclaration: check,
        };
      },
    },
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
        const root = treeRoot(context.filename);
        if (!isProductCode(pathInTree(root, context.filename))) return {};
        return moduleSources((node, specifier) => {
          const target = resolveSpecifier(context.filename, specifier);
          if (target === null || !/^(tests|testing)(\/|$)/.test(pathInTree(root, target))) return;
          context.report({
            node,
            message: `Product code imports test code "${specifier}": main.ts, lib/ and ffi/ ` +
              "never import tests/ or testing/ (only a *_test.ts beside its module may)",
          });
        });
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
