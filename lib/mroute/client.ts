/**
 * The contract of the `netkit mroute` daemon for everyone who talks to it (the CLI, labs, tests,
 * benchmarks) without loading the daemon or the native library: where it is found, where it
 * keeps its state, and the schema of every reply (the requests' schema is in protocol.ts, which
 * the daemon validates with; docs/mroute-protocol.md describes both).
 *
 * @module
 */

import { z } from "zod";
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
export function mrouteReply(what: string): { daemon: string; what: string } {
  return { daemon: "mroute", what };
}

/**
 * The reply to ADD_MFC, DEL_MFC, ADD_VIF, DEL_VIF and FLUSH (and the first line of SUBSCRIBE):
 * `{"status": "success", "message": "..."}`, other fields kept for `-j`.
 */
export const MessageReply = z.looseObject({
  status: z.literal("success"),
  message: z.string(),
});
/** A {@linkcode MessageReply}. */
export type MessageReply = z.infer<typeof MessageReply>;

const Family = z.union([z.literal(4), z.literal(6)]);
const Counter = z.number().nullable();

const VifJsonSchema = z.object({
  family: Family,
  vif: z.number().int(),
  name: z.string(),
  ifindex: z.number().int().nullable(),
  flags: z.number().int(),
  pinned: z.boolean(),
  packets_in: Counter,
  bytes_in: Counter,
  packets_out: Counter,
  bytes_out: Counter,
}) satisfies z.ZodType<VifJson>;

const RouteJsonSchema = z.object({
  family: Family,
  source: z.string(),
  group: z.string(),
  iif: z.string(),
  oifs: z.array(z.object({ name: z.string(), ttl: z.number().int() })),
  state: z.enum(["installed", "partial", "waiting"]),
  packets: Counter,
  bytes: Counter,
  wrong_if: Counter,
}) satisfies z.ZodType<RouteJsonOut>;

/** The reply to SHOW: the VIFs and the routes (`netkit mroute show -j`). */
export const ShowReply = z.object({
  status: z.literal("success"),
  vifs: z.array(VifJsonSchema),
  routes: z.array(RouteJsonSchema),
});

/** A route in an APPLY plan, in the form APPLY takes (outputs as "name" or "name:ttl"). */
const PlanRoute = z.object({
  source: z.string().optional(),
  group: z.string(),
  iif: z.string(),
  oifs: z.array(z.string()),
});

/** The reply to APPLY: the message and the plan, made or (dry run) not. */
export const ApplyReply = z.looseObject({
  status: z.literal("success"),
  message: z.string(),
  dry_run: z.boolean(),
  plan: z.object({
    add: z.array(PlanRoute),
    change: z.array(z.object({ from: PlanRoute, to: PlanRoute })),
    remove: z.array(PlanRoute),
    pin: z.array(z.string()),
    unpin: z.array(z.string()),
  }),
});
/** An {@linkcode ApplyReply}. */
export type ApplyReply = z.infer<typeof ApplyReply>;

const EventRoute = z.looseObject({
  family: Family,
  source: z.string(),
  group: z.string(),
  iif: z.string(),
  oifs: z.array(z.object({ name: z.string(), ttl: z.number() })),
});

/**
 * One event of a SUBSCRIBE stream, checked as far as lib/mroute/event_text.ts reads it; kinds a
 * newer daemon adds pass as they are (printed as JSON).
 */
export const MonitorEvent = z.union([
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

/** One line of a SUBSCRIBE stream: the acknowledgement, then events. */
export const MonitorLine = z.union([MessageReply, MonitorEvent]);
