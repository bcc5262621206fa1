/* rpc_proxy.h - a TCP forwarder for the RPC tests: clients dial the proxy, it
 * dials the target, and the test can cut every connection at once (a network
 * drop with both ends still running). One thread; a handful of connections. */
#ifndef RPC_PROXY_H
#define RPC_PROXY_H

typedef struct tproxy tproxy;

/* Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:target_port.
 * Asserts it could start. */
tproxy *tproxy_start(int target_port);
/* The port clients dial. */
int tproxy_port(const tproxy *p);
/* Closes every connection open now (both sides); new ones are forwarded. */
void tproxy_cut(tproxy *p);
/* Connections forwarded since the start. */
int tproxy_accepted(const tproxy *p);
/* Stops the thread and closes everything. NULL is fine. */
void tproxy_stop(tproxy *p);

#endif
