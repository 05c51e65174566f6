/**
 * The fabric as a picture in the terminal: each spine a horizontal rail, one above the other;
 * the leaves in a row below; each open adjacency a vertical drop from its spine's rail (a `+`
 * where it leaves the rail) down to its leaf's box. A leaf's drops are in the spines' order, so
 * a missing link leaves a gap where its drop would be. A drop crossing a lower spine's rail is
 * drawn as `|` through it, never as a junction, so no two lines can be mistaken for one.
 * Plain ASCII, no colour: it reads the same in a pipe, a log or a terminal. Pure.
 *
 * ```
 * [ s1 ]--+--------+--------+-----
 * [ s2 ]--|--+-----|--+-----|--+--
 *         |  |     |  |     |  |
 *        [ l1 ]   [ l2 ]   [ l3 ]
 * ```
 *
 * @example
 * ```ts
 * import { drawFabric } from "./lsoe_picture.ts";
 *
 * const picture = drawFabric(["s1"], ["l1", "l2"], [{ spine: "s1", leaf: "l1" }]);
 * console.log(picture.join("\n"));
 * ```
 *
 * @module
 */

/** One line of the picture: an open adjacency between a spine and a leaf. */
export interface FabricLine {
  /** The spine's name. */
  spine: string;
  /** The leaf's name. */
  leaf: string;
}

/** Columns from one spine's drop to the next spine's under the same leaf. */
const DROP_SPACING = 3;
/** Columns between two leaves' boxes. */
const LEAF_GAP = 3;
/** Rail drawn before the first drop and after the last. */
const RAIL_END = 2;

/** `[ name ]`, padded inside to `width`. */
function box(name: string, width: number): string {
  const pad = width - 2 - name.length;
  return `[${" ".repeat(Math.floor(pad / 2))}${name}${" ".repeat(Math.ceil(pad / 2))}]`;
}

/**
 * The picture of `spines` over `leaves` with a drop for each of `lines` (names not in either
 * row are left out), as lines of text without trailing spaces: one rail per spine, a row of
 * drops, the leaves' boxes.
 */
export function drawFabric(
  spines: readonly string[],
  leaves: readonly string[],
  lines: readonly FabricLine[],
): string[] {
  const longest = (names: readonly string[]) => Math.max(1, ...names.map((n) => n.length));
  const spineBox = longest(spines) + 4;
  // Wide enough for the name and for one drop per spine, centred over it.
  const drops = Math.max(0, spines.length - 1) * DROP_SPACING + 1;
  const leafBox = Math.max(longest(leaves) + 4, drops + 2);
  const dropOffset = Math.floor((leafBox - drops) / 2);
  // The first leaf's first drop leaves RAIL_END of rail after the spines' boxes.
  const firstLeaf = Math.max(0, spineBox + RAIL_END - dropOffset);
  const leafX = leaves.map((_, i) => firstLeaf + i * (leafBox + LEAF_GAP));
  const dropX = (spine: number, leaf: number) => leafX[leaf]! + dropOffset + spine * DROP_SPACING;
  const railEnd = leaves.length === 0
    ? spineBox + RAIL_END
    : dropX(spines.length - 1, leaves.length - 1) + RAIL_END + 1;

  const rails = spines.map((
    name,
  ) => [...box(name, spineBox).padEnd(spineBox), ..."-".repeat(railEnd - spineBox)]);
  const dropRow = Array<string>(railEnd).fill(" ");
  for (const { spine, leaf } of lines) {
    const s = spines.indexOf(spine);
    const l = leaves.indexOf(leaf);
    if (s < 0 || l < 0) continue;
    const x = dropX(s, l);
    rails[s]![x] = "+";
    for (const below of rails.slice(s + 1)) below[x] = "|";
    dropRow[x] = "|";
  }
  return [
    ...rails.map((rail) => rail.join("")),
    dropRow.join("").trimEnd(),
    leaves.map((name, i) => " ".repeat(i === 0 ? leafX[0]! : LEAF_GAP) + box(name, leafBox))
      .join(""),
  ];
}
