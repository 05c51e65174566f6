/**
 * Files netkit creates or writes, safely as root: the one way every writer (pcap, log, lock,
 * state, client MAC, certificates and keys) opens a file.
 *
 * netkit runs as root and takes paths from its command line, which may point into directories
 * other users can write (`/tmp`). So a path's last component is never followed when it is a
 * symbolic link (`O_NOFOLLOW`, through `nk_file_open`), and what was opened is checked before
 * anything is written or truncated: a regular file, with one link (a hard link could be anyone's
 * file under a second name), owned by the effective uid. Anything else is refused with an
 * {@linkcode UnsafeFileError} naming the path and what to do. The checked descriptor becomes a
 * `Deno.FsFile` by opening `/proc/self/fd/N`, the kernel's link to exactly that open file (never
 * the path again).
 *
 * Replacing a whole file ({@linkcode writeFileAtomic}) writes a new file created with
 * `O_CREAT|O_EXCL` (which never follows a link) under an unpredictable name in the target's
 * directory, mode 0600 until it is complete, then fsyncs and renames it over the target: a link
 * planted at the temporary name cannot redirect it, and rename replaces a directory entry, never
 * what a link points to.
 *
 * @example Append to a log file, refusing a planted link
 * ```ts ignore
 * using file = openCheckedFile("/var/log/netkit.log", {
 *   what: "log file",
 *   write: true,
 *   append: true,
 *   create: true,
 * });
 * ```
 *
 * Requires `--allow-ffi`, and `--allow-read`/`--allow-write` for the paths and `/proc/self/fd`.
 *
 * @module
 */

import { cString } from "../../ffi/c_string.ts";
import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, NetkitOsError } from "../errors.ts";

// NK_OPEN_* of c/netkit.h.
const NK_OPEN_READ = 0x01;
const NK_OPEN_WRITE = 0x02;
const NK_OPEN_APPEND = 0x04;
const NK_OPEN_CREATE = 0x08;
const NK_OPEN_EXCLUSIVE = 0x10;
const NK_OPEN_DIRECTORY = 0x20;

// struct nk_file_stat (32 bytes; offsets checked against nk_layout by tests/ffi_test.ts).
/** Layout of `struct nk_file_stat`, shared with C. */
export const FILE_STAT_LAYOUT = {
  size: 32,
  dev: 0,
  ino: 8,
  mode: 16,
  uid: 20,
  gid: 24,
  nlink: 28,
} as const;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** A file or directory netkit will not use, and why. */
export class UnsafeFileError extends NetkitError {
  /** Always `"UnsafeFileError"`, so logs and `String(err)` name the class. */
  override name = "UnsafeFileError";
  /** The path as given. */
  readonly path: string;

  /** `message` names the path, the reason and what to do. */
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Options for {@linkcode openCheckedFile}. */
export interface CheckedOpenOptions {
  /** What the file is, for messages: `"pcap file"`, `"lock file"`. */
  what: string;
  /** Open for reading. */
  read?: boolean;
  /** Open for writing. */
  write?: boolean;
  /** Open for writing at the end (implies `write`). */
  append?: boolean;
  /** Create the file when it does not exist. */
  create?: boolean;
  /** Empty the file, once it has passed the checks. */
  truncate?: boolean;
  /** Permission bits of a file created (default 0o644; the umask applies). */
  mode?: number;
  /**
   * Permission bits an existing file must not have, e.g. 0o077 for a private key (group and
   * others may neither read nor write it). Default: none.
   */
  forbiddenModeBits?: number;
}

/** What `fstat(2)` said about an opened file. */
interface FileStat {
  dev: number;
  ino: number;
  mode: number;
  uid: number;
  nlink: number;
}

/**
 * The effective uid of this process (`/proc/self/status`; `Deno.uid()` is the real one).
 * Requires `--allow-read` for `/proc/self/status`.
 */
export function effectiveUid(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1];
  if (uid === undefined) throw new Error("/proc/self/status has no Uid line");
  return Number(uid);
}

/** Permission bits as `ls` users write them: "0644", "1777". */
function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

function kindOf(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFLNK:
      return "a symbolic link";
    case 0o010000:
      return "a FIFO";
    case 0o140000:
      return "a socket";
    default:
      return "a device";
  }
}

