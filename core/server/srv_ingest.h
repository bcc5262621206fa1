/* srv_ingest.h - IngestionStatus: the consumer's own state tables
 * (ingestion_consumers, ingestion_offsets) and the transactions table, read
 * only. A handful of rows per consumer and partition. */
#ifndef SRV_INGEST_H
#define SRV_INGEST_H

#include <stddef.h>

#include <libpq-fe.h>

#include "aml/v1/risk_service.pb-c.h"
#include "srv_arena.h"
#include "srv_state.h"

/* At most this many partitions are listed. */
#define SRV_INGEST_PARTITIONS_MAX 1024

/* Fills resp (initialised by the caller; strings and arrays in a), using and
 * updating st's row count of transactions. AMLRISK_EDB, AMLRISK_ENOMEM. */
int srv_ingest_status(PGconn *c, srv_state *st, srv_arena *a,
                      Aml__V1__IngestionStatusResponse *resp, char *err, size_t errlen);

#endif
