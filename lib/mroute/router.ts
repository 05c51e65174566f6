/**
 * The multicast router's model: the desired routes, VIFs allocated lazily per family (by
 * interface name, lowest free index first, released when nothing uses them), and the kernel
 * changes that make the kernel match, applied as one transaction that is undone on failure.
 * Interfaces that disappear leave their routes waiting; when an interface of that name comes
 * back, its VIF and routes are installed again.
 *
 * The kernel is reached through {@linkcode KernelOps} and interfaces through a lookup function,
 * so the model is tested without root against a fake kernel.
 *
 * @module
 */

import { NetkitError, NetkitOsError } from "../errors.ts";
import { type BatchFailure, type KernelMfc, MAX_VIFS } from "../net/mroute_structs.ts";
import {
  DEFAULT_TTL,
  InvalidRouteError,
  type IpFamily,
  type Route,
  routeName,
  sameRoute,
  withOifs,
} from "./route.ts";
import { plural } from "../text.ts";

/** A kernel route of one family, as the router builds it. */
export interface MfcEntry extends KernelMfc {
  family: IpFamily;
  /** Up to the highest VIF in use. */
  ttls: number[];
}

/** What the router needs from the kernel. Each call throws on failure (NetkitOsError). */
export interface KernelOps {
  addVif(family: IpFamily, vif: number, ifindex: number): void;
  delVif(family: IpFamily, vif: number): void;
  /** Adds or updates entries; returns the indexes that failed with their errno. */
  addMfcs(family: IpFamily, entries: readonly MfcEntry[]): BatchFailure[];
  /** Deletes entries; returns the indexes that failed with their errno. */
  delMfcs(family: IpFamily, entries: readonly MfcEntry[]): BatchFailure[];
}

/** An interface as the router needs to know it. */
export interface InterfaceState {
  ifindex: number;
  multicast: boolean;
}

/** Finds an interface by name in the router's namespace. */
export type InterfaceLookup = (name: string) => InterfaceState | undefined;

/** A VIF: an interface with an index in one family's table. */
export interface Vif {
  family: IpFamily;
  vif: number;
  name: string;
  /** The interface's index while it exists, null while it is gone. */
  ifindex: number | null;
  /** Added explicitly (ADD_VIF): kept even when no route uses it. */
  pinned: boolean;
}

/** How a route stands in the kernel. */
export type RouteState = "installed" | "partial" | "waiting";

/** Something the router did or saw, for subscribers. */
export type RouterEvent =
  | { event: "route_added" | "route_changed" | "route_removed"; route: Route }
  | { event: "vif_added" | "vif_removed"; family: IpFamily; vif: number; name: string }
  | { event: "interface_gone" | "interface_back"; name: string; routes: string[] };

/** The desired state, as the state file and APPLY carry it. */
export interface DesiredState {
  vifs: string[];
  routes: Route[];
}

/** The changes an APPLY makes (what `--dry-run` prints). */
export interface ApplyPlan {
  add: Route[];
  change: { from: Route; to: Route }[];
  remove: Route[];
  pin: string[];
  unpin: string[];
}

/** How ADD_MFC treats an existing route for the same (S,G). */
export type AddMode = "create" | "merge" | "replace";

const FAMILIES: readonly IpFamily[] = [4, 6];

/** A batch of kernel changes and their undo, run as one unit. */
class Transaction {
  readonly #undo: (() => void)[] = [];

  constructor(readonly kernel: KernelOps) {}

  /** Runs `apply`; on success remembers `undo` for a rollback. */
  step(apply: () => void, undo: () => void): void {
    apply();
    this.#undo.push(undo);
  }