/** `nk_file_open`: the descriptor and its fstat, or -errno. */
function rawOpen(path: string, flags: number, mode: number): { fd: number; stat: FileStat } | {
  errno: number;
} {
  const out = new Uint8Array(FILE_STAT_LAYOUT.size);
  const rc = nk.nk_file_open(cString(path), flags, mode, out);
  if (rc < 0) return { errno: -rc };
  const view = new DataView(out.buffer);
  return {
    fd: rc,
    stat: {
      dev: Number(view.getBigUint64(FILE_STAT_LAYOUT.dev, true)),
      ino: Number(view.getBigUint64(FILE_STAT_LAYOUT.ino, true)),
      mode: view.getUint32(FILE_STAT_LAYOUT.mode, true),
      uid: view.getUint32(FILE_STAT_LAYOUT.uid, true),
      nlink: view.getUint32(FILE_STAT_LAYOUT.nlink, true),
    },
  };
}

/** The reason `stat` (of `path`) is not ours to use, or null. */
function refusal(
  stat: FileStat,
  expectedType: number,
  euid: number,
  forbiddenModeBits: number,
): string | null {
  if ((stat.mode & S_IFMT) !== expectedType) {
    return `it is ${kindOf(stat.mode)}, not ${kindOf(expectedType)}`;
  }
  if (stat.uid !== euid) {
    return `it belongs to uid ${stat.uid}, not to uid ${euid} that netkit runs as`;
  }
  if (expectedType === S_IFREG && stat.nlink !== 1) {
    return `it has ${stat.nlink} hard links (another name for it may belong to anyone)`;
  }
  const extra = stat.mode & forbiddenModeBits;
  if (extra !== 0) {
    const who = [(extra & 0o070) !== 0 ? "its group" : "", (extra & 0o007) !== 0 ? "others" : ""]
      .filter((w) => w !== "").join(" and ");
    const how = [(extra & 0o044) !== 0 ? "read" : "", (extra & 0o022) !== 0 ? "write" : ""]
      .filter((w) => w !== "").join(" and ");
    return `its mode ${octal(stat.mode)} lets ${who} ${how || "use"} it`;
  }
  return null;
}

/** What to do about `reason` at `path`: take the extra mode bits away, or stop using it. */
function remedy(path: string, reason: string, forbiddenModeBits: number): string {
  if (!reason.startsWith("its mode")) return "remove it or give another path";
  const who = (forbiddenModeBits & 0o070 ? "g" : "") + (forbiddenModeBits & 0o007 ? "o" : "");
  const what = (forbiddenModeBits & 0o044 ? "r" : "") + (forbiddenModeBits & 0o022 ? "w" : "") +
    (forbiddenModeBits & 0o011 ? "x" : "");
  return `run "chmod ${who}-${what} ${path}", or give another path`;
}

/**
 * Why whatever is at `path` (looked at without following a link) is not ours to use, or null when
 * it is, or nothing is there.
 */
function refusalAt(path: string, expectedType: number, forbiddenModeBits: number): string | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const mode = info.mode ?? 0;
  if ((mode & S_IFMT) === S_IFLNK) return "it is a symbolic link, which netkit never follows";
  const stat = {
    dev: info.dev,
    ino: info.ino ?? 0,
    mode,
    uid: info.uid ?? -1,
    nlink: info.nlink ?? 0,
  };
  return refusal(stat, expectedType, effectiveUid(), forbiddenModeBits);
}

/**
 * The error for `errno` from opening `path`. The kernel refuses a link with ELOOP, or with EACCES
 * when `O_CREAT` meets one in a sticky directory (as it may a file of another user there), so
 * what is at the path decides: a refusal when it is not ours to use, otherwise the OS error.
 */
function openFailure(
  path: string,
  verb: string,
  what: string,
  errno: number,
  expectedType: number,
  forbiddenModeBits: number,
): NetkitError {
  let reason: string | null = null;
  try {
    reason = refusalAt(path, expectedType, forbiddenModeBits);
  } catch {
    // Cannot look: report the errno.
  }
  if (reason !== null) {
    return new UnsafeFileError(
      path,
      `Refusing to ${verb} ${what} "${path}": ${reason}; ${
        remedy(path, reason, forbiddenModeBits)
      }`,
    );
  }
  return new NetkitOsError(`${verb} ${what} "${path}"`, errno);
}

/**
 * Opens `path` without following a symbolic link in its last component, checks that it is a
 * regular file with one link owned by the effective uid (and free of
 * `options.forbiddenModeBits`), and only then truncates it if asked. Throws an
 * {@linkcode UnsafeFileError} when the check fails, a {@linkcode NetkitOsError} when the open
 * does (`code` `"ENOENT"` for a missing file).
 */
