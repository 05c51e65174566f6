import assert from "node:assert/strict";
import { BufferArena, hugepageStatus } from "../../lib/net/buffer_arena.ts";
import { needs } from "../skip.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

function setHugepages(n: number): number {
  Deno.writeTextFileSync(NR_HUGEPAGES, `${n}\n`);
  return Number(Deno.readTextFileSync(NR_HUGEPAGES).trim());
}

/** The smaps block of the mapping starting at `address`, or null when it is not mapped. */
function smapsEntry(address: bigint): string | null {
  const start = address.toString(16);
  const blocks = Deno.readTextFileSync("/proc/self/smaps").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  return blocks.find((block) => block.startsWith(`${start}-`)) ?? null;
}

Deno.test({
  name: "BufferArena falls back to normal pages when no huge pages are reserved",
  ignore: needs("root", "hugetlb"),
  fn() {
    const saved = Deno.readTextFileSync(NR_HUGEPAGES).trim();
    try {
      setHugepages(0);
      using arena = BufferArena.map(3 << 20);
      assert.notEqual(arena.backing, "hugetlb");
      assert.equal(arena.size, 4 << 20, "rounded up to whole 2 MiB pages");
      assert.equal(arena.address % (2n << 20n), 0n, "2 MiB aligned so THP can back it");
      const piece = arena.allocate(100);
      piece.fill(0xab);
      assert.equal(piece.byteOffset % 64, 0);
      assert.ok(smapsEntry(arena.address));
      arena.close();
      assert.equal(smapsEntry(arena.address), null, "the mapping must be gone after close");
      assert.equal(piece.length, 0, "views are detached, not dangling");
    } finally {
      Deno.writeTextFileSync(NR_HUGEPAGES, `${saved}\n`);
    }
  },
});

Deno.test({
  name: "BufferArena uses reserved 2 MiB huge pages and gives them back on close",
  ignore: needs("root", "hugetlb"),
  fn() {
    const saved = Deno.readTextFileSync(NR_HUGEPAGES).trim();
    try {
      // The probe says huge pages can be reserved; a kernel that then will not is a failure.
      assert.ok(setHugepages(4) >= 2, "the kernel would not reserve 2 huge pages");
      const before = hugepageStatus().free;
      const arena = BufferArena.map(4 << 20);
      assert.equal(arena.backing, "hugetlb");
      const bytes = arena.allocate(arena.size, 1);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1; // touch every page
      assert.match(smapsEntry(arena.address) ?? "", /KernelPageSize:\s+2048 kB/);
      assert.equal(hugepageStatus().free, before - 2);
      arena.close();
      assert.equal(smapsEntry(arena.address), null);
      assert.equal(hugepageStatus().free, before);
    } finally {
      Deno.writeTextFileSync(NR_HUGEPAGES, `${saved}\n`);
    }
  },
});
