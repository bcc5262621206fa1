/* srv_rpcwatch.c - see srv_rpcwatch.h. Called from the main thread between
 * signals, once a second: a stat(2) and a few atomic loads. */
#include "srv_rpcwatch.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "amlrisk_log.h"

/* The file's identity: a change of any part means a new secret to read. */
static void
file_id(const char *path, int64_t *mtime_ns, off_t *size, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		*mtime_ns = -1;
		*size = -1;
		*ino = 0;
		return;
	}
	*mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	*size = st.st_size;
	*ino = st.st_ino;
}

void
srv_rpcwatch_init(srv_rpcwatch *w, rpc_server *srv, const rpc_secret *sec)
{
	memset(w, 0, sizeof(*w));
	w->srv = srv;
	rpc_server_stats(srv, &w->last);
	memcpy(w->file, sec->file, sizeof(w->file));
	if (w->file[0] != '\0')
		file_id(w->file, &w->mtime_ns, &w->size, &w->ino);
}

static void
secret_reload(srv_rpcwatch *w)
{
	rpc_secret sec;
	char why[256];
	int64_t mtime;
	off_t size;
	ino_t ino;
	int rv;

	file_id(w->file, &mtime, &size, &ino);
	if (mtime == w->mtime_ns && size == w->size && ino == w->ino)
		return;
	w->mtime_ns = mtime;
	w->size = size;
	w->ino = ino;
	if ((rv = rpc_secret_from_file(&sec, w->file, why, sizeof(why))) == 0 &&
	    (rv = rpc_server_set_secret(w->srv, sec.current, sec.previous)) != 0)
		snprintf(why, sizeof(why), "not accepted by the RPC server");
	if (rv != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "rpc.secret_reload_failed",
		            "file=%s error=\"%s\" kept=the secrets in use", w->file, why);
	} else {
		amlrisk_log(AMLRISK_LOG_INFO, "core", "rpc.secret_reloaded", "file=%s previous=%s",
		            w->file, sec.previous[0] != '\0' ? "accepted" : "none");
	}
	memset(&sec, 0, sizeof(sec));
}

void
srv_rpcwatch_tick(srv_rpcwatch *w)
{
	rpc_server_stats_t st;

	rpc_server_stats(w->srv, &st);
	if (st.unauthenticated > w->last.unauthenticated)
		amlrisk_log(AMLRISK_LOG_WARN, "core", "rpc.unauthenticated",
		            "calls=%llu total=%llu hint=\"a client without the RPC secret\"",
		            st.unauthenticated - w->last.unauthenticated, st.unauthenticated);
	if (st.rejected > w->last.rejected)
		amlrisk_log(
		        AMLRISK_LOG_WARN, "core", "rpc.rejected",
		        "messages=%llu total=%llu hint=\"malformed or over the decoder's bounds\"",
		        st.rejected - w->last.rejected, st.rejected);
	w->last = st;
	if (w->file[0] != '\0')
		secret_reload(w);
}
