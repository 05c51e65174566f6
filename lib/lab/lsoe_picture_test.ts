import assert from "node:assert/strict";
import { drawFabric } from "./lsoe_picture.ts";

const SPINES = ["s1", "s2"];
const LEAVES = ["l1", "l2", "l3"];
const ALL = LEAVES.flatMap((leaf) => SPINES.map((spine) => ({ spine, leaf })));

Deno.test("drawFabric draws the whole Clos: spines on top, leaves below, lines between, plain ASCII", () => {
  const picture = drawFabric(SPINES, LEAVES, ALL);
  assert.deepEqual(picture, [
    "         [ s1 ]            [ s2 ]",
    "          /  \\____      ____/  \\",
    "         /    \\   ______   /    \\",
    "        /      \\\\___  ____/      \\\\",
    "      //     ____\\      //___      \\",
    "     /   ____     \\    /     ____   \\",
    "    /____          \\  /          ____\\",
    "[ l1 ]            [ l2 ]            [ l3 ]",
  ]);
  assert.ok(picture.every((l) => /^[ -~]*$/.test(l) && l === l.trimEnd()));
});

Deno.test("drawFabric without links draws only the boxes; unknown names are left out", () => {
  const picture = drawFabric(SPINES, LEAVES, [{ spine: "s9", leaf: "l1" }]);
  assert.equal(picture.length, 8);
  assert.ok(picture.slice(1, -1).every((l) => l === ""));
});

Deno.test("drawFabric: a line straight down is drawn with |, lines of opposite slant cross in X", () => {
  assert.deepEqual(
    drawFabric(["s"], ["a"], [{ spine: "s", leaf: "a" }]).slice(1, -1),
    Array(6).fill("   |"),
  );
  const crossing = drawFabric(["s1", "s2"], ["a", "b"], [{ spine: "s1", leaf: "b" }, {
    spine: "s2",
    leaf: "a",
  }]);
  assert.ok(crossing.some((l) => l.includes("X")), crossing.join("\n"));
});
