import assert from "node:assert/strict";
import { needs } from "../skip.ts";
import { cleanUpRun, exists, interruptLab, namespacesWith, running, stepHeadings } from "./_lab.ts";

const decoder = new TextDecoder();
const NEEDS = ["root", "netns", "veth"] as const;

/** What a run left to check afterwards: its namespaces, processes and sockets. */
interface RunTraces {
  prefix: string | undefined;
  pids: number[];
  sockets: string[];
}

function traces(out: string): RunTraces {
  return {
    prefix: /^ +[0-9.]+s {2}lab +namespaces: s1 (\S+)-s1, /m.exec(out)?.[1],
    pids: [...out.matchAll(/ netkit lsoe started as pid ([0-9]+) in /g)].map((m) => Number(m[1])),
    sockets: [...out.matchAll(/ netkit lsoe serving on (\S+),/g)].map((m) => m[1]!),
  };
}

/** Asserts that nothing of the run is left: namespaces, processes, sockets. */
function assertGone(t: RunTraces, out: string): void {
  assert.ok(t.prefix, `no namespaces line in:\n${out}`);
  assert.deepEqual(namespacesWith(t.prefix), []);
  for (const pid of t.pids) assert.ok(!running(pid), `pid ${pid} still runs`);
  for (const socket of t.sockets) assert.ok(!exists(socket), `${socket} is left behind`);
  assert.match(
    out,
    /lab +removed: 5 namespaces deleted \(with the veth pairs\), no process left, its files are gone$/m,
  );
}

