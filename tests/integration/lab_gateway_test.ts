import assert from "node:assert/strict";
import { parsePingSummary } from "../../lib/lab/lab_checks.ts";
import { needs } from "../skip.ts";
import { cleanUpRun, exists, interruptLab, namespacesWith, running, stepHeadings } from "./_lab.ts";

const decoder = new TextDecoder();

/** What a run left to check afterwards: its namespaces, processes and files. */
interface RunTraces {
  prefix: string | undefined;
  pids: number[];
  dir: string | undefined;
}

function traces(out: string): RunTraces {
  return {
    prefix: /^ +[0-9.]+s {2}lan +bridge br0 in (\S+)-lan: /m.exec(out)?.[1],
    pids: [...out.matchAll(/ started as pid ([0-9]+) in /g)].map((m) => Number(m[1])),
    dir: /--status-socket (\S+)\/relay\.sock$/m.exec(out)?.[1],
  };
}

/** Asserts that nothing of the run is left: namespaces, processes, files. */
function assertGone(t: RunTraces, out: string): void {
  assert.ok(t.prefix, `no lan line in:\n${out}`);
  assert.deepEqual(namespacesWith(t.prefix), []);
  for (const pid of t.pids) assert.ok(!running(pid), `pid ${pid} still runs`);
  if (t.dir !== undefined) assert.ok(!exists(t.dir), `${t.dir} is left behind`);
  assert.match(out, /lab +removed: 6 namespaces deleted, none left; its files are gone$/m);
}

/** Asserts both pings got every reply, with RTTs, and the status lists a gateway and a client. */
function assertPingsAndStatus(out: string): void {
  const pings = [...out.matchAll(
    /ping +(h1|client) → (\S+) \((client|h2)\): ([0-9]+)\/([0-9]+) replies, rtt min\/avg\/max ([0-9.]+)\/([0-9.]+)\/([0-9.]+) ms$/gm,
  )];
  assert.deepEqual(
    pings.map((m) => [m[1], m[2], m[3], m[4], m[5]]),
    [
      ["h1", "192.168.50.101", "client", "3", "3"],
      ["client", "192.168.50.12", "h2", "3", "3"],
      ["h1", "192.168.50.101", "client", "3", "3"],
    ],
    out,
  );
  for (const m of pings) {
    const [min, avg, max] = [Number(m[6]), Number(m[7]), Number(m[8])];
    assert.ok(min > 0 && min <= avg && avg <= max, m[0]);
  }
  // The table `netkit relay status` prints, one row per peer.
  const row = (role: string) =>
    new RegExp(
      `^ +([0-9]+) +\\S+ +${role} +([0-9a-f:]{17}) +active +10\\.99\\.0\\.[0-9]+:[0-9]+ +\\S+ +- +([0-9]+) +[0-9]+ +([0-9]+) +([0-9]+) +[0-9]+ +0 +-$`,
      "m",
    )
      .exec(out);
  const gateway = row("gateway");
  const client = row("client");
  assert.ok(gateway && client, `no gateway and client rows in:\n${out}`);
  assert.equal(client[2], "02:00:00:00:01:01");
  // The client's frames went out to the gateway, every one, and the pings crossed both ways.
  assert.equal(Number(client[4]), Number(gateway[5]), `client FWD = gateway OUT:\n${out}`);
  assert.ok(Number(client[4]) >= 6 && Number(gateway[4]) >= 6, out);
  assert.match(
    out,
    /^ +room LAB1 id [0-9]+ frame_max [0-9]+ tap_mtu [0-9]+ clients 1 address_guard on /m,
  );
  assert.match(
    out,
    /relay +status: 1 room, 2 peers \(gateway \S+ active, client 02:00:00:00:01:01 active\)$/m,
  );
  assert.match(out, /gateway +peer [0-9]+ at the relay: [0-9]+ datagrams in /);
  assert.match(out, /client +peer [0-9]+ at the relay: [0-9]+ datagrams in /);
}

