/**
 * The single-instance guard for a control socket path (and other per-daemon resources). A daemon owns
 * `<path>` while it holds an exclusive flock on `<path>.lock`, which contains its pid. A socket
 * file is removed only when that lock is held and connecting to the socket is refused, which
 * proves nobody is serving it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { TimeoutError, withTimeout } from "../async.ts";
import { NetkitError } from "../errors.ts";
import { openCheckedFile } from "../net/safe_file.ts";
import { closeQuietly } from "./_wire.ts";

const log = getLogger(["netkit", "ipc"]);

/** How long a probe connection may take before the socket is presumed alive. */
const PROBE_TIMEOUT_MS = 1000;
/** Attempts to lock a lock file that another process keeps replacing. */
const LOCK_ATTEMPTS = 5;

/** The suffix of the lock file beside each control socket. */
export const LOCK_SUFFIX = ".lock";

function isNotFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound;
}

async function statOrNull(path: string, lstat = false): Promise<Deno.FileInfo | null> {
  try {
    return await (lstat ? Deno.lstat(path) : Deno.stat(path));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

async function readPid(lockPath: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(lockPath)).trim();
    return /^[1-9][0-9]*$/.test(text) ? Number(text) : null;
  } catch {
    // The owner may be mid-write or the file unreadable; the message then omits the pid.
    return null;
  }
}

