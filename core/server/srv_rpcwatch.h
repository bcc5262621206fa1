/* srv_rpcwatch.h - the core's once-a-second look at its RPC server: logs the
 * calls it refused since the last look (one line per kind and second at most,
 * so a flood cannot flood the log) and reloads RPC_SECRET_FILE when it changes. */
#ifndef SRV_RPCWATCH_H
#define SRV_RPCWATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "rpc.h"

typedef struct srv_rpcwatch {
	rpc_server *srv; /* borrowed */
	rpc_server_stats_t last;
	char file[512]; /* RPC_SECRET_FILE, "" = none */
	int64_t mtime_ns;
	off_t size;
	ino_t ino;
} srv_rpcwatch;

/* Starts watching srv; sec says where its secret came from (borrowed). */
void srv_rpcwatch_init(srv_rpcwatch *w, rpc_server *srv, const rpc_secret *sec);

/* One look: logs what grew, reloads the secret file if it changed. */
void srv_rpcwatch_tick(srv_rpcwatch *w);

#endif
