// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

/**
 * The LACP lab behind `netkit lab lacp`: two network namespaces joined by two veth pairs
 * (a1–b1, a2–b2), actor A on a1 and a2, actor B on b1 and b2 with one injection rule. Both
 * {@linkcode LacpDaemon}s run in this process (their `netns` option), so the lab reads their
 * state machines directly and turns every change into a timeline event; at the end
 * {@linkcode explainLacpLab} tells the story in plain English.
 *
 * ```ts ignore
 * import { describeLabEvent, explainLacpLab, LacpLab } from "./lacp_scenario.ts";
 * import { parseInjectRule } from "../lacp/inject_rule.ts";
 *
 * await using lab = LacpLab.create();
 * const report = await lab.run({
 *   rule: parseInjectRule("P:+CD -> drop"),
 *   durationMs: 8000,
 *   onEvent: (event) => console.log(describeLabEvent(event).text),
 * });
 * console.log(explainLacpLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, veth pairs, packet sockets), iproute2 and `--allow-all`.
 *
 * @module
 */

import { NetkitError } from "../errors.ts";
import { shellQuote } from "../text.ts";
import {
  conditionHolds,
  formatInjection,
  InjectionEngine,
  type InjectRule,
  type OutgoingPdu,
  parseInjectRule,
  type StateCondition,
} from "../lacp/inject_rule.ts";
import { LacpDaemon, lacpDaemonOptions } from "../lacp/daemon.ts";
import type { LacpPort } from "../lacp/lacp_port.ts";
import { formatStateLetters } from "../packet/lacp.ts";
import { formatMac } from "../packet/mac.ts";
import { NamespaceLab } from "./namespace_lab.ts";

/**
 * The rule actor B runs unless told otherwise: once A is collecting and distributing, B goes
 * silent. A times B out after 3 s, leaves the aggregate and says so; that takes away B's
 * trigger, B speaks again at once and A re-aggregates, so the link flaps every 3 s.
 */
export const DEFAULT_LAB_RULE = "P:+CD -> drop";

/** The two actors of the lab: A runs plain LACP, B runs the injection rule. */
export type LabActor = "A" | "B";

/** Why a lab run ended. */
export type LabStopReason = "duration" | "signal" | "daemon_exited";

/** One actor port's state at one moment (JSON). */
export interface LabPortSnapshot {
  actor: LabActor;
  interface: string;
  mux_state: string;
  rx_state: string;
  selection: string;
  /** Our actor state as letters of ATGSCDFE ("N" when empty): the truth, before injection. */
  actor_state: string;
  /** The partner state this port holds, as letters. */
  partner_state: string;
  /** Seconds until the partner's information expires (current_while), or null. */
  current_while: number | null;
  /** Seconds left of wait_while while the mux is WAITING, else null. */
  wait_while: number | null;
  lacpdu_rx: number;
  lacpdu_tx: number;
  /** How often the rule fired on this port; null on actor A, which has no rule. */
  rule_fired: number | null;
}

/** Every port of the lab at `t` seconds since the daemons started (JSON). */
export interface LabSnapshot {
  t: number;
  ports: LabPortSnapshot[];
}

/** One field of a port that changed; `from` is null the first time the port is seen. */
export interface LabPortChange {
  field: "mux" | "rx" | "actor" | "partner";
  from: string | null;
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
    actor: LabActor;
    netns: string;
    interfaces: string[];
    system: string;
    /** The injection rule this actor runs, or null. */
    rule: string | null;
  }
  | {
    t: number;
    event: "port";
    actor: LabActor;
    interface: string;
    changes: LabPortChange[];
  }
  | {
    t: number;
    event: "rule_fired";
    actor: LabActor;
    interface: string;
    rule: string;
    /** What the rule did to the LACPDU, e.g. "dropped" or "Actor state ATGSCD -> ATGS". */
    effect: string;
    /** Fires on this port so far. */
    fired: number;
  }
  | { t: number; event: "stopped"; reason: LabStopReason };

