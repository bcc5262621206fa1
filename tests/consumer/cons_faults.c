/* cons_faults.c - faults injected at the consumer's library boundaries for the
 * fault tests: linked with --wrap into amlrisk-consumer-faults (tests only,
 * never installed), driven by AMLRISK_FAULTS="name=count,...":
 *   copy_fail    PQputCopyData fails on a batch's rows (the connection is fine)
 *   commit_lost  a COMMIT is carried out, then its answer is lost (the socket
 *                is shut): the outcome is unknown to the consumer
 *   resume_fail  a resume after a pause fails for every partition
 * Everything else is the real libpq, librdkafka, PostgreSQL and Kafka. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

int __real_PQputCopyData(PGconn *conn, const char *buffer, int nbytes);
PGresult *__real_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                              const char *const *paramValues, const int *paramLengths,
                              const int *paramFormats, int resultFormat);
rd_kafka_resp_err_t __real_rd_kafka_pause_partitions(rd_kafka_t *rk,
                                                     rd_kafka_topic_partition_list_t *partitions);
rd_kafka_resp_err_t __real_rd_kafka_resume_partitions(rd_kafka_t *rk,
                                                      rd_kafka_topic_partition_list_t *partitions);

int __wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes);
PGresult *__wrap_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                              const char *const *paramValues, const int *paramLengths,
                              const int *paramFormats, int resultFormat);
rd_kafka_resp_err_t __wrap_rd_kafka_pause_partitions(rd_kafka_t *rk,
                                                     rd_kafka_topic_partition_list_t *partitions);
rd_kafka_resp_err_t __wrap_rd_kafka_resume_partitions(rd_kafka_t *rk,
                                                      rd_kafka_topic_partition_list_t *partitions);

/* Takes one of fault name's budget: 1 when the fault fires now. The
 * consumer is single-threaded where these are called. */
static int
take(const char *name)
{
	static const char *names[] = {"copy_fail", "commit_lost", "resume_fail"};
	static int counts[3], parsed;
	if (!parsed) {
		const char *f = getenv("AMLRISK_FAULTS");
		for (int i = 0; i < 3 && f != NULL; i++) {
			const char *at = strstr(f, names[i]);
			if (at != NULL && at[strlen(names[i])] == '=')
				counts[i] = atoi(at + strlen(names[i]) + 1);
		}
		parsed = 1;
	}
	for (int i = 0; i < 3; i++) {
		if (strcmp(name, names[i]) == 0 && counts[i] > 0) {
			counts[i]--;
			fprintf(stderr, "fault: %s fires (%d left)\n", name, counts[i]);
			return 1;
		}
	}
	return 0;
}

int
__wrap_PQputCopyData(PGconn *conn, const char *buffer, int nbytes)
{
	/* the rows, not the 19-byte header or the 2-byte trailer */
	if (nbytes > 19 && take("copy_fail"))
		return -1;
	return __real_PQputCopyData(conn, buffer, nbytes);
}

PGresult *
__wrap_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                    const char *const *paramValues, const int *paramLengths,
                    const int *paramFormats, int resultFormat)
{
	PGresult *r = __real_PQexecParams(conn, command, nParams, paramTypes, paramValues,
	                                  paramLengths, paramFormats, resultFormat);
	if (strcmp(command, "COMMIT") == 0 && PQresultStatus(r) == PGRES_COMMAND_OK &&
	    take("commit_lost")) {
		/* committed; the answer never arrives */
		PQclear(r);
		shutdown(PQsocket(conn), SHUT_RDWR);
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	}
	return r;
}

static int paused_once;

rd_kafka_resp_err_t
__wrap_rd_kafka_pause_partitions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions)
{
	paused_once = 1;
	return __real_rd_kafka_pause_partitions(rk, partitions);
}

rd_kafka_resp_err_t
__wrap_rd_kafka_resume_partitions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions)
{
	if (paused_once && take("resume_fail")) {
		/* as librdkafka reports it: per partition, the call itself succeeds */
		for (int i = 0; i < partitions->cnt; i++)
			partitions->elems[i].err = RD_KAFKA_RESP_ERR__STATE;
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	}
	return __real_rd_kafka_resume_partitions(rk, partitions);
}
