import assert from "node:assert/strict";
import { ip } from "../../lib/lab/namespace_lab.ts";
import type { MrouteLabEvent } from "../../lib/lab/mroute_events.ts";
import { explainMrouteLab } from "../../lib/lab/mroute_narrative.ts";
import { MrouteScenario } from "../../lib/lab/mroute_scenario.ts";
import { needs } from "../skip.ts";
import { exists, interruptLab, namespacesWith, removeNamespaces, running } from "./_lab.ts";

const decoder = new TextDecoder();

/** One timeline line: time, the step it belongs to, who it concerns and what happened. */
interface TimelineLine {
  t: number;
  step: number;
  subject: string;
  text: string;
}

/** The timeline lines of a run, each with its step (0 before the first heading). */
function timeline(out: string): TimelineLine[] {
  let step = 0;
  return out.split("\n").flatMap((line) => {
    const heading = /^ +[0-9]+\.[0-9]{2}s {2}== ([0-9])\. /.exec(line);
    if (heading !== null) {
      step = Number(heading[1]);
      return [];
    }
    const m = /^ +([0-9]+\.[0-9]{2})s {2}(\S+) +(.*)$/.exec(line);
    return m === null ? [] : [{ t: Number(m[1]), step, subject: m[2]!, text: m[3]! }];
  });
}

/** What a run left to check afterwards: its namespaces, daemon, socket and state directory. */
interface RunTraces {
  prefix: string | undefined;
  pid: number | undefined;
  socket: string | undefined;
  stateDir: string | undefined;
}

function traces(out: string): RunTraces {
  return {
    prefix: /^ +[0-9.]+s {2}lab +sender (\S+)-snd /m.exec(out)?.[1],
    pid: Number(/daemon +started as pid ([0-9]+):/.exec(out)?.[1]) || undefined,
    socket: /daemon +answers on (\S+)$/m.exec(out)?.[1],
    stateDir: /--state (\S+)\/state\.json$/m.exec(out)?.[1],
  };
}

/** Asserts that nothing of the run is left: namespaces, daemon process, socket, state. */
function assertGone(t: RunTraces, out: string): void {
  assert.ok(t.prefix, `no lab line in:\n${out}`);
  assert.deepEqual(namespacesWith(t.prefix), []);
  if (t.pid !== undefined) assert.ok(!running(t.pid), `the daemon (pid ${t.pid}) still runs`);
  if (t.socket !== undefined) assert.ok(!exists(t.socket), `${t.socket} is left behind`);
  if (t.stateDir !== undefined) assert.ok(!exists(t.stateDir), `${t.stateDir} is left behind`);
}

/** Removes whatever a failed run left behind, so one failure does not leak into the next. */
function cleanUp(t: RunTraces): void {
  if (t.pid !== undefined && running(t.pid)) Deno.kill(t.pid, "SIGKILL");
  removeNamespaces(t.prefix);
}

/** The route counters a timeline line reports: `(S, G): 4 packets, 120 bytes, ...; r2 out 4`. */
function counters(
  line: TimelineLine,
): { route: string; packets: number; bytes: number; r2Out: number } | null {
  const m = /^(\([^)]*\)): ([0-9]+) packets?, ([0-9]+) bytes, .*r2 out ([0-9]+)$/.exec(line.text);
  return m === null
    ? null
    : { route: m[1]!, packets: Number(m[2]), bytes: Number(m[3]), r2Out: Number(m[4]) };
}

