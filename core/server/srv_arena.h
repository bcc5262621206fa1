/* srv_arena.h - a bump allocator for building one RPC response: every message,
 * array and string of the answer comes from it and goes in one srv_arena_free().
 * Responses are small (<= 4 MiB), built once and dropped right after sending. */
#ifndef SRV_ARENA_H
#define SRV_ARENA_H

#include <stddef.h>

typedef struct srv_arena srv_arena;

/* An empty arena that refuses to grow past cap bytes (0 = 64 MiB). */
void srv_arena_init(srv_arena *a, size_t cap);
/* Zeroed memory for n bytes, aligned for any type; NULL when out of memory or
 * past the cap (then every later call fails too, so callers may check once). */
void *srv_arena_alloc(srv_arena *a, size_t n);
/* An array of n zeroed elements of size sz; NULL on overflow or as above. */
void *srv_arena_calloc(srv_arena *a, size_t n, size_t sz);
/* A NUL-terminated copy of len bytes of s. */
char *srv_arena_strndup(srv_arena *a, const char *s, size_t len);
char *srv_arena_strdup(srv_arena *a, const char *s);
/* 1 once an allocation has failed. */
int srv_arena_failed(const srv_arena *a);
/* Frees every block; the arena can be used again. */
void srv_arena_free(srv_arena *a);

/* Exposed so arenas live on the stack; fields are private. */
struct srv_arena {
	struct srv_arena_block *head;
	size_t used, cap;
	int failed;
};

#endif
