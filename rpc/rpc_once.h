/* rpc_once.h - the server's memory of recent write calls (calls that carry a
 * call_id): each id runs once; a repeat waits for the first execution or gets
 * its kept answer. Internal to rpc_server.c; waiters are its opaque calls. */
#ifndef AMLRISK_RPC_ONCE_H
#define AMLRISK_RPC_ONCE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define RPC_ONCE_WAITERS    8                   /* repeats waiting on one running call */
#define RPC_ONCE_ANSWER_MAX ((size_t)256 << 10) /* larger answers are not kept whole */

typedef struct rpc_once rpc_once;
typedef struct rpc_once_entry rpc_once_entry;

/* A kept answer, copied out for one repeat; free with rpc_once_answer_free(). */
typedef struct rpc_once_answer {
	int grpc;
	char *message;
	ProtobufCBinaryData payload;
} rpc_once_answer;

typedef enum rpc_once_verdict {
	RPC_ONCE_RUN,      /* first time: run it, then rpc_once_finish(*entry) */
	RPC_ONCE_DONE,     /* ran before: *answer holds its answer */
	RPC_ONCE_WAIT,     /* running: waiter will be handed back by rpc_once_finish */
	RPC_ONCE_FULL,     /* no room: every kept id runs, or too many wait */
	RPC_ONCE_MISMATCH, /* the id was used by another method */
	RPC_ONCE_NOMEM,
} rpc_once_verdict;

/* A cache of at most max ids (oldest finished ones make room). *out written
 * on success; AMLRISK_ENOMEM. */
int rpc_once_create(rpc_once **out, int max);
/* Frees o and the answers it keeps. NULL is fine. No call may be running. */
void rpc_once_destroy(rpc_once *o);

/* Looks up id (len bytes) for a call of method (compared by address). */
rpc_once_verdict rpc_once_begin(rpc_once *o, const uint8_t *id, size_t len, const void *method,
                                void *waiter, rpc_once_entry **entry, rpc_once_answer *answer);

/* Keeps the answer of entry's first execution (message and payload copied)
 * and hands back the waiters (at most RPC_ONCE_WAITERS into waiters; *n set),
 * which the caller answers with the same. */
void rpc_once_finish(rpc_once *o, rpc_once_entry *entry, int grpc, const char *message,
                     const ProtobufCBinaryData *payload, void **waiters, size_t *n);

void rpc_once_answer_free(rpc_once_answer *a);

#endif
