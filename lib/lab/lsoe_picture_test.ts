import assert from "node:assert/strict";
import { drawFabric } from "./lsoe_picture.ts";

const SPINES = ["s1", "s2"];
const LEAVES = ["l1", "l2", "l3"];
const ALL = LEAVES.flatMap((leaf) => SPINES.map((spine) => ({ spine, leaf })));

/** Plain printable ASCII, no trailing spaces. */
function assertPlain(picture: readonly string[]): void {
  assert.ok(picture.every((l) => /^[ -~]*$/.test(l) && l === l.trimEnd()), picture.join("\n"));
}

Deno.test("drawFabric draws the whole Clos: a rail per spine, a drop per link, the leaves below, plain ASCII", () => {
  const picture = drawFabric(SPINES, LEAVES, ALL);
  assert.deepEqual(picture, [
    "[ s1 ]--+--------+--------+-----",
    "[ s2 ]--|--+-----|--+-----|--+--",
    "        |  |     |  |     |  |",
    "       [ l1 ]   [ l2 ]   [ l3 ]",
  ]);
  assertPlain(picture);
});

Deno.test("drawFabric with one link missing leaves a gap where its drop was, and nothing else changes", () => {
  const picture = drawFabric(
    SPINES,
    LEAVES,
    ALL.filter((l) => !(l.leaf === "l3" && l.spine === "s2")),
  );
  assert.deepEqual(picture, [
    "[ s1 ]--+--------+--------+-----",
    "[ s2 ]--|--+-----|--+-----|-----",
    "        |  |     |  |     |",
    "       [ l1 ]   [ l2 ]   [ l3 ]",
  ]);
});

Deno.test("drawFabric: a drop through a lower spine's rail is a |, never a junction", () => {
  // Only s1–l2: it crosses s2's rail without touching it.
  assert.deepEqual(drawFabric(SPINES, LEAVES, [{ spine: "s1", leaf: "l2" }]), [
    "[ s1 ]-----------+--------------",
    "[ s2 ]-----------|--------------",
    "                 |",
    "       [ l1 ]   [ l2 ]   [ l3 ]",
  ]);
});

Deno.test("drawFabric without links draws only rails and boxes; unknown names are left out", () => {
  const picture = drawFabric(SPINES, LEAVES, [{ spine: "s9", leaf: "l1" }, {
    spine: "s1",
    leaf: "l9",
  }]);
  assert.deepEqual(picture, [
    "[ s1 ]--------------------------",
    "[ s2 ]--------------------------",
    "",
    "       [ l1 ]   [ l2 ]   [ l3 ]",
  ]);
});

Deno.test("drawFabric fits names of any length and any number of spines", () => {
  const picture = drawFabric(["spine-one", "s2", "s3"], ["a", "leaf-long-name"], [
    { spine: "s2", leaf: "a" },
    { spine: "spine-one", leaf: "leaf-long-name" },
    { spine: "s3", leaf: "a" },
  ]);
  assert.deepEqual(picture, [
    "[ spine-one ]-----------------------+--------",
    "[    s2     ]-----+-----------------|--------",
    "[    s3     ]-----|--+--------------|--------",
    "                  |  |              |",
    "          [       a        ]   [ leaf-long-name ]",
  ]);
  assertPlain(picture);
  assert.deepEqual(drawFabric(["s"], ["a"], [{ spine: "s", leaf: "a" }]), [
    "[ s ]--+--",
    "       |",
    "     [ a ]",
  ]);
});
