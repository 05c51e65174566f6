/**
 * Daemons as services: SIGHUP never ends one (it reopens a renamed log file, as logrotate needs),
 * and `netkit lacp -k` signals only a pid the kernel says holds the control socket's lock, never
 * the pid a fake control socket answers with.
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { ControlServer } from "../../lib/ipc/mod.ts";
import type { ChildDaemon } from "../../lib/lab/child_daemon.ts";
import { L2 } from "../../lib/lab/l2_lab.ts";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { controlSocketPrefix } from "../../lib/lacp/daemon.ts";
import { currentNetnsId, netnsId } from "../../lib/net/netns.ts";
import { needs } from "../skip.ts";
import { startedLab } from "./_l2.ts";
import { netkit, startLacp, waitUntil } from "./_lacp.ts";

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

Deno.test({
  name: "SIGHUP leaves a netkit lacp daemon running and answering; it reopens a renamed log file",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
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

Deno.test("netkit lacp -k refuses the pid a fake control socket names, and signals nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netkit-sig-" });
  // An unrelated process, whose pid the fake socket gives as its own.
  const bystander = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    // A control socket where lacp -k looks, answering status as a daemon would; the lock
    // beside it is held by this test process, not by the bystander.
    await using _fake = await ControlServer.listen({
      path: `${dir}/${controlSocketPrefix(currentNetnsId())}${bystander.pid}.sock`,
      schema: z.object({ action: z.literal("status") }),
      handle: () => ({
        pid: bystander.pid,
        net_ns_id: currentNetnsId(),
        configured_rate_mode: "fast",
        active_mode: true,
        uptime_seconds: 1,
        ports: [],
      }),
    });
    const out = await new Deno.Command("./netkit", {
      args: ["lacp", "-k"],
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
        `^netkit: error: Refusing to signal pid ${bystander.pid}: the daemon on ".+" gave it as ` +
          `its own, but ".+\\.lock" is held by pid ${Deno.pid}\\n$`,
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
    const a = lab.netns("a");
    const b = lab.netns("b");
    lab.veth({ netns: a, name: "a1" }, { netns: b, name: "b1" });
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
