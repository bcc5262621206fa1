/* cons_db.c - the consumer's PostgreSQL side: one connection, a session-local
 * staging table, and one transaction per batch (rows, conflicts found set-based,
 * counters, offsets). Any failure rolls the whole batch back and, when the
 * connection broke, drops it so the next call reconnects. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_pg.h"
#include "cons.h"

struct cons_db {
	char *url;           /* owned */
	PGconn *conn;        /* NULL while disconnected */
	int dups_seen;       /* the last batch had duplicates: a replay, go straight to staging */
	PGresult *conflicts; /* of the last successful write (row 0: counts), NULL when none */
	int64_t first_ord;   /* its staged rows' first ord: row i is ord - first_ord */
};

/* Per session: bounded waits (a batch that cannot get the append lock or
 * finish in time fails and is retried, while the loop keeps serving Kafka),
 * and the staging table: no indexes, not WAL-logged, emptied at every commit
 * (temporary tables belong to the session); ord numbers its rows in COPY
 * order, which is the batch's. No JIT (below). */
static const char *SQL_SETUP =
        "SET lock_timeout = '30s';"
        "SET statement_timeout = '120s';"
        "SET temp_buffers = '64MB';"
        /* the staging statement is estimated costly (the staging table has
         * no statistics) and would be JIT-compiled for every batch: 35 ms
         * of a 40 ms statement on 20,000 replayed rows */
        "SET jit = off;"
        "CREATE TEMP TABLE IF NOT EXISTS cons_stage ("
        " tx_id text, sender text, receiver text, amount numeric(38, 18),"
        " ts timestamptz, asset text, ord bigint GENERATED ALWAYS AS IDENTITY)"
        " ON COMMIT DELETE ROWS";

/* Every writer of transactions holds this lock from just before it inserts
 * to COMMIT, so ingest sequence order is commit order (001_schema.sql). The
 * consumers also read ingestion_counted under it, after it is held. */
#define SQL_LOCK "SELECT transactions_append_lock()"

/* The fast path, while no duplicates are seen: in one round trip, begin,
 * take the lock and set a savepoint; then COPY the batch straight into
 * transactions. COPY inserts with heap_multi_insert (one WAL record per page,
 * not per row), the cheapest way PostgreSQL has to add rows, so the append
 * lock is held for less time than the INSERT of the staging path would hold
 * it. If any tx_id is already stored, the unique violation rolls back to the
 * savepoint and the batch takes the staging path; the effect is the same. */
static const char *SQL_BEGIN_FAST = "BEGIN; " SQL_LOCK "; SAVEPOINT cons_fast";
static const char *SQL_COPY_DIRECT =
        "COPY transactions (tx_id, sender, receiver, amount, \"timestamp\", asset)"
        " FROM STDIN (FORMAT binary)";

/* The staging path (replays): COPY into the session's staging table before
 * taking the lock, then under it one statement. Each staged row looks its
 * tx_id up once, an index probe forced by LIMIT 1 in a LATERAL subquery (a
 * join would let the planner hash the whole table: the staging table has no
 * statistics). The rows whose tx_id is not stored are inserted, the first
 * version of each in batch order (plain INSERT: every writer holds the append
 * lock, and a race would only fail the batch, which is then retried). The
 * answer: a first row (-1) holding the batch's first ord and the number
 * inserted, then the staged rows whose stored version (stored before, or by
 * an earlier row of the batch) differs: ord, tx_id, what differs, the stored
 * version's key fields. An identical replay costs its probe and is not kept. */
static const char *SQL_COPY_STAGE =
        "COPY cons_stage (tx_id, sender, receiver, amount, ts, asset) FROM STDIN (FORMAT binary)";
