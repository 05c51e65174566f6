/**
 * Unions tagged by a `kind` field, as the ND and DHCPv6 options and messages are: finding the
 * member of a kind, typed as that member.
 *
 * @example
 * ```ts
 * import { findOfKind, type NdOption } from "./mod.ts";
 *
 * const options: NdOption[] = [{ kind: "mtu", mtu: 1500 }];
 * findOfKind(options, "mtu")?.mtu; // 1500
 * ```
 *
 * @module
 */

/** The first item of `kind` in `items`, narrowed to that member of the union, or undefined. */
export function findOfKind<T extends { kind: string }, K extends T["kind"]>(
  items: readonly T[],
  kind: K,
): (T & { kind: K }) | undefined {
  return items.find((item): item is T & { kind: K } => item.kind === kind);
}
