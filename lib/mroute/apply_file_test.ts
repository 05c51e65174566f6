import assert from "node:assert/strict";
import { checkApplyText, routeOffsets } from "./apply_file.ts";

const ROUTES = `{
  "vifs": ["eth9"],
  "routes": [
    {"group": "239.1.1.1", "iif": "eth1", "oifs": ["eth2"]},
    {"source": "10.1.1.5", "group": "239.1.1.2", "iif": "eth1", "oifs": ["eth2:4", "eth3"]}
  ]
}
`;

Deno.test("routeOffsets finds where each route begins, past strings holding brackets and commas", () => {
  const text =
    `{"note": "[x, \\"routes\\"]", "routes": [ {"a": [1, 2]} ,\n"s", 3 ], "vifs": ["x"]}`;
  assert.deepEqual(routeOffsets(text).map((o) => text.slice(o, o + 3)), ['{"a', '"s"', "3 ]"]);
  assert.deepEqual(routeOffsets(`{"routes": []}`), []);
  assert.deepEqual(routeOffsets(`{"vifs": [1, 2]}`), []);
});

Deno.test("checkApplyText gives the normalized state of a valid file", () => {
  const checked = checkApplyText(ROUTES);
  assert.ok(checked.ok);
  assert.deepEqual(checked.state.vifs, ["eth9"]);
  assert.deepEqual(checked.state.routes.map((r) => r.json), [
    '{"group":"239.1.1.1","iif":"eth1","oifs":["eth2"]}',
    '{"source":"10.1.1.5","group":"239.1.1.2","iif":"eth1","oifs":["eth2:4","eth3"]}',
  ]);
});

Deno.test("checkApplyText names the line and number of each bad route, the first five", () => {
  const routes = Array.from(
    { length: 8 },
    (_, i) =>
      i === 1
        ? `{"group": "10.0.0.1", "iif": "eth1", "oifs": ["eth2"]}`
        : `{"group": "239.0.0.${i}", "iif": "eth1", "oifs": ["eth1"]}`,
  );
  const text = `{"routes": [\n${routes.join(",\n")}\n]}`;
  const checked = checkApplyText(text);
  assert.ok(!checked.ok);
  assert.equal(checked.errors.length, 5);
  assert.equal(
    checked.errors[0],
    "line 2: route 1: Invalid argument: Output interface 'eth1' is also the input interface.",
  );
  assert.equal(
    checked.errors[1],
    "line 3: route 2: Invalid argument: Group '10.0.0.1' is not a multicast address (224.0.0.0/4).",
  );
  assert.match(checked.errors[4]!, /^line 6: route 5: /);
});

Deno.test("checkApplyText refuses a route given twice, a bad VIF name, bad JSON and a bad shape", () => {
  const twice = checkApplyText(
    `{"routes": [{"group": "239.1.1.1", "iif": "a", "oifs": ["b"]},\n` +
      `{"group": "239.1.1.1", "source": "*", "iif": "c", "oifs": ["d"]}]}`,
  );
  assert.deepEqual(twice, {
    ok: false,
    errors: ["line 2: route 2: (*, 239.1.1.1) is given twice"],
  });
  const vif = checkApplyText(`{"vifs": ["a/b"], "routes": []}`);
  assert.deepEqual(vif, {
    ok: false,
    errors: [`"vifs": Invalid argument: VIF interface 'a/b' is not a valid interface name.`],
  });
  const json = checkApplyText("{routes: oops");
  assert.ok(!json.ok);
  assert.match(json.errors[0]!, /^not JSON: /);
  const shape = checkApplyText(`{"routes": 7}`);
  assert.ok(!shape.ok);
  assert.match(shape.errors[0]!, /^not a multicast routing state: "routes": /);
});
