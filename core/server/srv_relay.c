/* srv_relay.c - the risk_alerts outbox relay: recover from the partition
 * tails, then publish pending alerts in id order in bounded batches, wait
 * for every delivery (messages never time out: a broker outage only delays
 * them), mark them published. Any failure drops the producer or connection
 * and starts over with the recovery, which never sends an alert twice. */
#include "srv_relay.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "aml/v1/alert.pb-c.h"
#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_pg.h"

#define RELAY_BATCH     500               /* alerts per batch */
#define RELAY_PARTS_MAX 1024              /* partitions of the topic */
#define RELAY_IDLE_MS   500               /* poll period with nothing pending */
#define RELAY_RETRY_MS  1000              /* after a failure */
#define RELAY_KAFKA_MS  5000              /* metadata, watermarks, tail reads */
#define RELAY_MSG_MAX   ((size_t)1 << 20) /* one alert's bytes */

struct srv_relay {
	char *db_url, *brokers, *topic; /* owned */
	int fault_kill;                 /* AMLRISK_RELAY_FAULT=kill_after_delivery */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kicked;
	atomic_int stop;
	/* the thread's own */
	PGconn *conn;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int32_t parts;
	int recovered;
	atomic_int failed;            /* deliveries of the batch that failed */
	atomic_uint_fast64_t skipped; /* rows that could never be published */
};

static const char *SQL_PENDING = "SELECT id, wallet, payload FROM risk_alerts WHERE NOT published"
                                 " ORDER BY id LIMIT $1";
static const char *SQL_PENDING_UPTO =
        "SELECT id, wallet FROM risk_alerts WHERE NOT published AND id <= $1 ORDER BY id";
static const char *SQL_MARK =
        "UPDATE risk_alerts SET published = true WHERE id = ANY($1::bigint[])";

/* Waits up to ms or until kicked or stopping. */
static void
relay_wait(srv_relay *r, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	while (!r->kicked && !atomic_load(&r->stop))
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
			break;
	r->kicked = 0;
	pthread_mutex_unlock(&r->mu);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	srv_relay *r = opaque;
	(void)rk;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		atomic_fetch_add(&r->failed, 1);
		amlrisk_log(AMLRISK_LOG_WARN, "core", "relay.delivery_failed", "error=\"%s\"",
		            rd_kafka_err2str(m->err));
	}
}

static void
drop_producer(srv_relay *r)
{
	if (r->rkt != NULL)
		rd_kafka_topic_destroy(r->rkt);
	if (r->rk != NULL)
		rd_kafka_destroy(r->rk);
	r->rkt = NULL;
	r->rk = NULL;
	r->recovered = 0;
}

static void
drop_conn(srv_relay *r)
{
	PQfinish(r->conn);
	r->conn = NULL;
	r->recovered = 0;
}

/* A new config with bootstrap.servers; NULL on failure (logged). */
static rd_kafka_conf_t *
kafka_conf(srv_relay *r)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", r->brokers, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "relay.config", "error=\"%s\"", err);
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	return c;
}

/* The idempotent producer and the topic's partition count. */
static int
make_producer(srv_relay *r)
{
	char err[256];
	rd_kafka_conf_t *c = kafka_conf(r);
	const struct rd_kafka_metadata *md = NULL;
	if (c == NULL)
		return AMLRISK_EINVAL;
	if (rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err)) != 0 ||
	    rd_kafka_conf_set(c, "message.timeout.ms", "0", err, sizeof(err)) != 0 ||
	    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "relay.config", "error=\"%s\"", err);
		rd_kafka_conf_destroy(c);
		return AMLRISK_EINVAL;
	}
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, r);
	if ((r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err))) == NULL) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "relay.producer", "error=\"%s\"", err);
		return AMLRISK_EKAFKA;
	}
	r->rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(r->rk, 0, r->rkt, &md, RELAY_KAFKA_MS);
	if (e != 0 || md->topic_cnt != 1 || md->topics[0].err != 0 ||
	    md->topics[0].partition_cnt < 1 || md->topics[0].partition_cnt > RELAY_PARTS_MAX) {
		amlrisk_log(AMLRISK_LOG_WARN, "core", "relay.metadata", "topic=%s error=\"%s\"",
		            r->topic,
		            rd_kafka_err2str(e != 0               ? e
		                             : md->topic_cnt == 1 ? md->topics[0].err
		                                                  : RD_KAFKA_RESP_ERR_UNKNOWN));
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
		drop_producer(r);
		return AMLRISK_EKAFKA;
	}
	r->parts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	return AMLRISK_OK;
}