static const char *SQL_STAGE_WRITE =
        "WITH p AS MATERIALIZED (SELECT s.ord, s.tx_id, s.sender, s.receiver, s.amount, s.ts,"
        "  s.asset, t.seq AS t_seq, t.sender AS t_sender, t.receiver AS t_receiver,"
        "  t.amount AS t_amount, t.ts AS t_ts, t.asset AS t_asset"
        "  FROM cons_stage s LEFT JOIN LATERAL (SELECT seq, sender, receiver, amount,"
        "   \"timestamp\" AS ts, asset FROM transactions WHERE transactions.tx_id = s.tx_id"
        "   LIMIT 1) t ON true"
        "  WHERE t.seq IS NULL OR (t.sender, t.receiver, t.amount, t.ts, t.asset)"
        "   IS DISTINCT FROM (s.sender, s.receiver, s.amount, s.ts, s.asset)),"
        " ins AS (INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\", asset)"
        "  SELECT tx_id, sender, receiver, amount, ts, asset FROM (SELECT DISTINCT ON (tx_id) *"
        "   FROM p WHERE t_seq IS NULL ORDER BY tx_id, ord) n ORDER BY ord"
        "  RETURNING seq, tx_id, sender, receiver, amount, \"timestamp\" AS ts, asset),"
        " v AS (SELECT ord, tx_id, sender, receiver, amount, ts, asset, t_seq, t_sender,"
        "  t_receiver, t_amount, t_ts, t_asset FROM p WHERE t_seq IS NOT NULL"
        "  UNION ALL SELECT p.ord, p.tx_id, p.sender, p.receiver, p.amount, p.ts, p.asset, i.seq,"
        "  i.sender, i.receiver, i.amount, i.ts, i.asset FROM p JOIN ins i ON i.tx_id = p.tx_id"
        "  WHERE p.t_seq IS NULL)"
        " SELECT -1 AS row, (SELECT min(ord) FROM cons_stage)::text, NULL,"
        "  (SELECT count(*) FROM ins)::text, NULL, NULL, NULL, NULL, NULL"
        " UNION ALL SELECT v.ord, v.tx_id,"
        "  concat_ws(',', CASE WHEN v.t_sender IS DISTINCT FROM v.sender THEN 'sender' END,"
        "   CASE WHEN v.t_receiver IS DISTINCT FROM v.receiver THEN 'receiver' END,"
        "   CASE WHEN v.t_amount IS DISTINCT FROM v.amount THEN 'amount' END,"
        "   CASE WHEN v.t_ts IS DISTINCT FROM v.ts THEN 'timestamp_us' END,"
        "   CASE WHEN v.t_asset IS DISTINCT FROM v.asset THEN 'asset' END),"
        "  v.t_seq::text, v.t_sender, v.t_receiver, trim_scale(v.t_amount)::text,"
        "  ((extract(epoch FROM v.t_ts) * 1000000)::bigint)::text, v.t_asset"
        "  FROM v WHERE (v.t_sender, v.t_receiver, v.t_amount, v.t_ts, v.t_asset)"
        "   IS DISTINCT FROM (v.sender, v.receiver, v.amount, v.ts, v.asset)"
        " ORDER BY 1";

/* $1 group $2 topic $3 partitions: what the group has counted already */
static const char *SQL_COUNTED =
        "SELECT partition, next_offset FROM ingestion_counted"
        " WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])";

/* This consumer's row, the counters added. $1 id $2 group $3 topic
 * $4 consumed $5 inserted $6 duplicates $7 dead $8 conflicts $9 last_error
 * (NULL: keep, '': clear) $10 when the last error happened (NULL: keep; kept
 * when it is cleared: an outage stays on record) $11 started_at */
#define SQL_CONSUMER_UPSERT                                                                        \
	"INSERT INTO ingestion_consumers AS c (consumer_id, group_id, topic, consumed, inserted,"  \
	" duplicates, dead_lettered, conflicts, last_error, last_error_at, started_at, "           \
	"updated_at)"                                                                              \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9::text, ''), $10::timestamptz,"         \
	" $11::timestamptz, now())"                                                                \
	" ON CONFLICT (consumer_id) DO UPDATE SET group_id = EXCLUDED.group_id,"                   \
	" topic = EXCLUDED.topic, consumed = c.consumed + EXCLUDED.consumed,"                      \
	" inserted = c.inserted + EXCLUDED.inserted,"                                              \
	" duplicates = c.duplicates + EXCLUDED.duplicates,"                                        \
	" dead_lettered = c.dead_lettered + EXCLUDED.dead_lettered,"                               \
	" conflicts = c.conflicts + EXCLUDED.conflicts,"                                           \
	" last_error = CASE WHEN $9::text IS NULL THEN c.last_error ELSE EXCLUDED.last_error END," \
	" last_error_at = COALESCE(EXCLUDED.last_error_at, c.last_error_at),"                      \
	" started_at = EXCLUDED.started_at, updated_at = now()"
static const char *SQL_CONSUMER = SQL_CONSUMER_UPSERT;

