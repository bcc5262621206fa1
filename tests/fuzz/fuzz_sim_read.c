/* fuzz_sim_read.c - the simulator's readers (amlrisk-sim --input: CSV, JSON
 * lines, protobuf; format from the first byte, 0 = detect) and the validation
 * every record then goes through before it is published. */
#include <stdio.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "fuzz.h"
#include "sim.h"

#define RECORDS_MAX 10000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sim_reader *r = NULL;
	Aml__V1__Transaction *tx;
	char err[512];
	FILE *f;

	if (size < 2)
		return 0;
	if ((f = fmemopen((void *)(data + 1), size - 1, "rb")) == NULL)
		return 0;
	if (sim_reader_create(&r, f, (sim_format)(data[0] % 4), err, sizeof(err)) == 0) {
		for (int i = 0; i < RECORDS_MAX; i++) {
			int rv = sim_reader_next(r, &tx, err, sizeof(err));
			if (rv == AMLRISK_OK)
				(void)amlrisk_tx_validate(tx, err, sizeof(err));
			else if (rv != AMLRISK_EINVAL)
				break;
		}
		sim_reader_destroy(r);
	}
	fclose(f);
	return 0;
}