export function openCheckedFile(path: string, options: CheckedOpenOptions): Deno.FsFile {
  const write = options.write === true || options.append === true;
  const read = options.read === true || !write;
  const verb = write ? "write" : "read";
  const flags = (read ? NK_OPEN_READ : 0) | (write ? NK_OPEN_WRITE : 0) |
    (options.append ? NK_OPEN_APPEND : 0) | (options.create ? NK_OPEN_CREATE : 0);
  const opened = rawOpen(path, flags, options.mode ?? 0o644);
  const forbidden = options.forbiddenModeBits ?? 0;
  if ("errno" in opened) {
    throw openFailure(path, verb, options.what, opened.errno, S_IFREG, forbidden);
  }
  const file = adopt(path, opened, S_IFREG, forbidden, verb, options.what, {
    read,
    write,
    append: options.append === true,
  });
  if (options.truncate) {
    try {
      file.truncateSync(0);
    } catch (err) {
      file.close();
      throw err;
    }
  }
  return file;
}

/**
 * Checks the descriptor `opened.fd` and returns a `Deno.FsFile` for the same open file (through
 * `/proc/self/fd`); closes the descriptor either way.
 */
function adopt(
  path: string,
  opened: { fd: number; stat: FileStat },
  expectedType: number,
  forbiddenModeBits: number,
  verb: string,
  what: string,
  access: { read: boolean; write: boolean; append: boolean },
): Deno.FsFile {
  try {
    const reason = refusal(opened.stat, expectedType, effectiveUid(), forbiddenModeBits);
    if (reason !== null) {
      throw new UnsafeFileError(
        path,
        `Refusing to ${verb} ${what} "${path}": ${reason}; ${
          remedy(path, reason, forbiddenModeBits)
        }`,
      );
    }
    const file = Deno.openSync(`/proc/self/fd/${opened.fd}`, access);
    const info = file.statSync();
    if (info.ino !== opened.stat.ino || info.dev !== opened.stat.dev) {
      file.close();
      throw new Error(`/proc/self/fd/${opened.fd} is not the file opened as "${path}"`);
    }
    return file;
  } finally {
    nk.nk_close(opened.fd);
  }
}

/**
 * The whole content of `path`, opened and checked as {@linkcode openCheckedFile} does (a regular
 * file of ours with one link, free of `options.forbiddenModeBits`), at most `options.maxBytes`:
 * a longer file is refused before more than that is read.
 */
export function readCheckedFile(
  path: string,
  options: Pick<CheckedOpenOptions, "what" | "forbiddenModeBits"> & { maxBytes: number },
): Uint8Array<ArrayBuffer> {
  using file = openCheckedFile(path, {
    what: options.what,
    ...(options.forbiddenModeBits === undefined
      ? {}
      : { forbiddenModeBits: options.forbiddenModeBits }),
    read: true,
  });
  const bytes = readBounded(file, options.maxBytes);
  if (bytes === null) {
    throw new UnsafeFileError(
      path,
      `Refusing to read ${options.what} "${path}": it is larger than ${options.maxBytes} bytes`,
    );
  }
  return bytes;
}

/** Options for {@linkcode readRegularFile}. */
export interface RegularReadOptions {
  /** What the file is, for messages: `"apply file"`. */
  what: string;
  /** A file longer than this is refused. */
  maxBytes: number;
}

/**
 * The whole content of the regular file at `path`, at most `options.maxBytes`, for input the
 * user names on the command line (not a file netkit itself keeps, so links are followed and any
 * owner's file is read). A FIFO, device, socket or directory is refused at once, never read: the
 * open is non-blocking (a FIFO cannot hang it) and what was opened is checked before reading.
 * Throws an {@linkcode UnsafeFileError} naming the path and why, or a {@linkcode NetkitOsError}
 * when the open fails (`code` `"ENOENT"` for a missing file).
 */
export function readRegularFile(
  path: string,
  options: RegularReadOptions,
): Uint8Array<ArrayBuffer> {
  let real: string;
  try {
    // Resolved once, then opened without following a link: what is checked is what is read.
    real = Deno.realPathSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NetkitOsError(`read ${options.what} "${path}"`, Errno.ENOENT);
    }
    throw err;
  }
  const opened = rawOpen(real, NK_OPEN_READ, 0);
  if ("errno" in opened) throw new NetkitOsError(`read ${options.what} "${path}"`, opened.errno);
  try {
    if ((opened.stat.mode & S_IFMT) !== S_IFREG) {
      throw new UnsafeFileError(
        path,
        `Refusing to read ${options.what} "${path}": it is ${
          kindOf(opened.stat.mode)
        }, not a regular file`,
      );
    }
    using file = Deno.openSync(`/proc/self/fd/${opened.fd}`, { read: true });
    const bytes = readBounded(file, options.maxBytes);
    if (bytes === null) {
      throw new UnsafeFileError(
        path,
        `Refusing to read ${options.what} "${path}": it is larger than ${options.maxBytes} bytes`,
      );
    }
    return bytes;
  } finally {
    nk.nk_close(opened.fd);
  }
}

