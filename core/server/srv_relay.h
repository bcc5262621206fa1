/* srv_relay.h - the outbox relay of risk alerts (issue 14): a thread that
 * publishes the unpublished rows of risk_alerts to Kafka (topic risk.alerts,
 * keyed by wallet) in id order with an idempotent producer and marks them
 * published after delivery. After a start or any failure it first reads the
 * last alert at each partition's tail, so an alert delivered before a crash
 * but not marked is marked, not sent again: exactly once across kill -9. */
#ifndef SRV_RELAY_H
#define SRV_RELAY_H

#include <stdint.h>

typedef struct srv_relay srv_relay;

/* Starts the relay: db_url (libpq), brokers (bootstrap.servers) and topic
 * are copied. Returns AMLRISK_OK and *out (destroy with srv_relay_destroy)
 * or an error code. Set AMLRISK_RELAY_FAULT=kill_after_delivery (tests) to
 * SIGKILL the process after a batch is delivered and before it is marked. */
int srv_relay_create(srv_relay **out, const char *db_url, const char *brokers, const char *topic);
/* Rows skipped since start: a payload that is not an aml.v1.RiskAlert (or
 * packs above 1 MiB) is logged (relay.bad_payload, ERROR) and marked
 * published without being sent, so it never blocks the outbox. */
uint64_t srv_relay_skipped(srv_relay *r);
/* Wakes the relay: new alerts were committed. */
void srv_relay_kick(srv_relay *r);
/* Stops the thread (a batch being delivered is abandoned, unmarked: the next
 * start finds it at the tails) and frees r. NULL is a no-op. */
void srv_relay_destroy(srv_relay *r);

#endif
