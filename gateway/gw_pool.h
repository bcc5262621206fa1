/* gw_pool.h - how many libmicrohttpd threads to run for a connection limit.
 * MHD_epoll() (0.9.75, unchanged since) drains epoll in rounds of 128 events
 * and, after a full round, waits again with the whole timeout before serving
 * the connections that round found ready: a thread with 128 ready sockets
 * (connections, the listen socket, the inter-thread channel) can stall for the
 * connection timeout. MHD gives each pool thread max_connections / threads
 * connections, so the pool must be large enough that no thread reaches 126.
 * Header-only: the gateway and the benchmark's fixed-body baseline both size
 * their pools with it. */
#ifndef GW_POOL_H
#define GW_POOL_H

#define GW_CONNS_PER_THREAD_MAX 125

/* threads, raised when that would give a thread more than
 * GW_CONNS_PER_THREAD_MAX of max_connections. */
static inline unsigned int
gw_pool_threads(unsigned int threads, unsigned int max_connections)
{
	unsigned int need =
	        (max_connections + GW_CONNS_PER_THREAD_MAX - 1) / GW_CONNS_PER_THREAD_MAX;

	return threads >= need ? threads : need;
}

#endif