/* A batch's state in one statement: the consumer's row ($1..$11 as above),
 * then with $12 partitions, $13 next offsets, $14 high watermarks (NULL
 * unknown): ingestion_offsets (the stored offset only moves forward: rows
 * below it are written) and the group's counted offsets; and when the batch
 * inserted rows ($16 > 0), NOTIFY $15 with the new high-water seq (taken
 * under the append lock, so it is this batch's last row), delivered by
 * PostgreSQL at COMMIT and never for a rolled back batch. */
static const char *SQL_BATCH_STATE =
        "WITH c AS (" SQL_CONSUMER_UPSERT " RETURNING 1),"
        " o AS (INSERT INTO ingestion_offsets AS o (topic, partition, consumer_id,"
        "  committed_offset, high_watermark, updated_at)"
        "  SELECT $3, p, $1, n, h, now() FROM unnest($12::int[], $13::bigint[], $14::bigint[])"
        "  AS u(p, n, h)"
        "  ON CONFLICT (topic, partition) DO UPDATE SET consumer_id = EXCLUDED.consumer_id,"
        "  committed_offset = GREATEST(o.committed_offset, EXCLUDED.committed_offset),"
        "  high_watermark = COALESCE(EXCLUDED.high_watermark, o.high_watermark),"
        "  updated_at = now() RETURNING 1),"
        " k AS (INSERT INTO ingestion_counted AS k (group_id, topic, partition, next_offset)"
        "  SELECT $2, $3, p, n FROM unnest($12::int[], $13::bigint[]) AS u(p, n)"
        "  ON CONFLICT (group_id, topic, partition)"
        "  DO UPDATE SET next_offset = GREATEST(k.next_offset, EXCLUDED.next_offset) RETURNING 1)"
        " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM o), (SELECT count(*) FROM k),"
        "  (SELECT count(*) FROM (SELECT pg_notify($15, max(seq)::text) FROM transactions"
        "   HAVING $16::bigint > 0) n)";

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
	PQclear(db->conflicts);
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db->url);
	free(db);
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
disconnect(cons_db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.disconnected", "will=reconnect");
}

static void
disconnect_if_broken(cons_db *db)
{
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK)
		disconnect(db);
}

static int
ensure_connected(cons_db *db, char *err, size_t errlen)
{
	if (db->conn != NULL)
		return AMLRISK_OK;
	/* the URL comes last so its own settings win; keepalives and the TCP
	 * user timeout notice a server gone mid-statement or a partition */
	const char *keys[] = {"connect_timeout",
	                      "fallback_application_name",
	                      "client_encoding",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "tcp_user_timeout",
	                      "dbname",
	                      NULL};
	const char *vals[] = {"5", "amlrisk-consumer", "UTF8", "30", "10", "3", "60000", db->url,
	                      NULL};
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
 * whether it was a unique violation (a tx_id already stored). A COPY that
 * cannot be sent whole is ended with an error (PQputCopyEnd with a message),
 * so the server rolls it back and says why, rather than left open. */
static int
copy_rows(cons_db *db, const char *sql, cons_batch *b, int *dup, char *err, size_t errlen)
{
	size_t len;
	const uint8_t *data = cons_batch_copy_data(b, &len);
	PGresult *r = PQexec(db->conn, sql);
	int rv = AMLRISK_EDB;
	*dup = 0;
	err[0] = '\0';
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		conn_error(db, "copy", err, errlen);
		PQclear(r);
		return AMLRISK_EDB;
	}
	PQclear(r);
	int sent = PQputCopyData(db->conn, (const char *)cons_copy_header,
	                         sizeof(cons_copy_header)) == 1;
	/* in slices: PQputCopyData takes an int length */
	for (size_t at = 0; sent && at < len;) {
		size_t n = len - at > (1u << 20) ? (1u << 20) : len - at;
		sent = PQputCopyData(db->conn, (const char *)data + at, (int)n) == 1;
		at += n;
	}
	sent = sent && PQputCopyData(db->conn, (const char *)cons_copy_trailer,
	                             sizeof(cons_copy_trailer)) == 1;
	int abandoned = !sent;
	if (sent) {
		if (PQputCopyEnd(db->conn, NULL) == 1)
			rv = AMLRISK_OK;
		else
			conn_error(db, "copy end", err, errlen);
	} else {
		char cause[300], msg[400];
		conn_error(db, "sending the rows failed", cause, sizeof(cause));
		snprintf(msg, sizeof(msg), "amlrisk-consumer abandoned the batch: %s", cause);
		snprintf(err, errlen, "copy: %s", cause); /* unless the server says more */
		if (PQputCopyEnd(db->conn, msg) != 1)
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.copy_end_failed",
			            "error=\"%s\"", PQerrorMessage(db->conn));
	}
	/* the COPY's own result, then the NULL that ends it; a COPY still open
	 * here (its end could not be sent) leaves a connection no use to anyone */
	for (int i = 0; (r = PQgetResult(db->conn)) != NULL; i++) {
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && (rv == AMLRISK_OK || abandoned)) {
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			*dup = !abandoned && state != NULL && strcmp(state, "23505") == 0;
			if (st == PGRES_FATAL_ERROR)
				conn_error(db, "copy", err, errlen); /* for an abandoned one, it
				                                      * quotes our message back */
			rv = AMLRISK_EDB;
			abandoned = 0;
		}
		PQclear(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_BOTH || i > 8) {
			disconnect(db);
			break;
		}
		if (PQstatus(db->conn) != CONNECTION_OK)
			break;
	}
	if (rv != AMLRISK_OK && err[0] == '\0')
		conn_error(db, "copy", err, errlen);
	return rv;
}

