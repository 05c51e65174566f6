/**
 * The multicast routing daemon's control protocol, compatible with the Python MFC service it
 * replaces: requests `{"action": "ADD_MFC", "payload": {...}}`, replies
 * `{"status": "success", "message": "MFC entry for (10.1.1.5, 239.10.20.30) added."}` or
 * `{"status": "error", "message": "Invalid argument: Interface 'eth99' not found."}`.
 * See docs/mroute-protocol.md.
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import { type Delivery, JsonText } from "../ipc/mod.ts";
import {
  checkInterfaceName,
  type IpFamily,
  parseAddress,
  parseRoute,
  type Route,
  routeKey,
  routeName,
} from "./route.ts";
import type { AddMode, ApplyPlan, MulticastRouter, RouteState } from "./router.ts";
import { desiredState, DesiredStateJson, RouteJson } from "./state_file.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import { plural } from "../text.ts";

/** The interface ADD_VIF and DEL_VIF name. */
export interface InterfacePayload {
  /** Its name (checked as {@linkcode checkInterfaceName} does). */
  interface: string;
}
const InterfacePayloadSchema = exactly<InterfacePayload>()(z.object({ interface: z.string() }));

/** The route DEL_MFC removes, by its identity. */
export interface RouteKeyPayload {
  /** The source; absent, null, "" or "*" for (*,G). */
  source?: string | null | undefined;
  /** The group address. */
  group: string;
}
const RouteKeyPayloadSchema = exactly<RouteKeyPayload>()(
  z.object({ source: z.string().nullable().optional(), group: z.string() }),
);

/** ADD_MFC's payload: the route, and how to treat an existing route for its (S,G) (merge). */
export type AddMfcPayload = RouteJson & { mode?: AddMode | undefined };

/** APPLY's payload: the whole desired state, and whether only to plan it. */
export interface ApplyPayload {
  /** Routes and pinned VIFs wanted; everything else is removed. */
  state: DesiredStateJson;
  /** Plan and reply without changing anything. */
  dry_run?: boolean | undefined;
}

/** SHOW's payload: whether to read the kernel's counters. */
export interface ShowPayload {
  /** Include packet and byte counters. */
  stats?: boolean | undefined;
}

/** A payload that carries nothing (FLUSH, SUBSCRIBE): unknown fields are dropped. */
export type EmptyPayload = Record<string, never>;

/** Every request the daemon accepts, checked (docs/mroute-protocol.md). */
export type MrouteRequest =
  | { action: "ADD_MFC"; payload: AddMfcPayload }
  | { action: "DEL_MFC"; payload: RouteKeyPayload }
  | { action: "ADD_VIF"; payload: InterfacePayload }
  | { action: "DEL_VIF"; payload: InterfacePayload }
  | { action: "SHOW"; payload?: ShowPayload | undefined }
  | { action: "FLUSH"; payload?: EmptyPayload | undefined }
  | { action: "APPLY"; payload: ApplyPayload }
  | { action: "SUBSCRIBE"; payload?: EmptyPayload | undefined };

/** Schema of {@linkcode MrouteRequest}: what the daemon's control server checks each request with. */
export const MrouteRequest: Schema<MrouteRequest> = exactly<MrouteRequest>()(
  z.discriminatedUnion("action", [
    z.object({
      action: z.literal("ADD_MFC"),
      // The route's fields and `mode`, each side checked by its own schema; the object check
      // first, so that a payload that is no object is reported once, not by both sides.
      payload: z.looseObject({}).pipe(z.intersection(
        RouteJson,
        z.object({ mode: z.enum(["merge", "replace", "create"]).optional() }),
      )),
    }),
    z.object({ action: z.literal("DEL_MFC"), payload: RouteKeyPayloadSchema }),
    z.object({ action: z.literal("ADD_VIF"), payload: InterfacePayloadSchema }),
    z.object({ action: z.literal("DEL_VIF"), payload: InterfacePayloadSchema }),
    z.object({
      action: z.literal("SHOW"),
      payload: z.object({ stats: z.boolean().optional() }).optional(),
    }),
    z.object({ action: z.literal("FLUSH"), payload: z.object({}).optional() }),
    z.object({
      action: z.literal("APPLY"),
      payload: z.object({ state: DesiredStateJson, dry_run: z.boolean().optional() }),
    }),
    z.object({ action: z.literal("SUBSCRIBE"), payload: z.object({}).optional() }),
  ]),
);

/** One VIF in a SHOW reply (field names of `netkit mroute show -j`). */
export interface VifJson {
  /** Its address family's table. */
  family: IpFamily;
  /** Its index in that table. */
  vif: number;
  /** The interface's name. */
  name: string;
  /** The interface's index, null while the interface is gone. */
  ifindex: number | null;
  /** The kernel's VIF flags (VIFF_*); 0 when the kernel does not list the VIF. */
  flags: number;
  /** Added by ADD_VIF: kept even when no route uses it. */
  pinned: boolean;
  /** Packets received on it; null without `stats`, while the interface is gone, or unknown. */
  packets_in: number | null;
  /** Bytes received on it; null as `packets_in`. */
  bytes_in: number | null;
  /** Packets forwarded out of it; null as `packets_in`. */
  packets_out: number | null;
  /** Bytes forwarded out of it; null as `packets_in`. */
  bytes_out: number | null;
}

