/**
 * Testing total packet decoders (those returning `Decoded<T>`): unwrapping a result, naming a
 * refusal, and fuzzing with truncations and bit flips of good packets from a seeded PRNG (a
 * failure replays), run through bytes that throw on any read past their end, since a plain
 * `Uint8Array` quietly yields `undefined` (0 after a bit operation) there.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Decoded, MalformedPacketError } from "../lib/packet/mod.ts";

/** The value of a decoder's result; throws the refusal, so the test fails with its message. */
export function decoded<T>(result: Decoded<T>): T {
  if (result instanceof MalformedPacketError) throw result;
  return result;
}

/** The reason of a decoder's refusal; fails the test when the decoder returned a value. */
export function refusalReason(result: unknown): string {
  assert.ok(result instanceof MalformedPacketError, `expected a refusal, got ${result}`);
  return result.reason;
}

/** `value` with every byte view turned into a plain array, to `deepEqual` results across copies. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * `bytes` behind a proxy that throws a `RangeError` when an index at or past its length (or a
 * negative one) is read. Methods run on the real array, so views made with `subarray` are plain,
 * unless `guardViews`: then they are strict too, for decoders that read nested parts (options,
 * sub-options) through views and never hand a view to a platform API (`TextDecoder` refuses a
 * proxy).
 */
export function strictBytes(bytes: Uint8Array, guardViews = false): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === "string" && (INDEX.test(prop) || prop.startsWith("-"))) {
        const index = Number(prop);
        if (!(index >= 0 && index < target.length)) {
          throw new RangeError(`read of byte ${prop} of ${target.length}`);
        }
        return target[index];
      }
      if (guardViews && prop === "subarray") {
        return (start?: number, end?: number) => strictBytes(target.subarray(start, end), true);
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** `seed` cut at every length, then `mutations` copies with 1 to 4 bytes changed at random. */
export function mutants(seed: Uint8Array, random: () => number, mutations: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let length = 0; length < seed.length; length++) out.push(seed.slice(0, length));
  for (let n = 0; n < mutations; n++) {
    const copy = seed.slice();
    const changes = 1 + Math.floor(random() * 4);
    for (let c = 0; c < changes && copy.length > 0; c++) {
      const at = Math.floor(random() * copy.length);
      // Half single-bit flips, half whole random bytes (lengths, codes, counts).
      copy[at] = random() < 0.5
        ? copy[at]! ^ (1 << Math.floor(random() * 8))
        : Math.floor(random() * 256);
    }
    out.push(copy);
  }
  return out;
}

/**
 * Runs `decode` over the mutants of every seed with reads past the end caught (in views too with
 * `guardViews`, see {@linkcode strictBytes}): it must return a value or a
 * {@linkcode MalformedPacketError} and never throw. Returns how many were refused.
 */
export function fuzzDecoder(
  decode: (bytes: Uint8Array) => unknown,
  seeds: readonly Uint8Array[],
  options: { seed?: number; mutations?: number; guardViews?: boolean } = {},
): { cases: number; refused: number } {
  const random = prng(options.seed ?? 0x5eed);
  let cases = 0;
  let refused = 0;
  for (const seed of seeds) {
    for (const bytes of mutants(seed, random, options.mutations ?? 500)) {
      cases++;
      let result: unknown;
      try {
        result = decode(strictBytes(bytes, options.guardViews));
      } catch (err) {
        assert.fail(`decoder threw on [${bytes.join(",")}]: ${err}`);
      }
      if (result instanceof MalformedPacketError) refused++;
    }
  }
  return { cases, refused };
}
