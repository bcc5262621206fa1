/* cons_db.c - the consumer's PostgreSQL side: one connection, a session-local
 * staging table, and one transaction per batch. Any failure rolls the whole
 * batch back and, when the connection broke, drops it so the next call reconnects. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "cons.h"

struct cons_db {
	char *url;      /* owned */
	PGconn *conn;   /* NULL while disconnected */
	int dups_seen;  /* the last batch had duplicates: a replay, go straight to ON CONFLICT */
};

/* Per session: bounded waits (a batch that cannot get the append lock or
 * finish in time fails and is retried, while the loop keeps serving Kafka),
 * and the staging table: no indexes, not WAL-logged, emptied at every commit
 * (temporary tables belong to the session). */
static const char *SQL_SETUP =
    "SET lock_timeout = '30s';"
    "SET statement_timeout = '120s';"
    "SET temp_buffers = '64MB';"
    "CREATE TEMP TABLE IF NOT EXISTS cons_stage ("
    " tx_id text, sender text, receiver text, amount numeric(38, 18),"
    " ts timestamptz, asset text) ON COMMIT DELETE ROWS";

/* Every writer of transactions holds this lock from just before it inserts
 * to COMMIT, so ingest sequence order is commit order (001_schema.sql). */
static const char *SQL_LOCK = "SELECT transactions_append_lock()";

/* The fast path, while no duplicates are seen: COPY the batch straight into
 * transactions under a savepoint. COPY inserts with heap_multi_insert (one
 * WAL record per page, not per row), the cheapest way PostgreSQL has to add
 * rows, so the append lock is held for less time than the INSERT of the
 * staging path would hold it. If any tx_id is already stored, the unique
 * violation rolls back to the savepoint and the batch takes the staging path;
 * the effect is the same. */
static const char *SQL_COPY_DIRECT =
    "COPY transactions (tx_id, sender, receiver, amount, \"timestamp\", asset)"
    " FROM STDIN (FORMAT binary)";

/* The staging path (replays): COPY into the session's staging table before
 * taking the lock, then one INSERT ... ON CONFLICT DO NOTHING under it. */
static const char *SQL_COPY_STAGE = "COPY cons_stage FROM STDIN (FORMAT binary)";
static const char *SQL_INSERT =
    "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\", asset)"
    " SELECT tx_id, sender, receiver, amount, ts, asset FROM cons_stage"
    " ON CONFLICT (tx_id) DO NOTHING";

/* $1 id $2 group $3 topic $4 consumed $5 inserted $6 duplicates $7 dead
 * $8 last_error (NULL: keep) $9 last_error_at $10 started_at */
static const char *SQL_CONSUMER =
    "INSERT INTO ingestion_consumers AS c (consumer_id, group_id, topic, consumed, inserted,"
    " duplicates, dead_lettered, last_error, last_error_at, started_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::timestamptz, now())"
    " ON CONFLICT (consumer_id) DO UPDATE SET group_id = EXCLUDED.group_id,"
    " topic = EXCLUDED.topic, consumed = c.consumed + EXCLUDED.consumed,"
    " inserted = c.inserted + EXCLUDED.inserted,"
    " duplicates = c.duplicates + EXCLUDED.duplicates,"
    " dead_lettered = c.dead_lettered + EXCLUDED.dead_lettered,"
    " last_error = COALESCE(EXCLUDED.last_error, c.last_error),"
    " last_error_at = CASE WHEN EXCLUDED.last_error IS NULL THEN c.last_error_at"
    "                 ELSE EXCLUDED.last_error_at END,"
    " started_at = EXCLUDED.started_at, updated_at = now()";

/* $1 topic $2 consumer $3 partitions $4 next offsets $5 high watermarks (NULL
 * unknown). The stored offset only moves forward: rows below it are written. */
