import assert from "node:assert/strict";
import { maskLength, parseClientRecord, staticRoutes } from "../../lib/lab/vnet_scenario.ts";
import { needs } from "../skip.ts";
import { cleanUpRun, exists, interruptLab, namespacesWith, running, stepHeadings } from "./_lab.ts";

const decoder = new TextDecoder();
const NEEDS = ["root", "netns", "tun", "ping", "busybox", "dhclient"] as const;

/** What a run left to check afterwards: its namespaces, processes and files. */
interface RunTraces {
  prefix: string | undefined;
  pids: number[];
  dir: string | undefined;
  socket: string | undefined;
}

function traces(out: string): RunTraces {
  return {
    prefix: /^ +[0-9.]+s {2}lab +namespaces: host (\S+)-host, /m.exec(out)?.[1],
    pids: [
      ...[...out.matchAll(/ started as pid ([0-9]+) in /g)].map((m) => Number(m[1])),
      ...[...out.matchAll(/ dhclient pid ([0-9]+) exited /g)].map((m) => Number(m[1])),
    ],
    dir: /--state (\S+)\/vnet\.json$/m.exec(out)?.[1],
    socket: /vnet +serving on (\S+);/.exec(out)?.[1],
  };
}

/** Asserts that nothing of the run is left: namespaces, processes, files, the socket. */
function assertGone(t: RunTraces, out: string): void {
  assert.ok(t.prefix, `no namespaces line in:\n${out}`);
  assert.deepEqual(namespacesWith(t.prefix), []);
  for (const pid of t.pids) assert.ok(!running(pid), `pid ${pid} still runs`);
  if (t.dir !== undefined) assert.ok(!exists(t.dir), `${t.dir} is left behind`);
  if (t.socket !== undefined) assert.ok(!exists(t.socket), `${t.socket} is left behind`);
  assert.match(
    out,
    /lab +removed: 3 namespaces deleted \(with the TAPs and the uplink\), no process left, its files are gone$/m,
  );
}

/** Asserts the addresses each VM got, every ping answered (TTL 64 from netkit, 63 routed). */
function assertAddressesAndPings(out: string): void {
  assert.match(
    out,
    /vm1 +DHCPv4 lease \(udhcpc\): 192\.0\.2\.5\/32, server 169\.254\.0\.1, routes 169\.254\.0\.1\/32 on-link, default via 169\.254\.0\.1, for 86400 s$/m,
  );
  assert.match(
    out,
    /vm1 +DHCPv6 lease \(dhclient -6\): 2001:db8::5\/128, server \S+, for [0-9]+ s$/m,
  );
  assert.match(
    out,
    /vm2 +DHCPv4 lease \(udhcpc\): 198\.51\.100\.5\/24, server 198\.51\.100\.1, router 198\.51\.100\.1, /,
  );
  assert.match(
    out,
    /vm2 +SLAAC: 2001:db8:1:0:5054:ff:fe12:3402\/64 formed from the RA's prefix, default via fe80::1, /,
  );
  assert.match(out, /vnet +monitor: lease nic vm1 .*address 192\.0\.2\.5 family ipv4/);
  assert.match(out, /vnet +monitor: lease nic vm1 family ipv6 .*address 2001:db8::5 /);
  const pings = [...out.matchAll(
    /ping +(vm[12]) → (\S+) \((\S+)\): ([0-9]+)\/([0-9]+) replies, ttl ([0-9]+), rtt /g,
  )].map((m) => [m[1], m[2], m[3], `${m[4]}/${m[5]}`, Number(m[6])]);
  assert.deepEqual(pings, [
    ["vm1", "169.254.0.1", "gateway", "3/3", 64],
    ["vm1", "fe80::1%vm1", "gateway", "3/3", 64],
    ["vm2", "198.51.100.1", "gateway", "3/3", 64],
    ["vm2", "fe80::1%vm2", "gateway", "3/3", 64],
    ["vm1", "198.51.100.5", "vm2", "3/3", 63],
    ["vm2", "192.0.2.5", "vm1", "3/3", 63],
    ["vm1", "2001:db8:1:0:5054:ff:fe12:3402", "vm2", "3/3", 63],
    ["vm2", "2001:db8::5", "vm1", "3/3", 63],
    ["vm1", "203.0.113.1", "host", "3/3", 63],
    ["vm1", "2001:db8:ff::1", "host", "3/3", 63],
    ["vm2", "203.0.113.1", "host", "3/3", 63],
    ["vm2", "2001:db8:ff::1", "host", "3/3", 63],
  ], out);
  // The counters, and under them the table `netkit vnet show -s` prints.
  const counters =
    /vnet +counters: vm1 up: rx ([0-9]+) tx [0-9]+ frames, routed ([0-9]+), .*; uplink up0: rx ([0-9]+) tx ([0-9]+) frames/
      .exec(out);
  assert.ok(counters, out);
  assert.ok(Number(counters[2]) >= 12, `vm1 routed: ${counters[0]}`);
  assert.ok(Number(counters[3]) >= 12 && Number(counters[4]) >= 12, counters[0]);
  assert.match(out, /^ +Uplink: up0 \(MTU 1500\)$/m);
  assert.match(
    out,
    /^ +vm1 +52:54:00:12:34:01 +192\.0\.2\.5\/32 +2001:db8::5\/128 +linklocal +tap vm1 +up$/m,
  );
  assert.match(out, /^ +ipv4 responders: .*dhcp_ack 1/m);
}

