/* th_proxy.h - a TCP relay for fault tests: it forwards loopback connections
 * to a real server and can be frozen, so that every byte stops moving in both
 * directions while the connections stay open: a database or broker that has
 * gone silent behind a network partition, as seen by the process under test. */
#ifndef TH_PROXY_H
#define TH_PROXY_H

#include <stdbool.h>

typedef struct th_proxy th_proxy;

/* Listens on 127.0.0.1 (a free port) and relays each connection to
 * host:port, on a thread of its own. Fails the test on error; caller ends it
 * with th_proxy_stop(). */
th_proxy *th_proxy_start(const char *host, int port);
/* The port it listens on. */
int th_proxy_port(const th_proxy *p);
/* Frozen: no byte is read or written on any connection and new connections
 * wait unanswered in the listen backlog; thawed: relaying resumes. */
void th_proxy_freeze(th_proxy *p, bool frozen);
/* Closes every connection the relay holds (each peer sees a reset). */
void th_proxy_drop_all(th_proxy *p);
/* Stops the thread and closes everything. NULL is a no-op. */
void th_proxy_stop(th_proxy *p);

#endif