static const char *SQL_OFFSETS =
    "INSERT INTO ingestion_offsets AS o (topic, partition, consumer_id, committed_offset,"
    " high_watermark, updated_at)"
    " SELECT $1, p, $2, n, h, now()"
    " FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS u(p, n, h)"
    " ON CONFLICT (topic, partition) DO UPDATE SET consumer_id = EXCLUDED.consumer_id,"
    " committed_offset = GREATEST(o.committed_offset, EXCLUDED.committed_offset),"
    " high_watermark = COALESCE(EXCLUDED.high_watermark, o.high_watermark),"
    " updated_at = now()";

/* $1 topic $2 partitions $3 high watermarks: the idle refresh of lag */
static const char *SQL_REFRESH =
    "UPDATE ingestion_offsets o SET high_watermark = u.h, updated_at = now()"
    " FROM unnest($2::int[], $3::bigint[]) AS u(p, h)"
    " WHERE o.topic = $1 AND o.partition = u.p AND u.h IS NOT NULL";

int
cons_db_create(cons_db **out, const char *url)
{
	cons_db *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return AMLRISK_ENOMEM;
	if ((db->url = strdup(url)) == NULL) {
		free(db);
		return AMLRISK_ENOMEM;
	}
	*out = db;
	return AMLRISK_OK;
}

void
cons_db_destroy(cons_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->url);
	free(db);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of the connection's error message into err. */
static void
conn_error(cons_db *db, const char *what, char *err, size_t errlen)
{
	const char *m = db->conn != NULL ? PQerrorMessage(db->conn) : "no connection";
	size_t n = strcspn(m, "\n");
	snprintf(err, errlen, "%s: %.*s", what, (int)n, m);
}

static void
disconnect_if_broken(cons_db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK) {
		PQfinish(db->conn);
		db->conn = NULL;
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.disconnected", "will=reconnect");
	}
}

static int
ensure_connected(cons_db *db, char *err, size_t errlen)
{
	if (db->conn != NULL)
		return AMLRISK_OK;
	/* the URL comes last so its own settings win */
	/* keepalives notice a server gone mid-statement */
	const char *keys[] = { "connect_timeout", "fallback_application_name", "client_encoding",
		               "keepalives_idle", "keepalives_interval", "keepalives_count",
		               "dbname", NULL };
	const char *vals[] = { "5", "amlrisk-consumer", "UTF8", "30", "10", "3", db->url, NULL };
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		snprintf(err, errlen, "connect: out of memory");
		return AMLRISK_EDB;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		conn_error(db, "connect", err, errlen);
		PQfinish(db->conn);
		db->conn = NULL;
		return AMLRISK_EDB;
	}
	PGresult *r = PQexec(db->conn, SQL_SETUP);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		conn_error(db, "setup", err, errlen);
		PQfinish(db->conn);
		db->conn = NULL;
		return AMLRISK_EDB;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "db.connected", "server_version=%d",
	            PQserverVersion(db->conn));
	return AMLRISK_OK;
}

/* Runs sql with params (text); expects status want. On failure writes err. */
static int
exec(cons_db *db, const char *what, const char *sql, int n, const char *const *params,
     ExecStatusType want, PGresult **keep, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != want) {
		conn_error(db, what, err, errlen);
		PQclear(r);
		return AMLRISK_EDB;
	}
	if (keep != NULL)
		*keep = r;
	else
		PQclear(r);
	return AMLRISK_OK;
}

/* Sends the batch's tuples through COPY statement sql. On failure *dup says
 * whether it was a unique violation (a tx_id already stored). */
static int
copy_rows(cons_db *db, const char *sql, cons_batch *b, int *dup, char *err, size_t errlen)
{
	size_t len;
	const uint8_t *data = cons_batch_copy_data(b, &len);
	PGresult *r = PQexec(db->conn, sql);
	int rv = AMLRISK_EDB;
	*dup = 0;
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		conn_error(db, "copy", err, errlen);
		PQclear(r);
		return AMLRISK_EDB;
	}
	PQclear(r);
	if (PQputCopyData(db->conn, (const char *)cons_copy_header, sizeof(cons_copy_header)) != 1)
		goto end;
	/* in slices: PQputCopyData takes an int length */
	for (size_t at = 0; at < len;) {
		size_t n = len - at > (1u << 20) ? (1u << 20) : len - at;
		if (PQputCopyData(db->conn, (const char *)data + at, (int)n) != 1)
			goto end;
		at += n;
	}
	if (PQputCopyData(db->conn, (const char *)cons_copy_trailer, sizeof(cons_copy_trailer)) != 1)
		goto end;
	if (PQputCopyEnd(db->conn, NULL) != 1)
		goto end;
	rv = AMLRISK_OK;
