/* sim_tutil.h - helpers shared by the simulator tests: run amlrisk-sim as a
 * child with its output captured, generate into memory, load transactions and
 * ground truth back. Failures fail the running cmocka test. */
#ifndef SIM_TUTIL_H
#define SIM_TUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* One transaction as plain owned strings. */
typedef struct tu_tx {
	char tx_id[64], sender[64], receiver[64], amount[64], asset[32];
	int64_t ts;
} tu_tx;

/* Runs $AMLRISK_BIN/amlrisk-sim with args (NULL-terminated, without argv[0]);
 * env entries "K=V" are set and "K" (no '=') unset in the child. stdout goes to
 * out_path (or /dev/null when NULL); stderr is returned in a malloc'ed string
 * *err (caller frees; may be NULL to drop it). Returns the exit status, or -1 if
 * it did not exit normally within timeout_s. */
int tu_run(const char *const *args, const char *const *env, const char *out_path, char **err,
           int timeout_s);
/* tu_run with stdin read from in_path (tu_run gives /dev/null). */
int tu_run_in(const char *const *args, const char *const *env, const char *in_path,
              const char *out_path, char **err, int timeout_s);

/* Generates with o in fmt into a malloc'ed buffer (caller frees); *len set. */
char *tu_generate(const sim_gen_opts *o, sim_format fmt, size_t *len);
/* The ground truth of o as a malloc'ed NUL-terminated string. */
char *tu_truth(const sim_gen_opts *o);
/* The labels file of o (the labelled sources, one a line), malloc'ed. */
char *tu_labels(const sim_gen_opts *o);

/* Reads every record of buf (len bytes) with the sim reader in fmt (AUTO to
 * detect; *detected set when non-NULL). Fails the test on any bad record.
 * Returns a malloc'ed array (caller frees), *n set. */
tu_tx *tu_read(const char *buf, size_t len, sim_format fmt, sim_format *detected, size_t *n);
/* All transactions of o, straight from the generator. */
tu_tx *tu_gen_all(const sim_gen_opts *o, size_t *n);
/* Reads a whole file into a malloc'ed NUL-terminated buffer; *len may be NULL. */
char *tu_slurp(const char *path, size_t *len);
/* The temporary directory of a test group: tu_dir_setup() makes a fresh one
 * (group setup), tu_dir_teardown() removes it with its files (group teardown),
 * tu_path() names a file in it. */
extern char tu_dir[256];
int tu_dir_setup(void **state);
int tu_dir_teardown(void **state);
void tu_path(char *out, size_t outlen, const char *name);

/* Fails the test unless a and b are the same transaction, field by field. */
void tu_assert_tx_equal(const tu_tx *a, const tu_tx *b);

#endif