/** Datagrams that arrived, by payload: `#4 from 192.0.2.2 on 239.1.2.3:5000, ...`. */
function arrival(line: TimelineLine): { payload: string; from: string; group: string } | null {
  if (line.subject !== "receiver") return null;
  const m = /^(#[0-9]+) from (\S+) on ([0-9.]+):[0-9]+, /.exec(line.text);
  return m === null ? null : { payload: m[1]!, from: m[2]!, group: m[3]! };
}

Deno.test({
  name:
    "netkit lab mroute (not a terminal): nothing before the route, arrivals and counters in step after add, nothing after del; explains it and removes everything",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    let t: RunTraces = {
      prefix: undefined,
      pid: undefined,
      socket: undefined,
      stateDir: undefined,
    };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "mroute", "--count", "4", "--interval", "0.4"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(out.stdout);
      t = traces(text);
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.equal(decoder.decode(out.stderr), "");
      assert.ok(!text.includes("\x1b"), "no ANSI escape codes when stdout is not a terminal");
      assert.deepEqual(
        [...text.matchAll(/^ +[0-9.]+s {2}== ([0-9])\. /gm)].map((m) => Number(m[1])),
        [1, 2, 3, 4, 5, 6],
      );
      const lines = timeline(text);
      const of = (step: number) => lines.filter((l) => l.step === step);
      const has = (step: number, subject: string, pattern: RegExp) =>
        of(step).some((l) => l.subject === subject && pattern.test(l.text));

      // 1: the daemon starts as its own process, serves, and the lab follows its events.
      assert.ok(t.pid !== undefined && t.socket !== undefined && t.stateDir !== undefined, text);
      assert.ok(has(1, "daemon", /^log: Multicast routing started: /), text);
      assert.ok(has(1, "event", /^subscribed to the daemon's events/), text);
      assert.ok(has(1, "event", /^vif added: IPv4 vif [0-9]+ r1$/), text);

      // 2: no route: the kernel asks (NOCACHE), nothing arrives.
      assert.equal(of(2).filter((l) => l.subject === "sender").length, 3);
      assert.ok(has(2, "event", /^upcall nocache \(192\.0\.2\.2, 239\.1\.2\.3\) on r1/), text);
      assert.deepEqual(of(2).filter((l) => arrival(l) !== null), [], "nothing before the route");
      assert.ok(has(2, "receiver", /^nothing arrived: 3 sent to 239\.1\.2\.3$/), text);

      // 3: the route: the held datagrams and every new one arrive, and each counters line adds
      // exactly the datagrams that arrived since the last (packets, and bytes as IPv4 sizes).
      const add = of(3)[0]!;
      assert.equal(add.subject, "netkit");
      assert.equal(add.text, "mroute add --source 192.0.2.2 --group 239.1.2.3 --iif r1 --oif r2");
      assert.ok(has(3, "event", /^route added: \(192\.0\.2\.2, 239\.1\.2\.3\) iif r1 oifs r2$/));
      const arrived3 = of(3).flatMap((l) => arrival(l) ?? []);
      assert.deepEqual(arrived3.map((a) => a.payload), ["#1", "#2", "#3", "#4", "#5", "#6", "#7"]);
      assert.ok(arrived3.every((a) => a.from === "192.0.2.2" && a.group === "239.1.2.3"));
      let packets = 0;
      let bytes = 0;
      const seen: number[] = [];
      for (const line of of(3)) {
        const a = arrival(line);
        if (a !== null) {
          packets++;
          bytes += 28 + a.payload.length;
        }
        const c = counters(line);
        if (c === null) continue;
        assert.equal(c.route, "(192.0.2.2, 239.1.2.3)");
        assert.deepEqual([c.packets, c.bytes], [packets, bytes], `${line.text}\n${text}`);
        seen.push(c.packets);
      }
      assert.deepEqual(seen, [3, 4, 5, 6, 7], "the counters rise with every datagram");
      assert.ok(has(3, "receiver", /^4 of 4 arrived$/), text);

      // 4: (*,G) forwards a second source, but not TTL 1, which it still counts.
      const arrived4 = of(4).flatMap((l) => arrival(l) ?? []);
      assert.deepEqual(arrived4.map((a) => a.from), ["192.0.2.2", "192.0.2.77"]);
      assert.ok(has(4, "sender", /^#10 to 239\.1\.2\.4:5001 from 192\.0\.2\.77, TTL 1$/), text);
      const star = of(4).flatMap((l) => counters(l) ?? []);
      assert.deepEqual(star.map((c) => c.packets), [1, 2, 3]);
      assert.equal(star[2]!.r2Out, star[1]!.r2Out, "TTL 1 is counted but not forwarded");
      assert.ok(has(4, "receiver", /^2 of 3 arrived$/), text);

      // 5: deleted: the traffic stops.
      assert.equal(of(5).filter((l) => /^route removed: /.test(l.text)).length, 2);
      assert.deepEqual(of(5).filter((l) => arrival(l) !== null), [], "nothing after del");
      assert.ok(has(5, "receiver", /^nothing arrived: 2 sent to 239\.1\.2\.3$/), text);

      // 6: the daemon stops cleanly and the kernel's table is empty.
      assert.ok(has(6, "daemon", /^log: Multicast routing stopped; kernel entries removed$/));
      assert.ok(has(6, "daemon", new RegExp(`^pid ${t.pid} exited with code 0$`)), text);
      assert.ok(has(6, "router", /^ip mroute: no entries left in the kernel$/), text);
      assert.ok(has(6, "lab", /^finished$/), text);

      assert.match(text, /^What happened:$/m);
      assert.match(text, /The kernel forwarded the 3 held datagrams at once/);
      assert.match(text, /The route's counters rose in step with every datagram/);
      assert.match(text, /The datagram sent with TTL 1 did not: the route counted it/);
      assert.match(
        text,
        /ip netns exec mr-rtr \S*netkit mroute add --source 192\.0\.2\.2 --group 239\.1\.2\.3 --iif r1 --oif r2/,
      );
      assert.match(text, /socat -u UDP4-RECV:5000,ip-add-membership=239\.1\.2\.3:c0 -/);
      assert.match(
        text,
        /UDP4-DATAGRAM:239\.1\.2\.3:5000,ip-multicast-if=192\.0\.2\.2,ip-multicast-ttl=8/,
      );
      assertGone(t, text);
    } finally {
      cleanUp(t);
    }
  },
});

/** `./netkit lab mroute`, interrupted by `signal` once the output matches `when`. */
function interrupt(signal: Deno.Signal, when: RegExp) {
  return interruptLab(["mroute"], signal, when, 30000);
}

Deno.test({
  name:
    "netkit lab mroute exits 0 on SIGINT (Ctrl-C) while the route forwards, stopping the daemon and removing everything",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    const { code, out } = await interrupt(
      "SIGINT",
      /router +\(192\.0\.2\.2, 239\.1\.2\.3\): 4 packets/,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      const lines = timeline(out);
      assert.ok(!lines.some((l) => l.step === 4), "interrupted in step 3");
      assert.match(out, /^ +[0-9.]+s {2}== 6\. stop the daemon/m);
      assert.match(out, new RegExp(`daemon +pid ${t.pid} exited with code 0$`, "m"));
      assert.match(out, /router +ip mroute: no entries left in the kernel$/m);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /^What happened:$/m);
      assert.match(out, /The lab was interrupted during step 3/);
      assertGone(t, out);
    } finally {
      cleanUp(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab mroute exits 0 on SIGTERM while the daemon starts, lets it start, stops it and removes everything",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    const { code, out } = await interrupt("SIGTERM", /daemon +started as pid [0-9]+:/);
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      assert.match(out, new RegExp(`daemon +pid ${t.pid} exited with code 0$`, "m"));
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.doesNotMatch(out, /== 2\. /);
      assertGone(t, out);
    } finally {
      cleanUp(t);
    }
  },
});

Deno.test({
  name:
    "MrouteScenario in process: the report holds every step's events, the explanation follows them, and close removes everything",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    const events: MrouteLabEvent[] = [];
    let netns: string[] = [];
    let stateFile = "";
    {
      await using lab = MrouteScenario.create();
      netns = Object.values(lab.netns);
      stateFile = lab.stateFile;
      const report = await lab.run({
        executable: "./netkit",
        count: 2,
        intervalMs: 200,
        onEvent: (e) => events.push(e),
      });
      assert.equal(report.reason, "done");
      assert.deepEqual(report.events, events);
      assert.equal(lab.daemonPid, null, "the daemon is stopped by the end of the run");
      const received = events.filter((e) => e.event === "received");
      // 3 held, 2 forwarded by (S,G), 2 by (*,G).
      assert.deepEqual(received.map((e) => e.event === "received" && e.payload), [
        "#1",
        "#2",
        "#3",
        "#4",
        "#5",
        "#6",
        "#7",
      ]);
      const last = lab.snapshot();
      assert.deepEqual([last.step, last.sent, last.arrived, last.routes], [6, 10, 7, []]);
      const text = explainMrouteLab(report, { netkit: "netkit" }).join("\n");
      assert.match(text, /: 5 packets, 150 bytes for the 5 datagrams forwarded\./);
      assert.match(text, /none of the 2 datagrams sent afterwards arrived/);
      assert.match(text, /ip mroute in the router showed no entries/);
    }
    assert.deepEqual(netns.map((n) => ip("netns", "list").includes(n)), [false, false, false]);
    assert.ok(!exists(stateFile));
  },
});
