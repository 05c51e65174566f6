/**
 * netkit as root against files planted by an unprivileged user (uid 65534) in a world-writable
 * directory: every file netkit writes is refused when it is a symbolic link or not netkit's own,
 * and the file the link points to is left as it was.
 */

import assert from "node:assert/strict";
import "../../ffi/native.ts";
import { ControlServer } from "../../lib/ipc/mod.ts";
import { clientMacPath, stableClientMac } from "../../lib/l2/client_mac.ts";
import { NamespaceLab } from "../../lib/lab/namespace_lab.ts";
import { LacpDaemon, lacpDaemonOptions } from "../../lib/lacp/daemon.ts";
import { writeStateFile } from "../../lib/mroute/state_file.ts";
import { UnsafeFileError } from "../../lib/net/safe_file.ts";
import { NETNS_DIR, runInNetns } from "../../lib/net/netns.ts";
import { NetkitOsError } from "../../lib/errors.ts";
import { z } from "zod";
import { AttackScene } from "../_attack.ts";
import { needs } from "../skip.ts";
import { cli } from "../_cli.ts";

Deno.test({
  name: "--pcap through a symbolic link another user planted is refused; its target is untouched",
  ignore: needs("root", "netns", "veth"),
  async fn() {
    using scene = new AttackScene();
    using lab = new NamespaceLab();
    const a = lab.netns("a");
    lab.veth({ netns: a, name: "a1" }, { netns: lab.netns("b"), name: "b1" });
    const pcap = scene.plantLink("lacp.pcap");
    await assert.rejects(
      LacpDaemon.start(lacpDaemonOptions(["a1"], { netns: a, pcap })),
      (err: unknown) =>
        err instanceof UnsafeFileError &&
        err.message ===
          `Refusing to write pcap file "${pcap}": it is a symbolic link, which netkit never ` +
            "follows; remove it or give another path",
    );
    scene.assertTargetUntouched();
  },
});

Deno.test({
  name:
    "--log-file through a symbolic link another user planted is refused; its target is untouched",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const log = scene.plantLink("netkit.log");
    assert.deepEqual(await cli("--log-file", log, "version"), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to write log file "${log}": it is a symbolic link, which ` +
        "netkit never follows; remove it or give another path\n",
    });
    scene.assertTargetUntouched();
  },
});

Deno.test({
  name: "--log-file owned by another user is refused and not written",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const log = scene.plantFile("netkit.log", "theirs\n", 0o666);
    const { code, err } = await cli("--log-file", log, "version");
    assert.equal(code, 1);
    assert.equal(
      err,
      `netkit: error: Refusing to write log file "${log}": it belongs to uid 65534, not to uid 0 ` +
        "that netkit runs as; remove it or give another path\n",
    );
    assert.equal(Deno.readTextFileSync(log), "theirs\n");
  },
});

Deno.test({
  name:
    "a lock file planted as a symbolic link beside --status-socket is refused; its target is untouched",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const socket = `${scene.shared}/relay.sock`;
    const lock = scene.plantLink("relay.sock.lock");
    await assert.rejects(
      ControlServer.listen({ path: socket, schema: z.object({}), handle: () => ({}) }),
      (err: unknown) =>
        err instanceof UnsafeFileError &&
        err.message ===
          `Refusing to write lock file "${lock}": it is a symbolic link, which netkit never ` +
            "follows; remove it or give another path",
    );
    scene.assertTargetUntouched();
    assert.throws(() => Deno.lstatSync(socket), Deno.errors.NotFound, "no socket was made");
  },
});

Deno.test({
  name: "a lock file planted by another user (or hard-linked to root's file) is refused",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const theirs = scene.plantFile("a.sock.lock", "4242\n", 0o666);
    await assert.rejects(
      ControlServer.listen({
        path: `${scene.shared}/a.sock`,
        schema: z.object({}),
        handle: () => ({}),
      }),
      new RegExp(
        `^UnsafeFileError: Refusing to write lock file "${theirs}": it belongs to uid 65534`,
      ),
    );
    // Hard links to a file one does not own need fs.protected_hardlinks=0; root makes this one.
    Deno.linkSync(scene.target, `${scene.shared}/b.sock.lock`);
    await assert.rejects(
      ControlServer.listen({
        path: `${scene.shared}/b.sock`,
        schema: z.object({}),
        handle: () => ({}),
      }),
      /it has 2 hard links/,
    );
    scene.assertTargetUntouched();
  },
});

Deno.test({
  name:
    "the state file refuses a symbolic link at its path, and links at temporary names catch nothing",
  ignore: needs("root"),
  fn() {
    using scene = new AttackScene();
    const state = scene.plantLink("mroute.json");
    assert.throws(
      () => writeStateFile(state, '{"routes":[]}\n'),
      (err: unknown) =>
        err instanceof UnsafeFileError &&
        err.message ===
          `Refusing to replace state file "${state}": it is a symbolic link, which netkit never ` +
            "follows; remove it or give another path",
    );
    scene.assertTargetUntouched();

    // The temporary names netkit used to write through: "<path>.tmp-<pid>", for every pid.
    const path = `${scene.shared}/state.json`;
    scene.plantLink(`state.json.tmp-${Deno.pid}`);
    writeStateFile(path, '{"routes":[]}\n');
    assert.equal(Deno.readTextFileSync(path), '{"routes":[]}\n');
    const info = Deno.lstatSync(path);
    assert.ok(info.isFile && info.uid === 0 && (info.mode! & 0o7777) === 0o644);
    scene.assertTargetUntouched();
    assert.deepEqual([...Deno.readDirSync(scene.shared)].map((e) => e.name).sort(), [
      "mroute.json",
      "state.json",
      `state.json.tmp-${Deno.pid}`,
    ]);
  },
});

Deno.test({
  name: "the client MAC file refuses a symbolic link and a file another user planted",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const link = scene.plantLink("client-tap7.mac");
    await assert.rejects(
      stableClientMac("tap7", scene.shared),
      (err: unknown) =>
        err instanceof UnsafeFileError &&
        err.message ===
          `Refusing to read client MAC file "${link}": it is a symbolic link, which netkit ` +
            "never follows; remove it or give another path",
    );
    // A MAC chosen by someone else would be taken as ours.
    const planted = scene.plantFile("client-tap8.mac", "02:00:00:00:00:66\n");
    assert.equal(planted, clientMacPath("tap8", scene.shared));
    await assert.rejects(stableClientMac("tap8", scene.shared), /it belongs to uid 65534/);
    // The temporary name of the first write is no longer predictable.
    scene.plantLink(`client-tap9.mac.tmp${Deno.pid}`);
    const mac = await stableClientMac("tap9", scene.shared);
    assert.deepEqual(await stableClientMac("tap9", scene.shared), mac);
    assert.equal(Deno.lstatSync(clientMacPath("tap9", scene.shared)).uid, 0);
    scene.assertTargetUntouched();
  },
});

Deno.test({
  name: "a symbolic link in /run/netns is never entered as a namespace",
  ignore: needs("root", "netns"),
  fn() {
    using lab = new NamespaceLab();
    const real = lab.netns("real");
    const link = `${lab.prefix}-link`;
    Deno.symlinkSync(`${NETNS_DIR}/${real}`, `${NETNS_DIR}/${link}`);
    try {
      assert.throws(
        () => runInNetns(link, () => "entered"),
        (err: unknown) => err instanceof NetkitOsError && err.code === "ELOOP",
      );
      assert.equal(runInNetns(real, () => "entered"), "entered", "the namespace itself is fine");
    } finally {
      Deno.removeSync(`${NETNS_DIR}/${link}`);
    }
  },
});
