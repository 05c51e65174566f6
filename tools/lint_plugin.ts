/**
 * House lint rules that `deno lint` has no built-in rule for.
 *
 * @module
 */

const plugin: Deno.lint.Plugin = {
  name: "netkit",
  rules: {
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
