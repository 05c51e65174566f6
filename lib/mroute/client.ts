/**
 * The contract of the `netkit mroute` daemon for everyone who talks to it (the CLI, labs, tests,
 * benchmarks) without loading the daemon or the native library: where it is found, where it
 * keeps its state, and the schema of every reply (the requests' schema is in protocol.ts, which
 * the daemon validates with; docs/mroute-protocol.md describes both).
 *
 * @module
 */

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import type { RouteJsonOut, VifJson } from "./protocol.ts";

/** The control socket name of the daemon for namespace `netnsId` and `table` (0: default). */
export function mrouteSocketName(netnsId: number, table: number): string {
  return `mroute-ns${netnsId}${table === 0 ? "" : `-t${table}`}`;
}

/** The default state file for namespace `netns` (null: the current one) and `table`. */
export function defaultStatePath(netns: string | null, table: number): string {
  return `/var/lib/netkit/mroute${netns === null ? "" : `-${netns}`}${
    table === 0 ? "" : `-t${table}`
  }.json`;
}

/** Names a request in a malformed-reply error. */
export function mrouteReply(what: string): ReplyContext {
  return { daemon: "mroute", what };
}

/**
 * The reply to ADD_MFC, DEL_MFC, ADD_VIF, DEL_VIF and FLUSH (and the first line of SUBSCRIBE):
 * `{"status": "success", "message": "..."}`, other fields kept for `-j`.
 */
export interface MessageReply {
  /** Always `success` (a failure is an error reply). */
  status: "success";
  /** What was done, in words. */
  message: string;
  /** Fields a newer daemon adds, kept for `-j`. */
  [field: string]: unknown;
}
/**
 * Schema of {@linkcode MessageReply}. Like every schema here, built on first use (`z.lazy`):
 * building them all cost each mroute command about 5 ms of its start, and each needs one.
 */
export const MessageReply: Schema<MessageReply> = z.lazy(() =>
  exactly<MessageReply>()(z.looseObject({
    status: z.literal("success"),
    message: z.string(),
  }))
);

/** The reply to SHOW: the VIFs and the routes (`netkit mroute show -j`). */
export interface ShowReply {
  /** Always `success`. */
  status: "success";
  /** The VIFs, pinned or used by a route. */
  vifs: VifJson[];
  /** The routes. */
  routes: RouteJsonOut[];
}
/** Schema of {@linkcode ShowReply}. */
export const ShowReply: Schema<ShowReply> = z.lazy(showReply);

/** Builds {@linkcode ShowReply}. */
function showReply(): Schema<ShowReply> {
  const Counter = z.number().nullable();

  const VifJsonSchema = exactly<VifJson>()(z.object({
    family: family(),
    vif: z.number().int(),
    name: z.string(),
    ifindex: z.number().int().nullable(),
    flags: z.number().int(),
    pinned: z.boolean(),
    packets_in: Counter,
    bytes_in: Counter,
    packets_out: Counter,
    bytes_out: Counter,
  }));

  const RouteJsonSchema = exactly<RouteJsonOut>()(z.object({
    family: family(),
    source: z.string(),
    group: z.string(),
    iif: z.string(),
    oifs: z.array(z.object({ name: z.string(), ttl: z.number().int() })),
    state: z.enum(["installed", "partial", "waiting"]),
    packets: Counter,
    bytes: Counter,
    wrong_if: Counter,
  }));

  return exactly<ShowReply>()(z.object({
    status: z.literal("success"),
    vifs: z.array(VifJsonSchema),
    routes: z.array(RouteJsonSchema),
  }));
}

/** IPv4 or IPv6: a VIF's and a route's `family`. */
function family() {
  return z.union([z.literal(4), z.literal(6)]);
}

/** A route in an APPLY plan, in the form APPLY takes (outputs as "name" or "name:ttl"). */
export interface PlanRoute {
  /** The source address; absent for (*,G). */
  source?: string | undefined;
  /** The group address. */
  group: string;
  /** The input interface. */
  iif: string;
  /** The outputs, `name` or `name:ttl`. */
  oifs: string[];
}

/** What an APPLY changes (or, in a dry run, would change). */
export interface ApplyPlan {
  /** Routes added. */
  add: PlanRoute[];
  /** Routes whose input or outputs change. */
  change: { from: PlanRoute; to: PlanRoute }[];
  /** Routes removed. */
  remove: PlanRoute[];
  /** Interfaces whose VIF is pinned. */
  pin: string[];
  /** Interfaces whose VIF is released. */
  unpin: string[];
}

/** The reply to APPLY: the message and the plan, made or (dry run) not. */
export interface ApplyReply {
  /** Always `success`. */
  status: "success";
  /** What was done, in words. */
  message: string;
  /** Whether nothing was changed (`--dry-run`). */
  "dry_run": boolean;
  /** The changes. */
  plan: ApplyPlan;
  /** Fields a newer daemon adds (or the CLI's `offline`), kept for `-j`. */
  [field: string]: unknown;
}
/** Schema of {@linkcode ApplyReply}. */
export const ApplyReply: Schema<ApplyReply> = z.lazy(applyReply);

/** Builds {@linkcode ApplyReply}. */
function applyReply(): Schema<ApplyReply> {
  const PlanRouteSchema = exactly<PlanRoute>()(z.object({
    source: z.string().optional(),
    group: z.string(),
    iif: z.string(),
    oifs: z.array(z.string()),
  }));
  return exactly<ApplyReply>()(z.looseObject({
    status: z.literal("success"),
    message: z.string(),
    dry_run: z.boolean(),
    plan: z.object({
      add: z.array(PlanRouteSchema),
      change: z.array(z.object({ from: PlanRouteSchema, to: PlanRouteSchema })),
      remove: z.array(PlanRouteSchema),
      pin: z.array(z.string()),
      unpin: z.array(z.string()),
    }),
  }));
}

/**
 * One event of a SUBSCRIBE stream, checked as far as lib/mroute/event_text.ts reads it (a route
 * event's `route`, an interface event's `name` and `routes`); kinds a newer daemon adds pass as
 * they are (printed as JSON).
 */
export interface MonitorEvent {
  /** What happened: `route_added`, `interface_gone`, `upcall`, ... */
  event: string;
  /** The event's fields. */
  [field: string]: unknown;
}

/** One line of a SUBSCRIBE stream: the acknowledgement, then events. */
export type MonitorLine = MessageReply | MonitorEvent;
/** Schema of {@linkcode MonitorLine}. */
export const MonitorLine: Schema<MonitorLine> = z.lazy(monitorLine);

/** Builds {@linkcode MonitorLine}. */
function monitorLine(): Schema<MonitorLine> {
  const EventRoute = z.looseObject({
    family: family(),
    source: z.string(),
    group: z.string(),
    iif: z.string(),
    oifs: z.array(z.object({ name: z.string(), ttl: z.number() })),
  });
  const MonitorEventSchema = z.union([
    z.looseObject({
      event: z.enum(["route_added", "route_changed", "route_removed"]),
      route: EventRoute,
    }),
    z.looseObject({
      event: z.enum(["interface_gone", "interface_back"]),
      name: z.string(),
      routes: z.array(z.string()),
    }),
    z.looseObject({
      event: z.string().refine(
        (e) => !/^(route_(added|changed|removed)|interface_(gone|back))$/.test(e),
      ),
    }),
  ]);
  return z.union([MessageReply, MonitorEventSchema]);
}
