/* Packet buffer arenas on 2 MiB huge pages, with a normal-page fallback. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "netkit.h"

#define HUGE_2M (2UL << 20)

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

_Static_assert(sizeof(struct nk_hugebuf) == 24, "nk_hugebuf is 24 bytes");
_Static_assert(offsetof(struct nk_hugebuf, backing) == 16, "nk_hugebuf.backing at 16");

/* A normal mapping aligned to 2 MiB, so transparent huge pages can back it. */
static void *map_aligned(size_t len)
{
	size_t span = len + HUGE_2M;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *start, *end;

	if (raw == MAP_FAILED)
		return MAP_FAILED;
	start = (uint8_t *)(((uintptr_t)raw + HUGE_2M - 1) & ~(HUGE_2M - 1));
	end = start + len;
	if (start > raw)
		munmap(raw, (size_t)(start - raw));
	if (raw + span > end)
		munmap(end, (size_t)(raw + span - end));
	return start;
}

int nk_hugebuf_map(uint64_t size, struct nk_hugebuf *out)
{
	size_t len;
	void *p;

	if (size == 0 || size > (1ULL << 40))
		return -EINVAL;
	len = (size + HUGE_2M - 1) & ~(HUGE_2M - 1);
	out->len = len;
	out->reserved = 0;
	/* Private hugetlb mappings reserve their pages here, so ENOMEM now means none are free. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
		 -1, 0);
	if (p != MAP_FAILED) {
		out->addr = (uintptr_t)p;
		out->backing = NK_BACKING_HUGETLB;
		return 0;
	}
	p = map_aligned(len);
	if (p == MAP_FAILED)
		return -errno;
	out->addr = (uintptr_t)p;
	out->backing = madvise(p, len, MADV_HUGEPAGE) == 0 ? NK_BACKING_THP : NK_BACKING_NORMAL;
	return 0;
}

int nk_hugebuf_unmap(uint64_t addr, uint64_t len)
{
	if (munmap((void *)(uintptr_t)addr, (size_t)len) < 0)
		return -errno;
	return 0;
}
