// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * What the LACP lab (`netkit lab lacp`, `LacpScenario` in `lacp_scenario.ts`) records:
 * its events, the snapshot of its ports and the report of a run, all JSON as `-j` prints them.
 * Pure: the narrative and its tests read these without root.
 *
 * @module
 */

import type { RunEnd, StoppedEvent } from "./runner.ts";

/**
 * The rule actor B runs unless told otherwise: once A is collecting and distributing, B goes
 * silent. A times B out after 3 s, leaves the aggregate and says so; that takes away B's
 * trigger, B speaks again at once and A re-aggregates, so the link flaps every 3 s.
 */
export const DEFAULT_LAB_RULE = "P:+CD -> drop";

/** The veth pairs: A's ends, then B's. */
export const LACP_LAB_LINKS: readonly (readonly [string, string])[] = [["a1", "b1"], ["a2", "b2"]];

/** The two actors of the lab: A runs plain LACP, B runs the injection rule. */
export type LacpLabActor = "A" | "B";

/** Why a lab run ended. */
export type LacpLabStopReason = "duration" | "signal" | "daemon_exited";

/** One actor port's state at one moment (JSON). */
export interface LacpPortSnapshot {
  /** The actor the port belongs to. */
  actor: LacpLabActor;
  /** Its interface, "a1". */
  interface: string;
  /** The mux machine's state, "COLLECTING_DISTRIBUTING". */
  mux_state: string;
  /** The receive machine's state, "CURRENT". */
  rx_state: string;
  /** The selection logic's verdict, "SELECTED". */
  selection: string;
  /** Our actor state as letters of ATGSCDFE ("N" when empty): the truth, before injection. */
  actor_state: string;
  /** The partner state this port holds, as letters. */
  partner_state: string;
  /** Seconds until the partner's information expires (current_while), or null. */
  current_while: number | null;
  /** Seconds left of wait_while while the mux is WAITING, else null. */
  wait_while: number | null;
  /** LACPDUs received. */
  lacpdu_rx: number;
  /** LACPDUs sent. */
  lacpdu_tx: number;
  /** How often the rule fired on this port; null on actor A, which has no rule. */
  rule_fired: number | null;
}

/** Every port of the lab at `t` seconds since the daemons started (JSON). */
export interface LacpLabSnapshot {
  /** Seconds since the daemons started. */
  t: number;
  /** A's ports, then B's. */
  ports: LacpPortSnapshot[];
}

/** One field of a port that changed; `from` is null the first time the port is seen. */
export interface LacpPortChange {
  /** Which field: the mux or receive machine's state, or the actor or partner state letters. */
  field: "mux" | "rx" | "actor" | "partner";
  /** Its value before, or null the first time. */
  from: string | null;
  /** Its value now. */
  to: string;
}

/** Something that happened in the lab, `t` seconds after the daemons started (JSON). */
export type LacpLabEvent =
  | {
    t: number;
    event: "lab";
    /** The namespaces of A and B. */
    netns: [string, string];
    /** The veth pairs, A's end first. */
    links: [string, string][];
  }
  | {
    t: number;
    event: "started";
    actor: LacpLabActor;
    netns: string;
    interfaces: string[];
    system: string;
    /** The injection rule this actor runs, or null. */
    rule: string | null;
  }
  | {
    t: number;
    event: "port";
    actor: LacpLabActor;
    interface: string;
    changes: LacpPortChange[];
  }
  | {
    t: number;
    event: "rule_fired";
    actor: LacpLabActor;
    interface: string;
    rule: string;
    /** What the rule did to the LACPDU, e.g. "dropped" or "Actor state ATGSCD -> ATGS". */
    effect: string;
    /** Fires on this port so far. */
    fired: number;
  }
  | StoppedEvent<LacpLabStopReason>;

/** What a finished run leaves behind, for `explainLacpLab` (`lacp_narrative.ts`). */
export interface LacpLabReport extends RunEnd<LacpLabEvent> {
  /** Actor B's injection rule, as given. */
  rule: string;
  /** The ports just before the daemons stopped (empty if they never started). */
  final: LacpLabSnapshot;
}
