/**
 * Daemons as services: SIGHUP never ends one (it reopens a renamed log file, as logrotate needs,
 * and the relay rereads its rooms file); `-d` logs to a default file from `/`; a kill -9 leaves
 * nothing that blocks the next start; and every daemon's `-k` signals only a pid the kernel says
 * holds the control socket's lock, never the pid a fake control socket answers with.
 * The same for lsoe, and SIGTERM stops it within 1 s with sessions open.
 * (mroute's need IPv4 multicast routing: the kernel lane runs them.)
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { waitFor } from "../../lib/async.ts";
import { ControlServer } from "../../lib/ipc/mod.ts";
import type { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { clientLanAddress, clientMac, L2, L2Lab } from "../../lib/lab/l2_lab.ts";
import { clientSocketName, gatewaySocketName } from "../../lib/l2/peer_client.ts";
import { ip, NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { relaySocketName } from "../../lib/l2/relay_client.ts";
import { controlSocketPrefix } from "../../lib/lacp/client.ts";
import { currentNetnsId, netnsId } from "../../lib/net/netns.ts";
import { mrouteSocketName } from "../../lib/mroute/client.ts";
import { vnetSocketName } from "../../lib/vnet/client.ts";
import { lsoeSocketName } from "../../lib/lsoe/client.ts";
import { needs } from "../skip.ts";
import { MrouteLab } from "./_mroute.ts";
import { startedLab } from "./_l2.ts";
import { netkit, startLacp, waitUntil } from "./_lacp.ts";
import { LsoeProcess, QUICK } from "../../testing/lsoe_process.ts";

const decoder = new TextDecoder();

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "";
    throw err;
  }
}

/** Whether process `pid` runs (neither gone nor a zombie). */
function running(pid: number): boolean {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/**
 * Renames `logFile` as logrotate does, sends SIGHUP to `pid` and waits for the line saying the
 * log file was reopened, in a new file at the old path. Returns the renamed file's path,
 * `LOGFILE.GENERATION`.
 */
async function rotate(pid: number, logFile: string, generation = 1): Promise<string> {
  const rotated = `${logFile}.${generation}`;
  const hangups = (text: string) => text.match(/SIGHUP/g)?.length ?? 0;
  const before = hangups(readOrEmpty(logFile));
  await Deno.rename(logFile, rotated);
  Deno.kill(pid, "SIGHUP");
  await waitUntil(
    () => readOrEmpty(logFile),
    (text) => text.includes(`SIGHUP: reopened log file ${logFile}`),
    5000,
    `pid ${pid} to reopen ${logFile}`,
  );
  assert.equal(hangups(readOrEmpty(rotated)), before, "the renamed file got no line about it");
  return rotated;
}

/** Namespaces `a` and `b` of `lab`, joined by a veth pair a1–b1. */
function joined(lab: NamespaceLab): { a: string; b: string } {
  const a = lab.netns("a");
  const b = lab.netns("b");
  lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
  return { a, b };
}

Deno.test({
  name: "SIGHUP leaves a netkit lacp daemon running and answering; it reopens a renamed log file",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a } = joined(lab);
    await using daemon = startLacp(a, ["-i", "a1"]);
    await waitUntil(() => daemon.status(), () => true, 10_000, "the daemon to serve");
    const rotated: string[] = [];
    try {
      rotated.push(await rotate(daemon.pid, daemon.logFile));
      // A second rotation works the same: the handler stays.
      rotated.push(await rotate(daemon.pid, daemon.logFile, 2));
      assert.equal(daemon.exited, false);
      assert.equal((await daemon.status()).pid, daemon.pid);
      assert.equal(daemon.log().match(/SIGHUP/g)?.length, 1, "one line per SIGHUP");

      // -k checks the pid against the lock the daemon holds, and stops it.
      const stopped = netkit(["-n", a, "lacp", "-k"]);
      assert.equal(stopped.code, 0, stopped.err);
      assert.match(
        stopped.out,
        new RegExp(`^Stopped netkit lacp daemon ${daemon.pid} \\(a1\\)\\n$`),
      );
      assert.equal((await daemon.done).code, 0);
    } finally {
      for (const file of rotated) Deno.removeSync(file);
    }
  },
});

