/**
 * What the user reads about a LACP lab run: each event as a timeline line (ports of one actor
 * that report the same change merged into one line, {@linkcode LacpTimeline}) and, at the end,
 * a plain-English account of the run ({@linkcode explainLacpLab}). Pure: it reads the events of
 * `lacp_events.ts`, recorded or live, and needs neither root nor the native library.
 *
 * @example The timeline and the explanation of recorded events
 * ```ts ignore
 * import { explainLacpLab, LacpTimeline } from "./lacp_narrative.ts";
 *
 * const timeline = new LacpTimeline();
 * for (const event of report.events) console.log(timeline.add(event).join("\n"));
 * console.log([...timeline.flush(), ...explainLacpLab(report)].join("\n"));
 * ```
 *
 * @module
 */

import { type InjectRule, parseInjectRule, type StateCondition } from "../lacp/inject_rule.ts";
import { formatStateLetters } from "../packet/lacp.ts";
import { plural, shellQuote } from "../text.ts";
import {
  LACP_LAB_LINKS,
  type LacpLabEvent,
  type LacpLabReport,
  type LacpPortChange,
} from "./lacp_events.ts";
import { at, type EventOf, type EventText, type ExplainOptions } from "./timeline.ts";

function describeChanges(changes: readonly LacpPortChange[]): string {
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

/**
 * Describes an event for the timeline, e.g. subject `a1`, text
 * `mux ATTACHED -> COLLECTING_DISTRIBUTING`, or subject `b1`, text `rule fired: LACPDU dropped`.
 */
export function describeLacpLabEvent(event: LacpLabEvent): EventText {
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
export function formatLacpTimelineLine(
  t: number,
  subjects: readonly string[],
  text: string,
): string {
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
export class LacpTimeline {
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
    const { subject, text } = describeLacpLabEvent(event);
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
    return this.#groups.splice(0).map((g) => formatLacpTimelineLine(g.t, g.subjects, g.text));
  }
}

type PortEvent = EventOf<LacpLabEvent, "port">;

function muxChange(e: PortEvent): LacpPortChange | undefined {
  return e.changes.find((c) => c.field === "mux");
}

function rxChange(e: PortEvent): LacpPortChange | undefined {
  return e.changes.find((c) => c.field === "rx");
}

function times(n: number): string {
  return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}

function list(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
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
          : `, at most ${plural(rule.limit, "time")} ${
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

  const [a1, b1] = LACP_LAB_LINKS[0]!;
  const [a2, b2] = LACP_LAB_LINKS[1]!;
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
  fire: EventOf<LacpLabEvent, "rule_fired">,
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
