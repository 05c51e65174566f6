/**
 * The LACP lab behind `netkit lab lacp`: two network namespaces joined by two veth pairs
 * (a1–b1, a2–b2), actor A on a1 and a2, actor B on b1 and b2 with one injection rule. Both
 * {@linkcode LacpDaemon}s run in this process (their `netns` option), so the lab reads their
 * state machines directly and turns every change into an event of `lacp_events.ts` on the shared
 * {@linkcode ScenarioRun}; `lacp_narrative.ts` tells the story.
 *
 * ```ts ignore
 * import { LacpScenario } from "./lacp_scenario.ts";
 * import { describeLacpLabEvent, explainLacpLab } from "./lacp_narrative.ts";
 * import { parseInjectRule } from "../lacp/inject_rule.ts";
 *
 * await using lab = LacpScenario.create();
 * const report = await lab.run({
 *   rule: parseInjectRule("P:+CD -> drop"),
 *   durationMs: 8000,
 *   onEvent: (event) => console.log(describeLacpLabEvent(event).text),
 * });
 * console.log(explainLacpLab(report).join("\n"));
 * ```
 *
 * Requires root (network namespaces, veth pairs, packet sockets), iproute2 and `--allow-all`.
 *
 * @module
 */

import {
  conditionHolds,
  formatInjection,
  InjectionEngine,
  type InjectRule,
  type OutgoingPdu,
} from "../lacp/inject_rule.ts";
import { LacpDaemon, lacpDaemonOptions } from "../lacp/daemon.ts";
import type { LacpPortView } from "../lacp/lacp_port.ts";
import { formatStateLetters } from "../packet/lacp.ts";
import { formatMac } from "../packet/mac.ts";
import {
  LACP_LAB_LINKS,
  type LacpLabActor,
  type LacpLabEvent,
  type LacpLabReport,
  type LacpLabSnapshot,
  type LacpLabStopReason,
  type LacpPortChange,
} from "./lacp_events.ts";
import { labBuildError, NamespaceLab, requireLabRoot } from "./namespace_lab.ts";
import {
  Interrupted,
  ScenarioRun,
  type ScenarioRunOptions,
  seconds,
  type Untimed,
} from "./runner.ts";

/** Options for {@linkcode LacpScenario.run}. */
export interface LacpLabRunOptions extends ScenarioRunOptions<LacpLabEvent> {
  /** Actor B's injection rule. */
  rule: InjectRule;
  /** Stop after this many milliseconds; 0 runs until `signal` aborts. */
  durationMs: number;
}

/** The injection rule without its condition and limit: what it does, whenever it fires. */
function effectOf(rule: InjectRule, port: LacpPortView): string {
  const truth: OutgoingPdu = {
    version: 1,
    actor: port.actorInfo(),
    partner: { state: port.partnerState },
  };
  const always = new InjectionEngine([{ ...rule, condition: {}, limit: null }]);
  return formatInjection(truth, always.apply(truth, port.actorState, port.partnerState).pdu);
}

/** A running actor: its daemon, the promise of its loop, and what was last reported. */
interface RunningActor {
  name: LacpLabActor;
  daemon: LacpDaemon;
  done: Promise<number>;
  /** Per port: the fields last reported. */
  last: (Record<LacpPortChange["field"], string> | null)[];
  /**
   * Per port: rule fires last seen, and the effect last reported in the current streak (null:
   * none yet; a streak ends when the condition stops holding).
   */
  fires: number[];
  streakEffect: (string | null)[];
}

/**
 * The lab: namespaces `<prefix>-a` and `<prefix>-b` with veth pairs a1–b1 and a2–b2, made by
 * {@linkcode LacpScenario.create} and removed by {@linkcode LacpScenario.close} (also on
 * dispose).
 */
export class LacpScenario implements AsyncDisposable {
  readonly #namespaces: NamespaceLab;
  /** The namespaces of actor A and actor B. */
  readonly netns: readonly [string, string];
  #actors: RunningActor[] = [];
  #run: ScenarioRun<LacpLabEvent> | null = null;
  /** performance.now() when the daemons started, 0 before. */
  #started = 0;
  #closed = false;

  private constructor(namespaces: NamespaceLab, netns: [string, string]) {
    this.#namespaces = namespaces;
    this.netns = netns;
  }

