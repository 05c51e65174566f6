/**
 * tshark as the reference decoder in tests: frames netkit encodes are written to a temporary
 * capture and tshark's reading of them is compared field by field.
 *
 * Requires `--allow-run=tshark` and `--allow-read`/`--allow-write` of the temporary directory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PcapWriter } from "../lib/packet/mod.ts";

/** How {@linkcode tsharkFields} asks tshark for its fields. */
export interface TsharkFieldsOptions {
  /**
   * Joins the occurrences of a field that appears more than once (default `;`; tshark 4.0 reads
   * `/` as an escape and prints `\`).
   */
  aggregator?: string;
  /** `-o` preferences, e.g. `ip.check_checksum:TRUE`. */
  preferences?: string[];
}

/** Runs tshark over the capture at `path`: one row of `fields` values per frame. */
export function tsharkFields(
  path: string,
  fields: readonly string[],
  options: TsharkFieldsOptions = {},
): string[][] {
  const args = ["-r", path, "-T", "fields", "-E", "separator=,"];
  args.push("-E", `aggregator=${options.aggregator ?? ";"}`, "-E", "occurrence=a");
  for (const preference of options.preferences ?? []) args.push("-o", preference);
  for (const field of fields) args.push("-e", field);
  // tshark warns on stderr when run as root; only the exit code matters.
  const out = new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).outputSync();
  assert.equal(out.code, 0, `tshark failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trimEnd().split("\n").map((line) => line.split(","));
}

/** Runs `fn` with the path of a new temporary `.pcap` file and removes the file afterwards. */
export function withTempPcap(fn: (path: string) => void): void {
  const path = Deno.makeTempFileSync({ prefix: "netkit_tshark_", suffix: ".pcap" });
  try {
    fn(path);
  } finally {
    Deno.removeSync(path);
  }
}

/** When the first frame of {@linkcode withPcapOf} was captured (ns since the epoch). */
export const CAPTURE_START_NS = 1_700_000_000_000_000_000n;

/**
 * Runs `fn` with the path of a temporary capture of `frames`, one second apart from
 * {@linkcode CAPTURE_START_NS}, and removes it afterwards.
 */
export function withPcapOf(frames: readonly Uint8Array[], fn: (path: string) => void): void {
  withTempPcap((path) => {
    {
      using pcap = PcapWriter.create(Deno.openSync(path, { write: true, truncate: true }));
      frames.forEach((frame, i) =>
        pcap.write(frame, CAPTURE_START_NS + BigInt(i) * 1_000_000_000n)
      );
    }
    fn(path);
  });
}
