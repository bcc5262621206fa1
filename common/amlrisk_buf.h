/* amlrisk_buf.h - a growable byte buffer with a sticky failure flag: appends
 * never fail loudly, the owner checks `failed` once at the end. Used where text
 * is built piece by piece (COPY rows in the core, JSON answers in the gateway).
 * Not thread-safe: one owner at a time. */
#ifndef AMLRISK_BUF_H
#define AMLRISK_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct amlrisk_buf {
	char *data; /* owned; NULL until the first byte */
	size_t len, cap;
	size_t max; /* bytes at most (0: no limit of its own) */
	int failed; /* an allocation failed or max was passed; the content is incomplete */
} amlrisk_buf;

/* An empty buffer holding at most max bytes (0: as much as memory allows). */
void amlrisk_buf_init(amlrisk_buf *b, size_t max);
/* Frees the data; the buffer is empty again, with the same max. NULL is fine. */
void amlrisk_buf_free(amlrisk_buf *b);
/* Room for n more bytes; 0, or -1 with b->failed set. */
int amlrisk_buf_reserve(amlrisk_buf *b, size_t n);
/* Appends n bytes of s / v in decimal; on failure only sets b->failed. */
void amlrisk_buf_add(amlrisk_buf *b, const void *s, size_t n);
void amlrisk_buf_add_u64(amlrisk_buf *b, uint64_t v);

#endif