/** What a finished run leaves behind, for {@linkcode explainLacpLab}. */
export interface LacpLabReport {
  rule: string;
  reason: LabStopReason;
  /** Seconds from the daemons' start to their stop. */
  duration: number;
  /** Every event, in order. */
  events: LacpLabEvent[];
  /** The ports just before the daemons stopped (empty if they never started). */
  final: LabSnapshot;
}

/** Options for {@linkcode LacpLab.run}. */
export interface LacpLabRunOptions {
  /** Actor B's injection rule. */
  rule: InjectRule;
  /** Stop after this many milliseconds; 0 runs until `signal` aborts. */
  durationMs: number;
  /** Ends the run early (Ctrl-C). */
  signal?: AbortSignal;
  /** Called for every event as it happens. */
  onEvent?: (event: LacpLabEvent) => void;
}

/** The veth pairs: A's ends, then B's. */
const LINKS: [string, string][] = [["a1", "b1"], ["a2", "b2"]];

/** The injection rule without its condition and limit: what it does, whenever it fires. */
function effectOf(rule: InjectRule, port: LacpPort): string {
  const truth: OutgoingPdu = {
    version: 1,
    actor: port.actorInfo(),
    partner: { state: port.partner.state },
  };
  const always = new InjectionEngine([{ ...rule, condition: {}, limit: null }]);
  return formatInjection(truth, always.apply(truth, port.actorState, port.partner.state).pdu);
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** A running actor: its daemon, the promise of its loop, and what was last reported. */
interface RunningActor {
  name: LabActor;
  daemon: LacpDaemon;
  done: Promise<number>;
  /** Per port: the fields last reported. */
  last: (Record<LabPortChange["field"], string> | null)[];
  /**
   * Per port: rule fires last seen, and the effect last reported in the current streak (null:
   * none yet; a streak ends when the condition stops holding).
   */
  fires: number[];
  streakEffect: (string | null)[];
}

/**
 * The lab: namespaces `<prefix>-a` and `<prefix>-b` with veth pairs a1–b1 and a2–b2, made by
 * {@linkcode LacpLab.create} and removed by {@linkcode LacpLab.close} (also on dispose).
 */
export class LacpLab implements AsyncDisposable {
  readonly #namespaces: NamespaceLab;
  /** The namespaces of actor A and actor B. */
  readonly netns: readonly [string, string];
  #actors: RunningActor[] = [];
  #started = 0;
  #closed = false;

  private constructor(namespaces: NamespaceLab, netns: [string, string]) {
    this.#namespaces = namespaces;
    this.netns = netns;
  }

  /**
   * Builds the namespaces and veth pairs. Throws a one-line {@linkcode NetkitError} without root
   * or iproute2, and removes whatever it made when a step fails.
   */
  static create(): LacpLab {
    if (Deno.uid() !== 0) {
      throw new NetkitError(
        "netkit lab needs root: it creates network namespaces and veth pairs (run it with sudo)",
      );
    }
    const namespaces = new NamespaceLab();
    try {
      const a = namespaces.netns("a");
      const b = namespaces.netns("b");
      for (const [ea, eb] of LINKS) namespaces.veth({ netns: a, name: ea }, { netns: b, name: eb });
      return new LacpLab(namespaces, [a, b]);
    } catch (err) {
      namespaces[Symbol.dispose]();
      if (err instanceof Deno.errors.NotFound) {
        throw new NetkitError(
          'netkit lab needs iproute2: the "ip" command was not found (install iproute2)',
        );
      }
      throw err;
    }
  }

  /** The namespace prefix; every name the lab creates starts with it. */
  get prefix(): string {
    return this.#namespaces.prefix;
  }

  /**
   * Starts actor A (no rule) and actor B (`options.rule`), reports every state change through
   * `options.onEvent` until the duration has passed, `options.signal` aborts or a daemon stops
   * (SIGINT and SIGTERM stop them), then stops both daemons. Can run once.
   */
  async run(options: LacpLabRunOptions): Promise<LacpLabReport> {
    if (this.#started !== 0 || this.#closed) throw new Error("A LacpLab runs only once");
    const events: LacpLabEvent[] = [];
    const emit = (event: LacpLabEvent) => {
      events.push(event);
      options.onEvent?.(event);
    };
    const started = this.#started = performance.now();
    const elapsed = () => seconds(performance.now() - started);
    const report = (reason: LabStopReason, final: LabSnapshot): LacpLabReport => {
      emit({ t: elapsed(), event: "stopped", reason });
      return { rule: options.rule.text, reason, duration: elapsed(), events, final };
    };
    if (options.signal?.aborted) return report("signal", { t: 0, ports: [] });

    emit({ t: 0, event: "lab", netns: [...this.netns], links: LINKS.map(([a, b]) => [a, b]) });
    const specs: [LabActor, string, string[], InjectRule[]][] = [
      ["A", this.netns[0], LINKS.map(([a]) => a), []],
      ["B", this.netns[1], LINKS.map(([, b]) => b), [options.rule]],
    ];
    // A failure while observing (a broken stdout in onEvent, say) ends the run; it must not
    // escape into the daemon loop that called the observer.
    const failures: unknown[] = [];
    let onFailure = () => {};
    const failed = new Promise<LabStopReason>((resolve) =>
      onFailure = () => resolve("daemon_exited")
    );
    const observe = () => {
      if (failures.length > 0) return;
      try {
        this.#observe(elapsed(), emit);
      } catch (error) {
        failures.push(error);
        onFailure();
      }
    };
    for (const [name, netns, interfaces, rules] of specs) {
      const daemon = await LacpDaemon.start(lacpDaemonOptions(interfaces, { netns, rules }));
      daemon.system.observe(observe);
      this.#actors.push({
        name,
        daemon,
        done: daemon.run(),
        last: interfaces.map(() => null),
        fires: interfaces.map(() => 0),
        streakEffect: interfaces.map(() => null),
      });
      emit({
        t: elapsed(),
        event: "started",
        actor: name,
        netns,
        interfaces,
        system: formatMac(daemon.system.actor.system),
        rule: rules[0]?.text ?? null,
      });
    }

    observe();
    // The run ends at the first of: the duration, the abort signal, a daemon's loop ending.
    const ends: Promise<LabStopReason>[] = [
      Promise.race(this.#actors.map((a) => a.done.then(() => {}, () => {}))).then(() =>
        "daemon_exited" as const
      ),
    ];
    let onAbort = () => {};
    ends.push(new Promise((resolve) => onAbort = () => resolve("signal")), failed);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.durationMs > 0) {
      const left = Math.max(0, options.durationMs - (performance.now() - started));
      ends.push(new Promise((resolve) => timer = setTimeout(() => resolve("duration"), left)));
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    let reason: LabStopReason;
    try {
      reason = await Promise.race(ends);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    const final = this.snapshot();
    await this.#stopActors();
    if (failures.length > 0) throw failures[0];
    return report(reason, final);
  }

  /** Every port's state now (no ports before {@linkcode run} starts the daemons). */
  snapshot(): LabSnapshot {
    const now = performance.now();
    const t = this.#started === 0 ? 0 : seconds(now - this.#started);
    const left = (at: number | null) => at === null ? null : seconds(Math.max(0, at - now));
    return {
      t,
      ports: this.#actors.flatMap((actor) =>
        actor.daemon.system.ports.map((port, i) => ({
          actor: actor.name,
          interface: port.identity.name,
          mux_state: port.muxState,
          rx_state: port.rxState,
          selection: port.selected,
          actor_state: formatStateLetters(port.actorState),
          partner_state: formatStateLetters(port.partner.state),
          current_while: left(port.timers.currentWhile),
          wait_while: port.muxState === "WAITING" ? left(port.timers.waitWhile) : null,
          lacpdu_rx: port.counters.lacpduRx,
          lacpdu_tx: port.counters.lacpduTx,
          rule_fired: actor.daemon.system.rules.length === 0
            ? null
            : actor.daemon.system.ruleFireCounts(i)[0] ?? 0,
        }))
      ),
    };
  }

  /** Reports what changed since the last look: port fields first, then rule fires. */
  #observe(t: number, emit: (event: LacpLabEvent) => void): void {
    const fired: LacpLabEvent[] = [];
    for (const actor of this.#actors) {
      const system = actor.daemon.system;
      system.ports.forEach((port, i) => {
        const now = {
          mux: port.muxState,
          rx: port.rxState,
          actor: formatStateLetters(port.actorState),
          partner: formatStateLetters(port.partner.state),
        };
        const last = actor.last[i] ?? null;
        const changes: LabPortChange[] = [];
        for (const field of ["mux", "rx", "actor", "partner"] as const) {
          if (last === null || last[field] !== now[field]) {
            changes.push({ field, from: last?.[field] ?? null, to: now[field] });
          }
        }
        actor.last[i] = now;
        if (changes.length > 0) {
          emit({ t, event: "port", actor: actor.name, interface: port.identity.name, changes });
        }
        const rule = system.rules[0];
        if (rule === undefined) return;
        const count = system.ruleFireCounts(i)[0] ?? 0;
        // The rule fires on every LACPDU while its condition holds: one event per streak, and
        // another when what it does changes.
        if (count > actor.fires[i]!) {
          const effect = effectOf(rule, port);
          if (actor.streakEffect[i] !== effect) {
            actor.streakEffect[i] = effect;
            fired.push({
              t,
              event: "rule_fired",
              actor: actor.name,
              interface: port.identity.name,
              rule: rule.text,
              effect,
              fired: count,
            });
          }
        }
        actor.fires[i] = count;
        if (!conditionHolds(rule, port.actorState, port.partner.state)) {
          actor.streakEffect[i] = null;
        }
      });
    }
    for (const event of fired) emit(event);
  }

  /** Stops the daemons, waits for their loops and closes them; rethrows a loop's failure. */
  async #stopActors(): Promise<void> {
    const actors = this.#actors;
    for (const actor of actors) actor.daemon.stop();
    const results = await Promise.allSettled(actors.map((a) => a.done));
    for (const actor of actors) await actor.daemon.close();
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * Stops the daemons if they still run and deletes both namespaces (and with them the veth
   * pairs). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const actor of this.#actors) actor.daemon.stop();
      await Promise.allSettled(this.#actors.map((a) => a.done));
      for (const actor of this.#actors) await actor.daemon.close();
    } finally {
      this.#namespaces[Symbol.dispose]();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function describeChanges(changes: readonly LabPortChange[]): string {
  return changes
    .map((c) => c.from === null ? `${c.field} ${c.to}` : `${c.field} ${c.from} -> ${c.to}`)
    .join(", ");
}

/** A rule's effect on the timeline: "LACPDU dropped", "sent Actor state ATGSCD -> ATGS". */
function effectText(effect: string): string {
  if (effect === "dropped") return "LACPDU dropped";
  if (effect === "no change") return "LACPDU sent unchanged";
  return `sent ${effect}`;
}

/** An event in words: the port it concerns (null for the lab as a whole) and what happened. */
export interface LabEventText {
  subject: string | null;
  text: string;
}

/**
 * Describes an event for the timeline, e.g. subject `a1`, text
 * `mux ATTACHED -> COLLECTING_DISTRIBUTING`, or subject `b1`, text `rule fired: LACPDU dropped`.
 */
export function describeLabEvent(event: LacpLabEvent): LabEventText {
  switch (event.event) {
    case "lab":
      return {
        subject: null,
        text: `lab ready: ${event.netns[0]} and ${event.netns[1]}, veth pairs ${
          event.links.map(([a, b]) => `${a}-${b}`).join(", ")
        }`,
      };
    case "started":
      return {
        subject: null,
        text: `actor ${event.actor} started on ${event.interfaces.join(", ")} in ${event.netns} ` +
          `(system ${event.system}, active, fast rate${
            event.rule === null ? "" : `, rule "${event.rule}"`
          })`,
      };
    case "port":
      return { subject: event.interface, text: describeChanges(event.changes) };
    case "rule_fired":
      return { subject: event.interface, text: `rule fired: ${effectText(event.effect)}` };
    case "stopped":
      return {
        subject: null,
        text: {
          duration: "stopped: the duration is over",
          signal: "stopped: interrupted",
          daemon_exited: "stopped: a daemon exited",
        }[event.reason],
      };
  }
}

/** `   2.05s  a1,a2  mux ...`: one timeline line. */
export function formatTimelineLine(t: number, subjects: readonly string[], text: string): string {
  return `${t.toFixed(2).padStart(7)}s  ${
    subjects.length > 0 ? `${subjects.join(",")}  ` : ""
  }${text}`;
}

/**
 * Turns events into timeline lines, merging ports of one actor that report the same thing within
 * a short window (a1 and a2 usually change within a millisecond of each other) into one line,
 * `a1,a2  ...`. Lines come out when the window has passed ({@linkcode add} of a later event) or
 * on {@linkcode flush}.
 */
export class LabTimeline {
  readonly #windowSeconds: number;
  #groups: { t: number; key: string | null; subjects: string[]; text: string }[] = [];

  /** Merges events less than `windowSeconds` after the first one waiting. */
  constructor(windowSeconds = 0.05) {
    this.#windowSeconds = windowSeconds;
  }

  /** Whether lines are waiting for {@linkcode flush}. */
  get pending(): boolean {
    return this.#groups.length > 0;
  }

  /** Takes one event; returns the lines it pushed out of the window. */
  add(event: LacpLabEvent): string[] {
    const first = this.#groups[0];
    const out = first !== undefined && event.t - first.t >= this.#windowSeconds ? this.flush() : [];
    const { subject, text } = describeLabEvent(event);
    const key = subject === null || !("actor" in event) ? null : `${event.actor}|${text}`;
    const group = key === null
      ? undefined
      : this.#groups.find((g) => g.key === key && !g.subjects.includes(subject!));
    if (group !== undefined) group.subjects.push(subject!);
    else this.#groups.push({ t: event.t, key, subjects: subject === null ? [] : [subject], text });
    return out;
  }

  /** Every waiting line. */
  flush(): string[] {
    return this.#groups.splice(0).map((g) => formatTimelineLine(g.t, g.subjects, g.text));
  }
}

type PortEvent = Extract<LacpLabEvent, { event: "port" }>;

function muxChange(e: PortEvent): LabPortChange | undefined {
  return e.changes.find((c) => c.field === "mux");
}

function rxChange(e: PortEvent): LabPortChange | undefined {
  return e.changes.find((c) => c.field === "rx");
}

function times(n: number): string {
  return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}

function at(t: number): string {
  return `${t.toFixed(2)}s`;
}

function list(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** Options for {@linkcode explainLacpLab}. */
export interface ExplainOptions {
  /** How the user runs netkit, for the commands to reproduce the lab (default "netkit"). */
  netkit?: string;
}

/**
 * A plain-English account of a run, as lines of text: how the ports came up (wait_while, Sync),
 * what the rule did and how actor A reacted, all from what the run observed, followed by the
 * commands that reproduce the lab with two terminals.
 */
export function explainLacpLab(report: LacpLabReport, options: ExplainOptions = {}): string[] {
  const netkit = options.netkit ?? "netkit";
  const ports = report.events.filter((e): e is PortEvent => e.event === "port");
  const fires = report.events.filter((e) => e.event === "rule_fired");
  // The first fire that changed what B sent, else the first fire.
  const firstFire = fires.find((e) => e.effect !== "no change") ?? fires[0];
  const lines: string[] = ["What happened:"];
  const point = (text: string) => lines.push(`  - ${text}`);

  if (ports.length === 0) {
    lines.push("  The lab stopped before the actors started.");
  } else {
    const current = ports.find((e) => rxChange(e)?.to === "CURRENT");
    point(
      "Both actors are active, so every port sent a LACPDU as soon as it started" +
        (current === undefined
          ? "; no LACPDU arrived, though."
          : ` and learned its partner from the first one it received (rx CURRENT, ${
            at(current.t)
          }).`),
    );
    const waiting = ports.find((e) => muxChange(e)?.to === "WAITING");
    const attached = ports.find((e) =>
      muxChange(e)?.from === "WAITING" && muxChange(e)?.to !== "DETACHED"
    );
    if (waiting !== undefined) {
      point(
        "wait_while: a port selected for an aggregator waits in WAITING for 2 s, so that every " +
          "port joining the same aggregate attaches at once" +
          (attached === undefined
            ? "; no port got past it before the lab stopped."
            : `; the first one left WAITING at ${at(attached.t)}.`),
      );
    }
    const reached = new Map<string, number>();
    for (const e of ports) {
      if (muxChange(e)?.to === "COLLECTING_DISTRIBUTING" && !reached.has(e.interface)) {
        reached.set(e.interface, e.t);
      }
    }
    const all = report.final.ports.map((p) => p.interface);
    const missing = all.filter((name) => !reached.has(name));
    const last = Math.max(...reached.values());
    point(
      "Sync: an attached port sets Sync (S) in its LACPDUs, and moves to COLLECTING_DISTRIBUTING " +
        "(C, D) once its partner says Sync too. " +
        (reached.size === 0
          ? "No port got there before the lab stopped."
          : missing.length === 0
          ? `All four ports got there by ${at(last)}.`
          : `${list([...reached.keys()])} got there by ${at(last)}; ${list(missing)} never did.`),
    );
  }

  const rule = parseInjectRule(report.rule);
  if (firstFire === undefined) {
    if (ports.length > 0) {
      point(
        `Injection: B's rule "${report.rule}" fires when ${describeCondition(rule)}; ` +
          "that never happened while B was sending, so it never fired.",
      );
    }
  } else {
    const counts = new Map(
      report.final.ports.filter((p) => p.actor === "B").map((
        p,
      ) => [p.interface, p.rule_fired ?? 0]),
    );
    const effect = firstFire.effect;
    point(
      `Injection: B's rule "${report.rule}" fires on every LACPDU B sends while ${
        describeCondition(rule)
      }${
        rule.limit === null
          ? ""
          : `, at most ${rule.limit} times ${
            rule.perEpisode ? "each time that begins" : "per port"
          }`
      }. ${
        effect === "no change"
          ? `It fired from ${at(firstFire.t)} on but never changed what B sent`
          : `From ${at(firstFire.t)} on, ${
            effect === "dropped"
              ? "B stopped sending LACPDUs"
              : `B's LACPDUs said ${effect}, while B's own state machines kept the truth`
          }`
      }. It fired ${perPort(counts) ?? "never"}.`,
    );
    const after = report.events.slice(report.events.indexOf(firstFire) + 1)
      .filter((e): e is PortEvent => e.event === "port");
    lines.push(...reaction(report, firstFire, after));
  }

  const [a1, b1] = LINKS[0]!;
  const [a2, b2] = LINKS[1]!;
  lines.push(
    "",
    "Reproduce it by hand with two terminals (as root):",
    "  ip netns add lacp-a; ip netns add lacp-b",
    `  ip -n lacp-a link add ${a1} type veth peer name ${b1} netns lacp-b`,
    `  ip -n lacp-a link add ${a2} type veth peer name ${b2} netns lacp-b`,
    `  ip -n lacp-a link set ${a1} up; ip -n lacp-a link set ${a2} up`,
    `  ip -n lacp-b link set ${b1} up; ip -n lacp-b link set ${b2} up`,
    `  terminal 1: ip netns exec lacp-a ${netkit} lacp -i ${a1} -i ${a2}`,
    `  terminal 2: ip netns exec lacp-b ${netkit} lacp -i ${b1} -i ${b2} --inject ${
      shellQuote(report.rule)
    }`,
    `  watch:      ${netkit} -n lacp-a lacp -s     (or -n lacp-b)`,
    "  clean up:   ip netns del lacp-a; ip netns del lacp-b",
  );
  return lines;
}

/** Letters of the set bits of `bits`, or "" when none. */
function letters(bits: number): string {
  return bits === 0 ? "" : formatStateLetters(bits);
}

/** A rule's condition in words, from B's point of view: "A's state has C and D set". */
export function describeCondition(rule: InjectRule): string {
  const parts: string[] = [];
  const describe = (whose: string, c: StateCondition | undefined) => {
    if (c === undefined) return;
    if (c.kind === "equals") {
      parts.push(`${whose} is exactly ${formatStateLetters(c.value)}`);
      return;
    }
    const set = letters(c.set).split("").join(" and ");
    const clear = letters(c.clear).split("").join(" and ");
    parts.push(
      `${whose} has ${[set && `${set} set`, clear && `${clear} clear`].filter(Boolean).join(", ")}`,
    );
  };
  describe("A's state (as B last heard it)", rule.condition.partner);
  describe("B's own state", rule.condition.actor);
  return parts.length === 0 ? "always (no condition)" : parts.join(" and ");
}

/** "twice on each port" or "once on a1 and 3 times on a2"; null when all are zero. */
function perPort(counts: Map<string, number>): string | null {
  const values = [...counts.values()];
  if (values.every((n) => n === 0)) return null;
  if (values.every((n) => n === values[0])) return `${times(values[0]!)} on each port`;
  return list([...counts].map(([name, n]) => `${n === 0 ? "never" : times(n)} on ${name}`));
}

/** How actor A reacted after the rule first fired, from the port events. */
function reaction(
  report: LacpLabReport,
  fire: Extract<LacpLabEvent, { event: "rule_fired" }>,
  after: PortEvent[],
): string[] {
  const names = report.final.ports.filter((p) => p.actor === "A").map((p) => p.interface);
  const tally = (test: (e: PortEvent) => boolean) =>
    new Map(
      names.map((name) => [name, after.filter((e) => e.interface === name && test(e)).length]),
    );
  const expired = perPort(tally((e) => rxChange(e)?.to === "EXPIRED"));
  const defaulted = perPort(tally((e) => rxChange(e)?.to === "DEFAULTED"));
  const left = perPort(tally((e) => muxChange(e)?.from === "COLLECTING_DISTRIBUTING"));
  // Returns to COLLECTING_DISTRIBUTING, each after leaving it, and the longest time away.
  let longestAway = 0;
  const back = perPort(
    new Map(names.map((name) => {
      let leftAt: number | null = null;
      let n = 0;
      for (const e of after) {
        if (e.interface !== name) continue;
        const mux = muxChange(e);
        if (mux?.from === "COLLECTING_DISTRIBUTING") leftAt = e.t;
        else if (mux?.to === "COLLECTING_DISTRIBUTING" && leftAt !== null) {
          longestAway = Math.max(longestAway, e.t - leftAt);
          leftAt = null;
          n++;
        }
      }
      return [name, n];
    })),
  );
  const away = longestAway < 0.1
    ? `within ${Math.max(1, Math.round(longestAway * 1000))} ms each time`
    : `after at most ${longestAway.toFixed(2)} s`;
  const partnerChanged = after.some((e) =>
    e.actor === "A" && e.changes.some((c) => c.field === "partner")
  );
  const deselected = perPort(tally((e) => {
    const mux = muxChange(e);
    return mux !== undefined && mux.from !== "DETACHED" && mux.from !== "WAITING" &&
      (mux.to === "WAITING" || mux.to === "DETACHED");
  }));
  const finalA = report.final.ports.filter((p) => p.actor === "A");
  const finalB = report.final.ports.filter((p) => p.actor === "B");
  const stuck = finalA.length > 0 &&
    finalA.every((p) => p.mux_state === "ATTACHED" && !p.partner_state.includes("S"));
  const out: string[] = [];
  const point = (text: string) => out.push(`  - ${text}`);

  const said: string[] = [];
  if (expired !== null) {
    said.push(
      "hearing nothing from B for 3 s (the short timeout, current_while), A expired B's " +
        `information (rx EXPIRED, E in its state) ${expired}` +
        (defaulted === null
          ? ""
          : `, and gave up on B (rx DEFAULTED, F: admin values) ${defaulted}`) +
        ". Expiry clears the partner's Sync, so A " +
        (left === null
          ? "could not collect and distribute"
          : `left COLLECTING_DISTRIBUTING (C and D withdrawn) ${left}`) +
        (back === null
          ? ""
          : `, and came back ${back} as soon as B's LACPDUs arrived again (${away})`),
    );
  } else if (left !== null) {
    said.push(
      `B's LACPDUs no longer said Sync, so A left COLLECTING_DISTRIBUTING ${left}` +
        (back === null ? "" : ` and came back ${back} when B's true state arrived again (${away})`),
    );
  }
  if (deselected !== null) {
    said.push(
      "B's LACPDUs made it look like another partner (a different LAG ID), so A deselected " +
        `its port and started over in WAITING ${deselected}, waiting out wait_while again`,
    );
  }
  if (stuck) {
    said.push(
      "A stayed ATTACHED: it is in sync itself, but only collects and distributes once its " +
        "partner says Sync, which B's LACPDUs did not" +
        (finalB.every((p) => p.mux_state === "COLLECTING_DISTRIBUTING")
          ? ". B, seeing A in sync, is COLLECTING_DISTRIBUTING: it sends on links A does not " +
            "collect from"
          : ""),
    );
  }
  if (said.length === 0 && partnerChanged) {
    said.push(
      `A recorded what B now claimed (partner ${
        list([...new Set(finalA.map((p) => p.partner_state))])
      })` +
        (finalA.every((p) => p.mux_state === "COLLECTING_DISTRIBUTING")
          ? " but kept collecting and distributing: with coupled control a port only needs " +
            "its partner's Sync for that, whatever the partner says about C and D"
          : ""),
    );
  }
  const since = report.duration - fire.t;
  point(
    said.length > 0
      ? `A's reaction: ${said.join(". ")}.`
      : fire.effect === "dropped" && since < 3.5
      ? `A's reaction: none yet. A keeps what it heard from B for 3 s (current_while), and the ` +
        `lab stopped ${since.toFixed(1)} s after B went silent.`
      : "A's reaction: none; nothing A holds about B changed after the rule fired.",
  );
  const streaks = report.events.filter((e) => e.event === "rule_fired").length;
  if (streaks > 1 && left !== null && back !== null) {
    const first = names[0]!;
    const expiries = after.filter((e) => e.interface === first && rxChange(e)?.to === "EXPIRED");
    const period = expiries.length > 1
      ? ` every ${
        ((expiries[expiries.length - 1]!.t - expiries[0]!.t) / (expiries.length - 1)).toFixed(1)
      } s`
      : "";
    point(
      "A loop: leaving COLLECTING_DISTRIBUTING took away B's trigger, so B sent its true state " +
        "again and A re-aggregated, which set the trigger off once more: the link flapped" +
        `${period} for as long as the rule was in place.`,
    );
  }
  return out;
}
