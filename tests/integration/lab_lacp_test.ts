import assert from "node:assert/strict";
import { ip } from "../../lib/lab/namespace_lab.ts";
import type { LacpLabEvent } from "../../lib/lab/lacp_events.ts";
import { explainLacpLab } from "../../lib/lab/lacp_narrative.ts";
import { LacpScenario } from "../../lib/lab/lacp_scenario.ts";
import { parseInjectRule } from "../../lib/lacp/inject_rule.ts";
import { needs } from "../skip.ts";
import { interruptLab, namespacesWith, removeNamespaces } from "./_lab.ts";

const decoder = new TextDecoder();

/** The lab's namespace prefix, from the timeline's first line. */
function labPrefix(out: string): string {
  const prefix = /lab ready: (\S+)-a and \1-b,/.exec(out)?.[1];
  assert.ok(prefix, `no "lab ready" line in:\n${out}`);
  return prefix;
}

/** A timeline line: time, the ports it concerns, what happened. */
interface TimelineLine {
  t: number;
  ports: string[];
  text: string;
}

function timeline(out: string): TimelineLine[] {
  return out.split("\n").flatMap((line) => {
    const m = /^ +([0-9]+\.[0-9]{2})s {2}([ab][0-9](?:,[ab][0-9])*) {2}(.*)$/.exec(line);
    return m === null ? [] : [{ t: Number(m[1]), ports: m[2]!.split(","), text: m[3]! }];
  });
}

/** The first timeline line about `port` whose text matches `pattern`. */
function first(lines: TimelineLine[], port: string, pattern: RegExp): TimelineLine | undefined {
  return lines.find((l) => l.ports.includes(port) && pattern.test(l.text));
}

Deno.test({
  name:
    "netkit lab lacp (not a terminal) prints the timeline: aggregation, B's rule, A's expiry; explains it and removes the lab",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    let prefix: string | undefined;
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "lacp", "--duration", "7"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(out.stdout);
      prefix = labPrefix(text);
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.equal(decoder.decode(out.stderr), "");
      assert.ok(!text.includes("\x1b"), "no ANSI escape codes when stdout is not a terminal");

      const lines = timeline(text);
      const aggregated = ["a1", "a2", "b1", "b2"].map((port) => {
        const line = first(lines, port, /mux \S+ -> COLLECTING_DISTRIBUTING/);
        assert.ok(line, `${port} never reached COLLECTING_DISTRIBUTING:\n${text}`);
        return line.t;
      });
      // wait_while holds every port in WAITING for 2 s first.
      assert.ok(Math.min(...aggregated) >= 1.9, `aggregated too early:\n${text}`);
      for (const port of ["b1", "b2"]) {
        const fired = first(lines, port, /^rule fired: LACPDU dropped$/);
        assert.ok(fired, `B's rule never fired on ${port}:\n${text}`);
        assert.ok(fired.t >= Math.min(...aggregated), "the rule waits for A to distribute");
        // A hears nothing for the 3 s short timeout, expires B and leaves the aggregate. The
        // timeout runs from the last LACPDU A got, which B sent up to one fast period (1 s)
        // before the rule fired on the next: 2 to 3 s after it, and a little more for the load.
        const peer = port.replace("b", "a");
        const expired = first(
          lines,
          peer,
          /mux COLLECTING_DISTRIBUTING -> ATTACHED, rx CURRENT -> EXPIRED/,
        );
        assert.ok(expired, `${peer} never expired B:\n${text}`);
        assert.ok(
          expired.t - fired.t > 1.9 && expired.t - fired.t < 3.5,
          `${peer} expired ${expired.t - fired.t} s after the rule fired`,
        );
      }
      assert.match(text, /stopped: the duration is over/);
      assert.match(text, /^Final state after [0-9.]+ s:$/m);
      assert.match(text, /^What happened:$/m);
      assert.match(text, /wait_while: a port selected for an aggregator waits in WAITING for 2 s/);
      assert.match(text, /Sync: .*All four ports got there by [0-9.]+s\./);
      assert.match(text, /Injection: B's rule "P:\+CD -> drop" .*B stopped sending LACPDUs/);
      assert.match(text, /A's reaction: hearing nothing from B for 3 s .*expired B's information/);
      assert.match(
        text,
        /terminal 2: ip netns exec lacp-b \S*netkit lacp -i b1 -i b2 --inject 'P:\+CD -> drop'/,
      );
      assert.deepEqual(namespacesWith(prefix), []);
    } finally {
      removeNamespaces(prefix);
    }
  },
});

