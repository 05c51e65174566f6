/**
 * The contract of the `netkit lacp` daemon, for everyone who talks to it (the CLI, labs, tests,
 * benchmarks) without loading the daemon or the native library: where its control sockets are,
 * the one request it serves, and the schema of its reply.
 *
 * @module
 */

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import type { DaemonStatus } from "./status.ts";

/** Control socket names of LACP daemons in network namespace `netnsId` start with this. */
export function controlSocketPrefix(netnsId: number): string {
  return `lacp-ns${netnsId}-`;
}

/** The one request the daemon serves (lib/lacp/daemon.ts validates it). */
export interface LacpStatusRequest {
  /** Always `status`. */
  action: "status";
}

/** The one request a client sends. */
export const STATUS_REQUEST: LacpStatusRequest = { action: "status" };

/**
 * The reply to `status` (one element of `netkit lacp -s -j`); see lib/lacp/status.ts. Built on
 * first use (`z.lazy`): building it costs a client about 5 ms of its start, and
 * `lacp -s` with no daemon running never checks a reply.
 */
export const LacpStatusReply: Schema<DaemonStatus> = z.lazy(lacpStatusReply);

/** Builds {@linkcode LacpStatusReply}. */
function lacpStatusReply(): Schema<DaemonStatus> {
  const Rate = z.enum(["fast", "slow"]);
  const Timer = z.number().nullable();

  const PartyStatusSchema = z.object({
    system_priority: z.number(),
    system: z.string(),
    key: z.number(),
    port_priority: z.number(),
    port: z.number(),
    state: z.number(),
    state_letters: z.string(),
    state_flags: z.array(z.string()),
  });

  const PortStatusSchema = z.object({
    interface: z.string(),
    port_number: z.number(),
    configured_rate_mode: Rate,
    effective_rate_mode: Rate,
    active_mode: z.boolean(),
    partner_active: z.boolean(),
    should_send: z.boolean(),
    link_up: z.boolean(),
    rx_state: z.string(),
    periodic_state: z.string(),
    mux_state: z.string(),
    selected: z.boolean(),
    selection: z.string(),
    loopback: z.boolean(),
    partner_version: z.number(),
    churn: z.object({
      actor: z.string(),
      partner: z.string(),
      actor_count: z.number(),
      partner_count: z.number(),
    }),
    timers: z.object({
      current_while: Timer,
      periodic: Timer,
      wait_while: Timer,
      actor_churn: Timer,
      partner_churn: Timer,
    }),
    counters: z.object({
      lacpdu_rx: z.number(),
      lacpdu_tx: z.number(),
      malformed_rx: z.number(),
      illegal_rx: z.number(),
      unknown_rx: z.number(),
      tagged_rx: z.number(),
      marker_rx: z.number(),
      marker_tx: z.number(),
      marker_dropped: z.number(),
      injected_drops: z.number(),
      loopback_rx: z.number(),
      kernel_drops: z.number(),
    }),
    inject_rules: z.array(z.object({
      rule: z.string(),
      fired: z.number(),
      limit: z.number().nullable(),
      per_episode: z.boolean(),
    })),
    actor: PartyStatusSchema,
    partner: PartyStatusSchema,
  });

  return exactly<DaemonStatus>()(z.object({
    pid: z.number().int().positive(),
    net_ns_id: z.number(),
    configured_rate_mode: Rate,
    active_mode: z.boolean(),
    uptime_seconds: z.number(),
    ports: z.array(PortStatusSchema),
  }));
}

/** Names the daemon in a malformed-reply error. */
export const LACP_STATUS: ReplyContext = { daemon: "lacp", what: "status" };