/** Everything `reader` gives until its end, or null once it gives more than `maxBytes`. */
export function readBounded(
  reader: { readSync(p: Uint8Array): number | null },
  maxBytes: number,
): Uint8Array<ArrayBuffer> | null {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(65536);
    const n = reader.readSync(chunk);
    if (n === null) break;
    total += n;
    if (total > maxBytes) return null;
    chunks.push(chunk.subarray(0, n));
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Options for {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** What the file is, for messages: `"state file"`. */
  what: string;
  /** Permission bits of the new file (exactly; default 0o644). */
  mode?: number;
}

function splitPath(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return { dir: ".", base: path };
  return { dir: slash === 0 ? "/" : path.slice(0, slash), base: path.slice(slash + 1) };
}

/** Throws unless whatever is at `path` (if anything) is a file of ours that may be replaced. */
function checkReplaceable(path: string, what: string): void {
  const reason = refusalAt(path, S_IFREG, 0);
  if (reason !== null) {
    throw new UnsafeFileError(
      path,
      `Refusing to replace ${what} "${path}": ${reason}; remove it or give another path`,
    );
  }
}

/**
 * Replaces `path` with `data` atomically: readers see the old file or the new one, never a part,
 * and the new one survives a crash once this returns. Refuses (with an
 * {@linkcode UnsafeFileError}) when `path` is a symbolic link or a file that is not ours; the
 * directory must exist. The new file has `options.mode` exactly.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): void {
  const { dir, base } = splitPath(path);
  checkReplaceable(path, options.what);
  const random = crypto.getRandomValues(new Uint8Array(8)).toHex();
  const temp = `${dir}/.${base}.${random}.tmp`;
  const opened = rawOpen(temp, NK_OPEN_WRITE | NK_OPEN_EXCLUSIVE, 0o600);
  if ("errno" in opened) {
    throw openFailure(temp, "write", `temporary ${options.what}`, opened.errno, S_IFREG, 0);
  }
  let renamed = false;
  try {
    try {
      using file = Deno.openSync(`/proc/self/fd/${opened.fd}`, { write: true });
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      let offset = 0;
      while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
      // The magic link is the open file: this changes exactly the file written, never a path.
      Deno.chmodSync(`/proc/self/fd/${opened.fd}`, options.mode ?? 0o644);
      file.syncSync();
    } finally {
      nk.nk_close(opened.fd);
    }
    Deno.renameSync(temp, path);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        Deno.removeSync(temp);
      } catch {
        // Already gone.
      }
    }
  }
  try {
    // The rename is durable once the directory entry is.
    using dirHandle = Deno.openSync(dir, { read: true });
    dirHandle.syncSync();
  } catch {
    // Some filesystems cannot sync a directory; the rename is still atomic.
  }
}

/**
 * Makes sure `path` is a directory only we can change: creates it with mode 0700 when absent
 * (and missing parents with the default mode), then refuses (with an {@linkcode UnsafeFileError})
 * a symbolic link, anything not a directory, a directory owned by another uid, or one its group
 * or others may write.
 */
export function ensurePrivateDir(path: string, what: string): void {
  const { dir } = splitPath(path.replace(/\/+$/, "") || "/");
  try {
    Deno.mkdirSync(dir, { recursive: true });
    Deno.mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  const opened = rawOpen(path, NK_OPEN_READ | NK_OPEN_DIRECTORY, 0);
  if ("errno" in opened) throw openFailure(path, "use", what, opened.errno, S_IFDIR, 0o022);
  try {
    const reason = refusal(opened.stat, S_IFDIR, effectiveUid(), 0o022);
    if (reason !== null) {
      const fix = reason.startsWith("its mode")
        ? `; run "chmod go-w ${path}", or give another path`
        : "; give a directory of your own that only you can write";
      throw new UnsafeFileError(path, `Refusing to use ${what} "${path}": ${reason}${fix}`);
    }
  } finally {
    nk.nk_close(opened.fd);
  }
}

/** Whether `err` says the file did not exist. */
export function isNotFound(err: unknown): boolean {
  return (err instanceof NetkitOsError && err.errno === Errno.ENOENT) ||
    err instanceof Deno.errors.NotFound;
}