Deno.test({
  name:
    "netkit lab gateway exits 0 on SIGINT (Ctrl-C) once the pings and status are shown, stopping every process and removing everything",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    const { code, out } = await interruptLab(
      ["gateway"],
      "SIGINT",
      /lab +running; Ctrl-C \(or SIGTERM\) removes everything$/m,
      60000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      assert.ok(!out.includes("\x1b"), "no ANSI escape codes when stdout is not a terminal");
      assert.deepEqual(stepHeadings(out), [1, 2, 3, 4, 5, 6, 7, 8, 9], out);
      // The commands a user would type, with the lab's names.
      const p = t.prefix!;
      assert.match(out, /\$ netkit relay room add LAB1 --rooms \S+ -o \S+\/gateway.cred$/m);
      assert.match(
        out,
        /\$ netkit relay room add-client LAB1 client1 --address 192\.168\.50\.101 --rooms /,
      );
      assert.ok(
        out.includes(`$ netkit -n ${p}-rly relay --listen 10.99.0.1:4433 --rooms `),
        out,
      );
      assert.ok(out.includes(`$ netkit -n ${p}-gw gateway --relay 10.99.0.1:4433 `), out);
      assert.match(out, / --credential-file \S+\/gateway.cred --iface eth0$/m);
      assert.match(out, / --tap nk0 --mac 02:00:00:00:01:01$/m);
      assert.ok(out.includes(`$ ip -n ${p}-c1 addr add 192.168.50.101/24 dev nk0`), out);
      assert.ok(out.includes(`$ ip netns exec ${p}-h1 ping -c 3 `), out);
      assert.equal(t.pids.length, 4, out); // the client twice: before and after the rotation
      assert.match(
        out,
        /\$ netkit relay room rotate LAB1 client1 --rooms \S+ -o \S+\/client1\.cred\.new$/m,
      );
      assert.match(
        out,
        /client +pid [0-9]+ cut off [0-9]+ ms after the rotation, exit code 1: The relay refused our credential/,
      );
      assert.match(out, /Then the operator rotated the client's credential/);
      assert.match(out, /gateway +in room LAB1 as peer [0-9]+, MAC /);
      assert.match(out, /client +in room LAB1 as peer [0-9]+, MAC 02:00:00:00:01:01, /);
      assertPingsAndStatus(out);
      // Removed in order, each process by SIGTERM, exiting cleanly.
      const exits = [...out.matchAll(/^ +[0-9.]+s {2}(\S+) +pid ([0-9]+) exited with code 0/gm)];
      assert.deepEqual(exits.map((m) => m[1]), ["client", "gateway", "relay"], out);
      assert.match(out, /client +pid [0-9]+ exited with code 0: client stopped: [0-9]+ frames /);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /^What happened:$/m);
      assert.match(out, /The lab was interrupted during step 8; it removed everything/);
      assert.match(out, /^Reproduce it by hand \(as root\):$/m);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab gateway --duration ends by itself, exits 0 with nothing on stderr and removes everything",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    let t: RunTraces = { prefix: undefined, pids: [], dir: undefined };
    try {
      const out = await new Deno.Command("./netkit", {
        args: ["lab", "gateway", "--duration", "0.5"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(out.stdout);
      t = traces(text);
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      assert.equal(decoder.decode(out.stderr), "");
      assert.deepEqual(stepHeadings(text), [1, 2, 3, 4, 5, 6, 7, 8, 9], text);
      assert.match(text, /lab +running for 0\.5 s \(Ctrl-C ends it sooner\)$/m);
      assertPingsAndStatus(text);
      assert.match(text, /lab +finished$/m);
      assert.match(text, /Pings through the tunnel: h1 → client \(192\.168\.50\.101\): 3 of 3/);
      assertGone(t, text);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test({
  name:
    "netkit lab gateway exits 0 on SIGTERM while the relay starts, stops it and removes everything",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    const { code, out } = await interruptLab(
      ["gateway"],
      "SIGTERM",
      /relay +started as pid [0-9]+ in /,
      60000,
    );
    const t = traces(out);
    try {
      assert.equal(code, 0, out);
      // Interrupted while the relay starts (or at the latest while the gateway does).
      const seen = stepHeadings(out);
      assert.deepEqual(seen.slice(0, 2), [1, 2], out);
      assert.equal(seen.at(-1), 9, out);
      assert.ok(!seen.includes(5), `no pings after the signal:\n${out}`);
      assert.match(out, /relay +pid [0-9]+ exited with code /);
      assert.match(out, /lab +stopped: interrupted$/m);
      assert.match(out, /The lab was interrupted during step [23];/);
      assertGone(t, out);
    } finally {
      cleanUpRun(t);
    }
  },
});

Deno.test("parsePingSummary reads iputils and busybox summaries, and none without one", () => {
  assert.deepEqual(
    parsePingSummary(
      "--- 192.168.50.12 ping statistics ---\n" +
        "3 packets transmitted, 3 received, 0% packet loss, time 404ms\n" +
        "rtt min/avg/max/mdev = 0.061/0.093/0.126/0.026 ms\n",
    ),
    { sent: 3, received: 3, rtt: [0.061, 0.093, 0.126] },
  );
  assert.deepEqual(
    parsePingSummary(
      "3 packets transmitted, 2 packets received, 33% packet loss\n" +
        "round-trip min/avg/max = 1.200/1.500/1.800 ms\n",
    ),
    { sent: 3, received: 2, rtt: [1.2, 1.5, 1.8] },
  );
  assert.deepEqual(
    parsePingSummary("3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n"),
    { sent: 3, received: 0, rtt: null },
  );
  assert.equal(parsePingSummary("ping: connect: Network is unreachable\n"), null);
});
