/**
 * The scene of a file attack on netkit running as root: a world-writable sticky directory like
 * `/tmp` (`shared`) where an unprivileged user (uid 65534) plants symbolic links and files, and a
 * file of root's (`target`, standing for `/etc/shadow`) that must come out untouched. Everything
 * lives under one temporary directory, removed when the scene is disposed. Needs root (the user
 * is switched to with `setpriv`).
 *
 * @module
 */

import assert from "node:assert/strict";

/** The unprivileged user (and group) that plants things: `nobody`. */
export const ATTACKER = 65534;

const TARGET_TEXT = "root's precious file\n";

/** A temporary directory with a shared, world-writable part and a root-owned target file. */
export class AttackScene implements Disposable {
  /** The scene's own directory (mode 0755, root's). */
  readonly base: string;
  /** Mode 1777, as `/tmp`: where the attacker plants. */
  readonly shared: string;
  /** Root's file, mode 0644: what a planted link points to. */
  readonly target: string;

  constructor() {
    this.base = Deno.makeTempDirSync({ prefix: "netkit-attack-" });
    try {
      Deno.chmodSync(this.base, 0o755);
      this.shared = `${this.base}/shared`;
      Deno.mkdirSync(this.shared);
      Deno.chmodSync(this.shared, 0o1777);
      this.target = `${this.base}/precious`;
      Deno.writeTextFileSync(this.target, TARGET_TEXT);
      Deno.chmodSync(this.target, 0o644);
    } catch (err) {
      Deno.removeSync(this.base, { recursive: true });
      throw err;
    }
  }

  /** Runs `command` as uid and gid 65534 without supplementary groups; throws when it fails. */
  asAttacker(...command: string[]): void {
    const out = new Deno.Command("setpriv", {
      args: [
        `--reuid=${ATTACKER}`,
        `--regid=${ATTACKER}`,
        "--clear-groups",
        "--",
        ...command,
      ],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      throw new Error(
        `as uid ${ATTACKER}: ${command.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  }

  /** A symbolic link `name` in the shared directory to `to` (the target), planted by the user. */
  plantLink(name: string, to: string = this.target): string {
    const path = `${this.shared}/${name}`;
    this.asAttacker("ln", "-s", to, path);
    return path;
  }

  /** A file `name` in the shared directory with `text`, planted (owned) by the user. */
  plantFile(name: string, text = "planted\n", mode = 0o644): string {
    const path = `${this.shared}/${name}`;
    this.asAttacker(
      "sh",
      "-c",
      'printf %s "$1" > "$2" && chmod "$3" "$2"',
      "sh",
      text,
      path,
      mode.toString(8),
    );
    return path;
  }

  /** A directory `name` in the shared directory, made by the user with `mode`. */
  plantDir(name: string, mode = 0o755): string {
    const path = `${this.shared}/${name}`;
    this.asAttacker("mkdir", "-m", mode.toString(8), path);
    return path;
  }

  /** Asserts that the target still has its content, mode and single link. */
  assertTargetUntouched(): void {
    assert.equal(Deno.readTextFileSync(this.target), TARGET_TEXT, "the target's content");
    const info = Deno.statSync(this.target);
    assert.equal(info.mode! & 0o7777, 0o644, "the target's mode");
    assert.equal(info.uid, 0, "the target's owner");
  }

  /** Removes the scene. */
  [Symbol.dispose](): void {
    Deno.removeSync(this.base, { recursive: true });
  }
}
