/* core_mem.c - allocation of the engine's big arrays (hash table, arena, CSR,
 * traversal state: tens to hundreds of MiB, randomly accessed): 2 MiB-aligned
 * anonymous mappings with transparent huge pages, grown by mremap without a copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define HEAD      64                /* header before the caller's bytes; keeps 64-byte alignment */
#define MAP_MIN   ((size_t)8 << 20) /* smaller mappings are not rounded to huge pages */
#define HEAP_MAX  ((size_t)256 << 10) /* smaller arrays come from malloc */

/* Kept in the HEAD bytes before the pointer handed out. */
typedef struct mem_head {
	size_t map_len; /* length of the mapping, or 0 for malloc */
	void *base;     /* what to unmap or free */
	size_t size;    /* the caller's size */
} mem_head;

static mem_head *
head_of(void *p)
{
	return (mem_head *)((char *)p - HEAD);
}

/* A 2 MiB-aligned, zeroed mapping of len bytes, asking for huge pages from
 * MAP_MIN up. */
static void *
map_aligned(size_t len)
{
	char *r = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	char *a = (char *)(((uintptr_t)r + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (a > r)
		munmap(r, (size_t)(a - r));
	size_t tail = (size_t)(r + len + HUGE_PAGE - (a + len));
	if (tail > 0)
		munmap(a + len, tail);
	if (len >= MAP_MIN) /* smaller ones keep 4K pages: only what is touched */
		(void)madvise(a, len, MADV_HUGEPAGE);
	return a;
}

/* Mappings are whole huge pages: a partial one at the end would fault in 4K
 * pages, and keep them when the array later grows. */
static size_t
map_len_for(size_t size)
{
	size_t len = (size + HEAD + 4095) & ~(size_t)4095;
	return len < MAP_MIN ? len : (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *
core_mem_alloc(size_t size)
{
	size_t len = map_len_for(size);
	/* mid-sized arrays are mapped too: freed, they leave no resident holes
	 * in a malloc arena (the graph builder's helper thread has its own) */
	if (size < HEAP_MAX) {
		char *b = calloc(1, size + 2 * HEAD);
		if (b == NULL)
			return NULL;
		char *p = (char *)(((uintptr_t)b + 2 * HEAD - 1) & ~(uintptr_t)(HEAD - 1));
		*head_of(p) = (mem_head){0, b, size};
		return p;
	}
	char *a = map_aligned(len);
	if (a == NULL)
		return NULL;
	*(mem_head *)a = (mem_head){len, a, size};
	return a + HEAD;
}

void *
core_mem_realloc(void *p, size_t size)
{
	if (p == NULL)
		return core_mem_alloc(size);
	mem_head h = *head_of(p);
	size_t len = map_len_for(size);
	if (h.map_len == 0) {
		/* from malloc: move into a fresh array (small, or crossing HEAP_MAX) */
		char *np = core_mem_alloc(size);
		if (np == NULL)
			return NULL;
		memcpy(np, p, h.size < size ? h.size : size);
		free(h.base);
		return np;
	}
	if (len <= h.map_len) {
		if (len < h.map_len && mremap(h.base, h.map_len, len, 0) != MAP_FAILED)
			head_of(p)->map_len = len;
		head_of(p)->size = size;
		return p;
	}
	char *moved;
	if (len < MAP_MIN) {
		/* not huge-page sized: anywhere will do (and valgrind follows
		 * this move, while it loses track of a growing MREMAP_FIXED one) */
		if ((moved = mremap(h.base, h.map_len, len, MREMAP_MAYMOVE)) == MAP_FAILED)
			return NULL;
		*(mem_head *)moved = (mem_head){len, moved, size};
		return moved + HEAD;
	}
	/* move the pages to an aligned place big enough: no copy, huge pages kept */
	char *dest = map_aligned(len);
	if (dest == NULL)
		return NULL;
	moved = mremap(h.base, h.map_len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
	if (moved == MAP_FAILED) {
		munmap(dest, len);
		return NULL;
	}
	(void)madvise(moved, len, MADV_HUGEPAGE);
	*(mem_head *)moved = (mem_head){len, moved, size};
	return moved + HEAD;
}

void
core_mem_free(void *p)
{
	if (p == NULL)
		return;
	mem_head h = *head_of(p);
	if (h.map_len == 0)
		free(h.base);
	else
		munmap(h.base, h.map_len);
}

int
core_mem_ensure(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return AMLRISK_OK;
	size_t nc = *cap * 2;
	if (nc < need)
		nc = need;
	void *np = core_mem_realloc(*p, nc * elem);
	if (np == NULL)
		return AMLRISK_ENOMEM;
	*p = np;
	*cap = nc;
	return AMLRISK_OK;
}