/* Reads what the group has counted of the batch's partitions (call with the
 * append lock held) into from[i] per parts[i]: the first offset not counted,
 * INT64_MIN when none is. */
static int
read_counted(cons_db *db, const cons_db_state *st, const cons_part *parts, int nparts,
             const char *arr_parts, int64_t *from, char *err, size_t errlen)
{
	PGresult *r = NULL;
	const char *p[3] = {st->group, st->topic, arr_parts};
	int rv = exec(db, "counted", SQL_COUNTED, 3, p, PGRES_TUPLES_OK, &r, err, errlen);
	if (rv != AMLRISK_OK)
		return rv;
	for (int i = 0; i < nparts; i++)
		from[i] = INT64_MIN;
	for (int j = 0; j < PQntuples(r); j++) {
		int32_t part = (int32_t)strtol(PQgetvalue(r, j, 0), NULL, 10);
		for (int i = 0; i < nparts; i++)
			if (parts[i].partition == part)
				from[i] = strtoll(PQgetvalue(r, j, 1), NULL, 10);
	}
	PQclear(r);
	return AMLRISK_OK;
}

/* Inserts the batch's rows into transactions, duplicates skipped, holding the
 * append lock from the first row to COMMIT; the number inserted in *ins; the
 * conflicting duplicates in db->conflicts. On the fast path the transaction,
 * lock and counted offsets come first; *locked says whether that happened. */