end:
	/* the COPY's own result, then the NULL that ends it */
	while ((r = PQgetResult(db->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rv == AMLRISK_OK) {
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			*dup = state != NULL && strcmp(state, "23505") == 0;
			conn_error(db, "copy", err, errlen);
			rv = AMLRISK_EDB;
		}
		PQclear(r);
		if (PQstatus(db->conn) != CONNECTION_OK)
			break;
	}
	if (rv != AMLRISK_OK && err[0] == '\0')
		conn_error(db, "copy", err, errlen);
	return rv;
}

/* Inserts the batch's rows into transactions, duplicates skipped, holding the
 * append lock from the first row to COMMIT; the number inserted in *ins. */
static int
insert_rows(cons_db *db, cons_batch *b, int64_t *ins, const char **path, char *err,
            size_t errlen)
{
	PGresult *r = NULL;
	int rv, dup, locked = 0;
	*path = "staging";
	if (!db->dups_seen) {
		*path = "direct";
		if ((rv = exec(db, "lock", SQL_LOCK, 0, NULL, PGRES_TUPLES_OK, NULL, err, errlen)) != 0 ||
		    (rv = exec(db, "savepoint", "SAVEPOINT cons_fast", 0, NULL, PGRES_COMMAND_OK, NULL,
		               err, errlen)) != 0)
			return rv;
		locked = 1;
		if ((rv = copy_rows(db, SQL_COPY_DIRECT, b, &dup, err, errlen)) == 0) {
			*ins = cons_batch_rows(b);
			return AMLRISK_OK;
		}
		if (!dup)
			return rv;
		if ((rv = exec(db, "rollback to savepoint", "ROLLBACK TO SAVEPOINT cons_fast", 0, NULL,
		               PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
			return rv;
		err[0] = '\0';
		*path = "direct,staging";
	}
	if ((rv = copy_rows(db, SQL_COPY_STAGE, b, &dup, err, errlen)) != 0)
		return rv;
	if (!locked &&
	    (rv = exec(db, "lock", SQL_LOCK, 0, NULL, PGRES_TUPLES_OK, NULL, err, errlen)) != 0)
		return rv;
	if ((rv = exec(db, "insert", SQL_INSERT, 0, NULL, PGRES_COMMAND_OK, &r, err, errlen)) != 0)
		return rv;
	*ins = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return AMLRISK_OK;
}

/* Appends "{a,b,c}" of n int64 values (or NULL for negatives when nulls) to out. */
static int
int_array(char *out, size_t cap, const cons_part *p, int n, int field)
{
	size_t at = 0;
	int w = snprintf(out, cap, "{");
	at += (size_t)w;
	for (int i = 0; i < n && at < cap; i++) {
		int64_t v = field == 0 ? p[i].partition : field == 1 ? p[i].next : p[i].hwm;
		if (field == 2 && v < 0)
			w = snprintf(out + at, cap - at, "%sNULL", i ? "," : "");
		else
			w = snprintf(out + at, cap - at, "%s%" PRId64, i ? "," : "", v);
		at += (size_t)w;
	}
	if (at + 2 > cap)
		return AMLRISK_ETOOBIG;
	memcpy(out + at, "}", 2);
	return AMLRISK_OK;
}

/* Unix microseconds as an ISO 8601 UTC timestamp for PostgreSQL. */
static void
iso_us(char *out, size_t cap, int64_t us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us % 1000000 + 1000000) % 1000000));
}

