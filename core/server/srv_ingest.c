/* srv_ingest.c - the IngestionStatus queries. Totals sum every consumer
 * instance; lag is high_watermark - committed_offset, or -1 while the
 * consumer has not recorded a high watermark. The row count of transactions
 * is kept up to a sequence number and extended by the rows above it. */
#include "srv_ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "srv_db.h"

static uint64_t
u64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static int64_t
i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int
srv_ingest_status(PGconn *c, srv_state *st, srv_arena *a, Aml__V1__IngestionStatusResponse *resp,
                  char *err, size_t errlen)
{
	/* the rows above the last counted sequence only: a range of the primary
	 * key, never a scan of the whole table */
	static const char *TOTALS_SQL =
	        "SELECT coalesce(sum(consumed), 0), coalesce(sum(inserted), 0),"
	        " coalesce(sum(duplicates), 0), coalesce(sum(dead_lettered), 0),"
	        " (SELECT count(*) FROM transactions WHERE seq > $1),"
	        " (SELECT coalesce(max(seq), 0) FROM transactions),"
	        " coalesce((extract(epoch FROM max(updated_at)) * 1000000)::bigint, 0),"
	        " (SELECT last_error FROM ingestion_consumers WHERE last_error IS NOT NULL"
	        "  ORDER BY last_error_at DESC NULLS LAST LIMIT 1)"
	        " FROM ingestion_consumers";
	static const char *PARTS_SQL =
	        "SELECT topic, partition, committed_offset, high_watermark, consumer_id"
	        " FROM ingestion_offsets ORDER BY topic, partition LIMIT $1";
	char lim[16], seqs[24];
	const char *p[1] = {lim}, *ps[1] = {seqs};
	PGresult *r = NULL;
	int64_t seq;
	uint64_t below;
	int rv, n;

	/* rows at or below seq were counted before and cannot change */
	srv_state_tx_count(st, &seq, &below);
	snprintf(seqs, sizeof(seqs), "%lld", (long long)seq);
	if ((rv = srv_db_exec(c, TOTALS_SQL, 1, ps, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	resp->consumed = u64(r, 0, 0);
	resp->inserted = u64(r, 0, 1);
	resp->duplicates = u64(r, 0, 2);
	resp->dead_lettered = u64(r, 0, 3);
	resp->max_sequence = i64(r, 0, 5);
	/* the count was taken in the same snapshot as max(seq): it covers exactly
	 * the rows up to it (rows commit in sequence order) */
	resp->transactions_total = below + u64(r, 0, 4);
	srv_state_set_tx_count(st, resp->max_sequence, resp->transactions_total);
	resp->updated_at_us = i64(r, 0, 6);
	resp->last_error = srv_arena_strdup(a, PQgetisnull(r, 0, 7) ? "" : PQgetvalue(r, 0, 7));
	PQclear(r);
	r = NULL;
	snprintf(lim, sizeof(lim), "%d", SRV_INGEST_PARTITIONS_MAX);
	if ((rv = srv_db_exec(c, PARTS_SQL, 1, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	n = PQntuples(r);
	resp->partitions = srv_arena_calloc(a, (size_t)n + 1, sizeof(*resp->partitions));
	for (int i = 0; i < n && resp->partitions != NULL; i++) {
		Aml__V1__PartitionState *ps = srv_arena_alloc(a, sizeof(*ps));
		if (ps == NULL)
			break;
		aml__v1__partition_state__init(ps);
		ps->topic = srv_arena_strdup(a, PQgetvalue(r, i, 0));
		ps->partition = (int32_t)i64(r, i, 1);
		ps->committed_offset = i64(r, i, 2);
		ps->high_watermark = i64(r, i, 3);
		ps->lag = PQgetisnull(r, i, 3)
		                  ? -1
		                  : (ps->high_watermark > ps->committed_offset
		                             ? ps->high_watermark - ps->committed_offset
		                             : 0);
		ps->consumer_id = srv_arena_strdup(a, PQgetvalue(r, i, 4));
		resp->partitions[i] = ps;
		resp->n_partitions = (size_t)i + 1;
	}
	PQclear(r);
	if (srv_arena_failed(a)) {
		snprintf(err, errlen, "ingestion status: out of memory");
		return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}