Deno.test({
  name:
    "SIGHUP leaves the relay, a gateway and a client running and connected; each reopens its log file",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    await using lab = await startedLab();
    const daemons: [string, ChildDaemon | null][] = [
      ["relay", lab.relay],
      ["gateway", lab.gateway],
      ["client1", lab.clients[0]!],
    ];
    for (const [name, daemon] of daemons) {
      assert.ok(daemon !== null, `${name} started`);
      await rotate(daemon.pid, lab.logFile(name));
      assert.equal(daemon.exited, false, `${name} still runs`);
    }
    const peers = (await lab.status()).rooms[0]?.peers.map((p) => p.role).sort();
    assert.deepEqual(peers, ["client", "gateway"]);
    assert.ok(lab.ping(lab.clientNs[0]!, L2.h1, 2), "the tunnel still carries a ping to h1");
  },
});

/**
 * Each daemon command's -k, against a fake socket where it looks: its request schema, the reply
 * it checks for the pid, and the socket's name (in the run directory, or given).
 */
const FAKE_DAEMONS: {
  name: string;
  args: (socket: string) => string[];
  socket: (dir: string, pid: number) => string;
  schema: z.ZodType;
  reply: (pid: number) => unknown;
}[] = [
  {
    name: "lacp",
    args: () => ["lacp", "-k"],
    socket: (dir, pid) => `${dir}/${controlSocketPrefix(currentNetnsId())}${pid}.sock`,
    schema: z.object({ action: z.literal("status") }),
    reply: (pid) => ({
      pid,
      net_ns_id: currentNetnsId(),
      configured_rate_mode: "fast",
      active_mode: true,
      uptime_seconds: 1,
      ports: [],
    }),
  },
  {
    name: "mroute",
    args: (socket) => ["mroute", "daemon", "-k", "--socket", socket],
    socket: (dir) => `${dir}/fake-mroute.sock`,
    schema: z.object({ action: z.literal("SHOW") }),
    reply: (pid) => ({ status: "success", pid, vifs: [], routes: [] }),
  },
  {
    name: "vnet",
    args: (socket) => ["vnet", "daemon", "-k", "--socket", socket],
    socket: (dir) => `${dir}/fake-vnet.sock`,
    schema: z.object({ action: z.literal("SHOW") }),
    reply: (pid) => ({
      status: "success",
      pid,
      arena: "normal",
      responders: [],
      uplink: null,
      nics: [],
      ipv6_responder_drops: null,
    }),
  },
  {
    name: "lsoe",
    args: () => ["lsoe", "-k"],
    socket: (dir) => `${dir}/${lsoeSocketName(currentNetnsId())}.sock`,
    schema: z.object({ action: z.literal("STATUS") }),
    // -k reads only the pid (PidReply): the rest of a STATUS reply is not needed.
    reply: (pid) => ({ status: "success", pid }),
  },
  {
    name: "relay",
    args: () => ["relay", "-k"],
    socket: (dir) => `${dir}/${relaySocketName(currentNetnsId(), 4433)}.sock`,
    schema: z.object({ cmd: z.literal("status") }),
    reply: (pid) => ({ pid, listen: "127.0.0.1:4433" }),
  },
  ...(["gateway", "client"] as const).map((role) => ({
    name: role,
    args: (socket: string) => [role, "-k", "--status-socket", socket],
    socket: (dir: string) => `${dir}/fake-${role}.sock`,
    schema: z.object({ cmd: z.literal("status") }),
    reply: (pid: number) => ({
      role,
      version: "test",
      pid,
      interface: "eth0",
      mac: "02:00:00:00:00:01",
      counters: {},
      drops: {},
      session: {
        state: "connected",
        relay: "10.0.0.1:4433",
        room: "ROOM",
        peer_id: 1,
        frame_max: 1514,
        connected_ms: 1,
        gateway_present: true,
        counters: {},
      },
    }),
  })),
];