  /**
   * Builds the namespaces and veth pairs. Throws a one-line `NetkitError` without root or
   * iproute2, and removes whatever it made when a step fails.
   */
  static create(): LacpScenario {
    requireLabRoot();
    const namespaces = new NamespaceLab();
    try {
      const a = namespaces.netns("a");
      const b = namespaces.netns("b");
      for (const [ea, eb] of LACP_LAB_LINKS) {
        namespaces.veth({ netns: a, name: ea }, { netns: b, name: eb });
      }
      return new LacpScenario(namespaces, [a, b]);
    } catch (err) {
      namespaces[Symbol.dispose]();
      throw labBuildError(err);
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
    if (this.#run !== null || this.#closed) throw new Error("A LacpScenario runs only once");
    using run = this.#run = new ScenarioRun(options);
    let reason: LacpLabStopReason = "signal";
    let final: LacpLabSnapshot = { t: 0, ports: [] };
    await run.perform(async () => {
      reason = await this.#startAndWatch(run, options);
    }, async () => {
      if (this.#actors.length === 0) return;
      final = this.snapshot();
      await this.#stopActors();
    });
    return { ...run.finish(reason), rule: options.rule.text, final };
  }

  /** Starts both actors and waits for the end of the run; says why it ended. */
  async #startAndWatch(
    run: ScenarioRun<LacpLabEvent>,
    options: LacpLabRunOptions,
  ): Promise<LacpLabStopReason> {
    run.emit({
      event: "lab",
      netns: [...this.netns],
      links: LACP_LAB_LINKS.map(([a, b]) => [a, b]),
    }, 0);
    const specs: [LacpLabActor, string, string[], InjectRule[]][] = [
      ["A", this.netns[0], LACP_LAB_LINKS.map(([a]) => a), []],
      ["B", this.netns[1], LACP_LAB_LINKS.map(([, b]) => b), [options.rule]],
    ];
    // A failure while observing must not escape into the daemon loop that called the observer:
    // it ends the run instead.
    const observe = () => {
      if (run.failed) return;
      try {
        this.#observe(run);
      } catch (err) {
        run.fail(err);
      }
    };
    this.#started = performance.now();
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
      run.emit({
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
    let exited = false;
    void Promise.race(this.#actors.map((a) => a.done.then(() => {}, () => {}))).then(() => {
      exited = true;
      run.wake();
    });
    const limit = options.durationMs > 0
      ? options.durationMs - (performance.now() - this.#started)
      : Infinity;
    try {
      return await run.until(() => exited, limit) ? "daemon_exited" : "duration";
    } catch (err) {
      if (err instanceof Interrupted && !run.interrupted) return "daemon_exited";
      throw err;
    }
  }

  /** Every port's state now (no ports before {@linkcode run} starts the daemons). */
  snapshot(): LacpLabSnapshot {
    const now = performance.now();
    const t = this.#started === 0 ? 0 : seconds(now - this.#started);
    const left = (at: number | null) => at === null ? null : seconds(Math.max(0, at - now));
    return {
      t,
      ports: this.#actors.flatMap((actor) =>
        actor.daemon.system.ports.map((view, i) => {
          const port = view.snapshot();
          return {
            actor: actor.name,
            interface: port.identity.name,
            mux_state: port.muxState,
            rx_state: port.rxState,
            selection: port.selected,
            actor_state: formatStateLetters(port.actor.state),
            partner_state: formatStateLetters(port.partner.state),
            current_while: left(port.timers.currentWhile),
            wait_while: port.muxState === "WAITING" ? left(port.timers.waitWhile) : null,
            lacpdu_rx: port.counters.lacpduRx,
            lacpdu_tx: port.counters.lacpduTx,
            rule_fired: actor.daemon.system.rules.length === 0
              ? null
              : actor.daemon.system.ruleFireCounts(i)[0] ?? 0,
          };
        })
      ),
    };
  }

  /** Reports what changed since the last look: port fields first, then rule fires. */
  #observe(run: ScenarioRun<LacpLabEvent>): void {
    const t = run.elapsed();
    const fired: Untimed<LacpLabEvent>[] = [];
    for (const actor of this.#actors) {
      const system = actor.daemon.system;
      system.ports.forEach((port, i) => {
        const now = {
          mux: port.muxState,
          rx: port.rxState,
          actor: formatStateLetters(port.actorState),
          partner: formatStateLetters(port.partnerState),
        };
        const last = actor.last[i] ?? null;
        const changes: LacpPortChange[] = [];
        for (const field of ["mux", "rx", "actor", "partner"] as const) {
          if (last === null || last[field] !== now[field]) {
            changes.push({ field, from: last?.[field] ?? null, to: now[field] });
          }
        }
        actor.last[i] = now;
        if (changes.length > 0) {
          run.emit({ event: "port", actor: actor.name, interface: port.identity.name, changes }, t);
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
        if (!conditionHolds(rule, port.actorState, port.partnerState)) {
          actor.streakEffect[i] = null;
        }
      });
    }
    for (const event of fired) run.emit(event, t);
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
