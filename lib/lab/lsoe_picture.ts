/**
 * The fabric as a picture in the terminal: spines in a row on top, leaves in a row below, one
 * line per open adjacency. Plain ASCII (`/`, `\`, `|`, `_`, `X` where two lines cross), no
 * colour, so it reads the same in a pipe, a log or a terminal without colour. Pure.
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

/** Columns between two leaves' centres. */
const LEAF_SPACING = 18;
/** Rows between the spines' boxes and the leaves'. */
const LINK_ROWS = 6;

/**
 * The picture of `spines` over `leaves` with a line for each of `lines` (names not in either
 * row are left out), as lines of text without trailing spaces.
 */
export function drawFabric(
  spines: readonly string[],
  leaves: readonly string[],
  lines: readonly FabricLine[],
): string[] {
  const boxWidth = Math.max(...[...spines, ...leaves].map((n) => n.length), 2) + 4;
  const margin = Math.ceil(boxWidth / 2);
  const leafX = leaves.map((_, i) => margin + i * LEAF_SPACING);
  // Spines spread evenly over the leaves' width, centred.
  const span = (leaves.length - 1) * LEAF_SPACING;
  const spineX = spines.map((_, i) =>
    Math.round(margin + (spines.length === 1 ? span / 2 : (i + 0.5) * span / spines.length))
  );
  const width = margin + Math.max(span, ...spineX.map((x) => x - margin)) + margin + 1;
  const grid: string[][] = Array.from({ length: LINK_ROWS }, () => Array(width).fill(" "));
  for (const { spine, leaf } of lines) {
    const s = spines.indexOf(spine);
    const l = leaves.indexOf(leaf);
    if (s < 0 || l < 0) continue;
    drawLine(grid, spineX[s]!, leafX[l]!);
  }
  return [
    boxRow(spines, spineX, boxWidth, width),
    ...grid.map((row) => row.join("").trimEnd()),
    boxRow(leaves, leafX, boxWidth, width),
  ];
}

/** `[ s1 ]` boxes centred on `xs`. */
function boxRow(names: readonly string[], xs: readonly number[], boxWidth: number, width: number) {
  const row = Array<string>(width + boxWidth).fill(" ");
  names.forEach((name, i) => {
    const inner = boxWidth - 2;
    const pad = inner - name.length;
    const text = `[${" ".repeat(Math.floor(pad / 2))}${name}${" ".repeat(Math.ceil(pad / 2))}]`;
    const start = Math.max(0, xs[i]! - Math.floor(boxWidth / 2));
    [...text].forEach((c, j) => row[start + j] = c);
  });
  return row.join("").trimEnd();
}

/**
 * A line from column `top` above the first row to column `bottom` below the last: in each row
 * the cells it passes through, `|` when steep, `/` or `\` when diagonal, `_` when flatter; a
 * cell two lines pass through differently becomes `X`.
 */
function drawLine(grid: string[][], top: number, bottom: number): void {
  const rows = grid.length;
  const xAt = (y: number) => top + (bottom - top) * y / (rows + 1);
  const perRow = Math.abs(bottom - top) / (rows + 1);
  const slant = bottom < top ? "/" : "\\";
  const char = perRow < 0.5 ? "|" : perRow <= 2 ? slant : "_";
  for (let r = 0; r < rows; r++) {
    const from = Math.round(xAt(r + 0.5));
    const to = Math.round(xAt(r + 1.5));
    const [a, b] = from <= to ? [from, to] : [to, from];
    // A vertical line takes one cell a row; a slanted one its whole run, less its far end
    // (the next row starts there).
    const cells = char === "|" ? [Math.round(xAt(r + 1))] : range(a, Math.max(a, b - 1));
    for (const x of cells) {
      const row = grid[r]!;
      if (x < 0 || x >= row.length) continue;
      const old = row[x]!;
      row[x] = old === " " || old === char ? char : "X";
    }
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
