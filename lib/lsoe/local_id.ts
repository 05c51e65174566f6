/**
 * The default LSoE Local ID, when the configuration gives none (`local-id`, `--local-id`).
 *
 * lsoed's rule: the first 10 bytes of the MD5 of `/sys/class/dmi/id/product_uuid` (its bytes as
 * read, newline included), so one machine always has the same ID. netkit falls back to
 * `/etc/machine-id` where the machine has no DMI (virtual machines without it, some ARM boards),
 * and adds one thing: in a network namespace other than the initial one, the namespace's inode
 * number is hashed in too (MD5 of the file's bytes, then `netns:` and the inode in decimal), so
 * two speakers in two namespaces of one host (a lab, containers) do not share an ID. That ID
 * lasts as long as the namespace; give `local-id` for one that survives it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { NetkitError } from "../errors.ts";
import { LOCAL_ID_LEN } from "../packet/lsoe.ts";

/** What lsoed hashes. */
export const PRODUCT_UUID_PATH = "/sys/class/dmi/id/product_uuid";
/** netkit's fallback when the machine has no readable DMI product UUID. */
export const MACHINE_ID_PATH = "/etc/machine-id";

/**
 * The inode of the initial network namespace on Linux 6.x (`PROC_NET_INIT_INO`, 0xEFFFFFF9);
 * earlier kernels numbered it dynamically, like every other namespace.
 */
export const INITIAL_NETNS_INODE = 0xeffffff9;
/** The inode of the initial PID namespace (`PROC_PID_INIT_INO`), fixed since Linux 3.8. */
export const INITIAL_PIDNS_INODE = 0xeffffffc;

/**
 * The Local ID made from `seed` (the identity file's bytes): lsoed's MD5, truncated to
 * {@linkcode LOCAL_ID_LEN} bytes, with `netnsInode` hashed in after the seed unless null (the
 * initial namespace).
 *
 * @example
 * ```ts
 * import { localIdFromSeed } from "./local_id.ts";
 *
 * const seed = new TextEncoder().encode("4c4c4544-0000-1010-8000-b1c04f4e4e31\n");
 * localIdFromSeed(seed, null).length; // 10, as lsoed computes it
 * localIdFromSeed(seed, 4026532000); // another ID for a speaker in that namespace
 * ```
 */
export function localIdFromSeed(seed: Uint8Array, netnsInode: number | null): Uint8Array {
  const hash = createHash("md5").update(seed);
  if (netnsInode !== null) hash.update(`netns:${netnsInode}`);
  return new Uint8Array(hash.digest()).slice(0, LOCAL_ID_LEN);
}

/** What {@linkcode defaultLocalId} reads, injectable for tests. */
export interface LocalIdSources {
  /** A small file's bytes, or null when it is missing, unreadable or empty. */
  readFile(path: string): Uint8Array | null;
  /** The inode of a `/proc/PID/ns/...` link's namespace, or null when it cannot be read. */
  namespaceInode(path: string): number | null;
}

/** Identity files are tens of bytes; reading stops here. */
const MAX_IDENTITY_BYTES = 4096;

/** The machine's files, read with `--allow-read` (the product UUID is root's alone). */
export const HOST_SOURCES: LocalIdSources = {
  readFile(path) {
    try {
      using file = Deno.openSync(path, { read: true });
      const buffer = new Uint8Array(MAX_IDENTITY_BYTES);
      const n = file.readSync(buffer);
      return n === null || n === 0 ? null : buffer.slice(0, n);
    } catch {
      return null;
    }
  },
  namespaceInode(path) {
    try {
      return Deno.statSync(path).ino;
    } catch {
      return null;
    }
  },
};

/**
 * The inode to hash in for the namespace we run in, or null in the initial one. Initial: the
 * fixed inode of Linux 6.x, or, on earlier kernels, the namespace of PID 1 when that PID 1 is
 * the host's (our PID namespace is the initial one); anything unknown counts as not initial,
 * which keeps IDs apart rather than alike.
 */
export function namespaceToHash(sources: LocalIdSources): number | null {
  const own = sources.namespaceInode("/proc/thread-self/ns/net");
  if (own === null) return null;
  if (own === INITIAL_NETNS_INODE) return null;
  const hostPids = sources.namespaceInode("/proc/self/ns/pid") === INITIAL_PIDNS_INODE;
  if (hostPids && sources.namespaceInode("/proc/1/ns/net") === own) return null;
  return own;
}

/** A default Local ID and where it came from (for the log). */
export interface DefaultLocalId {
  /** {@linkcode LOCAL_ID_LEN} bytes. */
  localId: Uint8Array;
  /** The file hashed. */
  source: string;
  /** The namespace inode hashed in, or null (the initial namespace). */
  netnsInode: number | null;
}

/**
 * The default Local ID (see the module doc). Throws a {@linkcode NetkitError} when neither
 * identity file can be read, saying to give `--local-id`.
 */
export function defaultLocalId(sources: LocalIdSources = HOST_SOURCES): DefaultLocalId {
  for (const path of [PRODUCT_UUID_PATH, MACHINE_ID_PATH]) {
    const seed = sources.readFile(path);
    if (seed === null) continue;
    const netnsInode = namespaceToHash(sources);
    return { localId: localIdFromSeed(seed, netnsInode), source: path, netnsInode };
  }
  throw new NetkitError(
    `Cannot make a Local ID: neither ${PRODUCT_UUID_PATH} nor ${MACHINE_ID_PATH} can be read; give one with --local-id HEX (10 bytes) or local-id in the file`,
  );
}