for (const fake of FAKE_DAEMONS) {
  Deno.test(`netkit ${fake.args("SOCKET").join(" ")} refuses the pid a fake control socket names, and signals nothing`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "netkit-sig-" });
    // An unrelated process, whose pid the fake socket gives as its own.
    const bystander = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      // A control socket where -k looks, answering as a daemon would; the lock beside it is
      // held by this test process, not by the bystander.
      const socket = fake.socket(dir, bystander.pid);
      await using _fake = await ControlServer.listen({
        path: socket,
        schema: fake.schema,
        handle: () => fake.reply(bystander.pid),
      });
      const out = await new Deno.Command("./netkit", {
        args: fake.args(socket),
        env: { NETKIT_RUN_DIR: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = decoder.decode(out.stderr);
      assert.equal(out.code, 1, err);
      assert.equal(decoder.decode(out.stdout), "");
      assert.match(
        err,
        new RegExp(
          `^netkit: error: Refusing to signal pid ${bystander.pid}: the daemon on ".+" gave it ` +
            `as its own, but ".+\\.lock" is held by pid ${Deno.pid}\\n$`,
        ),
      );
      assert.ok(running(bystander.pid), "the bystander was not signalled");
    } finally {
      // Gone already only if the test failed: let its assertion be what is reported.
      if (running(bystander.pid)) bystander.kill("SIGKILL");
      await bystander.status;
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/**
 * How long `./netkit ARGS` (with `env`) takes beyond `baseline` (a command as costly to start,
 * asking the same daemon): the time the daemon took to do what ARGS asks, without netkit's cold
 * start, which in the kernel lane alone can pass a second.
 */
async function timeBeyond(
  env: Record<string, string>,
  baseline: string[],
  args: string[],
): Promise<{ code: number; out: string; err: string; ms: number }> {
  let begin = performance.now();
  const base = await netkitWith(env, baseline);
  const baseMs = performance.now() - begin;
  assert.equal(base.code, 0, base.err);
  begin = performance.now();
  const result = await netkitWith(env, args);
  return { ...result, ms: performance.now() - begin - baseMs };
}

/** Runs `./netkit ARGS` with `env` added, to completion. */
async function netkitWith(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command("./netkit", { args, env, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

Deno.test({
  name:
    "netkit lacp -d logs to its default file from /, and a kill -9 leaves nothing that blocks the next start",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a } = joined(lab);
    const dir = await Deno.makeTempDir({ prefix: "netkit-detach-" });
    const env = { NETKIT_RUN_DIR: `${dir}/run`, NETKIT_LOG_DIR: `${dir}/log` };
    // Every daemon seen, for the cleanup should an assertion fail while one runs.
    const seen: number[] = [];
    const pidOf = async () => {
      const status = await netkitWith(env, ["-n", a, "lacp", "-s", "-j"]);
      assert.equal(status.code, 0, status.err);
      const pids = (JSON.parse(status.out) as { pid: number }[]).map((s) => s.pid);
      seen.push(...pids);
      return pids;
    };
    try {
      const started = await netkitWith(env, ["-n", a, "lacp", "-i", "a1", "-d"]);
      assert.equal(started.code, 0, started.err);
      const [pid] = await pidOf();
      assert.ok(pid !== undefined);
      const logFile = `${dir}/log/lacp-a1-${a}.log`;
      assert.equal(Deno.readLinkSync(`/proc/${pid}/cwd`), "/");
      assert.equal(Deno.statSync(logFile).mode! & 0o777, 0o640);
      assert.equal(Deno.statSync(`${dir}/log`).mode! & 0o777, 0o750);
      await waitUntil(
        () => readOrEmpty(logFile),
        (text) => text.includes("LACP started on a1"),
        5000,
        "the detached daemon's first log line",
      );

      // Killed without cleanup: its pid-named socket and lock stay behind.
      Deno.kill(pid, "SIGKILL");
      await waitUntil(() => running(pid), (alive) => !alive, 5000, `pid ${pid} to die`);
      const left = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name).sort();
      assert.ok(left.includes(`${controlSocketPrefix(netnsId(a))}${pid}.sock`), String(left));

      // The next daemon starts on the same interface and clears them.
      const again = await netkitWith(env, ["-n", a, "lacp", "-i", "a1", "-d"]);
      assert.equal(again.code, 0, again.err);
      const [next] = await pidOf();
      const now = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name);
      assert.ok(!now.some((name) => name.includes(`-${pid}.sock`)), String(now));
      const stopped = await netkitWith(env, ["-n", a, "lacp", "-k"]);
      assert.equal(stopped.code, 0, stopped.err);
      assert.equal(stopped.out, `Stopped netkit lacp daemon ${next} (a1)\n`);
    } finally {
      for (const pid of seen) if (running(pid)) Deno.kill(pid, "SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "SIGTERM stops a gateway and a client within 1 s while they wait to reconnect",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    await using lab = await startedLab();
    await lab.relay!.stop();
    for (const [name, daemon] of [["gateway", lab.gateway], ["client1", lab.clients[0]]] as const) {
      assert.ok(daemon, `${name} started`);
      await waitUntil(
        () => lab.peerStatus(name),
        (s) => s.session.state === "reconnecting",
        10_000,
        `${name} to lose the relay`,
      );
      // Past the first backoff: the session now sleeps before its next attempt, or dials.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const start = performance.now();
      const status = await daemon.stop(5000);
      const elapsed = performance.now() - start;
      assert.equal(status.signal, null, `${name} exited by itself, not by SIGKILL`);
      assert.ok(elapsed < 1000, `${name} took ${Math.round(elapsed)} ms to stop`);
    }
  },
});

Deno.test({
  name:
    "netkit relay, gateway and client: -d logs to the default file from /, SIGHUP rereads the rooms file at once, a kill -9 leaves nothing that blocks the next start, -k stops each within 1 s",
  ignore: needs("root", "netns", "veth", "bridge", "tun", "ping"),
  async fn() {
    await using lab = new L2Lab({ clients: 1 });
    lab.createRoom();
    const dir = await Deno.makeTempDir({ prefix: "netkit-l2-detach-" });
    const env = { NETKIT_RUN_DIR: `${dir}/run`, NETKIT_LOG_DIR: `${dir}/log` };
    const client = lab.clientNs[0]!;
    /** The lab's options of a peer, its status socket left at the default (in the run dir). */
    const peerArgs = (name: string) => {
      const args = lab.peerArgs(name);
      assert.equal(args.at(-2), "--status-socket");
      return args.slice(0, -2);
    };
    const daemons = [
      {
        name: "relay",
        ns: lab.relayNs,
        args: lab.relayArgs(),
        socket: () => relaySocketName(netnsId(lab.relayNs), L2.port),
        log: `relay-${L2.port}-${lab.relayNs}.log`,
        describe: () => `${dir}/run/${relaySocketName(netnsId(lab.relayNs), L2.port)}.sock`,
      },
      {
        name: "gateway",
        ns: lab.gw,
        args: ["gateway", ...peerArgs("gateway"), "--iface", "eth0"],
        socket: () => gatewaySocketName(netnsId(lab.gw), "eth0"),
        log: `gateway-eth0-${lab.gw}.log`,
        describe: () => "eth0",
      },
      {
        name: "client",
        ns: client,
        args: ["client", ...peerArgs("client1"), "--tap", L2.tap, "--mac", clientMac(1)],
        socket: () => clientSocketName(netnsId(client), L2.tap),
        log: `client-${L2.tap}-${client}.log`,
        describe: () => L2.tap,
      },
    ];
    /** The pid in the lock file of a daemon's control socket. */
    const pidOf = (d: (typeof daemons)[number]) =>
      Number(Deno.readTextFileSync(`${dir}/run/${d.socket()}.sock.lock`).trim());
    const seen: number[] = [];
    const start = async (d: (typeof daemons)[number]) => {
      const started = await netkitWith(env, ["-n", d.ns, ...d.args, "-d"]);
      assert.equal(started.code, 0, `${d.name}: ${started.err}`);
      const pid = pidOf(d);
      seen.push(pid);
      // The client's TAP gets the lab's static LAN address, as L2Lab.startClient gives it.
      if (d.name === "client") {
        ip("-n", client, "addr", "add", `${clientLanAddress(1)}/24`, "dev", L2.tap);
      }
      return pid;
    };
    try {
      for (const d of daemons) {
        const pid = await start(d);
        assert.equal(Deno.readLinkSync(`/proc/${pid}/cwd`), "/", `${d.name} left its directory`);
        const logFile = `${dir}/log/${d.log}`;
        assert.equal(Deno.statSync(logFile).mode! & 0o777, 0o640, logFile);
      }
      assert.ok(lab.ping(client, L2.h1, 2), "the detached daemons carry a ping to h1");

      // SIGHUP rereads a changed rooms file at once, and says so in the relay's log.
      const relayPid = pidOf(daemons[0]!);
      const before = await netkitWith(env, [
        "relay",
        "room",
        "list",
        "-j",
        "--rooms",
        lab.roomsFile,
      ]);
      assert.equal(before.code, 0, before.err);
      const added = await netkitWith(env, [
        "relay",
        "room",
        "add",
        "ROOM2",
        "--rooms",
        lab.roomsFile,
      ]);
      assert.equal(added.code, 0, added.err);
      Deno.kill(relayPid, "SIGHUP");
      const relayLog = `${dir}/log/${daemons[0]!.log}`;
      await waitUntil(
        () => readOrEmpty(relayLog),
        (text) => text.includes(`; reread rooms file ${lab.roomsFile}: 2 rooms`),
        5000,
        "the relay to say SIGHUP reread its rooms file",
      );

      // Killed without cleanup: each leaves its socket and lock; each starts again over them.
      for (const d of [...daemons].reverse()) {
        const pid = pidOf(d);
        Deno.kill(pid, "SIGKILL");
        await waitUntil(() => running(pid), (alive) => !alive, 5000, `${d.name} to die`);
        assert.ok(Deno.statSync(`${dir}/run/${d.socket()}.sock`).isSocket, `${d.name}'s socket`);
      }
      for (const d of daemons) assert.notEqual(await start(d), undefined);
      await waitUntil(
        () => lab.ping(client, L2.h1, 1),
        (ok) => ok,
        15_000,
        "the restarted daemons to carry a ping to h1",
      );

      // -k: client and gateway first, so the relay has no peers to ask for fresh counters.
      for (const d of [...daemons].reverse()) {
        const pid = pidOf(d);
        const stopped = await timeBeyond(
          env,
          ["-n", d.ns, d.name, "status", "-j"],
          ["-n", d.ns, d.name, "-k"],
        );
        assert.equal(stopped.code, 0, stopped.err);
        assert.equal(stopped.out, `Stopped netkit ${d.name} daemon ${pid} (${d.describe()})\n`);
        assert.ok(!running(pid));
        assert.ok(stopped.ms < 1000, `${d.name} took ${Math.round(stopped.ms)} ms to stop`);
      }
      assert.deepEqual([...Deno.readDirSync(`${dir}/run`)].map((e) => e.name), []);
    } finally {
      for (const pid of seen) if (running(pid)) Deno.kill(pid, "SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A daemon with one control socket per namespace, as {@linkcode checkDetached} runs it. */
interface DetachedDaemon {
  /** The command: `mroute`, `vnet` or `lsoe`. */
  command: string;
  /** The namespace it runs in. */
  netns: string;
  /** Its control socket's name in the run directory. */
  socketName: string;
  /** The arguments (after the command, before `-d`) that start it, given the test's directory. */
  start: (dir: string) => string[];
  /** The arguments (after the command) that ask for its state as JSON. */
  show: string[];
  /** The arguments (after the command) that stop it. */
  kill: string[];
  /**
   * The arguments (after the command) of the request that adds one entry to its state, or null
   * when the entry comes with the start (an interface given with `-i`).
   */
  add: string[] | null;
  /** The entries `show` lists, from its output. */
  listed: (showJson: string) => string[];
  /** The entry `add` (or the start) gives it, which a restart over a kill -9 brings back. */
  entry: string;
  /** Whether a SIGHUP follows the request: the log reopened, the entry still served. */
  hangup: boolean;
  /** What the entry is, for the message of a failed assertion: `route`, `NIC`, `interface`. */
  what: string;
}

/**
 * `-d` logs to the daemon's default file from `/`; a kill -9 leaves nothing that blocks the next
 * start, and the restarted daemon has the entry again (from its state file, or its options);
 * `-k` stops it within 1 s, its run directory left empty.
 */
async function checkDetached(daemon: DetachedDaemon): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `netkit-${daemon.command}-detach-` });
  const env = { NETKIT_RUN_DIR: `${dir}/run`, NETKIT_LOG_DIR: `${dir}/log` };
  const socket = `${dir}/run/${daemon.socketName}.sock`;
  const run = (...args: string[]) => netkitWith(env, ["-n", daemon.netns, daemon.command, ...args]);
  const pidOf = () => Number(Deno.readTextFileSync(`${socket}.lock`).trim());
  const listed = async () => {
    const shown = await run(...daemon.show);
    assert.equal(shown.code, 0, shown.err);
    return daemon.listed(shown.out);
  };
  const seen: number[] = [];
  const start = async () => {
    const started = await run(...daemon.start(dir), "-d");
    assert.equal(started.code, 0, started.err);
    seen.push(pidOf());
    return pidOf();
  };
  const rotated: string[] = [];
  try {
    const pid = await start();
    assert.equal(await Deno.readLink(`/proc/${pid}/cwd`), "/");
    const logFile = `${dir}/log/${daemon.command}-${daemon.netns}.log`;
    assert.equal((await Deno.stat(logFile)).mode! & 0o777, 0o640);
    if (daemon.add !== null) {
      const added = await run(...daemon.add);
      assert.equal(added.code, 0, added.err);
    }

    if (daemon.hangup) {
      // SIGHUP: the log reopened, the daemon still serving what it had.
      rotated.push(await rotate(pid, logFile));
      assert.ok(running(pid));
      assert.deepEqual(await listed(), [daemon.entry]);
    }

    // Killed without cleanup: its socket and lock stay; the next daemon starts over them.
    Deno.kill(pid, "SIGKILL");
    await waitUntil(() => running(pid), (alive) => !alive, 5000, `pid ${pid} to die`);
    assert.ok((await Deno.stat(socket)).isSocket);
    const next = await start();
    assert.deepEqual(
      await listed(),
      [daemon.entry],
      `the restarted daemon has the ${daemon.what} again`,
    );

    const stopped = await timeBeyond(
      env,
      ["-n", daemon.netns, daemon.command, ...daemon.show],
      ["-n", daemon.netns, daemon.command, ...daemon.kill],
    );
    assert.equal(stopped.code, 0, stopped.err);
    assert.equal(stopped.out, `Stopped netkit ${daemon.command} daemon ${next} (${socket})\n`);
    assert.ok(!running(next));
    assert.ok(stopped.ms < 1000, `it took ${Math.round(stopped.ms)} ms to stop`);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/run`))).map((e) => e.name), []);
  } finally {
    for (const pid of seen) if (running(pid)) Deno.kill(pid, "SIGKILL");
    for (const file of rotated) await Deno.remove(file);
    await Deno.remove(dir, { recursive: true });
  }
}

/** How `mroute daemon` and `vnet daemon` start, show and stop: their state in the test's file. */
const STATE_FILE_DAEMON: Pick<DetachedDaemon, "start" | "show" | "kill"> = {
  start: (dir) => ["daemon", "--state", `${dir}/state.json`],
  show: ["show", "-j"],
  kill: ["daemon", "-k"],
};

Deno.test({
  name:
    "netkit mroute daemon -d logs to its default file from /, a kill -9 leaves nothing that blocks the next start, -k stops it within 1 s",
  ignore: needs("root", "netns", "veth", "ipv4_mroute"),
  async fn() {
    using lab = new MrouteLab();
    await checkDetached({
      command: "mroute",
      netns: lab.router,
      socketName: mrouteSocketName(netnsId(lab.router), 0),
      ...STATE_FILE_DAEMON,
      add: ["add", "--group", "239.40.0.2", "--iif", "r1", "--oif", "r2"],
      listed: (show) =>
        (JSON.parse(show) as { routes: { group: string }[] }).routes.map((r) => r.group),
      entry: "239.40.0.2",
      hangup: false,
      what: "route",
    });
  },
});

Deno.test({
  name:
    "netkit vnet daemon -d logs to its default file from /, SIGHUP keeps it serving and reopens the log, a kill -9 leaves nothing that blocks the next start, -k stops it within 1 s",
  ignore: needs("root", "netns", "tun"),
  async fn() {
    using lab = new NamespaceLab();
    const router = lab.netns("r");
    await checkDetached({
      command: "vnet",
      netns: router,
      socketName: vnetSocketName(netnsId(router)),
      ...STATE_FILE_DAEMON,
      add: ["nic", "add", "vm1", "--mac", "52:54:00:00:00:01", "--ipv4", "192.0.2.5"],
      listed: (show) => (JSON.parse(show) as { nics: { name: string }[] }).nics.map((n) => n.name),
      entry: "vm1",
      hangup: true,
      what: "NIC",
    });
  },
});

Deno.test({
  name:
    "netkit lsoe -d logs to its default file from /, SIGHUP keeps it serving and reopens the log, a kill -9 leaves nothing that blocks the next start, -k stops it within 1 s",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a } = joined(lab);
    await checkDetached({
      command: "lsoe",
      netns: a,
      socketName: lsoeSocketName(netnsId(a)),
      start: () => ["-i", "a1", ...QUICK],
      show: ["-s", "-j"],
      kill: ["-k"],
      add: null,
      listed: (status) =>
        (JSON.parse(status) as { interfaces: { name: string }[] }).interfaces.map((i) => i.name),
      entry: "a1",
      hangup: true,
      what: "interface",
    });
  },
});

Deno.test({
  name: "SIGTERM stops netkit lsoe within 1 s while a session is open",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const { a, b } = joined(lab);
    const dir = await Deno.makeTempDir({ prefix: "netkit-lsoe-term-" });
    try {
      await using A = await LsoeProcess.start(a, ["-i", "a1", ...QUICK]);
      await using B = await LsoeProcess.start(b, ["-i", "b1", ...QUICK]);
      // From STATUS: an event may come before the subscription does.
      for (const speaker of [A, B]) {
        await waitFor(
          () => speaker.sessions(),
          (sessions) => sessions.some((session) => session.state === "open"),
          { timeoutMs: 10_000, what: `a session open in ${speaker.netns}` },
        );
      }
      const start = performance.now();
      const status = await A.stop();
      const elapsed = performance.now() - start;
      assert.equal(status.signal, null, "it exited by itself, not by SIGKILL");
      assert.equal(status.code, 0);
      assert.ok(elapsed < 1000, `it took ${Math.round(elapsed)} ms to stop`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