async function writePid(file: Deno.FsFile): Promise<void> {
  await file.truncate(0);
  await file.seek(0, Deno.SeekMode.Start);
  const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

/** Whether something accepts connections on the socket at `path`. */
async function probe(path: string): Promise<"alive" | "refused" | "gone"> {
  const attempt = Deno.connect({ transport: "unix", path });
  try {
    (await withTimeout(attempt, PROBE_TIMEOUT_MS, `no answer on "${path}"`)).close();
    return "alive";
  } catch (err) {
    if (err instanceof TimeoutError) {
      // A listener with a full backlog may never answer; it is still alive.
      attempt.then((conn) => conn.close(), () => {});
      return "alive";
    }
    if (err instanceof Deno.errors.ConnectionRefused) return "refused";
    if (isNotFound(err)) return "gone";
    throw new NetkitError(
      `Cannot tell whether "${path}" is in use: ${
        err instanceof Error ? err.message : String(err)
      }; remove it by hand if no daemon serves it`,
      { cause: err },
    );
  }
}

/** Options for {@linkcode InstanceLock.acquire}. */
export interface InstanceLockOptions {
  /** The message when someone else holds the lock (default: "Another netkit daemon ... is already serving"). */
  busyMessage?: (pid: number | null) => string;
}

/**
 * An exclusive claim on a path, held until {@linkcode InstanceLock.release}: a control socket,
 * or any other resource one daemon at a time may own (e.g. an interface).
 */
export class InstanceLock {
  /** The socket path this lock guards. */
  readonly path: string;
  /** The lock file, `<path>.lock`. */
  readonly lockPath: string;
  #file: Deno.FsFile | null;
  #socketIno: number | null = null;

  private constructor(path: string, lockPath: string, file: Deno.FsFile) {
    this.path = path;
    this.lockPath = lockPath;
    this.#file = file;
  }

  /**
   * Takes the lock for socket `path` and clears a stale socket file, or throws a
   * {@linkcode NetkitError} naming who holds it. Requires `--allow-read`, `--allow-write` and
   * `--allow-net` for the socket path (the probe connection).
   */
  static async acquire(path: string, options: InstanceLockOptions = {}): Promise<InstanceLock> {
    const lockPath = path + LOCK_SUFFIX;
    const lock = await InstanceLock.#lockFile(path, lockPath, options);
    try {
      await lock.#clearStaleSocket();
      return lock;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  static async #lockFile(
    path: string,
    lockPath: string,
    options: InstanceLockOptions,
  ): Promise<InstanceLock> {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      // Never through a symbolic link, and only a lock file of ours: see lib/net/safe_file.ts.
      const file = openCheckedFile(lockPath, {
        what: "lock file",
        read: true,
        write: true,
        create: true,
        mode: 0o644,
      });
      try {
        if (!(await file.tryLock(true))) {
          const pid = await readPid(lockPath);
          if (options.busyMessage) throw new NetkitError(options.busyMessage(pid));
          const who = pid === null ? "Another netkit daemon" : `Another netkit daemon (pid ${pid})`;
          throw new NetkitError(
            `${who} is already serving "${path}"; stop it before starting another`,
          );
        }
        // The previous owner may have unlinked the file between our open and our lock; a lock
        // on an unlinked file guards nothing, so lock the file now at the path instead.
        const held = await file.stat();
        const current = await statOrNull(lockPath, true);
        if (current !== null && current.ino === held.ino && current.dev === held.dev) {
          await writePid(file);
          return new InstanceLock(path, lockPath, file);
        }
      } catch (err) {
        file.close();
        throw err;
      }
      file.close();
    }
    throw new NetkitError(
      `Cannot lock "${lockPath}": it keeps being replaced; check which process rewrites it`,
    );
  }

  async #clearStaleSocket(): Promise<void> {
    const info = await statOrNull(this.path, true);
    if (info === null) return;
    if (info.isSocket !== true) {
      throw new NetkitError(
        `"${this.path}" exists and is not a socket; move it away before starting the daemon`,
      );
    }
    const state = await probe(this.path);
    if (state === "alive") {
      throw new NetkitError(
        `Another process is listening on "${this.path}" without holding "${this.lockPath}"; ` +
          "stop it or choose another socket name",
      );
    }
    if (state === "refused") {
      log.info("Removing stale control socket {path} left by a daemon that is gone", {
        path: this.path,
      });
      try {
        await Deno.remove(this.path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** Records the socket just created at the path as ours, for {@linkcode release} to remove. */
  async adoptSocket(): Promise<void> {
    this.#socketIno = (await Deno.lstat(this.path)).ino;
  }

  /**
   * Removes our socket (only if the file at the path is still the one adopted) and then the
   * lock file while the lock is still held, so the path is never removed from under another
   * owner; then unlocks. Safe to call twice.
   */
  async release(): Promise<void> {
    const file = this.#file;
    if (file === null) return;
    this.#file = null;
    try {
      const socket = this.#socketIno === null ? null : await statOrNull(this.path, true);
      if (socket !== null && socket.ino === this.#socketIno) await removeIfPresent(this.path);
      await removeIfPresent(this.lockPath);
    } finally {
      closeQuietly(file);
    }
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!isNotFound(err)) {
      log.warning("Cannot remove {path}: {error}", { path, error: String(err) });
    }
  }
}

/** Linux's `MAJOR:MINOR` of a `st_dev`, in hex as /proc/locks writes it (`fe:00`). */
function deviceText(dev: number): string {
  const high = Math.floor(dev / 2 ** 32);
  const major = ((dev >>> 8) & 0xfff) | (high & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}`;
}

/**
 * The pid /proc/locks names as holding an exclusive flock on the file `dev`/`ino` (of the text
 * of /proc/locks, `locks`), or null when nobody holds one. Waiters (`-> FLOCK ...`) hold nothing.
 */
export function flockHolder(locks: string, dev: number, ino: number): number | null {
  const file = `${deviceText(dev)}:${ino}`;
  for (const line of locks.split("\n")) {
    const m = /^\d+:\s+FLOCK\s+ADVISORY\s+WRITE\s+(\d+)\s+(\S+)\s/.exec(line);
    if (m !== null && m[2] === file) return Number(m[1]);
  }
  return null;
}

/**
 * Throws a {@linkcode NetkitError} unless process `pid`, which the daemon answering on the
 * control socket `socketPath` said is its own, is the one holding that socket's lock file.
 *
 * A reply is what anyone who could create a socket in the run directory wants it to be, so
 * signalling the pid it names could stop any process (a fake socket once made `lacp -k` SIGTERM
 * an unrelated one). The daemon that owns a socket path holds an exclusive flock on
 * `<path>.lock` for as long as it serves (see {@linkcode InstanceLock}), and the kernel, not the
 * daemon, says who holds a flock: /proc/locks lists the holder's pid beside the file's device
 * and inode. Reading it takes no lock, so a daemon starting meanwhile is never turned away (a
 * trial flock would). A process that holds the lock beside a fake socket can only name itself.
 * Requires `--allow-read` for the lock file and /proc/locks.
 */
export async function verifySocketOwner(socketPath: string, pid: number): Promise<void> {
  const lockPath = socketPath + LOCK_SUFFIX;
  const refuse = (why: string) =>
    new NetkitError(
      `Refusing to signal pid ${pid}: the daemon on "${socketPath}" gave it as its own, but ${why}`,
    );
  const info = await statOrNull(lockPath, true);
  if (info === null || !info.isFile || info.dev === null || info.ino === null) {
    throw refuse(`"${lockPath}" is missing`);
  }
  const holder = flockHolder(await Deno.readTextFile("/proc/locks"), info.dev, info.ino);
  if (holder === null) throw refuse(`nobody holds "${lockPath}"`);
  if (holder !== pid) throw refuse(`"${lockPath}" is held by pid ${holder}`);
}
