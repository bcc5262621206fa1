/* fuzz_tx.c - aml.v1.Transaction as it arrives from outside: one Kafka message
 * body (unpacked and validated, as the consumer does), and a length-delimited
 * stream of them (fixtures, amlrisk-sim and amlrisk-score files). */
#include <stdio.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "fuzz.h"

#define RECORDS_MAX 10000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aml__V1__Transaction *tx;
	char why[256];
	FILE *f;

	if ((tx = aml__v1__transaction__unpack(NULL, size, data)) != NULL) {
		(void)amlrisk_tx_validate(tx, why, sizeof(why));
		aml__v1__transaction__free_unpacked(tx, NULL);
	}
	if (size == 0 || (f = fmemopen((void *)data, size, "rb")) == NULL)
		return 0;
	for (int i = 0; i < RECORDS_MAX && amlrisk_tx_read(f, &tx) == AMLRISK_OK; i++) {
		(void)amlrisk_tx_validate(tx, why, sizeof(why));
		aml__v1__transaction__free_unpacked(tx, NULL);
	}
	fclose(f);
	return 0;
}
