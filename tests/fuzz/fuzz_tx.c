/* fuzz_tx.c - aml.v1.Transaction as it arrives from outside: one Kafka message
 * body through the consumer's bounded decoder (amlrisk_tx_decode: bounds,
 * unpack, validation; a message it accepts must also pass amlrisk_tx_validate,
 * else abort), the plain unpack path, and a length-delimited stream of them
 * (fixtures, amlrisk-sim and amlrisk-score files). */
#include <stdio.h>
#include <stdlib.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "fuzz.h"

#define RECORDS_MAX 10000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Aml__V1__Transaction *tx;
	char why[256];
	size_t heap;
	FILE *f;

	if (amlrisk_tx_decode(data, size, &tx, &heap, why, sizeof(why)) == AMLRISK_OK) {
		if (amlrisk_tx_validate(tx, why, sizeof(why)) != AMLRISK_OK)
			abort();
		aml__v1__transaction__free_unpacked(tx, NULL);
	}
	if (amlrisk_tx_unpack(data, size, &tx, &heap, why, sizeof(why)) == AMLRISK_OK) {
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