static int
insert_rows(cons_db *db, cons_batch *b, const cons_db_state *st, const char *arr_parts,
            int64_t *from, int64_t *ins, const char **path, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int rv, dup, nparts;
	const cons_part *parts = cons_batch_parts(b, &nparts);
	*path = "staging";
	if (!db->dups_seen) {
		*path = "direct";
		if ((rv = copy_rows(db, SQL_COPY_DIRECT, b, &dup, err, errlen)) == 0) {
			*ins = cons_batch_rows(b);
			return AMLRISK_OK;
		}
		if (!dup)
			return rv;
		if ((rv = exec(db, "rollback to savepoint", "ROLLBACK TO SAVEPOINT cons_fast", 0,
		               NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
			return rv;
		*path = "direct,staging";
		if ((rv = copy_rows(db, SQL_COPY_STAGE, b, &dup, err, errlen)) != 0)
			return rv;
	} else {
		if ((rv = copy_rows(db, SQL_COPY_STAGE, b, &dup, err, errlen)) != 0 ||
		    (rv = exec(db, "lock", SQL_LOCK, 0, NULL, PGRES_TUPLES_OK, NULL, err,
		               errlen)) != 0 ||
		    (rv = read_counted(db, st, parts, nparts, arr_parts, from, err, errlen)) != 0)
			return rv;
	}
	if ((rv = exec(db, "insert", SQL_STAGE_WRITE, 0, NULL, PGRES_TUPLES_OK, &r, err, errlen)) !=
	    0)
		return rv;
	if (PQntuples(r) < 1 || strcmp(PQgetvalue(r, 0, 0), "-1") != 0) {
		PQclear(r);
		snprintf(err, errlen, "insert: unexpected answer");
		return AMLRISK_EDB;
	}
	db->first_ord = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	*ins = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	db->conflicts = r;
	return AMLRISK_OK;
}

/* The index in parts (sorted) of partition p; parts holds it. */
static int
part_index(const cons_part *parts, int n, int32_t p)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (parts[mid].partition < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The counters of the batch, leaving out offsets below from[] (counted by an
 * earlier transaction of the group). Every inserted row is new, so above
 * them; the rows there that were neither inserted nor conflicts are
 * identical duplicates. */
static void
count_batch(cons_db *db, cons_batch *b, const int64_t *from, int64_t ins, cons_db_counts *c)
{
	int nparts, ndlq;
	const cons_part *parts = cons_batch_parts(b, &nparts);
	const cons_dlq *d = cons_batch_dlqs(b, &ndlq);
	int64_t rows = 0, invalid = 0, conflicts = 0;
	int32_t part;
	int64_t off;
	for (int i = 0; i < cons_batch_rows(b); i++) {
		cons_batch_row_at(b, i, &part, &off);
		rows += off >= from[part_index(parts, nparts, part)];
	}
	for (int i = 0; i < ndlq; i++)
		invalid += !d[i].conflict &&
		           d[i].offset >= from[part_index(parts, nparts, d[i].partition)];
	for (int i = 1; db->conflicts != NULL && i < PQntuples(db->conflicts); i++) {
		int64_t row = strtoll(PQgetvalue(db->conflicts, i, 0), NULL, 10) - db->first_ord;
		if (row < 0 || row >= cons_batch_rows(b))
			continue;
		cons_batch_row_at(b, (int)row, &part, &off);
		conflicts += off >= from[part_index(parts, nparts, part)];
	}
	c->consumed = rows + invalid;
	c->inserted = ins;
	c->duplicates = rows - ins - conflicts > 0 ? rows - ins - conflicts : 0;
	c->dead_lettered = invalid + conflicts;
	c->conflicts = conflicts;
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
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)((us % 1000000 + 1000000) % 1000000));
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

/* The text parameters $1..$11 of SQL_CONSUMER_UPSERT into p, numbers into
 * num (4 x 24 bytes + 2 x 96 for the timestamps). */
static void
consumer_params(const cons_db_state *st, const cons_db_counts *c, char num[7][96],
                const char *p[11])
{
	const int64_t v[5] = {c->consumed, c->inserted, c->duplicates, c->dead_lettered,
	                      c->conflicts};
	for (int i = 0; i < 5; i++)
		snprintf(num[i], sizeof(num[i]), "%" PRId64, v[i]);
	iso_us(num[5], sizeof(num[5]), st->last_error_us);
	iso_us(num[6], sizeof(num[6]), st->started_us);
	const char *q[11] = {
	        st->consumer_id, st->group,
	        st->topic,       num[0],
	        num[1],          num[2],
	        num[3],          num[4],
	        st->last_error,  st->last_error != NULL && st->last_error_us > 0 ? num[5] : NULL,
	        num[6]};
	memcpy(p, q, sizeof(q));
}

int
cons_db_write(cons_db *db, cons_batch *b, const cons_db_state *st, cons_db_counts *counts,
              char *err, size_t errlen)
{
	int rv, nparts, in_tx = 0;
	int64_t ins = 0, t0 = amlrisk_now_ms(), *from = NULL;
	const char *path = "none";
	char *arr[3] = {NULL, NULL, NULL};
	cons_part *parts = cons_batch_parts(b, &nparts);
	err[0] = '\0';
	PQclear(db->conflicts);
	db->conflicts = NULL;
	if ((from = malloc(((size_t)nparts + 1) * sizeof(*from))) == NULL ||
	    (rv = part_arrays(parts, nparts, arr)) != 0) {
		snprintf(err, errlen, "out of memory");
		rv = AMLRISK_ENOMEM;
		goto end;
	}
	if ((rv = ensure_connected(db, err, errlen)) != 0)
		goto end;
	int fast = !db->dups_seen || cons_batch_rows(b) == 0;
	if (fast) {
		/* begin, lock, savepoint in one round trip; then what is counted */
		PGresult *r = PQexec(db->conn, SQL_BEGIN_FAST);
		in_tx = PQtransactionStatus(db->conn) != PQTRANS_IDLE;
		rv = PQresultStatus(r) == PGRES_COMMAND_OK ? AMLRISK_OK : AMLRISK_EDB;
		PQclear(r);
		if (rv != AMLRISK_OK) {
			conn_error(db, "begin", err, errlen);
			goto end;
		}
		if ((rv = read_counted(db, st, parts, nparts, arr[0], from, err, errlen)) != 0)
			goto end;
	} else {
		if ((rv = exec(db, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err,
		               errlen)) != 0)
			goto end;
		in_tx = 1;
	}
	if (cons_batch_rows(b) > 0) {
		if ((rv = insert_rows(db, b, st, arr[0], from, &ins, &path, err, errlen)) != 0)
			goto end;
		db->dups_seen = ins < cons_batch_rows(b);
	}
	int64_t t_insert = amlrisk_now_ms();
	cons_db_counts c;
	count_batch(db, b, from, ins, &c);
	char num[7][96], inserted[24];
	const char *p[16];
	consumer_params(st, &c, num, p);
	p[11] = arr[0];
	p[12] = arr[1];
	p[13] = arr[2];
	p[14] = AMLRISK_PG_INGEST_CHANNEL;
	snprintf(inserted, sizeof(inserted), "%" PRId64, ins);
	p[15] = inserted;
	if ((rv = exec(db, "state", SQL_BATCH_STATE, 16, p, PGRES_TUPLES_OK, NULL, err, errlen)) !=
	    0)
		goto end;
	int64_t t_state = amlrisk_now_ms();
	rv = exec(db, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
	in_tx = 0; /* a failed COMMIT has rolled back, or its outcome is unknown */
	if (rv == AMLRISK_OK) {
		*counts = c;
		int64_t t_end = amlrisk_now_ms();
		amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "db.batch",
		            "rows=%d path=%s conflicts=%d insert_ms=%" PRId64 " state_ms=%" PRId64
		            " commit_ms=%" PRId64,
		            cons_batch_rows(b), path, cons_db_conflicts(db), t_insert - t0,
		            t_state - t_insert, t_end - t_state);
	}
end:
	if (rv != AMLRISK_OK) {
		PQclear(db->conflicts);
		db->conflicts = NULL;
	}
	if (in_tx && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexec(db->conn, "ROLLBACK"));
	if (db->conn != NULL)
		disconnect_if_broken(db);
	for (int f = 0; f < 3; f++)
		free(arr[f]);
	free(from);
	return rv;
}

int
cons_db_conflicts(const cons_db *db)
{
	return db->conflicts != NULL ? PQntuples(db->conflicts) - 1 : 0; /* row 0: the count */
}

void
cons_db_conflict_get(const cons_db *db, int i, cons_db_conflict *out)
{
	const PGresult *r = db->conflicts;
	i++; /* after the count */
	out->row = (int)(strtoll(PQgetvalue(r, i, 0), NULL, 10) - db->first_ord);
	out->tx_id = PQgetvalue(r, i, 1);
	out->fields = PQgetvalue(r, i, 2);
	out->seq = PQgetvalue(r, i, 3);
	out->sender = PQgetvalue(r, i, 4);
	out->receiver = PQgetvalue(r, i, 5);
	out->amount = PQgetvalue(r, i, 6);
	out->timestamp_us = PQgetvalue(r, i, 7);
	out->asset = PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8);
}

int
cons_db_refresh(cons_db *db, const cons_db_state *st, const cons_part *parts, int n, char *err,
                size_t errlen)
{
	char *arr[3] = {NULL, NULL, NULL};
	int rv;
	err[0] = '\0';
	if ((rv = part_arrays(parts, n, arr)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto end;
	}
	if ((rv = ensure_connected(db, err, errlen)) != 0)
		goto end;
	const char *p[3] = {st->topic, arr[0], arr[2]};
	rv = exec(db, "refresh", SQL_REFRESH, 3, p, PGRES_COMMAND_OK, NULL, err, errlen);
	if (rv == AMLRISK_OK) {
		/* nothing counted: the row exists (with its last error) and is fresh */
		cons_db_counts none = {0, 0, 0, 0, 0};
		char num[7][96];
		const char *cp[11];
		consumer_params(st, &none, num, cp);
		rv = exec(db, "refresh", SQL_CONSUMER, 11, cp, PGRES_COMMAND_OK, NULL, err, errlen);
	}
end:
	if (db->conn != NULL)
		disconnect_if_broken(db);
	for (int f = 0; f < 3; f++)
		free(arr[f]);
	return rv;
}