Deno.test({
  name:
    "netkit lab vnet --duration ends by itself, exits 0 with nothing on stderr, shows leases, pings and counters, and removes everything",
  ignore: needs(...NEEDS),
  async fn() {
    let t: RunTraces = { prefix: undefined, pids: [], dir: undefined, socket: undefined };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "vnet", "--duration", "0.5"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(out.stdout);
      t = traces(text);
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.equal(decoder.decode(out.stderr), "");
      assert.ok(!text.includes("\x1b"), "no ANSI escape codes when stdout is not a terminal");
      assert.deepEqual(stepHeadings(text), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], text);
      const p = t.prefix!;
      assert.ok(text.includes(`$ netkit -n ${p}-host vnet daemon --uplink up0 --state `), text);
      assert.ok(
        text.includes(
          `$ netkit -n ${p}-host vnet nic add vm2 --mac 52:54:00:12:34:02 --profile lan ` +
            "--ipv4 198.51.100.5/24 --ipv6 2001:db8:1::5/64 --slaac",
        ),
        text,
      );
      assert.ok(text.includes(`$ ip -n ${p}-host link set vm1 netns ${p}-vm1`), text);
      assert.ok(text.includes(`$ ip -n ${p}-vm1 route add default via 169.254.0.1 dev vm1`), text);
      assert.equal(t.pids.length, 2, text); // the daemon and dhclient
      assertAddressesAndPings(text);
      assert.match(text, /lab +running for 0\.5 s \(Ctrl-C ends it sooner\)$/m);
      assert.match(text, /vm1 +dhclient pid [0-9]+ exited with code /);
      assert.match(text, /vnet +daemon pid [0-9]+ exited with code 0$/m);
      assert.match(text, /lab +finished$/m);
      assert.match(text, /^What happened:$/m);
      assert.match(text, /Pings between the VMs: vm1 → 198\.51\.100\.5: 3 of 3 \(TTL 63\)/);
      assert.match(text, /^Reproduce it by hand \(as root\):$/m);
      assertGone(t, text);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab vnet exits 0 on SIGINT (Ctrl-C) once it runs, stopping dhclient and the daemon and removing everything",
  ignore: needs(...NEEDS),
  async fn() {
    const { code, out } = await interruptLab(
      ["vnet"],
      "SIGINT",
      /lab +running; Ctrl-C \(or SIGTERM\) removes everything$/m,
      60000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      assert.deepEqual(stepHeadings(out), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], out);
      assertAddressesAndPings(out);
      const exits = [
        ...out.matchAll(/^ +[0-9.]+s {2}(\S+) +(dhclient|daemon) pid [0-9]+ exited/gm),
      ];
      assert.deepEqual(exits.map((m) => m[2]), ["dhclient", "daemon"], out);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /The lab was interrupted during step 10; it removed everything/);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab vnet exits 0 on SIGTERM while the daemon starts, stops it and removes everything",
  ignore: needs(...NEEDS),
  async fn() {
    const { code, out } = await interruptLab(
      ["vnet"],
      "SIGTERM",
      /vnet +started as pid [0-9]+ in /,
      60000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      const seen = stepHeadings(out);
      assert.deepEqual(seen.slice(0, 2), [1, 2], out);
      assert.equal(seen.at(-1), 11, out);
      assert.ok(!seen.includes(6), `no pings after the signal:\n${out}`);
      assert.match(out, /vnet +daemon pid [0-9]+ exited with code 0$/m);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /The lab was interrupted during step [2-4];/);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name: "netkit lab vnet -j prints every event as a JSON line and ends with the summary",
  ignore: needs(...NEEDS),
  async fn() {
    let t: RunTraces = { prefix: undefined, pids: [], dir: undefined, socket: undefined };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "vnet", "--duration", "0", "-j"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
      // --duration 0 runs until a signal: stop it once the counters are shown.
      let text = "";
      let sent = false;
      for await (const chunk of out.stdout.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (!sent && text.includes('"event":"running"')) {
          sent = true;
          out.kill("SIGINT");
        }
      }
      const status = await out.status;
      const lines = text.trim().split("\n").map((l) => JSON.parse(l));
      const lab = lines.find((e) => e.event === "lab");
      t = {
        prefix: lab?.host?.replace(/-host$/, ""),
        pids: lines.filter((e) => e.event === "process_stopped").map((e) => e.pid),
        dir: undefined,
        socket: lines.find((e) => e.event === "daemon_ready")?.socket,
      };
      assert.equal(status.code, 0, decoder.decode(await new Response(out.stderr).arrayBuffer()));
      assert.ok(lines.every((e) => typeof e.t === "number" && typeof e.event === "string"));
      const summary = lines.at(-1);
      assert.equal(summary.event, "summary");
      assert.equal(summary.reason, "signal");
      assert.equal(summary.prefix, t.prefix);
      assert.ok(summary.explanation.includes("What happened:"));
      const pings = lines.filter((e) => e.event === "ping");
      assert.equal(pings.length, 12);
      assert.ok(pings.every((p) => p.received === p.sent && p.sent === 3), JSON.stringify(pings));
      const show = lines.find((e) => e.event === "show")?.show;
      assert.deepEqual(show?.nics.map((n: { name: string }) => n.name), ["vm1", "vm2"]);
      assert.equal(show?.uplink?.name, "up0");
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

Deno.test("parseClientRecord, maskLength and staticRoutes read what a DHCP client's script saw", () => {
  const env = parseClientRecord("ip=192.0.2.5\nsubnet=255.255.255.255\nrouter=\nnoequals\n");
  assert.equal(env.get("ip"), "192.0.2.5");
  assert.equal(env.get("router"), "");
  assert.equal(env.has("noequals"), false);
  assert.equal(maskLength("255.255.255.0"), 24);
  assert.equal(maskLength("255.255.255.255"), 32);
  assert.equal(maskLength("0.0.0.0"), 0);
  assert.equal(maskLength("255.0.255.0"), null);
  assert.equal(maskLength("300.0.0.0"), null);
  assert.deepEqual(staticRoutes("169.254.0.1/32 0.0.0.0 0.0.0.0/0 169.254.0.1"), [
    "169.254.0.1/32 via 0.0.0.0",
    "0.0.0.0/0 via 169.254.0.1",
  ]);
  assert.deepEqual(staticRoutes(undefined), []);
});
