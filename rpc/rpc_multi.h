/* rpc_multi.h - one service served by several servers (amlrisk-core
 * instances on one database) as one client: a client per URL of a
 * comma-separated list; reads spread round robin and move to the next server
 * on UNAVAILABLE within their deadline; writes go to the server that last
 * accepted one and move on when a server answers "not the writer". */
#ifndef AMLRISK_RPC_MULTI_H
#define AMLRISK_RPC_MULTI_H

#include <stddef.h>

#include "rpc.h"

#define RPC_MULTI_MAX 16 /* URLs in a list */
/* how a server that is not the writer begins its FAILED_PRECONDITION message */
#define RPC_NOT_WRITER "not the writer"
/* how long a write keeps trying the servers while none accepts it (a writer
 * being elected), within its own deadline */
#define RPC_MULTI_WRITER_WAIT_MS 10000
/* with several servers, a request waits at most this long to be sent to one
 * (rpc_client_opts.send_timeout_ms) before the next one is tried */
#define RPC_MULTI_SEND_MS 1000

typedef struct rpc_multi rpc_multi;

/* Checks list: 1..RPC_MULTI_MAX comma-separated URLs (ipc://PATH,
 * inproc://NAME, tcp://HOST:PORT, tls+tcp://HOST:PORT; no empty element, no
 * repeat). AMLRISK_OK, or AMLRISK_EINVAL with the reason in why (naming the
 * element). */
int rpc_multi_check(const char *list, char *why, size_t whylen);

/* rpc_multi_check(), then a client per URL with opts (as rpc_client_create).
 * *out only on success; destroy with rpc_multi_destroy(). AMLRISK_EINVAL
 * (why set), AMLRISK_EUNIMPL, AMLRISK_ENOMEM. */
int rpc_multi_create(rpc_multi **out, const char *list, const rpc_client_opts *opts, char *why,
                     size_t whylen);
/* Frees m and its clients. NULL is fine. */
void rpc_multi_destroy(rpc_multi *m);

int rpc_multi_count(const rpc_multi *m);
const char *rpc_multi_url(const rpc_multi *m, int i);
rpc_client *rpc_multi_client(rpc_multi *m, int i);
/* The counters of every client added up. */
void rpc_multi_stats(const rpc_multi *m, rpc_client_stats_t *out);

/* A read (safe to repeat): on the next server round robin (connected ones
 * first), and on UNAVAILABLE (none connected, connection lost) on the next
 * one not tried, within timeout_ms in all (<= 0: the clients' default).
 * coalesced: through rpc_client_call_coalesced(). Results as rpc_client_call. */
int rpc_multi_read(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
                   const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms,
                   int coalesced, char *msg, size_t msglen);

/* rpc_multi_read() through rpc_client_call_async(): done runs once with the
 * outcome of the last server tried. With several servers the request is kept
 * packed (a heap copy) until done. */
void rpc_multi_read_async(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
                          const ProtobufCMessage *req, int timeout_ms, rpc_done_fn done, void *arg);

/* A write (o as rpc_client_call_opts; NULL = defaults): the last server that
 * accepted one first, then each other; a server answering FAILED_PRECONDITION
 * "not the writer..." or UNAVAILABLE is passed over, and rounds are repeated
 * (250 ms apart) for up to RPC_MULTI_WRITER_WAIT_MS while the deadline
 * allows. A write that lost its connection while running on a writer that
 * died is sent to the new writer: the interrupted run is marked failed there. */
int rpc_multi_write(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
                    const ProtobufCMessage *req, ProtobufCMessage **resp, const rpc_call_opts *o,
                    char *msg, size_t msglen);

#endif
