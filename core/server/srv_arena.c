/* srv_arena.c - the response arena: 32 KiB blocks (or one block per large
 * allocation) chained and freed together. Tuned for a few hundred small pieces. */
#include "srv_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE  ((size_t)32 << 10)
#define CAP_DEFAULT ((size_t)64 << 20)
#define ALIGN_TO    (alignof(max_align_t))

struct srv_arena_block {
	struct srv_arena_block *next;
	size_t size, off;
	alignas(max_align_t) unsigned char data[];
};

void
srv_arena_init(srv_arena *a, size_t cap)
{
	a->head = NULL;
	a->used = 0;
	a->cap = cap != 0 ? cap : CAP_DEFAULT;
	a->failed = 0;
}

void *
srv_arena_alloc(srv_arena *a, size_t n)
{
	struct srv_arena_block *b = a->head;
	size_t need = (n + ALIGN_TO - 1) & ~(ALIGN_TO - 1);
	void *p;

	if (a->failed || need < n)
		goto fail;
	if (need == 0)
		need = ALIGN_TO;
	if (b == NULL || b->size - b->off < need) {
		size_t size = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
		if (a->used + size > a->cap || (b = malloc(sizeof(*b) + size)) == NULL)
			goto fail;
		a->used += size;
		b->size = size;
		b->off = 0;
		if (size == need && a->head != NULL) {
			/* a large piece: keep the current block for the small ones */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = b->data + b->off;
	b->off += need;
	memset(p, 0, n);
	return p;
fail:
	a->failed = 1;
	return NULL;
}

void *
srv_arena_calloc(srv_arena *a, size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz) {
		a->failed = 1;
		return NULL;
	}
	return srv_arena_alloc(a, n * sz);
}

char *
srv_arena_strndup(srv_arena *a, const char *s, size_t len)
{
	char *p = srv_arena_alloc(a, len + 1);

	if (p != NULL && len > 0)
		memcpy(p, s, len);
	return p;
}

char *
srv_arena_strdup(srv_arena *a, const char *s)
{
	return srv_arena_strndup(a, s, strlen(s));
}

int
srv_arena_failed(const srv_arena *a)
{
	return a->failed;
}

void
srv_arena_free(srv_arena *a)
{
	struct srv_arena_block *b = a->head, *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	srv_arena_init(a, a->cap);
}
