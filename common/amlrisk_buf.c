/* amlrisk_buf.c - the growable byte buffer (see amlrisk_buf.h): capacity
 * doubles from 512 bytes, bounded by the owner's max and by SIZE_MAX / 2. */
#include <stdlib.h>
#include <string.h>

#include "amlrisk_buf.h"

#define BUF_INITIAL 512

void
amlrisk_buf_init(amlrisk_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
amlrisk_buf_free(amlrisk_buf *b)
{
	if (b != NULL) {
		free(b->data);
		amlrisk_buf_init(b, b->max);
	}
}

int
amlrisk_buf_reserve(amlrisk_buf *b, size_t n)
{
	size_t cap = b->cap != 0 ? b->cap : BUF_INITIAL;
	char *p;

	if (b->failed) {
		return -1;
	}
	if (b->cap - b->len >= n) {
		return 0;
	}
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			goto fail;
		}
		cap *= 2;
	}
	if (b->max != 0 && cap > b->max) {
		if (b->len + n > b->max) {
			goto fail;
		}
		cap = b->max;
	}
	if ((p = realloc(b->data, cap)) == NULL) {
		goto fail;
	}
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void
amlrisk_buf_add(amlrisk_buf *b, const void *s, size_t n)
{
	if (n != 0 && amlrisk_buf_reserve(b, n) == 0) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
	}
}

void
amlrisk_buf_add_u64(amlrisk_buf *b, uint64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	amlrisk_buf_add(b, tmp + n, sizeof(tmp) - n);
}
