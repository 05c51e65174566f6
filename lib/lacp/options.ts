/**
 * How a `netkit lacp` daemon is asked to run, with lacpd's defaults: kept apart from the daemon so
 * that the CLI parses and shows them without loading it (or the native library).
 *
 * @module
 */

import type { InjectRule } from "./inject_rule.ts";

/** How the daemon is asked to run. */
export interface LacpDaemonOptions {
  /** The ports' interfaces. */
  interfaces: readonly string[];
  /** Active LACP (speaks first); false: passive. */
  active: boolean;
  /** Ask the partner for fast (1 s) LACPDUs and time it out after 3 s. */
  fast: boolean;
  /** System id; default: the first interface's MAC. */
  systemId?: Uint8Array;
  /** System priority. */
  systemPriority: number;
  /** Aggregation key of every port. */
  key: number;
  /** Port priority of every port. */
  portPriority: number;
  /** Injection rules applied to outgoing LACPDUs. */
  rules: readonly InjectRule[];
  /** Exit once every port where a rule fired has sent its injected LACPDU. */
  exitAfterInject: boolean;
  /** Record every LACPDU and Marker PDU sent and received here. */
  pcap?: string;
  /**
   * Run on interfaces of this network namespace without moving the process into it (sockets are
   * opened there); lets one process run daemons in several namespaces, as `netkit lab` does.
   */
  netns?: string;
}

/** lacpd's defaults: active, fast rate, priorities 32768, key 1, no rules. */
export const LACP_DEFAULTS = {
  active: true,
  fast: true,
  systemPriority: 32768,
  key: 1,
  portPriority: 32768,
  rules: [],
  exitAfterInject: false,
} as const satisfies Omit<LacpDaemonOptions, "interfaces">;

/** Options for a daemon on `interfaces` with {@linkcode LACP_DEFAULTS} and `overrides`. */
export function lacpDaemonOptions(
  interfaces: readonly string[],
  overrides: Partial<Omit<LacpDaemonOptions, "interfaces">> = {},
): LacpDaemonOptions {
  return { ...LACP_DEFAULTS, ...overrides, interfaces };
}
