/**
 * Checking total decoders (those returning a `Decoded<T>`) in tests: their results, and fuzzing
 * with every truncation and seeded random bit flips of valid messages, each fed through a guard
 * that throws on any read outside the bytes given, so a decoder that indexes past the end (which
 * JavaScript would quietly answer with `undefined`) fails the test instead of decoding garbage.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Decoded, isMalformed, MalformedPacketError } from "../lib/packet/mod.ts";

/** The value of a decoder's result that must be one; fails naming the reason otherwise. */
export function expectDecoded<T>(result: Decoded<T>): T {
  if (isMalformed(result)) assert.fail(`unexpected ${result.reason}: ${result.message}`);
  return result;
}

/** The reason of a decoder's result that must be a refusal. */
export function malformedReason(result: Decoded<unknown>): string {
  assert.ok(result instanceof MalformedPacketError, "expected a MalformedPacketError");
  return result.reason;
}

/** `value` with every byte view turned into a plain array, for `deepEqual` across copies. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Lowercase hex digits of `bytes`, for compact expectations and messages. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** Thrown by a {@linkcode guardBytes} view when a decoder reads outside it. */
export class OutOfBoundsRead extends Error {
  /** Always `"OutOfBoundsRead"`. */
  override name = "OutOfBoundsRead";
}

const INDEX = /^-?\d+$/;

/**
 * `bytes` behind a proxy that throws {@linkcode OutOfBoundsRead} on an index read outside
 * `0..length-1`; `subarray` gives guarded views too, other methods work on the real array.
 */
export function guardBytes(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string" && INDEX.test(key)) {
        const index = Number(key);
        if (index < 0 || index >= target.length) {
          throw new OutOfBoundsRead(`read of byte ${index} of ${target.length}`);
        }
        return target[index];
      }
      if (key === "subarray") {
        return (start?: number, end?: number) => guardBytes(target.subarray(start, end));
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** How {@linkcode fuzzDecoder} mutates its seeds. */
export interface FuzzOptions {
  /** PRNG seed (default 0x5eed). */
  seed?: number;
  /** Random mutations per valid message (default 300). */
  mutations?: number;
}

/**
 * Feeds `decode` every truncation of each valid message in `valid` and `mutations` seeded
 * random mutations of it (1 to 4 flipped bits, sometimes cut short, sometimes a random byte
 * changed), each through {@linkcode guardBytes}. Fails on any exception, and on a result that is
 * neither a value nor a {@linkcode MalformedPacketError} (`undefined`).
 */
export function fuzzDecoder(
  valid: readonly Uint8Array[],
  decode: (bytes: Uint8Array) => unknown,
  options: FuzzOptions = {},
): void {
  const random = seededRandom(options.seed ?? 0x5eed);
  const run = (bytes: Uint8Array, what: string) => {
    let result: unknown;
    try {
      result = decode(guardBytes(bytes));
    } catch (err) {
      assert.fail(`${what}: the decoder threw ${err} on ${hex(bytes)}`);
    }
    assert.ok(result !== undefined && result !== null, `${what}: no result`);
    if (result instanceof Error) assert.ok(result instanceof MalformedPacketError, `${what}`);
  };
  for (const message of valid) {
    for (let length = 0; length <= message.length; length++) {
      run(message.slice(0, length), `truncated to ${length}`);
    }
    for (let i = 0; i < (options.mutations ?? 300); i++) {
      const bytes = message.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        const bit = Math.floor(random() * bytes.length * 8);
        bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
      }
      if (random() < 0.3) bytes[Math.floor(random() * bytes.length)] = random() * 256;
      const cut = random() < 0.3 ? Math.floor(random() * bytes.length) : bytes.length;
      run(bytes.subarray(0, cut), `mutation ${i}`);
    }
  }
}
