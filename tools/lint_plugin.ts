/**
 * House lint rules that `deno lint` has no built-in rule for.
 *
 * @module
 */

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
