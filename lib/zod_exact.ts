/**
 * The pattern every zod schema at netkit's edges follows: the type is declared and documented
 * in TypeScript, the schema that checks it stays private, and {@linkcode exactly} makes the
 * compiler prove that the two agree in both directions. A schema other modules need is exported
 * as a {@linkcode Schema} of the declared type, so its doc page shows that type, not zod's
 * inferred one.
 *
 * Pure and type-level: it loads nothing but zod's types.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { exactly, type Schema } from "./zod_exact.ts";
 *
 * // A port range: its first port, and its last when more than one (`| undefined`: what
 * // zod's `optional()` parses to, with `exactOptionalPropertyTypes`).
 * interface Range {
 *   from: number;
 *   to?: number | undefined;
 * }
 * const RangeSchema: Schema<Range> = exactly<Range>()(
 *   z.object({ from: z.number().int(), to: z.number().int().optional() }),
 * );
 * // Leaving out `to`, or checking a field `Range` lacks, would not compile.
 * assert.deepEqual(RangeSchema.parse({ from: 80 }), { from: 80 });
 * ```
 *
 * @module
 */

import type { z } from "zod";

/**
 * A zod schema that parses to `T`: how an exported schema is typed.
 *
 * Hidden from `deno doc` on purpose: deno doc 2.9 reports every type from an npm package as a
 * private type (denoland/deno#27364, fixed upstream), and zod documents `ZodType` itself. Public
 * symbols that name this alias are documented as usual.
 *
 * @ignore
 */
export type Schema<T> = z.ZodType<T>;

/** Whether `A` and `B` are the same type (not merely assignable to each other). */
type Same<A, B> = (<G>() => G extends A ? 1 : 2) extends (<G>() => G extends B ? 1 : 2) ? true
  : false;

/**
 * `S` when it parses to exactly `T`; otherwise a type `S` cannot satisfy, whose `parsesTo`
 * names what `S` does parse to, so the compiler's message shows the difference.
 *
 * Hidden from `deno doc` for the reason {@linkcode Schema} is.
 *
 * @ignore
 */
export type ExactSchema<S extends z.ZodType, T> =
  & S
  & (Same<z.output<S>, T> extends true ? unknown : { parsesTo: z.output<S> });

/**
 * Types `schema` as the schema of `T`, after the compiler has checked that what it parses to is
 * exactly `T`. A plain `z.ZodType<T>` annotation would only check one direction, so a field
 * the schema checks but `T` lacks (or an optional one `T` has and the schema drops) would pass.
 * Curried so that `T` is given and the schema's own type inferred. Returns `schema` itself: no
 * run-time cost.
 */
export function exactly<T>(): <S extends Schema<T>>(schema: ExactSchema<S, T>) => Schema<T> {
  return (schema) => schema;
}