/* The partition of wallet: the Java client's (murmur2) so others agree. */
static int32_t
partition_of(srv_relay *r, const char *wallet)
{
	return rd_kafka_msg_partitioner_murmur2(r->rkt, wallet, strlen(wallet), r->parts, NULL,
	                                        NULL);
}

/* tail[p] = the alert_id of the last message of each partition (0: empty). */
static int
read_tails(srv_relay *r, int64_t *tail)
{
	char err[256];
	int rv = AMLRISK_OK, want = 0;
	rd_kafka_conf_t *c = kafka_conf(r);
	rd_kafka_t *ck;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->parts);
	if (c == NULL)
		return AMLRISK_EINVAL;
	rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_conf_set(c, "group.id", "amlrisk-core-relay-tail", err, sizeof(err));
	if ((ck = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err))) == NULL) {
		rd_kafka_topic_partition_list_destroy(l);
		return AMLRISK_EKAFKA;
	}
	for (int32_t p = 0; p < r->parts; p++) {
		int64_t lo = 0, hi = 0;
		tail[p] = 0;
		if (rd_kafka_query_watermark_offsets(ck, r->topic, p, &lo, &hi, RELAY_KAFKA_MS) !=
		    0) {
			rv = AMLRISK_EUNAVAIL;
			goto end;
		}
		if (hi > lo) {
			rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = hi - 1;
			want++;
		}
	}
	if (want > 0 && rd_kafka_assign(ck, l) != 0) {
		rv = AMLRISK_EKAFKA;
		goto end;
	}
	for (int64_t end = amlrisk_now_ms() + RELAY_KAFKA_MS; want > 0;) {
		if (amlrisk_now_ms() > end || atomic_load(&r->stop)) {
			rv = AMLRISK_EUNAVAIL;
			goto end;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(ck, 100);
		if (m == NULL)
			continue;
		if (m->err == 0 && tail[m->partition] == 0) {
			Aml__V1__RiskAlert *a =
			        aml__v1__risk_alert__unpack(NULL, m->len, m->payload);
			tail[m->partition] = a != NULL && a->alert_id > 0 ? a->alert_id : -1;
			aml__v1__risk_alert__free_unpacked(a, NULL);
			want--;
		}
		rd_kafka_message_destroy(m);
	}
end:
	rd_kafka_consumer_close(ck);
	rd_kafka_destroy(ck);
	rd_kafka_topic_partition_list_destroy(l);
	return rv;
}

/* Appends id to the "{a,b}" array in buf (cap bytes). */
static void
array_add(char *buf, size_t cap, size_t *len, int64_t id)
{
	int w = snprintf(buf + *len, cap - *len, "%s%" PRId64, *len > 1 ? "," : "", id);
	*len += (size_t)w;
}