  /** Undoes every step so far, newest first; errors while undoing are collected, not thrown. */
  rollback(): unknown[] {
    const errors: unknown[] = [];
    for (const undo of this.#undo.splice(0).reverse()) {
      try {
        undo();
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }
}

function kernelFailure(
  action: string,
  failures: { index: number; errno: number }[],
  routes: Route[],
): NetkitError {
  const first = failures[0]!;
  const route = routes[first.index];
  const more = failures.length > 1 ? ` and ${failures.length - 1} more` : "";
  return new NetkitOsError(
    `Kernel refused to ${action} ${route ? routeName(route) : `entry ${first.index}`}${more}`,
    first.errno,
  );
}

/** A route to install under `key`, new or replacing `old`. */
interface Put {
  key: string;
  route: Route;
  old: Route | undefined;
}

/** Routes to put, and keys of routes to drop (never the key of a route put). */
interface Delta {
  put: Put[];
  drop: string[];
}

/** The interfaces `route` uses: its input, then its outputs. */
function interfacesOf(route: Route): string[] {
  return [route.iif, ...route.oifs.map((o) => o.name)];
}

function countUse(uses: Map<string, number>, name: string, by: 1 | -1): void {
  const n = (uses.get(name) ?? 0) + by;
  if (n === 0) uses.delete(name);
  else uses.set(name, n);
}

/** Adds `by` to the use count of every interface of `route`. */
function countUses(uses: Map<string, number>, route: Route, by: 1 | -1): void {
  countUse(uses, route.iif, by);
  for (const oif of route.oifs) countUse(uses, oif.name, by);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** `routes` sorted by family, group and source (by address, so (*,G) first). */
function sortRoutes(routes: Iterable<Route>): Route[] {
  return [...routes].sort((a, b) =>
    a.family - b.family || compareBytes(a.addresses.group, b.addresses.group) ||
    compareBytes(a.addresses.source, b.addresses.source)
  );
}

/** The router model. */
export class MulticastRouter {
  readonly #kernel: KernelOps;
  readonly #lookup: InterfaceLookup;
  readonly #routes = new Map<string, Route>();
  /** `routes()`'s order, computed again after a change. */
  #sorted: Route[] | null = null;
  #vifs = new Map<IpFamily, Map<string, Vif>>([[4, new Map()], [6, new Map()]]);
  /** Per family, how many times each interface appears in routes (as input or output). */
  #uses = new Map<IpFamily, Map<string, number>>([[4, new Map()], [6, new Map()]]);
  readonly #families: ReadonlySet<IpFamily>;
  readonly #listeners = new Set<(event: RouterEvent) => void>();

  /**
   * Creates an empty router. `families` are those the kernel supports here (a kernel without
   * IPv6 multicast routing serves IPv4 only).
   */
  constructor(
    kernel: KernelOps,
    lookup: InterfaceLookup,
    families: readonly IpFamily[] = FAMILIES,
  ) {
    this.#kernel = kernel;
    this.#lookup = lookup;
    this.#families = new Set(families);
  }

  /** Calls `listener` for every event; returns a function that removes it. */
  onEvent(listener: (event: RouterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: RouterEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Every route, sorted by family, group and source (by address, (*,G) first). */
  routes(): Route[] {
    this.#sorted ??= sortRoutes(this.#routes.values());
    return [...this.#sorted];
  }

  /** The route with this key, if any. */
  route(key: string): Route | undefined {
    return this.#routes.get(key);
  }

  /** Every VIF, by family and index. */
  vifs(): Vif[] {
    return FAMILIES.flatMap((f) => [...this.#vifs.get(f)!.values()].sort((a, b) => a.vif - b.vif));
  }

  /** The VIF of interface `name` in `family`, if allocated. */
  vif(family: IpFamily, name: string): Vif | undefined {
    return this.#vifs.get(family)!.get(name);
  }

  /** How `route` stands in the kernel right now. */
  routeState(route: Route): RouteState {
    const present = (name: string) => (this.vif(route.family, name)?.ifindex ?? null) !== null;
    if (!present(route.iif)) return "waiting";
    return route.oifs.every((o) => present(o.name)) ? "installed" : "partial";
  }

  /** The desired state: pinned VIFs and every route. */
  desiredState(): DesiredState {
    const pinned = new Set(this.vifs().filter((v) => v.pinned).map((v) => v.name));
    return { vifs: [...pinned].sort(), routes: this.routes() };
  }

  /** The VIF index each interface has, per family (kept in the state file for restarts). */
  vifIndexes(): Record<"4" | "6", Record<string, number>> {
    const out = { "4": {} as Record<string, number>, "6": {} as Record<string, number> };
    for (const v of this.vifs()) out[`${v.family}`][v.name] = v.vif;
    return out;
  }

  #checkFamily(family: IpFamily): void {
    if (!this.#families.has(family)) {
      throw new NetkitError(`IPv${family} multicast routing is not available in this kernel`);
    }
  }

  /** Checks that interface `name` exists and is multicast-capable. */
  #checkInterface(name: string): InterfaceState {
    const iface = this.#lookup(name);
    if (iface === undefined) throw new InvalidRouteError(`Interface '${name}' not found.`);
    if (!iface.multicast) {
      throw new InvalidRouteError(
        `Interface '${name}' is not multicast-capable (no MULTICAST flag).`,
      );
    }
    return iface;
  }

  /** The kernel entry for `route` with the VIF indexes of `vifs`. */
  #entry(route: Route, vifs: Map<string, Vif>): MfcEntry {
    const { source, group } = route.addresses;
    const parent = vifs.get(route.iif)!.vif;
    let size = parent + 1;
    for (const oif of route.oifs) size = Math.max(size, vifs.get(oif.name)!.vif + 1);
    const ttls = new Array<number>(size).fill(0);
    for (const oif of route.oifs) ttls[vifs.get(oif.name)!.vif] = oif.ttl;
    // A kernel-native (*,G) entry lists its input among the outputs (reference §3.6 (d)); the
    // kernel never sends a packet back out the interface it came in on.
    if (route.source === null) ttls[parent] = DEFAULT_TTL;
    return { family: route.family, source, group, parent, ttls };
  }

  /** Whether the kernel can hold `route` now (its input has a live VIF). */
  #installable(route: Route, vifs: Map<string, Vif>): boolean {
    return (vifs.get(route.iif)?.ifindex ?? null) !== null;
  }

  /**
   * Applies `delta` (with `pins` as the new pinned interfaces), changing the kernel in one
   * transaction: if any kernel change fails, every change made is undone and the model is left
   * as it was. Only the routes in the delta are looked at, so one change to a large table costs
   * the same as to a small one. `requireInterfaces`: the interfaces the delta adds must exist
   * (requests); at start-up a route whose interfaces are missing waits for them instead.
   */
  #transition(delta: Delta, pins: Set<string>, requireInterfaces: boolean): void {
    const { put } = delta;
    const dropped = delta.drop.flatMap((key) => {
      const old = this.#routes.get(key);
      return old === undefined ? [] : [old];
    });
    // Indexed loops over routes: this runs once per request, too rarely for the runtime to
    // optimize it, and iterators cost several times more than indexes in unoptimized code.
    const families = new Set<IpFamily>();
    const names = new Set<string>();
    for (let i = 0; i < put.length; i++) {
      const r = put[i]!.route;
      families.add(r.family);
      names.add(r.iif);
      for (let o = 0; o < r.oifs.length; o++) names.add(r.oifs[o]!.name);
    }
    for (const family of families) this.#checkFamily(family);
    if (requireInterfaces) {
      const pinned = this.#pins();
      for (const name of pins) if (!pinned.has(name)) names.add(name);
      for (const name of names) this.#checkInterface(name);
    }
    const uses = new Map(FAMILIES.map((f) => [f, new Map(this.#uses.get(f)!)]));
    for (let i = 0; i < dropped.length; i++) {
      countUses(uses.get(dropped[i]!.family)!, dropped[i]!, -1);
    }
    for (let i = 0; i < put.length; i++) {
      const { route, old } = put[i]!;
      if (old !== undefined) countUses(uses.get(old.family)!, old, -1);
      countUses(uses.get(route.family)!, route, 1);
    }
    // The next VIF tables: keep what stays, free what goes, allocate what is new (lowest index).
    const next = new Map<IpFamily, Map<string, Vif>>();
    for (const family of FAMILIES) {
      const needed = new Set(uses.get(family)!.keys());
      if (this.#families.has(family)) { for (const name of pins) needed.add(name); }
      const current = this.#vifs.get(family)!;
      const table = new Map<string, Vif>();
      for (const [name, v] of current) {
        if (needed.has(name)) table.set(name, { ...v, pinned: pins.has(name) });
      }
      // Indexes freed in this transaction stay busy until its end (VIFs go after the routes).
      const used = new Set([...current.values()].map((v) => v.vif));
      for (const name of [...needed].sort()) {
        if (table.has(name)) continue;
        let vif = 0;
        while (used.has(vif)) vif++;
        if (vif >= MAX_VIFS) {
          throw new InvalidRouteError(
            `No free VIF for interface '${name}': IPv${family} allows ${MAX_VIFS} interfaces per table, all in use.`,
          );
        }
        used.add(vif);
        table.set(name, {
          family,
          vif,
          name,
          ifindex: this.#lookup(name)?.ifindex ?? null,
          pinned: pins.has(name),
        });
      }
      next.set(family, table);
    }
    const tx = new Transaction(this.#kernel);
    try {
      for (const family of FAMILIES) {
        const before = this.#vifs.get(family)!;
        const after = next.get(family)!;
        // New VIFs first: routes need them.
        for (const v of after.values()) {
          if (before.has(v.name) || v.ifindex === null) continue;
          tx.step(
            () => this.#kernel.addVif(family, v.vif, v.ifindex!),
            () => this.#kernel.delVif(family, v.vif),
          );
        }
        // Routes to install: new ones, and changed ones (MRT_ADD_MFC updates an entry in place).
        // Entries to remove: dropped routes, and replaced ones the kernel can no longer hold.
        const add: Route[] = [];
        const previous: (MfcEntry | null)[] = [];
        const remove = dropped.filter((r) => r.family === family && this.#installable(r, before));
        for (let i = 0; i < put.length; i++) {
          const { route: r, old } = put[i]!;
          if (r.family !== family) continue;
          const wasInstalled = old !== undefined && this.#installable(old, before);
          if (!this.#installable(r, after)) {
            if (wasInstalled) remove.push(old);
            continue;
          }
          if (wasInstalled && sameRoute(old, r)) continue;
          add.push(r);
          previous.push(wasInstalled ? this.#entry(old, before) : null);
        }
        if (add.length > 0) {
          const entries = add.map((r) => this.#entry(r, after));
          // Undo per entry: delete what was new, put back the previous version of what changed.
          const undo = (indexes: number[]) => {
            const fresh = indexes.filter((i) => previous[i] === null).map((i) => entries[i]!);
            const restore = indexes.flatMap((i) => previous[i] === null ? [] : [previous[i]!]);
            if (fresh.length > 0) this.#kernel.delMfcs(family, fresh);
            if (restore.length > 0) this.#kernel.addMfcs(family, restore);
          };
          tx.step(() => {
            const failures = this.#kernel.addMfcs(family, entries);
            if (failures.length === 0) return;
            const failed = new Set(failures.map((f) => f.index));
            undo(entries.map((_, i) => i).filter((i) => !failed.has(i)));
            throw kernelFailure("install", failures, add);
          }, () => undo(entries.map((_, i) => i)));
        }
        if (remove.length > 0) {
          const entries = remove.map((r) => this.#entry(r, before));
          tx.step(() => {
            const failures = this.#kernel.delMfcs(family, entries);
            if (failures.length === 0) return;
            const failed = new Set(failures.map((f) => f.index));
            this.#kernel.addMfcs(family, entries.filter((_, i) => !failed.has(i)));
            throw kernelFailure("remove", failures, remove);
          }, () => this.#kernel.addMfcs(family, entries));
        }
        // Freed VIFs last: nothing refers to them any more.
        for (const v of before.values()) {
          if (after.has(v.name) || v.ifindex === null) continue;
          tx.step(
            () => this.#kernel.delVif(family, v.vif),
            () => this.#kernel.addVif(family, v.vif, v.ifindex!),
          );
        }
      }
    } catch (err) {
      const undoErrors = tx.rollback();
      if (undoErrors.length > 0) {
        throw new NetkitError(
          `${
            err instanceof Error ? err.message : String(err)
          }; undoing the partial change also failed: ${String(undoErrors[0])}`,
          { cause: err },
        );
      }
      throw err;
    }
    // Committed: report the differences, then take the new model.
    const events: RouterEvent[] = [];
    for (let i = 0; i < put.length; i++) {
      const { route, old } = put[i]!;
      if (old === undefined) events.push({ event: "route_added", route });
      else if (!sameRoute(old, route)) events.push({ event: "route_changed", route });
    }
    for (let i = 0; i < dropped.length; i++) {
      events.push({ event: "route_removed", route: dropped[i]! });
    }
    for (const family of FAMILIES) {
      for (const v of next.get(family)!.values()) {
        if (!this.#vifs.get(family)!.has(v.name)) {
          events.push({ event: "vif_added", family, vif: v.vif, name: v.name });
        }
      }
      for (const v of this.#vifs.get(family)!.values()) {
        if (!next.get(family)!.has(v.name)) {
          events.push({ event: "vif_removed", family, vif: v.vif, name: v.name });
        }
      }
    }
    for (let i = 0; i < dropped.length; i++) this.#routes.delete(dropped[i]!.key);
    for (let i = 0; i < put.length; i++) this.#routes.set(put[i]!.key, put[i]!.route);
    if (put.length + dropped.length > 0) this.#sorted = null;
    this.#uses = uses;
    this.#vifs = next;
    for (let i = 0; i < events.length; i++) this.#emit(events[i]!);
  }

  /** ADD_MFC: adds `route`, or merges/replaces an existing route for the same (S,G). */
  addRoute(route: Route, mode: AddMode = "merge"): "added" | "updated" | "unchanged" {
    const { key } = route;
    const old = this.#routes.get(key);
    let next = route;
    if (old !== undefined) {
      if (mode === "create") {
        throw new InvalidRouteError(`MFC entry for ${routeName(route)} already exists.`);
      }
      if (old.iif !== route.iif && mode !== "replace") {
        throw new InvalidRouteError(
          `MFC entry for ${
            routeName(route)
          } already exists with input interface '${old.iif}'; replace it to change the input.`,
        );
      }
      if (mode === "merge") {
        const oifs = new Map(old.oifs.map((o) => [o.name, o]));
        for (const o of route.oifs) oifs.set(o.name, o);
        next = withOifs(route, [...oifs.values()]);
      }
      if (sameRoute(old, next)) return "unchanged";
    }
    this.#transition({ put: [{ key, route: next, old }], drop: [] }, this.#pins(), true);
    return old === undefined ? "added" : "updated";
  }

  /** DEL_MFC: removes the route for (S,G); throws when there is none. */
  deleteRoute(key: string): Route {
    const old = this.#routes.get(key);
    if (old === undefined) {
      throw new InvalidRouteError(`No MFC entry for ${key.split("|").slice(1).join(", ")}.`);
    }
    this.#transition({ put: [], drop: [key] }, this.#pins(), false);
    return old;
  }

  #pins(): Set<string> {
    return new Set(this.vifs().filter((v) => v.pinned).map((v) => v.name));
  }

  /** ADD_VIF: gives interface `name` a VIF in every family and keeps it. */
  addVif(name: string): void {
    const pins = this.#pins();
    pins.add(name);
    this.#transition({ put: [], drop: [] }, pins, true);
  }

  /** DEL_VIF: releases the VIFs of `name`; refused while routes use it. */
  deleteVif(name: string): void {
    const users = FAMILIES.reduce((n, f) => n + (this.#uses.get(f)!.get(name) ?? 0), 0);
    if (users > 0) {
      const example = this.routes().find((r) => interfacesOf(r).includes(name))!;
      throw new InvalidRouteError(
        `Interface '${name}' is used by ${plural(users, "route")}, e.g. ${
          routeName(example)
        }; delete them first.`,
      );
    }
    if (!this.vifs().some((v) => v.name === name)) {
      throw new InvalidRouteError(`Interface '${name}' has no VIF.`);
    }
    const pins = this.#pins();
    pins.delete(name);
    this.#transition({ put: [], drop: [] }, pins, false);
  }

  /** FLUSH: removes every route and VIF. */
  flush(): void {
    this.#transition({ put: [], drop: [...this.#routes.keys()] }, new Set(), false);
  }

  /** The changes APPLY of `desired` would make; throws when a route is given twice. */
  plan(desired: DesiredState): ApplyPlan {
    return this.#plan(desired).plan;
  }

  #plan(desired: DesiredState): { plan: ApplyPlan; put: Put[]; drop: string[] } {
    const next = new Map<string, Route>();
    for (let i = 0; i < desired.routes.length; i++) {
      const r = desired.routes[i]!;
      if (next.has(r.key)) {
        throw new InvalidRouteError(`MFC entry for ${routeName(r)} is given twice.`);
      }
      next.set(r.key, r);
    }
    const plan: ApplyPlan = { add: [], change: [], remove: [], pin: [], unpin: [] };
    const put: Put[] = [];
    const drop: string[] = [];
    // forEach rather than for-of: see #transition.
    next.forEach((r, key) => {
      const old = this.#routes.get(key);
      if (old === undefined) plan.add.push(r);
      else if (!sameRoute(old, r)) plan.change.push({ from: old, to: r });
      else return;
      put.push({ key, route: r, old });
    });
    this.#routes.forEach((r, key) => {
      if (next.has(key)) return;
      plan.remove.push(r);
      drop.push(key);
    });
    const pinned = this.#pins();
    const wanted = new Set(desired.vifs);
    plan.pin = [...wanted].filter((n) => !pinned.has(n)).sort();
    plan.unpin = [...pinned].filter((n) => !wanted.has(n)).sort();
    return { plan, put, drop };
  }

  /**
   * APPLY: makes `desired` the whole state, all or nothing. `atStart`: routes whose interfaces
   * are missing wait for them instead of failing (re-applying the state file).
   */
  apply(desired: DesiredState, options: { atStart?: boolean } = {}): ApplyPlan {
    const { plan, put, drop } = this.#plan(desired);
    this.#transition({ put, drop }, new Set(desired.vifs), !options.atStart);
    return plan;
  }

  /**
   * Interface `name` disappeared: the kernel dropped its VIFs; its routes wait. Returns the
   * affected routes.
   */
  interfaceGone(name: string): Route[] {
    let touched = false;
    for (const family of FAMILIES) {
      const v = this.#vifs.get(family)!.get(name);
      if (v !== undefined && v.ifindex !== null) {
        v.ifindex = null;
        touched = true;
      }
    }
    if (!touched) return [];
    const affected = this.routes().filter((r) => interfacesOf(r).includes(name));
    this.#emit({ event: "interface_gone", name, routes: affected.map(routeName) });
    return affected;
  }

  /**
   * An interface named `name` appeared (again) with index `ifindex`: its VIFs are added back and
   * every route using it is installed again (the kernel only counts outputs whose VIF existed
   * when the entry was added). Returns the routes re-installed.
   */
  interfaceBack(name: string, ifindex: number): Route[] {
    const restored: Route[] = [];
    for (const family of FAMILIES) {
      const v = this.#vifs.get(family)!.get(name);
      if (v === undefined || v.ifindex !== null) continue;
      this.#kernel.addVif(family, v.vif, ifindex);
      v.ifindex = ifindex;
      const routes = this.routes().filter((r) =>
        r.family === family && interfacesOf(r).includes(name) &&
        this.#installable(r, this.#vifs.get(family)!)
      );
      const failures = this.#kernel.addMfcs(
        family,
        routes.map((r) => this.#entry(r, this.#vifs.get(family)!)),
      );
      const failed = new Set(failures.map((f) => f.index));
      restored.push(...routes.filter((_, i) => !failed.has(i)));
    }
    if (restored.length > 0 || this.vifs().some((v) => v.name === name)) {
      this.#emit({ event: "interface_back", name, routes: restored.map(routeName) });
    }
    return restored;
  }

  /** Adopts VIF indexes from a previous run (`--keep-kernel-state`), before the first apply. */
  presetVifs(
    indexes: Partial<Record<"4" | "6", Record<string, number>>>,
    pins: readonly string[],
  ): void {
    for (const family of FAMILIES) {
      const table = this.#vifs.get(family)!;
      for (const [name, vif] of Object.entries(indexes[`${family}`] ?? {})) {
        if (!Number.isInteger(vif) || vif < 0 || vif >= MAX_VIFS) continue;
        if ([...table.values()].some((v) => v.vif === vif)) continue;
        table.set(name, {
          family,
          vif,
          name,
          ifindex: this.#lookup(name)?.ifindex ?? null,
          pinned: pins.includes(name),
        });
      }
    }
  }
}