/* The three arrays of a partition list, each malloc'd (caller frees arr[0..2]). */
static int
part_arrays(const cons_part *parts, int n, char *arr[3])
{
	size_t cap = 16 + (size_t)n * 24;
	for (int f = 0; f < 3; f++) {
		if ((arr[f] = malloc(cap)) == NULL || int_array(arr[f], cap, parts, n, f) != 0)
			return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}

int
cons_db_write(cons_db *db, cons_batch *b, const cons_db_state *st, int64_t *inserted,
              char *err, size_t errlen)
{
	int rv, nparts, in_tx = 0;
	int64_t ins = 0, t0 = mono_ms();
	const char *path = "none";
	char *arr[3] = { NULL, NULL, NULL };
	cons_part *parts = cons_batch_parts(b, &nparts);
	err[0] = '\0';
	if ((rv = part_arrays(parts, nparts, arr)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto end;
	}
	if ((rv = ensure_connected(db, err, errlen)) != 0)
		goto end;
	if ((rv = exec(db, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto end;
	in_tx = 1;
	if (cons_batch_rows(b) > 0) {
		if ((rv = insert_rows(db, b, &ins, &path, err, errlen)) != 0)
			goto end;
		db->dups_seen = ins < cons_batch_rows(b);
	}
	int64_t t_insert = mono_ms();
	char consumed[24], nins[24], dups[24], dead[24], errat[96], started[96];
	snprintf(consumed, sizeof(consumed), "%" PRId64, st->consumed);
	snprintf(nins, sizeof(nins), "%" PRId64, ins);
	snprintf(dups, sizeof(dups), "%" PRId64, (int64_t)cons_batch_rows(b) - ins);
	snprintf(dead, sizeof(dead), "%" PRId64, st->dead_lettered);
	iso_us(errat, sizeof(errat), st->last_error_us);
	iso_us(started, sizeof(started), st->started_us);
	const char *cp[10] = { st->consumer_id, st->group, st->topic, consumed, nins, dups, dead,
		               st->last_error, st->last_error != NULL ? errat : NULL, started };
	if ((rv = exec(db, "state", SQL_CONSUMER, 10, cp, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto end;
	if (nparts > 0) {
		const char *op[5] = { st->topic, st->consumer_id, arr[0], arr[1], arr[2] };
		if ((rv = exec(db, "offsets", SQL_OFFSETS, 5, op, PGRES_COMMAND_OK, NULL, err,
		               errlen)) != 0)
			goto end;
	}
	int64_t t_state = mono_ms();
	rv = exec(db, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
	in_tx = 0; /* a failed COMMIT has rolled back */
	if (rv == AMLRISK_OK) {
		*inserted = ins;
		int64_t t_end = mono_ms();
		amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "db.batch",
		            "rows=%d path=%s insert_ms=%" PRId64 " state_ms=%" PRId64
		            " commit_ms=%" PRId64,
		            cons_batch_rows(b), path, t_insert - t0, t_state - t_insert,
		            t_end - t_state);
	}
end:
	if (in_tx && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexec(db->conn, "ROLLBACK"));
	if (db->conn != NULL)
		disconnect_if_broken(db);
	for (int f = 0; f < 3; f++)
		free(arr[f]);
	return rv;
}

int
cons_db_refresh(cons_db *db, const cons_db_state *st, const cons_part *parts, int n, char *err,
                size_t errlen)
{
	char *arr[3] = { NULL, NULL, NULL };
	int rv;
	err[0] = '\0';
	if ((rv = part_arrays(parts, n, arr)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto end;
	}
	if ((rv = ensure_connected(db, err, errlen)) != 0)
		goto end;
	const char *p[3] = { st->topic, arr[0], arr[2] };
	rv = exec(db, "refresh", SQL_REFRESH, 3, p, PGRES_COMMAND_OK, NULL, err, errlen);
	if (rv == AMLRISK_OK) {
		const char *u[1] = { st->consumer_id };
		rv = exec(db, "refresh",
		          "UPDATE ingestion_consumers SET updated_at = now() WHERE consumer_id = $1", 1,
		          u, PGRES_COMMAND_OK, NULL, err, errlen);
	}
end:
	if (db->conn != NULL)
		disconnect_if_broken(db);
	for (int f = 0; f < 3; f++)
		free(arr[f]);
	return rv;
}