/** Asserts discovery, the table and picture, the address change and the failure. */
function assertStory(out: string): void {
  assert.match(out, /lab +all 12 session ends open, [0-9]+ ms after the links came up$/m);
  assert.match(
    out,
    /lab +adjacencies \(netkit lsoe -s on every node\): 12 of 12 session ends open$/m,
  );
  assert.match(
    out,
    /lab +adjacencies \(netkit lsoe -s on every node\): 10 of 10 session ends open$/m,
  );
  // The table: s1 found l1 on its interface l1, with l1's addresses on that link.
  assert.match(
    out,
    /^ +s1 +l1 +l1 +6e6b2d6c61622d2d6c31 +open +192\.0\.2\.1\/31 2001:db8:0:1::2\/64 fe80::2\/64$/m,
  );
  // The picture: the spines' rails (s2's with all three drops, then without l3's) and the
  // leaves' boxes.
  assert.match(out, /^ +\[ s1 \]-+\+-+\+-+\+-+$/m);
  assert.match(out, /^ +\[ s2 \]--\|--\+-+\|--\+-+\|--\+--$/m);
  assert.match(out, /^ +\[ s2 \]--\|--\+-+\|--\+-+\|-+$/m);
  assert.match(out, /^ +\[ l1 \] +\[ l2 \] +\[ l3 \]$/m);
  // No list re-announced once the fabric is up: every address was there before the links.
  const steps7 = out.slice(out.search(/^ +[0-9.]+s {2}== 7\. /m));
  assert.doesNotMatch(steps7, / monitor: encapsulations /);
  const seen = [
    ...out.matchAll(/(s[12]) +l1's new address 198\.51\.100\.11 arrived, ([0-9]+) ms/g),
  ];
  assert.deepEqual(seen.map((m) => m[1]).sort(), ["s1", "s2"], out);
  // The issue: a new address is announced within a second.
  for (const m of seen) assert.ok(Number(m[2]) < 1000, m[0]);
  const closed = [
    ...out.matchAll(/(l3|s2) +session with (s2|l3) closed \(([a-z_]+)\), ([0-9]+) ms/g),
  ];
  assert.deepEqual(closed.map((m) => m[1]).sort(), ["l3", "s2"], out);
  assert.match(out, /s2 +monitor: session_close with l3 on l3: /);
}

Deno.test({
  name:
    "netkit lab lsoe --duration ends by itself, exits 0 with nothing on stderr, discovers the fabric, shows the change and the failure, and removes everything",
  ignore: needs(...NEEDS),
  async fn() {
    let t: RunTraces = { prefix: undefined, pids: [], sockets: [] };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "lsoe", "--duration", "0.5"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(120_000),
      }).output();
      const text = decoder.decode(out.stdout);
      t = traces(text);
      assert.equal(out.code, 0, `${decoder.decode(out.stderr)}\n${text}`);
      assert.equal(decoder.decode(out.stderr), "");
      assert.ok(!text.includes("\x1b"), "no ANSI escape codes when stdout is not a terminal");
      assert.deepEqual(stepHeadings(text), [1, 2, 3, 4, 5, 6, 7, 8], text);
      assert.equal(t.pids.length, 5, text);
      assert.ok(
        text.includes(
          `$ netkit -n ${t.prefix}-s1 lsoe --hello-interval 1 --keepalive-receive-timeout 3 ` +
            "--local-id 6e6b2d6c61622d2d7331",
        ),
        text,
      );
      assertStory(text);
      assert.equal(
        [...text.matchAll(/netkit lsoe pid [0-9]+ exited with code 0$/gm)].length,
        5,
        text,
      );
      assert.match(text, /lab +finished$/m);
      assert.match(text, /^What happened:$/m);
      assert.match(text, /^Reproduce it by hand \(as root\):$/m);
      assertGone(t, text);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab lsoe exits 0 on SIGINT (Ctrl-C) once it runs, stopping the daemons and removing everything",
  ignore: needs(...NEEDS),
  async fn() {
    const { code, out } = await interruptLab(
      ["lsoe"],
      "SIGINT",
      /lab +running; Ctrl-C \(or SIGTERM\) removes everything$/m,
      120_000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      assert.deepEqual(stepHeadings(out), [1, 2, 3, 4, 5, 6, 7, 8], out);
      assertStory(out);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /The lab was interrupted during step 7; it removed everything/);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab lsoe exits 0 on SIGTERM while the daemons start, stops them and removes everything",
  ignore: needs(...NEEDS),
  async fn() {
    const { code, out } = await interruptLab(
      ["lsoe"],
      "SIGTERM",
      /l1 +netkit lsoe started as pid [0-9]+ in /,
      120_000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      const seen = stepHeadings(out);
      assert.deepEqual(seen.slice(0, 2), [1, 2], out);
      assert.equal(seen.at(-1), 8, out);
      assert.ok(!seen.includes(3), `no links brought up after the signal:\n${out}`);
      assert.match(out, /lab +stopped: interrupted$/m);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name: "netkit lab lsoe -j prints every event as a JSON line and ends with the summary",
  ignore: needs(...NEEDS),
  async fn() {
    let t: RunTraces = { prefix: undefined, pids: [], sockets: [] };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "lsoe", "--duration", "0.5", "-j"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(120_000),
      }).output();
      const lines = decoder.decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
      const lab = lines.find((e) => e.event === "lab");
      t = {
        prefix: lab?.netns?.[0]?.netns?.replace(/-s1$/, ""),
        pids: lines.filter((e) => e.event === "daemon_started").map((e) => e.pid),
        sockets: lines.filter((e) => e.event === "daemon_ready").map((e) => e.socket),
      };
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.ok(lines.every((e) => typeof e.t === "number" && typeof e.event === "string"));
      const summary = lines.at(-1);
      assert.equal(summary.event, "summary");
      assert.equal(summary.reason, "done");
      assert.equal(summary.prefix, t.prefix);
      assert.ok(summary.explanation.includes("What happened:"));
      const tables = lines.filter((e) => e.event === "adjacency");
      assert.deepEqual(
        tables.map((a) => a.rows.filter((r: { state: string }) => r.state === "open").length),
        [12, 10],
      );
      const opens = lines.filter((e) => e.event === "lsoe" && e.lsoe.event === "session_open");
      assert.equal(opens.length, 12, "every open seen by a monitor: the links came up after");
      const removed = lines.find((e) => e.event === "removed");
      assert.deepEqual(
        [removed?.left, removed?.processes_left, removed?.files_left],
        [[], [], false],
      );
      assert.deepEqual(namespacesWith(t.prefix!), []);
    } finally {
      cleanUpRun(t);
    }
  },
});