static int
mark(srv_relay *r, const char *arr)
{
	const char *p[1] = {arr};
	PGresult *res = PQexecParams(r->conn, SQL_MARK, 1, NULL, p, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		amlrisk_log(AMLRISK_LOG_WARN, "core", "relay.db", "error=\"%s\"",
		            PQerrorMessage(r->conn));
	PQclear(res);
	return ok ? AMLRISK_OK : AMLRISK_EDB;
}

/* Marks the pending alerts the tails show delivered: within a partition
 * alerts go in id order, so every pending id of partition p up to tail[p]. */
static int
recover(srv_relay *r)
{
	int64_t tail[RELAY_PARTS_MAX], max = 0;
	int rv;
	if ((rv = read_tails(r, tail)) != AMLRISK_OK)
		return rv;
	for (int32_t p = 0; p < r->parts; p++)
		max = tail[p] > max ? tail[p] : max;
	if (max > 0) {
		char v[24];
		const char *p[1] = {v};
		snprintf(v, sizeof(v), "%" PRId64, max);
		PGresult *res = PQexecParams(r->conn, SQL_PENDING_UPTO, 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			return AMLRISK_EDB;
		}
		size_t cap = 16 + (size_t)PQntuples(res) * 24, len = 1, n = 0;
		char *arr = malloc(cap);
		if (arr == NULL) {
			PQclear(res);
			return AMLRISK_ENOMEM;
		}
		arr[0] = '{';
		for (int i = 0; i < PQntuples(res); i++) {
			int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			if (id <= tail[partition_of(r, PQgetvalue(res, i, 1))]) {
				array_add(arr, cap, &len, id);
				n++;
			}
		}
		memcpy(arr + len, "}", 2);
		PQclear(res);
		rv = n > 0 ? mark(r, arr) : AMLRISK_OK;
		free(arr);
		if (rv != AMLRISK_OK)
			return rv;
		amlrisk_log(AMLRISK_LOG_INFO, "core", "relay.recovered",
		            "already_published=%zu tail_max=%" PRId64, n, max);
	}
	r->recovered = 1;
	return AMLRISK_OK;
}

/* Produces alert row i of res (payload with its id); 0, AMLRISK_EPROTO for
 * a payload that is not a RiskAlert or packs above RELAY_MSG_MAX (it can
 * never be published), or an error worth a retry. */
static int
produce_row(srv_relay *r, const PGresult *res, int i, int64_t id)
{
	size_t len = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 2), &len);
	Aml__V1__RiskAlert *a = raw != NULL ? aml__v1__risk_alert__unpack(NULL, len, raw) : NULL;
	const char *wallet = PQgetvalue(res, i, 1);
	int rv = AMLRISK_OK;
	PQfreemem(raw);
	if (raw == NULL)
		return AMLRISK_ENOMEM;
	if (a == NULL)
		return AMLRISK_EPROTO;
	a->alert_id = id;
	size_t n = aml__v1__risk_alert__get_packed_size(a);
	uint8_t *buf = n <= RELAY_MSG_MAX ? malloc(n + 1) : NULL;
	if (n > RELAY_MSG_MAX)
		rv = AMLRISK_EPROTO;
	else if (buf == NULL)
		rv = AMLRISK_ENOMEM;
	else {
		aml__v1__risk_alert__pack(a, buf);
		if (rd_kafka_produce(r->rkt, partition_of(r, wallet), RD_KAFKA_MSG_F_COPY, buf, n,
		                     wallet, strlen(wallet), NULL) != 0)
			rv = AMLRISK_EKAFKA;
	}
	free(buf);
	aml__v1__risk_alert__free_unpacked(a, NULL);
	return rv;
}

/* One batch: pending rows produced, all delivered, marked. Sets *n. */
static int
publish_batch(srv_relay *r, int *n)
{
	char lim[16];
	const char *p[1] = {lim};
	snprintf(lim, sizeof(lim), "%d", RELAY_BATCH);
	PGresult *res = PQexecParams(r->conn, SQL_PENDING, 1, NULL, p, NULL, NULL, 0);
	int rv = AMLRISK_OK;
	*n = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return AMLRISK_EDB;
	}
	int rows = PQntuples(res);
	char arr[16 + RELAY_BATCH * 24];
	size_t len = 1;
	arr[0] = '{';
	atomic_store(&r->failed, 0);
	for (int i = 0; rv == AMLRISK_OK && i < rows; i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if ((rv = produce_row(r, res, i, id)) == AMLRISK_EPROTO) {
			/* never publishable: marked with the batch, so one bad row
			 * cannot hold up the outbox; the row stays for inspection */
			atomic_fetch_add(&r->skipped, 1);
			amlrisk_log(AMLRISK_LOG_ERROR, "core", "relay.bad_payload",
			            "alert_id=%" PRId64 " skipped=%" PRIu64
			            " (not an aml.v1.RiskAlert, or over %zu bytes: marked published"
			            " without sending)",
			            id, (uint64_t)atomic_load(&r->skipped), RELAY_MSG_MAX);
			rv = AMLRISK_OK;
		}
		if (rv == AMLRISK_OK)
			array_add(arr, sizeof(arr), &len, id);
	}
	PQclear(res);
	while (rd_kafka_outq_len(r->rk) > 0 && !atomic_load(&r->stop))
		rd_kafka_flush(r->rk, 500);
	if (rv != AMLRISK_OK || atomic_load(&r->failed) > 0 || rd_kafka_outq_len(r->rk) > 0)
		return rv != AMLRISK_OK ? rv : AMLRISK_EKAFKA;
	if (rows == 0)
		return AMLRISK_OK;
	if (r->fault_kill)
		raise(SIGKILL); /* test builds: delivered, not marked */
	memcpy(arr + len, "}", 2);
	if ((rv = mark(r, arr)) == AMLRISK_OK)
		*n = rows;
	return rv;
}