/** `./netkit lab lacp --duration 0`, interrupted by `signal` once the output matches `when`. */
async function interrupt(signal: Deno.Signal, when: RegExp) {
  const { code, out } = await interruptLab(["lacp", "--duration", "0"], signal, when, 20000);
  return { code, out, prefix: /lab ready: (\S+)-a and/.exec(out)?.[1] };
}

Deno.test({
  name:
    "netkit lab lacp exits 0 on SIGINT (Ctrl-C) once aggregated, after the summary, and removes the lab",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    const { code, out, prefix } = await interrupt("SIGINT", /-> COLLECTING_DISTRIBUTING/);
    try {
      assert.ok(prefix, out);
      assert.equal(code, 0, out);
      assert.match(out, /stopped: interrupted/);
      assert.match(out, /^What happened:$/m);
      assert.match(out, /All four ports got there/);
      assert.deepEqual(namespacesWith(prefix), []);
    } finally {
      removeNamespaces(prefix);
    }
  },
});

Deno.test({
  name: "netkit lab lacp exits 0 on SIGTERM right after building the lab and removes it",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    const { code, out, prefix } = await interrupt("SIGTERM", /lab ready: /);
    try {
      assert.ok(prefix, out);
      assert.equal(code, 0, out);
      assert.match(out, /stopped: interrupted/);
      assert.deepEqual(namespacesWith(prefix), []);
    } finally {
      removeNamespaces(prefix);
    }
  },
});

Deno.test({
  name:
    "LacpScenario in process: with B hiding C and D, A keeps distributing (coupled control) and the lab is removed on close",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    const events: LacpLabEvent[] = [];
    let netns: readonly string[] = [];
    {
      await using lab = LacpScenario.create();
      netns = lab.netns;
      assert.deepEqual(netns.map((n) => ip("netns", "list").includes(n)), [true, true]);
      const report = await lab.run({
        rule: parseInjectRule("P:+CD -> A:-CD"),
        durationMs: 4500,
        onEvent: (e) => events.push(e),
      });
      assert.equal(report.reason, "duration");
      assert.deepEqual(report.events, events);
      const a = report.final.ports.filter((p) => p.actor === "A");
      const b = report.final.ports.filter((p) => p.actor === "B");
      assert.deepEqual(a.map((p) => [p.interface, p.mux_state, p.partner_state]), [
        ["a1", "COLLECTING_DISTRIBUTING", "ATGS"],
        ["a2", "COLLECTING_DISTRIBUTING", "ATGS"],
      ]);
      // B's own machines keep the truth; only what it sends changes.
      assert.deepEqual(b.map((p) => p.actor_state), ["ATGSCD", "ATGSCD"]);
      assert.ok(b.every((p) => (p.rule_fired ?? 0) >= 1));
      const fired = events.filter((e) => e.event === "rule_fired");
      assert.deepEqual(
        fired.map((e) => e.event === "rule_fired" && [e.interface, e.effect]).sort(),
        [["b1", "Actor state ATGSCD -> ATGS"], ["b2", "Actor state ATGSCD -> ATGS"]],
      );
      const text = explainLacpLab(report, { netkit: "netkit" }).join("\n");
      assert.match(text, /A's reaction: A recorded what B now claimed \(partner ATGS\)/);
      assert.match(text, /with coupled control/);
      assert.doesNotMatch(text, /A loop/);
    }
    assert.deepEqual(netns.map((n) => ip("netns", "list").includes(n)), [false, false]);
  },
});
