/**
 * `netkit relay --dev-cert DIR` as root against a directory, certificate or key someone else could
 * have planted: each is refused with one line naming the path, and nothing is written through
 * a link.
 */

import assert from "node:assert/strict";
import "../../ffi/native.ts";
import { devCertIdentity, writeDevCerts } from "../../lib/l2/certs.ts";
import { ATTACKER, AttackScene } from "../_attack.ts";
import { cli } from "../_cli.ts";
import { needs } from "../skip.ts";

/** `netkit relay --dev-cert DIR` in-process; every case here stops before anything listens. */
function relayDevCert(dir: string): Promise<{ code: number; out: string; err: string }> {
  return cli("relay", "--listen", "127.0.0.1:1", "--dev-cert", dir);
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test({
  name: "--dev-cert DIR creates DIR 0700 with a 0600 key, and uses the same files the next time",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const dir = `${scene.base}/var/lib/netkit/relay`;
    const first = await devCertIdentity(dir);
    assert.equal(first.reused, false);
    assert.equal(Deno.statSync(dir).mode! & 0o7777, 0o700);
    assert.equal(Deno.statSync(`${dir}/relay-key.pem`).mode! & 0o7777, 0o600);
    assert.equal(Deno.statSync(`${dir}/relay.pem`).mode! & 0o7777, 0o644);
    assert.deepEqual(names(dir), ["ca.pem", "relay-key.pem", "relay.pem"]);
    const again = await devCertIdentity(dir);
    assert.equal(again.reused, true);
    assert.equal(again.key, first.key);
    assert.equal(again.pinFingerprint, first.pinFingerprint);
  },
});

Deno.test({
  name: "--dev-cert DIR that another user made a symbolic link is refused; nothing is written",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    // Root's own private directory, which the link would have the relay fill (or overwrite).
    const rootDir = `${scene.base}/root-only`;
    Deno.mkdirSync(rootDir, { mode: 0o700 });
    const link = scene.plantLink("certs", rootDir);
    assert.deepEqual(await relayDevCert(link), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to use development certificate directory "${link}": it is ` +
        "a symbolic link, which netkit never follows; remove it or give another path\n",
    });
    assert.deepEqual(names(rootDir), []);
    const dangling = scene.plantLink("certs2", `${scene.base}/absent`);
    assert.equal((await relayDevCert(dangling)).code, 1);
    assert.throws(() => Deno.lstatSync(`${scene.base}/absent`), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "--dev-cert DIR owned by another user, or writable by group or others, is refused",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const theirs = scene.plantDir("certs", 0o700);
    assert.deepEqual(await relayDevCert(theirs), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to use development certificate directory "${theirs}": it ` +
        `belongs to uid ${ATTACKER}, not to uid 0 that netkit runs as; give a directory of your ` +
        "own that only you can write\n",
    });
    assert.deepEqual(names(theirs), []);

    const shared = `${scene.base}/group-certs`;
    Deno.mkdirSync(shared);
    Deno.chmodSync(shared, 0o770);
    assert.deepEqual(await relayDevCert(shared), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to use development certificate directory "${shared}": its ` +
        `mode 0770 lets its group write it; run "chmod go-w ${shared}", or give another path\n`,
    });
    assert.deepEqual(names(shared), []);
    assert.equal(
      (await relayDevCert(scene.shared)).err,
      `netkit: error: Refusing to use development certificate directory "${scene.shared}": its ` +
        `mode 1777 lets its group and others write it; run "chmod go-w ${scene.shared}", or ` +
        "give another path\n",
    );
  },
});

Deno.test({
  name:
    "--dev-cert refuses a relay.pem that is a symbolic link, writing or reading; its target is untouched",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const dir = `${scene.base}/certs`;
    Deno.mkdirSync(dir, { mode: 0o700 });
    // A link in a directory only root can write stands for one planted before it was private.
    Deno.symlinkSync(scene.target, `${dir}/relay.pem`);
    assert.deepEqual(await relayDevCert(dir), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to replace certificate file "${dir}/relay.pem": it is a ` +
        "symbolic link, which netkit never follows; remove it or give another path\n",
    });
    assert.ok(!names(dir).includes("relay-key.pem"), "no key: the set was not completed");
    scene.assertTargetUntouched();

    // With a key there, the relay reads the set instead; the link is refused all the same.
    Deno.removeSync(`${dir}/relay.pem`);
    await writeDevCerts(dir);
    Deno.removeSync(`${dir}/relay.pem`);
    Deno.symlinkSync(scene.target, `${dir}/relay.pem`);
    assert.match(
      (await relayDevCert(dir)).err,
      /^netkit: error: Refusing to read certificate file ".*\/relay\.pem": it is a symbolic link/,
    );
    scene.assertTargetUntouched();
  },
});

Deno.test({
  name:
    "--dev-cert refuses a key another user planted, or one others can read, instead of serving with it",
  ignore: needs("root"),
  async fn() {
    using scene = new AttackScene();
    const dir = `${scene.base}/certs`;
    await writeDevCerts(dir);
    const key = `${dir}/relay-key.pem`;
    // The key of a set someone else made (they would know it): owned by them.
    Deno.chownSync(key, ATTACKER, ATTACKER);
    assert.deepEqual(await relayDevCert(dir), {
      code: 1,
      out: "",
      err: `netkit: error: Refusing to read key file "${key}": it belongs to uid ${ATTACKER}, ` +
        "not to uid 0 that netkit runs as; remove it or give another path\n",
    });
    Deno.chownSync(key, 0, 0);
    Deno.chmodSync(key, 0o644);
    assert.equal(
      (await relayDevCert(dir)).err,
      `netkit: error: Refusing to read key file "${key}": its mode 0644 lets its group and ` +
        `others read it; run "chmod go-rwx ${key}", or give another path\n`,
    );
    Deno.chmodSync(key, 0o600);
    // The certificate peers pin, writable by anyone, could be swapped for an impostor's.
    Deno.chmodSync(`${dir}/relay.pem`, 0o666);
    assert.match(
      (await relayDevCert(dir)).err,
      /Refusing to read certificate file ".*\/relay\.pem": its mode 0666 lets its group and others write it/,
    );
  },
});