static void *
relay_main(void *arg)
{
	srv_relay *r = arg;
	char err[256];
	while (!atomic_load(&r->stop)) {
		int n = 0, rv = AMLRISK_OK;
		if (r->conn == NULL && amlrisk_pg_connect(r->db_url, "amlrisk-core-relay", &r->conn,
		                                          err, sizeof(err)) != 0) {
			amlrisk_log(AMLRISK_LOG_WARN, "core", "relay.db", "error=\"%s\"", err);
			relay_wait(r, RELAY_RETRY_MS);
			continue;
		}
		if (r->rk == NULL && (rv = make_producer(r)) != AMLRISK_OK) {
			relay_wait(r, RELAY_RETRY_MS);
			continue;
		}
		if (!r->recovered)
			rv = recover(r);
		if (rv == AMLRISK_OK && (rv = publish_batch(r, &n)) == AMLRISK_OK && n > 0)
			amlrisk_log(AMLRISK_LOG_DEBUG, "core", "relay.published", "alerts=%d", n);
		if (rv == AMLRISK_EDB || PQstatus(r->conn) != CONNECTION_OK)
			drop_conn(r);
		else if (rv != AMLRISK_OK)
			drop_producer(r);
		if (rv != AMLRISK_OK) {
			amlrisk_log(AMLRISK_LOG_WARN, "core", "relay.retry", "error=\"%s\"",
			            amlrisk_strerror(rv));
			relay_wait(r, RELAY_RETRY_MS);
		} else if (n < RELAY_BATCH) {
			relay_wait(r, RELAY_IDLE_MS);
		}
	}
	return NULL;
}

/* Frees r's settings, locks and r itself (the thread has ended). */
static void
relay_free(srv_relay *r)
{
	free(r->db_url);
	free(r->brokers);
	free(r->topic);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

int
srv_relay_create(srv_relay **out, const char *db_url, const char *brokers, const char *topic)
{
	srv_relay *r = calloc(1, sizeof(*r));
	const char *f = getenv("AMLRISK_RELAY_FAULT");
	if (r == NULL)
		return AMLRISK_ENOMEM;
	r->db_url = strdup(db_url);
	r->brokers = strdup(brokers);
	r->topic = strdup(topic);
	r->fault_kill = f != NULL && strcmp(f, "kill_after_delivery") == 0;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (r->db_url == NULL || r->brokers == NULL || r->topic == NULL ||
	    pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		relay_free(r);
		return AMLRISK_ENOMEM;
	}
	*out = r;
	return AMLRISK_OK;
}

uint64_t
srv_relay_skipped(srv_relay *r)
{
	return (uint64_t)atomic_load(&r->skipped);
}

void
srv_relay_kick(srv_relay *r)
{
	pthread_mutex_lock(&r->mu);
	r->kicked = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void
srv_relay_destroy(srv_relay *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stop, 1);
	srv_relay_kick(r);
	pthread_join(r->thread, NULL);
	if (r->rk != NULL)
		rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	drop_producer(r);
	PQfinish(r->conn);
	relay_free(r);
}