/** One route in a SHOW reply. */
export interface RouteJsonOut {
  /** Its address family. */
  family: IpFamily;
  /** "*" for (*,G). */
  source: string;
  /** The group address, canonical text. */
  group: string;
  /** The input interface's name. */
  iif: string;
  /** The outputs, sorted by name, with their TTL thresholds. */
  oifs: { name: string; ttl: number }[];
  /** Whether the kernel has it whole, in part (some interfaces missing) or not yet. */
  state: RouteState;
  /** Packets forwarded; null without `stats`, 0 when the kernel has no such entry. */
  packets: number | null;
  /** Bytes forwarded; null as `packets`. */
  bytes: number | null;
  /** Packets that arrived on another interface than `iif`; null as `packets`. */
  wrong_if: number | null;
}

/** The SHOW reply's content (and `show -j`'s output). */
export interface ShowJson {
  /** Every VIF, both families. */
  vifs: VifJson[];
  /** Every desired route, both families. */
  routes: RouteJsonOut[];
}

/** What the handler needs from the daemon besides the router. */
export interface ProtocolHooks {
  /** Saves the desired state after a change. */
  save(): void;
  /** The SHOW content, with kernel counters when `stats`. */
  show(stats: boolean): ShowJson;
  /** An event stream for SUBSCRIBE. */
  subscribe(signal: AbortSignal): AsyncGenerator<Delivery<unknown>>;
}

function success(message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: "success", message, ...extra };
}

/**
 * The reply to APPLY: the message and the plan, its routes in the form APPLY takes. Assembled
 * from the routes' kept JSON lines (the state file uses the same): encoding thousands of routes
 * again would cost as much as installing them.
 */
function applyReply(message: string, dryRun: boolean, plan: ApplyPlan): JsonText {
  const routes = (list: Route[]) => `[${list.map((r) => r.json).join(",")}]`;
  const change = plan.change.map((c) => `{"from":${c.from.json},"to":${c.to.json}}`);
  return new JsonText(
    `{"status":"success","message":${JSON.stringify(message)},"dry_run":${dryRun},` +
      `"plan":{"add":${routes(plan.add)},"change":[${change.join(",")}],` +
      `"remove":${routes(plan.remove)},"pin":${JSON.stringify(plan.pin)},` +
      `"unpin":${JSON.stringify(plan.unpin)}}}`,
  );
}

function describePlan(plan: ApplyPlan): string {
  return `${
    plural(plan.add.length, "route")
  } added, ${plan.change.length} changed, ${plan.remove.length} removed` +
    (plan.pin.length + plan.unpin.length > 0
      ? `; ${plan.pin.length} VIF(s) pinned, ${plan.unpin.length} unpinned`
      : "");
}

/** The key of the route a DEL_MFC names. */
function keyOf(payload: RouteKeyPayload): string {
  const group = parseAddress(payload.group, "Group");
  const source =
    payload.source === undefined || payload.source === null || payload.source === "*" ||
      payload.source === ""
      ? null
      : parseAddress(payload.source, "Source").text;
  return routeKey({ family: group.family, source, group: group.text });
}

/** Answers one request against `router`; changes are saved through `hooks.save`. */
export function handleRequest(
  request: MrouteRequest,
  router: MulticastRouter,
  hooks: ProtocolHooks,
  signal: AbortSignal,
): unknown {
  switch (request.action) {
    case "ADD_MFC": {
      const { mode, ...input } = request.payload;
      const route = parseRoute(input);
      const outcome = router.addRoute(route, mode ?? "merge");
      if (outcome !== "unchanged") hooks.save();
      const verb = outcome === "unchanged" ? "already up to date" : outcome;
      return success(`MFC entry for ${routeName(route)} ${verb}.`);
    }
    case "DEL_MFC": {
      const route = router.deleteRoute(keyOf(request.payload));
      hooks.save();
      return success(`MFC entry for ${routeName(route)} deleted.`);
    }
    case "ADD_VIF": {
      router.addVif(checkInterfaceName(request.payload.interface));
      hooks.save();
      return success(`VIF for ${request.payload.interface} added.`);
    }
    case "DEL_VIF": {
      router.deleteVif(checkInterfaceName(request.payload.interface));
      hooks.save();
      return success(`VIF for ${request.payload.interface} deleted.`);
    }
    case "SHOW":
      // The pid is whom `mroute daemon -k` signals, once the socket's lock confirms it.
      return { status: "success", pid: Deno.pid, ...hooks.show(request.payload?.stats ?? false) };
    case "FLUSH": {
      const routes = router.routes().length;
      const vifs = router.vifs().length;
      router.flush();
      hooks.save();
      return success(`Flushed ${plural(routes, "route")} and ${plural(vifs, "VIF")}.`);
    }
    case "APPLY": {
      const { state } = desiredState(request.payload.state, "The state");
      if (request.payload.dry_run) {
        const plan = router.plan(state);
        return applyReply(`Dry run: ${describePlan(plan)}.`, true, plan);
      }
      const plan = router.apply(state);
      hooks.save();
      return applyReply(`Applied: ${describePlan(plan)}.`, false, plan);
    }
    case "SUBSCRIBE":
      return subscription(hooks, signal);
  }
}

function subscription(hooks: ProtocolHooks, signal: AbortSignal): AsyncGenerator<unknown> {
  // Subscribe before acknowledging: whatever happens after the ack is delivered.
  const events = hooks.subscribe(signal);
  return (async function* () {
    yield { status: "success", message: "Subscribed to multicast routing events." };
    yield* events;
  })();
}
