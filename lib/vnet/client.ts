/**
 * The contract of the `netkit vnet` daemon for everyone who talks to it (the CLI, labs, tests,
 * benchmarks) without loading the daemon or the native library: where it is found, where it
 * keeps its state, the requests it takes and the schema of every reply.
 *
 * Requests, one JSON object per line (lib/ipc):
 * - `{"action": "NIC_ADD", "payload": NicSpec}`: add (or, with an existing name, replace) a NIC;
 * - `{"action": "NIC_DEL", "payload": {"name": "vm0"}}`;
 * - `{"action": "SHOW", "payload": {"stats": true}}`: NICs, their config, counters, the arena;
 * - `{"action": "SUBSCRIBE"}`: a {@linkcode MessageReply}, then one {@linkcode VnetEvent} a line.
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { z } from "zod";
import type { ReplyContext } from "../daemon/client.ts";
import { exactly, type Schema } from "../zod_exact.ts";
import { NicSpec } from "./config.ts";
import { DROP_REASONS, type DropReason, type NicCounters } from "./dataplane.ts";

/** The control socket name of the daemon for namespace `netnsId`. */
export function vnetSocketName(netnsId: number): string {
  return `vnet-ns${netnsId}`;
}

/** The default state file for namespace `netns` (null: the current one). */
export function defaultStatePath(netns: string | null): string {
  return `/var/lib/netkit/vnet${netns === null ? "" : `-${netns}`}.json`;
}

/** Names a request in a malformed-reply error. */
export function vnetReply(what: string): ReplyContext {
  return { daemon: "vnet", what };
}

/** The reply to NIC_ADD and NIC_DEL (and the first line of SUBSCRIBE). */
export interface MessageReply {
  /** Always `success` (a failure is an error reply). */
  status: "success";
  /** What was done, in words. */
  message: string;
}
function messageReply(): Schema<MessageReply> {
  return exactly<MessageReply>()(z.object({
    status: z.literal("success"),
    message: z.string(),
  }));
}
/**
 * Schema of {@linkcode MessageReply}. Like every schema here, built on first use (`z.lazy`): a
 * client command builds only the one it checks.
 */
export const MessageReply: Schema<MessageReply> = z.lazy(messageReply);

const count = () => z.number().int().nonnegative();

function countersSchema(): Schema<NicCounters> {
  const Count = count();
  const dropShape = Object.fromEntries(DROP_REASONS.map((r) => [r, Count])) as Record<
    DropReason,
    typeof Count
  >;
  return exactly<NicCounters>()(z.object({
    rx_frames: Count,
    rx_bytes: Count,
    tx_frames: Count,
    tx_bytes: Count,
    routed: Count,
    to_responder: Count,
    icmp_errors: Count,
    drops: z.object(dropShape),
  }));
}

/** A NIC's device as the daemon has it. */
export interface NicDeviceJson {
  /** `tap` or `attach`. */
  kind: "tap" | "attach";
  /** The interface's name. */
  name: string;
  /** `up`: frames flow; `gone`: the interface vanished (an attached one may come back). */
  state: "up" | "gone";
}

/** One NIC in a SHOW reply. */
export interface NicJson {
  /** The NIC's name. */
  name: string;
  /** Its configuration, normalized, as the state file keeps it. */
  config: NicSpec;
  /** Its device. */
  device: NicDeviceJson;
  /** Its counters; null without `stats`. */
  counters: NicCounters | null;
  /**
   * Its IPv4 responders' and ICMPv4 error sender's results by reason (what was sent, such as
   * `dhcp_ack`, or why nothing was, such as `dhcp_foreign_chaddr` or
   * `icmpv4_error_rate_limited`); only reasons that happened; null without `stats`.
   */
  responder_counts: Record<string, number> | null;
}

/** The uplink in a SHOW reply. */
export interface UplinkJson {
  /** The TUN device's name. */
  name: string;
  /** Its MTU. */
  mtu: number;
  /** Its counters (rx: from the host; tx: to the host); null without `stats`. */
  counters: NicCounters | null;
}

/** The reply to SHOW (`netkit vnet show -j`). */
export interface ShowReply {
  /** Always `success`. */
  status: "success";
  /** The daemon's pid (what `-k` signals). */
  pid: number;
  /** What backs the frame buffers: reserved huge pages, transparent huge pages, or neither. */
  arena: "hugetlb" | "thp" | "normal";
  /** The traffic kinds a responder answers; the rest of the gateway traffic is dropped. */
  responders: string[];
  /** The uplink, or null. */
  uplink: UplinkJson | null;
  /** The NICs, by name. */
  nics: NicJson[];
  /**
   * The IPv6 responders' drops and suppressed ICMPv6 errors by reason, every NIC together
   * (`ndp_hop_limit`, `dhcp6_server_id`, `icmp6_error_rate_limited`, ...); null without `stats`.
   */
  ipv6_responder_drops: Record<string, number> | null;
}
/** Schema of {@linkcode ShowReply}. */
export const ShowReply: Schema<ShowReply> = z.lazy(showReply);

function showReply(): Schema<ShowReply> {
  const Counters = countersSchema();
  const ReasonCounts = z.record(z.string(), count());
  const NicJsonSchema = exactly<NicJson>()(z.object({
    name: z.string(),
    config: NicSpec,
    device: z.object({
      kind: z.enum(["tap", "attach"]),
      name: z.string(),
      state: z.enum(["up", "gone"]),
    }),
    counters: Counters.nullable(),
    responder_counts: ReasonCounts.nullable(),
  }));
  return exactly<ShowReply>()(z.object({
    status: z.literal("success"),
    pid: z.number().int().positive(),
    arena: z.enum(["hugetlb", "thp", "normal"]),
    responders: z.array(z.string()),
    uplink: z.object({ name: z.string(), mtu: count(), counters: Counters.nullable() })
      .nullable(),
    nics: z.array(NicJsonSchema),
    ipv6_responder_drops: ReasonCounts.nullable(),
  }));
}

/**
 * One event of a SUBSCRIBE stream: `nic_added` / `nic_removed` / `nic_gone` (its interface
 * vanished) with `nic`, the responders' `lease`, `release`, `decline`, `nak`, `inform`,
 * `conflict` and `unknown` (with `nic`, `family` and their own fields: the IPv4 ones give
 * `protocol`, `reason`, `mac`, `address`), and kinds a newer daemon adds (printed as JSON).
 */
export interface VnetEvent {
  /** What happened. */
  event: string;
  /** The NIC it concerns, when it concerns one. */
  nic?: string | undefined;
  /** The event's fields. */
  [field: string]: unknown;
}

/** One line of a SUBSCRIBE stream: the acknowledgement, then events. */
export type MonitorLine = MessageReply | VnetEvent;
/** Schema of {@linkcode MonitorLine}. */
export const MonitorLine: Schema<MonitorLine> = z.lazy(() =>
  z.union([
    messageReply(),
    exactly<VnetEvent>()(z.looseObject({
      event: z.string().refine((e) => e !== "success"),
      nic: z.string().optional(),
    })),
  ])
);
