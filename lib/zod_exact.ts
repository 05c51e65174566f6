/**
 * A compile-time check that a schema parses to exactly a declared type. Modules that export a
 * documented type and validate it with a zod schema (the L2 control messages, the daemons'
 * contracts) keep the two from drifting apart with it. Pure, and it imports nothing: any schema
 * with a `parse` method is checked by what that method returns.
 *
 * @module
 */

/** Whether `A` and `B` are the same type (not merely assignable to each other). */
export type Same<A, B> = (<G>() => G extends A ? 1 : 2) extends (<G>() => G extends B ? 1 : 2)
  ? true
  : false;

/** A schema, as far as this check needs one: it parses input to a `T`, or throws. */
export interface ParsingSchema<T> {
  /** The input checked and typed. */
  parse(input: unknown): T;
}

/** What schema `S` parses to. */
export type ParsesTo<S> = S extends { parse(input: unknown, ...rest: never[]): infer O } ? O
  : never;

/**
 * Returns `schema` itself, after the compiler has checked that what it parses to is exactly
 * `T`. A plain `z.ZodType<T>` annotation would only check one direction, so a field the schema
 * checks but `T` lacks (or an optional one `T` has and the schema drops) would pass. Curried so
 * that `T` is given and the schema's own type inferred:
 * `exactly<Role>()(z.enum(["gateway", "client"]))`.
 */
export function exactly<T>(): <S extends ParsingSchema<T>>(
  schema: S & (Same<ParsesTo<S>, T> extends true ? unknown : { parsesTo: ParsesTo<S> }),
) => S {
  return (schema) => schema;
}
