/* srv_alertset.h - the disarmed wallets of one alert rule (srv_alertgen.c):
 * a set keyed by wallet bytes, each with the graph id it has in the live
 * view's current graph chain and the score it had when its state last
 * changed. Dense entries (iterated every update) plus an open-addressing
 * index; growth is reserved ahead so that adding after a COMMIT cannot fail. */
#ifndef SRV_ALERTSET_H
#define SRV_ALERTSET_H

#include <stddef.h>
#include <stdint.h>

#define SRV_ALERTSET_NO_ID UINT32_MAX /* the wallet is not in the current graph */

typedef struct srv_alertset_entry {
	char *wallet; /* owned, NUL-terminated */
	size_t len;
	uint32_t id;  /* in the current graph chain, or SRV_ALERTSET_NO_ID */
	double score; /* when its state last changed */
} srv_alertset_entry;

typedef struct srv_alertset srv_alertset;

/* An empty set. AMLRISK_OK and *out (srv_alertset_destroy), AMLRISK_ENOMEM. */
int srv_alertset_create(srv_alertset **out);
/* Frees every entry's wallet and the set; NULL is a no-op. */
void srv_alertset_destroy(srv_alertset *s);
/* Removes every entry (capacity kept). */
void srv_alertset_clear(srv_alertset *s);

size_t srv_alertset_count(const srv_alertset *s);
/* Entry i (< count), borrowed; indexes change on removal. */
srv_alertset_entry *srv_alertset_at(srv_alertset *s, size_t i);
/* The index of wallet's entry, or -1. */
long srv_alertset_find(const srv_alertset *s, const char *wallet, size_t len);
/* Room for n more entries: the next n srv_alertset_add() calls do not
 * allocate. AMLRISK_OK or AMLRISK_ENOMEM (the set unchanged). */
int srv_alertset_reserve(srv_alertset *s, size_t n);
/* Adds wallet (taken over: malloc'ed, NUL-terminated, len bytes; not in the
 * set yet) after a srv_alertset_reserve() that left room. Cannot fail. */
void srv_alertset_add(srv_alertset *s, char *wallet, size_t len, uint32_t id, double score);
/* Removes entry i (frees its wallet); the last entry moves to i. */
void srv_alertset_remove(srv_alertset *s, size_t i);

#endif
