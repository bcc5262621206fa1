/* srv_alertpay.h - the payload of one risk alert (srv_alertgen.c): an
 * aml.v1.RiskAlert packed, with the wallet's top contributors taken from a
 * work-bounded explain of the live result (at most 5, largest first). */
#ifndef SRV_ALERTPAY_H
#define SRV_ALERTPAY_H

#include <stddef.h>
#include <stdint.h>

#include "core_engine.h"

#define SRV_ALERT_CONTRIBUTORS_MAX 5
/* arcs (hop) or walk steps (flow) one alert's explain may examine: with
 * ALERTS_PER_UPDATE_MAX this bounds an update's explain work */
#define SRV_ALERT_EXPLAIN_WORK 200000u

/* What an alert says besides what cur gives (the wallet's id, score, rank). */
typedef struct srv_alertpay_in {
	uint32_t id;           /* the wallet in cur */
	const char *rule;      /* canonical rule name, borrowed */
	double previous_score; /* at the previous live view (0 when none) */
	int64_t watermark;
	int64_t created_at_us;
} srv_alertpay_in;

/* Packs the RiskAlert of in (alert_id 0: the outbox row's id is set by the
 * relay and the readers) from cur (borrowed) into *out (malloc'ed, *len
 * bytes; the caller frees). AMLRISK_OK, AMLRISK_ENOMEM, or the explain's
 * error. */
int srv_alertpay_build(const core_run_result *cur, const srv_alertpay_in *in, uint8_t **out,
                       size_t *len);

#endif
