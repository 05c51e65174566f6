/**
 * Packet buffer arenas: one mapping on 2 MiB huge pages when the kernel has them reserved,
 * otherwise normal pages advised for transparent huge pages. The memory is shared with C
 * without copies (`Deno.UnsafePointerView.getArrayBuffer`). Requires `--allow-ffi`.
 *
 * @module
 */

import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";

/** What backs an arena: reserved huge pages, transparent huge pages (advised), or plain pages. */
export type ArenaBacking = "hugetlb" | "thp" | "normal";

const BACKINGS: Record<number, ArenaBacking> = { 1: "hugetlb", 2: "thp", 3: "normal" };

/**
 * A mapped region handed out in aligned pieces. Closing unmaps it and detaches every view
 * handed out, so a stale view reads as empty instead of touching unmapped memory.
 */
export class BufferArena implements Disposable {
  #buffer: ArrayBuffer;
  #address: bigint;
  #used = 0;
  /** Bytes mapped (the request rounded up to 2 MiB). */
  readonly size: number;
  /** What backs the memory. */
  readonly backing: ArenaBacking;

  private constructor(address: bigint, size: number, backing: ArenaBacking) {
    this.#address = address;
    this.size = size;
    this.backing = backing;
    const pointer = Deno.UnsafePointer.create(address);
    if (pointer === null) throw new Error("mmap returned a null address");
    this.#buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, size);
  }

  /** Maps at least `bytes` bytes. */
  static map(bytes: number): BufferArena {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new RangeError(`Arena size must be a positive integer, got ${bytes}`);
    }
    const out = new Uint8Array(24);
    unwrap(nk.nk_hugebuf_map(BigInt(bytes), out), `map a ${bytes}-byte buffer arena`);
    const view = new DataView(out.buffer);
    const backing = BACKINGS[view.getUint32(16, true)] ?? "normal";
    return new BufferArena(view.getBigUint64(0, true), Number(view.getBigUint64(8, true)), backing);
  }

  /** Start address of the mapping (for tests that inspect `/proc/self/smaps`). */
  get address(): bigint {
    return this.#address;
  }

  /** Bytes not yet handed out. */
  get free(): number {
    return this.#address === 0n ? 0 : this.size - this.#used;
  }

  /** Hands out `bytes` bytes aligned to `align` (a power of two, default 64: a cache line). */
  allocate(bytes: number, align = 64): Uint8Array {
    if (this.#address === 0n) throw new Error("BufferArena is closed");
    const start = (this.#used + align - 1) & ~(align - 1);
    if (bytes < 0 || start + bytes > this.size) {
      throw new RangeError(
        `Buffer arena has ${this.size - start} bytes left, ${bytes} requested`,
      );
    }
    this.#used = start + bytes;
    return new Uint8Array(this.#buffer, start, bytes);
  }

  /** Unmaps the arena; safe to repeat. */
  close(): void {
    if (this.#address === 0n) return;
    // transfer() detaches the buffer, and with it every view handed out, before the unmap.
    this.#buffer.transfer(0);
    unwrap(nk.nk_hugebuf_unmap(this.#address, BigInt(this.size)), "unmap buffer arena");
    this.#address = 0n;
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The kernel's huge page pool and transparent huge page mode. */
export interface HugepageStatus {
  /** Huge pages reserved (`vm.nr_hugepages`). */
  total: number;
  /** Reserved pages not in use. */
  free: number;
  /** Default huge page size in KiB. */
  sizeKiB: number;
  /** Transparent huge page mode: "always", "madvise", "never" or "unknown". */
  thp: string;
}

/** Reads `/proc/meminfo` and the THP mode. Requires `--allow-read=/proc,/sys`. */
export function hugepageStatus(): HugepageStatus {
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(meminfo)?.[1] ?? 0);
  let thp = "unknown";
  try {
    const text = Deno.readTextFileSync("/sys/kernel/mm/transparent_hugepage/enabled");
    thp = /\[(\w+)\]/.exec(text)?.[1] ?? "unknown";
  } catch {
    // Kernels without THP have no such file.
  }
  return {
    total: field("HugePages_Total"),
    free: field("HugePages_Free"),
    sizeKiB: field("Hugepagesize"),
    thp,
  };
}
