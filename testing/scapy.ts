/**
 * scapy as an independent frame builder in tests: a Python script builds frames and prints each
 * as one line of hex, and the test compares them with netkit's. Requires `--allow-run` of the
 * Python that scapy's launcher names; tests say `needs("scapy")`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { findOnPath } from "../lib/doctor/tools.ts";

/** The Python that scapy runs under: the interpreter its launcher names. */
export function scapyPython(): string {
  const launcher = findOnPath("scapy");
  assert.ok(launcher !== null, "scapy is not on PATH");
  const shebang = /^#!\s*(\S+)/.exec(Deno.readTextFileSync(launcher));
  return shebang?.[1] ?? "python3";
}

/** Runs `script` under scapy's Python; every line it prints is one frame in hex. */
export function scapyFrames(script: string): Uint8Array[] {
  const out = new Deno.Command(scapyPython(), {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((hex) =>
    Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16))
  );
}
